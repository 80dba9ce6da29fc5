// Structure discovery: finds hidden layers in any graph, act(matmul(W_in, ·) + b) feeding matmul(W_out, ·).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

// The activation kinds that make a hidden layer by default (op_kinds tanh, sigmoid, relu).
std::vector<std::string> default_hidden_activations();

// A hidden layer found in a graph: A = act(matmul(W_in, input) + b) consumed only by matmul(W_out, A)
// nodes. Hidden unit i is row i of W_in, row i of b and column i of every W_out.
struct hidden_layer {
    std::string name;            // "hidden layer 1 (A1: W1, b1, W2)"
    node activation;             // the activation node (A1)
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

}  // namespace symgrad
