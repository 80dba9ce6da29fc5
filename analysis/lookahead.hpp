// The lookahead: a copy of the state trained N steps with the run's own optimizer, tracking every class's spread.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/equitable_partition.hpp"
#include "models/optim.hpp"

namespace symgrad {

// Spread at or above which two units count as distinct: 1e-6 of their tensor's largest |element|, a
// thousand times the default tolerance, where a tie is plainly gone (the ground truth uses it too).
constexpr double distinct_spread = 1e-6;
// Spread that rounding alone leaves between units equal in exact arithmetic: 64 ulps of the tensor's scale.
constexpr double rounding_spread = 64 * 2.220446049250313e-16;

// What the lookahead saw of one class of two or more units (values only: W_in, b, W_out keys).
struct class_growth {
    std::size_t cls = 0;             // index into the layer's classes
    double initial_spread = 0.0;
    double final_spread = 0.0;
    double max_spread = 0.0;
    double growth_per_100 = 1.0;     // factor per 100 steps, fitted log-linearly over the second half of the run
    long separated_at = -1;          // first step with spread >= distinct_spread (measured), else -1
    long predicted_separation = -1;  // measured, or extrapolated when the growth is steady; -1: none
    // Separated; or growth_per_100 > 1.1 and final > 2 max(initial, rounding_spread); or, at the rounding
    // level, growth_per_100 > 2 with final > 2 initial and a positive spread on at least half the second half.
    bool grows = false;
    bool steady = false;             // the last quarter's growth rate is at least 0.9 of the third quarter's
};

// One group of units that share their incoming weights and bias now: the first step at which their W_in
// rows or biases differ by more than the tolerance (-1: not within the lookahead).
struct group_separation {
    std::vector<std::size_t> units;
    long separated_at = -1;
};

struct layer_lookahead {
    std::vector<class_growth> classes;      // one per class of two or more units
    std::vector<group_separation> groups;   // as given
    std::vector<bool> moved;                // per unit: its W_in row or bias differs at the end of the run
};

struct lookahead_result {
    bool ran = false;
    std::size_t steps = 0;  // steps actually run (a multiple of the steps asked for)
    std::string optimizer;
    std::vector<layer_lookahead> layers;
};

// How many rounds of `steps` steps the lookahead may run while some tie grows steadily without separating.
constexpr std::size_t extension_rounds = 10;

// Trains a copy of g's parameters `steps` steps (more rounds of `steps`, up to extension_rounds in all,
// while some tie not yet separated keeps growing steadily, or started exact and picked up a rounding
// difference) with a clone of `opt` (its state included), measuring
// the spreads of `parts` (classes of two or more units) and the incoming spread of `groups` (per layer)
// after every step; then puts every parameter back bit for bit and the graph's step counter too. The
// values and gradients of other nodes are those of the last step: run forward and backward again to read
// the original state. Throws what training throws (anomaly_error), after restoring the parameters.
lookahead_result run_lookahead(graph& g, node loss, const std::vector<hidden_layer>& layers,
                               const std::vector<layer_partition>& parts,
                               const std::vector<std::vector<std::vector<std::size_t>>>& groups, const optimizer& opt,
                               std::size_t steps, const comparison& how);

// The fit behind growth_per_100 and predicted_separation, from the spreads after step 0 .. N.
class_growth growth_of(const std::vector<double>& spreads);

}  // namespace symgrad
