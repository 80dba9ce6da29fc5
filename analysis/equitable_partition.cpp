// Colour refinement over all hidden layers: the coarsest partition whose classes training provably keeps.
#include "analysis/equitable_partition.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "analysis/unit_grouping.hpp"
#include "ops/op_kinds.hpp"

namespace symgrad {

namespace {

constexpr int none = -1;

// Who sits next to each layer: the hidden layer its W_in reads (none: data) and, per W_out, the hidden
// layer whose W_in it is (none: an output or other non-hidden consumer, whose units are singletons).
struct neighbours {
    int below = none;
    std::vector<int> above;
};

std::vector<neighbours> neighbours_of(const std::vector<hidden_layer>& layers) {
    std::vector<neighbours> n(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
        for (std::size_t k = 0; k < layers.size(); ++k)
            if (layers[l].input == layers[k].activation) n[l].below = int(k);
        for (node w : layers[l].weights_out) {
            int above = none;
            for (std::size_t k = 0; k < layers.size(); ++k)
                if (w == layers[k].weights_in) above = int(k);
            n[l].above.push_back(above);
        }
    }
    return n;
}

// One compared tensor in sign-normalised form, with the tolerance of the tensor it came from. `values` is
// the graph's own tensor when nothing is flipped or averaged (no copy: the analysis runs while training
// holds its buffers, and the peak memory counts), else a computed one.
struct signed_tensor {
    std::shared_ptr<const tensor> values;
    double tolerance = 0.0;
    std::string name;    // "W1", or "dW1" for its gradient
    double scale = 0.0;  // the largest |element| of the tensor it came from
    bool gradient = false;
};

// A layer's parameters and gradients with every unit flipped by its sign (and every neighbour's unit by its).
struct signed_layer {
    std::vector<signed_tensor> incoming;  // W_in value, W_in gradient
    std::vector<signed_tensor> bias;      // b value, b gradient (empty without bias)
    std::vector<std::vector<signed_tensor>> outgoing;  // per W_out: value, gradient
};

// Sets sign[i] (still 0) to the sign of unit i's first number in t beyond t's tolerance. The tolerance is
// computed once per tensor (once per unit made the set-up quadratic in the units).
void first_signs(const tensor& t, bool by_row, const comparison& how, std::vector<int>& sign) {
    double tol = how.exact ? 0.0 : how.relative_tolerance * max_abs(t);
    std::size_t units = sign.size(), elements = by_row ? t.shape()[1] : t.shape()[0];
    // Walk the tensor in memory order; a unit keeps the first number found beyond the tolerance.
    for (std::size_t a = 0; a < (by_row ? units : elements); ++a)
        for (std::size_t b = 0; b < (by_row ? elements : units); ++b) {
            std::size_t i = by_row ? a : b;
            double v = t(a, b);
            if (sign[i] == 0 && std::abs(v) > tol) sign[i] = v < 0 ? -1 : 1;
        }
}

// Per unit +1, or -1 when its first number (bias, W_in row, W_out columns) beyond its tensor's tolerance
// is negative: a unit and its exact mirror get opposite signs, identical units the same one.
std::vector<int> signs_of(const graph& g, const hidden_layer& layer, const comparison& how) {
    std::vector<int> sign(layer.units(), 0);
    if (layer.bias.valid()) first_signs(g.value(layer.bias), true, how, sign);
    first_signs(g.value(layer.weights_in), true, how, sign);
    for (node w : layer.weights_out) first_signs(g.value(w), false, how, sign);
    for (int& s : sign) s = s < 0 ? -1 : 1;
    return sign;
}

bool all_plus(const std::vector<int>& sign) {
    return std::all_of(sign.begin(), sign.end(), [](int x) { return x > 0; });
}

// The graph's tensor itself, not owned.
std::shared_ptr<const tensor> borrowed(const tensor& t) { return {&t, [](const tensor*) {}}; }

// t(r, c) x row_sign[r] x col_sign[c]; an empty sign vector means all +1. Copies only when it flips.
signed_tensor flipped(const tensor& t, const std::vector<int>& row_sign, const std::vector<int>& col_sign,
                      const comparison& how, const std::string& name, bool gradient) {
    double scale = max_abs(t);
    signed_tensor s{borrowed(t), how.exact ? 0.0 : how.relative_tolerance * scale, name, scale, gradient};
    if (all_plus(row_sign) && all_plus(col_sign)) return s;
    auto copy = std::make_shared<tensor>(t);
    for (std::size_t r = 0; r < t.shape()[0]; ++r)
        for (std::size_t c = 0; c < t.shape()[1]; ++c)
            (*copy)(r, c) *= (row_sign.empty() ? 1 : row_sign[r]) * (col_sign.empty() ? 1 : col_sign[c]);
    s.values = std::move(copy);
    return s;
}

std::vector<signed_layer> signed_layers(const graph& g, const std::vector<hidden_layer>& layers,
                                        const std::vector<neighbours>& next, const std::vector<layer_partition>& parts,
                                        const comparison& how) {
    static const std::vector<int> plus;
    auto signs = [&](int l) -> const std::vector<int>& { return l == none ? plus : parts[std::size_t(l)].sign; };
    std::vector<signed_layer> out(layers.size());
    // W_out of one layer is W_in of the next, flipped alike in both views: flip it once.
    std::map<std::pair<std::size_t, bool>, signed_tensor> done;
    auto once = [&](node n, bool grad, const std::vector<int>& rows, const std::vector<int>& cols) {
        auto key = std::make_pair(n.id(), grad);
        auto it = done.find(key);
        if (it == done.end())
            it = done.emplace(key, flipped(grad ? g.grad(n) : g.value(n), rows, cols, how, (grad ? "d" : "") + n.name(), grad)).first;
        return it->second;
    };
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const hidden_layer& layer = layers[l];
        const auto& own = parts[l].sign;
        for (bool grad : {false, true}) {
            out[l].incoming.push_back(once(layer.weights_in, grad, own, signs(next[l].below)));
            if (layer.bias.valid()) out[l].bias.push_back(once(layer.bias, grad, own, {}));
        }
        for (std::size_t w = 0; w < layer.weights_out.size(); ++w) {
            out[l].outgoing.emplace_back();
            for (bool grad : {false, true}) {
                out[l].outgoing.back().push_back(once(layer.weights_out[w], grad, signs(next[l].above[w]), own));
            }
        }
    }
    return out;
}

// Means of t over the classes of one axis (by_row: over column classes of each row; else over row classes
// of each column). Equal sums over a class are equal means, and a mean keeps the elements' tolerance.
// The same tensor when every class is one unit (classes are ordered by first unit, so class k is unit k).
std::shared_ptr<const tensor> class_means(const std::shared_ptr<const tensor>& values, const layer_partition* classes,
                                          bool over_columns) {
    if (!classes || classes->classes.size() == classes->class_of.size()) return values;
    const tensor& t = *values;
    std::size_t k = classes->classes.size();
    tensor m = over_columns ? tensor::from_shape({t.shape()[0], k}) : tensor::from_shape({k, t.shape()[1]});
    m.fill(0.0);
    for (std::size_t r = 0; r < t.shape()[0]; ++r)
        for (std::size_t c = 0; c < t.shape()[1]; ++c) {
            if (over_columns)
                m(r, classes->class_of[c]) += t(r, c);
            else
                m(classes->class_of[r], c) += t(r, c);
        }
    for (std::size_t r = 0; r < m.shape()[0]; ++r)
        for (std::size_t c = 0; c < m.shape()[1]; ++c)
            m(r, c) /= double(classes->classes[over_columns ? c : r].size());
    return std::make_shared<const tensor>(std::move(m));
}

// What layer l's units are compared on, each key with the axis its units own: the bias, and the sums
// (as means) of incoming and outgoing weights and gradients over the neighbours' current classes.
struct unit_keys {
    std::vector<signed_tensor> keys;
    std::vector<unit_slice::axis> axes;
};

unit_keys keys_of(const signed_layer& s, const neighbours& next, const std::vector<layer_partition>& parts) {
    auto part = [&](int k) { return k == none ? nullptr : &parts[std::size_t(k)]; };
    unit_keys u;
    auto key = [&](std::shared_ptr<const tensor> t, const signed_tensor& from, unit_slice::axis axis) {
        u.keys.push_back({std::move(t), from.tolerance, from.name, from.scale, from.gradient});
        u.axes.push_back(axis);
    };
    for (const auto& b : s.bias) key(b.values, b, unit_slice::axis::row);
    for (const auto& w : s.incoming) key(class_means(w.values, part(next.below), true), w, unit_slice::axis::row);
    for (std::size_t w = 0; w < s.outgoing.size(); ++w)
        for (const auto& t : s.outgoing[w]) key(class_means(t.values, part(next.above[w]), false), t, unit_slice::axis::column);
    return u;
}

// One refinement of layer l: its units regrouped on its current class (so classes only split) and its
// keys. Returns true when it split.
bool refine(std::size_t l, const signed_layer& s, const neighbours& next, std::vector<layer_partition>& parts) {
    layer_partition& p = parts[l];
    std::size_t n = p.class_of.size();
    unit_keys u = keys_of(s, next, parts);
    tensor id = tensor::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) id(i, 0) = double(p.class_of[i]);
    std::vector<unit_slice> slices{{&id, unit_slice::axis::row, 0.0}};
    for (std::size_t k = 0; k < u.keys.size(); ++k) slices.push_back({u.keys[k].values.get(), u.axes[k], u.keys[k].tolerance});
    auto classes = group_units(n, slices);
    if (classes.size() == p.classes.size()) return false;
    p.classes = std::move(classes);
    for (std::size_t c = 0; c < p.classes.size(); ++c)
        for (std::size_t unit : p.classes[c]) p.class_of[unit] = c;
    return true;
}

// Largest |key(unit) - key(first unit)| inside each class, relative to the key's tensor's largest |element|.
void spreads_of(const signed_layer& s, const neighbours& next, std::vector<layer_partition>& parts, std::size_t l) {
    unit_keys u = keys_of(s, next, parts);
    layer_partition& p = parts[l];
    p.keys.clear();
    p.key_is_gradient.clear();
    p.spread.assign(p.classes.size(), std::vector<double>(u.keys.size(), 0.0));
    for (std::size_t k = 0; k < u.keys.size(); ++k) {
        const tensor& t = *u.keys[k].values;
        p.keys.push_back(u.keys[k].name);
        p.key_is_gradient.push_back(u.keys[k].gradient);
        double scale = u.keys[k].scale;
        if (scale == 0.0) continue;
        bool by_row = u.axes[k] == unit_slice::axis::row;
        std::size_t elements = by_row ? t.shape()[1] : t.shape()[0];
        for (std::size_t c = 0; c < p.classes.size(); ++c)
            for (std::size_t m = 1; m < p.classes[c].size(); ++m)
                for (std::size_t e = 0; e < elements; ++e) {
                    std::size_t a = p.classes[c][0], b = p.classes[c][m];
                    double d = by_row ? t(a, e) - t(b, e) : t(e, a) - t(e, b);
                    p.spread[c][k] = std::max(p.spread[c][k], std::abs(d) / scale);
                }
    }
}

}  // namespace

std::vector<layer_partition> equitable_partition(const graph& g, const std::vector<hidden_layer>& layers,
                                                 const comparison& how, bool mirrors) {
    std::vector<layer_partition> parts(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
        std::size_t n = layers[l].units();
        bool odd = mirrors && std::string(g.operation(layers[l].activation)->kind()) == op_kinds::tanh;
        parts[l].class_of.assign(n, 0);
        parts[l].sign = odd ? signs_of(g, layers[l], how) : std::vector<int>(n, 1);
        parts[l].classes.assign(n ? 1 : 0, {});
        for (std::size_t i = 0; i < n; ++i) parts[l].classes[0].push_back(i);
    }
    auto next = neighbours_of(layers);
    auto flipped_layers = signed_layers(g, layers, next, parts, how);
    for (bool split = true; split;) {
        split = false;
        for (std::size_t l = 0; l < layers.size(); ++l) split = refine(l, flipped_layers[l], next[l], parts) || split;
    }
    for (std::size_t l = 0; l < layers.size(); ++l) spreads_of(flipped_layers[l], next[l], parts, l);
    // Signs relative to each class's first unit: flipping a whole class changes no spread, and -1 then
    // marks exactly the mirrors.
    for (auto& p : parts)
        for (const auto& c : p.classes) {
            int first = p.sign[c[0]];
            for (std::size_t u : c) p.sign[u] *= first;
        }
    return parts;
}

void measure_spreads(const graph& g, const std::vector<hidden_layer>& layers, std::vector<layer_partition>& parts,
                     const comparison& how) {
    auto next = neighbours_of(layers);
    auto flipped_layers = signed_layers(g, layers, next, parts, how);
    for (std::size_t l = 0; l < layers.size(); ++l) spreads_of(flipped_layers[l], next[l], parts, l);
}

double layer_partition::value_spread(std::size_t cls) const {
    double s = 0.0;
    for (std::size_t k = 0; k < keys.size(); ++k)
        if (!key_is_gradient[k]) s = std::max(s, spread[cls][k]);
    return s;
}

}  // namespace symgrad
