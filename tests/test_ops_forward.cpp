// Forward values (and a few local derivatives) of every op against numbers worked out by hand or known constants.
#include <catch2/catch.hpp>

#include <cmath>

#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// Values here are exact small integers or IEEE results of one libm call: 1e-15 relative covers the last
// bits that a vectorized (xsimd) tanh/exp/log may differ from glibc by (a few ulp), and nothing more.
Approx close(double v) { return Approx(v).epsilon(1e-15).margin(1e-15); }

// Evaluates op(x) for a fed 2-D list and returns a copy of the result.
template <class F>
tensor unary_value(const tensor& x, F f) {
    graph g;
    node in = g.input("x", shape_of(x));
    node out = f(in);
    g.feed(in, x);
    g.forward();
    return g.value(out);
}

template <class F>
tensor binary_value(const tensor& x, const tensor& y, F f) {
    graph g;
    node a = g.input("a", shape_of(x)), b = g.input("b", shape_of(y));
    node out = f(a, b);
    g.feed(a, x);
    g.feed(b, y);
    g.forward();
    return g.value(out);
}

void check_equal(const tensor& got, const tensor& want) {
    REQUIRE(shape_of(got) == shape_of(want));
    for (std::size_t i = 0; i < want.shape()[0]; ++i)
        for (std::size_t j = 0; j < want.shape()[1]; ++j) {
            INFO("element (" << i << "," << j << ")");
            CHECK(got(i, j) == close(want(i, j)));
        }
}

}  // namespace

TEST_CASE("matmul of two 2x2 matrices gives the product worked by hand", "[engine][ops][forward][matmul]") {
    // [1 2; 3 4][5 6; 7 8] = [1*5+2*7 1*6+2*8; 3*5+4*7 3*6+4*8] = [19 22; 43 50]
    check_equal(binary_value({{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}, [](node a, node b) { return matmul(a, b); }),
                {{19, 22}, {43, 50}});
}

TEST_CASE("matmul of a 2x3 by a 3x1 gives the row dot products", "[engine][ops][forward][matmul]") {
    // [1 2 3]·[1 0 -1] = -2, [4 5 6]·[1 0 -1] = -2; and a 1x1 product 3*(-4) = -12.
    check_equal(binary_value({{1, 2, 3}, {4, 5, 6}}, {{1}, {0}, {-1}}, [](node a, node b) { return matmul(a, b); }),
                {{-2}, {-2}});
    check_equal(binary_value({{3}}, {{-4}}, [](node a, node b) { return matmul(a, b); }), {{-12}});
}

TEST_CASE("matmul of a column by a row gives the outer product", "[engine][ops][forward][matmul]") {
    // [1; -2][3 4 5] = [1*3 1*4 1*5; -2*3 -2*4 -2*5]
    check_equal(binary_value({{1}, {-2}}, {{3, 4, 5}}, [](node a, node b) { return matmul(a, b); }),
                {{3, 4, 5}, {-6, -8, -10}});
}

TEST_CASE("add broadcasts a column, a row and a scalar over a matrix", "[engine][ops][forward][add]") {
    tensor m{{1, 2, 3}, {4, 5, 6}};
    check_equal(binary_value(m, {{10}, {20}}, [](node a, node b) { return a + b; }), {{11, 12, 13}, {24, 25, 26}});
    check_equal(binary_value(m, {{10, 20, 30}}, [](node a, node b) { return a + b; }), {{11, 22, 33}, {14, 25, 36}});
    check_equal(binary_value({{100}}, m, [](node a, node b) { return a + b; }), {{101, 102, 103}, {104, 105, 106}});
    // (2,1) with (1,3) broadcasts both: out(i,j) = col(i) + row(j).
    check_equal(binary_value({{1}, {2}}, {{10, 20, 30}}, [](node a, node b) { return a + b; }),
                {{11, 21, 31}, {12, 22, 32}});
}

TEST_CASE("sub keeps the operand order when broadcasting", "[engine][ops][forward][sub]") {
    check_equal(binary_value({{1, 2, 3}, {4, 5, 6}}, {{1}, {2}}, [](node a, node b) { return a - b; }),
                {{0, 1, 2}, {2, 3, 4}});
    check_equal(binary_value({{10}}, {{1, 2}, {3, 4}}, [](node a, node b) { return a - b; }), {{9, 8}, {7, 6}});
}

TEST_CASE("mul multiplies elementwise, not as matrices", "[engine][ops][forward][mul]") {
    check_equal(binary_value({{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}, [](node a, node b) { return a * b; }),
                {{5, 12}, {21, 32}});
    check_equal(binary_value({{1, 2}, {3, 4}}, {{2, -1}}, [](node a, node b) { return a * b; }), {{2, -2}, {6, -4}});
}

TEST_CASE("neg and scale multiply by -1 and by their factor", "[engine][ops][forward][neg][scale]") {
    check_equal(unary_value({{1, -2.5}}, [](node x) { return -x; }), {{-1, 2.5}});
    check_equal(unary_value({{1, -2.5}}, [](node x) { return 0.5 * x; }), {{0.5, -1.25}});
    check_equal(unary_value({{4}}, [](node x) { return x * -3.0; }), {{-12}});
}

TEST_CASE("tanh matches known values", "[engine][ops][forward][tanh]") {
    // tanh(0.5) = 0.46211715726000974, tanh(1) = 0.7615941559557649, odd; eight values so that the
    // vectorized kernel's main loop, not only its scalar tail, is exercised.
    check_equal(unary_value({{0.5, -0.5, 0, 1, -1, 0.5, 0.5, 1}}, [](node x) { return tanh(x); }),
                {{0.46211715726000974, -0.46211715726000974, 0, 0.7615941559557649, -0.7615941559557649,
                  0.46211715726000974, 0.46211715726000974, 0.7615941559557649}});
}

TEST_CASE("sigmoid matches known values and saturates to 0 and 1", "[engine][ops][forward][sigmoid]") {
    // sigmoid(0) = 1/2; sigmoid(ln 3) = 1/(1 + 1/3) = 3/4; sigmoid(-ln 3) = 1/4; sigmoid(2) = 0.8807970779778823.
    double ln3 = std::log(3.0);
    check_equal(unary_value({{0, ln3, -ln3, 2, 0, 0, 0, 0}}, [](node x) { return sigmoid(x); }),
                {{0.5, 0.75, 0.25, 0.8807970779778823, 0.5, 0.5, 0.5, 0.5}});
    tensor far = unary_value({{800, -800, 40, -40}}, [](node x) { return sigmoid(x); });
    CHECK(far(0, 0) == 1.0);
    CHECK(far(0, 1) == 0.0);
    CHECK(far(0, 2) == 1.0);  // 1 - 4e-18 rounds to 1 in double
    CHECK(far(0, 3) == Approx(4.248354255291589e-18).epsilon(1e-12));  // e^-40 / (1 + e^-40)
}

TEST_CASE("relu zeroes negatives and keeps positives", "[engine][ops][forward][relu]") {
    check_equal(unary_value({{-2, 0, 3, -0.1, 0.1}}, [](node x) { return relu(x); }), {{0, 0, 3, 0, 0.1}});
}

TEST_CASE("leaky_relu keeps positives and scales the rest by its slope", "[engine][ops][forward][leaky_relu]") {
    check_equal(unary_value({{-2, 0, 3, -0.1, 0.1}}, [](node x) { return leaky_relu(x, 0.25); }),
                {{-0.5, 0, 3, -0.025, 0.1}});
    check_equal(unary_value({{-300, 4}}, [](node x) { return leaky_relu(x); }), {{-3, 4}});  // slope 0.01
}

TEST_CASE("exp and log match known values", "[engine][ops][forward][exp][log]") {
    // e = 2.718281828459045, exp(ln 2) = 2, log(0.5) = -0.6931471805599453.
    check_equal(unary_value({{1, 0, std::log(2.0), -1, 1, 1, 1, 1}}, [](node x) { return exp(x); }),
                {{2.718281828459045, 1, 2, 0.36787944117144233, 2.718281828459045, 2.718281828459045,
                  2.718281828459045, 2.718281828459045}});
    check_equal(unary_value({{2.718281828459045, 1, 0.5, 8, 1, 1, 1, 1}}, [](node x) { return log(x); }),
                {{1, 0, -0.6931471805599453, 2.0794415416798357, 0, 0, 0, 0}});
}

TEST_CASE("sum and mean reduce a matrix to 1x1", "[engine][ops][forward][sum][mean]") {
    // 1+2+3+4+5+6 = 21, mean 21/6 = 3.5.
    check_equal(unary_value({{1, 2, 3}, {4, 5, 6}}, [](node x) { return sum(x); }), {{21}});
    check_equal(unary_value({{1, 2, 3}, {4, 5, 6}}, [](node x) { return mean(x); }), {{3.5}});
}

TEST_CASE("transpose swaps rows and columns", "[engine][ops][forward][transpose]") {
    check_equal(unary_value({{1, 2, 3}, {4, 5, 6}}, [](node x) { return transpose(x); }), {{1, 4}, {2, 5}, {3, 6}});
}

TEST_CASE("bce of probabilities matches the cross-entropy worked by hand", "[engine][ops][forward][bce]") {
    // a = 1/2, y = 1: -ln(1/2) = ln 2 = 0.6931471805599453.
    check_equal(binary_value({{0.5}}, {{1}}, [](node a, node y) { return bce(a, y); }), {{0.6931471805599453}});
    // a = (0.8, 0.4), y = (1, 0): -(ln 0.8 + ln 0.6) / 2 = (0.22314355 + 0.51082562) / 2 = 0.3669845875401002.
    check_equal(binary_value({{0.8, 0.4}}, {{1, 0}}, [](node a, node y) { return bce(a, y); }), {{0.3669845875401002}});
}

TEST_CASE("bce clamps a probability of exactly 0 or 1 to 1e-12 from the edge", "[engine][ops][forward][bce]") {
    // a = 0, y = 1: -ln(1e-12) = 12 ln 10 = 27.631021115928547.
    check_equal(binary_value({{0}}, {{1}}, [](node a, node y) { return bce(a, y); }), {{27.631021115928547}});
    // a = 1, y = 0: -ln(1 - (1 - 1e-12)) is the same in exact arithmetic, but 1 - 1e-12 is stored to within
    // 1.1e-16, i.e. 1e-4 of the 1e-12 gap, so the cost may be off by up to ~1e-4 absolute: 1e-5 relative.
    tensor worst = binary_value({{1}}, {{0}}, [](node a, node y) { return bce(a, y); });
    CHECK(worst(0, 0) == Approx(27.631021115928547).epsilon(1e-5));
    // a = 1, y = 1: -ln(1 - 1e-12) ~ 1e-12 (the clamp costs that much even on a perfect prediction).
    tensor right = binary_value({{1}}, {{1}}, [](node a, node y) { return bce(a, y); });
    CHECK(right(0, 0) == Approx(1e-12).epsilon(1e-3));
}

TEST_CASE("bce_with_logits matches known values", "[engine][ops][forward][bce_with_logits]") {
    // z = 0: ln 2 whatever y; z = 2, y = 1: ln(1 + e^-2) = 0.1269280110429725; z = 2, y = 0: 2 + that.
    check_equal(binary_value({{0}}, {{1}}, [](node z, node y) { return bce_with_logits(z, y); }), {{0.6931471805599453}});
    check_equal(binary_value({{2}}, {{1}}, [](node z, node y) { return bce_with_logits(z, y); }), {{0.1269280110429725}});
    check_equal(binary_value({{2, 0}}, {{0, 0}}, [](node z, node y) { return bce_with_logits(z, y); }),
                {{(2.1269280110429725 + 0.6931471805599453) / 2}});
}

TEST_CASE("bce_with_logits equals bce of the sigmoid where neither saturates", "[engine][ops][forward][bce_with_logits]") {
    // Two different formulas for the same cost; 1e-13 relative covers the rounding of sigmoid then log.
    graph g;
    node z = g.input("z", {1, 4}), y = g.input("y", {1, 4});
    node stable = bce_with_logits(z, y), via_probability = bce(sigmoid(z), y);
    g.feed(z, tensor{{-3.0, -0.25, 0.5, 4.0}});
    g.feed(y, tensor{{0, 1, 1, 0}});
    g.forward();
    CHECK(g.value(stable)(0, 0) == Approx(g.value(via_probability)(0, 0)).epsilon(1e-13));
}

TEST_CASE("local derivatives match values worked by hand", "[engine][ops][backward]") {
    // d tanh/dx at 0.5 = 1 - tanh(0.5)^2 = sech^2(0.5) = 0.7864477329659274;
    // d bce/da at a = 1/2, y = 1 is -1/a = -2; d bce_with_logits/dz at z = 0, y = 1 is sigmoid(0) - 1 = -1/2.
    graph g;
    node x = g.parameter("x", {1, 1}), a = g.parameter("a", {1, 1}), z = g.parameter("z", {1, 1});
    node one = g.input("one", {1, 1});
    g.feed(one, tensor{{1}});
    g.value(x)(0, 0) = 0.5;
    g.value(a)(0, 0) = 0.5;
    g.value(z)(0, 0) = 0.0;
    node loss = sum(tanh(x)) + bce(a, one) + bce_with_logits(z, one);
    g.forward();
    g.backward(loss);
    CHECK(g.grad(x)(0, 0) == close(0.7864477329659274));
    CHECK(g.grad(a)(0, 0) == close(-2.0));
    CHECK(g.grad(z)(0, 0) == close(-0.5));
}
