// The weight-only analysis: the compression's classes and removals, read as facts about the file's units.
#include "analysis/weight_analysis.hpp"

#include <algorithm>

#include "analysis/unit_grouping.hpp"
#include "ops/op_kinds.hpp"

namespace symgrad {

namespace {

std::vector<std::vector<std::size_t>> groups_of_two_or_more(const std::vector<std::vector<std::size_t>>& classes) {
    std::vector<std::vector<std::size_t>> out;
    for (const auto& c : classes)
        if (c.size() >= 2) out.push_back(c);
    return out;
}

double tolerance_for(const tensor& t, const comparison& how) {
    return how.exact ? 0.0 : how.relative_tolerance * max_abs(t);
}

// Classes by the file's own incoming rows and biases (no signs, no merging below).
std::vector<std::vector<std::size_t>> identical_units(const model_file& model, const layer_compression& l,
                                                      const comparison& how) {
    const tensor& W = model.parameters.at(l.weights_in);
    std::vector<unit_slice> slices{{&W, unit_slice::axis::row, tolerance_for(W, how)}};
    if (!l.bias.empty()) {
        const tensor& b = model.parameters.at(l.bias);
        slices.push_back({&b, unit_slice::axis::row, tolerance_for(b, how)});
    }
    return groups_of_two_or_more(group_units(l.units_before, slices));
}

std::vector<std::size_t> zero_columns(const model_file& model, const layer_compression& l) {
    std::vector<std::size_t> out;
    for (std::size_t j = 0; j < l.units_before; ++j) {
        bool zero = true;
        for (const auto& name : l.weights_out) {
            const tensor& V = model.parameters.at(name);
            for (std::size_t r = 0; r < V.shape()[0]; ++r) zero = zero && V(r, j) == 0.0;
        }
        if (zero) out.push_back(j);
    }
    return out;
}

layer_weight_facts facts_of(const model_file& model, const layer_compression& l, const comparison& how) {
    layer_weight_facts f;
    f.name = l.name;
    f.activation_kind = l.activation_kind;
    f.units = l.units_before;
    f.identical = identical_units(model, l, how);
    f.same_output = groups_of_two_or_more(l.tied_classes);
    f.sign = l.sign;
    for (const auto& c : f.same_output)
        if (std::any_of(c.begin(), c.end(), [&](std::size_t u) { return l.sign[u] < 0; })) f.mirrored.push_back(c);
    f.zero_outgoing = zero_columns(model, l);
    f.zero_output = l.dead;
    if (l.activation_kind == op_kinds::relu) f.dead_relu = l.dead;
    f.distinct_outputs = l.units_after;
    return f;
}

}  // namespace

bool weight_report::has_problem() const {
    return std::any_of(layers.begin(), layers.end(), [](const layer_weight_facts& l) { return !l.dead_relu.empty(); });
}

weight_report analyze_weights(const model_file& model, const comparison& how) {
    compression c = compress_model(model, how);
    weight_report r;
    r.source = model.source;
    r.parameters = c.parameters_before;
    r.parameters_compressed = c.parameters_after;
    r.relative_tolerance = how.exact ? 0.0 : how.relative_tolerance;
    r.exact = how.exact;
    r.notes = c.notes;
    // Deeper layers' W_in in `c.model` already has merged columns; the identical classes read the file's.
    for (const auto& l : c.layers) r.layers.push_back(facts_of(model, l, how));
    return r;
}

std::vector<std::string> undecided_without_data() {
    return {
        "whether tied units stay tied when trained: that depends on their gradients, that is, on the data",
        "which units are dead (relu) or saturated on the data, beyond those dead for every input",
        "the verdicts frozen, symmetric and fragile, which rest on gradients computed on the data",
    };
}

}  // namespace symgrad
