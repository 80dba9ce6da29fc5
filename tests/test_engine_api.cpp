// The engine as a library (issue 11): batch sizes that change, retain after a pass, stale parameters, null
// handles, an op reading one operand twice, and which references from value() stay valid.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "engine/error.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

bool same_values(const tensor& a, const tensor& b) {
    if (shape_of(a) != shape_of(b)) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (a.data()[k] != b.data()[k]) return false;
    return true;
}

tensor wave(std::size_t rows, std::size_t cols, double phase) {
    tensor t = tensor::from_shape({rows, cols});
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = std::sin(0.7 * double(k) + phase);
    return t;
}

tensor labels(std::size_t cols) {
    tensor t = tensor::from_shape({1, cols});
    for (std::size_t j = 0; j < cols; ++j) t(0, j) = double(j % 2);
    return t;
}

// The seed network of the issue: 7 inputs, 4 tanh units, sigmoid output, BCE, built for 5 samples.
struct seed_network {
    graph g;
    node X, Y, W1, b1, W2, b2, Zb, A1, A2, J;
    seed_network() {
        X = g.input("X", {7, 5});
        Y = g.input("Y", {1, 5});
        W1 = g.parameter("W1", {4, 7});
        b1 = g.parameter("b1", {4, 1});
        W2 = g.parameter("W2", {1, 4});
        b2 = g.parameter("b2", {1, 1});
        Zb = add(matmul(W1, X), b1, "Zb");
        A1 = tanh(Zb, "A1");
        A2 = sigmoid(add(matmul(W2, A1), b2), "A2");
        J = bce(A2, Y, "J");
        for (auto p : g.parameters())
            for (std::size_t k = 0; k < g.value(p).size(); ++k)
                g.value(p).data()[k] = 0.4 * std::cos(1.3 * double(k) + double(p.id()));
        g.feed(X, wave(7, 5, 0.0));
        g.feed(Y, labels(5));
    }
    // The cost and dJ/dW1 for m samples on a graph built for them, the reference for a re-fed graph.
    static std::pair<double, tensor> reference(std::size_t m) {
        seed_network fresh;
        fresh.g.feed({{fresh.X, wave(7, m, 0.0)}, {fresh.Y, labels(m)}});
        fresh.g.forward();
        fresh.g.backward(fresh.J);
        return {fresh.g.value(fresh.J)(0, 0), fresh.g.grad(fresh.W1)};
    }
};

}  // namespace

// --- 1. batch sizes --------------------------------------------------------------------------------

TEST_CASE("feeding X then Y with a new batch size works in either order", "[engine][api][feed]") {
    auto [cost8, grad8] = seed_network::reference(8);
    for (bool x_first : {true, false}) {
        seed_network s;
        s.g.forward();
        if (x_first) {
            s.g.feed(s.X, wave(7, 8, 0.0));  // once refused: bce: needs equal shapes, got A2 (1x8) and Y (1x5)
            s.g.feed(s.Y, labels(8));
        } else {
            s.g.feed(s.Y, labels(8));
            s.g.feed(s.X, wave(7, 8, 0.0));
        }
        s.g.forward();
        s.g.backward(s.J);
        INFO("X fed first: " << x_first);
        CHECK(s.g.value(s.J)(0, 0) == cost8);
        CHECK(same_values(s.g.grad(s.W1), grad8));
        CHECK(s.A2.shape() == shape2{1, 8});
    }
}

TEST_CASE("feeding several inputs as one step changes the batch size", "[engine][api][feed]") {
    auto [cost3, grad3] = seed_network::reference(3);
    seed_network s;
    s.g.feed({{s.X, wave(7, 3, 0.0)}, {s.Y, labels(3)}});
    s.g.forward();
    s.g.backward(s.J);
    CHECK(s.g.value(s.J)(0, 0) == cost3);
    CHECK(same_values(s.g.grad(s.W1), grad3));
}

TEST_CASE("inputs left with batch sizes that do not fit make forward throw naming them", "[engine][api][feed]") {
    seed_network s;
    s.g.feed(s.X, wave(7, 8, 0.0));  // Y still has 5 columns
    CHECK_THROWS_MATCHES(s.g.forward(), graph_error,
                         Catch::Message("forward: the inputs' shapes do not fit together, X (7x8), Y (1x5): "
                                        "bce: needs equal shapes, got A2 (1x8) and Y (1x5)"));
    CHECK_THROWS_WITH(s.g.value(s.J), Catch::Contains("X (7x8), Y (1x5)"));
    s.g.feed(s.Y, labels(8));  // completing the change makes it run
    s.g.forward();
    CHECK(s.g.value(s.J)(0, 0) == seed_network::reference(8).first);
}

TEST_CASE("a multi-input feed that does not fit changes nothing and names every input fed", "[engine][api][feed]") {
    seed_network s;
    s.g.forward();
    double before = s.g.value(s.J)(0, 0);
    CHECK_THROWS_MATCHES(s.g.feed({{s.X, wave(7, 8, 1.0)}, {s.Y, labels(6)}}), graph_error,
                         Catch::Message("feed X (7x8), Y (1x6): bce: needs equal shapes, got A2 (1x8) and Y (1x6)"));
    CHECK(s.X.shape() == shape2{7, 5});
    CHECK(s.Y.shape() == shape2{1, 5});
    CHECK(same_values(s.g.value(s.X), wave(7, 5, 0.0)));  // the data too
    s.g.forward();
    CHECK(s.g.value(s.J)(0, 0) == before);
}

TEST_CASE("returning to a batch size seen before reuses its plan and its buffers", "[engine][api][feed]") {
    seed_network s;
    s.g.forward();
    const double* buffer5 = s.g.value(s.J).data();
    s.g.feed({{s.X, wave(7, 3, 0.0)}, {s.Y, labels(3)}});
    s.g.forward();
    const double* buffer3 = s.g.value(s.J).data();
    s.g.feed({{s.X, wave(7, 5, 0.0)}, {s.Y, labels(5)}});
    CHECK_THROWS_WITH(s.g.value(s.J), Catch::Contains("has not been computed"));  // never an older pass's value
    s.g.forward();
    CHECK(s.g.value(s.J).data() == buffer5);
    CHECK(s.g.value(s.J)(0, 0) == seed_network::reference(5).first);
    s.g.feed({{s.X, wave(7, 3, 0.0)}, {s.Y, labels(3)}});
    s.g.forward();
    CHECK(s.g.value(s.J).data() == buffer3);
}

TEST_CASE("a pass on other data leaves the parameters' gradients of the last backward", "[engine][api][feed]") {
    seed_network s;
    s.g.forward();
    s.g.backward(s.J);
    tensor grad = s.g.grad(s.W1);
    s.g.feed({{s.X, wave(7, 9, 2.0)}, {s.Y, labels(9)}});  // an evaluation: forward only
    s.g.forward();
    CHECK(same_values(s.g.grad(s.W1), grad));
}

// --- 2. retain after a pass ------------------------------------------------------------------------

TEST_CASE("retain after a pass keeps the values and gradients that pass left readable", "[engine][api][retain]") {
    seed_network s;
    s.g.forward();
    s.g.backward(s.J);
    const double cost = s.g.value(s.J)(0, 0);
    const tensor a1 = s.g.value(s.A1), grad = s.g.grad(s.W1);
    s.g.retain(s.Zb);  // once: every value and gradient read 0 until the next forward
    CHECK(s.g.value(s.J)(0, 0) == cost);
    CHECK(same_values(s.g.value(s.A1), a1));
    CHECK(same_values(s.g.grad(s.W1), grad));
    // Zb was overwritten by A1 during that pass: it cannot be had back without a pass, and says so.
    CHECK_THROWS_WITH(s.g.value(s.Zb), Catch::Contains("'Zb' was overwritten in place in the last pass") &&
                                           Catch::Contains("call forward()"));
    s.g.backward(s.J);  // the pass's values are still there for backward
    CHECK(same_values(s.g.grad(s.W1), grad));
    s.g.forward();
    CHECK(same_values(s.g.value(s.Zb), s.g.value(s.Zb)));  // readable now
    CHECK(s.g.value(s.J)(0, 0) == cost);
}

TEST_CASE("require_grad after a pass keeps the pass's values", "[engine][api][retain]") {
    seed_network s;
    s.g.forward();
    const double cost = s.g.value(s.J)(0, 0);
    s.g.require_grad(s.X);
    CHECK(s.g.value(s.J)(0, 0) == cost);
    s.g.backward(s.J);
    CHECK(s.g.grad(s.X).shape()[1] == 5);
}

TEST_CASE("an op value is not readable before any forward", "[engine][api][retain]") {
    seed_network s;
    CHECK_THROWS_MATCHES(s.g.value(s.J), graph_error,
                         Catch::Message("the value of 'J' has not been computed for the data fed; call forward()"));
    CHECK_THROWS_MATCHES(s.g.grad(s.W1), graph_error,
                         Catch::Message("the gradient of 'W1' has not been computed; call backward()"));
}

// --- 3. stale parameters ---------------------------------------------------------------------------

TEST_CASE("changing a parameter after forward makes backward throw instead of giving old gradients",
          "[engine][api][stale]") {
    seed_network s;
    s.g.forward();
    s.g.value(s.W1)(0, 0) = 3;  // once: backward silently returned the gradient at the old W1
    CHECK_THROWS_MATCHES(s.g.backward(s.J), graph_error,
                         Catch::Message("backward: 'W1' was changed through value() after the last forward(); call "
                                        "forward() again (backward would give the gradients of its old value)"));
    s.g.forward();
    s.g.backward(s.J);
    seed_network t;
    t.g.value(t.W1)(0, 0) = 3;
    t.g.forward();
    t.g.backward(t.J);
    CHECK(same_values(s.g.grad(s.W1), t.g.grad(t.W1)));
}

TEST_CASE("a forward that throws halfway after a parameter change still makes backward throw",
          "[engine][api][stale]") {
    seed_network s;
    s.g.forward();
    s.g.backward(s.J);
    s.g.set_detect_anomaly(true);
    s.g.value(s.W1)(0, 0) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(s.g.forward(), anomaly_error);  // stops at W1, before any op is recomputed
    // Once, the interrupted pass counted as done: backward mixed W1's new value with old activations.
    CHECK_THROWS_AS(s.g.backward(s.J), graph_error);
}

TEST_CASE("reading a parameter through a const graph or the node is not a change", "[engine][api][stale]") {
    seed_network s;
    s.g.forward();
    double w = std::as_const(s.g).value(s.W1)(0, 0) + s.W1.value()(0, 0);
    s.g.backward(s.J);
    CHECK(std::isfinite(w));
}

// --- 4. null handles -------------------------------------------------------------------------------

TEST_CASE("a default-constructed node throws instead of crashing", "[engine][api][null]") {
    node n;
    const std::string message = "null node: the handle was default-constructed and belongs to no graph";
    CHECK_THROWS_MATCHES(n.shape(), graph_error, Catch::Message(message));  // once: a segfault
    CHECK_THROWS_MATCHES(n.name(), graph_error, Catch::Message(message));
    CHECK_THROWS_MATCHES(n.kind(), graph_error, Catch::Message(message));
    CHECK_THROWS_MATCHES(n.value(), graph_error, Catch::Message(message));
    CHECK_THROWS_MATCHES(n.grad(), graph_error, Catch::Message(message));
    graph g;
    node x = g.input("x", {1, 1});
    CHECK_THROWS_MATCHES(g.value(n), graph_error, Catch::Message(message));
    CHECK_THROWS_MATCHES(g.feed(n, tensor{{1}}), graph_error, Catch::Message(message));
    CHECK_THROWS_MATCHES(g.backward(n), graph_error, Catch::Message(message));
    CHECK_THROWS_WITH(add(x, n), Catch::Contains("operand 1 is a null node"));
    CHECK_THROWS_WITH(add(n, x), Catch::Contains("null node"));
    CHECK_THROWS_WITH(tanh(n), Catch::Contains("null node"));
}

// --- 5. an op reading one operand twice: tests/test_graph.cpp, beside the test double they share --------

// --- 6. references ---------------------------------------------------------------------------------

TEST_CASE("a parameter's value and gradient stay at one address while the graph grows and re-plans",
          "[engine][api][references]") {
    seed_network s;
    tensor& w = s.g.value(s.W1);
    s.g.forward();
    s.g.backward(s.J);
    const tensor& dw = s.g.grad(s.W1);
    node deep = s.A1;
    for (int k = 0; k < 40; ++k) deep = tanh(deep);  // the graph grows past its buffers' old capacity
    node extra = sum(deep, "extra");
    s.g.retain(s.Zb);  // and re-plans
    s.g.feed({{s.X, wave(7, 11, 0.5)}, {s.Y, labels(11)}});
    s.g.forward();
    s.g.backward(s.J);
    CHECK(&s.g.value(s.W1) == &w);  // once: a dangling reference after the graph grew
    CHECK(&s.g.grad(s.W1) == &dw);
    w(0, 0) = 0.25;  // writing through the old reference reaches the graph
    CHECK(s.W1.value()(0, 0) == 0.25);
    CHECK(std::isfinite(s.g.value(extra)(0, 0)));
}

TEST_CASE("an input returned alone to a cached size still has to be joined by the others", "[engine][api][feed]") {
    seed_network s;
    s.g.feed({{s.X, wave(7, 3, 0.0)}, {s.Y, labels(3)}});
    s.g.forward();
    s.g.feed({{s.X, wave(7, 5, 0.0)}, {s.Y, labels(5)}});
    s.g.feed(s.X, wave(7, 3, 0.0));  // 3 columns fit with Y at 3, as the cached plan shows; Y is still 5
    CHECK_THROWS_WITH(s.g.forward(), Catch::Contains("X (7x3), Y (1x5)"));
    s.g.feed(s.Y, labels(3));
    s.g.forward();
    CHECK(s.g.value(s.J)(0, 0) == seed_network::reference(3).first);
}
