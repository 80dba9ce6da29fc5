// The graph: Boost.Graph nodes, a cached topological order, buffer plans cached per set of input shapes.
#include "engine/graph.hpp"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <iterator>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>

#include <xtensor/xnoalias.hpp>

#include "engine/collective.hpp"
#include "engine/error.hpp"

namespace symgrad {

namespace {
constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
using dag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
#ifdef NDEBUG
constexpr bool poison_by_default = false;
#else
constexpr bool poison_by_default = true;  // debug builds: a wrong saves() declaration shows as NaN
#endif
}  // namespace

struct node_record {
    std::string name;
    node_kind kind = node_kind::op;
    std::unique_ptr<op> operation;
    std::vector<std::size_t> operands;
    shape2 shape;               // in the current plan, or as last fed while no plan fits
    bool wants_grad = false;    // inputs: set by require_grad; parameters: always
    bool retained = false;
    // Inputs: one buffer per shape fed, so returning to a size seen before allocates nothing; `current`
    // is the one of `shape`. Parameters: one value and one gradient, shared by every plan, so their
    // addresses never change and a pass on other data (an evaluation) leaves the gradient alone.
    std::vector<std::unique_ptr<tensor>> buffers;
    std::size_t current = 0;
    std::unique_ptr<tensor> parameter_grad;
    bool parameter_grad_ready = false;
};

// One node's part of a plan.
struct node_plan {
    shape2 shape;
    bool requires_grad = false;
    std::size_t value_slot = none;   // ops only
    std::size_t grad_slot = none;    // ops and require_grad inputs
    std::size_t value_owner = none;  // the node whose result finally lives in value_slot
    std::size_t grad_owner = none;   // the node whose gradient finally lives in grad_slot
    std::size_t poisons_slot = none; // poisoning: the operand buffer this op would have reused, NaN after forward
    std::size_t fused_into = none;   // fusion: the consumer whose forward runs this op's, by blocks of rows
    std::size_t fused_from = none;   // fusion: the operand this op's forward runs first, block by block
    std::size_t backward_fused_with = none;  // fusion: the op after this one in backward, run block by block
    std::size_t accumulates_into = none;  // forward folding: the consumer at whose place this op adds into its prefill
    std::size_t prefilled_from = none;    // forward folding: the operand whose result is added into this op's prefill
    std::size_t prefill_operand = 0;      // ... its index among this op's operands
    std::size_t folds_into = none;   // folding: the operand whose backward takes this op's outer-product gradient
    std::size_t folded_operand = 0;  // ... its index among this op's operands
    bool folded = false;             // folding: this op's backward runs in its consumer's fold
    tensor* value = nullptr;
    tensor* grad = nullptr;
    forward_args fwd;
    backward_args bwd;
};

// Whether a pass of the current plan has computed a node's value or gradient.
enum : char { not_computed = 0, computed = 1, lost_in_replan = 2 };

// Everything that depends on the inputs' shapes: node shapes, buffers, argument blocks, backward order.
struct plan_state {
    std::vector<shape2> input_shapes;  // the key, one per input in creation order
    std::vector<node_plan> nodes;      // by node id
    std::vector<tensor> value_slots;
    std::vector<tensor> grad_slots;
    std::size_t planned_loss = none;
    std::vector<std::size_t> backward_order;  // active op nodes, reverse topological
    // Grads zeroed at the start of each backward: those no path to the loss writes, and those an op
    // that reads the operand twice writes first.
    std::vector<std::size_t> zeroed_grads;
    std::vector<char> value_state, grad_state;  // by node id
    unsigned long last_used = 0;
};

struct graph_impl {
    dag structure;
    std::vector<node_record> records;
    std::vector<std::size_t> input_ids;
    std::unordered_map<std::string, std::size_t> by_name;
    bool ordered = false;
    std::vector<std::size_t> order;  // topological, valid while `ordered`
    std::vector<std::size_t> sinks;  // nodes no op reads (the loss, the outputs), valid while `ordered`
    // Plans for the sets of input shapes seen, the least recently used dropped beyond max_plans.
    std::vector<std::unique_ptr<plan_state>> plans;
    plan_state* current = nullptr;
    std::unique_ptr<plan_state> retired;  // the plan a structural change replaced, to carry its values over
    unsigned long clock = 0;
    bool forward_done = false;
    std::size_t changed_after_forward = none;  // a parameter or input written through value()
    anomaly_check anomaly = anomaly_check::off;
    bool poison = poison_by_default;
    bool fusion = false;  // measured no faster at M and L on the build machine (docs/performance.md)
    long step = 0;
    collective* peers = nullptr;  // set_data_parallel
    double share = 1.0;
    std::vector<double> shared_sums;  // the gradients and the loss, packed for one collective sum

    void sum_over_peers(std::size_t loss);

    static constexpr std::size_t max_plans = 4;

    node handle(std::size_t id) { return node(this, id); }

    const node_record& rec(node n) const {
        if (!n.impl_) throw graph_error(null_node_message);
        if (n.impl_ != this || n.id_ >= records.size())
            throw graph_error("node handle does not belong to this graph");
        return records[n.id_];
    }
    node_record& rec(node n) { return const_cast<node_record&>(std::as_const(*this).rec(n)); }

    std::size_t add_node(const std::string& name, node_kind kind, shape2 shape) {
        if (name.empty()) throw graph_error("node names must not be empty");
        if (by_name.count(name)) throw graph_error("a node named '" + name + "' already exists");
        std::size_t id = boost::add_vertex(structure);
        node_record r;
        r.name = name;
        r.kind = kind;
        r.shape = shape;
        records.push_back(std::move(r));
        by_name.emplace(name, id);
        if (kind == node_kind::input) input_ids.push_back(id);
        ordered = false;
        invalidate();
        forward_done = false;
        return id;
    }

    std::vector<std::size_t> consumers(std::size_t id) const {
        std::vector<std::size_t> out;
        auto [b, e] = boost::out_edges(id, structure);
        for (auto it = b; it != e; ++it) out.push_back(boost::target(*it, structure));
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }

    // r's output shape when operand o has shape shape_of_id(o); throws the op's shape error.
    template <class F>
    shape2 infer(const node_record& r, F shape_of_id) const {
        std::array<operand_info, max_arity> info{};
        for (std::size_t i = 0; i < r.operands.size(); ++i)
            info[i] = {records[r.operands[i]].name, shape_of_id(r.operands[i])};
        return r.operation->output_shape(info);
    }
    shape2 infer(const node_record& r, const std::vector<shape2>& shapes) const {
        return infer(r, [&](std::size_t o) { return shapes[o]; });
    }

    static constexpr const char* null_node_message =
        "null node: the handle was default-constructed and belongs to no graph";

    const tensor& value_of(const node_record& r, std::size_t id);
    const tensor& grad_of(const node_record& r, std::size_t id);
    node apply(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name);
    // Plans: the current one, found among the cached ones or built, for the inputs' shapes as they are.
    void ensure_order();
    void activate();
    bool matches(const plan_state& p) const;
    bool cached_plan_fits() const;
    bool seen_in_cached_plan(std::size_t id) const;
    void switch_to(plan_state& p);
    void invalidate();
    std::vector<shape2> infer_shapes() const;
    std::unique_ptr<plan_state> build_plan() const;
    void plan_values(plan_state& p) const;
    // Marks the pair (u, id) for fusion when u's value is written in place by id and both compute rows alone.
    void plan_fusion(plan_state& p, std::size_t u, std::size_t id) const;
    // Marks the pair (u, id) for forward folding when u's value is written in place by id, u accumulates and
    // id prefills (op::has_forward_accumulate, op::has_prefill).
    void plan_prefill(plan_state& p, std::size_t u, std::size_t id) const;
    // Whether n's forward runs as its prefill and its operand's forward_accumulate this pass: not under the
    // every-node check (which checks the operand's own value), nor when n runs inside a fused consumer.
    bool prefills(const node_plan& n) const {
        return n.prefilled_from != none && anomaly != anomaly_check::every_node && !(fusion && n.fused_into != none);
    }
    // forward() of node id: alone, or with the operand fused into it, a block of rows at a time.
    void run_forward(plan_state& p, std::size_t id);
    // Pairs each unary elementwise op with the next in backward_order when that is its operand, read by it
    // alone, and both send gradients by rows; run_backward_fused runs such a pair block by block.
    void plan_backward_fusion(plan_state& p) const;
    void run_backward_fused(plan_state& p, std::size_t id);
    // Pairs an op that sends an outer-product gradient (op::outer_gradient) to an operand with the next op in
    // backward_order when that is the operand's, read by it alone, not retained, with backward_outer.
    void plan_outer_folds(plan_state& p) const;
    void run_backward_folded(plan_state& p, std::size_t id);
    void plan_grads(plan_state& p) const;
    void build_arguments(plan_state& p) const;
    static void carry_over(const plan_state& old, plan_state& fresh);
    // A new buffer: zeros, or NaN for an op's buffers when poisoning (forward or backward must write them).
    tensor fresh_buffer(shape2 shape, bool of_op) const;
    // The operand whose value buffer the op at id may write its result into, or none: an intermediate of
    // the result's shape read by this op alone, once, whose value neither this op's backward nor its own saves.
    std::size_t in_place_operand(const plan_state& p, std::size_t id) const;
    // The operand whose gradient may share the result's gradient buffer, on the same terms (saves aside).
    std::size_t grad_in_place_operand(const plan_state& p, std::size_t id,
                                      const std::vector<std::size_t>& grad_slot_of) const;
    std::vector<char> needs_grad_for(const plan_state& p, std::size_t loss) const;
    void plan_backward(plan_state& p, std::size_t loss);
    // Inputs: the buffer for `shape`, made on first use (from *take's storage when given, else zeros);
    // returns its index.
    static std::size_t buffer_for(node_record& r, shape2 shape, tensor* take = nullptr);
    // One input's feed: a copy of data, or (take == &data) its storage moved in.
    void feed_one(node n, const tensor& data, tensor* take);
    bool fits_at_one_batch_size(std::size_t id) const;
    std::string inputs_list(const std::vector<std::size_t>& ids) const;
    plan_state& readable_plan();
    void check_finite(const tensor& t, const node_record& r, const char* what, const std::string& by) const;
    // anomaly_check::results: the message for the first parameter value or sink value (after forward), or
    // parameter gradient (after backward), that holds NaN/Inf; empty when all are finite. Allocates only then.
    std::string non_finite_result(bool after_backward) const;
    // Drops the plans that let retained node id's value or gradient be overwritten; keeps the others.
    void drop_plans_losing(std::size_t id);
};

void graph_impl::ensure_order() {
    if (ordered) return;
    // Topological order from Boost.Graph; topological_sort writes it reversed.
    order.clear();
    try {
        boost::topological_sort(structure, std::back_inserter(order));
    } catch (const boost::not_a_dag&) {
        throw graph_error("the graph has a cycle");
    }
    std::reverse(order.begin(), order.end());
    sinks.clear();
    for (auto id : order)
        if (boost::out_degree(id, structure) == 0) sinks.push_back(id);
    ordered = true;
}

bool graph_impl::cached_plan_fits() const {
    for (const auto& p : plans)
        if (matches(*p)) return true;
    return false;
}

// Whether a cached plan has input id at its present shape: then the shape is known to fit once the other
// inputs are fed that plan's shapes, and nothing needs trying (which would allocate).
bool graph_impl::seen_in_cached_plan(std::size_t id) const {
    for (const auto& p : plans)
        for (std::size_t k = 0; k < input_ids.size() && k < p->input_shapes.size(); ++k)
            if (input_ids[k] == id && p->input_shapes[k] == records[id].shape) return true;
    return false;
}

bool graph_impl::matches(const plan_state& p) const {
    if (p.input_shapes.size() != input_ids.size()) return false;
    for (std::size_t k = 0; k < input_ids.size(); ++k)
        if (p.input_shapes[k] != records[input_ids[k]].shape) return false;
    return true;
}

// A structural change (node, retain, require_grad, poisoning): every cached plan goes; the current one is
// kept aside so that the next plan for the same shapes can take over the values and gradients it holds.
void graph_impl::invalidate() {
    if (current) {
        for (auto& p : plans)
            if (p.get() == current) retired = std::move(p);
    }
    plans.clear();
    current = nullptr;
}

void graph_impl::activate() {
    if (current && matches(*current)) return;
    for (auto& p : plans)
        if (matches(*p)) return switch_to(*p);
    ensure_order();
    auto fresh = build_plan();  // throws graph_error when the shapes do not fit, before anything changes
    if (retired && matches(*retired))
        carry_over(*retired, *fresh);
    else
        forward_done = false;
    retired.reset();
    if (plans.size() >= max_plans) {
        auto lru = std::min_element(plans.begin(), plans.end(),
                                    [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
        plans.erase(lru);
    }
    plans.push_back(std::move(fresh));
    plan_state& p = *plans.back();
    current = &p;  // carried-over values stay readable: this is the plan they were computed in
    switch_to(p);
}

// Makes p current. A plan left earlier holds values of an older pass: they count as not computed.
void graph_impl::switch_to(plan_state& p) {
    if (current != &p) {
        std::fill(p.value_state.begin(), p.value_state.end(), char(not_computed));
        std::fill(p.grad_state.begin(), p.grad_state.end(), char(not_computed));
        forward_done = false;
    }
    current = &p;
    p.last_used = ++clock;
    for (std::size_t id = 0; id < records.size(); ++id) records[id].shape = p.nodes[id].shape;
}

std::vector<shape2> graph_impl::infer_shapes() const {
    std::vector<shape2> shapes(records.size());
    for (auto id : order) {
        const auto& r = records[id];
        shapes[id] = r.kind == node_kind::op ? infer(r, shapes) : r.shape;
    }
    return shapes;
}

std::unique_ptr<plan_state> graph_impl::build_plan() const {
    auto p = std::make_unique<plan_state>();
    auto shapes = infer_shapes();  // may throw; nothing has changed yet
    p->nodes.resize(records.size());
    for (auto id : input_ids) p->input_shapes.push_back(records[id].shape);
    for (auto id : order) {
        auto& n = p->nodes[id];
        n.shape = shapes[id];
        n.requires_grad = records[id].wants_grad;
        for (auto o : records[id].operands) n.requires_grad = n.requires_grad || p->nodes[o].requires_grad;
    }
    plan_values(*p);
    plan_grads(*p);
    build_arguments(*p);
    p->value_state.assign(records.size(), not_computed);
    p->grad_state.assign(records.size(), not_computed);
    return p;
}

tensor graph_impl::fresh_buffer(shape2 shape, bool of_op) const {
    // An op's buffers are written before they are read (forward, the first sink, zeroed_grads), but the
    // fill stays: it is the buffer's first touch, and page-faulting it here in one sequential pass measured
    // cheaper than faulting it inside the first forward and backward (docs/performance.md).
    tensor t = tensor::from_shape({shape.rows, shape.cols});
    t.fill(poison && of_op ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    return t;
}

std::size_t graph_impl::in_place_operand(const plan_state& p, std::size_t id) const {
    const auto& r = records[id];
    if (r.kind != node_kind::op || !r.operation->elementwise() || saves_inputs(r.operation->saves())) return none;
    for (auto o : r.operands) {
        const auto& u = records[o];
        if (u.kind != node_kind::op || u.retained || p.nodes[o].shape != p.nodes[id].shape) continue;
        if (saves_output(u.operation->saves()) || consumers(o).size() != 1) continue;
        if (std::count(r.operands.begin(), r.operands.end(), o) != 1) continue;
        return o;
    }
    return none;
}

void graph_impl::plan_values(plan_state& p) const {
    std::vector<std::size_t> chain(records.size(), none);  // the first node of id's chain of in-place writers
    for (auto id : order) {
        auto& n = p.nodes[id];
        if (records[id].kind != node_kind::op) {
            chain[id] = id;
            continue;
        }
        auto u = in_place_operand(p, id);
        chain[id] = u == none ? id : chain[u];
        if (u != none && !poison) {
            n.value_slot = p.nodes[u].value_slot;
            plan_prefill(p, u, id);
            plan_fusion(p, u, id);
            continue;
        }
        if (u != none) n.poisons_slot = p.nodes[u].value_slot;  // a buffer of its own; u's is NaN after forward
        n.value_slot = p.value_slots.size();
        p.value_slots.push_back(fresh_buffer(n.shape, true));
    }
    // A chain's buffer finally holds the result of its last node in topological order.
    std::vector<std::size_t> last_writer(records.size(), none);
    for (auto id : order) last_writer[chain[id]] = id;
    for (auto id : order) p.nodes[id].value_owner = last_writer[chain[id]];
}

// Only pairs: u is not itself fused with its own operand, so a fused forward is always two ops. The
// deferral of u's forward to id's place is safe: u's only consumer is id, and u's operands cannot be
// overwritten in place in between (an in-place writer must be its operand's only consumer, and u reads them).
void graph_impl::plan_fusion(plan_state& p, std::size_t u, std::size_t id) const {
    const auto& ru = records[u];
    const auto& rid = records[id];
    if (!ru.operation->elementwise() || !ru.operation->has_forward_rows() || !rid.operation->has_forward_rows())
        return;
    if (rid.operands.size() != 1 || p.nodes[u].fused_from != none) return;
    p.nodes[u].fused_into = id;
    p.nodes[id].fused_from = u;
}

// Deferring u's forward to id's place is safe for the reason given above plan_fusion.
void graph_impl::plan_prefill(plan_state& p, std::size_t u, std::size_t id) const {
    const auto& r = records[id];
    const auto i = std::size_t(std::find(r.operands.begin(), r.operands.end(), u) - r.operands.begin());
    std::array<operand_info, max_arity> in{};
    for (std::size_t k = 0; k < records[u].operands.size(); ++k)
        in[k] = {records[records[u].operands[k]].name, p.nodes[records[u].operands[k]].shape};
    if (!records[u].operation->has_forward_accumulate(in) || !r.operation->has_prefill(i)) return;
    p.nodes[u].accumulates_into = id;
    p.nodes[id].prefilled_from = u;
    p.nodes[id].prefill_operand = i;
}

// Rows per block of a fused forward: about 128 KB of the result, so the block written by the first op is
// still in L2 when the second reads it; at least one row.
constexpr std::size_t fused_block_bytes = 128 * 1024;
std::size_t rows_per_block(std::size_t cols) {
    return std::max<std::size_t>(1, fused_block_bytes / (sizeof(double) * std::max<std::size_t>(cols, 1)));
}

void graph_impl::run_forward(plan_state& p, std::size_t id) {
    auto& n = p.nodes[id];
    if (prefills(n)) {
        records[id].operation->prefill(n.fwd, n.prefill_operand);
        records[n.prefilled_from].operation->forward_accumulate(p.nodes[n.prefilled_from].fwd);
        p.value_state[n.prefilled_from] = computed;
        return;
    }
    const bool fused = fusion && anomaly != anomaly_check::every_node && n.fused_from != none;
    if (!fused) {
        records[id].operation->forward(n.fwd);
        return;
    }
    const auto& first = p.nodes[n.fused_from];
    const std::size_t rows = n.shape.rows, block = rows_per_block(n.shape.cols);
    if (rows <= block) {  // one block: all in cache anyway, the whole-buffer calls are cheaper (measured at S)
        records[n.fused_from].operation->forward(first.fwd);
        records[id].operation->forward(n.fwd);
    }
    for (std::size_t r0 = 0; r0 < rows && rows > block; r0 += block) {
        const std::size_t r1 = std::min(rows, r0 + block);
        records[n.fused_from].operation->forward_rows(first.fwd, r0, r1);
        records[id].operation->forward_rows(n.fwd, r0, r1);
    }
    p.value_state[n.fused_from] = computed;
}

void graph_impl::plan_backward_fusion(plan_state& p) const {
    for (auto id : p.backward_order) p.nodes[id].backward_fused_with = none;
    for (std::size_t k = 0; k + 1 < p.backward_order.size(); ++k) {
        const auto id = p.backward_order[k], u = p.backward_order[k + 1];
        const auto& r = records[id];
        const auto& ru = records[u];
        if (r.operands.size() != 1 || r.operands[0] != u || consumers(u).size() != 1) continue;
        if (p.nodes[id].folds_into != none || p.nodes[id].folded || p.nodes[u].folded) continue;
        if (!r.operation->elementwise() || !ru.operation->elementwise() || !p.nodes[id].bwd.in_grad[0]) continue;
        if (!r.operation->has_backward_rows(p.nodes[id].bwd) || !ru.operation->has_backward_rows(p.nodes[u].bwd))
            continue;
        p.nodes[id].backward_fused_with = u;
        ++k;  // u is taken: pairs only
    }
}

// Safe because id and u are adjacent in backward_order (every other contribution is sent before or after
// both, as unfused), u's gradient is id's alone, and each op reads and writes only the block's rows.
void graph_impl::run_backward_fused(plan_state& p, std::size_t id) {
    const auto& n = p.nodes[id];
    const auto u = n.backward_fused_with;
    const std::size_t rows = n.shape.rows, block = rows_per_block(n.shape.cols);
    if (rows <= block) {
        records[id].operation->backward(n.bwd);
        records[u].operation->backward(p.nodes[u].bwd);
    }
    for (std::size_t r0 = 0; r0 < rows && rows > block; r0 += block) {
        const std::size_t r1 = std::min(rows, r0 + block);
        records[id].operation->backward_rows(n.bwd, r0, r1);
        records[u].operation->backward_rows(p.nodes[u].bwd, r0, r1);
    }
}

// The backward of u runs with the next op's outer-product gradient when u is the operand that op sends it
// to, read by that op alone (so the gradient is u's whole gradient), and u's gradient buffer is one the
// user cannot read (not retained, and a deeper node's gradient is written over it). Adjacent in
// backward_order, so the factors' buffers are as the producer left them.
void graph_impl::plan_outer_folds(plan_state& p) const {
    for (auto id : p.backward_order) p.nodes[id].folds_into = none, p.nodes[id].folded = false;
    for (std::size_t k = 0; k + 1 < p.backward_order.size(); ++k) {
        const auto id = p.backward_order[k], u = p.backward_order[k + 1];
        const auto& r = records[id];
        auto& n = p.nodes[id];
        const auto at = std::find(r.operands.begin(), r.operands.end(), u);
        if (at == r.operands.end() || std::count(r.operands.begin(), r.operands.end(), u) != 1) continue;
        const auto i = std::size_t(at - r.operands.begin());
        outer_factors unused;
        if (records[u].retained || p.nodes[u].grad_owner == u || consumers(u).size() != 1 ||
            !records[u].operation->has_backward_outer() ||
            !n.bwd.in_grad[i] || !r.operation->outer_gradient(n.bwd, i, unused))
            continue;
        n.folds_into = u;
        n.folded_operand = i;
        p.nodes[u].folded = true;
        ++k;  // u is taken: pairs only
    }
}

// The producer without its sink to u, then u's backward from the factors, read after the producer ran.
void graph_impl::run_backward_folded(plan_state& p, std::size_t id) {
    const auto& n = p.nodes[id];
    const auto& r = records[id];
    backward_args without = n.bwd;
    without.in_grad[n.folded_operand] = {};
    r.operation->backward(without);
    outer_factors f;
    if (!r.operation->outer_gradient(n.bwd, n.folded_operand, f))
        throw graph_error(std::string(r.operation->kind()) + " '" + r.name +
                          "': outer_gradient changed its answer since the plan");
    records[n.folds_into].operation->backward_outer(p.nodes[n.folds_into].bwd, f);
}

std::size_t graph_impl::grad_in_place_operand(const plan_state& p, std::size_t id,
                                              const std::vector<std::size_t>& grad_slot_of) const {
    const auto& r = records[id];
    if (r.kind != node_kind::op || r.retained || !r.operation->elementwise()) return none;
    for (auto o : r.operands) {
        const auto& u = records[o];
        if (!p.nodes[o].requires_grad || grad_slot_of[o] != none) continue;
        if (u.kind != node_kind::op || u.retained || p.nodes[o].shape != p.nodes[id].shape ||
            consumers(o).size() != 1)
            continue;
        if (std::count(r.operands.begin(), r.operands.end(), o) != 1) continue;
        return o;
    }
    return none;
}

void graph_impl::plan_grads(plan_state& p) const {
    std::vector<std::size_t> grad_slot_of(records.size(), none);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto& n = p.nodes[*it];
        if (!n.requires_grad || records[*it].kind == node_kind::parameter) continue;
        if (grad_slot_of[*it] == none) {
            grad_slot_of[*it] = p.grad_slots.size();
            p.grad_slots.push_back(fresh_buffer(n.shape, records[*it].kind == node_kind::op));
        }
        auto o = grad_in_place_operand(p, *it, grad_slot_of);
        if (o != none) grad_slot_of[o] = grad_slot_of[*it];
    }
    for (std::size_t id = 0; id < records.size(); ++id) p.nodes[id].grad_slot = grad_slot_of[id];
    // The owner of a shared gradient buffer is the node whose gradient is written last (the deepest).
    std::vector<std::size_t> last_writer(p.grad_slots.size(), none);
    for (auto it = order.rbegin(); it != order.rend(); ++it)
        if (p.nodes[*it].grad_slot != none) last_writer[p.nodes[*it].grad_slot] = *it;
    for (std::size_t id = 0; id < records.size(); ++id) {
        auto& n = p.nodes[id];
        n.grad_owner = n.grad_slot == none ? none : last_writer[n.grad_slot];
        if (records[id].kind == node_kind::parameter) n.grad_owner = id;
    }
}

void graph_impl::build_arguments(plan_state& p) const {
    // Built once so that forward and backward never allocate; plan_backward adds the gradient sinks.
    for (auto id : order) {
        const auto& r = records[id];
        auto& n = p.nodes[id];
        if (r.kind == node_kind::parameter) {
            n.value = r.buffers[0].get();
            n.grad = r.parameter_grad.get();
        } else if (r.kind == node_kind::input) {
            n.value = r.buffers[r.current].get();
        } else {
            n.value = &p.value_slots[n.value_slot];
        }
        if (n.grad_slot != none) n.grad = &p.grad_slots[n.grad_slot];
        if (r.kind != node_kind::op) continue;
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            n.fwd.in[i] = p.nodes[r.operands[i]].value;
            n.bwd.in[i] = n.fwd.in[i];
        }
        n.fwd.out = n.value;
        n.bwd.out = n.value;
        n.bwd.out_grad = n.grad;
    }
}

// After a structural change: every value and gradient the old plan held for its own node, and the new plan
// also holds for it, is copied; the others are marked lost until the next pass recomputes them.
void graph_impl::carry_over(const plan_state& old, plan_state& fresh) {
    for (std::size_t id = 0; id < old.nodes.size(); ++id) {
        const auto& o = old.nodes[id];
        auto& n = fresh.nodes[id];
        if (o.value_slot != none && n.value_owner == id && old.value_state[id] != not_computed) {
            bool kept = o.value_owner == id && old.value_state[id] == computed;
            if (kept) fresh.value_slots[n.value_slot] = old.value_slots[o.value_slot];
            fresh.value_state[id] = kept ? computed : lost_in_replan;
        }
        if (o.grad_slot != none && n.grad_slot != none && n.grad_owner == id && old.grad_state[id] != not_computed) {
            bool kept = o.grad_owner == id && old.grad_state[id] == computed;
            if (kept) fresh.grad_slots[n.grad_slot] = old.grad_slots[o.grad_slot];
            fresh.grad_state[id] = kept ? computed : lost_in_replan;
        }
    }
}

std::vector<char> graph_impl::needs_grad_for(const plan_state& p, std::size_t loss) const {
    // Ancestors of the loss that require a gradient, walking operand edges backwards.
    std::vector<char> active(records.size(), 0);
    std::vector<std::size_t> stack{loss};
    active[loss] = p.nodes[loss].requires_grad;
    while (!stack.empty()) {
        auto id = stack.back();
        stack.pop_back();
        for (auto o : records[id].operands)
            if (!active[o] && p.nodes[o].requires_grad) {
                active[o] = 1;
                stack.push_back(o);
            }
    }
    return active;
}

void graph_impl::plan_backward(plan_state& p, std::size_t loss) {
    auto active = needs_grad_for(p, loss);
    p.backward_order.clear();
    p.zeroed_grads.clear();
    std::vector<char> written(records.size(), 0);
    written[loss] = 1;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto id = *it;
        auto& r = records[id];
        auto& n = p.nodes[id];
        if (n.grad != nullptr && !active[id]) p.zeroed_grads.push_back(id);
        if (!active[id] || r.kind != node_kind::op) continue;
        p.backward_order.push_back(id);
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            auto o = r.operands[i];
            if (!active[o]) {
                n.bwd.in_grad[i] = {};
                continue;
            }
            // An operand this op reads twice, first written here: it starts the pass at zero and both
            // sinks add, so the op may send to them in either order.
            if (!written[o] && std::count(r.operands.begin(), r.operands.end(), o) > 1) {
                p.zeroed_grads.push_back(o);
                written[o] = 1;
            }
            n.bwd.in_grad[i] = grad_sink(p.nodes[o].grad, written[o] != 0);
            written[o] = 1;
        }
    }
    plan_outer_folds(p);
    plan_backward_fusion(p);
    p.planned_loss = loss;
}

std::size_t graph_impl::buffer_for(node_record& r, shape2 shape, tensor* take) {
    for (std::size_t k = 0; k < r.buffers.size(); ++k)
        if (shape_of(*r.buffers[k]) == shape) return k;
    if (take) {
        r.buffers.push_back(std::make_unique<tensor>(std::move(*take)));
        return r.buffers.size() - 1;
    }
    auto t = std::make_unique<tensor>(tensor::from_shape({shape.rows, shape.cols}));
    t->fill(0.0);
    r.buffers.push_back(std::move(t));
    return r.buffers.size() - 1;
}

// Whether the graph's shape rules hold once every other input has as many columns (samples) as input id:
// then a refused shape is one step of changing the batch size, and the next feed may complete it.
bool graph_impl::fits_at_one_batch_size(std::size_t id) const {
    std::vector<shape2> shapes(records.size());
    try {
        for (auto k : order) {
            const auto& r = records[k];
            if (r.kind == node_kind::op)
                shapes[k] = infer(r, shapes);
            else
                shapes[k] = r.kind == node_kind::input ? shape2{r.shape.rows, records[id].shape.cols} : r.shape;
        }
    } catch (const graph_error&) {
        return false;
    }
    return true;
}

std::string graph_impl::inputs_list(const std::vector<std::size_t>& ids) const {
    std::string s;
    for (auto id : ids) s += (s.empty() ? "" : ", ") + records[id].name + " " + to_string(records[id].shape);
    return s;
}

// "input", "parameter" or the op's kind(): how anomaly messages, kind_name() and DOT name what a node is.
static std::string kind_string(const node_record& r) {
    switch (r.kind) {
        case node_kind::input: return "input";
        case node_kind::parameter: return "parameter";
        default: return std::string(r.operation->kind());
    }
}

void graph_impl::check_finite(const tensor& t, const node_record& r, const char* what,
                              const std::string& by) const {
    auto k = first_non_finite(t);
    if (!k) return;
    std::size_t cols = r.shape.cols == 0 ? 1 : r.shape.cols;
    std::ostringstream msg;
    msg << "anomaly: " << what << " of node '" << r.name << "' (" << kind_string(r) << ", " << to_string(r.shape)
        << ") is " << (std::isnan(t.data()[*k]) ? "NaN" : "Inf") << " at (" << *k / cols << "," << *k % cols
        << ") in pass " << step;
    if (!by.empty()) msg << ", produced by the backward of '" << by << "'";
    throw anomaly_error(msg.str());
}

std::string graph_impl::non_finite_result(bool after_backward) const {
    auto message = [this](const tensor& t, const node_record& r, const char* what) -> std::string {
        if (!first_non_finite(t)) return {};
        try {
            check_finite(t, r, what, {});
        } catch (const anomaly_error& e) {
            return e.what();
        }
        return {};
    };
    for (const auto& r : records) {
        if (r.kind != node_kind::parameter) continue;
        std::string m = after_backward ? message(*r.parameter_grad, r, "gradient") : message(*r.buffers[0], r, "value");
        if (!m.empty()) return m;
    }
    if (after_backward) return {};
    for (auto id : sinks) {
        std::string m = message(*current->nodes[id].value, records[id], "value");
        if (!m.empty()) return m;
    }
    return {};
}

node graph_impl::apply(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    if (!operation) throw graph_error("apply: null op");
    if (operands.size() != operation->arity())
        throw graph_error(std::string(operation->kind()) + ": expects " + std::to_string(operation->arity()) +
                          " operand(s), got " + std::to_string(operands.size()));
    node_record probe;
    probe.operation = std::move(operation);
    for (std::size_t i = 0; i < operands.size(); ++i) {
        if (!operands[i].impl_)
            throw graph_error(std::string(probe.operation->kind()) + ": operand " + std::to_string(i) + " is a " +
                              null_node_message);
        if (operands[i].impl_ != this || operands[i].id_ >= records.size())
            throw graph_error(std::string(probe.operation->kind()) + ": operand " + std::to_string(i) +
                              " does not belong to this graph");
        probe.operands.push_back(operands[i].id_);
    }
    shape2 shape = infer(probe, [&](std::size_t o) { return records[o].shape; });  // throws before anything is added
    std::string n = name.empty() ? std::string(probe.operation->kind()) + "_" + std::to_string(records.size())
                                 : name;
    auto id = add_node(n, node_kind::op, shape);
    auto& r = records[id];
    r.operation = std::move(probe.operation);
    r.operands = probe.operands;
    for (auto o : r.operands) boost::add_edge(o, id, structure);
    return handle(id);
}

// --- node ---------------------------------------------------------------------------------------

namespace {
graph_impl& impl_of(graph_impl* impl) {
    if (!impl) throw graph_error(graph_impl::null_node_message);
    return *impl;
}
}  // namespace

const std::string& node::name() const { return impl_of(impl_).rec(*this).name; }
shape2 node::shape() const { return impl_of(impl_).rec(*this).shape; }
node_kind node::kind() const { return impl_of(impl_).rec(*this).kind; }

// --- graph --------------------------------------------------------------------------------------

graph::graph() : impl_(std::make_unique<graph_impl>()) {}
graph::~graph() = default;
graph::graph(graph&&) noexcept = default;
graph& graph::operator=(graph&&) noexcept = default;

node graph::input(const std::string& name, shape2 shape) {
    auto id = impl_->add_node(name, node_kind::input, shape);
    graph_impl::buffer_for(impl_->records[id], shape);
    return impl_->handle(id);
}

node graph::parameter(const std::string& name, shape2 shape) {
    auto id = impl_->add_node(name, node_kind::parameter, shape);
    auto& r = impl_->records[id];
    r.wants_grad = true;
    graph_impl::buffer_for(r, shape);
    r.parameter_grad = std::make_unique<tensor>(tensor::from_shape({shape.rows, shape.cols}));
    r.parameter_grad->fill(0.0);
    return impl_->handle(id);
}

node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    if (operands.empty() || !operands[0].impl_)
        throw graph_error(std::string(operation ? operation->kind() : "op") + ": needs operands from a graph" +
                          (operands.empty() ? "" : std::string(" (operand 0 is a ") + graph_impl::null_node_message + ")"));
    return operands[0].impl_->apply(std::move(operation), operands, name);
}

void graph::feed(node n, const tensor& data) { impl_->feed_one(n, data, nullptr); }

void graph::feed(node n, tensor&& data) {
    // A buffer the graph already holds (value(X) or value(W) moved in) is copied: moving would take it
    // away from its node.
    bool held = false;
    for (const auto& r : impl_->records)
        for (const auto& b : r.buffers) held = held || b.get() == &data;
    impl_->feed_one(n, data, held ? nullptr : &data);
}

void graph_impl::feed_one(node n, const tensor& data, tensor* take) {
    auto& r = rec(n);
    if (r.kind != node_kind::input)
        throw graph_error("feed: '" + r.name + "' is not an input (use value() to set a parameter)");
    const shape2 fed = shape_of(data);
    bool moved_in = false;  // data's storage became a new buffer of r
    if (fed != r.shape) {
        const shape2 old = r.shape;
        const std::size_t old_buffer = r.current, buffers = r.buffers.size();
        r.shape = fed;
        r.current = buffer_for(r, r.shape, take);
        moved_in = r.buffers.size() > buffers;
        try {
            ensure_order();
            if (cached_plan_fits() || !seen_in_cached_plan(n.id_))
                activate();
            else
                current = nullptr;  // one step of returning to a cached plan: the other inputs follow
        } catch (const graph_error& e) {
            if (!fits_at_one_batch_size(n.id_)) {
                if (moved_in) *take = std::move(*r.buffers.back());  // the caller's data, given back
                r.shape = old;
                r.current = old_buffer;
                r.buffers.resize(buffers);
                throw graph_error("feed '" + r.name + "' " + to_string(fed) + ": " + e.what());
            }
            current = nullptr;  // waits for the other inputs' new size; forward() names them if it never comes
        }
    }
    if (take && !moved_in)
        *r.buffers[r.current] = std::move(*take);  // the buffer object (and plans' pointers to it) stays
    else if (!take)
        xt::noalias(*r.buffers[r.current]) = data;
    if (take) *take = tensor::from_shape({0, 0});  // not a moved-from husk whose shape still says m x n
    forward_done = false;
}

void graph::feed(std::initializer_list<std::pair<node, const tensor&>> data) {
    auto& im = *impl_;
    struct before { std::size_t id; shape2 shape; std::size_t buffer, buffers; };
    std::array<before, 8> small{};  // the usual few inputs without allocating
    std::vector<before> many(data.size() > small.size() ? data.size() : 0);
    before* saved = data.size() > small.size() ? many.data() : small.data();
    std::size_t k = 0;
    for (const auto& [n, t] : data) {
        auto& r = im.rec(n);
        if (r.kind != node_kind::input)
            throw graph_error("feed: '" + r.name + "' is not an input (use value() to set a parameter)");
        saved[k++] = {n.id_, r.shape, r.current, r.buffers.size()};
    }
    for (const auto& [n, t] : data) {
        auto& r = im.records[n.id_];
        r.shape = shape_of(t);
        r.current = graph_impl::buffer_for(r, r.shape);
    }
    try {
        im.ensure_order();
        im.activate();
    } catch (const graph_error& e) {
        std::vector<std::size_t> ids;
        for (std::size_t i = 0; i < k; ++i) ids.push_back(saved[i].id);
        std::string fed = im.inputs_list(ids);
        for (std::size_t i = k; i-- > 0;) {
            auto& r = im.records[saved[i].id];
            r.shape = saved[i].shape;
            r.current = saved[i].buffer;
            r.buffers.resize(std::min(r.buffers.size(), saved[i].buffers));
        }
        throw graph_error("feed " + fed + ": " + e.what());
    }
    for (const auto& [n, t] : data) xt::noalias(*im.records[n.id_].buffers[im.records[n.id_].current]) = t;
    im.forward_done = false;
}

namespace {
// anomaly_check::results: a pass's floating-point exception flags (overflow, invalid, division by zero), which
// the hardware raises at no cost when a value becomes Inf or NaN, even one that a later op hides (tanh of an
// overflowed matmul is 1). Only this thread's: a BLAS worker thread's are not seen. The caller's flags are
// put back afterwards.
class fp_flags {
public:
    explicit fp_flags(bool on) : on_(on) {
        if (!on_) return;
        std::fegetexceptflag(&saved_, watched);
        before_ = std::fetestexcept(watched);
        std::feclearexcept(watched);
    }
    ~fp_flags() {
        if (on_) std::fesetexceptflag(&saved_, before_);
    }
    fp_flags(const fp_flags&) = delete;
    fp_flags& operator=(const fp_flags&) = delete;
    bool raised() const { return on_ && std::fetestexcept(watched) != 0; }

private:
    static constexpr int watched = FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO;
    bool on_;
    int before_ = 0;
    std::fexcept_t saved_{};
};

// anomaly_check::results found `found` (a message), or a raised flag: the pass runs again checking every node,
// which throws naming the first offending node as every_node would have. Should it not, `found` is thrown, or,
// for a flag alone, nothing (an op's own intermediate overflowed, e.g. an exp it then divides by).
// The passes localize_anomaly runs again are this process's alone: with peers, the others are not running
// them, so neither an agreement nor a sum may happen inside.
class peers_paused {
public:
    explicit peers_paused(graph_impl& im) : im_(im), peers_(im.peers) { im.peers = nullptr; }
    ~peers_paused() { im_.peers = peers_; }
    peers_paused(const peers_paused&) = delete;
    peers_paused& operator=(const peers_paused&) = delete;

private:
    graph_impl& im_;
    collective* peers_;
};

void localize_anomaly(graph& g, graph_impl& im, const node* loss, const std::string& found) {
    peers_paused alone(im);
    im.anomaly = anomaly_check::every_node;
    try {
        g.forward();
        if (loss) g.backward(*loss);
    } catch (...) {
        im.anomaly = anomaly_check::results;
        throw;
    }
    im.anomaly = anomaly_check::results;
    if (!found.empty()) throw anomaly_error(found);
}
// With peers and an anomaly check, one process's shard may hold a NaN the others' do not: each runs its own
// pass, then one max of a flag tells all whether any found one, and every process throws the first message
// by rank. Otherwise that process would stop (or, in a lookahead that catches the error, go on) while the
// others wait in the next collective call.
template <class Pass>
void agree_on_anomaly(collective& peers, Pass pass) {
    std::string found;
    try {
        pass();
    } catch (const anomaly_error& e) {
        found = e.what();
    }
    double flag = found.empty() ? 0.0 : 1.0;
    peers.max(&flag, 1);
    if (flag != 0.0) throw anomaly_error(first_error(peers, found));
}

}  // namespace

void graph::forward() {
    if (impl_->peers && impl_->anomaly != anomaly_check::off)
        agree_on_anomaly(*impl_->peers, [&] { forward_here(); });
    else
        forward_here();
}

void graph::backward(node loss) {
    if (impl_->peers && impl_->anomaly != anomaly_check::off)
        agree_on_anomaly(*impl_->peers, [&] { backward_here(loss); });
    else
        backward_here(loss);
    if (impl_->peers) impl_->sum_over_peers(loss.id_);
}

void graph::forward_here() {
    auto& im = *impl_;
    im.ensure_order();
    try {
        im.activate();
    } catch (const graph_error& e) {
        throw graph_error("forward: the inputs' shapes do not fit together, " + im.inputs_list(im.input_ids) +
                          ": " + e.what());
    }
    auto& p = *im.current;
    const fp_flags flags(im.anomaly == anomaly_check::results);
    // A pass that throws halfway leaves a mix of new and old values: backward must refuse it, so the pass
    // counts as done, and a parameter write as seen, only once every node is computed.
    im.forward_done = false;
    for (auto id : im.order) {
        auto& r = im.records[id];
        auto& n = p.nodes[id];
        tensor& v = *n.value;
        if (r.kind != node_kind::op) {
            if (shape_of(v) != r.shape)
                throw graph_error("the value of '" + r.name + "' was resized to " + to_string(shape_of(v)) +
                                  "; it must stay " + to_string(r.shape) + " (use feed() to change an input)");
            if (im.anomaly == anomaly_check::every_node) im.check_finite(v, r, "value", {});
            continue;
        }
        // A fused operand runs inside its consumer's forward (its own check, every_node, turns fusion off).
        if (n.fused_into != none && im.fusion && im.anomaly != anomaly_check::every_node) continue;
        if (n.accumulates_into != none && im.prefills(p.nodes[n.accumulates_into])) continue;  // likewise
        im.run_forward(p, id);
        p.value_state[id] = computed;
        if (n.poisons_slot != none) p.value_slots[n.poisons_slot].fill(std::numeric_limits<double>::quiet_NaN());
        if (im.anomaly == anomaly_check::every_node) im.check_finite(v, r, "value", {});
    }
    im.changed_after_forward = none;
    im.forward_done = true;
    if (im.anomaly == anomaly_check::results) {
        std::string found = im.non_finite_result(false);
        if (!found.empty() || flags.raised()) localize_anomaly(*this, im, nullptr, found);
    }
}

void graph::backward_here(node loss) {
    auto& im = *impl_;
    const auto& lr = im.rec(loss);
    if (lr.shape != shape2{1, 1})
        throw graph_error("backward: the loss '" + lr.name + "' must be 1x1, it is " + to_string(lr.shape));
    if (im.forward_done) im.activate();  // after retain() or require_grad(): the new plan, values carried over
    if (!im.current || !im.forward_done) throw graph_error("backward: call forward() first");
    if (im.changed_after_forward != none)
        throw graph_error("backward: '" + im.records[im.changed_after_forward].name +
                          "' was changed through value() after the last forward(); call forward() again "
                          "(backward would give the gradients of its old value)");
    auto& p = *im.current;
    if (p.planned_loss != loss.id_) im.plan_backward(p, loss.id_);
    for (auto id : p.zeroed_grads) p.nodes[id].grad->fill(0.0);
    std::fill(p.grad_state.begin(), p.grad_state.end(), char(computed));
    for (auto& r : im.records) r.parameter_grad_ready = r.kind == node_kind::parameter;
    const auto& ln = p.nodes[loss.id_];
    if (ln.grad == nullptr) return;  // nothing trainable reaches the loss
    ln.grad->fill(1.0);
    const fp_flags flags(im.anomaly == anomaly_check::results);
    const bool fuse = im.fusion && im.anomaly != anomaly_check::every_node;
    const bool fold = im.anomaly != anomaly_check::every_node;  // which checks each gradient as it is sent
    for (std::size_t k = 0; k < p.backward_order.size(); ++k) {
        const auto id = p.backward_order[k];
        auto& r = im.records[id];
        auto& n = p.nodes[id];
        if (fuse && n.backward_fused_with != none) {
            im.run_backward_fused(p, id);
            ++k;  // its partner ran with it
            continue;
        }
        if (fold && n.folds_into != none) {
            im.run_backward_folded(p, id);
            ++k;  // its partner ran with it
            continue;
        }
        r.operation->backward(n.bwd);
        if (im.anomaly == anomaly_check::every_node) {
            for (std::size_t i = 0; i < r.operands.size(); ++i)
                if (n.bwd.in_grad[i]) im.check_finite(n.bwd.in_grad[i].buffer(), im.records[r.operands[i]], "gradient", r.name);
        }
    }
    if (im.anomaly == anomaly_check::results) {
        std::string found = im.non_finite_result(true);
        if (!found.empty() || flags.raised()) localize_anomaly(*this, im, &loss, found);
    }
}

// One collective sum for every parameter gradient and the loss, packed in creation order into a buffer
// kept from pass to pass (no allocation per steady iteration).
void graph_impl::sum_over_peers(std::size_t loss) {
    std::size_t n = 1;
    for (const auto& r : records)
        if (r.kind == node_kind::parameter) n += r.parameter_grad->size();
    shared_sums.resize(n);
    double* at = shared_sums.data();
    for (const auto& r : records)
        if (r.kind == node_kind::parameter)
            at = std::transform(r.parameter_grad->begin(), r.parameter_grad->end(), at, [&](double d) { return d * share; });
    tensor& cost = *current->nodes[loss].value;
    *at = cost(0, 0) * share;
    peers->sum(shared_sums.data(), n);
    at = shared_sums.data();
    for (auto& r : records)
        if (r.kind == node_kind::parameter) {
            std::copy(at, at + r.parameter_grad->size(), r.parameter_grad->begin());
            at += r.parameter_grad->size();
        }
    cost(0, 0) = *at;
}

void graph::set_data_parallel(collective* peers, double share) {
    if (peers && !(share >= 0.0 && share <= 1.0))
        throw graph_error("set_data_parallel: the share must be a number in [0, 1], got " + std::to_string(share));
    impl_->peers = peers;
    impl_->share = peers ? share : 1.0;
}

collective* graph::data_parallel() const { return impl_->peers; }

void graph::require_grad(node n, bool on) {
    auto& r = impl_->rec(n);
    if (r.kind == node_kind::op) throw graph_error("require_grad: '" + r.name + "' is not an input");
    if (r.kind == node_kind::parameter) return;
    if (r.wants_grad != on) {
        r.wants_grad = on;
        impl_->invalidate();
    }
}

void graph::retain(node n) {
    auto& r = impl_->rec(n);
    if (!r.retained) {
        r.retained = true;
        impl_->drop_plans_losing(n.id_);
    }
}

// A plan keeps id readable when id's value and gradient buffers finally hold id's own results; then a plan
// built with id retained would keep them too, and re-planning (with its fresh h x m buffers) buys nothing.
void graph_impl::drop_plans_losing(std::size_t id) {
    auto loses = [id](const plan_state& p) {
        const auto& n = p.nodes[id];
        return (n.value_slot != none && n.value_owner != id) || (n.grad_slot != none && n.grad_owner != id);
    };
    for (auto it = plans.begin(); it != plans.end();) {
        if (!loses(**it)) {
            ++it;
            continue;
        }
        if (it->get() == current) {
            retired = std::move(*it);
            current = nullptr;
        }
        it = plans.erase(it);
    }
}

void graph::set_fusion(bool on) { impl_->fusion = on; }
bool graph::fusion() const { return impl_->fusion; }

void graph::set_poison_reused_buffers(bool on) {
    if (impl_->poison != on) {
        impl_->poison = on;
        impl_->invalidate();
    }
}
bool graph::poison_reused_buffers() const { return impl_->poison; }

void graph::set_detect_anomaly(bool on) { impl_->anomaly = on ? anomaly_check::every_node : anomaly_check::off; }
bool graph::detect_anomaly() const { return impl_->anomaly != anomaly_check::off; }
void graph::set_anomaly_check(anomaly_check mode) { impl_->anomaly = mode; }
anomaly_check graph::anomaly_check_mode() const { return impl_->anomaly; }
void graph::set_step(long step) { impl_->step = step; }
long graph::step() const { return impl_->step; }

const tensor& graph::value(node n) const { return impl_->value_of(impl_->rec(n), n.id_); }
tensor& graph::value(node n) {
    const auto& r = impl_->rec(n);
    if (r.kind != node_kind::op) impl_->changed_after_forward = n.id_;  // a write, as far as backward knows
    return const_cast<tensor&>(impl_->value_of(r, n.id_));
}
const tensor& graph::grad(node n) const { return impl_->grad_of(impl_->rec(n), n.id_); }

node graph::find(const std::string& name) const {
    auto it = impl_->by_name.find(name);
    if (it == impl_->by_name.end()) throw graph_error("no node named '" + name + "'");
    return node(impl_.get(), it->second);
}

bool graph::contains(const std::string& name) const { return impl_->by_name.count(name) != 0; }
std::size_t graph::size() const { return impl_->records.size(); }

std::vector<node> graph::nodes() const {
    impl_->ensure_order();
    std::vector<node> out;
    for (auto id : impl_->order) out.push_back(node(impl_.get(), id));
    return out;
}

std::vector<node> graph::parameters() const {
    std::vector<node> out;
    for (std::size_t id = 0; id < impl_->records.size(); ++id)
        if (impl_->records[id].kind == node_kind::parameter) out.push_back(node(impl_.get(), id));
    return out;
}

std::vector<node> graph::inputs() const {
    std::vector<node> out;
    for (std::size_t id = 0; id < impl_->records.size(); ++id)
        if (impl_->records[id].kind == node_kind::input) out.push_back(node(impl_.get(), id));
    return out;
}

std::vector<node> graph::operands(node n) const {
    std::vector<node> out;
    for (auto o : impl_->rec(n).operands) out.push_back(node(impl_.get(), o));
    return out;
}

std::vector<node> graph::consumers(node n) const {
    impl_->rec(n);
    std::vector<node> out;
    for (auto c : impl_->consumers(n.id_)) out.push_back(node(impl_.get(), c));
    return out;
}

const op* graph::operation(node n) const { return impl_->rec(n).operation.get(); }

std::string graph::kind_name(node n) const { return kind_string(impl_->rec(n)); }

void graph::write_dot(std::ostream& out) const {
    const auto& im = *impl_;
    auto escape = [](const std::string& s) {
        std::string e;
        for (char c : s) {
            if (c == '"' || c == '\\') e += '\\';
            e += c;
        }
        return e;
    };
    auto vertex_writer = [&](std::ostream& os, std::size_t v) {
        const auto& r = im.records[v];
        std::string what = r.kind == node_kind::op ? r.operation->label() : kind_string(r);
        const char* shape = r.kind == node_kind::parameter ? "box" : (r.kind == node_kind::input ? "invhouse" : "ellipse");
        os << "[label=\"" << escape(r.name) << "\\n" << escape(what) << "\\n" << to_string(r.shape)
           << "\", shape=" << shape << "]";
    };
    boost::write_graphviz(out, im.structure, vertex_writer);
}

const tensor& node::value() const { return impl_of(impl_).value_of(impl_->rec(*this), id_); }
const tensor& node::grad() const { return impl_of(impl_).grad_of(impl_->rec(*this), id_); }

// The current plan for reading op values and gradients; a pending feed that never fitted is named.
plan_state& graph_impl::readable_plan() {
    ensure_order();
    try {
        activate();
    } catch (const graph_error& e) {
        throw graph_error("the inputs' shapes do not fit together, " + inputs_list(input_ids) + ": " + e.what());
    }
    return *current;
}

const tensor& graph_impl::value_of(const node_record& r, std::size_t id) {
    if (r.kind == node_kind::parameter) return *r.buffers[0];
    if (r.kind == node_kind::input) return *r.buffers[r.current];
    const auto& p = readable_plan();
    const auto& n = p.nodes[id];
    if (n.value_owner != id)
        throw graph_error("the value of '" + r.name + "' was overwritten in place by '" +
                          records[n.value_owner].name + "'; call retain() on it before running to keep it");
    if (p.value_state[id] == lost_in_replan)
        throw graph_error("the value of '" + r.name + "' was overwritten in place in the last pass, before "
                          "retain() or a re-plan kept it; call forward() to compute it again");
    if (p.value_state[id] != computed)
        throw graph_error("the value of '" + r.name + "' has not been computed for the data fed; call forward()");
    return *n.value;
}

const tensor& graph_impl::grad_of(const node_record& r, std::size_t id) {
    if (r.kind == node_kind::parameter) {  // shared by every plan: readable whatever was fed since
        if (!r.parameter_grad_ready)
            throw graph_error("the gradient of '" + r.name + "' has not been computed; call backward()");
        return *r.parameter_grad;
    }
    const auto& p = readable_plan();
    const auto& n = p.nodes[id];
    if (n.grad == nullptr)
        throw graph_error("'" + r.name + "' has no gradient (no parameter or require_grad input feeds it)");
    if (n.grad_owner != id)
        throw graph_error("the gradient of '" + r.name + "' was overwritten in place by that of '" +
                          records[n.grad_owner].name + "'; call retain() on it before running to keep it");
    const char state = p.grad_state[id];
    if (state == lost_in_replan)
        throw graph_error("the gradient of '" + r.name + "' was overwritten in place in the last pass, before "
                          "retain() or a re-plan kept it; call backward() to compute it again");
    if (state != computed)
        throw graph_error("the gradient of '" + r.name + "' has not been computed; call backward()");
    return *n.grad;
}

void op::forward_rows(const forward_args&, std::size_t, std::size_t) const {
    throw graph_error(std::string(kind()) + ": forward_rows called, but the op computes no rows alone "
                      "(has_forward_rows() is false)");
}
void op::backward_rows(const backward_args&, std::size_t, std::size_t) const {
    throw graph_error(std::string(kind()) + ": backward_rows called, but the op sends no rows alone "
                      "(has_backward_rows() is false)");
}
void op::forward_accumulate(const forward_args&) const {
    throw graph_error(std::string(kind()) + ": forward_accumulate called, but the op cannot add its result "
                      "into its output (has_forward_accumulate() is false)");
}
void op::prefill(const forward_args&, std::size_t) const {
    throw graph_error(std::string(kind()) + ": prefill called, but the op offers none (has_prefill() is false)");
}
void op::backward_outer(const backward_args&, const outer_factors&) const {
    throw graph_error(std::string(kind()) + ": backward_outer called, but the op takes no outer-product "
                      "gradient (has_backward_outer() is false)");
}

[[noreturn]] void throw_shape_error(std::string_view op_kind, const operand_info& a, const operand_info* b,
                                    std::string_view what) {
    std::string msg(op_kind);
    msg += ": ";
    msg += what;
    msg += " ";
    msg += std::string(a.name) + " " + to_string(a.shape);
    if (b) msg += " and " + std::string(b->name) + " " + to_string(b->shape);
    throw graph_error(msg);
}

}  // namespace symgrad
