// The graph: Boost.Graph adjacency list of nodes, a cached topological order, planned buffers.
#include "engine/graph.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>

#include <xtensor/xnoalias.hpp>

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
    shape2 shape;
    bool wants_grad = false;    // inputs: set by require_grad; parameters: always
    bool retained = false;
    // Filled by the planner.
    bool requires_grad = false;
    std::size_t value_slot = none;
    std::size_t grad_slot = none;
    std::size_t value_owner = none;  // the node whose result finally lives in value_slot
    std::size_t grad_owner = none;   // the node whose gradient finally lives in grad_slot
    std::size_t poisons_slot = none; // poisoning: the operand buffer this op would have reused, NaN after forward
    forward_args fwd;
    backward_args bwd;
};

struct graph_impl {
    dag structure;
    std::vector<node_record> records;
    std::unordered_map<std::string, std::size_t> by_name;
    // Plan: valid until the graph or an input shape changes.
    bool planned = false;
    std::vector<std::size_t> order;  // topological
    std::vector<tensor> value_slots;
    std::vector<tensor> grad_slots;
    // Backward plan for one loss node.
    std::size_t planned_loss = none;
    std::vector<std::size_t> backward_order;  // active op nodes, reverse topological
    // Grads zeroed at the start of each backward: those no path to the loss writes, and those an op
    // that reads the operand twice writes first.
    std::vector<std::size_t> zeroed_grads;
    bool forward_done = false;
    bool detect_anomaly = false;
    bool poison = poison_by_default;
    long step = 0;

    node handle(std::size_t id) { return node(this, id); }

    const node_record& rec(node n) const {
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
        planned = false;
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

    shape2 infer(const node_record& r) const {
        std::array<operand_info, max_arity> info{};
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            const auto& o = records[r.operands[i]];
            info[i] = {o.name, o.shape};
        }
        return r.operation->output_shape(info);
    }

    const tensor& value_of(const node_record& r, std::size_t id);
    const tensor& grad_of(const node_record& r, std::size_t id);
    node apply(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name);
    // The plan, in its steps: order and shapes, value buffers, gradient buffers, argument blocks.
    void plan();
    void plan_order();
    void plan_values();
    void plan_grads();
    void build_arguments();
    // A new buffer: zeros, or NaN for an op's buffers when poisoning (forward or backward must write them).
    tensor fresh_buffer(shape2 shape, bool of_op) const;
    // The operand whose value buffer the op at id may write its result into, or none: an intermediate of
    // the result's shape read by this op alone, once, whose value neither this op's backward nor its own saves.
    std::size_t in_place_operand(std::size_t id) const;
    // The operand whose gradient may share the result's gradient buffer, on the same terms (saves aside).
    std::size_t grad_in_place_operand(std::size_t id, const std::vector<std::size_t>& grad_slot_of) const;
    std::vector<char> needs_grad_for(std::size_t loss) const;
    void plan_backward(std::size_t loss);
    void check_finite(const tensor& t, const node_record& r, const char* what, const std::string& by) const;
};

void graph_impl::plan() {
    plan_order();
    plan_values();
    plan_grads();
    build_arguments();
    planned = true;
    planned_loss = none;
    forward_done = false;
}

void graph_impl::plan_order() {
    // Topological order from Boost.Graph; topological_sort writes it reversed.
    order.clear();
    try {
        boost::topological_sort(structure, std::back_inserter(order));
    } catch (const boost::not_a_dag&) {
        throw graph_error("the graph has a cycle");
    }
    std::reverse(order.begin(), order.end());

    // Shapes may have changed through feed(): re-run every shape rule.
    for (auto id : order) {
        auto& r = records[id];
        if (r.kind == node_kind::op) r.shape = infer(r);
        r.requires_grad = r.wants_grad;
        for (auto o : r.operands) r.requires_grad = r.requires_grad || records[o].requires_grad;
    }
}

tensor graph_impl::fresh_buffer(shape2 shape, bool of_op) const {
    tensor t = tensor::from_shape({shape.rows, shape.cols});
    t.fill(poison && of_op ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    return t;
}

std::size_t graph_impl::in_place_operand(std::size_t id) const {
    const auto& r = records[id];
    if (r.kind != node_kind::op || !r.operation->elementwise() || saves_inputs(r.operation->saves())) return none;
    for (auto o : r.operands) {
        const auto& u = records[o];
        if (u.kind != node_kind::op || u.retained || u.shape != r.shape) continue;
        if (saves_output(u.operation->saves()) || consumers(o).size() != 1) continue;
        if (std::count(r.operands.begin(), r.operands.end(), o) != 1) continue;
        return o;
    }
    return none;
}

void graph_impl::plan_values() {
    // Inputs and parameters keep their contents across a re-plan when their shape did not change.
    std::vector<tensor> kept(records.size());
    for (auto id : order) {
        auto& r = records[id];
        if (r.kind != node_kind::op && r.value_slot < value_slots.size()) kept[id] = std::move(value_slots[r.value_slot]);
    }
    value_slots.clear();
    std::vector<std::size_t> chain(records.size(), none);  // the first node of id's chain of in-place writers
    for (auto id : order) {
        auto& r = records[id];
        auto u = in_place_operand(id);
        chain[id] = u == none ? id : chain[u];
        r.poisons_slot = none;
        if (u != none && !poison) {
            r.value_slot = records[u].value_slot;
            continue;
        }
        if (u != none) r.poisons_slot = records[u].value_slot;  // a buffer of its own; u's is NaN after forward
        r.value_slot = value_slots.size();
        if (r.kind != node_kind::op && shape_of(kept[id]) == r.shape && kept[id].size() == r.shape.size())
            value_slots.push_back(std::move(kept[id]));
        else
            value_slots.push_back(fresh_buffer(r.shape, r.kind == node_kind::op));
    }
    // A chain's buffer finally holds the result of its last node in topological order.
    std::vector<std::size_t> last_writer(records.size(), none);
    for (auto id : order) last_writer[chain[id]] = id;
    for (auto id : order) records[id].value_owner = last_writer[chain[id]];
}

std::size_t graph_impl::grad_in_place_operand(std::size_t id, const std::vector<std::size_t>& grad_slot_of) const {
    const auto& r = records[id];
    if (r.kind != node_kind::op || r.retained || !r.operation->elementwise()) return none;
    for (auto o : r.operands) {
        const auto& u = records[o];
        if (!u.requires_grad || grad_slot_of[o] != none) continue;
        if (u.kind != node_kind::op || u.retained || u.shape != r.shape || consumers(o).size() != 1) continue;
        if (std::count(r.operands.begin(), r.operands.end(), o) != 1) continue;
        return o;
    }
    return none;
}

void graph_impl::plan_grads() {
    grad_slots.clear();
    std::vector<std::size_t> grad_slot_of(records.size(), none);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto& r = records[*it];
        if (!r.requires_grad) continue;
        if (grad_slot_of[*it] == none) {
            grad_slot_of[*it] = grad_slots.size();
            grad_slots.push_back(fresh_buffer(r.shape, r.kind == node_kind::op));
        }
        auto o = grad_in_place_operand(*it, grad_slot_of);
        if (o != none) grad_slot_of[o] = grad_slot_of[*it];
    }
    for (std::size_t id = 0; id < records.size(); ++id) records[id].grad_slot = grad_slot_of[id];
    // The owner of a shared gradient buffer is the node whose gradient is written last (the deepest).
    std::vector<std::size_t> last_writer(grad_slots.size(), none);
    for (auto it = order.rbegin(); it != order.rend(); ++it)
        if (records[*it].grad_slot != none) last_writer[records[*it].grad_slot] = *it;
    for (auto& r : records) r.grad_owner = (r.grad_slot == none) ? none : last_writer[r.grad_slot];
}

void graph_impl::build_arguments() {
    // Built once so that forward and backward never allocate; plan_backward adds the gradient sinks.
    for (auto id : order) {
        auto& r = records[id];
        if (r.kind != node_kind::op) continue;
        r.fwd = {};
        r.bwd = {};
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            r.fwd.in[i] = &value_slots[records[r.operands[i]].value_slot];
            r.bwd.in[i] = r.fwd.in[i];
        }
        r.fwd.out = &value_slots[r.value_slot];
        r.bwd.out = r.fwd.out;
        r.bwd.out_grad = (r.grad_slot == none) ? nullptr : &grad_slots[r.grad_slot];
    }
}

std::vector<char> graph_impl::needs_grad_for(std::size_t loss) const {
    // Ancestors of the loss that require a gradient, walking operand edges backwards.
    std::vector<char> active(records.size(), 0);
    std::vector<std::size_t> stack{loss};
    active[loss] = records[loss].requires_grad;
    while (!stack.empty()) {
        auto id = stack.back();
        stack.pop_back();
        for (auto o : records[id].operands)
            if (!active[o] && records[o].requires_grad) {
                active[o] = 1;
                stack.push_back(o);
            }
    }
    return active;
}

void graph_impl::plan_backward(std::size_t loss) {
    auto active = needs_grad_for(loss);
    backward_order.clear();
    zeroed_grads.clear();
    std::vector<char> written(records.size(), 0);
    written[loss] = 1;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto id = *it;
        auto& r = records[id];
        if (r.grad_slot != none && !active[id]) zeroed_grads.push_back(id);
        if (!active[id] || r.kind != node_kind::op) continue;
        backward_order.push_back(id);
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            auto o = r.operands[i];
            if (!active[o]) {
                r.bwd.in_grad[i] = {};
                continue;
            }
            // An operand this op reads twice, first written here: it starts the pass at zero and both
            // sinks add, so the op may send to them in either order.
            if (!written[o] && std::count(r.operands.begin(), r.operands.end(), o) > 1) {
                zeroed_grads.push_back(o);
                written[o] = 1;
            }
            r.bwd.in_grad[i] = grad_sink(&grad_slots[records[o].grad_slot], written[o] != 0);
            written[o] = 1;
        }
    }
    planned_loss = loss;
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

node graph_impl::apply(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    if (!operation) throw graph_error("apply: null op");
    if (operands.size() != operation->arity())
        throw graph_error(std::string(operation->kind()) + ": expects " + std::to_string(operation->arity()) +
                          " operand(s), got " + std::to_string(operands.size()));
    node_record probe;
    probe.operation = std::move(operation);
    for (std::size_t i = 0; i < operands.size(); ++i) {
        if (operands[i].impl_ != this || operands[i].id_ >= records.size())
            throw graph_error(std::string(probe.operation->kind()) + ": operand " + std::to_string(i) +
                              " does not belong to this graph");
        probe.operands.push_back(operands[i].id_);
    }
    shape2 shape = infer(probe);  // throws before anything is added
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

const std::string& node::name() const { return impl_->rec(*this).name; }
shape2 node::shape() const {
    const auto& r = impl_->rec(*this);
    return r.shape;
}
node_kind node::kind() const { return impl_->rec(*this).kind; }

// --- graph --------------------------------------------------------------------------------------

graph::graph() : impl_(std::make_unique<graph_impl>()) {}
graph::~graph() = default;
graph::graph(graph&&) noexcept = default;
graph& graph::operator=(graph&&) noexcept = default;

node graph::input(const std::string& name, shape2 shape) {
    return impl_->handle(impl_->add_node(name, node_kind::input, shape));
}

node graph::parameter(const std::string& name, shape2 shape) {
    auto id = impl_->add_node(name, node_kind::parameter, shape);
    impl_->records[id].wants_grad = true;
    return impl_->handle(id);
}

node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    if (operands.empty() || !operands[0].impl_)
        throw graph_error(std::string(operation ? operation->kind() : "op") + ": needs operands from a graph");
    return operands[0].impl_->apply(std::move(operation), operands, name);
}

void graph::feed(node n, const tensor& data) {
    auto& r = impl_->rec(n);
    if (r.kind != node_kind::input)
        throw graph_error("feed: '" + r.name + "' is not an input (use value() to set a parameter)");
    if (shape_of(data) != r.shape) {
        shape2 old = r.shape;
        r.shape = shape_of(data);
        impl_->planned = false;
        try {
            impl_->plan();
        } catch (const graph_error& e) {
            r.shape = old;
            impl_->planned = false;
            impl_->plan();  // the failed plan had already re-inferred some downstream shapes: restore them
            throw graph_error("feed '" + r.name + "' " + to_string(shape_of(data)) + ": " + e.what());
        }
    }
    if (!impl_->planned) impl_->plan();
    xt::noalias(impl_->value_slots[r.value_slot]) = data;
    impl_->forward_done = false;
}

void graph::forward() {
    auto& im = *impl_;
    if (!im.planned) im.plan();
    for (auto id : im.order) {
        auto& r = im.records[id];
        tensor& v = im.value_slots[r.value_slot];
        if (r.kind != node_kind::op) {
            if (shape_of(v) != r.shape)
                throw graph_error("the value of '" + r.name + "' was resized to " + to_string(shape_of(v)) +
                                  "; it must stay " + to_string(r.shape) + " (use feed() to change an input)");
            if (im.detect_anomaly) im.check_finite(v, r, "value", {});
            continue;
        }
        r.operation->forward(r.fwd);
        if (r.poisons_slot != none) im.value_slots[r.poisons_slot].fill(std::numeric_limits<double>::quiet_NaN());
        if (im.detect_anomaly) im.check_finite(v, r, "value", {});
    }
    im.forward_done = true;
}

void graph::backward(node loss) {
    auto& im = *impl_;
    const auto& lr = im.rec(loss);
    if (lr.shape != shape2{1, 1})
        throw graph_error("backward: the loss '" + lr.name + "' must be 1x1, it is " + to_string(lr.shape));
    if (!im.planned || !im.forward_done) throw graph_error("backward: call forward() first");
    if (im.planned_loss != loss.id_) im.plan_backward(loss.id_);
    for (auto id : im.zeroed_grads) im.grad_slots[im.records[id].grad_slot].fill(0.0);
    if (lr.grad_slot == none) return;  // nothing trainable reaches the loss
    im.grad_slots[lr.grad_slot].fill(1.0);
    for (auto id : im.backward_order) {
        auto& r = im.records[id];
        r.operation->backward(r.bwd);
        if (im.detect_anomaly) {
            for (std::size_t i = 0; i < r.operands.size(); ++i)
                if (r.bwd.in_grad[i]) im.check_finite(r.bwd.in_grad[i].buffer(), im.records[r.operands[i]], "gradient", r.name);
        }
    }
}

void graph::require_grad(node n, bool on) {
    auto& r = impl_->rec(n);
    if (r.kind == node_kind::op) throw graph_error("require_grad: '" + r.name + "' is not an input");
    if (r.kind == node_kind::parameter) return;
    if (r.wants_grad != on) {
        r.wants_grad = on;
        impl_->planned = false;
    }
}

void graph::retain(node n) {
    auto& r = impl_->rec(n);
    if (!r.retained) {
        r.retained = true;
        impl_->planned = false;
    }
}

void graph::set_poison_reused_buffers(bool on) {
    if (impl_->poison != on) {
        impl_->poison = on;
        impl_->planned = false;
    }
}
bool graph::poison_reused_buffers() const { return impl_->poison; }

void graph::set_detect_anomaly(bool on) { impl_->detect_anomaly = on; }
bool graph::detect_anomaly() const { return impl_->detect_anomaly; }
void graph::set_step(long step) { impl_->step = step; }
long graph::step() const { return impl_->step; }

const tensor& graph::value(node n) const { return impl_->value_of(impl_->rec(n), n.id_); }
tensor& graph::value(node n) { return const_cast<tensor&>(impl_->value_of(impl_->rec(n), n.id_)); }
const tensor& graph::grad(node n) const { return impl_->grad_of(impl_->rec(n), n.id_); }

node graph::find(const std::string& name) const {
    auto it = impl_->by_name.find(name);
    if (it == impl_->by_name.end()) throw graph_error("no node named '" + name + "'");
    return node(impl_.get(), it->second);
}

bool graph::contains(const std::string& name) const { return impl_->by_name.count(name) != 0; }
std::size_t graph::size() const { return impl_->records.size(); }

std::vector<node> graph::nodes() const {
    if (!impl_->planned) impl_->plan();
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

const tensor& node::value() const { return impl_->value_of(impl_->rec(*this), id_); }
const tensor& node::grad() const { return impl_->grad_of(impl_->rec(*this), id_); }

const tensor& graph_impl::value_of(const node_record& r, std::size_t id) {
    if (!planned) plan();
    if (r.value_owner != id)
        throw graph_error("the value of '" + r.name + "' was overwritten in place by '" +
                          records[r.value_owner].name + "'; call retain() on it before running to keep it");
    return value_slots[r.value_slot];
}

const tensor& graph_impl::grad_of(const node_record& r, std::size_t id) {
    if (!planned) plan();
    if (r.grad_slot == none)
        throw graph_error("'" + r.name + "' has no gradient (no parameter or require_grad input feeds it)");
    if (r.grad_owner != id)
        throw graph_error("the gradient of '" + r.name + "' was overwritten in place by that of '" +
                          records[r.grad_owner].name + "'; call retain() on it before running to keep it");
    return grad_slots[r.grad_slot];
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
