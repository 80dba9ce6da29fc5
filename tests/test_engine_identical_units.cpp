// What the engine's arithmetic does to identical units (docs/identical-units.md): a Net2Net widening
// trained for thousands of steps, with the copies inside one OpenBLAS row block or in its tail rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"

using namespace symgrad;

namespace {

// The embedded Titanic data with a 4-unit tanh layer (glorot, `seed`), widened to 6 units Net2Net-style:
// units 0 and 1 are copied exactly, and each copy and its original get half the outgoing weight, so the
// function is unchanged. `copy_at` holds the positions of the copies of units 0 and 1; the original units
// fill the other positions in order.
struct widened {
    mlp net;
    std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (original, copy) positions
};

widened net2net(std::uint64_t seed, std::pair<std::size_t, std::size_t> copy_at) {
    dataset data = titanic();
    mlp small = build_mlp({data.features(), {4}, activation::tanh}, data.samples());
    init_plan::parse("glorot").apply(small.g, seed);
    mlp net = build_mlp({data.features(), {6}, activation::tanh}, data.samples());
    net.g.feed(net.X, data.X);
    net.g.feed(net.Y, data.Y);
    std::vector<int> unit_at(6, -1);  // which unit of the small network sits at each position
    unit_at[copy_at.first] = 0;
    unit_at[copy_at.second] = 1;
    std::vector<std::size_t> original(4);
    for (std::size_t p = 0, u = 0; p < 6; ++p)
        if (unit_at[p] < 0) original[u] = p, unit_at[p] = int(u++);
    const tensor &W1 = small.g.value(small.W[0]), &b1 = small.g.value(small.b[0]), &W2 = small.g.value(small.W[1]);
    for (std::size_t p = 0; p < 6; ++p) {
        std::size_t u = std::size_t(unit_at[p]);
        for (std::size_t k = 0; k < W1.shape()[1]; ++k) net.g.value(net.W[0])(p, k) = W1(u, k);
        net.g.value(net.b[0])(p, 0) = b1(u, 0);
        net.g.value(net.W[1])(0, p) = u < 2 ? W2(0, u) / 2.0 : W2(0, u);  // exact: a halving
    }
    net.g.value(net.b[1]) = small.g.value(small.b[1]);
    widened w{std::move(net), {}};
    w.pairs = {{original[0], copy_at.first}, {original[1], copy_at.second}};
    return w;
}

// The largest difference between units p and q over their incoming weights, bias and outgoing weight,
// relative to the largest of unit p's.
double spread(const mlp& net, std::size_t p, std::size_t q) {
    const tensor &W1 = net.g.value(net.W[0]), &b1 = net.g.value(net.b[0]), &W2 = net.g.value(net.W[1]);
    double diff = std::max(std::abs(b1(p, 0) - b1(q, 0)), std::abs(W2(0, p) - W2(0, q)));
    double scale = std::max(std::abs(b1(p, 0)), std::abs(W2(0, p)));
    for (std::size_t k = 0; k < W1.shape()[1]; ++k) {
        diff = std::max(diff, std::abs(W1(p, k) - W1(q, k)));
        scale = std::max(scale, std::abs(W1(p, k)));
    }
    return diff / scale;
}

// Trains `steps` steps; returns the spread of each pair before every step and after the last (steps + 1).
std::vector<std::vector<double>> spreads_while_training(mlp& net, const std::vector<std::pair<std::size_t, std::size_t>>& pairs,
                                                        optimizer& opt, std::size_t steps) {
    std::vector<std::vector<double>> s(pairs.size());
    auto params = net.g.parameters();
    for (std::size_t t = 0;; ++t) {
        for (std::size_t c = 0; c < pairs.size(); ++c) s[c].push_back(spread(net, pairs[c].first, pairs[c].second));
        if (t == steps) return s;
        net.g.forward();
        net.g.backward(net.loss);
        opt.step(net.g, params);
    }
}

std::size_t first_nonzero(const std::vector<double>& s) {
    return std::size_t(std::find_if(s.begin(), s.end(), [](double x) { return x != 0.0; }) - s.begin());
}

}  // namespace

TEST_CASE("a Net2Net widening leaves the network's cost unchanged", "[engine][identical_units]") {
    dataset data = titanic();
    mlp small = build_mlp({data.features(), {4}, activation::tanh}, data.samples());
    small.g.feed(small.X, data.X);
    small.g.feed(small.Y, data.Y);
    init_plan::parse("glorot").apply(small.g, 2);
    small.g.forward();
    auto [wide, pairs] = net2net(2, {4, 5});
    wide.g.forward();
    CHECK(wide.g.value(wide.loss)(0, 0) == Approx(small.g.value(small.loss)(0, 0)).epsilon(1e-15));
    for (auto [p, q] : pairs) CHECK(spread(wide, p, q) == 0.0);
}

// On this machine's OpenBLAS (Haswell kernels) the per-unit products of the backward pass (dW1 = dZ1 X' by
// dgemm, dW2 = dZ2 A1' by dgemv) compute rows in blocks of 4 with one summation order, and the 6 - 4 = 2
// tail rows with other kernels and other orders. Copies at positions 1 and 3 share the first block.
TEST_CASE("Net2Net copies inside one BLAS row block stay bitwise identical under gd and Adam",
          "[engine][identical_units]") {
    for (std::string name : {"gd", "adam"}) {
        INFO(name);
        auto [net, pairs] = net2net(2, {1, 3});
        auto opt = make_optimizer(name, 0.01);
        auto s = spreads_while_training(net, pairs, *opt, 3000);
        for (const auto& pair_spreads : s) CHECK(*std::max_element(pair_spreads.begin(), pair_spreads.end()) == 0.0);
    }
}

TEST_CASE("Net2Net copies in a product's tail rows differ in the last bits at once and stay there under gd",
          "[engine][identical_units]") {
    auto [net, pairs] = net2net(2, {4, 5});
    auto gd = make_gradient_descent(0.01);
    auto s = spreads_while_training(net, pairs, *gd, 3000);
    for (const auto& pair_spreads : s) {
        CHECK(first_nonzero(pair_spreads) <= 100);  // measured: after the first step, for both pairs
        CHECK(*std::max_element(pair_spreads.begin(), pair_spreads.end()) < 1e-13);  // measured: 1.1e-15
    }
}

TEST_CASE("under Adam the tail copies' last-bit difference grows about 50-fold per 1000 steps",
          "[engine][identical_units]") {
    // Measured on this machine for the pair at positions (0, 4): 4.1e-13 at step 2000, 3.0e-11 at 3000,
    // 1.7e-9 at 4000, 7.8e-8 at 5000. The bounds leave a factor of 10 either side of those figures;
    // the run is deterministic for one OpenBLAS kernel and thread count, so it fails only on another one.
    auto [net, pairs] = net2net(2, {4, 5});
    auto adam = make_adam(0.1);
    auto s = spreads_while_training(net, pairs, *adam, 5000)[0];
    CHECK(s[1000] < 1e-12);
    CHECK(s[5000] > 1e-9);
    CHECK(s[5000] > 100.0 * s[3000]);
    CHECK(s[5000] < 1e-3);  // still the same unit to the eye: not yet separated by 5000 steps
}
