// Dead and saturated units from the activations, and the frozen units as a greatest fixed point.
#include "analysis/unit_activity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "engine/collective.hpp"
#include "ops/op_kinds.hpp"

namespace symgrad {

namespace {

// The engine's derivative from the output y (ops/activations.cpp); -1 for a kind it does not know.
double derivative(std::string_view kind, double y) {
    if (kind == op_kinds::relu) return y > 0.0 ? 1.0 : 0.0;
    if (kind == op_kinds::tanh) return 1.0 - y * y;
    if (kind == op_kinds::sigmoid) return y * (1.0 - y);
    return -1.0;
}

// Data parallelism: each process measured its shard of the samples; the whole data's maximum derivative is the
// maximum over processes, and a unit outputs 0 everywhere when it does on every shard.
void agree_over_samples(collective& peers, unit_activity& u) {
    const std::size_t n = u.max_derivative.size();
    std::vector<double> both(u.max_derivative);
    for (bool zero : u.output_zero) both.push_back(zero ? 0.0 : 1.0);
    peers.max(both.data(), both.size());
    for (std::size_t i = 0; i < n; ++i) {
        u.max_derivative[i] = both[i];
        u.output_zero[i] = both[n + i] == 0.0;
    }
}

unit_activity measure(const graph& g, const hidden_layer& layer) {
    const tensor& a = g.value(layer.activation);
    std::string_view kind = g.operation(layer.activation)->kind();
    std::size_t n = layer.units(), samples = a.shape()[1];
    unit_activity u;
    u.max_derivative.assign(n, 0.0);
    u.output_zero.assign(n, true);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < samples; ++j) {
            u.max_derivative[i] = std::max(u.max_derivative[i], std::abs(derivative(kind, a(i, j))));
            if (a(i, j) != 0.0) u.output_zero[i] = false;
        }
    if (collective* peers = g.data_parallel()) agree_over_samples(*peers, u);
    if (derivative(kind, 0.0) < 0.0) u.max_derivative.assign(n, -1.0);
    for (double d : u.max_derivative) u.inactive.push_back(d >= 0.0 && d <= std::numeric_limits<double>::epsilon());
    return u;
}

// Zero gradient of the unit's W_in row and bias: the start of the fixed point (weight decay or another
// loss would show up here).
bool incoming_still(const graph& g, const hidden_layer& layer, std::size_t i) {
    const tensor& dw = g.grad(layer.weights_in);
    for (std::size_t j = 0; j < dw.shape()[1]; ++j)
        if (dw(i, j) != 0.0) return false;
    return !layer.bias.valid() || g.grad(layer.bias)(i, 0) == 0.0;
}

constexpr int none = -1;

int layer_of(const std::vector<hidden_layer>& layers, node activation_or_weights, bool by_weights) {
    for (std::size_t k = 0; k < layers.size(); ++k)
        if ((by_weights ? layers[k].weights_in : layers[k].activation) == activation_or_weights) return int(k);
    return none;
}

// Unit i of layer l stays in F: fixed input, and derivative 0 or nothing sent outside F.
bool stays_frozen(const graph& g, const std::vector<hidden_layer>& layers, const std::vector<unit_activity>& u,
                  std::size_t l, std::size_t i) {
    const hidden_layer& layer = layers[l];
    int below = layer_of(layers, layer.input, false);
    bool input_fixed = below == none ? layer.input.kind() == node_kind::input
                                     : std::all_of(u[std::size_t(below)].frozen.begin(), u[std::size_t(below)].frozen.end(),
                                                   [](bool f) { return f; });
    if (!input_fixed) return false;
    if (u[l].max_derivative[i] == 0.0) return true;
    for (node w : layer.weights_out) {
        int above = layer_of(layers, w, true);
        const tensor& W = g.value(w);
        for (std::size_t r = 0; r < W.shape()[0]; ++r) {
            bool into_frozen = above != none && u[std::size_t(above)].frozen[r];
            if (!into_frozen && !(W(r, i) == 0.0 && u[l].output_zero[i])) return false;
        }
    }
    return true;
}

}  // namespace

std::vector<unit_activity> unit_activities(const graph& g, const std::vector<hidden_layer>& layers,
                                           const std::vector<std::vector<bool>>& excluded) {
    std::vector<unit_activity> u;
    for (std::size_t l = 0; l < layers.size(); ++l) {
        u.push_back(measure(g, layers[l]));
        for (std::size_t i = 0; i < layers[l].units(); ++i) {
            bool out = l < excluded.size() && i < excluded[l].size() && excluded[l][i];
            u.back().frozen.push_back(!out && incoming_still(g, layers[l], i));
        }
    }
    for (bool removed = true; removed;) {
        removed = false;
        for (std::size_t l = 0; l < layers.size(); ++l)
            for (std::size_t i = 0; i < layers[l].units(); ++i)
                if (u[l].frozen[i] && !stays_frozen(g, layers, u, l, i)) {
                    u[l].frozen[i] = false;
                    removed = true;
                }
    }
    return u;
}

}  // namespace symgrad
