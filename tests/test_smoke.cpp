// End to end: gradient descent with the engine's own gradients lowers the seed network's cost.
#include <catch2/catch.hpp>

#include <cmath>

#include "ops/ops.hpp"

using namespace symgrad;

TEST_CASE("gradient descent on the seed network lowers its cost", "[engine][smoke]") {
    // 7 inputs, 4 tanh units, sigmoid output, BCE; 8 samples whose label is whether feature 0 is positive.
    const std::size_t m = 8;
    graph g;
    node X = g.input("X", {7, m}), Y = g.input("Y", {1, m});
    node W1 = g.parameter("W1", {4, 7}), b1 = g.parameter("b1", {4, 1});
    node W2 = g.parameter("W2", {1, 4}), b2 = g.parameter("b2", {1, 1});
    node A1 = tanh(matmul(W1, X) + b1, "A1");
    node A2 = sigmoid(matmul(W2, A1) + b2, "A2");
    node J = bce(A2, Y, "J");
    tensor x = tensor::from_shape({7, m}), y = tensor::from_shape({1, m});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(1.3 * double(k) + 0.2);
    for (std::size_t j = 0; j < m; ++j) y(0, j) = x(0, j) > 0 ? 1.0 : 0.0;
    g.feed(X, x);
    g.feed(Y, y);
    for (auto p : g.parameters())
        for (std::size_t k = 0; k < g.value(p).size(); ++k)
            g.value(p).data()[k] = 0.3 * std::cos(2.1 * double(k) + double(p.id()));

    g.forward();
    double initial = g.value(J)(0, 0);
    double previous = initial;
    for (int step = 0; step < 200; ++step) {
        g.backward(J);
        for (auto p : g.parameters()) g.value(p) -= 0.5 * g.grad(p);
        g.forward();
        // With a small step on a smooth cost every step descends; 1e-12 allows for rounding near a plateau.
        CHECK(g.value(J)(0, 0) <= previous + 1e-12);
        previous = g.value(J)(0, 0);
    }
    // ln 2 ~ 0.69 is chance; a separable toy problem must fall well below half of where it started.
    INFO("initial cost " << initial << ", final " << previous);
    CHECK(previous < 0.5 * initial);
}
