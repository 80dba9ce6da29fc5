// Verdicts on hidden-unit symmetry: classes of identical units, frozen layers, the report as text and JSON.
#include "analysis/symmetry.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace symgrad {

const char* to_string(symmetry_verdict v) {
    switch (v) {
        case symmetry_verdict::healthy: return "healthy";
        case symmetry_verdict::transient: return "transient";
        case symmetry_verdict::symmetric: return "symmetric";
        case symmetry_verdict::frozen: return "frozen";
    }
    return "unknown";
}

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
    for (std::size_t k = 0; k < t.size(); ++k) {
        if (!std::isfinite(t.data()[k])) {
            std::size_t cols = t.shape()[1];
            throw anomaly_error("analyse_symmetry: " + what + " of '" + n.name() + "' " + to_string(n.shape()) + " holds " +
                                (std::isnan(t.data()[k]) ? "NaN" : "Inf") + " at (" + std::to_string(k / cols) + ", " +
                                std::to_string(k % cols) + "); no verdict is computed from non-finite numbers");
        }
    }
}

std::string join(const std::vector<std::string>& names, const std::string& empty = "none") {
    if (names.empty()) return empty;
    std::string s;
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    return s;
}

std::string unit_list(const std::vector<std::size_t>& units, std::size_t limit = 16) {
    std::string s = "{";
    for (std::size_t i = 0; i < units.size() && i < limit; ++i) s += (i ? ", " : "") + std::to_string(units[i]);
    if (units.size() > limit) s += ", ... (" + std::to_string(units.size()) + " units)";
    return s + "}";
}

std::string initialiser_advice(const std::string& kind) {
    if (kind == "relu")
        return "Initialise the weights randomly: He (Kaiming) initialisation for relu layers; biases may stay zero. "
               "Zeros or one constant give every unit the same row, which no optimiser can undo.";
    return "Initialise the weights randomly: Glorot (Xavier) initialisation for " + kind +
           " layers (He for relu); biases may stay zero. Zeros or one constant give every unit the same row, "
           "which no optimiser can undo.";
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

// Largest |x - x_first| inside any class, relative to the largest |element| of x's tensor.
double class_spread(const std::vector<std::vector<std::size_t>>& classes, const std::vector<unit_slice>& slices) {
    double spread = 0.0;
    for (const auto& sl : slices) {
        double scale = max_abs(*sl.values);
        if (scale == 0.0) continue;
        const tensor& t = *sl.values;
        std::size_t rows = t.shape()[0], cols = t.shape()[1];
        bool by_row = sl.owned == unit_slice::axis::row;
        std::size_t elements = by_row ? cols : rows;
        for (const auto& c : classes) {
            for (std::size_t m = 1; m < c.size(); ++m) {
                for (std::size_t e = 0; e < elements; ++e) {
                    double a = by_row ? t(c[0], e) : t(e, c[0]);
                    double b = by_row ? t(c[m], e) : t(e, c[m]);
                    spread = std::max(spread, std::abs(a - b) / scale);
                }
            }
        }
    }
    return spread;
}

layer_report analyse_layer(const graph& g, const hidden_layer& layer, const symmetry_options& options) {
    layer_report r;
    r.name = layer.name;
    r.activation = layer.activation.name();
    r.activation_kind = std::string(g.operation(layer.activation)->kind());
    r.units = layer.units();
    for (node p : layer.parameters()) {
        r.parameters.push_back(p.name());
        if (!all_zero(g.grad(p))) r.moving_parameters.push_back(p.name());
    }

    auto full = layer_slices(g, layer, options, false);
    r.classes = group_units(r.units, full);
    r.effective_width = r.classes.size();
    r.class_spread = class_spread(r.classes, full);

    // Incoming-equal units that the full comparison split: they share W_in row and bias only.
    std::vector<std::size_t> class_of(r.units);
    for (std::size_t k = 0; k < r.classes.size(); ++k)
        for (std::size_t u : r.classes[k]) class_of[u] = k;
    for (auto& group : group_units(r.units, layer_slices(g, layer, options, true))) {
        bool mixed = std::any_of(group.begin(), group.end(), [&](std::size_t u) { return class_of[u] != class_of[group[0]]; });
        if (mixed) r.transient_groups.push_back(std::move(group));
    }

    // Frozen needs a proof that nothing in the layer can ever move (see docs/symcheck-analysis.md):
    // the output is 0 everywhere, no gradient can reach the pre-activation (W_out = 0, or relu units at
    // or below 0 where relu' = 0), and the pre-activation cannot change (W_in = 0, or it reads data).
    r.output_zero = all_zero(g.value(layer.activation));
    bool out_zero = std::all_of(layer.weights_out.begin(), layer.weights_out.end(),
                                [&](node w) { return all_zero(g.value(w)); });
    bool in_zero = all_zero(g.value(layer.weights_in));
    bool relu = r.activation_kind == "relu";
    bool input_fixed = in_zero || layer.input.kind() == node_kind::input;
    bool frozen = r.output_zero && (out_zero || relu) && input_fixed && r.moving_parameters.empty();

    const std::string n = std::to_string(r.units), k = std::to_string(r.effective_width);
    const std::string params = join(r.parameters);
    std::ostringstream why;
    if (frozen) {
        r.verdict = symmetry_verdict::frozen;
        why << "All " << n << " units output 0 on every sample, ";
        if (out_zero)
            why << "and the outgoing weights (" << join(std::vector<std::string>(r.parameters.end() - layer.weights_out.size(),
                                                                                 r.parameters.end()))
                << ") are zero, so no gradient reaches the layer; with a zero output the outgoing weights get none "
                   "either. ";
        else
            why << "and every relu unit sits at a pre-activation <= 0, where relu' = 0, so no gradient reaches "
                   "the incoming weights; with a zero output the outgoing weights get none either (dead units). ";
        why << "The gradients of " << params << " are exactly 0 and stay 0 under gradient descent, momentum and "
            << "Adam: this layer can never learn.";
        if (r.effective_width < r.units) why << " Its units are also identical (effective width " << k << ").";
        r.fix = initialiser_advice(r.activation_kind);
        if (!out_zero)
            r.fix += " Units already dead stay dead: re-initialise them; a small positive bias or a lower learning "
                     "rate keeps relu units alive.";
    } else if (r.effective_width < r.units) {
        r.verdict = symmetry_verdict::symmetric;
        why << n << " units form " << k << (r.effective_width == 1 ? " class" : " classes") << " (effective width " << k
            << " < " << n << "): units in a class have the same incoming weights, bias and outgoing weights and the "
            << "same gradients. Swapping two such units leaves the loss unchanged, so their gradients are equal, and "
            << "gradient descent, momentum and Adam update each weight from its own gradient history alone: identical "
            << "units get identical updates and stay identical forever. The layer computes what a layer of " << k
            << (r.effective_width == 1 ? " unit" : " units") << " would.";
        if (r.moving_parameters.empty())
            why << " Its gradients are zero at this step.";
        else
            why << " Its weights do move (" << join(r.moving_parameters) << " have nonzero gradients), but together.";
        r.fix = initialiser_advice(r.activation_kind);
    } else if (!r.transient_groups.empty()) {
        r.verdict = symmetry_verdict::transient;
        why << r.transient_groups.size() << (r.transient_groups.size() == 1 ? " group" : " groups")
            << " of units share incoming weights and bias (e.g. units " << unit_list(r.transient_groups[0])
            << ") but differ in outgoing weights or gradients, so the next update gives them different incoming "
               "weights: they separate on their own. Not a problem.";
        r.fix = "None needed.";
    } else {
        r.verdict = symmetry_verdict::healthy;
        why << "All " << n << " units are distinct: training can make them learn different features.";
        r.fix = "None needed.";
    }
    if (!frozen && r.output_zero) why << " Note: the layer outputs 0 on every sample.";
    r.explanation = why.str();
    return r;
}

}  // namespace

symmetry_report analyse_symmetry(graph& g, node loss, const symmetry_options& options) {
    if (!std::isfinite(options.relative_tolerance) || options.relative_tolerance < 0.0)
        throw input_error("analyse_symmetry: the relative tolerance must be a finite number >= 0, got " +
                          std::to_string(options.relative_tolerance));
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
    for (const auto& layer : layers) {
        report.layers.push_back(analyse_layer(g, layer, options));
        report.verdict = std::max(report.verdict, report.layers.back().verdict);
    }

    std::ostringstream why;
    if (report.layers.empty()) {
        why << "No hidden layers (no activation fed by matmul(W, .) + b and consumed by matmul(W', .)), so no "
               "units can be symmetric. Zero initialisation is harmless here: in logistic regression, or any single "
               "layer of weights, each weight's gradient (A - Y) X' / m is driven by its own input feature and "
               "output, and the logistic-regression cost is convex, so zero and random starts reach the same minimum.";
        report.fix = "None needed.";
    } else {
        const layer_report* worst = &report.layers.front();
        for (const auto& l : report.layers)
            if (l.verdict > worst->verdict) worst = &l;
        why << report.layers.size() << (report.layers.size() == 1 ? " hidden layer" : " hidden layers");
        switch (worst->verdict) {
            case symmetry_verdict::frozen:
                why << "; the worst is " << worst->name << ": frozen: no gradient reaches its weights, so training "
                    << "can never move them.";
                break;
            case symmetry_verdict::symmetric:
                why << "; the worst is " << worst->name << ": symmetric: its " << worst->units << " units act as "
                    << worst->effective_width << ", and gradient descent, momentum and Adam cannot separate them.";
                break;
            case symmetry_verdict::transient:
                why << "; the worst is " << worst->name << ": transient: some units share incoming weights but "
                    << "separate on the next step.";
                break;
            case symmetry_verdict::healthy: why << ", all with distinct units."; break;
        }
        if (report.verdict == symmetry_verdict::frozen)
            why << " Parameters that still move: " << join(report.moving_parameters)
                << " (their gradients do not pass through the frozen layer; an output bias's gradient is mean(A - Y), "
                   "nonzero whenever the labels are imbalanced).";
        report.fix = worst->fix;
    }
    report.explanation = why.str();
    return report;
}

std::string to_text(const symmetry_report& report) {
    std::ostringstream out;
    out << "verdict: " << to_string(report.verdict);
    if (report.layers.empty())
        out << " (no hidden layers)\n";
    else
        out << " (worst of " << report.layers.size() << (report.layers.size() == 1 ? " hidden layer" : " hidden layers")
            << "; frozen > symmetric > transient > healthy)\n";
    if (report.exact)
        out << "comparison: exact (bit for bit)\n";
    else
        out << "comparison: within " << report.relative_tolerance << " of each tensor's largest |element|\n";
    for (const auto& l : report.layers) {
        out << "\n" << l.name << ": " << l.activation_kind << ", " << l.units << " units, effective width "
            << l.effective_width << ": " << to_string(l.verdict) << "\n";
        if (l.effective_width == l.units) {
            out << "  classes: all " << l.units << " units distinct\n";
        } else {
            std::size_t shown = 0, singles = 0;
            out << "  classes:";
            for (const auto& c : l.classes) {
                if (c.size() == 1) {
                    ++singles;
                } else if (shown < 10) {
                    out << (shown ? ", " : " ") << unit_list(c);
                    ++shown;
                }
            }
            std::size_t multi = l.classes.size() - singles;
            if (multi > shown) out << ", ... (" << multi - shown << " more)";
            if (singles) out << " and " << singles << " single units";
            out << "\n  largest difference inside a class: " << l.class_spread << " (relative)\n";
        }
        for (const auto& t : l.transient_groups) out << "  transient group: " << unit_list(t) << "\n";
        out << "  moving: " << join(l.moving_parameters, "none of " + join(l.parameters)) << "\n";
        out << "  why: " << l.explanation << "\n";
        out << "  fix: " << l.fix << "\n";
    }
    out << "\nparameters moving: " << join(report.moving_parameters) << "\n";
    out << "parameters not moving: " << join(report.still_parameters) << "\n";
    out << "why: " << report.explanation << "\n";
    out << "fix: " << report.fix << "\n";
    for (const auto& n : report.notes) out << "note: " << n << "\n";
    return out.str();
}

std::string to_json(const symmetry_report& report) {
    using nlohmann::json;
    json layers = json::array();
    for (const auto& l : report.layers) {
        layers.push_back({{"name", l.name},
                          {"activation", l.activation},
                          {"activation_kind", l.activation_kind},
                          {"parameters", l.parameters},
                          {"units", l.units},
                          {"effective_width", l.effective_width},
                          {"classes", l.classes},
                          {"transient_groups", l.transient_groups},
                          {"verdict", to_string(l.verdict)},
                          {"moving_parameters", l.moving_parameters},
                          {"output_zero", l.output_zero},
                          {"class_spread", l.class_spread},
                          {"explanation", l.explanation},
                          {"fix", l.fix}});
    }
    json j = {{"verdict", to_string(report.verdict)},
              {"explanation", report.explanation},
              {"fix", report.fix},
              {"moving_parameters", report.moving_parameters},
              {"still_parameters", report.still_parameters},
              {"notes", report.notes},
              {"tolerance", {{"relative", report.relative_tolerance}, {"exact", report.exact}}},
              {"layers", layers}};
    return j.dump(2);
}

}  // namespace symgrad
