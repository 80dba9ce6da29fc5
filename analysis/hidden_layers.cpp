// Finds hidden layers in any graph from its structure: act(matmul(W_in, ·) + b) feeding matmul(W_out, ·).
#include <algorithm>
#include <optional>
#include <string_view>

#include "analysis/hidden_layers.hpp"
#include "ops/op_kinds.hpp"

namespace symgrad {

std::vector<std::string> default_hidden_activations() {
    return {std::string(op_kinds::tanh), std::string(op_kinds::sigmoid), std::string(op_kinds::relu)};
}

std::vector<node> hidden_layer::parameters() const {
    std::vector<node> p{weights_in};
    if (bias.valid()) p.push_back(bias);
    p.insert(p.end(), weights_out.begin(), weights_out.end());
    return p;
}

namespace {

std::string_view kind_of(const graph& g, node n) {
    const op* o = g.operation(n);
    return o ? o->kind() : std::string_view{};
}

// matmul(W, x) with W a parameter: returns W.
std::optional<node> weight_of_matmul(const graph& g, node m) {
    if (kind_of(g, m) != op_kinds::matmul) return std::nullopt;
    node w = g.operands(m)[0];
    if (w.kind() != node_kind::parameter) return std::nullopt;
    return w;
}

// Fills the input side of a layer from the activation's operand; false when it does not match.
bool match_input_side(const graph& g, node z, hidden_layer& layer) {
    if (kind_of(g, z) == op_kinds::matmul) {  // a layer without bias
        auto w = weight_of_matmul(g, z);
        if (!w) return false;
        layer.weights_in = *w;
        layer.input = g.operands(z)[1];
        return true;
    }
    if (kind_of(g, z) != op_kinds::add) return false;
    auto ops = g.operands(z);
    for (int swap = 0; swap < 2; ++swap) {  // add(matmul, b) or add(b, matmul)
        node m = ops[swap], b = ops[1 - swap];
        auto w = weight_of_matmul(g, m);
        if (!w || b.kind() != node_kind::parameter) continue;
        if (b.shape() != shape2{w->shape().rows, 1}) continue;
        layer.weights_in = *w;
        layer.bias = b;
        layer.input = g.operands(m)[1];
        return true;
    }
    return false;
}

}  // namespace

std::vector<hidden_layer> find_hidden_layers(const graph& g, const std::vector<std::string>& activations,
                                             std::vector<std::string>* skipped) {
    std::vector<hidden_layer> layers;
    for (node a : g.nodes()) {
        std::string_view kind = kind_of(g, a);
        if (kind.empty() || std::find(activations.begin(), activations.end(), kind) == activations.end()) continue;
        auto operands = g.operands(a);
        if (operands.size() != 1) continue;
        hidden_layer layer;
        layer.activation = a;
        if (!match_input_side(g, operands[0], layer)) continue;

        std::vector<std::string> others;  // consumers that are not matmul(W_out, A)
        for (node c : g.consumers(a)) {
            auto w = weight_of_matmul(g, c);
            if (w && g.operands(c)[1] == a)
                layer.weights_out.push_back(*w);
            else
                others.push_back(c.name() + " (" + g.kind_name(c) + ")");
        }
        if (layer.weights_out.empty()) continue;  // e.g. the output layer, consumed by the loss
        std::sort(layer.weights_out.begin(), layer.weights_out.end(), [](node x, node y) { return x.id() < y.id(); });
        if (!others.empty()) {
            if (skipped) {
                std::string line = "'" + a.name() + "' (" + std::string(kind) + ") looks like a hidden layer but also feeds";
                for (std::size_t i = 0; i < others.size(); ++i) line += (i ? ", " : " ") + others[i];
                skipped->push_back(line + "; not analysed, since its units' fate depends on that use too");
            }
            continue;
        }
        layers.push_back(std::move(layer));
    }
    for (std::size_t l = 0; l < layers.size(); ++l) {
        auto& layer = layers[l];
        std::string parts;
        for (node p : layer.parameters()) parts += (parts.empty() ? "" : ", ") + p.name();
        layer.name = "hidden layer " + std::to_string(l + 1) + " (" + layer.activation.name() + ": " + parts + ")";
    }
    return layers;
}

}  // namespace symgrad
