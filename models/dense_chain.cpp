// The dense chain of a weight file (.npz, .safetensors): W_l A_{l-1} + b_l, the hidden activation between.
#include <string>

#include "engine/error.hpp"
#include "models/model_formats.hpp"
#include "ops/ops.hpp"

namespace symgrad::model_formats {

namespace {

const tensor& entry(const model_file& model, const std::string& name) {
    auto it = model.parameters.find(name);
    if (it == model.parameters.end()) throw input_error(model.source + ": no entry '" + name + "'");
    return it->second;
}

// Each layer's weights must take the previous layer's width, and its bias must have one row per unit.
void check_chain(const model_file& model) {
    if (model.layers.empty()) throw input_error(model.source + ": holds no dense layer");
    std::size_t previous = entry(model, model.layers.front().first).shape()[1];
    for (const auto& [w, b] : model.layers) {
        const tensor& W = entry(model, w);
        if (W.shape()[1] != previous)
            throw input_error(model.source + ": '" + w + "' is " + to_string(shape_of(W)) + " but the layer before gives " +
                              std::to_string(previous) + " inputs (weights are units x fan_in, as PyTorch's Linear)");
        if (!b.empty() && shape_of(entry(model, b)) != shape2{W.shape()[0], 1})
            throw input_error(model.source + ": bias '" + b + "' is " + to_string(shape_of(entry(model, b))) +
                              " for " + std::to_string(W.shape()[0]) + " units of '" + w + "'");
        previous = W.shape()[0];
    }
}

}  // namespace

mlp build_chain_network(const model_file& model, std::size_t samples) {
    check_chain(model);
    mlp net;
    net.X = net.g.input("X", {entry(model, model.layers.front().first).shape()[1], samples});
    node A = net.X;
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        const auto& [w, b] = model.layers[l];
        const std::string k = std::to_string(l + 1);
        node W = net.g.parameter(w, shape_of(entry(model, w)));
        net.g.value(W) = entry(model, w);
        net.W.push_back(W);
        node Z = matmul(W, A, "W" + k + "A" + std::to_string(l));
        if (!b.empty()) {
            node bias = net.g.parameter(b, shape_of(entry(model, b)));
            net.g.value(bias) = entry(model, b);
            net.b.push_back(bias);
            Z = add(Z, bias, "Z" + k);
        }
        if (l + 1 < model.layers.size()) A = activate(model.hidden_activation, Z, "A" + k);
        else net.logits = Z;
    }
    attach_loss(net);
    return net;
}

}  // namespace symgrad::model_formats
