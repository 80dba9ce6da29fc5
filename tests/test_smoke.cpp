#include <catch2/catch.hpp>

#include "engine/gradcheck.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

TEST_CASE("the seed network runs forward and backward", "[smoke]") {
    graph g;
    auto X = g.input("X", {7, 5});
    auto Y = g.input("Y", {1, 5});
    auto W1 = g.parameter("W1", {4, 7});
    auto b1 = g.parameter("b1", {4, 1});
    auto W2 = g.parameter("W2", {1, 4});
    auto b2 = g.parameter("b2", {1, 1});
    auto A1 = tanh(matmul(W1, X) + b1);
    auto A2 = sigmoid(matmul(W2, A1) + b2);
    auto J = bce(A2, Y);
    tensor x = tensor::from_shape({7, 5});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(double(k));
    g.feed(X, x);
    g.feed(Y, tensor{{1, 0, 1, 1, 0}});
    for (auto p : g.parameters())
        for (std::size_t k = 0; k < g.value(p).size(); ++k) g.value(p).data()[k] = std::cos(double(k) * 1.3 + p.id());
    auto r = gradcheck(g, J);
    INFO(r.summary());
    CHECK(r.passed());
}
