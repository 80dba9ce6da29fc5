// decide(): the verdict logic, facts in, verdict and reason records out; the words are in report.cpp.
#include "analysis/verdicts.hpp"

#include <algorithm>

#include "ops/op_kinds.hpp"

namespace symgrad {

const char* to_string(symmetry_verdict v) {
    switch (v) {
        case symmetry_verdict::healthy: return "healthy";
        case symmetry_verdict::transient: return "transient";
        case symmetry_verdict::inactive: return "inactive";
        case symmetry_verdict::fragile: return "fragile";
        case symmetry_verdict::symmetric: return "symmetric";
        case symmetry_verdict::frozen: return "frozen";
    }
    return "unknown";
}

bool is_problem(symmetry_verdict v) {
    return v == symmetry_verdict::frozen || v == symmetry_verdict::symmetric || v == symmetry_verdict::fragile ||
           v == symmetry_verdict::inactive;
}

bool operator==(const reason& a, const reason& b) {
    return a.code == b.code && a.units == b.units && a.classes == b.classes && a.groups == b.groups &&
           a.layers == b.layers && a.layer == b.layer && a.activation_kind == b.activation_kind &&
           a.parameters == b.parameters && a.example_units == b.example_units && a.recommended == b.recommended &&
           a.frozen_units == b.frozen_units && a.steps == b.steps && a.optimizer == b.optimizer &&
           a.growth == b.growth && a.iteration == b.iteration;
}

namespace {

reason make(reason_code code) {
    reason r;
    r.code = code;
    return r;
}

reason with_units(reason_code code, std::size_t units, std::size_t classes = 0) {
    reason r = make(code);
    r.units = units;
    r.classes = classes;
    return r;
}

reason with_parameters(reason_code code, std::vector<std::string> parameters) {
    reason r = make(code);
    r.parameters = std::move(parameters);
    return r;
}

reason initialize_randomly(const std::string& activation_kind) {
    reason r = make(reason_code::initialize_randomly);
    r.activation_kind = activation_kind;
    // He keeps the variance of relu layers, which zero half their inputs; Glorot suits tanh and sigmoid.
    r.recommended = activation_kind == op_kinds::relu ? initializer::he_normal() : initializer::glorot_uniform();
    return r;
}

bool is_frozen(const layer_facts& f) {
    bool no_gradient_in = f.weights_out_zero || f.activation_kind == op_kinds::relu;
    bool input_fixed = f.weights_in_zero || f.input_is_data;
    // The proof assumes zero optimizer state; a trained optimizer's state may still move the layer.
    return f.output_zero && no_gradient_in && input_fixed && f.moving_parameters.empty() && !f.moved_in_lookahead;
}

decision frozen(const layer_facts& f) {
    decision d{symmetry_verdict::frozen, {}, {initialize_randomly(f.activation_kind)}};
    if (f.weights_out_zero)
        d.why.push_back(with_parameters(reason_code::frozen_outgoing_zero, f.weights_out));
    else
        d.why.push_back(make(reason_code::frozen_dead_relu));
    d.why.back().units = f.units;
    d.why.push_back(with_parameters(reason_code::gradients_stay_zero, f.parameters));
    if (f.effective_width < f.units) d.why.push_back(with_units(reason_code::units_also_identical, 0, f.effective_width));
    if (!f.weights_out_zero) d.fix.push_back(make(reason_code::revive_dead_units));
    return d;
}

decision symmetric(const layer_facts& f) {
    decision d{symmetry_verdict::symmetric, {with_units(reason_code::units_form_classes, f.units, f.effective_width)},
               {initialize_randomly(f.activation_kind)}};
    if (f.moving_parameters.empty())
        d.why.push_back(make(reason_code::gradients_zero_now));
    else
        d.why.push_back(with_parameters(reason_code::weights_move_together, f.moving_parameters));
    return d;
}

reason measured(reason_code code, const layer_facts& f) {
    reason r = make(code);
    r.steps = f.lookahead_steps;
    r.optimizer = f.lookahead_optimizer;
    return r;
}

decision transient(const layer_facts& f) {
    reason r = make(reason_code::units_share_incoming);
    r.groups = f.transient_groups.size();
    r.example_units = f.transient_groups.front();
    decision d{symmetry_verdict::transient, {r}, {make(reason_code::none_needed)}};
    if (!f.lookahead_ran) return d;
    reason c = measured(reason_code::transient_confirmed, f);
    c.groups = f.transient_groups.size();
    c.iteration = *std::max_element(f.transient_separated_at.begin(), f.transient_separated_at.end());
    d.why.push_back(c);
    return d;
}

bool in(const std::vector<std::size_t>& units, std::size_t u) { return std::find(units.begin(), units.end(), u) != units.end(); }

// The units of `f.inactive_units` that are also proved frozen.
std::size_t frozen_among_inactive(const layer_facts& f) {
    std::size_t n = 0;
    for (std::size_t u : f.inactive_units) n += in(f.frozen_units, u);
    return n;
}

// Why some units are dead or saturated, and their fix: relu units die, tanh and sigmoid units saturate.
void explain_inactive(const layer_facts& f, decision& d) {
    bool relu = f.activation_kind == op_kinds::relu;
    reason r = make(relu ? reason_code::dead_units : reason_code::saturated_units);
    r.units = f.inactive_units.size();
    r.frozen_units = frozen_among_inactive(f);
    r.example_units = f.inactive_units;
    d.why.push_back(r);
    if (r.frozen_units < r.units) d.why.push_back(with_units(reason_code::inactive_not_proved, r.units - r.frozen_units));
    if (relu)
        d.fix.push_back(make(reason_code::dead_relu_fix));
    else
        d.fix.push_back(make(f.input_is_data ? reason_code::standardize_inputs : reason_code::smaller_initial_weights));
}

// Frozen by the unit rule: every unit proved never to move (dead, saturated or starved of gradient).
decision frozen_by_units(const layer_facts& f) {
    decision d{symmetry_verdict::frozen, {}, {}};
    reason r = with_units(reason_code::frozen_units_proved, f.units);
    r.activation_kind = f.activation_kind;
    d.why.push_back(r);
    if (!f.inactive_units.empty()) explain_inactive(f, d);
    std::size_t starved = f.units - f.inactive_units.size();
    if (starved > 0) {
        d.why.push_back(with_units(reason_code::starved_units, starved));
        d.fix.push_back(make(reason_code::fix_layers_above));
    }
    return d;
}

std::size_t active_units(const layer_facts& f) { return f.units - f.inactive_units.size(); }

// Ties: symmetric when some tie holds (proved; measured when the lookahead ran), fragile when all grow.
decision tied(const layer_facts& f) {
    std::size_t ties = std::max<std::size_t>(f.tied_classes, 1);  // facts built by hand may leave the count out
    bool all_grow = f.lookahead_ran && f.fragile_classes >= ties;
    decision d = symmetric(f);
    if (f.lookahead_ran && !all_grow) {
        reason m = measured(reason_code::ties_hold_measured, f);
        m.classes = ties - f.fragile_classes;
        d.why.push_back(m);
    }
    if (f.fragile_classes > 0) {
        reason r = measured(reason_code::ties_fragile, f);
        r.classes = f.fragile_classes;
        r.growth = f.fastest_growth;
        r.iteration = f.earliest_separation;
        r.example_units = f.first_fragile.empty() ? f.first_tie : f.first_fragile;
        d.why.push_back(r);
    }
    if (all_grow) d.verdict = symmetry_verdict::fragile;
    if (f.mirrored_classes > 0) {
        reason r = make(reason_code::mirrored_units);
        r.classes = f.mirrored_classes;
        r.example_units = f.first_tie;
        d.why.push_back(r);
    }
    bool one_class = f.effective_width == 1;  // every unit alike: a constant (or zero) initialisation
    if (!one_class) {
        reason r = make(f.mirrored_classes > 0 ? reason_code::redraw_mirrored_units : reason_code::redraw_copied_units);
        r.example_units = f.first_tie;
        d.fix = {r};
    }
    return d;
}

// Shared incoming weights whose lookahead saw no separation: they stay alike for now.
decision persisting(const layer_facts& f) {
    reason r = measured(reason_code::incoming_tie_persists, f);
    r.groups = f.transient_groups.size();
    r.example_units = f.transient_groups.front();
    reason fix = make(reason_code::redraw_copied_units);
    fix.example_units = f.transient_groups.front();
    return {symmetry_verdict::fragile, {r}, {fix}};
}

bool transient_unconfirmed(const layer_facts& f) {
    return f.lookahead_ran && !f.transient_groups.empty() &&
           std::any_of(f.transient_separated_at.begin(), f.transient_separated_at.end(), [](long s) { return s < 0; });
}

}  // namespace

decision decide(const layer_facts& f) {
    if (is_frozen(f)) return frozen(f);
    if (f.units > 0 && f.frozen_units.size() == f.units) return frozen_by_units(f);
    decision d;
    bool inactive = !f.inactive_units.empty();
    if (f.effective_width < active_units(f))
        d = tied(f);
    else if (transient_unconfirmed(f))
        d = persisting(f);
    else if (inactive)
        d = {symmetry_verdict::inactive, {}, {}};
    else if (!f.transient_groups.empty())
        d = transient(f);
    else
        d = {symmetry_verdict::healthy, {with_units(reason_code::all_units_distinct, f.units)},
             {make(reason_code::none_needed)}};
    if (inactive) explain_inactive(f, d);
    if (f.output_zero) d.why.push_back(make(reason_code::output_zero_note));
    return d;
}

namespace {

// The first worst layer's fix; but when all it says is "fix the layers above" (a starved layer), the fix
// of the first worst layer that names a cause.
std::vector<reason> model_fix(const model_facts& f, const layer_outcome& worst) {
    auto only_above = [](const std::vector<reason>& fix) {
        return !fix.empty() && std::all_of(fix.begin(), fix.end(), [](const reason& r) { return r.code == reason_code::fix_layers_above; });
    };
    if (!only_above(worst.decided.fix)) return worst.decided.fix;
    for (const auto& l : f.layers)
        if (l.decided.verdict == worst.decided.verdict && !only_above(l.decided.fix)) return l.decided.fix;
    return worst.decided.fix;
}

}  // namespace

decision decide(const model_facts& f) {
    if (f.layers.empty()) return {symmetry_verdict::healthy, {make(reason_code::no_hidden_layers)}, {make(reason_code::none_needed)}};
    const layer_outcome* worst = &f.layers.front();
    for (const auto& l : f.layers)
        if (l.decided.verdict > worst->decided.verdict) worst = &l;
    reason r;
    switch (worst->decided.verdict) {
        case symmetry_verdict::frozen: r = make(reason_code::worst_layer_frozen); break;
        case symmetry_verdict::symmetric: r = with_units(reason_code::worst_layer_symmetric, worst->units, worst->effective_width); break;
        case symmetry_verdict::transient: r = make(reason_code::worst_layer_transient); break;
        case symmetry_verdict::fragile: r = make(reason_code::worst_layer_fragile); break;
        case symmetry_verdict::inactive: r = make(reason_code::worst_layer_inactive); break;
        case symmetry_verdict::healthy: r = make(reason_code::all_layers_distinct); break;
    }
    r.layers = f.layers.size();
    if (worst->decided.verdict != symmetry_verdict::healthy) r.layer = worst->name;
    decision d{worst->decided.verdict, {r}, model_fix(f, *worst)};
    if (d.verdict == symmetry_verdict::frozen) d.why.push_back(with_parameters(reason_code::others_still_move, f.moving_parameters));
    return d;
}

}  // namespace symgrad
