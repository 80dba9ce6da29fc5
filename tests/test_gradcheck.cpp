// gradcheck itself: it must fail on wrong or non-repeatable backward passes and refuse to pass all-zero ones.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/error.hpp"
#include "engine/gradcheck.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// Test double: y = x^2 elementwise, with backward d x = factor * x * g. factor 2 is right; -2 is a sign
// error, 2.05 a 2.5% error that only a relative tolerance catches on large gradients.
class square_op final : public op {
public:
    explicit square_op(double factor) : factor_(factor) {}
    std::string_view kind() const override { return "square"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    void forward(const forward_args& a) const override {
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = a.in[0]->data()[k] * a.in[0]->data()[k];
    }
    void backward(const backward_args& a) const override {
        if (!a.in_grad[0]) return;
        const double *x = a.in[0]->data(), *g = a.out_grad->data();
        a.in_grad[0].send([&](std::size_t k) { return factor_ * x[k] * g[k]; });
    }

private:
    double factor_;
};

// Test double whose backward drifts by 1e-3 on every call, like one that reads uninitialised or stale state.
class drifting_op final : public op {
public:
    std::string_view kind() const override { return "drifting"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    void forward(const forward_args& a) const override {
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = a.in[0]->data()[k];
    }
    void backward(const backward_args& a) const override {
        calls_ += 1;
        if (!a.in_grad[0]) return;
        const double* g = a.out_grad->data();
        a.in_grad[0].send([&](std::size_t k) { return g[k] * (1.0 + 1e-3 * calls_); });
    }

private:
    mutable int calls_ = 0;
};

// loss = sum(op(P) * R) for P = [0.5 -1.5 2; 1 -0.25 3], R = [1 2 -1; 0.5 1 -2].
struct square_graph {
    graph g;
    node p, r, loss;
    explicit square_graph(double factor) {
        p = g.parameter("P", {2, 3});
        r = g.input("R", {2, 3});
        g.value(p) = tensor{{0.5, -1.5, 2}, {1, -0.25, 3}};
        g.feed(r, tensor{{1, 2, -1}, {0.5, 1, -2}});
        loss = sum(mul(make_node(std::make_unique<square_op>(factor), {p}, "Q"), r), "loss");
    }
};

}  // namespace

TEST_CASE("gradcheck passes a correct backward", "[engine][gradcheck]") {
    square_graph s(2.0);
    auto report = gradcheck(s.g, s.loss);
    INFO(report.summary());
    REQUIRE(report.tensors.size() == 1);
    CHECK(report.tensors[0].name == "P");
    CHECK(report.tensors[0].shape == shape2{2, 3});
    CHECK(report.tensors[0].status == check_status::passed);
    CHECK(report.repeatable);
    CHECK(report.passed());
    // Finite differences of a quadratic are exact up to rounding: ~1e-16 / eps = 1e-10 per element.
    CHECK(report.max_abs_error() < 1e-8);
}

TEST_CASE("gradcheck fails a backward with a sign error and points at the worst element", "[engine][gradcheck]") {
    square_graph s(-2.0);
    auto report = gradcheck(s.g, s.loss);
    INFO(report.summary());
    CHECK(report.status() == check_status::failed);
    CHECK_FALSE(report.passed());
    REQUIRE(report.tensors.size() == 1);
    const auto& t = report.tensors[0];
    CHECK(t.status == check_status::failed);
    // Element errors are |(-2 - 2) x r| = 4|x r|: largest at (1,2), 4 * 3 * 2 = 24; there analytic is
    // -2 * 3 * (-2) = 12 and numeric 2 * 3 * (-2) = -12.
    CHECK(t.max_abs_error == Approx(24.0).epsilon(1e-6));
    CHECK(t.max_rel_error == Approx(2.0).epsilon(1e-6));  // |a - n| / max(|a|, |n|) = 2 for a = -n
    CHECK(t.worst_row == 1);
    CHECK(t.worst_col == 2);
    CHECK(t.analytic_at_worst == Approx(12.0).epsilon(1e-9));
    CHECK(t.numeric_at_worst == Approx(-12.0).epsilon(1e-6));
    CHECK_THAT(report.summary(), Catch::Contains("P (2x3): FAILED"));
}

TEST_CASE("gradcheck fails a backward that is 2.5% off", "[engine][gradcheck]") {
    // At element (1,2) the gradient is -12: 2.5% of it is 0.3, far above atol + rtol * 12 = 0.012.
    square_graph s(2.05);
    auto report = gradcheck(s.g, s.loss);
    INFO(report.summary());
    CHECK(report.status() == check_status::failed);
}

TEST_CASE("gradcheck fails a backward that gives a different answer on a second run", "[engine][gradcheck]") {
    graph g;
    node p = g.parameter("P", {1, 3});
    g.value(p) = tensor{{1, 2, 3}};
    node loss = sum(make_node(std::make_unique<drifting_op>(), {p}));
    auto report = gradcheck(g, loss, [] {
        gradcheck_options o;
        o.rtol = 1.0;  // tolerate the drift element-wise, so the repeatability check alone must catch it
        return o;
    }());
    INFO(report.summary());
    CHECK_FALSE(report.repeatable);
    CHECK(report.repeat_max_diff == Approx(1e-3).epsilon(1e-6));
    CHECK(report.status() == check_status::failed);
    CHECK_THAT(report.summary(), Catch::Contains("not repeatable"));
}

TEST_CASE("gradcheck says inconclusive when relu blocks every gradient", "[engine][gradcheck]") {
    // All pre-activations negative: backward and finite differences are both exactly zero, which proves
    // nothing about backward, so it must not count as a pass.
    graph g;
    node p = g.parameter("P", {2, 2});
    g.value(p) = tensor{{-1, -2}, {-0.5, -3}};
    node loss = sum(relu(p));
    auto report = gradcheck(g, loss);
    INFO(report.summary());
    REQUIRE(report.tensors.size() == 1);
    CHECK(report.tensors[0].status == check_status::inconclusive);
    CHECK(report.status() == check_status::inconclusive);
    CHECK_FALSE(report.passed());
    CHECK_THAT(report.summary(), Catch::Contains("inconclusive"));
}

TEST_CASE("gradcheck says inconclusive when zero weights stop the gradient", "[engine][gradcheck]") {
    // d/dW1 of sum(W2 tanh(W1 X)) is zero when W2 = 0; d/dW2 is tanh(W1 X) = 0 when W1 = 0.
    graph g;
    node X = g.input("X", {2, 3});
    node W1 = g.parameter("W1", {2, 2});
    node W2 = g.parameter("W2", {1, 2});
    g.feed(X, tensor{{1, 2, 3}, {-1, 0.5, 2}});
    node loss = sum(matmul(W2, tanh(matmul(W1, X))));
    auto report = gradcheck(g, loss);
    INFO(report.summary());
    CHECK(report.status() == check_status::inconclusive);
}

TEST_CASE("one all-zero tensor does not hide a passing one", "[engine][gradcheck]") {
    // W2 nonzero, W1 zero: W1's gradient W2' * (1 - 0) * X' is nonzero, W2's (tanh(0) = 0) is all zero.
    graph g;
    node X = g.input("X", {2, 3});
    node W1 = g.parameter("W1", {2, 2});
    node W2 = g.parameter("W2", {1, 2});
    g.feed(X, tensor{{1, 2, 3}, {-1, 0.5, 2}});
    g.value(W2) = tensor{{0.5, -1}};
    node loss = sum(matmul(W2, tanh(matmul(W1, X))));
    auto report = gradcheck(g, loss);
    INFO(report.summary());
    REQUIRE(report.tensors.size() == 2);
    CHECK(report.tensors[0].status == check_status::passed);        // W1
    CHECK(report.tensors[1].status == check_status::inconclusive);  // W2
    CHECK(report.status() == check_status::passed);
}

TEST_CASE("gradcheck checks inputs only when asked", "[engine][gradcheck]") {
    square_graph s(2.0);
    CHECK(gradcheck(s.g, s.loss).tensors.size() == 1);
    gradcheck_options o;
    o.check_inputs = true;
    auto report = gradcheck(s.g, s.loss, o);
    INFO(report.summary());
    REQUIRE(report.tensors.size() == 2);
    CHECK(report.tensors[1].name == "R");
    CHECK(report.tensors[1].status == check_status::passed);  // d loss / d R = P^2
    CHECK(s.g.grad(s.r)(1, 2) == Approx(9.0).epsilon(1e-12));
}

TEST_CASE("gradcheck leaves the graph as a fresh forward and backward would", "[engine][gradcheck]") {
    square_graph s(2.0);
    gradcheck(s.g, s.loss);
    // loss = sum(P^2 R) = 0.25 + 4.5 - 4 + 0.5 + 0.0625 - 18 = -16.6875; d/dP = 2 P R.
    CHECK(s.g.value(s.loss)(0, 0) == Approx(-16.6875).epsilon(1e-15));
    CHECK(s.g.value(s.p)(1, 2) == 3.0);  // the perturbed parameter is restored exactly
    CHECK(s.g.grad(s.p)(1, 2) == Approx(-12.0).epsilon(1e-15));
}

TEST_CASE("gradcheck rejects a non-positive step", "[engine][gradcheck]") {
    square_graph s(2.0);
    gradcheck_options o;
    o.eps = 0;
    CHECK_THROWS_AS(gradcheck(s.g, s.loss, o), input_error);
}

TEST_CASE("gradcheck works on a loss that feeds another op", "[engine][gradcheck]") {
    // scale may write K in place over J's buffer (nothing else reads J); gradcheck reads J's value.
    graph g;
    node p = g.parameter("P", {1, 3});
    g.value(p) = tensor{{0.1, 0.2, 0.3}};
    node J = sum(tanh(p), "J");
    scale(J, 2.0, "K");
    gradcheck_report report;
    REQUIRE_NOTHROW(report = gradcheck(g, J));
    INFO(report.summary());
    CHECK(report.passed());
}

namespace {

// Test double with a wrong declaration: relu whose backward reads its input (x > 0) but whose saves()
// says it keeps nothing. Run in place over its operand, it reads its own output instead, which has the
// same sign, so the gradients stay right and only poisoning the reused buffer can expose the lie.
class undeclared_input_relu final : public op {
public:
    std::string_view kind() const override { return "undeclared_input_relu"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    saved saves() const override { return saved::nothing; }  // wrong: backward reads the input
    bool elementwise() const override { return true; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = x[k] > 0.0 ? x[k] : 0.0;
    }
    void backward(const backward_args& a) const override {
        if (!a.in_grad[0]) return;
        const double *x = a.in[0]->data(), *g = a.out_grad->data();
        a.in_grad[0].send([&](std::size_t k) { return x[k] > 0.0 ? g[k] : 0.0; });
    }
};

// loss = sum(op(copy of P) * R): the copy is an intermediate that the op may overwrite in place.
struct undeclared_graph {
    graph g;
    node p, loss;
    undeclared_graph() {
        p = g.parameter("P", {2, 3});
        node r = g.input("R", {2, 3});
        g.value(p) = tensor{{0.5, -1.5, 2}, {1, -0.25, 3}};
        g.feed(r, tensor{{1, 2, -1}, {0.5, 1, -2}});
        node copy = scale(p, 1.0, "copy");
        loss = sum(mul(make_node(std::make_unique<undeclared_input_relu>(), {copy}, "Q"), r), "loss");
    }
};

}  // namespace

TEST_CASE("without poisoning a backward that reads an undeclared input can pass gradcheck", "[engine][gradcheck][poison]") {
    // The baseline for the next two tests: this wrong declaration changes no number by itself.
    undeclared_graph s;
    s.g.set_poison_reused_buffers(false);
    gradcheck_options o;
    o.poison_reused_buffers = false;
    auto report = gradcheck(s.g, s.loss, o);
    INFO(report.summary());
    CHECK(report.passed());
}

TEST_CASE("gradcheck fails an op whose backward reads an input its saves() does not declare",
          "[engine][gradcheck][poison]") {
    undeclared_graph s;
    s.g.set_poison_reused_buffers(false);  // as in a Release build; gradcheck poisons by itself
    auto report = gradcheck(s.g, s.loss);
    INFO(report.summary());
    CHECK_FALSE(report.same_when_poisoned);
    CHECK(report.status() == check_status::failed);
    CHECK_THAT(report.summary(), Catch::Contains("saves() does not declare"));
    CHECK_FALSE(s.g.poison_reused_buffers());  // the graph's own setting is restored
}

TEST_CASE("a graph poisoning its reused buffers, as in debug builds, fails the wrong declaration's gradcheck",
          "[engine][gradcheck][poison]") {
    undeclared_graph s;
    s.g.set_poison_reused_buffers(true);
    gradcheck_options o;
    o.poison_reused_buffers = false;  // only the graph's poisoning: the first backward already reads NaN
    auto report = gradcheck(s.g, s.loss, o);
    INFO(report.summary());
    CHECK(report.status() == check_status::failed);
}
