// build_mlp's fused output (bce_with_logits on Z_L): learning through a saturated output, agreement with
// the old sigmoid + clamped BCE where nothing saturates, and hidden layers still found by structure.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "analysis/hidden_layers.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// The article's 2-layer tanh network written out with plain loops (no engine, no BLAS), trained with
// Adam from the article's gradients: dZ2 = (A2 - Y)/m, dW2 = dZ2 A1', db2 = sum dZ2,
// dZ1 = W2' dZ2 * (1 - A1^2), dW1 = dZ1 X', db1 = row sums of dZ1.
struct hand_network {
    std::size_t n, h, m;
    std::vector<double> X, Y, W1, b1, W2, b2;  // row-major; W2 is 1 x h, b2 has one element
    std::vector<double> A1, Z2;

    double forward() {  // returns the mean BCE, from the logits
        A1.assign(h * m, 0.0);
        Z2.assign(m, b2[0]);
        for (std::size_t i = 0; i < h; ++i)
            for (std::size_t j = 0; j < m; ++j) {
                double z = b1[i];
                for (std::size_t k = 0; k < n; ++k) z += W1[i * n + k] * X[k * m + j];
                A1[i * m + j] = std::tanh(z);
                Z2[j] += W2[i] * A1[i * m + j];
            }
        double cost = 0.0;
        for (std::size_t j = 0; j < m; ++j)  // -log sigmoid(z) = log(1 + e^-z) without overflow
            cost += std::max(Z2[j], 0.0) - Z2[j] * Y[j] + std::log1p(std::exp(-std::abs(Z2[j])));
        return cost / double(m);
    }

    // The gradients of every parameter, in the order W1, b1, W2, b2, after forward().
    std::vector<std::vector<double>> gradients() const {
        std::vector<double> dW1(h * n, 0.0), db1(h, 0.0), dW2(h, 0.0), db2(1, 0.0), dZ2(m);
        for (std::size_t j = 0; j < m; ++j) {
            dZ2[j] = (1.0 / (1.0 + std::exp(-Z2[j])) - Y[j]) / double(m);  // A2 - Y: the article's dZ2
            db2[0] += dZ2[j];
        }
        for (std::size_t i = 0; i < h; ++i)
            for (std::size_t j = 0; j < m; ++j) {
                dW2[i] += dZ2[j] * A1[i * m + j];
                double dz1 = W2[i] * dZ2[j] * (1.0 - A1[i * m + j] * A1[i * m + j]);
                db1[i] += dz1;
                for (std::size_t k = 0; k < n; ++k) dW1[i * n + k] += dz1 * X[k * m + j];
            }
        return {dW1, db1, dW2, db2};
    }
};

// Adam (Kingma & Ba, the defaults) on the hand network's parameters.
struct hand_adam {
    double lr, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::size_t t = 0;
    std::vector<std::vector<double>> m, v;

    void step(hand_network& net) {
        auto grads = net.gradients();
        std::vector<double>* params[] = {&net.W1, &net.b1, &net.W2, &net.b2};
        if (m.empty())
            for (const auto& g : grads) m.emplace_back(g.size(), 0.0), v.emplace_back(g.size(), 0.0);
        ++t;
        for (std::size_t p = 0; p < 4; ++p)
            for (std::size_t k = 0; k < grads[p].size(); ++k) {
                double g = grads[p][k];
                m[p][k] = b1 * m[p][k] + (1.0 - b1) * g;
                v[p][k] = b2 * v[p][k] + (1.0 - b2) * g * g;
                double mh = m[p][k] / (1.0 - std::pow(b1, double(t))), vh = v[p][k] / (1.0 - std::pow(b2, double(t)));
                (*params[p])[k] -= lr * mh / (std::sqrt(vh) + eps);
            }
    }
};

std::vector<double> values(const tensor& t) { return {t.data(), t.data() + t.size()}; }

tensor from_values(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
    tensor t = tensor::from_shape({rows, cols});
    std::copy(v.begin(), v.end(), t.data());
    return t;
}

// 2 features in [2, 3] and alternating labels: with W = 0.5 every tanh unit is above 0.96, so 100 of
// them put the output's logit near 49, where the sigmoid rounds to exactly 1.
hand_network saturating_problem(std::size_t hidden) {
    hand_network net{2, hidden, 16, {}, {}, {}, {}, {}, {}, {}, {}};
    for (std::size_t k = 0; k < 2 * net.m; ++k) net.X.push_back(2.0 + 0.5 * (1.0 + std::sin(1.3 * double(k))));
    for (std::size_t j = 0; j < net.m; ++j) net.Y.push_back(double(j % 2));
    net.W1.assign(hidden * 2, 0.5);
    net.b1.assign(hidden, 0.0);
    net.W2.assign(hidden, 0.5);
    net.b2.assign(1, 0.0);
    return net;
}

mlp engine_copy(const hand_network& hand) {
    mlp net = build_mlp({hand.n, {hand.h}, activation::tanh}, hand.m);
    net.g.feed(net.X, from_values(hand.X, hand.n, hand.m));
    net.g.feed(net.Y, from_values(hand.Y, 1, hand.m));
    net.g.value(net.W[0]) = from_values(hand.W1, hand.h, hand.n);
    net.g.value(net.b[0]) = from_values(hand.b1, hand.h, 1);
    net.g.value(net.W[1]) = from_values(hand.W2, 1, hand.h);
    net.g.value(net.b[1]) = from_values(hand.b2, 1, 1);
    return net;
}

double largest_relative_difference(const std::vector<double>& x, const std::vector<double>& y) {
    double scale = 0.0, diff = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        scale = std::max(scale, std::abs(y[k]));
        diff = std::max(diff, std::abs(x[k] - y[k]));
    }
    return scale > 0.0 ? diff / scale : diff;
}

// 3 inputs, 6 tanh units, 200 samples, weights normal(0, 0.8): outputs well inside (0.01, 0.99).
mlp unsaturated_network() {
    mlp net = build_mlp({3, {6}, activation::tanh}, 200);
    tensor x = tensor::from_shape({3, 200}), y = tensor::from_shape({1, 200});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(0.9 * double(k));
    for (std::size_t k = 0; k < y.size(); ++k) y.data()[k] = double(k % 3 == 0);
    net.g.feed(net.X, x);
    net.g.feed(net.Y, y);
    init_plan::parse("normal:0.8").apply(net.g, 3);
    return net;
}

}  // namespace

TEST_CASE("a saturated output's sigmoid rounds to 1 and the old clamped BCE gives it no gradient at all",
          "[models][fused_output]") {
    // The state the fused output exists for (issue 10, item 8), on the old composition bce(sigmoid(Z)).
    hand_network hand = saturating_problem(100);
    mlp net = engine_copy(hand);
    node J_old = bce(net.output, net.Y, "J_old");
    net.g.forward();
    const tensor& a = net.g.value(net.output);
    REQUIRE(*std::min_element(a.data(), a.data() + a.size()) == 1.0);
    net.g.backward(J_old);
    for (node p : net.g.parameters()) {
        INFO(p.name());
        const tensor& d = net.g.grad(p);
        CHECK(std::all_of(d.data(), d.data() + d.size(), [](double x) { return x == 0.0; }));
    }
}

TEST_CASE("a saturated output keeps learning: the engine's Adam follows dZ = A - Y computed by hand",
          "[models][fused_output]") {
    hand_network hand = saturating_problem(100);
    mlp net = engine_copy(hand);
    auto adam = make_adam(0.01);
    hand_adam by_hand{0.01};
    std::vector<node> params = net.g.parameters();  // W1, b1, W2, b2, in creation order
    std::vector<double> costs;
    std::size_t saturated_steps = 0;  // passes in which the sigmoid gives exactly 1 for every sample
    for (int step = 0; step < 40; ++step) {
        INFO("step " << step);
        net.g.forward();
        net.g.backward(net.loss);
        double cost = net.g.value(net.loss)(0, 0), expected = hand.forward();
        CHECK(cost == Approx(expected).epsilon(1e-12));
        auto grads = hand.gradients();
        for (std::size_t p = 0; p < 4; ++p) {
            INFO(params[p].name());
            CHECK(largest_relative_difference(values(net.g.grad(params[p])), grads[p]) < 1e-12);
        }
        costs.push_back(cost);
        const tensor& a = net.g.value(net.output);
        if (*std::min_element(a.data(), a.data() + a.size()) == 1.0) ++saturated_steps;
        adam->step(net.g, params);
        by_hand.step(hand);
    }
    // Half the samples are confidently wrong (logit ~49, label 0), so the cost starts near 49/2. Adam moves
    // each parameter by ~lr per step, the 100 outgoing weights alone lower the logit by ~1, and the cost ~0.5
    // on every step, also while the sigmoid still reads exactly 1 (measured: 11 steps; below 1 at step 35).
    CHECK(costs.front() > 20.0);
    CHECK(saturated_steps >= 10);
    for (std::size_t k = 1; k < saturated_steps; ++k) CHECK(costs[k] < costs[k - 1] - 0.3);
    CHECK(*std::min_element(costs.begin(), costs.end()) < 1.0);
}

TEST_CASE("where the output is not saturated the fused loss equals sigmoid + clamped BCE to rounding",
          "[models][fused_output]") {
    // Same parameters, two losses on the same graph: the new J = bce_with_logits(Z2) and the old
    // bce(sigmoid(Z2)). Probabilities stay in (0.01, 0.99), far from the clamp.
    mlp net = unsaturated_network();
    node J_old = bce(net.output, net.Y, "J_old");
    net.g.forward();
    const tensor& a = net.g.value(net.output);
    REQUIRE(*std::min_element(a.data(), a.data() + a.size()) > 0.01);
    REQUIRE(*std::max_element(a.data(), a.data() + a.size()) < 0.99);
    double fused = net.g.value(net.loss)(0, 0), old = net.g.value(J_old)(0, 0);
    CHECK(std::abs(fused - old) <= 2e-15 * old);  // measured: equal bits here

    std::vector<std::vector<double>> fused_grads, old_grads;
    net.g.backward(net.loss);
    for (node p : net.g.parameters()) fused_grads.push_back(values(net.g.grad(p)));
    net.g.backward(J_old);
    for (node p : net.g.parameters()) old_grads.push_back(values(net.g.grad(p)));
    for (std::size_t p = 0; p < fused_grads.size(); ++p) {
        INFO(net.g.parameters()[p].name());
        CHECK(largest_relative_difference(fused_grads[p], old_grads[p]) < 2e-15);  // measured: 4e-16
    }
}

TEST_CASE("hidden-layer discovery finds every hidden layer of build_mlp and not the fused output layer",
          "[models][fused_output]") {
    for (auto act : {activation::tanh, activation::sigmoid, activation::relu}) {
        INFO(to_string(act));
        mlp net = build_mlp({4, {3, 5, 2}, act}, 7);
        std::vector<std::string> skipped;
        auto layers = find_hidden_layers(net.g, default_hidden_activations(), &skipped);
        CHECK(skipped.empty());
        REQUIRE(layers.size() == 3);
        for (std::size_t l = 0; l < 3; ++l) {
            CHECK(layers[l].activation.name() == "A" + std::to_string(l + 1));
            CHECK(layers[l].weights_in == net.W[l]);
            CHECK(layers[l].bias == net.b[l]);
            REQUIRE(layers[l].weights_out.size() == 1);
            CHECK(layers[l].weights_out[0] == net.W[l + 1]);
        }
        // The output sigmoid A4 has no consumer: the loss reads Z4 beside it.
        CHECK(net.g.consumers(net.output).empty());
        CHECK(net.g.consumers(net.logits).size() == 2);
    }
}

TEST_CASE("training through the fused loss follows the old sigmoid + clamped BCE where nothing saturates",
          "[models][fused_output]") {
    // Two copies of one network, one trained on J = bce_with_logits(Z2), one on bce(sigmoid(Z2)):
    // the trajectories differ only by the rounding of dZ2 ((A - Y)/N against the chain through 1/A).
    mlp fused = unsaturated_network(), old = unsaturated_network();
    node J_old = bce(old.output, old.Y, "J_old");
    auto gd_fused = make_gradient_descent(0.5), gd_old = make_gradient_descent(0.5);
    train_options options;
    options.iterations = 500;
    auto fused_costs = train(fused.g, fused.loss, *gd_fused, options);
    auto old_costs = train(old.g, J_old, *gd_old, options);
    REQUIRE(fused_costs.size() == old_costs.size());
    CHECK(fused_costs.back() < 0.95 * fused_costs.front());  // it did train (0.717 -> 0.638)
    CHECK(largest_relative_difference(fused_costs, old_costs) < 4e-15);  // measured: 3e-16
}
