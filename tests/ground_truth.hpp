// Ground truth for symmetry tests: an independent float64 trainer of the article's MLP, and the fate of
// every hidden unit measured by training (tied, mirrored, separated, never moved, dead or saturated).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "models/mlp.hpp"

namespace symgrad::truth {

// One fully connected layer: W is units x fan_in, b is units x 1.
struct dense_layer {
    tensor W;
    tensor b;
};

// The article's network: hidden layers with one activation, then one sigmoid output unit trained with
// binary cross-entropy averaged over the samples, so dZ_out = (A - Y) / m; or k >= 2 output units with a
// softmax over each sample's column and cross-entropy against k x m one-hot Y, again dZ_out = (A - Y) / m.
// The last layer is the output.
struct network_state {
    std::vector<dense_layer> layers;
    activation hidden = activation::tanh;
    std::size_t hidden_layers() const { return layers.empty() ? 0 : layers.size() - 1; }
    std::size_t width(std::size_t l) const { return layers[l].W.shape()[0]; }
};

// One forward and backward pass written with plain loops (no engine, no BLAS): every unit's row is
// summed in the same order wherever it sits, so identical units get identical bits.
struct pass_result {
    std::vector<tensor> A;           // A[l]: activation of layer l (units x samples), l = 0 .. L-1
    std::vector<tensor> derivative;  // derivative[l]: g'(Z_l) for hidden layers
    std::vector<tensor> dZ;          // dZ[l]: dJ/dZ_l
    std::vector<tensor> dW, db;      // gradients, same shapes as the parameters
    double cost = 0.0;               // mean BCE in the stable logits form, or mean softmax cross-entropy
};
pass_result forward_backward(const network_state& net, const tensor& X, const tensor& Y);

// gd, momentum (beta 0.9) and Adam (0.9, 0.999, 1e-8, bias-corrected): models/optim.cpp's formulas,
// written again here so the ground truth does not run the code under test.
class hand_optimizer {
public:
    hand_optimizer(std::string name, double learning_rate);
    void update(network_state& net, const pass_result& gradients);

private:
    std::string name_;
    double lr_;
    long t_ = 0;
    std::vector<tensor> first_, second_;  // per parameter W1, b1, W2, ...: velocity or Adam's moments
};

struct trainer_settings {
    std::string optimizer = "gd";  // gd, momentum, adam
    double learning_rate = 0.01;
    std::size_t steps = 1000;
};

// Which arithmetic trains: the hand loops above, or symgrad's own engine (build_mlp, make_optimizer).
enum class trainer_kind { hand, engine };

// Trains `start` for settings.steps steps; costs (one per step, before its update) go to *costs if given.
network_state train(const network_state& start, const tensor& X, const tensor& Y, const trainer_settings& settings,
                    trainer_kind kind, std::vector<double>* costs = nullptr);

// symgrad's network (build_mlp) for this state: X and Y fed, every W_l and b_l set to the state's. What
// trainer_kind::engine trains, and what a test hands to the analysis under test.
mlp build_engine_mlp(const network_state& state, const tensor& X, const tensor& Y);

namespace detail {
// Advances a state by one training step with one arithmetic; `current` is the hand pass at this state
// (the hand trainer reuses it, the engine runs its own). Returns the step's cost.
class stepper {
public:
    virtual ~stepper() = default;
    virtual double advance(network_state& net, const pass_result* current) = 0;
};
std::unique_ptr<stepper> make_stepper(trainer_kind kind, const network_state& start, const tensor& X, const tensor& Y,
                                      const trainer_settings& settings);
}  // namespace detail

// max over tensors of max|a - b| / max|a| (0 when both are zero): how far two trained states differ.
double max_relative_difference(const network_state& a, const network_state& b);

// --- fate ----------------------------------------------------------------------------------------------

struct fate_options {
    double tie_tolerance = 1e-9;         // "stayed tied": spread at most this at every step
    double separation_tolerance = 1e-6;  // "separated": first step whose spread exceeds this
    std::vector<std::size_t> checkpoints = {0, 1, 10, 100, 1000, 2000, 5000, 10000, 20000};
};

// What training did to one pair of units of a layer, for one sign: +1 compares (w, b, v) with (w, b, v),
// -1 compares (w, b, v) with (-w, -b, -v) (mirrored). Spreads are relative to each tensor's largest
// magnitude at that step, the max over incoming row, bias and outgoing column.
struct pair_record {
    std::size_t first = 0, second = 0;
    int sign = 1;
    double initial_spread = 0.0;
    double max_spread = 0.0;
    double final_spread = 0.0;
    long separated_at = -1;        // first step (number of updates done) with spread > separation_tolerance
    // The same on the data: rows of the activations and of dZ (a unit's function and its gradient), A_i
    // against sign * A_j; only tanh's mirrors are negated functions (a sigmoid's gives 1 - A, not -A).
    double initial_function_spread = 0.0;
    double max_function_spread = 0.0;
    long function_separated_at = -1;
};

struct width_at {
    std::size_t step = 0;
    std::size_t width = 0;  // classes of units tied on the data within separation_tolerance, dead ones left out
};

struct layer_fate {
    std::size_t units = 0;
    std::vector<pair_record> pairs;                     // every i < j, sign +1 then -1
    std::vector<std::vector<std::size_t>> tied_classes;  // identical (w, b, v) at every step (tanh: or mirrored)
    std::vector<int> sign;                              // per unit: +1, or -1 when mirrored to its class's first unit
    std::vector<std::vector<std::size_t>> function_classes;  // same activations and dZ on the data at every step
    std::vector<bool> never_moved;      // incoming row and bias bit-identical to the start at every step
    std::vector<double> max_derivative;  // largest |g'(z)| over every sample and step
    std::vector<width_at> effective_width;
    const pair_record& pair(std::size_t i, std::size_t j, int sign = 1) const;
    bool zero_derivative(std::size_t unit) const { return max_derivative[unit] == 0.0; }
    std::vector<pair_record> initially_tied(double tolerance) const;  // pairs whose initial spread <= tolerance
};

struct fate {
    std::vector<layer_fate> layers;  // hidden layers only
    std::vector<std::string> moved;  // parameter names (W1, b1, ...) that ever changed
    bool only_output_bias_moved = false;
    std::vector<double> costs;       // before each update, then the final state's
    network_state final_state;
    std::size_t steps = 0;
};

// Trains `start` with `kind`'s arithmetic and measures, at every step (and the final state), each hidden
// layer's pair spreads, derivatives and movement with the hand forward pass.
fate measure_fate(const network_state& start, const tensor& X, const tensor& Y, const trainer_settings& settings,
                  trainer_kind kind = trainer_kind::hand, const fate_options& options = {});

// A few lines for failure messages and docs: per layer the classes, separations, dead units, widths.
std::string describe(const fate& f, double tie_tolerance = 1e-9);

}  // namespace symgrad::truth
