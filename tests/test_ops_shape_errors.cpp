// Shape mismatches are rejected when the op is added, with "<op>: <what> <a> (RxC) and <b> (RxC)".
#include <catch2/catch.hpp>

#include "engine/error.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

TEST_CASE("matmul of 4x7 by 5x3 names the op, both operands and both shapes", "[engine][ops][shapes][matmul]") {
    graph g;
    node W1 = g.parameter("W1", {4, 7});
    node X = g.input("X", {5, 3});
    CHECK_THROWS_MATCHES(matmul(W1, X), graph_error, Catch::Message("matmul: cannot multiply W1 (4x7) and X (5x3)"));
}

TEST_CASE("add of shapes that do not broadcast names both operands and shapes", "[engine][ops][shapes][add]") {
    graph g;
    node Z = g.input("Z", {4, 891});
    node b = g.parameter("b", {3, 1});
    CHECK_THROWS_MATCHES(Z + b, graph_error, Catch::Message("add: cannot broadcast Z (4x891) and b (3x1)"));
    // A row of the wrong length, and the same rule for sub and mul.
    node r = g.parameter("r", {1, 890});
    CHECK_THROWS_MATCHES(Z - r, graph_error, Catch::Message("sub: cannot broadcast Z (4x891) and r (1x890)"));
    CHECK_THROWS_MATCHES(r * Z, graph_error, Catch::Message("mul: cannot broadcast r (1x890) and Z (4x891)"));
}

TEST_CASE("bce of unequal shapes names both operands and shapes", "[engine][ops][shapes][bce]") {
    graph g;
    node A = g.input("A2", {1, 5});
    node Y = g.input("Y", {1, 4});
    CHECK_THROWS_MATCHES(bce(A, Y), graph_error, Catch::Message("bce: needs equal shapes, got A2 (1x5) and Y (1x4)"));
    // (1,5) against (5,1) would broadcast in add, but a loss needs one label per prediction.
    node T = g.input("T", {5, 1});
    CHECK_THROWS_MATCHES(bce_with_logits(A, T), graph_error,
                         Catch::Message("bce_with_logits: needs equal shapes, got A2 (1x5) and T (5x1)"));
}

TEST_CASE("a rejected op leaves the graph as it was", "[engine][ops][shapes]") {
    graph g;
    node W = g.parameter("W", {2, 3});
    node X = g.input("X", {2, 3});
    std::size_t before = g.size();
    CHECK_THROWS_AS(matmul(W, X, "Z"), graph_error);
    CHECK(g.size() == before);
    CHECK_FALSE(g.contains("Z"));
    // The name is still free and the graph still runs.
    node Z = matmul(W, transpose(X), "Z");
    g.forward();
    CHECK(Z.shape() == shape2{2, 2});
}
