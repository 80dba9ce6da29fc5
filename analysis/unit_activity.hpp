// Dead and saturated units, and the units that training provably never moves (frozen).
#pragma once
#include <vector>

#include "analysis/hidden_layers.hpp"
#include "engine/graph.hpp"

namespace symgrad {

// One layer's units at the current state (g after forward and backward).
struct unit_activity {
    // Largest derivative of the activation over the samples, as the engine's backward computes it from the
    // output (relu: 1 where A > 0; tanh: 1 - A^2; sigmoid: A (1 - A)). -1 for other activation kinds.
    std::vector<double> max_derivative;
    // max_derivative below rounding (<= 2^-52) on every sample: dead (relu) or saturated (tanh, sigmoid).
    std::vector<bool> inactive;
    // Proved never to move under gradient descent, momentum or Adam whose state for them is zero (fresh):
    // see unit_activities.
    std::vector<bool> frozen;
    std::vector<bool> output_zero;  // A = 0 on every sample
};

// Per layer. The frozen units are the largest set F such that every unit of F has zero incoming gradients
// now, reads fixed input (the data, or a layer whose units are all in F), and either has derivative
// exactly 0 on every sample, or sends nothing anywhere but into F (each outgoing weight is zero with an
// output of 0 on every sample, or leads to a unit of F). Then, by induction over the steps, nothing of F
// moves: its pre-activations stay, so its derivatives stay 0 and no gradient reaches it
// (docs/diagnosis.md). Found by removing units that break the rule until none does, from the first layer up.
// `excluded` (per layer, per unit; may be empty) removes units from F at the start: units that the
// lookahead saw move, because the optimizer's state (momentum, Adam's moments after training) moved them.
std::vector<unit_activity> unit_activities(const graph& g, const std::vector<hidden_layer>& layers,
                                           const std::vector<std::vector<bool>>& excluded = {});

}  // namespace symgrad
