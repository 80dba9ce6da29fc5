// The operations users build graphs from. Each returns a new node in its operands' graph.
#pragma once
#include <string>

#include "engine/graph.hpp"

namespace symgrad {

// Matrix product (n x k)(k x m) -> (n x m), through BLAS.
node matmul(node a, node b, const std::string& name = {});

// Elementwise with NumPy broadcasting between matrices ((h,1) over (h,m), (1,1) over anything).
node add(node a, node b, const std::string& name = {});
node sub(node a, node b, const std::string& name = {});
node mul(node a, node b, const std::string& name = {});
inline node operator+(node a, node b) { return add(a, b); }
inline node operator-(node a, node b) { return sub(a, b); }
inline node operator*(node a, node b) { return mul(a, b); }

node neg(node a, const std::string& name = {});
node scale(node a, double factor, const std::string& name = {});
inline node operator-(node a) { return neg(a); }
inline node operator*(double factor, node a) { return scale(a, factor); }
inline node operator*(node a, double factor) { return scale(a, factor); }

// Activations and elementwise functions.
node tanh(node a, const std::string& name = {});
node sigmoid(node a, const std::string& name = {});
node relu(node a, const std::string& name = {});
node leaky_relu(node a, double slope = 0.01, const std::string& name = {});  // x > 0 ? x : slope * x
node exp(node a, const std::string& name = {});
node log(node a, const std::string& name = {});

// Reductions to 1x1, and transpose.
node sum(node a, const std::string& name = {});
node mean(node a, const std::string& name = {});
node transpose(node a, const std::string& name = {});

// Binary cross-entropy from probabilities A against 0/1 labels Y (same shape), averaged over all
// elements. Probabilities are clamped to [bce_clamp, 1 - bce_clamp] inside the logs and the gradient,
// so A = 0 or 1 gives a finite cost (at most -log(1e-12) ~ 27.6 per element) and gradient.
constexpr double bce_clamp = 1e-12;
node bce(node probabilities, node labels, const std::string& name = {});

// Binary cross-entropy on logits Z, stable for any z: mean of max(z,0) - z*y + log1p(exp(-|z|));
// gradient (sigmoid(z) - y) / N, no clamp, the sigmoid within 2.5 ulp (the vectorised kernel; docs/engine.md).
node bce_with_logits(node logits, node labels, const std::string& name = {});

// Multi-class cross-entropy on k x m logits Z (one column per sample) against labels Y of the same shape
// (one-hot or probability columns): the mean over the m columns of -sum_c y_c log softmax(z)_c, with each
// column's log-sum-exp taken after subtracting its max, so any finite logits give a finite cost. Gradient
// (softmax(z) - y) / m for columns of Y that sum to 1.
node softmax_cross_entropy(node logits, node labels, const std::string& name = {});
// softmax down each column: exp(z_c - max) / sum_c' exp(z_c' - max), the class probabilities of a sample.
node softmax(node logits, const std::string& name = {});

}  // namespace symgrad
