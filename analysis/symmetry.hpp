// Hidden-unit symmetry analysis: finds hidden layers by structure, groups identical units, gives verdicts.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

// --- structure -------------------------------------------------------------------------------------

// The activation kinds that make a hidden layer by default.
std::vector<std::string> default_hidden_activations();

// A hidden layer found in a graph: A = act(matmul(W_in, input) + b) consumed only by matmul(W_out, A)
// nodes. Hidden unit i is row i of W_in, row i of b and column i of every W_out.
struct hidden_layer {
    std::string name;            // "hidden layer 1 (A1: W1, b1, W2)"
    node activation;             // the activation node (A1)
    node pre_activation;         // the add node (or the matmul when the layer has no bias)
    node input;                  // what W_in multiplies (X, or the previous layer's activation)
    node weights_in;             // W_in, units x fan_in
    node bias;                   // b, units x 1; invalid (valid() false) for a layer without bias
    std::vector<node> weights_out;  // W_out, fan_out x units: one per consumer, in creation order
    std::size_t units() const { return weights_in.shape().rows; }
    std::vector<node> parameters() const;  // W_in, b (if any), then each W_out
};

// Finds every hidden layer from the graph's structure alone, in topological order. An activation node of
// one of `activations` kinds qualifies when its operand is add(matmul(W_in, ·), b) in either operand order
// (or matmul(W_in, ·) alone), W_in and b are parameters, b is (units x 1), and every consumer of the
// activation is matmul(W_out, activation) with W_out a parameter (at least one). Candidates that match
// the input side and feed some matmul(W_out, ·) but also something else are skipped, with one line each
// in `skipped` when given (their units' fate also depends on that other consumer).
std::vector<hidden_layer> find_hidden_layers(const graph& g,
                                             const std::vector<std::string>& activations = default_hidden_activations(),
                                             std::vector<std::string>* skipped = nullptr);

// --- grouping --------------------------------------------------------------------------------------

// One tensor's share of every unit: unit i owns row i (axis::row) or column i (axis::column) of *values.
// Two units agree on the slice when every pair of corresponding elements differs by at most `tolerance`
// (absolute; 0 means exactly equal as doubles, so +0 and -0 agree).
struct unit_slice {
    enum class axis { row, column };
    const tensor* values = nullptr;
    axis owned = axis::row;
    double tolerance = 0.0;
};

// Groups `units` units into classes, each a sorted list of unit indices, classes ordered by first unit.
// Units that agree on every slice are always in the same class, with no bucket-boundary effects: the
// classes are the coarsest partition in which, for every element of every slice, a class's values
// sorted have no gap above the tolerance (unique, so independent of the order of units and slices).
// Found without comparing pairs: a candidate class is sorted on the first element whose values spread
// over more than the tolerance and cut at its gaps, and the pieces are checked again, until nothing is
// cut. Cost O(P) when units are identical, O(P log n) when they are distinct or in small classes (P =
// units x numbers per unit); each further cut a piece goes through re-reads it once more. Throws
// graph_error on a slice whose shape does not have `units` rows (columns), anomaly_error on a NaN.
std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices);

// --- verdicts --------------------------------------------------------------------------------------

// Worst first: frozen > symmetric > transient > healthy (the model's verdict is its worst layer's).
enum class symmetry_verdict { healthy, transient, symmetric, frozen };
const char* to_string(symmetry_verdict v);  // "healthy", "transient", "symmetric", "frozen"

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
};

// Everything one layer's verdict rests on. Plain fields, so it maps directly onto JSON.
struct layer_report {
    std::string name;                                 // "hidden layer 1 (A1: W1, b1, W2)"
    std::string activation;                           // node name, e.g. "A1"
    std::string activation_kind;                      // "tanh", "sigmoid", "relu"
    std::vector<std::string> parameters;              // W_in, b, W_out names
    std::size_t units = 0;
    std::size_t effective_width = 0;                  // number of classes
    std::vector<std::vector<std::size_t>> classes;    // every unit in exactly one class
    // Units sharing incoming weights and bias but split by outgoing weights or gradients (transient).
    std::vector<std::vector<std::size_t>> transient_groups;
    symmetry_verdict verdict = symmetry_verdict::healthy;
    std::vector<std::string> moving_parameters;       // this layer's parameters with a nonzero gradient
    bool output_zero = false;                         // the activation is 0 for every unit and sample
    double class_spread = 0.0;  // largest |difference| inside a class, relative to its tensor's scale
    std::string explanation;
    std::string fix;
};

struct symmetry_report {
    symmetry_verdict verdict = symmetry_verdict::healthy;
    std::vector<layer_report> layers;                  // empty: the graph has no hidden layer
    std::vector<std::string> moving_parameters;        // every parameter of the graph with a nonzero gradient
    std::vector<std::string> still_parameters;         // every parameter whose gradient is exactly zero
    std::vector<std::string> notes;                    // skipped candidate layers and similar remarks
    double relative_tolerance = 0.0;
    bool exact = false;
    std::string explanation;
    std::string fix;
    bool has_problem() const {
        return verdict == symmetry_verdict::symmetric || verdict == symmetry_verdict::frozen;
    }
};

// Runs g.forward() and g.backward(loss) itself (inputs must be fed), so values and gradients belong to the
// same state, then analyses every hidden layer of g. It marks each layer's activation retained (to read
// it after the pass), which changes no value. Throws anomaly_error naming the tensor when a parameter,
// gradient or activation holds NaN or Inf: no verdict is computed from them.
symmetry_report analyse_symmetry(graph& g, node loss, const symmetry_options& options = {});

// A readable multi-line report (what symcheck prints).
std::string to_text(const symmetry_report& report);
// The report as a JSON object: verdict, explanation, fix, moving_parameters, still_parameters, notes,
// tolerance {relative, exact}, layers [{name, activation, activation_kind, parameters, units,
// effective_width, classes, transient_groups, verdict, moving_parameters, output_zero, class_spread,
// explanation, fix}].
std::string to_json(const symmetry_report& report);

}  // namespace symgrad
