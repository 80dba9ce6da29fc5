// Hidden-unit symmetry analysis: runs the passes, gathers the facts per layer and has them decided.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/hidden_layers.hpp"
#include "analysis/lookahead.hpp"
#include "analysis/unit_grouping.hpp"
#include "analysis/verdicts.hpp"
#include "engine/graph.hpp"

namespace symgrad {

struct symmetry_options {
    // Units agree when every element of a tensor differs by at most relative_tolerance * (largest |element|
    // of that tensor), per tensor (W_in, b, W_out and each gradient separately). 1e-9 sits far above the
    // rounding differences BLAS and vectorised kernels leave between rows equal in exact arithmetic
    // (about m * 1.1e-16 relative per product, 2.4e-13 at m = 2201 samples) and far below any difference
    // an initialiser makes (normal(0,1) * 0.01 rows differ at the 1e-2 relative level).
    double relative_tolerance = 1e-9;
    // Bit-for-bit comparison instead (+0 and -0 still agree): last-bit differences make units distinct.
    bool exact = false;
    std::vector<std::string> activations = default_hidden_activations();
    // The lookahead (analysis/lookahead.hpp): with an optimizer, a copy of the state is trained
    // lookahead_steps steps with a clone of it (state included) to measure whether ties hold, and the
    // parameters are put back. Without one (or with 0 steps) ties are proved in exact arithmetic only.
    const optimizer* lookahead_optimizer = nullptr;
    std::size_t lookahead_steps = 300;
    // Look for tanh units mirrored as (w, b, v) -> (-w, -b, -v) and class them with their originals.
    bool mirrors = true;
};

// Everything one layer's verdict rests on, and the verdict with its reasons (words: analysis/report.hpp).
struct layer_report {
    std::string name;                                 // "hidden layer 1 (A1: W1, b1, W2)"
    std::string activation;                           // node name, e.g. "A1"
    std::string activation_kind;                      // "tanh", "sigmoid", "relu"
    std::vector<std::string> parameters;              // W_in, b, W_out names
    std::size_t units = 0;
    std::size_t effective_width = 0;                  // classes holding a unit that is not dead or saturated
    std::vector<std::vector<std::size_t>> classes;    // every unit in exactly one class
    std::vector<int> signs;                           // per unit: -1 for a mirror of its class's units
    // The certificate: the keys compared (b1, db1, W1, dW1, W2, dW2) and per class each key's spread.
    std::vector<std::string> class_keys;
    std::vector<std::vector<double>> class_spreads;   // [class][key], relative to the key's tensor
    std::vector<double> max_derivative;               // per unit, over the samples (-1: unknown kind)
    std::vector<std::size_t> inactive_units;          // dead (relu) or saturated on every sample
    std::vector<std::size_t> frozen_units;            // proved never to move
    layer_lookahead lookahead;                        // growth per class of two or more, group separations
    // Units sharing incoming weights and bias but split by outgoing weights or gradients (transient).
    std::vector<std::vector<std::size_t>> transient_groups;
    symmetry_verdict verdict = symmetry_verdict::healthy;
    std::vector<std::string> moving_parameters;       // this layer's parameters with a nonzero gradient
    bool output_zero = false;                         // the activation is 0 for every unit and sample
    double class_spread = 0.0;  // largest |difference| inside a class, relative to its tensor's scale
    std::vector<reason> why;
    std::vector<reason> fix;
};

struct symmetry_report {
    symmetry_verdict verdict = symmetry_verdict::healthy;
    std::vector<layer_report> layers;                  // empty: the graph has no hidden layer
    std::vector<std::string> moving_parameters;        // every parameter of the graph with a nonzero gradient
    std::vector<std::string> still_parameters;         // every parameter whose gradient is exactly zero
    std::vector<std::string> notes;                    // skipped candidate layers and similar remarks
    double relative_tolerance = 0.0;
    bool exact = false;
    bool lookahead_ran = false;
    std::size_t lookahead_steps = 0;
    std::string lookahead_optimizer;
    std::vector<reason> why;
    std::vector<reason> fix;
    bool has_problem() const { return is_problem(verdict); }  // frozen, symmetric, fragile, inactive
};

// The one check of a relative tolerance (finite, >= 0), for the library and for symcheck's --tolerance: throws
// input_error "<where>: must be a finite number >= 0".
void check_relative_tolerance(double tolerance, const std::string& where);

// Runs g.forward() and g.backward(loss) itself (inputs must be fed), so values and gradients belong to the
// same state, then analyses every hidden layer of g. It marks each layer's activation retained (to read
// it after the pass), which changes no value. With a lookahead it trains and restores the parameters,
// then runs forward and backward once more, so g ends as it would without one. Throws anomaly_error naming the tensor when a parameter,
// gradient or activation holds NaN or Inf: no verdict is computed from them.
symmetry_report analyze_symmetry(graph& g, node loss, const symmetry_options& options = {});

}  // namespace symgrad
