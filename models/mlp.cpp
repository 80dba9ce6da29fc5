// build_mlp: the article's fully connected networks as an ordinary graph of engine ops.
#include "models/mlp.hpp"

#include <cmath>
#include <utility>

#include "engine/collective.hpp"
#include "engine/error.hpp"
#include "ops/ops.hpp"

namespace symgrad {

activation parse_activation(const std::string& name) {
    if (name == "tanh") return activation::tanh;
    if (name == "sigmoid") return activation::sigmoid;
    if (name == "relu") return activation::relu;
    throw input_error("activation '" + name + "': unknown (choices: tanh, sigmoid, relu)");
}

const char* to_string(activation a) {
    switch (a) {
        case activation::tanh: return "tanh";
        case activation::sigmoid: return "sigmoid";
        case activation::relu: return "relu";
    }
    return "?";
}

node activate(activation a, node z, const std::string& name) {
    switch (a) {
        case activation::tanh: return tanh(z, name);
        case activation::sigmoid: return sigmoid(z, name);
        case activation::relu: return relu(z, name);
    }
    throw input_error("build_mlp: unknown activation");
}

mlp build_mlp(const mlp_spec& spec, std::size_t samples) {
    if (spec.inputs == 0) throw input_error("build_mlp: the network needs at least one input feature, got 0");
    if (samples == 0) throw input_error("build_mlp: the data needs at least one sample, got 0");
    for (std::size_t l = 0; l < spec.hidden.size(); ++l)
        if (spec.hidden[l] == 0)
            throw input_error("build_mlp: hidden layer " + std::to_string(l + 1) + " has width 0");
    if (spec.outputs == 0) throw input_error("build_mlp: the network needs at least one output row, got 0");

    mlp m;
    m.X = m.g.input("X", {spec.inputs, samples});
    m.Y = m.g.input("Y", {spec.outputs, samples});
    std::vector<std::size_t> widths = spec.hidden;
    widths.push_back(spec.outputs);
    node A = m.X;
    std::size_t previous = spec.inputs;
    for (std::size_t l = 1; l <= widths.size(); ++l) {
        std::string k = std::to_string(l);
        node W = m.g.parameter("W" + k, {widths[l - 1], previous});
        node b = m.g.parameter("b" + k, {widths[l - 1], 1});
        // Z_l = W_l A_{l-1} + b_l, then the activation: the pattern symcheck finds hidden layers by.
        node Z = add(matmul(W, A, l == 1 ? "W1X" : "W" + k + "A" + std::to_string(l - 1)), b, "Z" + k);
        m.W.push_back(W);
        m.b.push_back(b);
        previous = widths[l - 1];
        if (l == widths.size()) {
            m.logits = Z;
            attach_loss(m);
        } else {
            A = activate(spec.hidden_activation, Z, "A" + k);
        }
    }
    return m;
}

void attach_loss(mlp& net) {
    const shape2 logits = net.logits.shape();
    if (!net.Y.valid()) net.Y = net.g.input("Y", logits);
    if (net.Y.shape() != logits)
        throw input_error("attach_loss: labels Y " + to_string(net.Y.shape()) + " do not fit logits " +
                          net.logits.name() + " " + to_string(logits));
    // The loss reads the logits, so dJ/dZ_L = (A_L - Y)/N even where the output rounds to 0 or 1
    // (PyTorch's BCEWithLogitsLoss and CrossEntropyLoss); the output only reports the probabilities and is
    // off the loss path.
    const std::string output = "A" + std::to_string(net.W.empty() ? 1 : net.W.size());
    if (logits.rows == 1) {
        net.output = sigmoid(net.logits, output);
        net.loss = bce_with_logits(net.logits, net.Y, "J");
    } else {
        net.output = softmax(net.logits, output);
        net.loss = softmax_cross_entropy(net.logits, net.Y, "J");
    }
}

tensor labels_for_head(const tensor& Y, std::size_t outputs) {
    if (Y.shape()[0] == outputs) return Y;
    if (Y.shape()[0] != 1 || outputs != 2)
        throw input_error("labels: a head of " + std::to_string(outputs) + " output rows cannot read labels " +
                          to_string(shape_of(Y)) + " (needs " + to_string({outputs, Y.shape()[1]}) + ")");
    tensor two = tensor::from_shape({2, Y.shape()[1]});
    for (std::size_t j = 0; j < Y.shape()[1]; ++j) {
        two(0, j) = 1.0 - Y(0, j);
        two(1, j) = Y(0, j);
    }
    return two;
}

namespace {

// The row of column j's largest entry, the first on a tie.
std::size_t argmax_row(const tensor& t, std::size_t j) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < t.shape()[0]; ++i)
        if (t(i, j) > t(best, j)) best = i;
    return best;
}


// Data parallelism (graph::set_data_parallel): X and Y were this process's shard. The whole data's cost is
// the sum of the shards' costs weighted by their share of the samples, as backward() sums it; the accuracy
// counts the right answers of every shard.
void over_every_shard(collective& peers, evaluation& e) {
    double counts[2] = {double(e.samples), std::round(e.accuracy * double(e.samples))};
    peers.sum(counts, 2);
    double cost = e.cost * (double(e.samples) / counts[0]);
    peers.sum(&cost, 1);
    e.cost = cost;
    e.accuracy = counts[1] / counts[0];
    e.samples = std::size_t(counts[0]);
}

}  // namespace

double accuracy(const tensor& probabilities, const tensor& labels) {
    if (shape_of(probabilities) != shape_of(labels) || labels.size() == 0)
        throw input_error("accuracy: needs probabilities and labels of one non-empty shape, got " +
                          to_string(shape_of(probabilities)) + " and " + to_string(shape_of(labels)));
    std::size_t right = 0;
    if (labels.shape()[0] == 1) {
        for (std::size_t k = 0; k < labels.size(); ++k)
            right += (probabilities.data()[k] >= 0.5) == (labels.data()[k] == 1.0);
    } else {
        for (std::size_t j = 0; j < labels.shape()[1]; ++j)
            right += argmax_row(probabilities, j) == argmax_row(labels, j);
    }
    return double(right) / double(labels.shape()[1]);
}

evaluation evaluate(mlp& net, const tensor& X, const tensor& Y) {
    net.g.feed({{net.X, X}, {net.Y, Y}});
    net.g.forward();
    evaluation e;
    e.cost = std::as_const(net.g).value(net.loss)(0, 0);
    e.accuracy = accuracy(std::as_const(net.g).value(net.output), Y);
    e.samples = Y.shape()[1];
    if (collective* peers = net.g.data_parallel()) over_every_shard(*peers, e);
    return e;
}

}  // namespace symgrad
