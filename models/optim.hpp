// Optimisers that update parameters in place from their gradients, and the training loop.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

class optimizer {
public:
    virtual ~optimizer() = default;
    virtual std::string name() const = 0;
    // Applies one update to every parameter of `params` using g.grad(p). State is sized on first use.
    virtual void step(graph& g, const std::vector<node>& params) = 0;
    // An independent copy with the same settings and state (velocities, moments, step count), so a copy of
    // a run can be trained ahead without touching the run's own optimizer (the analysis' lookahead).
    virtual std::unique_ptr<optimizer> clone() const = 0;
};

// W = W - lr * dW, the article's update.
std::unique_ptr<optimizer> make_gradient_descent(double learning_rate);
// v = beta v + dW; W = W - lr v (PyTorch's SGD momentum without dampening).
std::unique_ptr<optimizer> make_momentum(double learning_rate, double beta = 0.9);
// Adam (Kingma & Ba) with the usual defaults.
std::unique_ptr<optimizer> make_adam(double learning_rate, double beta1 = 0.9, double beta2 = 0.999,
                                     double epsilon = 1e-8);
// The one check of a learning rate, for the optimisers and symcheck's --lr alike: throws input_error
// "<where>: must be a positive finite number, got <as_written or lr>" unless lr is one.
void check_learning_rate(double lr, const std::string& where, const std::string& as_written = "");
// "gd", "momentum" or "adam"; throws input_error on anything else or on a learning rate that is not
// a positive finite number.
std::unique_ptr<optimizer> make_optimizer(const std::string& name, double learning_rate);

struct train_options {
    std::size_t iterations = 1000;
    bool progress = false;  // a progress line on stderr when it is a terminal
    std::string progress_label = "train";
    // Also evaluates the trained state: one more forward and backward pass after the last update, with no
    // update after it (iterations + 1 costs). Passes are then numbered 0..iterations by the updates made
    // before them, as symcheck's trace counts; otherwise 1..iterations by the update that follows.
    bool evaluate_final_state = false;
};

// Called after each iteration's update with the iteration number (1-based) and the cost computed in
// that iteration's forward pass (before the update). Return false to stop early.
using train_callback = std::function<bool(std::size_t iteration, double cost)>;

// What a close watcher of training (symcheck's trace, divergence check, weight tables) plugs into the loop.
struct train_hooks {
    // Runs first in each pass, e.g. to feed the pass's mini-batch (train_minibatches does).
    std::function<void(std::size_t pass)> before_pass;
    // Runs the forward and backward pass itself, e.g. an analysis that does both on the way; when empty
    // the loop calls g.forward() and g.backward(loss).
    std::function<void(std::size_t pass)> forward_backward;
    // Sees each pass's cost while values and gradients are still the pass's own, before the update;
    // throws to stop training (an anomaly).
    std::function<void(std::size_t pass, double cost)> before_update;
    // After the update (train_callback's contract); return false to stop early.
    train_callback after_update;
};

// Repeats forward, backward(loss), optimizer step; returns the cost of each pass.
std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_hooks& hooks);
std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_callback& callback = {});

class minibatches;
// train() with pass k fed batch k of `batches` into inputs x and y first (options.iterations updates; an
// epoch is batches.batches_per_epoch() of them). Each cost is its batch's. The optimisers are unchanged:
// each update uses the gradient of one batch.
std::vector<double> train_minibatches(graph& g, node loss, node x, node y, minibatches& batches, optimizer& opt,
                                      const train_options& options, const train_hooks& hooks = {});

}  // namespace symgrad
