// The one place the analysis's words live: each reason_code's sentence, the text report and the JSON report.
#include "analysis/report.hpp"

#include <iomanip>
#include <sstream>

namespace symgrad {

std::string unit_list(const std::vector<std::size_t>& units, std::size_t limit) {
    std::string s = "{";
    for (std::size_t i = 0; i < units.size() && i < limit; ++i) s += (i ? ", " : "") + std::to_string(units[i]);
    if (units.size() > limit) s += ", ... (" + std::to_string(units.size()) + " units)";
    return s + "}";
}

namespace {

std::string join(const std::vector<std::string>& names, const std::string& empty = "none") {
    if (names.empty()) return empty;
    std::string s;
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    return s;
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) { return n == 1 ? one : many; }

bool is_he(const initializer& i) {
    return i.how == initializer::method::he_normal || i.how == initializer::method::he_uniform;
}

std::string initializer_advice(const reason& r) {
    if (is_he(r.recommended))
        return "Initialise the weights randomly: He (Kaiming) initialisation for " + r.activation_kind +
               " layers; biases may stay zero. Zeros or one constant give every unit the same row, which no optimiser "
               "can undo.";
    return "Initialise the weights randomly: Glorot (Xavier) initialisation for " + r.activation_kind +
           " layers (He for relu); biases may stay zero. Zeros or one constant give every unit the same row, "
           "which no optimiser can undo.";
}

std::string number(double x) {
    std::ostringstream out;
    out << std::setprecision(3) << x;
    return out.str();
}

// "training a copy 300 steps with adam": what a measured claim rests on.
std::string lookahead_words(const reason& r) {
    return "training a copy " + std::to_string(r.steps) + " steps with " + r.optimizer;
}

// "; all proved dead for ever (...)" or "; 2 of them proved ...", nothing when none is proved.
std::string proved_share(const reason& r, const std::string& state) {
    if (r.frozen_units == 0) return "";
    std::string who = r.frozen_units == r.units ? "all" : std::to_string(r.frozen_units) + " of them";
    return "; " + who + " proved " + state + " for ever (fixed input, no gradient)";
}

// Issue 10's reasons about single units and measured ties.
std::string unit_words(const reason& r) {
    const std::string n = std::to_string(r.units), f = std::to_string(r.frozen_units);
    switch (r.code) {
        case reason_code::frozen_units_proved:
            return "All " + n + " units are proved frozen: each has zero incoming gradients, reads fixed input (the data, "
                   "or frozen layers) and either has derivative exactly 0 on every sample or sends its output only into "
                   "frozen units, so by induction none of them moves under gradient descent, momentum or Adam started fresh.";
        case reason_code::starved_units:
            return n + plural(r.units, " unit is", " units are") + " alive but no gradient reaches " +
                   plural(r.units, "it", "them") + ": everything above is frozen.";
        case reason_code::dead_units:
            return n + " relu " + plural(r.units, "unit is", "units are") + " dead (pre-activation <= 0 on every sample, "
                   "where relu' = 0): units " + unit_list(r.example_units) + proved_share(r, "dead") +
                   ". The effective width leaves them out.";
        case reason_code::saturated_units:
            return n + plural(r.units, " unit is", " units are") + " saturated (derivative below rounding on every "
                   "sample): units " + unit_list(r.example_units) + proved_share(r, "saturated") +
                   ". The effective width leaves them out.";
        case reason_code::inactive_not_proved:
            return n + plural(r.units, " of them is", " of them are") + " so only now (dead or saturated now): the "
                   "input or the derivative can still change, so " + plural(r.units, "it", "they") + " may come back.";
        case reason_code::ties_hold_measured:
            return "Measured: " + lookahead_words(r) + " kept " + std::to_string(r.classes) +
                   plural(r.classes, " tied class", " tied classes") + " within rounding (no growth), so this arithmetic "
                   "keeps " + plural(r.classes, "that tie", "those ties") + " too.";
        case reason_code::ties_fragile: {
            std::string s = "Measured: " + lookahead_words(r) + ", " + std::to_string(r.classes) +
                            plural(r.classes, " tied class", " tied classes") + " (e.g. units " +
                            unit_list(r.example_units) + ") drift apart, the spread (an initial difference or rounding, "
                            "amplified by training) growing by a factor of " + number(r.growth) + " per 100 steps";
            if (r.iteration < 0)
                return s + ", but ever more slowly: no separation is predicted; a longer lookahead shows more.";
            bool seen = std::size_t(r.iteration) <= r.steps;
            return s + ": they become distinct (spread 1e-6) " + (seen ? "at iteration " : "at about iteration ") +
                   std::to_string(r.iteration) + (seen ? "" : " (extrapolated)") + ". Until then they act as one unit.";
        }
        case reason_code::mirrored_units:
            return std::to_string(r.classes) + plural(r.classes, " class holds", " classes hold") + " a tanh unit and its "
                   "mirror (w, b, v) -> (-w, -b, -v) (e.g. units " + unit_list(r.example_units) + "): together they "
                   "compute 2 v tanh(w x + b), one unit's worth, and training keeps them mirrored (proved: tanh is odd).";
        case reason_code::transient_confirmed:
            return "Measured: " + lookahead_words(r) + " separated them by iteration " + std::to_string(r.iteration) + ".";
        case reason_code::incoming_tie_persists:
            return std::to_string(r.groups) + plural(r.groups, " group", " groups") + " of units share incoming weights "
                   "and bias (e.g. units " + unit_list(r.example_units) + ") and their gradients differ, yet " +
                   lookahead_words(r) + " did not separate them: they act as one feature for now.";
        default: return {};  // not a layer's code: words() routes it elsewhere
    }
}

// Why a layer got its verdict.
std::string layer_words(const reason& r) {
    const std::string n = std::to_string(r.units), k = std::to_string(r.classes);
    switch (r.code) {
        case reason_code::frozen_outgoing_zero:
            return "All " + n + " units output 0 on every sample, and the outgoing weights (" + join(r.parameters) +
                   ") are zero, so no gradient reaches the layer; with a zero output the outgoing weights get none either.";
        case reason_code::frozen_dead_relu:
            return "All " + n + " units output 0 on every sample, and every relu unit sits at a pre-activation <= 0, "
                   "where relu' = 0, so no gradient reaches the incoming weights; with a zero output the outgoing "
                   "weights get none either (dead units).";
        case reason_code::gradients_stay_zero:
            return "The gradients of " + join(r.parameters) + " are exactly 0 and stay 0 under gradient descent, "
                   "momentum and Adam: this layer can never learn.";
        case reason_code::units_also_identical: return "Its units are also identical (effective width " + k + ").";
        case reason_code::units_form_classes:
            return n + " units form " + k + plural(r.classes, " class", " classes") + " (effective width " + k + " < " + n +
                   "): units in a class have the same bias and the same incoming and outgoing weights summed over each "
                   "class of the neighbouring layers (identical units are the simplest case), and the same gradients, "
                   "so they compute the same function of any input and receive the same gradient. Proved: gradient "
                   "descent, momentum and Adam started from equal state give such units updates that keep this, so in "
                   "exact arithmetic they stay tied forever. The layer computes what a layer of " + k +
                   plural(r.classes, " unit", " units") + " would.";
        case reason_code::gradients_zero_now: return "Its gradients are zero at this step.";
        case reason_code::weights_move_together:
            return "Its weights do move (" + join(r.parameters) + " have nonzero gradients), but together.";
        case reason_code::units_share_incoming:
            return std::to_string(r.groups) + plural(r.groups, " group", " groups") +
                   " of units share incoming weights and bias (e.g. units " + unit_list(r.example_units) +
                   ") but differ in outgoing weights or gradients, so the next update gives them different incoming "
                   "weights: they separate on their own. Not a problem.";
        case reason_code::all_units_distinct:
            return "All " + n + " units are distinct: training can make them learn different features.";
        case reason_code::output_zero_note: return "Note: the layer outputs 0 on every sample.";
        default: return unit_words(r);
    }
}

// Why the model got its verdict.
std::string model_words(const reason& r) {
    const std::string layers = std::to_string(r.layers) + plural(r.layers, " hidden layer", " hidden layers");
    switch (r.code) {
        case reason_code::no_hidden_layers:
            return "No hidden layers (no activation fed by matmul(W, .) + b and consumed by matmul(W', .)), so no units "
                   "can be symmetric. Zero initialisation is harmless here: in logistic regression, or any single layer "
                   "of weights, each weight's gradient (A - Y) X' / m is driven by its own input feature and output, and "
                   "the logistic-regression cost is convex, so zero and random starts reach the same minimum.";
        case reason_code::worst_layer_frozen:
            return layers + "; the worst is " + r.layer + ": frozen: no gradient reaches its weights, so training can "
                   "never move them.";
        case reason_code::worst_layer_symmetric:
            return layers + "; the worst is " + r.layer + ": symmetric: its " + std::to_string(r.units) + " units act as " +
                   std::to_string(r.classes) + ", and gradient descent, momentum and Adam cannot separate them.";
        case reason_code::worst_layer_transient:
            return layers + "; the worst is " + r.layer + ": transient: some units share incoming weights but separate "
                   "on the next step.";
        case reason_code::worst_layer_fragile:
            return layers + "; the worst is " + r.layer + ": fragile: tied units that only rounding separates, later "
                   "(the layer says when).";
        case reason_code::worst_layer_inactive:
            return layers + "; the worst is " + r.layer + ": inactive: some units are dead or saturated on every sample.";
        case reason_code::all_layers_distinct: return layers + ", all with distinct units.";
        case reason_code::others_still_move:
            return "Parameters that still move: " + join(r.parameters) + " (their gradients do not pass through the "
                   "frozen layer; an output bias's gradient is mean(A - Y), nonzero whenever the labels are imbalanced).";
        default: return {};  // not the model's code: words() routes it elsewhere
    }
}

// One reason's sentence. The switch names every code (no default), so the compiler flags a new code that
// has no words yet (-Wswitch); the fixes are worded here, the rest by layer_words and model_words.
std::string words(const reason& r) {
    switch (r.code) {
        case reason_code::frozen_outgoing_zero:
        case reason_code::frozen_dead_relu:
        case reason_code::gradients_stay_zero:
        case reason_code::units_also_identical:
        case reason_code::units_form_classes:
        case reason_code::gradients_zero_now:
        case reason_code::weights_move_together:
        case reason_code::units_share_incoming:
        case reason_code::all_units_distinct:
        case reason_code::output_zero_note:
        case reason_code::frozen_units_proved:
        case reason_code::starved_units:
        case reason_code::ties_hold_measured:
        case reason_code::ties_fragile:
        case reason_code::mirrored_units:
        case reason_code::dead_units:
        case reason_code::saturated_units:
        case reason_code::inactive_not_proved:
        case reason_code::transient_confirmed:
        case reason_code::incoming_tie_persists: return layer_words(r);
        case reason_code::no_hidden_layers:
        case reason_code::worst_layer_frozen:
        case reason_code::worst_layer_symmetric:
        case reason_code::worst_layer_transient:
        case reason_code::worst_layer_fragile:
        case reason_code::worst_layer_inactive:
        case reason_code::all_layers_distinct:
        case reason_code::others_still_move: return model_words(r);
        case reason_code::initialize_randomly: return initializer_advice(r);
        case reason_code::revive_dead_units:
            return "Units already dead stay dead: re-initialise them; a small positive bias or a lower learning rate "
                   "keeps relu units alive.";
        case reason_code::redraw_copied_units:
            return "Units " + unit_list(r.example_units) + " are copies of one another among otherwise distinct units: "
                   "re-draw all but one of them, or add small noise (about 1e-3 of the weights' scale) to each copy.";
        case reason_code::redraw_mirrored_units:
            return "Units " + unit_list(r.example_units) + " include a unit and its mirror: re-draw one of them.";
        case reason_code::dead_relu_fix:
            return "For dead relu units: He (Kaiming) initialisation, a leaky relu, or a smaller learning rate.";
        case reason_code::standardize_inputs:
            return "Standardise the inputs (--standardize) and use smaller initial weights, so that the first layer's "
                   "pre-activations start near 0, where the activation has a slope.";
        case reason_code::smaller_initial_weights:
            return "Use smaller initial weights (Glorot), so that pre-activations start where the activation has a slope.";
        case reason_code::fix_layers_above:
            return "Fix the frozen layers above this one first: until they pass a gradient back, this layer cannot learn.";
        case reason_code::none_needed: return "None needed.";
    }
    return {};
}

void classes_text(std::ostream& out, const layer_report& l) {
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

void layer_text(std::ostream& out, const layer_report& l) {
    out << "\n" << l.name << ": " << l.activation_kind << ", " << l.units << " units, effective width "
        << l.effective_width << ": " << to_string(l.verdict) << "\n";
    if (l.classes.size() == l.units)
        out << "  classes: all " << l.units << " units distinct\n";
    else
        classes_text(out, l);
    for (const auto& t : l.transient_groups) out << "  transient group: " << unit_list(t) << "\n";
    std::vector<std::size_t> mirrored;
    for (std::size_t u = 0; u < l.signs.size(); ++u)
        if (l.signs[u] < 0) mirrored.push_back(u);
    if (!mirrored.empty()) out << "  mirrored (sign -1 in their class): " << unit_list(mirrored) << "\n";
    if (!l.inactive_units.empty())
        out << "  dead or saturated on every sample: " << unit_list(l.inactive_units) << "\n";
    if (!l.frozen_units.empty()) out << "  proved frozen: " << unit_list(l.frozen_units) << "\n";
    out << "  moving: " << join(l.moving_parameters, "none of " + join(l.parameters)) << "\n";
    out << "  why: " << to_words(l.why) << "\n";
    out << "  fix: " << to_words(l.fix) << "\n";
}

}  // namespace

std::string to_words(const std::vector<reason>& reasons) {
    std::string s;
    for (const auto& r : reasons) s += (s.empty() ? "" : " ") + words(r);
    return s;
}

std::string to_text(const symmetry_report& report) {
    std::ostringstream out;
    out << "verdict: " << to_string(report.verdict);
    if (report.layers.empty())
        out << " (no hidden layers)\n";
    else
        out << " (worst of " << report.layers.size() << plural(report.layers.size(), " hidden layer", " hidden layers")
            << "; frozen > symmetric > fragile > inactive > transient > healthy)\n";
    if (report.exact)
        out << "comparison: exact (bit for bit)\n";
    else
        out << "comparison: within " << report.relative_tolerance << " of each tensor's largest |element|\n";
    if (report.lookahead_ran)
        out << "lookahead: a copy trained " << report.lookahead_steps << " steps with " << report.lookahead_optimizer
            << " (claims marked Measured)\n";
    else
        out << "lookahead: none (ties are proved in exact arithmetic only)\n";
    for (const auto& l : report.layers) layer_text(out, l);
    out << "\nparameters moving: " << join(report.moving_parameters) << "\n";
    out << "parameters not moving: " << join(report.still_parameters) << "\n";
    out << "why: " << to_words(report.why) << "\n";
    out << "fix: " << to_words(report.fix) << "\n";
    for (const auto& n : report.notes) out << "note: " << n << "\n";
    return out.str();
}

namespace {

// Whether a reason states what holds for ever (proved, in exact arithmetic with the optimizer's state as
// given), what the lookahead saw (measured), or a fact of the current state only (observed).
const char* basis(const reason& r) {
    switch (r.code) {
        case reason_code::frozen_outgoing_zero:
        case reason_code::frozen_dead_relu:
        case reason_code::gradients_stay_zero:
        case reason_code::units_form_classes:
        case reason_code::frozen_units_proved:
        case reason_code::starved_units:
        case reason_code::mirrored_units:
        case reason_code::worst_layer_frozen:
        case reason_code::worst_layer_symmetric:
        case reason_code::no_hidden_layers: return "proved";
        case reason_code::dead_units:
        case reason_code::saturated_units: return r.frozen_units == r.units ? "proved" : "observed";
        case reason_code::ties_hold_measured:
        case reason_code::ties_fragile:
        case reason_code::transient_confirmed:
        case reason_code::worst_layer_fragile:
        case reason_code::incoming_tie_persists: return "measured";
        default: return "observed";
    }
}

nlohmann::json claims(const std::vector<reason>& why) {
    nlohmann::json c = nlohmann::json::array();
    for (const auto& r : why) c.push_back({{"claim", words(r)}, {"basis", basis(r)}});
    return c;
}

// Per class of two or more units: its members, signs, each key's spread, and what the lookahead saw.
nlohmann::json certificate(const layer_report& l) {
    using nlohmann::json;
    json classes = json::array();
    for (std::size_t c = 0; c < l.classes.size(); ++c) {
        if (l.classes[c].size() < 2) continue;
        json spread = json::object(), signs = json::array();
        for (std::size_t k = 0; k < l.class_keys.size(); ++k) spread[l.class_keys[k]] = l.class_spreads[c][k];
        for (std::size_t u : l.classes[c]) signs.push_back(l.signs[u]);
        json entry = {{"units", l.classes[c]}, {"signs", signs}, {"spread", spread}};
        for (const auto& g : l.lookahead.classes) {
            if (g.cls != c) continue;
            entry["lookahead"] = {{"initial_spread", g.initial_spread}, {"final_spread", g.final_spread},
                                  {"max_spread", g.max_spread},         {"growth_per_100_steps", g.growth_per_100},
                                  {"grows", g.grows},                   {"steady", g.steady},
                                  {"separated_at", g.separated_at},     {"predicted_separation", g.predicted_separation}};
        }
        classes.push_back(entry);
    }
    json groups = json::array();
    for (const auto& g : l.lookahead.groups) groups.push_back({{"units", g.units}, {"separated_at", g.separated_at}});
    return {{"keys", l.class_keys}, {"tied_classes", classes}, {"transient_separations", groups},
            {"signs", l.signs}, {"max_derivative", l.max_derivative}, {"inactive_units", l.inactive_units},
            {"frozen_units", l.frozen_units}, {"claims", claims(l.why)}};
}

}  // namespace

nlohmann::json to_json_value(const symmetry_report& report) {
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
                          {"explanation", to_words(l.why)},
                          {"fix", to_words(l.fix)},
                          {"certificate", certificate(l)}});
    }
    return {{"verdict", to_string(report.verdict)},
            {"explanation", to_words(report.why)},
            {"fix", to_words(report.fix)},
            {"moving_parameters", report.moving_parameters},
            {"still_parameters", report.still_parameters},
            {"notes", report.notes},
            {"tolerance", {{"relative", report.relative_tolerance}, {"exact", report.exact}}},
            {"lookahead", {{"ran", report.lookahead_ran}, {"steps", report.lookahead_steps},
                           {"optimizer", report.lookahead_optimizer}, {"distinct_spread", distinct_spread},
                           {"rounding_spread", rounding_spread}}},
            {"claims", claims(report.why)},
            {"layers", layers}};
}

std::string to_json(const symmetry_report& report) { return to_json_value(report).dump(2); }

}  // namespace symgrad
