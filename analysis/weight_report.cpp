// The words of the weight-only analysis and of a compression: text for symcheck, JSON beside it.
#include <sstream>

#include "analysis/report.hpp"
#include "analysis/weight_analysis.hpp"

namespace symgrad {

namespace {

std::string class_list(const std::vector<std::vector<std::size_t>>& classes) {
    if (classes.empty()) return "none";
    std::string s;
    for (std::size_t i = 0; i < classes.size(); ++i) s += (i ? ", " : "") + unit_list(classes[i]);
    return s;
}

std::string units_or_none(const std::vector<std::size_t>& units) { return units.empty() ? "none" : unit_list(units); }

std::string tolerance_words(bool exact, double relative_tolerance) {
    if (exact) return "bit for bit";
    std::ostringstream s;
    s << "within a relative tolerance of " << relative_tolerance;
    return s.str();
}

void layer_facts_text(std::ostream& out, const layer_weight_facts& l) {
    out << l.name << ": " << l.activation_kind << ", " << l.units << " units, " << l.distinct_outputs
        << (l.distinct_outputs == 1 ? " distinct unit" : " distinct units") << " after merging and removal\n";
    out << "  same incoming weights and bias: " << class_list(l.identical) << "\n";
    out << "  same output for every input (ties through the layer below, mirrors): " << class_list(l.same_output) << "\n";
    out << "  mirrored (w, b) and (-w, -b): " << class_list(l.mirrored) << "\n";
    out << "  outgoing weights all zero: " << units_or_none(l.zero_outgoing) << "\n";
    out << "  output 0 for every input: " << units_or_none(l.zero_output);
    if (!l.dead_relu.empty()) out << " (relu, dead on any data: they never get a gradient)";
    out << "\n";
}

}  // namespace

std::string to_text(const weight_report& r) {
    std::ostringstream out;
    out << "Weight-only analysis of " << r.source << " (no data): " << r.parameters << " parameters, "
        << r.parameters_compressed << " after compression; units compared " << tolerance_words(r.exact, r.relative_tolerance)
        << "\n";
    for (const auto& l : r.layers) layer_facts_text(out, l);
    if (r.layers.empty())
        out << "No hidden layer found: one is act(W x + b) with act tanh, sigmoid or relu, whose output feeds only "
               "W_out A (a scale or another op between them hides it).\n";
    for (const auto& n : r.notes) out << "note: " << n << "\n";
    out << "Not decided without data (give --data FILE):\n";
    for (const auto& u : undecided_without_data()) out << "  - " << u << "\n";
    out << (r.has_problem() ? "Problem proved from the weights: relu units dead for every input.\n"
                            : "No problem proved from the weights alone.\n");
    return out.str();
}

nlohmann::json to_json_value(const weight_report& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers)
        layers.push_back({{"name", l.name}, {"activation_kind", l.activation_kind}, {"units", l.units},
                          {"identical", l.identical}, {"same_output", l.same_output}, {"signs", l.sign},
                          {"mirrored", l.mirrored}, {"zero_outgoing", l.zero_outgoing}, {"zero_output", l.zero_output},
                          {"dead_relu", l.dead_relu}, {"distinct_units", l.distinct_outputs}});
    return {{"source", r.source}, {"parameters", r.parameters}, {"parameters_compressed", r.parameters_compressed},
            {"tolerance", {{"relative", r.relative_tolerance}, {"exact", r.exact}}}, {"layers", layers},
            {"notes", r.notes}, {"undecided_without_data", undecided_without_data()}, {"problem", r.has_problem()}};
}

std::string to_text(const compression& c) {
    std::ostringstream out;
    out << "Compressed: " << c.parameters_before << " parameters -> " << c.parameters_after
        << (c.exact_merges ? " (every merged unit bitwise equal)" : " (some units merged within the tolerance)") << "\n";
    for (const auto& l : c.layers) {
        std::vector<std::vector<std::size_t>> merged;
        for (const auto& k : l.classes)
            if (k.size() >= 2) merged.push_back(k);
        out << "  " << l.name << ": " << l.units_before << " -> " << l.units_after << " units; merged "
            << class_list(merged) << "; removed as dead " << units_or_none(l.dead) << ", as unused "
            << units_or_none(l.unused) << "\n";
    }
    for (const auto& n : c.notes) out << "  note: " << n << "\n";
    return out.str();
}

nlohmann::json to_json_value(const compression& c) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : c.layers)
        layers.push_back({{"name", l.name}, {"units_before", l.units_before}, {"units_after", l.units_after},
                          {"classes", l.classes}, {"signs", l.sign}, {"kept_as", l.kept_as}, {"dead", l.dead},
                          {"unused", l.unused}, {"merge_spread", l.merge_spread}});
    return {{"parameters_before", c.parameters_before}, {"parameters_after", c.parameters_after},
            {"exact_merges", c.exact_merges}, {"layers", layers}, {"notes", c.notes}};
}

}  // namespace symgrad
