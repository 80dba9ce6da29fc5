// BCE and BCE-with-logits stay finite, cost and gradient, at saturated logits and at probabilities 0 and 1.
#include <catch2/catch.hpp>

#include <cmath>

#include "ops/ops.hpp"

using namespace symgrad;

namespace {

bool all_finite(const tensor& t) {
    for (std::size_t k = 0; k < t.size(); ++k)
        if (!std::isfinite(t.data()[k])) return false;
    return true;
}

struct loss_run {
    double cost;
    tensor grad;  // d cost / d first operand
};

template <class Loss>
loss_run run(const tensor& first, const tensor& labels, Loss loss_of) {
    graph g;
    node p = g.parameter("P", shape_of(first));
    node y = g.input("Y", shape_of(labels));
    node loss = loss_of(p, y);
    g.value(p) = first;
    g.feed(y, labels);
    g.forward();
    g.backward(loss);
    return {g.value(loss)(0, 0), g.grad(p)};
}

}  // namespace

TEST_CASE("bce_with_logits is finite and exact at z = +-800", "[engine][ops][losses][bce_with_logits]") {
    // Elements: (z, y) = (800, 1), (800, 0), (-800, 1), (-800, 0); per element cost 0, 800, 800, 0,
    // so the mean is 400; the gradient (sigmoid(z) - y) / 4 is 0, 1/4, -1/4, 0. exp(800) would overflow.
    auto r = run(tensor{{800, 800, -800, -800}}, tensor{{1, 0, 1, 0}},
                 [](node z, node y) { return bce_with_logits(z, y); });
    CHECK(std::isfinite(r.cost));
    CHECK(r.cost == Approx(400.0).epsilon(1e-15));
    REQUIRE(all_finite(r.grad));
    CHECK(r.grad(0, 0) == 0.0);
    CHECK(r.grad(0, 1) == 0.25);
    CHECK(r.grad(0, 2) == -0.25);
    CHECK(r.grad(0, 3) == 0.0);
}

TEST_CASE("bce is finite at probabilities exactly 0 and 1", "[engine][ops][losses][bce]") {
    // (a, y) = (0, 1), (1, 0) are the worst predictions: each costs -ln(1e-12) = 27.631021115928547 by the clamp;
    // (0, 0), (1, 1) are perfect and cost ~1e-12. The gradient uses the clamped a: -1/1e-12 / 4 and +1/1e-12 / 4.
    auto r = run(tensor{{0, 1, 0, 1}}, tensor{{1, 0, 0, 1}}, [](node a, node y) { return bce(a, y); });
    CHECK(std::isfinite(r.cost));
    // 1e-5 relative: the a = 1 side works with 1 - 1e-12 as stored in double (see test_ops_forward.cpp).
    CHECK(r.cost == Approx(2 * 27.631021115928547 / 4).epsilon(1e-5));
    REQUIRE(all_finite(r.grad));
    CHECK(r.grad(0, 0) == Approx(-0.25e12).epsilon(1e-9));
    CHECK(r.grad(0, 1) == Approx(0.25e12).epsilon(1e-3));  // 1/(1 - (1 - 1e-12)) carries 1e-4 rounding
    CHECK(std::abs(r.grad(0, 2)) <= 1.0);  // (1 - 0) / (1 - 1e-12) / 4 ~ 1/4
    CHECK(std::abs(r.grad(0, 3)) <= 1.0);
}

TEST_CASE("bce after a sigmoid saturated at z = +-800 stays finite", "[engine][ops][losses][bce]") {
    // sigmoid(+-800) is exactly 1 or 0 in double, so without the clamp log(0) would give an infinite cost
    // and 0 * inf a NaN gradient. With it, the saturated sigmoid's derivative s(1 - s) = 0 makes dz 0.
    auto r = run(tensor{{800, 800, -800, -800}}, tensor{{1, 0, 1, 0}},
                 [](node z, node y) { return bce(sigmoid(z), y); });
    CHECK(std::isfinite(r.cost));
    REQUIRE(all_finite(r.grad));
    for (std::size_t k = 0; k < 4; ++k) CHECK(r.grad.data()[k] == 0.0);
}

TEST_CASE("bce's label gradient is finite at probabilities 0 and 1", "[engine][ops][losses][bce]") {
    // d bce / d y = (ln(1 - a) - ln a) / N with clamped a: +-27.63 / 2, never infinite.
    graph g;
    node a = g.input("A", {1, 2}), y = g.input("Y", {1, 2});
    node loss = bce(a, y);
    g.require_grad(y);
    g.feed(a, tensor{{0, 1}});
    g.feed(y, tensor{{1, 0}});
    g.forward();
    g.backward(loss);
    REQUIRE(all_finite(g.grad(y)));
    CHECK(g.grad(y)(0, 0) == Approx(27.631021115928547 / 2).epsilon(1e-9));
    CHECK(g.grad(y)(0, 1) == Approx(-27.631021115928547 / 2).epsilon(1e-3));
}
