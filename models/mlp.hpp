// Fully connected networks in the article's column layout (X is features x samples).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

enum class activation { tanh, sigmoid, relu };
activation parse_activation(const std::string& name);  // throws input_error naming the choices
const char* to_string(activation a);

struct mlp_spec {
    std::size_t inputs = 0;
    std::vector<std::size_t> hidden;  // empty: logistic regression
    activation hidden_activation = activation::tanh;
};

// The built network: an ordinary graph plus handles to its named parts.
// Parameters W1, b1, ..., WL, bL; W_l is width_l x width_{l-1}, b_l is width_l x 1. The loss "J" is
// bce_with_logits of the last pre-activation "Z<L>"; the probabilities "A<L>" = sigmoid(Z<L>) are a second
// consumer of Z<L>, off the loss path. X is "X" (inputs x samples), Y is "Y" (1 x samples).
struct mlp {
    graph g;
    node X, Y;
    std::vector<node> W, b;
    node logits;  // Z<L>, what the loss reads
    node output;  // A<L>, the predicted probabilities
    node loss;
};

mlp build_mlp(const mlp_spec& spec, std::size_t samples);

// Completes a network whose X and logits are set: adds Y (unless set), the loss and the output probabilities. One
// logit row: Y is 1 x samples of 0/1 labels, the loss bce_with_logits, the output sigmoid(logits).
void attach_loss(mlp& net);

// The activation node of `a` on z (the layers of build_mlp and of networks read from weight files).
node activate(activation a, node z, const std::string& name);

// Cost and accuracy of a network on one data set.
struct evaluation {
    double cost = 0.0;
    double accuracy = 0.0;  // fraction of samples whose predicted class (probability >= 0.5) is their label
    std::size_t samples = 0;
};

// The evaluation path: feeds X and Y as one step and runs forward only, so the parameters' gradients stay
// those of the last backward. The graph keeps this data fed (and a plan for its size): training on it
// again needs its own data fed first, as train_minibatches does every pass.
evaluation evaluate(mlp& net, const tensor& X, const tensor& Y);
// Fraction of columns where (probability >= 0.5) equals the 0/1 label.
double accuracy(const tensor& probabilities, const tensor& labels);

}  // namespace symgrad
