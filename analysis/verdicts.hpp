// The verdicts as data: decide() maps the facts about a layer (or the model) to a verdict and reason records.
// No words here: analysis/report.cpp renders each reason_code into text.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "models/init.hpp"

namespace symgrad {

// Worst last: frozen > symmetric > fragile > inactive > transient > healthy (the model takes its worst
// layer's). fragile: tied units that the lookahead sees separating through rounding; inactive: some units
// dead or saturated on every sample (docs/diagnosis.md).
enum class symmetry_verdict { healthy, transient, inactive, fragile, symmetric, frozen };
const char* to_string(symmetry_verdict v);  // "healthy", "transient", "inactive", "fragile", "symmetric", "frozen"
// frozen, symmetric, fragile and inactive are problems (symcheck exits 1); transient and healthy are not.
bool is_problem(symmetry_verdict v);

// Why a verdict was given, or what to do about it. Each code reads only the reason's fields named beside it.
enum class reason_code {
    // why, per layer
    frozen_outgoing_zero,    // units, parameters = the outgoing weights: zero output and zero W_out
    frozen_dead_relu,        // units: zero output, relu units at pre-activation <= 0
    gradients_stay_zero,     // parameters = the layer's: all gradients exactly 0, forever
    units_also_identical,    // classes: a frozen layer whose units are also identical
    units_form_classes,      // units, classes: identical units stay identical
    gradients_zero_now,      // -: a symmetric layer with zero gradients at this step
    weights_move_together,   // parameters = the moving ones: a symmetric layer whose weights move in step
    units_share_incoming,    // groups, example_units: transient groups
    all_units_distinct,      // units
    output_zero_note,        // -: the output is 0 on every sample (not frozen)
    frozen_units_proved,     // units, activation_kind: every unit proved frozen by the unit rule
    starved_units,           // units: frozen units that are alive but get no gradient (everything above frozen)
    ties_hold_measured,      // classes, steps, optimizer: tied classes the lookahead saw not grow beyond rounding
    ties_fragile,            // classes, steps, optimizer, growth, iteration, example_units: ties that grow
    mirrored_units,          // classes, example_units: classes holding a unit and its mirror (tanh)
    dead_units,              // units, frozen_units, example_units: relu units at Z <= 0 on every sample
    saturated_units,         // units, frozen_units, example_units: derivative below rounding on every sample
    inactive_not_proved,     // units: inactive now, input or derivative may still change ("dead now")
    transient_confirmed,     // groups, iteration, optimizer: the lookahead saw them separate at that step
    incoming_tie_persists,   // groups, steps, optimizer, example_units: shared incoming weights that did not separate
    // why, for the model
    no_hidden_layers,        // -
    worst_layer_frozen,      // layers, layer
    worst_layer_symmetric,   // layers, layer, units, classes
    worst_layer_transient,   // layers, layer
    worst_layer_fragile,     // layers, layer
    worst_layer_inactive,    // layers, layer
    all_layers_distinct,     // layers
    others_still_move,       // parameters = every moving one: what moves beside a frozen layer
    // fix
    initialize_randomly,     // activation_kind, initializer: Glorot, or He for relu
    revive_dead_units,       // -: re-initialize dead relu units
    redraw_copied_units,     // example_units: one class of copies among distinct units: re-draw or add noise
    redraw_mirrored_units,   // example_units: a unit and its mirror: re-draw one
    dead_relu_fix,           // -: He init, leaky relu, smaller learning rate
    standardize_inputs,      // -: a saturated first layer: --standardize and smaller initial weights
    smaller_initial_weights, // -: a saturated deeper layer
    fix_layers_above,        // -: a layer starved by frozen layers above it
    none_needed,             // -  (keep last: tests/test_analysis_report.cpp iterates up to it)
};

struct reason {
    reason_code code = reason_code::none_needed;
    std::size_t units = 0;
    std::size_t classes = 0;
    std::size_t groups = 0;
    std::size_t layers = 0;
    std::string layer;                       // a layer's name
    std::string activation_kind;             // "tanh", "sigmoid", "relu"
    std::vector<std::string> parameters;     // parameter names
    std::vector<std::size_t> example_units;  // one transient group, tied class or list of dead units
    std::size_t frozen_units = 0;
    std::size_t steps = 0;                   // lookahead steps
    std::string optimizer;                   // the lookahead's optimizer
    double growth = 1.0;                     // fastest growth factor per 100 steps
    long iteration = -1;                     // a measured or predicted step
    initializer recommended;                 // the random initializer to use instead
    friend bool operator==(const reason& a, const reason& b);
};

struct decision {
    symmetry_verdict verdict = symmetry_verdict::healthy;
    std::vector<reason> why;
    std::vector<reason> fix;
};

// Everything one layer's verdict rests on, measured by analyze_symmetry (analysis/symmetry.cpp).
struct layer_facts {
    std::string activation_kind;                // op kind of the activation
    std::size_t units = 0;
    std::size_t effective_width = 0;            // number of classes
    std::vector<std::string> parameters;        // W_in, b (if any), each W_out
    std::vector<std::string> weights_out;       // each W_out
    std::vector<std::string> moving_parameters; // the layer's parameters with a nonzero gradient
    std::vector<std::vector<std::size_t>> transient_groups;  // share W_in row and bias, split otherwise
    bool output_zero = false;    // the activation is 0 for every unit and sample
    bool weights_out_zero = false;  // every W_out is all zero
    bool weights_in_zero = false;   // W_in is all zero
    bool input_is_data = false;     // W_in multiplies an input node, which training cannot change
    // Issue 10: units and ties (analysis/unit_activity, analysis/lookahead).
    std::vector<std::size_t> inactive_units;  // derivative below rounding on every sample (dead, saturated)
    std::vector<std::size_t> frozen_units;    // proved never to move
    std::size_t tied_classes = 0;             // classes of two or more active units
    std::size_t mirrored_classes = 0;         // tied classes holding units of both signs
    std::vector<std::size_t> first_tie;       // the units of the first class of two or more active units
    bool lookahead_ran = false;
    bool moved_in_lookahead = false;          // some unit's W_in row or bias moved in the lookahead
    std::size_t lookahead_steps = 0;
    std::string lookahead_optimizer;
    std::size_t fragile_classes = 0;          // tied classes that the lookahead saw grow
    std::vector<std::size_t> first_fragile;   // the units of the first of them
    double fastest_growth = 1.0;              // among them, per 100 steps
    long earliest_separation = -1;            // among them, measured or predicted step
    std::vector<long> transient_separated_at; // per transient group: step the lookahead saw it split, -1 none
};

// Frozen needs a proof that nothing in the layer can ever move (see docs/symcheck-analysis.md): the output
// is 0 everywhere, no gradient can reach the pre-activation (W_out = 0, or relu units at or below 0 where
// relu' = 0), and the pre-activation cannot change (W_in = 0, or it reads data); or every unit is in the
// proved-frozen set (analysis/unit_activity.hpp). Then, with ties (fewer classes than active units):
// symmetric when some tie holds (no lookahead, or it saw no growth), fragile when every tie grows; then
// fragile for shared incoming weights the lookahead did not see separate; inactive (dead or saturated
// units); transient (some transient group, confirmed by the lookahead when it ran); healthy.
decision decide(const layer_facts& facts);

// One decided layer, as the model's verdict sees it.
struct layer_outcome {
    std::string name;
    std::size_t units = 0;
    std::size_t effective_width = 0;
    decision decided;
};

struct model_facts {
    std::vector<layer_outcome> layers;            // in topological order
    std::vector<std::string> moving_parameters;  // every parameter of the graph with a nonzero gradient
};

// The model's verdict is its worst layer's (the first of them), and so is its fix.
decision decide(const model_facts& facts);

}  // namespace symgrad
