// The adversarial networks of issue 10 and the article's controls, built deterministically (adversarial_cases.hpp).
#include "adversarial_cases.hpp"

#include <random>

#include "models/data.hpp"
#include "models/init.hpp"

namespace symgrad::truth {

namespace {

tensor filled(std::size_t rows, std::size_t cols, double value) {
    tensor t = tensor::from_shape({rows, cols});
    t.fill(value);
    return t;
}

double uniform(std::mt19937_64& gen, double low, double high) {
    return low + (high - low) * (double(gen() >> 11) * 0x1.0p-53);  // the top 53 bits: portable
}

// Copies unit `from` of hidden layer l onto unit `to`: incoming row, bias and outgoing column, times sign.
void copy_unit(network_state& net, std::size_t l, std::size_t from, std::size_t to, double sign = 1.0) {
    tensor& W = net.layers[l].W;
    tensor& V = net.layers[l + 1].W;
    for (std::size_t k = 0; k < W.shape()[1]; ++k) W(to, k) = sign * W(from, k);
    net.layers[l].b(to, 0) = sign * net.layers[l].b(from, 0);
    for (std::size_t r = 0; r < V.shape()[0]; ++r) V(r, to) = sign * V(r, from);
}

adversarial_case on_synthetic(std::string name, std::string description, network_state net,
                              label_rule rule = label_rule::nonlinear) {
    adversarial_case c = synthetic_data(4, 64, 7, rule);
    c.name = std::move(name);
    c.description = std::move(description);
    c.start = std::move(net);
    return c;
}

// Titanic with symcheck's defaults (tanh, seed 1): weights from `weights`, biases 0 unless `zero_all`.
adversarial_case on_titanic(std::string name, std::string description, const std::vector<std::size_t>& widths,
                            const initializer& weights) {
    dataset d = titanic();
    adversarial_case c{std::move(name), std::move(description), {}, d.X, d.Y};
    c.start.hidden = activation::tanh;
    std::size_t fan_in = d.features();
    std::vector<std::size_t> all = widths;
    all.push_back(1);
    for (std::size_t l = 0; l < all.size(); ++l) {
        dense_layer L{filled(all[l], fan_in, 0.0), filled(all[l], 1, 0.0)};
        weights.fill(L.W, parameter_seed(1, "W" + std::to_string(l + 1)));
        c.start.layers.push_back(L);
        fan_in = all[l];
    }
    return c;
}

}  // namespace

tensor normal_tensor(std::size_t rows, std::size_t cols, double std, std::uint64_t seed) {
    tensor t = filled(rows, cols, 0.0);
    initializer::normal(0.0, std).fill(t, seed);
    return t;
}

network_state random_network(std::size_t inputs, const std::vector<std::size_t>& widths, activation hidden,
                             double std, std::uint64_t seed) {
    network_state net;
    net.hidden = hidden;
    std::vector<std::size_t> all = widths;
    all.push_back(1);
    std::size_t fan_in = inputs;
    for (std::size_t l = 0; l < all.size(); ++l) {
        net.layers.push_back({normal_tensor(all[l], fan_in, std, seed * 100 + l), filled(all[l], 1, 0.0)});
        fan_in = all[l];
    }
    return net;
}

adversarial_case synthetic_data(std::size_t features, std::size_t samples, std::uint64_t seed, label_rule rule) {
    adversarial_case c;
    c.X = normal_tensor(features, samples, 1.0, seed);
    c.Y = filled(1, samples, 0.0);
    for (std::size_t s = 0; s < samples; ++s) {
        double x3 = features > 3 ? c.X(3, s) : 0.0, x2 = features > 2 ? c.X(2, s) : 0.0;
        double score = c.X(0, s) + (features > 1 ? 0.5 * c.X(1, s) : 0.0) - (rule == label_rule::linear ? 0.0 : x2 * x3);
        c.Y(0, s) = score > 0.0 ? 1.0 : 0.0;
    }
    return c;
}

adversarial_case penguin_like_data(std::size_t samples, std::uint64_t seed) {
    adversarial_case c;
    std::mt19937_64 gen(seed);
    c.X = filled(3, samples, 0.0);
    c.Y = filled(1, samples, 0.0);
    for (std::size_t s = 0; s < samples; ++s) {
        c.X(0, s) = uniform(gen, 2700.0, 6300.0);  // body mass, g
        c.X(1, s) = uniform(gen, 170.0, 235.0);    // flipper length, mm
        c.X(2, s) = uniform(gen, 32.0, 60.0);      // bill length, mm
        c.Y(0, s) = c.X(0, s) + 20.0 * c.X(2, s) > 5400.0 ? 1.0 : 0.0;
    }
    return c;
}

adversarial_case dead_layer_above_frozen() {
    network_state net = random_network(4, {4, 3}, activation::relu, 0.5, 11);
    net.layers[1].W = normal_tensor(3, 4, 0.1, 1101);
    net.layers[1].b = filled(3, 1, -5.0);  // |W2 A1| stays far below 5 on this data: layer 2 is dead
    return on_synthetic("1-dead-above-frozen",
                        "relu 4-3, b2 = -5: layer 2 outputs 0 on every sample, so W1 b1 W2 b2 W3 get zero gradient; "
                        "only the output bias moves",
                        net);
}

adversarial_case dead_pair_sharing_weights() {
    network_state net = random_network(4, {4}, activation::relu, 0.5, 12);
    copy_unit(net, 0, 2, 3);
    net.layers[0].b(2, 0) = net.layers[0].b(3, 0) = -5.0;
    net.layers[1].W(0, 2) = 0.7;
    net.layers[1].W(0, 3) = -0.3;
    return on_synthetic("2-dead-pair", "relu 4: units 2 and 3 share row and bias -5 (dead on every sample), outgoing "
                                       "0.7 and -0.3: exactly zero gradient, they never move",
                        net);
}

adversarial_case equitable_tie(label_rule rule) {
    network_state net;
    net.hidden = activation::tanh;
    tensor row = normal_tensor(1, 4, 0.5, 13);
    dense_layer L1{filled(3, 4, 0.0), filled(3, 1, 0.1)};
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t k = 0; k < 4; ++k) L1.W(i, k) = row(0, k);
    const double v[3] = {0.5, -0.3, 0.2};
    dense_layer L2{filled(3, 3, 0.0), filled(3, 1, 0.05)};
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t k = 0; k < 3; ++k) L2.W(i, k) = v[(i + k) % 3];  // a Latin square: equal row and column sums
    net.layers = {L1, L2, {filled(1, 3, 0.4), filled(1, 1, 0.0)}};
    return on_synthetic("3-equitable-tie", "tanh 3-3: layer 1 rows equal, W2 rows differ with equal row and column sums, "
                                           "W3 equal: every unit of a layer computes the same function, for ever",
                        net, rule);
}

adversarial_case near_tie(double relative, label_rule rule) {
    network_state net = random_network(4, {4}, activation::tanh, 0.5, 14);
    copy_unit(net, 0, 0, 1);
    for (std::size_t k = 0; k < 4; ++k) net.layers[0].W(1, k) *= 1.0 + relative;
    return on_synthetic("4-near-tie", "tanh 4: unit 1 = unit 0 with its incoming row scaled by 1 + " + std::to_string(relative) +
                                          ": a tie within tolerance that gd keeps and Adam and momentum break",
                        net, rule);
}

adversarial_case mirrored_tanh_pair() {
    network_state net = random_network(4, {4}, activation::tanh, 0.5, 15);
    net.layers[0].b = normal_tensor(4, 1, 0.3, 1501);
    copy_unit(net, 0, 0, 1, -1.0);
    return on_synthetic("5a-mirrored-tanh", "tanh 4: unit 1 = (-w, -b, -v) of unit 0, one unit 2v tanh(w x + b): stays "
                                            "exactly mirrored under every optimiser",
                        net);
}

adversarial_case mirrored_sigmoid_pair() {
    network_state net = random_network(4, {4}, activation::sigmoid, 0.5, 16);
    net.layers[0].b = normal_tensor(4, 1, 0.3, 1601);
    copy_unit(net, 0, 0, 1, -1.0);
    return on_synthetic("5b-mirrored-sigmoid", "sigmoid 4: unit 1 = (-w, -b, -v) of unit 0; sigma(-z) = 1 - sigma(z), so "
                                               "the pair is 2v sigma(z) - v, one unit plus an output-bias shift",
                        net);
}

adversarial_case dead_relu_units() {
    network_state net = random_network(4, {8}, activation::relu, 0.5, 17);
    net.layers[0].b(6, 0) = net.layers[0].b(7, 0) = -5.0;
    return on_synthetic("5c-dead-relu", "relu 8: units 6 and 7 have bias -5, dead on every sample: real width 6 of 8", net);
}

adversarial_case saturated_tanh_layer() {
    adversarial_case c = penguin_like_data(64, 20);
    c.name = "5d-saturated-tanh";
    c.description = "tanh 4 on grams and millimetres (not standardised): |z| > 70 on every sample, tanh' = 0 exactly, "
                    "W1 and b1 never move, the output can only learn the base rate";
    std::mt19937_64 gen(21);
    dense_layer L1{filled(4, 3, 0.0), filled(4, 1, 0.0)};
    for (std::size_t i = 0; i < 4; ++i) {
        // The mass term (>= 0.05 * 2700 = 135) outweighs the others (<= 0.2 * (235 + 60) = 59).
        L1.W(i, 0) = (i % 2 == 0 ? 1.0 : -1.0) * uniform(gen, 0.05, 0.2);
        for (std::size_t k = 1; k < 3; ++k) L1.W(i, k) = uniform(gen, -0.2, 0.2);
    }
    c.start.hidden = activation::tanh;
    c.start.layers = {L1, {normal_tensor(1, 4, 0.5, 2101), filled(1, 1, 0.0)}};
    return c;
}

adversarial_case copied_unit() {
    network_state net = random_network(4, {5}, activation::tanh, 0.5, 18);
    copy_unit(net, 0, 1, 4);
    return on_synthetic("6-copied-unit", "random tanh 5 with unit 4 an exact copy of unit 1 (outgoing weight too): the "
                                         "copy, not the initialiser, is the cause",
                        net);
}

adversarial_case net2net_widened() {
    network_state base = random_network(4, {3}, activation::tanh, 0.5, 19);
    network_state net = random_network(4, {5}, activation::tanh, 0.5, 19);
    for (std::size_t i = 0; i < 5; ++i) {
        std::size_t from = i < 3 ? i : i - 3;
        for (std::size_t k = 0; k < 4; ++k) net.layers[0].W(i, k) = base.layers[0].W(from, k);
        double v = base.layers[1].W(0, from);
        net.layers[1].W(0, i) = from < 2 ? v / 2.0 : v;  // halved between original and copy: same function
    }
    return on_synthetic("7-net2net", "tanh 3 widened to 5 Net2Net-style: units 3, 4 copy 0, 1 and the outgoing weights "
                                     "are halved between original and copy; exact ties the arithmetic may break",
                        net);
}

adversarial_case zeros_init() {
    return on_titanic("control-zeros", "Titanic, tanh 4, all zeros: one unit for ever", {4}, initializer::zeros());
}

adversarial_case constant_init() {
    return on_titanic("control-constant", "Titanic, tanh 4, weights 0.5: one unit for ever", {4}, initializer::constant(0.5));
}

adversarial_case small_random_init() {
    return on_titanic("control-random", "Titanic, tanh 4, weights normal(0, 0.01): four distinct units", {4},
                      initializer::normal(0.0, 0.01));
}

adversarial_case two_tanh_layers_zero() {
    return on_titanic("control-zeros-deep", "Titanic, tanh 4-4, all zeros: A1 = A2 = 0 and W3 = 0 kill every gradient "
                                            "but the output bias's",
                      {4, 4}, initializer::zeros());
}

adversarial_case deep_constant_init() {
    return on_titanic("control-constant-deep", "Titanic, tanh 4-4-4, weights 0.5: one unit per layer for ever", {4, 4, 4},
                      initializer::constant(0.5));
}

adversarial_case saturated_output() {
    return on_titanic("8-saturated-output", "Titanic, tanh 2000, weights 0.5: the output unit saturates", {2000},
                      initializer::constant(0.5));
}

std::vector<adversarial_case> every_case() {
    return {dead_layer_above_frozen(), dead_pair_sharing_weights(), equitable_tie(), equitable_tie(label_rule::nonlinear),
            near_tie(), near_tie(1e-12, label_rule::nonlinear), near_tie(1e-15), mirrored_tanh_pair(),
            mirrored_sigmoid_pair(), dead_relu_units(), saturated_tanh_layer(), copied_unit(), net2net_widened(),
            zeros_init(), constant_init(), small_random_init(), two_tanh_layers_zero(), deep_constant_init()};
}

trainer_settings settings_for(const std::string& optimizer, std::size_t steps) {
    double lr = optimizer == "gd" ? 0.5 : optimizer == "momentum" ? 0.05 : 0.01;
    return {optimizer, lr, steps};
}

}  // namespace symgrad::truth
