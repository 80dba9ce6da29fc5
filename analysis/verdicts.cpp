// decide(): the verdict logic, facts in, verdict and reason records out; the words are in report.cpp.
#include "analysis/verdicts.hpp"

#include "ops/op_kinds.hpp"

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

bool operator==(const reason& a, const reason& b) {
    return a.code == b.code && a.units == b.units && a.classes == b.classes && a.groups == b.groups &&
           a.layers == b.layers && a.layer == b.layer && a.activation_kind == b.activation_kind &&
           a.parameters == b.parameters && a.example_units == b.example_units && a.recommended == b.recommended;
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
    return f.output_zero && no_gradient_in && input_fixed && f.moving_parameters.empty();
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

decision transient(const layer_facts& f) {
    reason r = make(reason_code::units_share_incoming);
    r.groups = f.transient_groups.size();
    r.example_units = f.transient_groups.front();
    return {symmetry_verdict::transient, {r}, {make(reason_code::none_needed)}};
}

}  // namespace

decision decide(const layer_facts& f) {
    if (is_frozen(f)) return frozen(f);
    decision d;
    if (f.effective_width < f.units)
        d = symmetric(f);
    else if (!f.transient_groups.empty())
        d = transient(f);
    else
        d = {symmetry_verdict::healthy, {with_units(reason_code::all_units_distinct, f.units)},
             {make(reason_code::none_needed)}};
    if (f.output_zero) d.why.push_back(make(reason_code::output_zero_note));
    return d;
}

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
        case symmetry_verdict::healthy: r = make(reason_code::all_layers_distinct); break;
    }
    r.layers = f.layers.size();
    if (worst->decided.verdict != symmetry_verdict::healthy) r.layer = worst->name;
    decision d{worst->decided.verdict, {r}, worst->decided.fix};
    if (d.verdict == symmetry_verdict::frozen) d.why.push_back(with_parameters(reason_code::others_still_move, f.moving_parameters));
    return d;
}

}  // namespace symgrad
