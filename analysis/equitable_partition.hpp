// Classes as the coarsest equitable partition of all hidden layers at once (colour refinement), with signs.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/hidden_layers.hpp"
#include "engine/graph.hpp"

namespace symgrad {

// How numbers are compared: within relative_tolerance x (largest |element| of their tensor), or bit for bit.
struct comparison {
    double relative_tolerance = 1e-9;
    bool exact = false;
};

// One layer's share of the partition. Unit i is in classes[class_of[i]] with sign[i] = +1 or -1: a unit
// of sign -1 is the mirror (w, b, v) -> (-w, -b, -v) of its class's units (odd activations only, tanh).
struct layer_partition {
    std::vector<std::vector<std::size_t>> classes;  // each sorted, ordered by first unit
    std::vector<std::size_t> class_of;
    std::vector<int> sign;
    // The certificate: the compared keys ("b1", "db1", "W1", "dW1", "W2", "dW2": signed, and summed as means
    // over the neighbours' classes) and, per class, each key's largest difference from the class's first
    // unit, relative to the key's tensor's largest |element|.
    std::vector<std::string> keys;
    std::vector<bool> key_is_gradient;
    std::vector<std::vector<double>> spread;  // [class][key]
    // The largest spread of the class in any value key (parameters, not gradients).
    double value_spread(std::size_t cls) const;
};

// The coarsest partition of every hidden layer's units such that, after flipping each unit by its sign,
// two units of one class have equal biases and bias gradients, equal incoming weights (and gradients)
// summed over every class of the layer below (the data's inputs are singletons), and equal outgoing
// weights (and gradients) summed over every class of the layer above (outputs are singletons). Such
// classes compute the same function of any input and receive the same gradient, and training keeps
// them so (docs/diagnosis.md). Identical units are the special case. Found by colour refinement: every
// round regroups each layer on those sums over the current classes of its neighbours, with the layer's
// current class as one more key, until no layer splits (at most as many rounds as units, usually two or
// three; each round costs O(weights) plus a sort per split). `layers` as find_hidden_layers gives them;
// mirrored signs are looked for only when `mirrors` is on and the layer's activation is tanh.
std::vector<layer_partition> equitable_partition(const graph& g, const std::vector<hidden_layer>& layers,
                                                 const comparison& how, bool mirrors = true);

// Measures the spreads of `parts` (as given, signs included) again at g's current values and gradients:
// what the lookahead tracks while it trains.
void measure_spreads(const graph& g, const std::vector<hidden_layer>& layers, std::vector<layer_partition>& parts,
                     const comparison& how);

}  // namespace symgrad
