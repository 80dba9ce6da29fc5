// The equitable partition with signs, each case checked against what thousands of training steps do.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "analysis/equitable_partition.hpp"
#include "analysis/symmetry.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "analysis_networks.hpp"

using namespace symgrad;

namespace {

using classes_t = std::vector<std::vector<std::size_t>>;

using namespace symgrad::testing;

// Issue 10, category 3: layer 1's rows all equal; W2 a circulant (rows differ, equal row and column
// sums); W3's entries equal. Every layer-2 unit computes the same function, every layer-1 unit gets the
// same gradient.
mlp equitable_tie() {
    mlp net = random_mlp({4, 4}, activation::tanh);
    tensor& W1 = net.g.value(net.W[0]);
    for (std::size_t i = 1; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) W1(i, j) = W1(0, j);
    net.g.value(net.b[0]).fill(0.1);
    const double row[4] = {0.9, -0.4, 0.25, 0.6};
    tensor& W2 = net.g.value(net.W[1]);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) W2(i, j) = row[(j + 4 - i) % 4];
    net.g.value(net.b[1]).fill(-0.2);
    net.g.value(net.W[2]).fill(0.7);
    return net;
}

// Largest |row i - sign * row j| of t over rows i, j of one class, relative to max |t|.
double row_spread(const tensor& t, const std::vector<std::size_t>& cls, const std::vector<int>& sign) {
    double scale = 0.0, spread = 0.0;
    for (double v : t) scale = std::max(scale, std::abs(v));
    for (std::size_t m = 1; m < cls.size(); ++m)
        for (std::size_t e = 0; e < t.shape()[1]; ++e)
            spread = std::max(spread, std::abs(t(cls[0], e) - sign[m] * t(cls[m], e)));
    return scale == 0.0 ? 0.0 : spread / scale;
}

}  // namespace

TEST_CASE("rows that differ but sum alike over a class form one class, and training keeps both layers at width 1",
          "[analysis][partition]") {
    std::string optimizer = GENERATE(as<std::string>{}, "gd", "adam");
    CAPTURE(optimizer);
    mlp net = equitable_tie();
    auto r = analyze_symmetry(net.g, net.loss);
    REQUIRE(r.layers.size() == 2);
    CHECK(r.layers[0].classes == classes_t{{0, 1, 2, 3}});
    CHECK(r.layers[1].classes == classes_t{{0, 1, 2, 3}});
    CHECK(r.layers[1].verdict != symmetry_verdict::healthy);

    // Ground truth: 3,000 steps later layer 1's units are still identical, and layer 2's W2 rows still
    // differ while their sums stay equal, so its units still compute one function.
    train_steps(net, optimizer, 3000);
    const std::vector<std::size_t> all{0, 1, 2, 3};
    const std::vector<int> plus(4, 1);
    CHECK(row_spread(net.g.value(net.W[0]), all, plus) < 1e-9);
    tensor W2 = net.g.value(net.W[1]);
    CHECK(row_spread(W2, all, plus) > 0.1);  // the rows still differ...
    for (std::size_t i = 1; i < 4; ++i) {     // ...but their sums stay equal
        double s0 = 0.0, si = 0.0;
        for (std::size_t j = 0; j < 4; ++j) s0 += W2(0, j), si += W2(i, j);
        CHECK(std::abs(s0 - si) < 1e-9 * std::max(1.0, std::abs(s0)));
    }
}

TEST_CASE("a tanh unit and its mirror share a class with opposite signs, and training keeps them mirrored",
          "[analysis][partition]") {
    std::string optimizer = GENERATE(as<std::string>{}, "gd", "adam");
    CAPTURE(optimizer);
    mlp net = random_mlp({3}, activation::tanh);
    tensor& W1 = net.g.value(net.W[0]);
    tensor& b1 = net.g.value(net.b[0]);
    tensor& W2 = net.g.value(net.W[1]);
    for (std::size_t j = 0; j < 4; ++j) W1(1, j) = -W1(0, j);
    b1(1, 0) = -b1(0, 0);
    W2(0, 1) = -W2(0, 0);

    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.layers.at(0).classes == classes_t{{0, 1}, {2}});
    CHECK(r.layers.at(0).effective_width == 2);
    auto parts = equitable_partition(net.g, find_hidden_layers(net.g), comparison{});
    CHECK(parts.at(0).sign[0] == -parts.at(0).sign[1]);
    CHECK(r.layers[0].verdict == symmetry_verdict::symmetric);
    REQUIRE(r.layers[0].fix.size() == 1);
    CHECK(r.layers[0].fix[0].code == reason_code::redraw_mirrored_units);
    CHECK(std::any_of(r.layers[0].why.begin(), r.layers[0].why.end(),
                      [](const reason& w) { return w.code == reason_code::mirrored_units; }));

    train_steps(net, optimizer, 3000);
    const std::vector<int> mirrored{1, -1};
    CHECK(row_spread(net.g.value(net.W[0]), {0, 1}, mirrored) < 1e-9);
    CHECK(row_spread(net.g.value(net.b[0]), {0, 1}, mirrored) < 1e-9);
    CHECK(std::abs(net.g.value(net.W[1])(0, 0) + net.g.value(net.W[1])(0, 1)) < 1e-9);
}

TEST_CASE("a sigmoid unit and its mirror are not merged: training moves their outgoing weights apart",
          "[analysis][partition]") {
    mlp net = random_mlp({3}, activation::sigmoid);
    tensor& W1 = net.g.value(net.W[0]);
    for (std::size_t j = 0; j < 4; ++j) W1(1, j) = -W1(0, j);
    net.g.value(net.b[0])(1, 0) = -net.g.value(net.b[0])(0, 0);
    net.g.value(net.W[1])(0, 1) = -net.g.value(net.W[1])(0, 0);

    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.layers.at(0).effective_width == 3);

    // v0 + v1 changes by -lr * (output bias gradient) each step (docs/diagnosis.md), so the mirror breaks.
    train_steps(net, "gd", 2000);
    const tensor& W2 = net.g.value(net.W[1]);
    CHECK(std::abs(W2(0, 0) + W2(0, 1)) > 1e-3);
}

TEST_CASE("a mirror's sign comes from its first number beyond the tolerance: a later input, or the outgoing weight",
          "[analysis][partition]") {
    // Units 0 and 1 mirror each other but have zero bias and a zero first input weight, so their signs are
    // read from input 1; units 2 and 3 have zero bias and zero inputs, so from their outgoing weights.
    mlp net = random_mlp({5}, activation::tanh);
    tensor& W1 = net.g.value(net.W[0]);
    tensor& b1 = net.g.value(net.b[0]);
    tensor& W2 = net.g.value(net.W[1]);
    b1.fill(0.0);
    b1(4, 0) = 0.3;
    for (std::size_t j = 0; j < 4; ++j) {
        W1(0, j) = j == 0 ? 0.0 : 0.5 + 0.1 * double(j);
        W1(1, j) = -W1(0, j);
        W1(2, j) = W1(3, j) = 0.0;
    }
    W2(0, 1) = -W2(0, 0);
    W2(0, 3) = -W2(0, 2);
    auto r = analyze_symmetry(net.g, net.loss);  // runs the forward and backward pass the partition reads
    CHECK(r.layers.at(0).classes == classes_t{{0, 1}, {2, 3}, {4}});
    auto parts = equitable_partition(net.g, find_hidden_layers(net.g), comparison{});
    CHECK(parts.at(0).classes == classes_t{{0, 1}, {2, 3}, {4}});
    CHECK(parts[0].sign[0] == -parts[0].sign[1]);
    CHECK(parts[0].sign[2] == -parts[0].sign[3]);
}
