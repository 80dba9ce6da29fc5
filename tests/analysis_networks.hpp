// Small networks for the analysis tests, and the ground truth they are checked against: training itself.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "models/mlp.hpp"
#include "models/optim.hpp"

namespace symgrad::testing {

// Labels x0 + x1/2 > 0 (one unit suffices, so a tie is a stable state) or x0 + x1/2 - x2 x3 > 0 (more
// units help, so a tie is a saddle that rounding can fall off).
enum class labels { linear, nonlinear };

// Standard normal features times `scale`, labelled by `rule` (fixed seed).
inline void feed_data(mlp& net, std::uint64_t seed, double scale = 1.0, labels rule = labels::linear) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor x = tensor::from_shape({net.X.shape().rows, net.X.shape().cols});
    for (auto& v : x) v = normal(rng);
    tensor y = tensor::from_shape({1, net.Y.shape().cols});
    for (std::size_t j = 0; j < y.size(); ++j) y.data()[j] = x(0, j) + 0.5 * x(1, j) - (rule == labels::nonlinear ? x(2, j) * x(3, j) : 0.0) > 0 ? 1.0 : 0.0;
    for (auto& v : x) v *= scale;
    net.g.feed(net.X, x);
    net.g.feed(net.Y, y);
}

inline void fill_normal(tensor& t, double std, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, std);
    for (auto& v : t) v = normal(rng);
}

// 4 inputs, 80 samples, weights normal(0, 0.5), biases normal(0, 0.1).
inline mlp random_mlp(std::vector<std::size_t> hidden, activation act, std::uint64_t seed = 3, double data_scale = 1.0,
                      labels rule = labels::linear) {
    mlp net = build_mlp({4, std::move(hidden), act}, 80);
    feed_data(net, seed, data_scale, rule);
    for (std::size_t l = 0; l < net.W.size(); ++l) fill_normal(net.g.value(net.W[l]), 0.5, seed + 10 * l + 1);
    for (std::size_t l = 0; l < net.b.size(); ++l) fill_normal(net.g.value(net.b[l]), 0.1, seed + 10 * l + 2);
    return net;
}

// The learning rates the ground truth trains with: each converges on these networks.
inline double learning_rate(const std::string& optimizer) { return optimizer == "gd" ? 0.5 : optimizer == "momentum" ? 0.05 : 0.01; }

inline void train_steps(mlp& net, const std::string& optimizer, std::size_t steps) {
    auto opt = make_optimizer(optimizer, learning_rate(optimizer));
    train_options options;
    options.iterations = steps;
    train(net.g, net.loss, *opt, options);
    net.g.forward();
}

// How far units i and j of hidden layer l are apart: the largest |difference| of their W_in rows, biases
// and W_out columns (j's flipped by `sign`), each relative to its tensor's largest |element|.
inline double unit_spread(const mlp& net, std::size_t l, std::size_t i, std::size_t j, int sign = 1) {
    double spread = 0.0;
    auto part = [&](const tensor& t, bool by_row) {
        double scale = 0.0;
        for (double v : t) scale = std::max(scale, std::abs(v));
        if (scale == 0.0) return;
        std::size_t n = by_row ? t.shape()[1] : t.shape()[0];
        for (std::size_t e = 0; e < n; ++e) {
            double a = by_row ? t(i, e) : t(e, i), b = by_row ? t(j, e) : t(e, j);
            spread = std::max(spread, std::abs(a - sign * b) / scale);
        }
    };
    part(net.g.value(net.W[l]), true);
    part(net.g.value(net.b[l]), true);
    part(net.g.value(net.W[l + 1]), false);
    return spread;
}

// Trains `steps` steps and returns the largest spread of any of `pairs` (i, j of hidden layer 0) seen at
// every 10th step and at the end: when units became distinct, not only where they ended.
inline double max_spread_while_training(mlp& net, const std::string& optimizer, std::size_t steps,
                                        const std::vector<std::pair<std::size_t, std::size_t>>& pairs) {
    auto opt = make_optimizer(optimizer, learning_rate(optimizer));
    const auto params = net.g.parameters();
    double spread = 0.0;
    for (std::size_t t = 1; t <= steps; ++t) {
        net.g.forward();
        net.g.backward(net.loss);
        opt->step(net.g, params);
        if (t % 10 == 0 || t == steps)
            for (auto [i, j] : pairs) spread = std::max(spread, unit_spread(net, 0, i, j));
    }
    return spread;
}

}  // namespace symgrad::testing
