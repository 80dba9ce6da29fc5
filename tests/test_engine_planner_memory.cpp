// The planner's memory savings: feeding an input by move (no second copy of X) keeps every result bit for bit.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engine/error.hpp"
#include "ops/ops.hpp"
#include "tensor_checks.hpp"

using namespace symgrad;

namespace {

using testing::random_tensor;
using testing::same_bits;

tensor labels(std::size_t m) {
    tensor y = tensor::from_shape({1, m});
    for (std::size_t j = 0; j < m; ++j) y(0, j) = double(j % 3 == 0);
    return y;
}

// The article's 2-layer network (n inputs, h tanh units, a sigmoid output, BCE), fixed parameters.
struct mlp {
    graph g;
    node X, Y, W1, b1, W2, b2, J;
    mlp(std::size_t n, std::size_t h, std::size_t m) {
        X = g.input("X", {n, m});
        Y = g.input("Y", {1, m});
        W1 = g.parameter("W1", {h, n});
        b1 = g.parameter("b1", {h, 1});
        W2 = g.parameter("W2", {1, h});
        b2 = g.parameter("b2", {1, 1});
        J = bce(sigmoid(matmul(W2, tanh(matmul(W1, X) + b1)) + b2), Y, "J");
        std::mt19937_64 rng(7);
        for (auto p : g.parameters()) g.value(p) = 0.5 * random_tensor(rng, p.shape().rows, p.shape().cols);
    }
    void run() {
        g.forward();
        g.backward(J);
    }
};

// Every parameter gradient and the loss of a and b agree to the bit.
void check_same_results(mlp& a, mlp& b) {
    CHECK(same_bits(a.g.value(a.J), b.g.value(b.J)));
    auto pa = a.g.parameters(), pb = b.g.parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) {
        INFO(pa[i].name());
        CHECK(same_bits(a.g.grad(pa[i]), b.g.grad(pb[i])));
    }
}

}  // namespace

TEST_CASE("feeding by move takes the data's storage and gives the copying feed's results bit for bit",
          "[engine][planner][memory][feed]") {
    std::mt19937_64 rng(11);
    const tensor x = random_tensor(rng, 5, 40);
    mlp copied(5, 6, 40), moved(5, 6, 40);
    copied.g.feed(copied.X, x);
    copied.g.feed(copied.Y, labels(40));

    tensor mine = x;
    const double* storage = mine.data();
    moved.g.feed(moved.X, std::move(mine));
    moved.g.feed(moved.Y, labels(40));
    CHECK(moved.g.value(moved.X).data() == storage);  // no copy: the graph holds the caller's buffer
    CHECK(shape_of(mine) == shape2{0, 0});           // and the caller is left an empty tensor, not a husk
    copied.run();
    moved.run();
    check_same_results(copied, moved);

    // A second feed of the same shape replaces the data (the plan, made for the first buffer, follows it).
    tensor x2 = random_tensor(rng, 5, 40);
    copied.g.feed(copied.X, x2);
    moved.g.feed(moved.X, tensor(x2));
    copied.run();
    moved.run();
    check_same_results(copied, moved);
}

TEST_CASE("feeding by move a new number of samples re-plans; a refused one gives the data back",
          "[engine][planner][memory][feed]") {
    std::mt19937_64 rng(12);
    mlp copied(4, 3, 10), moved(4, 3, 10);
    const tensor x = random_tensor(rng, 4, 25);
    copied.g.feed({{copied.X, x}, {copied.Y, labels(25)}});
    moved.g.feed(moved.Y, labels(25));  // Y first: X's new width then completes the shapes
    tensor mine = x;
    const double* storage = mine.data();
    moved.g.feed(moved.X, std::move(mine));
    CHECK(moved.g.value(moved.X).data() == storage);
    copied.run();
    moved.run();
    check_same_results(copied, moved);

    tensor wrong = random_tensor(rng, 3, 25);  // 3 rows where W1 wants 4
    const tensor kept = wrong;
    CHECK_THROWS_MATCHES(moved.g.feed(moved.X, std::move(wrong)), graph_error,
                         Catch::Message("feed 'X' (3x25): matmul: cannot multiply W1 (3x4) and X (3x25)"));
    CHECK(same_bits(wrong, kept));  // the caller's data, untouched
    CHECK(moved.X.shape() == shape2{4, 25});
    moved.run();
    check_same_results(copied, moved);
}

TEST_CASE("moving a buffer the graph holds into a feed copies it instead of taking it from its node",
          "[engine][planner][memory][feed]") {
    std::mt19937_64 rng(13);
    mlp a(2, 2, 2);
    a.g.feed(a.Y, labels(2));
    a.g.feed(a.X, random_tensor(rng, 2, 2));
    const tensor w = a.g.value(a.W2);
    // W2 (1x2) moved into Y (1x2): Y gets a copy, W2 keeps its value and its storage.
    const double* storage = a.g.value(a.W2).data();
    a.g.feed(a.Y, std::move(a.g.value(a.W2)));
    CHECK(a.g.value(a.W2).data() == storage);
    CHECK(same_bits(a.g.value(a.W2), w));
    CHECK(same_bits(a.g.value(a.Y), w));
    a.g.feed(a.X, std::move(a.g.value(a.X)));  // an input fed its own value
    a.g.feed(a.Y, labels(2));
    CHECK_NOTHROW(a.run());
}
