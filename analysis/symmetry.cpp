// analyse_symmetry: runs the passes, measures each hidden layer (classes, transient groups, zeros) and decides.
#include "analysis/symmetry.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/equitable_partition.hpp"
#include "engine/error.hpp"

namespace symgrad {

namespace {

double max_abs(const tensor& t) {
    double m = 0.0;
    for (std::size_t k = 0; k < t.size(); ++k) m = std::max(m, std::abs(t.data()[k]));
    return m;
}

bool all_zero(const tensor& t) {
    for (std::size_t k = 0; k < t.size(); ++k)
        if (t.data()[k] != 0.0) return false;
    return true;
}

// "W1 (4x7) value" holding NaN/Inf: no verdict may be computed from it.
void require_finite(const tensor& t, const std::string& what, const node& n) {
    if (auto k = first_non_finite(t)) {
        std::size_t cols = t.shape()[1];
        throw anomaly_error("analyse_symmetry: " + what + " of '" + n.name() + "' " + to_string(n.shape()) + " holds " +
                            (std::isnan(t.data()[*k]) ? "NaN" : "Inf") + " at (" + std::to_string(*k / cols) + ", " +
                            std::to_string(*k % cols) + "); no verdict is computed from non-finite numbers");
    }
}

// The slices one layer's units are compared on: values, then gradients, of W_in rows, b rows, W_out columns.
std::vector<unit_slice> layer_slices(const graph& g, const hidden_layer& layer, const symmetry_options& options,
                                     bool incoming_only) {
    std::vector<unit_slice> slices;
    auto add = [&](const tensor& t, unit_slice::axis axis) {
        slices.push_back({&t, axis, options.exact ? 0.0 : options.relative_tolerance * max_abs(t)});
    };
    for (bool gradients : {false, true}) {
        if (gradients && incoming_only) break;
        auto of = [&](node n) -> const tensor& { return gradients ? g.grad(n) : g.value(n); };
        add(of(layer.weights_in), unit_slice::axis::row);
        if (layer.bias.valid()) add(of(layer.bias), unit_slice::axis::row);
        if (incoming_only) continue;
        for (node w : layer.weights_out) add(of(w), unit_slice::axis::column);
    }
    return slices;
}

// Largest difference inside any class in any compared key (relative to its tensor's largest |element|).
double class_spread(const layer_partition& p) {
    double spread = 0.0;
    for (const auto& c : p.spread)
        for (double d : c) spread = std::max(spread, d);
    return spread;
}

// Incoming-equal units that the full comparison split: they share W_in row and bias only.
std::vector<std::vector<std::size_t>> transient_groups(const graph& g, const hidden_layer& layer,
                                                       const symmetry_options& options,
                                                       const std::vector<std::vector<std::size_t>>& classes) {
    std::vector<std::size_t> class_of(layer.units());
    for (std::size_t k = 0; k < classes.size(); ++k)
        for (std::size_t u : classes[k]) class_of[u] = k;
    std::vector<std::vector<std::size_t>> groups;
    for (auto& group : group_units(layer.units(), layer_slices(g, layer, options, true))) {
        bool mixed = std::any_of(group.begin(), group.end(), [&](std::size_t u) { return class_of[u] != class_of[group[0]]; });
        if (mixed) groups.push_back(std::move(group));
    }
    return groups;
}

// What decide() needs to know of a measured layer, beyond what the report already holds.
layer_facts facts_of(const graph& g, const hidden_layer& layer, const layer_report& r) {
    layer_facts f;
    f.activation_kind = r.activation_kind;
    f.units = r.units;
    f.effective_width = r.effective_width;
    f.parameters = r.parameters;
    for (node w : layer.weights_out) f.weights_out.push_back(w.name());
    f.moving_parameters = r.moving_parameters;
    f.transient_groups = r.transient_groups;
    f.output_zero = r.output_zero;
    f.weights_out_zero = std::all_of(layer.weights_out.begin(), layer.weights_out.end(),
                                     [&](node w) { return all_zero(g.value(w)); });
    f.weights_in_zero = all_zero(g.value(layer.weights_in));
    f.input_is_data = layer.input.kind() == node_kind::input;
    return f;
}

layer_report analyse_layer(const graph& g, const hidden_layer& layer, const layer_partition& part,
                           const symmetry_options& options) {
    layer_report r;
    r.name = layer.name;
    r.activation = layer.activation.name();
    r.activation_kind = std::string(g.operation(layer.activation)->kind());
    r.units = layer.units();
    for (node p : layer.parameters()) {
        r.parameters.push_back(p.name());
        if (!all_zero(g.grad(p))) r.moving_parameters.push_back(p.name());
    }
    r.classes = part.classes;
    r.effective_width = r.classes.size();
    r.class_spread = class_spread(part);
    r.transient_groups = transient_groups(g, layer, options, r.classes);
    r.output_zero = all_zero(g.value(layer.activation));

    decision d = decide(facts_of(g, layer, r));
    r.verdict = d.verdict;
    r.why = std::move(d.why);
    r.fix = std::move(d.fix);
    return r;
}

}  // namespace

void check_relative_tolerance(double tolerance, const std::string& where) {
    if (!std::isfinite(tolerance) || tolerance < 0.0) throw input_error(where + ": must be a finite number >= 0");
}

symmetry_report analyse_symmetry(graph& g, node loss, const symmetry_options& options) {
    check_relative_tolerance(options.relative_tolerance, "analyse_symmetry: relative_tolerance");
    symmetry_report report;
    report.relative_tolerance = options.exact ? 0.0 : options.relative_tolerance;
    report.exact = options.exact;

    auto layers = find_hidden_layers(g, options.activations, &report.notes);
    for (const auto& layer : layers) g.retain(layer.activation);
    g.forward();
    g.backward(loss);

    // Values first: a NaN parameter spreads into every gradient, and the report should name where it started.
    for (node p : g.parameters()) require_finite(g.value(p), "the value", p);
    for (const auto& layer : layers) require_finite(g.value(layer.activation), "the value", layer.activation);
    for (node p : g.parameters()) {
        require_finite(g.grad(p), "the gradient", p);
        (all_zero(g.grad(p)) ? report.still_parameters : report.moving_parameters).push_back(p.name());
    }

    auto parts = equitable_partition(g, layers, {options.relative_tolerance, options.exact});
    model_facts model;
    model.moving_parameters = report.moving_parameters;
    for (std::size_t k = 0; k < layers.size(); ++k) {
        report.layers.push_back(analyse_layer(g, layers[k], parts[k], options));
        const layer_report& l = report.layers.back();
        model.layers.push_back({l.name, l.units, l.effective_width, {l.verdict, l.why, l.fix}});
    }
    decision d = decide(model);
    report.verdict = d.verdict;
    report.why = std::move(d.why);
    report.fix = std::move(d.fix);
    return report;
}

}  // namespace symgrad
