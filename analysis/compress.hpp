// The lossless smaller equivalent of a model file: tied units merged, dead and unused units removed.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/equitable_partition.hpp"
#include "models/model_file.hpp"

namespace symgrad {

// What happened to one hidden layer. Unit indices are the layer's units in the file (before compression).
struct layer_compression {
    std::string name;             // as find_hidden_layers names it: "hidden layer 1 (A1: fc1.weight, ...)"
    std::string activation_kind;  // "tanh", "sigmoid", "relu"
    std::string weights_in, bias; // parameter names (bias empty when the layer has none)
    std::vector<std::string> weights_out;
    std::size_t units_before = 0, units_after = 0;
    // The classes of units that compute the same output (up to sign), each sorted; the first unit is the
    // representative that is kept. Only units that survive removal appear here.
    std::vector<std::vector<std::size_t>> classes;
    // Every class of the units that were not dead, unused ones included (what the weight-only analysis shows).
    std::vector<std::vector<std::size_t>> tied_classes;
    std::vector<int> sign;                   // per unit: -1 for a mirror of its representative (tanh)
    std::vector<long> kept_as;               // per unit: its new index, -1 when removed or merged away
    std::vector<std::size_t> dead;           // output provably 0 for every input: relu with zero row and b <= 0,
                                             // tanh with zero row and b == 0
    std::vector<std::size_t> unused;         // outgoing weights all zero (after summing over its class)
    double merge_spread = 0.0;  // largest difference inside a merged class, relative to its tensor's scale
};

struct compression {
    model_file model;                    // the smaller model: same parameter names, origins and format
    std::vector<layer_compression> layers;
    std::size_t parameters_before = 0, parameters_after = 0;  // numbers held by all parameters
    bool exact_merges = true;            // every merged class was bitwise equal (false: within tolerance)
    std::vector<std::string> notes;      // layers not compressed and why
};

// Layer by layer from the input side: units whose incoming weights and bias are equal (after the previous
// layer's merges summed their incoming columns, so forward-equitable ties merge too) become one unit; for
// tanh, a mirrored unit (-w, -b) joins with sign -1. The representative keeps its incoming row, its
// outgoing column becomes the signed sum over the class. Units whose output is provably 0 and units whose
// summed outgoing weights are all zero are removed; a layer keeps at least one unit (with zero outgoing
// weights when all were removable). Units equal only within `how`'s tolerance are merged too (then
// exact_merges is false): the caller checks the outputs. Relu units dead only on some data are kept.
compression compress_model(const model_file& model, const comparison& how);

// The numbers held by all of model's parameters.
std::size_t parameter_count(const model_file& model);

}  // namespace symgrad
