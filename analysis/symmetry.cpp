// analyze_symmetry: runs the passes, measures each hidden layer (classes, transient groups, zeros) and decides.
#include "analysis/symmetry.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "analysis/equitable_partition.hpp"
#include "analysis/unit_activity.hpp"
#include "engine/collective.hpp"
#include "engine/error.hpp"

namespace symgrad {

namespace {

std::string non_finite_message(const std::string& what, const std::string& name, const std::string& shape,
                               const std::string& found, std::size_t row, std::size_t col) {
    return "analyze_symmetry: " + what + " of '" + name + "' " + shape + " holds " + found + " at (" +
           std::to_string(row) + ", " + std::to_string(col) + "); no verdict is computed from non-finite numbers";
}

// "W1 (4x7) value" holding NaN/Inf: no verdict may be computed from it.
void require_finite(const tensor& t, const std::string& what, const node& n) {
    if (auto k = first_non_finite(t)) {
        std::size_t cols = t.shape()[1];
        throw anomaly_error(non_finite_message(what, n.name(), to_string(n.shape()),
                                               std::isnan(t.data()[*k]) ? "NaN" : "Inf", *k / cols, *k % cols));
    }
}

// An activation's values. With data parallelism every process checks its shard (columns are samples) and all
// throw for the first finding by rank, in the whole data's columns, as one process would.
void require_finite_activation(const graph& g, node activation) {
    collective* peers = g.data_parallel();
    const tensor& t = g.value(activation);
    if (!peers) return require_finite(t, "the value", activation);
    const std::size_t cols = t.shape()[1];
    std::string mine = std::to_string(cols);
    if (auto k = first_non_finite(t))
        mine += std::string(std::isnan(t.data()[*k]) ? " NaN " : " Inf ") + std::to_string(*k / cols) + " " +
                std::to_string(*k % cols);
    std::size_t total = 0, offset = 0;
    std::string first;
    for (const auto& shard : peers->all_gather(mine)) {
        if (first.empty()) offset = total;
        if (first.empty() && shard.find(' ') != std::string::npos) first = shard;
        total += std::stoul(shard);
    }
    if (first.empty()) return;
    std::istringstream in(first);
    std::size_t shard_cols = 0, row = 0, col = 0;
    std::string found;
    in >> shard_cols >> found >> row >> col;
    auto shape = activation.shape();
    shape.cols = total;
    throw anomaly_error(non_finite_message("the value", activation.name(), to_string(shape), found, row, offset + col));
}

// Largest difference inside any class in any compared key (relative to its tensor's largest |element|).
double class_spread(const layer_partition& p) {
    double spread = 0.0;
    for (const auto& c : p.spread)
        for (double d : c) spread = std::max(spread, d);
    return spread;
}

// The incoming slices of one layer: W_in rows and b rows, values and (with_gradients) their gradients.
std::vector<unit_slice> incoming_slices(const graph& g, const hidden_layer& layer, const symmetry_options& options,
                                        bool with_gradients) {
    std::vector<unit_slice> slices;
    auto add = [&](const tensor& t) {
        slices.push_back({&t, unit_slice::axis::row, options.exact ? 0.0 : options.relative_tolerance * max_abs(t)});
    };
    for (bool gradients : {false, true}) {
        if (gradients && !with_gradients) break;
        add(gradients ? g.grad(layer.weights_in) : g.value(layer.weights_in));
        if (layer.bias.valid()) add(gradients ? g.grad(layer.bias) : g.value(layer.bias));
    }
    return slices;
}

// Units that share incoming weights and bias now but whose incoming gradients differ: the next update
// can move them apart. Dead units sharing a row have equal (zero) gradients and are not among them.
std::vector<std::vector<std::size_t>> transient_groups(const graph& g, const hidden_layer& layer,
                                                       const symmetry_options& options) {
    auto by_gradient = group_units(layer.units(), incoming_slices(g, layer, options, true));
    std::vector<std::size_t> group_of(layer.units());
    for (std::size_t k = 0; k < by_gradient.size(); ++k)
        for (std::size_t u : by_gradient[k]) group_of[u] = k;
    std::vector<std::vector<std::size_t>> groups;
    for (auto& group : group_units(layer.units(), incoming_slices(g, layer, options, false))) {
        bool split = std::any_of(group.begin(), group.end(), [&](std::size_t u) { return group_of[u] != group_of[group[0]]; });
        if (split) groups.push_back(std::move(group));
    }
    return groups;
}

// Classes holding a unit that is not dead or saturated: the units that can still learn a feature.
std::size_t effective_width(const layer_partition& part, const unit_activity& activity) {
    std::size_t k = 0;
    for (const auto& c : part.classes)
        k += std::any_of(c.begin(), c.end(), [&](std::size_t u) { return !activity.inactive[u]; });
    return k;
}

std::vector<std::size_t> units_where(const std::vector<bool>& flags) {
    std::vector<std::size_t> units;
    for (std::size_t u = 0; u < flags.size(); ++u)
        if (flags[u]) units.push_back(u);
    return units;
}

// The measured layer: classes, signs and their certificate, activity, transient groups (no verdict yet).
layer_report measure_layer(const graph& g, const hidden_layer& layer, const layer_partition& part,
                           const unit_activity& activity, const symmetry_options& options) {
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
    r.signs = part.sign;
    r.class_keys = part.keys;
    r.class_spreads = part.spread;
    r.class_spread = class_spread(part);
    r.max_derivative = activity.max_derivative;
    r.inactive_units = units_where(activity.inactive);
    r.frozen_units = units_where(activity.frozen);
    r.effective_width = effective_width(part, activity);
    r.transient_groups = transient_groups(g, layer, options);
    // Over every shard under data parallelism (unit_activities agreed on each unit's).
    r.output_zero = g.data_parallel() ? std::all_of(activity.output_zero.begin(), activity.output_zero.end(), [](bool z) { return z; })
                                      : all_zero(g.value(layer.activation));
    return r;
}

// What the lookahead adds to a layer's facts: how its ties and transient groups fared.
void lookahead_facts(const layer_report& r, const symmetry_report& report, layer_facts& f) {
    f.lookahead_ran = report.lookahead_ran;
    f.lookahead_steps = report.lookahead_steps;
    f.lookahead_optimizer = report.lookahead_optimizer;
    f.moved_in_lookahead = std::any_of(r.lookahead.moved.begin(), r.lookahead.moved.end(), [](bool m) { return m; });
    for (const auto& c : r.lookahead.classes) {
        bool active = std::find(r.inactive_units.begin(), r.inactive_units.end(), r.classes[c.cls][0]) == r.inactive_units.end();
        if (!c.grows || !active) continue;
        if (f.fragile_classes++ == 0) f.first_fragile = r.classes[c.cls];
        f.fastest_growth = std::max(f.fastest_growth, c.growth_per_100);
        if (f.earliest_separation < 0 || (c.predicted_separation >= 0 && c.predicted_separation < f.earliest_separation))
            f.earliest_separation = c.predicted_separation;
    }
    for (const auto& s : r.lookahead.groups) f.transient_separated_at.push_back(s.separated_at);
}

// What decide() needs to know of a measured layer.
layer_facts facts_of(const graph& g, const hidden_layer& layer, const layer_report& r, const symmetry_report& report) {
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
    f.inactive_units = r.inactive_units;
    f.frozen_units = r.frozen_units;
    for (const auto& c : r.classes) {
        if (c.size() < 2 || std::find(r.inactive_units.begin(), r.inactive_units.end(), c[0]) != r.inactive_units.end()) continue;
        if (f.first_tie.empty()) f.first_tie = c;
        ++f.tied_classes;
        f.mirrored_classes += std::any_of(c.begin(), c.end(), [&](std::size_t u) { return r.signs[u] != r.signs[c[0]]; });
    }
    lookahead_facts(r, report, f);
    return f;
}

// Trains ahead when the options give an optimizer, then runs the passes again so g reads as before.
void look_ahead(graph& g, node loss, const std::vector<hidden_layer>& layers, const std::vector<layer_partition>& parts,
                const symmetry_options& options, symmetry_report& report) {
    if (!options.lookahead_optimizer || options.lookahead_steps == 0) return;
    std::vector<std::vector<std::vector<std::size_t>>> groups;
    for (const auto& l : report.layers) groups.push_back(l.transient_groups);
    lookahead_result ahead;
    try {
        ahead = run_lookahead(g, loss, layers, parts, groups, *options.lookahead_optimizer, options.lookahead_steps,
                              {options.relative_tolerance, options.exact});
    } catch (const anomaly_error& e) {  // the copy diverged: no measurement, the proved claims stand alone
        report.notes.push_back(std::string("the lookahead stopped: ") + e.what());
    }
    g.forward();
    g.backward(loss);
    if (!ahead.ran) return;
    report.lookahead_ran = true;
    report.lookahead_steps = ahead.steps;
    report.lookahead_optimizer = ahead.optimizer;
    std::vector<std::vector<bool>> moved;
    bool frozen_moved = false;  // the proof assumes zero optimizer state; a trained optimizer's may move them
    for (std::size_t k = 0; k < layers.size(); ++k) {
        report.layers[k].lookahead = std::move(ahead.layers[k]);
        moved.push_back(report.layers[k].lookahead.moved);
        for (std::size_t u : report.layers[k].frozen_units) frozen_moved = frozen_moved || moved.back()[u];
    }
    if (!frozen_moved) return;
    auto activity = unit_activities(g, layers, moved);
    for (std::size_t k = 0; k < layers.size(); ++k) report.layers[k].frozen_units = units_where(activity[k].frozen);
    report.notes.push_back("units that are frozen with a fresh optimizer moved in the lookahead (the optimizer's "
                           "state moves them), so they are not claimed frozen");
}

}  // namespace

void check_relative_tolerance(double tolerance, const std::string& where) {
    if (!std::isfinite(tolerance) || tolerance < 0.0) throw input_error(where + ": must be a finite number >= 0");
}

symmetry_report analyze_symmetry(graph& g, node loss, const symmetry_options& options) {
    check_relative_tolerance(options.relative_tolerance, "analyze_symmetry: relative_tolerance");
    symmetry_report report;
    report.relative_tolerance = options.exact ? 0.0 : options.relative_tolerance;
    report.exact = options.exact;

    auto layers = find_hidden_layers(g, options.activations, &report.notes);
    for (const auto& layer : layers) g.retain(layer.activation);
    g.forward();
    g.backward(loss);

    // Values first: a NaN parameter spreads into every gradient, and the report should name where it started.
    for (node p : g.parameters()) require_finite(g.value(p), "the value", p);
    for (const auto& layer : layers) require_finite_activation(g, layer.activation);
    for (node p : g.parameters()) {
        require_finite(g.grad(p), "the gradient", p);
        (all_zero(g.grad(p)) ? report.still_parameters : report.moving_parameters).push_back(p.name());
    }

    auto parts = equitable_partition(g, layers, {options.relative_tolerance, options.exact}, options.mirrors);
    auto activity = unit_activities(g, layers);
    for (std::size_t k = 0; k < layers.size(); ++k)
        report.layers.push_back(measure_layer(g, layers[k], parts[k], activity[k], options));
    look_ahead(g, loss, layers, parts, options, report);

    model_facts model;
    model.moving_parameters = report.moving_parameters;
    for (std::size_t k = 0; k < layers.size(); ++k) {
        layer_report& l = report.layers[k];
        decision d = decide(facts_of(g, layers[k], l, report));
        l.verdict = d.verdict;
        l.why = std::move(d.why);
        l.fix = std::move(d.fix);
        model.layers.push_back({l.name, l.units, l.effective_width, {l.verdict, l.why, l.fix}});
    }
    decision d = decide(model);
    report.verdict = d.verdict;
    report.why = std::move(d.why);
    report.fix = std::move(d.fix);
    return report;
}

}  // namespace symgrad
