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
    // Logit rows: 1 is the binary head (sigmoid, bce_with_logits); k >= 2 a softmax head over k classes
    // (softmax, softmax_cross_entropy). Data with k >= 3 classes needs outputs = k.
    std::size_t outputs = 1;
};

// The built network: an ordinary graph plus handles to its named parts.
// Parameters W1, b1, ..., WL, bL; W_l is width_l x width_{l-1}, b_l is width_l x 1. The loss "J" reads the
// last pre-activation "Z<L>" (outputs x samples): bce_with_logits for one row, softmax_cross_entropy for k
// rows; the probabilities "A<L>" (sigmoid or column softmax of Z<L>) are a second consumer of Z<L>, off
// the loss path. X is "X" (inputs x samples), Y is "Y" (outputs x samples: 0/1, or one-hot columns).
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
// logit row: Y is 1 x samples of 0/1 labels, the loss bce_with_logits, the output sigmoid(logits). k >= 2
// rows: Y is k x samples of one-hot (or probability) columns, the loss softmax_cross_entropy, the output
// softmax(logits) column by column.
void attach_loss(mlp& net);

// Labels in the layout a head of `outputs` logit rows reads: Y itself when it has that many rows, and
// 1 x m 0/1 labels as two one-hot rows (1 - y; y) for a two-row softmax head (a PyTorch model with two
// logits, on data whose two classes the loader codes 0/1). Anything else: input_error naming both shapes.
tensor labels_for_head(const tensor& Y, std::size_t outputs);

// The activation node of `a` on z (the layers of build_mlp and of networks read from weight files).
node activate(activation a, node z, const std::string& name);

// Cost and accuracy of a network on one data set.
struct evaluation {
    double cost = 0.0;
    // Fraction of samples whose predicted class is their label: probability >= 0.5 for one row, the row
    // of the largest probability for k rows.
    double accuracy = 0.0;
    std::size_t samples = 0;
};

// The evaluation path: feeds X and Y as one step and runs forward only, so the parameters' gradients stay
// those of the last backward. The graph keeps this data fed (and a plan for its size): training on it
// again needs its own data fed first, as train_minibatches does every pass.
evaluation evaluate(mlp& net, const tensor& X, const tensor& Y);
// Fraction of columns where the predicted class is the label's. One row: (probability >= 0.5) against the
// 0/1 label. k rows: the row of the column's largest probability (the first on a tie) against the row of
// the label column's largest entry (its 1 when one-hot).
double accuracy(const tensor& probabilities, const tensor& labels);

}  // namespace symgrad
