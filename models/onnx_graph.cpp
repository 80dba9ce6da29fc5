// ONNX graphs to engine graphs. ONNX tensors are batch-major (batch x features), symgrad's are features x
// samples, so every tensor is held transposed: Y = X·B + C is built as Yᵀ = Bᵀ·Xᵀ + Cᵀ (docs/onnx.md).
#include <cmath>
#include <deque>
#include <map>
#include <set>

#include "engine/error.hpp"
#include "models/model_formats.hpp"
#include "models/onnx_detail.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad::model_formats {

using namespace onnx_detail;

namespace {

bool passes_through(const std::string& op) {
    return op == "Identity" || op == "Flatten" || op == "Reshape" || op == "Cast" || op == "Squeeze";
}

}  // namespace

namespace onnx_detail {

const onnx::NodeProto* head_node(const onnx::GraphProto& g) {
    std::map<std::string, const onnx::NodeProto*> producer;
    for (const auto& n : g.node())
        for (const auto& o : n.output()) producer[o] = &n;
    std::string name = g.output(0).name();
    for (int steps = 0; steps <= g.node_size(); ++steps) {
        auto it = producer.find(name);
        if (it == producer.end()) return nullptr;
        const std::string& op = it->second->op_type();
        if (op == "Softmax" || op == "LogSoftmax" || op == "Sigmoid") return it->second;
        if (!passes_through(op) || it->second->input_size() == 0) return nullptr;
        name = it->second->input(0);
    }
    return nullptr;
}

}  // namespace onnx_detail

namespace {

// Builds the network node by node; tensors_ maps each ONNX tensor computed from the input to its node.
class onnx_lowering {
public:
    onnx_lowering(const model_file& model, std::size_t samples)
        : model_(model), graph_(document_of(model).graph()), samples_(samples), head_(head_node(graph_)) {
        for (const auto& t : graph_.initializer()) constants_[t.name()] = &t, initializers_.insert(t.name());
    }
    mlp run();
    const std::map<std::string, node>& tensors() const { return tensors_; }

private:
    using handler = void (onnx_lowering::*)(const onnx::NodeProto&);
    void lower(const onnx::NodeProto& n);
    [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& what) const {
        throw input_error(model_.source + ": " + node_label(n) + ": " + what);
    }
    const std::string& input_name(const onnx::NodeProto& n, int i) const;
    double finite_attribute(const onnx::NodeProto& n, const std::string& name, double fallback) const {
        const double v = float_attribute(model_.source, n, name, fallback);
        if (!std::isfinite(v)) fail(n, name + " is not a finite number");
        return v;
    }
    bool computed_here(const std::string& name) const { return tensors_.count(name) != 0; }
    node computed(const onnx::NodeProto& n, int i, bool head_allowed = false);
    node operand(const onnx::NodeProto& n, int i, bool transposed = true);
    node constant(const onnx::NodeProto& n, const std::string& name, bool transposed);
    std::string onnx_shape(const std::string& name, node v) const;
    void check_broadcast(const onnx::NodeProto& n, const std::string& a, node x, const std::string& b, node y) const;
    node weight(const onnx::NodeProto& n, node input, bool transposed);
    void define(const onnx::NodeProto& n, node v, bool headed = false);

    void gemm(const onnx::NodeProto& n);
    void matmul_node(const onnx::NodeProto& n);
    void arithmetic(const onnx::NodeProto& n);
    void activation(const onnx::NodeProto& n);
    void head(const onnx::NodeProto& n);
    void identity(const onnx::NodeProto& n);
    void flatten(const onnx::NodeProto& n);
    void cast(const onnx::NodeProto& n);
    void reshape(const onnx::NodeProto& n);
    void squeeze(const onnx::NodeProto& n);
    bool single_output_at_end(const onnx::NodeProto& n, node x) const;
    void constant_node(const onnx::NodeProto& n);

    const model_file& model_;
    const onnx::GraphProto& graph_;
    std::size_t samples_;
    const onnx::NodeProto* head_;
    std::map<std::string, const onnx::TensorProto*> constants_;  // initializers and Constant nodes' values
    std::deque<onnx::TensorProto> made_;                          // Constant nodes' value_float(s)/value_int(s)
    std::map<std::string, node> tensors_, fixed_;                 // computed tensors; constants made nodes
    std::map<std::string, bool> stored_transposed_;               // of each constant made a node
    std::set<std::string> initializers_;
    std::set<std::string> headed_;                                // the stripped head's output, passed through
    mlp net_;
};

const std::string& onnx_lowering::input_name(const onnx::NodeProto& n, int i) const {
    if (i >= n.input_size() || n.input(i).empty()) fail(n, "needs an input " + std::to_string(i + 1));
    return n.input(i);
}

// A tensor computed from the data input. The stripped head's output may only pass through to the output.
node onnx_lowering::computed(const onnx::NodeProto& n, int i, bool head_allowed) {
    const std::string& name = input_name(n, i);
    auto it = tensors_.find(name);
    if (it != tensors_.end()) {
        if (headed_.count(name) && !head_allowed)
            fail(n, "reads '" + name + "', the output of " + node_label(*head_) + ", which symcheck reads only at the end");
        return it->second;
    }
    if (constants_.count(name)) fail(n, "input '" + name + "' is a constant where symcheck reads a tensor computed from the input");
    fail(n, "input '" + name + "' is neither an initializer nor the output of an earlier node");
}

node onnx_lowering::operand(const onnx::NodeProto& n, int i, bool transposed) {
    const std::string& name = input_name(n, i);
    return computed_here(name) ? computed(n, i) : constant(n, name, transposed);
}

// An initializer is its parameter (shared by every node using it); a Constant node's value is an input
// fed once, so training leaves it alone.
node onnx_lowering::constant(const onnx::NodeProto& n, const std::string& name, bool transposed) {
    if (auto it = fixed_.find(name); it != fixed_.end()) return it->second;
    auto source = constants_.find(name);
    if (source == constants_.end()) fail(n, "input '" + name + "' is neither an initializer nor the output of an earlier node");
    const auto dims = checked_dims(*source->second, model_.source + ": constant '" + name + "'");
    if (auto p = model_.parameters.find(name); p != model_.parameters.end()) {
        node v = net_.g.parameter(name, shape_of(p->second));
        net_.g.value(v) = p->second;
        auto origin = model_.origins.find(name);
        stored_transposed_[name] = origin != model_.origins.end() && origin->second.transposed;
        return fixed_[name] = v;
    }
    if (dims.size() > 2) fail(n, "constant '" + name + "' has shape " + dims_text(dims) + "; symcheck reads at most 2 dimensions");
    if (initializers_.count(name)) fail(n, "initializer '" + name + "' has no parameter");
    const tensor value = symgrad_layout(float_values(*source->second, model_.source + ": constant '" + name + "'"), dims,
                                        transposed && dims.size() == 2);
    node v = net_.g.input(name, shape_of(value));
    net_.g.feed(v, value);
    stored_transposed_[name] = transposed && dims.size() == 2;
    return fixed_[name] = v;
}

// How a message shows an operand: "(batch, 4)" for computed tensors, the stored shape for constants.
std::string onnx_lowering::onnx_shape(const std::string& name, node v) const {
    const shape2 s = v.shape();
    auto c = constants_.find(name);
    if (computed_here(name) || c == constants_.end()) return "(batch, " + std::to_string(s.rows) + ")";
    const int rank = c->second->dims_size();
    if (rank == 0) return "()";
    if (rank == 1) return "(" + std::to_string(s.rows) + ")";
    const bool t = stored_transposed_.at(name);
    return "(" + std::to_string(t ? s.cols : s.rows) + ", " + std::to_string(t ? s.rows : s.cols) + ")";
}

// ONNX's broadcasting on (batch, features), as symgrad's on features x samples: features equal or 1, and a
// batch-sized constant only for exactly that many samples.
void onnx_lowering::check_broadcast(const onnx::NodeProto& n, const std::string& a, node x, const std::string& b, node y) const {
    const shape2 p = x.shape(), q = y.shape();
    const bool rows = p.rows == q.rows || p.rows == 1 || q.rows == 1;
    const bool cols = (p.cols == samples_ || p.cols == 1) && (q.cols == samples_ || q.cols == 1);
    if (!rows || !cols)
        fail(n, "cannot broadcast '" + a + "' " + onnx_shape(a, x) + " with '" + b + "' " + onnx_shape(b, y) +
                    (cols ? std::string() : " over a batch of " + std::to_string(samples_)));
}

// The weight W = op(B)ᵀ (units x fan_in) of MatMul or Gemm, checked against the input's features.
node onnx_lowering::weight(const onnx::NodeProto& n, node input, bool transposed) {
    const std::string& name = input_name(n, 1);
    if (computed_here(name)) fail(n, "multiplies two computed tensors; symcheck reads products by a weight (an initializer)");
    node w = constant(n, name, transposed);
    if (constants_.at(name)->dims_size() != 2) fail(n, "weight '" + name + "' has shape " + onnx_shape(name, w) + "; symcheck reads a 2-D weight");
    if (w.shape().cols != input.shape().rows)
        fail(n, "cannot multiply '" + n.input(0) + "' " + onnx_shape(n.input(0), input) + " by '" + name + "' " +
                    onnx_shape(name, w) + (n.op_type() == "Gemm" && !transposed ? " (transB=1)" : ""));
    return w;
}

void onnx_lowering::define(const onnx::NodeProto& n, node v, bool headed) {
    const std::string& name = n.output(0);
    if (computed_here(name) || constants_.count(name)) fail(n, "output '" + name + "' is defined twice");
    tensors_[name] = v;
    if (headed) headed_.insert(name);
}

// Y = alpha·A·op(B) + beta·C; alpha and beta other than 1 become scale nodes. transA=1 would put the batch
// on the other axis, which a dense network never does.
void onnx_lowering::gemm(const onnx::NodeProto& n) {
    const double alpha = finite_attribute(n, "alpha", 1.0), beta = finite_attribute(n, "beta", 1.0);
    if (int_attribute(model_.source, n, "transA", 0) != 0)
        fail(n, "transA=1 multiplies across the batch; symcheck reads Gemm with transA=0 on a (batch, features) input");
    node a = computed(n, 0);
    node w = weight(n, a, int_attribute(model_.source, n, "transB", 0) == 0);
    const bool has_c = n.input_size() > 2 && !n.input(2).empty();
    const std::string& out = n.output(0);
    node y = matmul(w, a, has_c || alpha != 1.0 ? out + "/matmul" : out);
    if (alpha != 1.0) y = scale(y, alpha, has_c ? out + "/alpha" : out);
    if (has_c) {
        node c = operand(n, 2);
        check_broadcast(n, n.input(0) + "·" + n.input(1), y, n.input(2), c);
        if (beta != 1.0) c = scale(c, beta, out + "/beta");
        y = add(y, c, out);
    }
    define(n, y);
}

void onnx_lowering::matmul_node(const onnx::NodeProto& n) {
    node a = computed(n, 0);
    define(n, matmul(weight(n, a, true), a, n.output(0)));
}

// Add, Sub, Mul on a computed tensor and a constant (scalar, per-feature vector, matrix) or two computed ones.
void onnx_lowering::arithmetic(const onnx::NodeProto& n) {
    const std::string &a = input_name(n, 0), &b = input_name(n, 1);
    if (!computed_here(a) && !computed_here(b))
        fail(n, "both inputs are constants; symcheck reads arithmetic on a tensor computed from the input");
    node x = operand(n, 0), y = operand(n, 1);
    check_broadcast(n, a, x, b, y);
    const std::string& op = n.op_type();
    define(n, op == "Add" ? add(x, y, n.output(0)) : op == "Sub" ? sub(x, y, n.output(0)) : mul(x, y, n.output(0)));
}

void onnx_lowering::activation(const onnx::NodeProto& n) {
    if (&n == head_) return head(n);
    node x = computed(n, 0);
    const std::string &op = n.op_type(), &out = n.output(0);
    if (op == "Tanh") define(n, tanh(x, out));
    else if (op == "Sigmoid") define(n, sigmoid(x, out));
    else if (op == "Relu") define(n, relu(x, out));
    else define(n, leaky_relu(x, finite_attribute(n, "alpha", 0.01), out));
}

// The file's own output head is dropped: its input becomes the logits, and attach_loss adds symcheck's.
void onnx_lowering::head(const onnx::NodeProto& n) {
    if (&n != head_) fail(n, "is not the last node; symcheck reads Softmax and LogSoftmax only where they produce the output");
    node x = computed(n, 0);
    const std::string k = std::to_string(x.shape().rows);
    if (n.op_type() == "Sigmoid" && x.shape().rows != 1)
        fail(n, "ends the graph on " + k + " outputs (multi-label); symcheck reads a final Sigmoid on one output, Softmax on several");
    if (n.op_type() != "Sigmoid") {
        const std::int64_t axis = int_attribute(model_.source, n, "axis", 1);
        if (axis != 1 && axis != -1) fail(n, "axis=" + std::to_string(axis) + " is not the features axis (1 or -1)");
        if (x.shape().rows < 2) fail(n, "on a single output is always 1; symcheck reads Softmax on 2 or more outputs");
    }
    define(n, x, true);
}

void onnx_lowering::identity(const onnx::NodeProto& n) {
    define(n, computed(n, 0, true), headed_.count(n.input(0)) != 0);
}

void onnx_lowering::flatten(const onnx::NodeProto& n) {
    const std::int64_t axis = int_attribute(model_.source, n, "axis", 1);
    if (axis != 1 && axis != -1)
        fail(n, "axis=" + std::to_string(axis) + " changes a (batch, features) tensor; symcheck reads Flatten with axis 1");
    identity(n);
}

void onnx_lowering::cast(const onnx::NodeProto& n) {
    const std::int64_t to = int_attribute(model_.source, n, "to", 0);
    if (to != onnx::TensorProto::FLOAT && to != onnx::TensorProto::DOUBLE)
        fail(n, "casts to " + data_type_name(int(to)) + "; symcheck reads Cast to FLOAT or DOUBLE");
    identity(n);
}

// Only a Reshape that leaves (batch, features) as it is: (-1 or 0, features or 0 or -1).
void onnx_lowering::reshape(const onnx::NodeProto& n) {
    node x = computed(n, 0, true);
    const std::string& name = input_name(n, 1);
    auto t = constants_.find(name);
    if (t == constants_.end()) fail(n, "shape '" + name + "' is computed; symcheck reads a Reshape whose shape is an initializer or Constant");
    const auto shape = int_values(*t->second, model_.source + ": " + node_label(n) + ": shape '" + name + "'");
    const bool zero_copies = int_attribute(model_.source, n, "allowzero", 0) == 0;
    const auto f = std::int64_t(x.shape().rows);
    const bool keeps = shape.size() == 2 && (shape[0] == -1 || (shape[0] == 0 && zero_copies)) &&
                       (shape[1] == f || (shape[1] == 0 && zero_copies) || (shape[1] == -1 && shape[0] != -1));
    if (!keeps && !(shape == std::vector<std::int64_t>{-1} && single_output_at_end(n, x)))
        fail(n, "shape " + dims_text(shape) + " changes (batch, " + std::to_string(f) +
                    "); symcheck reads Reshape only where it leaves a 2-D batch unchanged");
    identity(n);
}

// A binary classifier's `z.squeeze(1)` or `z.view(-1)`: (batch, 1) to (batch) as the graph's output, which
// holds the same numbers; anywhere else the 1-D tensor would broadcast differently, so it is refused.
bool onnx_lowering::single_output_at_end(const onnx::NodeProto& n, node x) const {
    return x.shape().rows == 1 && graph_.output(0).name() == n.output(0);
}

void onnx_lowering::squeeze(const onnx::NodeProto& n) {
    node x = computed(n, 0, true);
    std::vector<std::int64_t> axes;
    for (const auto& a : n.attribute())
        if (a.name() == "axes") axes.assign(a.ints().begin(), a.ints().end());  // opset < 13
    if (n.input_size() > 1 && !n.input(1).empty()) {                          // opset 13: a constant input
        auto t = constants_.find(n.input(1));
        if (t == constants_.end()) fail(n, "axes '" + n.input(1) + "' are computed; symcheck reads constant axes");
        axes = int_values(*t->second, model_.source + ": " + node_label(n) + ": axes '" + n.input(1) + "'");
    }
    const bool feature_axis = axes.empty() || axes == std::vector<std::int64_t>{1} || axes == std::vector<std::int64_t>{-1};
    if (!feature_axis || !single_output_at_end(n, x))
        fail(n, "symcheck reads Squeeze only of axis 1 of a (batch, 1) output, as the graph's output");
    identity(n);
}

void onnx_lowering::constant_node(const onnx::NodeProto& n) {
    if (n.attribute_size() != 1) fail(n, "has " + std::to_string(n.attribute_size()) + " attributes; a Constant has one");
    const onnx::AttributeProto& a = n.attribute(0);
    const std::string& out = n.output(0);
    if (computed_here(out) || constants_.count(out)) fail(n, "output '" + out + "' is defined twice");
    using type = onnx::AttributeProto;
    static const std::map<std::string, type::AttributeType> types = {
        {"value", type::TENSOR}, {"value_float", type::FLOAT}, {"value_floats", type::FLOATS},
        {"value_int", type::INT}, {"value_ints", type::INTS}};
    auto expected = types.find(a.name());
    if (expected == types.end()) fail(n, "holds a '" + a.name() + "'; symcheck reads Constant tensors of numbers");
    if (a.type() != expected->second)
        fail(n, "attribute '" + a.name() + "' is " + type::AttributeType_Name(a.type()) + ", not " +
                    type::AttributeType_Name(expected->second));
    if (a.name() == "value") {
        constants_[out] = &a.t();
        return;
    }
    onnx::TensorProto& t = made_.emplace_back();
    if (a.name() == "value_float" || a.name() == "value_floats") {
        t.set_data_type(onnx::TensorProto::FLOAT);
        if (a.name() == "value_float") t.add_float_data(a.f());
        else t.add_dims(a.floats_size()), t.mutable_float_data()->CopyFrom(a.floats());
    } else {
        t.set_data_type(onnx::TensorProto::INT64);
        if (a.name() == "value_int") t.add_int64_data(a.i());
        else t.add_dims(a.ints_size()), t.mutable_int64_data()->CopyFrom(a.ints());
    }
    constants_[out] = &t;
}

void onnx_lowering::lower(const onnx::NodeProto& n) {
    static const std::map<std::string, handler> handlers = {
        {"Gemm", &onnx_lowering::gemm},         {"MatMul", &onnx_lowering::matmul_node},
        {"Add", &onnx_lowering::arithmetic},    {"Sub", &onnx_lowering::arithmetic},
        {"Mul", &onnx_lowering::arithmetic},    {"Tanh", &onnx_lowering::activation},
        {"Sigmoid", &onnx_lowering::activation}, {"Relu", &onnx_lowering::activation},
        {"LeakyRelu", &onnx_lowering::activation}, {"Softmax", &onnx_lowering::head},
        {"LogSoftmax", &onnx_lowering::head},   {"Flatten", &onnx_lowering::flatten},
        {"Identity", &onnx_lowering::identity}, {"Reshape", &onnx_lowering::reshape},
        {"Cast", &onnx_lowering::cast},         {"Constant", &onnx_lowering::constant_node},
        {"Squeeze", &onnx_lowering::squeeze}};
    auto it = handlers.find(n.op_type());
    if (it == handlers.end() || (!n.domain().empty() && n.domain() != "ai.onnx"))
        throw input_error(model_.source + ": " + node_label(n) + " is not supported; symcheck reads: " + supported_ops_list() +
                          unsupported_hint(n.op_type()));
    if (n.output_size() != 1 || n.output(0).empty())
        fail(n, "has " + std::to_string(n.output_size()) + " outputs; symcheck reads nodes with one");
    (this->*(it->second))(n);
}

bool is_weight_product(const graph& g, node m) {
    const op* o = g.operation(m);
    return o && o->kind() == op_kinds::matmul && g.operands(m)[0].kind() == node_kind::parameter;
}

// The dense layer ending in z: add(matmul(W, input), b) in either order, or matmul(W, input).
bool dense_layer(const graph& g, node z, node& W, node& b, node& input) {
    const op* o = g.operation(z);
    b = node{};
    if (o && o->kind() == op_kinds::add) {
        auto ops = g.operands(z);
        const int m = is_weight_product(g, ops[0]) ? 0 : is_weight_product(g, ops[1]) ? 1 : -1;
        if (m < 0 || ops[1 - m].kind() != node_kind::parameter) return false;
        b = ops[1 - m];
        z = ops[m];
    }
    if (!is_weight_product(g, z)) return false;
    W = g.operands(z)[0];
    input = g.operands(z)[1];
    return true;
}

// mlp's W and b lists when the network is a plain chain X -> dense -> act -> ... -> dense (logits).
void fill_chain(mlp& net) {
    std::vector<node> W, b;
    bool every_bias = true;
    for (node z = net.logits;;) {
        node w, bias, input;
        if (!dense_layer(net.g, z, w, bias, input)) return;
        W.insert(W.begin(), w);
        if (bias.valid()) b.insert(b.begin(), bias);
        every_bias = every_bias && bias.valid();
        if (input == net.X) break;
        const op* act = net.g.operation(input);
        const std::string kind = act ? std::string(act->kind()) : std::string();
        if (kind != op_kinds::tanh && kind != op_kinds::sigmoid && kind != op_kinds::relu && kind != "leaky_relu") return;
        if (net.g.consumers(input).size() != 1) return;
        z = net.g.operands(input)[0];
    }
    net.W = W;
    if (every_bias) net.b = b;
}

mlp onnx_lowering::run() {
    if (samples_ == 0) throw input_error(model_.source + ": the network needs at least one sample, got 0");
    const onnx::ValueInfoProto& in = data_input(graph_);
    const auto features = std::size_t(in.type().tensor_type().shape().dim(1).dim_value());
    net_.X = net_.g.input(in.name(), {features, samples_});
    tensors_[in.name()] = net_.X;
    for (const auto& n : graph_.node()) lower(n);
    const std::string& out = graph_.output(0).name();
    auto it = tensors_.find(out);
    if (it == tensors_.end())
        throw input_error(model_.source + ": the output '" + out + "' is not computed from the input '" + in.name() + "'");
    net_.logits = it->second;
    fill_chain(net_);
    return std::move(net_);
}

// Engine errors (a name used twice) are the file's fault here: one line naming it.
template <typename F>
auto naming_the_file(const model_file& model, F&& f) {
    try {
        return f();
    } catch (const graph_error& e) {
        throw input_error(model.source + ": " + e.what());
    }
}

}  // namespace

mlp build_onnx_logits(const model_file& model, std::size_t samples) {
    return naming_the_file(model, [&] { return onnx_lowering(model, samples).run(); });
}

mlp build_onnx_network(const model_file& model, std::size_t samples) {
    mlp net = build_onnx_logits(model, samples);
    naming_the_file(model, [&] { attach_loss(net); return 0; });
    return net;
}

namespace onnx_detail {

std::map<std::string, std::size_t> tensor_features(const model_file& model) {
    return naming_the_file(model, [&] {
        onnx_lowering lowering(model, check_samples(document_of(model).graph()));
        mlp net = lowering.run();
        std::map<std::string, std::size_t> features;
        for (const auto& [name, v] : lowering.tensors()) features[name] = v.shape().rows;
        return features;
    });
}

}  // namespace onnx_detail

}  // namespace symgrad::model_formats
