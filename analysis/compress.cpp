// The lossless smaller model: merges tied units layer by layer from the input side, removes dead and unused ones.
#include "analysis/compress.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/hidden_layers.hpp"
#include "analysis/unit_grouping.hpp"
#include "engine/error.hpp"
#include "ops/op_kinds.hpp"

namespace symgrad {

namespace {

double tolerance_for(const tensor& t, const comparison& how) {
    return how.exact ? 0.0 : how.relative_tolerance * max_abs(t);
}

// One layer's tensors, read from (and written back to) the working parameters by name.
struct layer_tensors {
    tensor* W = nullptr;
    tensor* b = nullptr;  // null: no bias
    std::vector<tensor*> W_out;
};

bool row_is_zero(const tensor& W, std::size_t i) {
    for (std::size_t k = 0; k < W.shape()[1]; ++k)
        if (W(i, k) != 0.0) return false;
    return true;
}

// Output 0 for every input: a zero incoming row with relu at b <= 0, or tanh at b == 0.
bool provably_zero(const layer_tensors& t, const std::string& kind, std::size_t i) {
    if (!row_is_zero(*t.W, i)) return false;
    double b = t.b ? (*t.b)(i, 0) : 0.0;
    if (kind == op_kinds::relu) return b <= 0.0;
    if (kind == op_kinds::tanh) return b == 0.0;
    return false;
}

// +1 or -1 so that the unit's first number (bias first) above the tolerance is positive: a tanh unit and
// its mirror (-w, -b) then look alike.
int canonical_sign(const layer_tensors& t, std::size_t i, double tol_W, double tol_b) {
    if (t.b && std::abs((*t.b)(i, 0)) > tol_b) return (*t.b)(i, 0) > 0 ? 1 : -1;
    for (std::size_t k = 0; k < t.W->shape()[1]; ++k)
        if (std::abs((*t.W)(i, k)) > tol_W) return (*t.W)(i, k) > 0 ? 1 : -1;
    return 1;
}

// Groups the `alive` units by their (sign-flipped) incoming rows and biases; fills classes and signs.
void group_incoming(const layer_tensors& t, const std::vector<std::size_t>& alive, bool mirrors, const comparison& how,
                    layer_compression& out) {
    const double tol_W = tolerance_for(*t.W, how), tol_b = t.b ? tolerance_for(*t.b, how) : 0.0;
    const std::size_t fan_in = t.W->shape()[1];
    tensor W({alive.size(), fan_in}), b({alive.size(), std::size_t(1)});
    std::vector<int> flip(alive.size(), 1);
    for (std::size_t r = 0; r < alive.size(); ++r) {
        if (mirrors) flip[r] = canonical_sign(t, alive[r], tol_W, tol_b);
        for (std::size_t k = 0; k < fan_in; ++k) W(r, k) = flip[r] * (*t.W)(alive[r], k);
        b(r, 0) = t.b ? flip[r] * (*t.b)(alive[r], 0) : 0.0;
    }
    auto groups = group_units(alive.size(), {{&W, unit_slice::axis::row, tol_W}, {&b, unit_slice::axis::row, tol_b}});
    const double scale_W = max_abs(*t.W), scale_b = t.b ? max_abs(*t.b) : 0.0;
    for (const auto& g : groups) {
        std::vector<std::size_t> cls;
        for (std::size_t r : g) {
            cls.push_back(alive[r]);
            out.sign[alive[r]] = flip[r] * flip[g.front()];
            for (std::size_t k = 0; k < fan_in; ++k) {
                double d = std::abs(W(r, k) - W(g.front(), k));
                if (d > 0) out.merge_spread = std::max(out.merge_spread, d / scale_W);
            }
            double d = std::abs(b(r, 0) - b(g.front(), 0));
            if (d > 0) out.merge_spread = std::max(out.merge_spread, d / scale_b);
        }
        out.classes.push_back(std::move(cls));
    }
}

// Column c of each new W_out: the signed sum over class c. Classes whose sums are all (near) zero are
// dropped as unused, unless that would leave no unit.
std::vector<tensor> summed_outgoing(const layer_tensors& t, layer_compression& out, const comparison& how) {
    std::vector<tensor> sums;
    std::vector<bool> used(out.classes.size(), false);
    for (const tensor* V : t.W_out) {
        tensor S = xt::zeros<double>({V->shape()[0], out.classes.size()});
        const double tol = tolerance_for(*V, how);
        for (std::size_t c = 0; c < out.classes.size(); ++c)
            for (std::size_t r = 0; r < V->shape()[0]; ++r) {
                for (std::size_t j : out.classes[c]) S(r, c) += out.sign[j] * (*V)(r, j);
                if (std::abs(S(r, c)) > tol) used[c] = true;
            }
        sums.push_back(std::move(S));
    }
    if (std::none_of(used.begin(), used.end(), [](bool u) { return u; })) {
        for (auto& S : sums) S.fill(0.0);  // every unit unused: one is kept, contributing nothing
        if (!used.empty()) used[0] = true;
    }
    std::vector<std::vector<std::size_t>> kept;
    std::vector<std::size_t> kept_columns;
    for (std::size_t c = 0; c < out.classes.size(); ++c) {
        if (used[c]) {
            kept.push_back(out.classes[c]);
            kept_columns.push_back(c);
        } else {
            out.unused.insert(out.unused.end(), out.classes[c].begin(), out.classes[c].end());
        }
    }
    out.classes = std::move(kept);
    for (auto& S : sums) {
        tensor K({S.shape()[0], kept_columns.size()});
        for (std::size_t r = 0; r < S.shape()[0]; ++r)
            for (std::size_t c = 0; c < kept_columns.size(); ++c) K(r, c) = S(r, kept_columns[c]);
        S = std::move(K);
    }
    std::sort(out.unused.begin(), out.unused.end());
    return sums;
}

tensor kept_rows(const tensor& t, const std::vector<std::vector<std::size_t>>& classes) {
    tensor k({classes.size(), t.shape()[1]});
    for (std::size_t c = 0; c < classes.size(); ++c)
        for (std::size_t j = 0; j < t.shape()[1]; ++j) k(c, j) = t(classes[c].front(), j);
    return k;
}

// A dead unit is still kept when every unit of the layer is dead (the layer keeps one unit).
std::vector<std::size_t> alive_units(const layer_tensors& t, const std::string& kind, layer_compression& out) {
    std::vector<std::size_t> alive;
    for (std::size_t i = 0; i < out.units_before; ++i)
        (provably_zero(t, kind, i) ? out.dead : alive).push_back(i);
    if (alive.empty() && !out.dead.empty()) {
        alive.push_back(out.dead.front());
        out.dead.erase(out.dead.begin());
    }
    return alive;
}

layer_compression compress_layer(const std::string& kind, const std::string& name, layer_tensors t,
                                 const comparison& how) {
    layer_compression out;
    out.name = name;
    out.activation_kind = kind;
    out.units_before = t.W->shape()[0];
    out.sign.assign(out.units_before, 1);
    out.kept_as.assign(out.units_before, -1);
    std::vector<std::size_t> alive = alive_units(t, kind, out);
    group_incoming(t, alive, kind == op_kinds::tanh, how, out);
    out.tied_classes = out.classes;
    std::vector<tensor> sums = summed_outgoing(t, out, how);
    *t.W = kept_rows(*t.W, out.classes);
    if (t.b) *t.b = kept_rows(*t.b, out.classes);
    for (std::size_t k = 0; k < sums.size(); ++k) *t.W_out[k] = std::move(sums[k]);
    out.units_after = out.classes.size();
    for (std::size_t c = 0; c < out.classes.size(); ++c) out.kept_as[out.classes[c].front()] = long(c);
    return out;
}

// The layer's tensors in `params`, or a note saying why the layer cannot be compressed.
bool locate(const graph& g, const hidden_layer& layer, std::map<std::string, tensor>& params, layer_tensors& t,
            layer_compression& names, std::string& why) {
    auto find = [&](node p) -> tensor* {
        auto it = params.find(p.name());
        if (it == params.end()) why = "its parameter '" + p.name() + "' is not one of the file's";
        else if (g.consumers(p).size() != 1) why = "its parameter '" + p.name() + "' is used more than once";
        else return &it->second;
        return nullptr;
    };
    if (!(t.W = find(layer.weights_in))) return false;
    names.weights_in = layer.weights_in.name();
    if (layer.bias.valid()) {
        if (!(t.b = find(layer.bias))) return false;
        names.bias = layer.bias.name();
    }
    for (node v : layer.weights_out) {
        tensor* V = find(v);
        if (!V) return false;
        t.W_out.push_back(V);
        names.weights_out.push_back(v.name());
    }
    return true;
}

}  // namespace

std::size_t parameter_count(const model_file& model) {
    std::size_t n = 0;
    for (const auto& [name, t] : model.parameters) n += t.size();
    return n;
}

compression compress_model(const model_file& model, const comparison& how) {
    compression result;
    result.model = model;
    result.parameters_before = parameter_count(model);
    mlp net = build_network(model, 1);
    std::vector<std::string> skipped;
    const auto layers = find_hidden_layers(net.g, default_hidden_activations(), &skipped);
    for (const auto& s : skipped) result.notes.push_back("not compressed: " + s);
    for (const auto& layer : layers) {
        layer_tensors t;
        layer_compression names;
        std::string why;
        if (!locate(net.g, layer, result.model.parameters, t, names, why)) {
            result.notes.push_back("not compressed: " + layer.name + ", since " + why);
            continue;
        }
        layer_compression c = compress_layer(net.g.kind_name(layer.activation), layer.name, t, how);
        c.weights_in = names.weights_in;
        c.bias = names.bias;
        c.weights_out = names.weights_out;
        if (c.merge_spread > 0.0) result.exact_merges = false;
        result.layers.push_back(std::move(c));
    }
    result.parameters_after = parameter_count(result.model);
    return result;
}

}  // namespace symgrad
