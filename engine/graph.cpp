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
    std::vector<std::size_t> zero_grads;      // grads no path to the loss writes
    bool forward_done = false;
    bool detect_anomaly = false;
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
    void plan();
    void plan_backward(std::size_t loss);
    void check_finite(const tensor& t, const node_record& r, const char* what, const std::string& by) const;
};

void graph_impl::plan() {
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

    // Value buffers. An op writes in place into an operand's buffer when the operand is an
    // intermediate whose only reader is this op and nobody's backward needs it afterwards.
    // Inputs and parameters keep their contents across a re-plan when their shape did not change.
    std::vector<tensor> kept(records.size());
    for (auto id : order) {
        auto& r = records[id];
        if (r.kind != node_kind::op && r.value_slot < value_slots.size()) kept[id] = std::move(value_slots[r.value_slot]);
    }
    value_slots.clear();
    for (auto id : order) {
        auto& r = records[id];
        r.value_slot = none;
        if (r.kind == node_kind::op) {
            for (std::size_t i = 0; i < r.operands.size() && r.value_slot == none; ++i) {
                auto& u = records[r.operands[i]];
                if (u.kind != node_kind::op || u.retained || u.shape != r.shape) continue;
                if (!r.operation->forward_in_place_ok(i) || r.operation->backward_reads_input(i)) continue;
                if (u.operation->backward_reads_output() || consumers(r.operands[i]).size() != 1) continue;
                if (std::count(r.operands.begin(), r.operands.end(), r.operands[i]) != 1) continue;
                r.value_slot = u.value_slot;
            }
        }
        if (r.value_slot != none) continue;
        r.value_slot = value_slots.size();
        if (r.kind != node_kind::op && shape_of(kept[id]) == r.shape && kept[id].size() == r.shape.size()) {
            value_slots.push_back(std::move(kept[id]));
        } else {
            value_slots.emplace_back(tensor::from_shape({r.shape.rows, r.shape.cols}));
            value_slots.back().fill(0.0);
        }
    }
    {
        // A shared buffer finally holds the result of the last node in topological order that writes it.
        std::vector<std::size_t> last_writer(value_slots.size(), none);
        for (auto id : order) last_writer[records[id].value_slot] = id;
        for (auto id : order) records[id].value_owner = last_writer[records[id].value_slot];
    }

    // Gradient buffers, only where a gradient can flow. An operand's gradient reuses the result's
    // gradient buffer when the op computes it elementwise and this op is the operand's only consumer.
    grad_slots.clear();
    std::vector<std::size_t> grad_slot_of(records.size(), none);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto& r = records[*it];
        if (!r.requires_grad) continue;
        if (grad_slot_of[*it] == none) {
            grad_slot_of[*it] = grad_slots.size();
            grad_slots.emplace_back(tensor::from_shape({r.shape.rows, r.shape.cols}));
            grad_slots.back().fill(0.0);
        }
        if (r.kind != node_kind::op) continue;
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            auto o = r.operands[i];
            auto& u = records[o];
            if (!u.requires_grad || grad_slot_of[o] != none) continue;
            if (u.kind != node_kind::op || u.retained || r.retained || u.shape != r.shape) continue;
            if (!r.operation->backward_in_place_ok(i) || consumers(o).size() != 1) continue;
            if (std::count(r.operands.begin(), r.operands.end(), o) != 1) continue;
            grad_slot_of[o] = grad_slot_of[*it];
            break;  // at most one operand shares the result's gradient buffer
        }
    }
    for (std::size_t id = 0; id < records.size(); ++id) records[id].grad_slot = grad_slot_of[id];
    {
        // The owner of a shared gradient buffer is the node whose gradient is written last (the deepest).
        std::vector<std::size_t> last_writer(grad_slots.size(), none);
        for (auto it = order.rbegin(); it != order.rend(); ++it)
            if (records[*it].grad_slot != none) last_writer[records[*it].grad_slot] = *it;
        for (auto& r : records) r.grad_owner = (r.grad_slot == none) ? none : last_writer[r.grad_slot];
    }

    // Argument blocks, built once so that forward and backward never allocate.
    for (auto id : order) {
        auto& r = records[id];
        if (r.kind != node_kind::op) continue;
        r.fwd = {};
        r.bwd = {};
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            const auto& u = records[r.operands[i]];
            r.fwd.in[i] = &value_slots[u.value_slot];
            r.bwd.in[i] = r.fwd.in[i];
            r.bwd.in_grad[i] = (u.grad_slot == none) ? nullptr : &grad_slots[u.grad_slot];
        }
        r.fwd.out = &value_slots[r.value_slot];
        r.bwd.out = r.fwd.out;
        r.bwd.out_grad = (r.grad_slot == none) ? nullptr : &grad_slots[r.grad_slot];
    }
    planned = true;
    planned_loss = none;
    forward_done = false;
}

void graph_impl::plan_backward(std::size_t loss) {
    std::vector<char> active(records.size(), 0);
    // Ancestors of the loss that require a gradient, walking operand edges backwards.
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
    backward_order.clear();
    zero_grads.clear();
    std::vector<char> written(records.size(), 0);
    written[loss] = 1;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        auto id = *it;
        auto& r = records[id];
        if (r.grad_slot != none && !active[id]) zero_grads.push_back(id);
        if (!active[id] || r.kind != node_kind::op) continue;
        backward_order.push_back(id);
        for (std::size_t i = 0; i < r.operands.size(); ++i) {
            auto o = r.operands[i];
            if (!active[o]) {
                r.bwd.in_grad[i] = nullptr;
                continue;
            }
            r.bwd.in_grad[i] = &grad_slots[records[o].grad_slot];
            r.bwd.accumulate[i] = written[o] != 0;
            written[o] = 1;
        }
    }
    planned_loss = loss;
}

void graph_impl::check_finite(const tensor& t, const node_record& r, const char* what,
                              const std::string& by) const {
    const double* p = t.data();
    for (std::size_t k = 0, n = t.size(); k < n; ++k) {
        if (!std::isfinite(p[k])) {
            std::size_t cols = r.shape.cols == 0 ? 1 : r.shape.cols;
            std::ostringstream msg;
            msg << "anomaly: " << what << " of node '" << r.name << "' ("
                << (r.kind == node_kind::op ? std::string(r.operation->kind())
                                            : (r.kind == node_kind::input ? "input" : "parameter"))
                << ", " << to_string(r.shape) << ") is " << (std::isnan(p[k]) ? "NaN" : "Inf") << " at ("
                << k / cols << "," << k % cols << ") in pass " << step;
            if (!by.empty()) msg << ", produced by the backward of '" << by << "'";
            throw anomaly_error(msg.str());
        }
    }
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

node graph::apply(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    return impl_->apply(std::move(operation), operands, name);
}

node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name) {
    if (operands.empty() || !operands[0].impl_)
        throw graph_error(std::string(operation ? operation->kind() : "op") + ": needs operands from a graph");
    return operands[0].impl_->apply(std::move(operation), operands, name);
}

node graph::rename(node n, const std::string& name) {
    auto& r = impl_->rec(n);
    if (name == r.name) return n;
    if (name.empty()) throw graph_error("node names must not be empty");
    if (impl_->by_name.count(name)) throw graph_error("a node named '" + name + "' already exists");
    impl_->by_name.erase(r.name);
    r.name = name;
    impl_->by_name.emplace(name, n.id_);
    return n;
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
    for (auto id : im.zero_grads) im.grad_slots[im.records[id].grad_slot].fill(0.0);
    if (lr.grad_slot == none) return;  // nothing trainable reaches the loss
    im.grad_slots[lr.grad_slot].fill(1.0);
    for (auto id : im.backward_order) {
        auto& r = im.records[id];
        r.operation->backward(r.bwd);
        if (im.detect_anomaly) {
            for (std::size_t i = 0; i < r.operands.size(); ++i)
                if (r.bwd.in_grad[i]) im.check_finite(*r.bwd.in_grad[i], im.records[r.operands[i]], "gradient", r.name);
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

node graph::at(std::size_t id) const {
    if (id >= impl_->records.size()) throw graph_error("no node with id " + std::to_string(id));
    return node(impl_.get(), id);
}

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

std::string graph::kind_name(node n) const {
    const auto& r = impl_->rec(n);
    switch (r.kind) {
        case node_kind::input: return "input";
        case node_kind::parameter: return "parameter";
        default: return std::string(r.operation->kind());
    }
}

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
        std::string what = r.kind == node_kind::op ? r.operation->label()
                                                   : (r.kind == node_kind::input ? "input" : "parameter");
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
