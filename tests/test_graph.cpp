// The graph's run-time behaviour: cached plan, re-feeding, in-place parameters, backward semantics, errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/error.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// Exact equality of shape and every element. (Catch's decomposer cannot wrap xtensor's operator==.)
bool same_values(const tensor& a, const tensor& b) {
    if (shape_of(a) != shape_of(b)) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (a.data()[k] != b.data()[k]) return false;
    return true;
}

// Z = W X + b with W = [1 2; 3 4] and b = [10; 20]; loss = sum(Z).
struct affine {
    graph g;
    node X, W, b, Z, loss;
    affine() {
        X = g.input("X", {2, 1});
        W = g.parameter("W", {2, 2});
        b = g.parameter("b", {2, 1});
        Z = add(matmul(W, X, "WX"), b, "Z");
        loss = sum(Z, "loss");
        g.value(W) = tensor{{1, 2}, {3, 4}};
        g.value(b) = tensor{{10}, {20}};
    }
};

// The seed network of the issue, 7 inputs, 4 tanh units, one sigmoid output, BCE, on 3 samples.
struct seed_network {
    graph g;
    node X, Y, W1, b1, W2, b2, Z1, A1, Z2, A2, J;
    seed_network() {
        X = g.input("X", {7, 3});
        Y = g.input("Y", {1, 3});
        W1 = g.parameter("W1", {4, 7});
        b1 = g.parameter("b1", {4, 1});
        W2 = g.parameter("W2", {1, 4});
        b2 = g.parameter("b2", {1, 1});
        Z1 = add(matmul(W1, X), b1, "Z1");
        A1 = tanh(Z1, "A1");
        Z2 = add(matmul(W2, A1), b2, "Z2");
        A2 = sigmoid(Z2, "A2");
        J = bce(A2, Y, "J");
        tensor x = tensor::from_shape({7, 3});
        for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(double(k) + 0.5);
        g.feed(X, x);
        g.feed(Y, tensor{{1, 0, 1}});
        for (auto p : g.parameters())
            for (std::size_t k = 0; k < g.value(p).size(); ++k)
                g.value(p).data()[k] = 0.5 * std::cos(1.7 * double(k) + double(p.id()));
    }
};

}  // namespace

TEST_CASE("nodes come in a topological order that stays the same between runs", "[engine][graph]") {
    seed_network s;
    auto order = s.g.nodes();
    REQUIRE(order.size() == s.g.size());
    std::vector<std::size_t> position(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) position[order[k].id()] = k;
    for (auto n : order)
        for (auto o : s.g.operands(n)) CHECK(position[o.id()] < position[n.id()]);
    s.g.forward();
    CHECK(s.g.nodes() == order);
}

TEST_CASE("forward runs many times on the same buffers with the same result", "[engine][graph]") {
    seed_network s;
    s.g.forward();
    double first = s.g.value(s.J)(0, 0);
    const double* buffer = s.g.value(s.J).data();
    for (int run = 0; run < 20; ++run) s.g.forward();
    CHECK(s.g.value(s.J)(0, 0) == first);  // bitwise: the same operations on the same data
    CHECK(s.g.value(s.J).data() == buffer);  // no re-plan, no reallocation
}

TEST_CASE("feeding more columns re-plans and gives the right values", "[engine][graph][feed]") {
    affine a;
    a.g.feed(a.X, tensor{{1}, {1}});
    a.g.forward();
    // [1 2; 3 4][1; 1] + [10; 20] = [13; 27]
    CHECK(same_values(a.g.value(a.Z), tensor{{13}, {27}}));
    a.g.feed(a.X, tensor{{1, 0, 2}, {0, 1, -1}});
    a.g.forward();
    // columns: [1;3]+b = [11;23], [2;4]+b = [12;24], [1*2-2; 3*2-4]+b = [10;22]
    CHECK(a.Z.shape() == shape2{2, 3});
    CHECK(same_values(a.g.value(a.Z), tensor{{11, 12, 10}, {23, 24, 22}}));
    CHECK(a.g.value(a.loss)(0, 0) == 102.0);
    // Back to one column: the parameters kept their values through both re-plans.
    a.g.feed(a.X, tensor{{0}, {1}});
    a.g.forward();
    CHECK(same_values(a.g.value(a.Z), tensor{{12}, {24}}));
    CHECK(same_values(a.g.value(a.W), tensor{{1, 2}, {3, 4}}));
}

TEST_CASE("feeding data with the wrong number of rows throws naming the input", "[engine][graph][feed]") {
    affine a;
    a.g.feed(a.X, tensor{{1}, {1}});
    CHECK_THROWS_MATCHES(a.g.feed(a.X, tensor{{1}, {1}, {1}}), graph_error,
                         Catch::Message("feed 'X' (3x1): matmul: cannot multiply W (2x2) and X (3x1)"));
    // The graph is unchanged and still runs with data of the right shape.
    CHECK(a.X.shape() == shape2{2, 1});
    a.g.feed(a.X, tensor{{1}, {1}});
    a.g.forward();
    CHECK(same_values(a.g.value(a.Z), tensor{{13}, {27}}));
}

TEST_CASE("a refused feed leaves every node's shape as it was", "[engine][graph][feed]") {
    // X -> tanh -> matmul: the new X shape passes tanh's rule and fails matmul's, after tanh's shape was updated.
    graph g;
    node X = g.input("X", {2, 1});
    node T = tanh(X, "T");
    node W = g.parameter("W", {3, 2});
    node Z = matmul(W, T, "Z");
    CHECK_THROWS_MATCHES(g.feed(X, tensor{{1}, {2}, {3}}), graph_error,
                         Catch::Message("feed 'X' (3x1): matmul: cannot multiply W (3x2) and T (3x1)"));
    CHECK(X.shape() == shape2{2, 1});
    CHECK(T.shape() == shape2{2, 1});
    CHECK(Z.shape() == shape2{3, 1});
}

TEST_CASE("feeding a parameter is refused", "[engine][graph][feed]") {
    affine a;
    CHECK_THROWS_WITH(a.g.feed(a.W, tensor{{1, 2}, {3, 4}}), Catch::Contains("'W' is not an input"));
}

TEST_CASE("a parameter changed in place through value() changes the next forward", "[engine][graph]") {
    affine a;
    a.g.feed(a.X, tensor{{1}, {1}});
    a.g.forward();
    CHECK(a.g.value(a.loss)(0, 0) == 40.0);  // 13 + 27
    a.g.value(a.W)(0, 0) = 5;                // first row becomes 5 + 2 + 10 = 17
    a.g.forward();
    CHECK(a.g.value(a.loss)(0, 0) == 44.0);
}

TEST_CASE("resizing a parameter through value() is refused at the next forward", "[engine][graph]") {
    affine a;
    a.g.value(a.b) = tensor{{1, 2}};
    CHECK_THROWS_WITH(a.g.forward(), Catch::Contains("'b'") && Catch::Contains("(1x2)"));
}

TEST_CASE("backward twice gives the same gradients", "[engine][graph][backward]") {
    seed_network s;
    s.g.forward();
    s.g.backward(s.J);
    tensor first = s.g.grad(s.W1);
    s.g.backward(s.J);
    CHECK(same_values(s.g.grad(s.W1), first));
}

TEST_CASE("gradients are recomputed, not accumulated, across backward calls", "[engine][graph][backward]") {
    affine a;
    a.g.feed(a.X, tensor{{1}, {2}});
    a.g.forward();
    a.g.backward(a.loss);
    // d sum(W X + b) / dW = 1 X' = [1 2; 1 2]; / db = [1; 1].
    CHECK(same_values(a.g.grad(a.W), tensor{{1, 2}, {1, 2}}));
    a.g.backward(a.loss);
    CHECK(same_values(a.g.grad(a.W), tensor{{1, 2}, {1, 2}}));
    CHECK(same_values(a.g.grad(a.b), tensor{{1}, {1}}));
    a.g.feed(a.X, tensor{{3}, {-1}});
    a.g.forward();
    a.g.backward(a.loss);
    CHECK(same_values(a.g.grad(a.W), tensor{{3, -1}, {3, -1}}));
}

TEST_CASE("backward needs a forward first and a 1x1 loss", "[engine][graph][backward]") {
    affine a;
    CHECK_THROWS_WITH(a.g.backward(a.loss), Catch::Contains("forward() first"));
    a.g.forward();
    CHECK_THROWS_WITH(a.g.backward(a.Z), Catch::Contains("'Z' must be 1x1, it is (2x1)"));
}

TEST_CASE("unknown names, duplicate names and foreign nodes throw", "[engine][graph]") {
    affine a;
    CHECK(a.g.find("W") == a.W);
    CHECK_THROWS_MATCHES(a.g.find("W3"), graph_error, Catch::Message("no node named 'W3'"));
    CHECK_FALSE(a.g.contains("W3"));
    CHECK_THROWS_WITH(a.g.parameter("W", {1, 1}), Catch::Contains("'W' already exists"));
    graph other;
    node q = other.parameter("Q", {2, 1});
    CHECK_THROWS_AS(a.g.value(q), graph_error);
    CHECK_THROWS_AS(add(a.Z, q), graph_error);
}

TEST_CASE("reading an intermediate overwritten in place throws and says to retain() it", "[engine][graph][planner]") {
    seed_network s;
    s.g.forward();
    // tanh writes A1 into Z1's buffer: nothing needs Z1 after forward (tanh's backward reads its output).
    CHECK_THROWS_MATCHES(s.g.value(s.Z1), graph_error,
                         Catch::Message("the value of 'Z1' was overwritten in place by 'A1'; call retain() on it "
                                        "before running to keep it"));
    CHECK_NOTHROW(s.g.value(s.A1));
}

TEST_CASE("a retained intermediate keeps its own value and gradient", "[engine][graph][planner]") {
    seed_network s;
    s.g.retain(s.Z1);
    s.g.retain(s.A1);
    s.g.forward();
    s.g.backward(s.J);
    const tensor& z1 = s.g.value(s.Z1);
    const tensor& a1 = s.g.value(s.A1);
    const tensor& dz1 = s.g.grad(s.Z1);
    const tensor& da1 = s.g.grad(s.A1);
    REQUIRE(shape_of(z1) == shape2{4, 3});
    // Relations that hold only if both buffers are really separate: A1 = tanh(Z1), dZ1 = dA1 (1 - A1^2).
    // 1e-15 relative: std::tanh against the vectorized kernel, a few ulp apart.
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(a1(i, j) == Approx(std::tanh(z1(i, j))).epsilon(1e-15));
            CHECK(dz1(i, j) == Approx(da1(i, j) * (1 - a1(i, j) * a1(i, j))).epsilon(1e-15));
        }
    // Retaining changes where values live, not what they are.
    seed_network plain;
    plain.g.forward();
    plain.g.backward(plain.J);
    CHECK(plain.g.value(plain.J)(0, 0) == s.g.value(s.J)(0, 0));
    CHECK(same_values(plain.g.grad(plain.W1), s.g.grad(s.W1)));
}

TEST_CASE("require_grad on an input gives its gradient", "[engine][graph][backward]") {
    affine a;
    a.g.feed(a.X, tensor{{1}, {2}});
    a.g.forward();
    a.g.backward(a.loss);
    CHECK_THROWS_WITH(a.g.grad(a.X), Catch::Contains("'X' has no gradient"));
    a.g.require_grad(a.X);
    a.g.forward();
    a.g.backward(a.loss);
    // d sum(W X + b) / dX = W' 1 = [1+3; 2+4] = [4; 6].
    CHECK(same_values(a.g.grad(a.X), tensor{{4}, {6}}));
}

TEST_CASE("a parameter that does not reach the loss gets a zero gradient", "[engine][graph][backward]") {
    affine a;
    node unused = a.g.parameter("U", {3, 2});
    node other = a.g.parameter("V", {2, 1});
    node loss2 = sum(mul(a.Z, other), "loss2");  // reaches V and W, b
    a.g.value(other) = tensor{{1}, {1}};
    a.g.feed(a.X, tensor{{1}, {1}});
    a.g.forward();
    a.g.backward(loss2);
    CHECK(same_values(a.g.grad(other), tensor{{13}, {27}}));
    // loss does not depend on V: its gradient must be reset to zero, not left from the last backward.
    a.g.backward(a.loss);
    CHECK(same_values(a.g.grad(other), tensor{{0}, {0}}));
    CHECK(same_values(a.g.grad(unused), tensor{{0, 0}, {0, 0}, {0, 0}}));
}

TEST_CASE("anomaly detection names the first node whose value is NaN", "[engine][graph][anomaly]") {
    graph g;
    node x = g.input("x", {1, 3});
    node l = log(x, "L");            // log(-1) = NaN: the first bad value
    node t = tanh(l, "T");           // NaN again, but later
    node loss = sum(t, "loss");
    g.feed(x, tensor{{1, -1, 2}});
    g.forward();  // off by default: NaN flows through silently
    CHECK(std::isnan(g.value(loss)(0, 0)));
    g.set_detect_anomaly(true);
    g.set_step(7);
    CHECK_THROWS_MATCHES(g.forward(), anomaly_error,
                         Catch::Message("anomaly: value of node 'L' (log, (1x3)) is NaN at (0,1) in pass 7"));
}

TEST_CASE("anomaly detection names the node whose gradient turns infinite and who produced it",
          "[engine][graph][anomaly]") {
    // log(1e-310) = -713.8 is finite, but its derivative 1 / 1e-310 overflows to Inf.
    graph g;
    node p = g.parameter("P", {1, 1});
    g.value(p)(0, 0) = 1e-310;
    node loss = sum(log(p, "L"), "loss");
    g.set_detect_anomaly(true);
    g.forward();
    CHECK_THROWS_MATCHES(g.backward(loss), anomaly_error,
                         Catch::Message("anomaly: gradient of node 'P' (parameter, (1x1)) is Inf at (0,0) in "
                                        "pass 0, produced by the backward of 'L'"));
}

TEST_CASE("checking only the results names the same first NaN node as checking every node",
          "[engine][graph][anomaly]") {
    graph g;
    node x = g.input("x", {1, 3});
    node l = log(x, "L");   // log(-1) = NaN: the first bad value
    node t = tanh(l, "T");  // NaN again, but later
    sum(t, "loss");
    g.feed(x, tensor{{1, -1, 2}});
    g.set_anomaly_check(anomaly_check::results);
    g.set_step(7);
    // Only the loss is checked; its NaN makes the pass run again node by node to find where it started.
    CHECK_THROWS_MATCHES(g.forward(), anomaly_error,
                         Catch::Message("anomaly: value of node 'L' (log, (1x3)) is NaN at (0,1) in pass 7"));
    CHECK(g.anomaly_check_mode() == anomaly_check::results);
    g.feed(x, tensor{{1, 3, 2}});
    CHECK_NOTHROW(g.forward());
}

TEST_CASE("checking only the results finds an infinite gradient and names who produced it",
          "[engine][graph][anomaly]") {
    graph g;
    node p = g.parameter("P", {1, 1});
    g.value(p)(0, 0) = 1e-310;  // log(1e-310) = -713.8 is finite, its derivative 1 / 1e-310 is not
    node loss = sum(log(p, "L"), "loss");
    g.set_anomaly_check(anomaly_check::results);
    g.forward();
    CHECK(std::isfinite(g.value(loss)(0, 0)));
    CHECK_THROWS_MATCHES(g.backward(loss), anomaly_error,
                         Catch::Message("anomaly: gradient of node 'P' (parameter, (1x1)) is Inf at (0,0) in "
                                        "pass 0, produced by the backward of 'L'"));
}

TEST_CASE("checking only the results still finds an overflow that a saturating op hides from them",
          "[engine][graph][anomaly]") {
    graph g;
    node w = g.parameter("W", {1, 2});
    node x = g.input("X", {2, 3});
    node m = matmul(w, x, "M");  // 1e308 + 1e308 overflows to Inf ...
    node loss = sum(tanh(m, "T"), "loss");  // ... which tanh turns into 1: loss and gradients stay finite
    g.value(w).fill(1e308);
    g.feed(x, tensor{{1, 1, 1}, {1, 1, 1}});
    g.forward();
    g.backward(loss);
    REQUIRE(std::isfinite(g.value(loss)(0, 0)));
    REQUIRE(std::isfinite(g.grad(w)(0, 0)));
    g.set_anomaly_check(anomaly_check::results);
    CHECK_THROWS_MATCHES(g.forward(), anomaly_error,
                         Catch::Message("anomaly: value of node 'M' (matmul, (1x3)) is Inf at (0,0) in pass 0"));
}

TEST_CASE("retaining a node the plan already keeps readable does not re-plan", "[engine][graph][planner]") {
    graph g;
    node w = g.parameter("W", {2, 3});
    node x = g.input("X", {3, 4});
    node m = matmul(w, x, "M");  // sum does not work in place and matmul's gradient is its own: M keeps both
    node loss = sum(m, "loss");
    g.value(w).fill(0.5);
    g.feed(x, tensor::from_shape({3, 4}));
    g.forward();
    g.backward(loss);
    const tensor* value = &g.value(m);
    const tensor* gradient = &g.grad(m);
    g.retain(m);
    // Same buffers (a re-plan would have made new ones) and still readable from the pass before.
    CHECK(&g.value(m) == value);
    CHECK(&g.grad(m) == gradient);
    g.forward();
    CHECK(&g.value(m) == value);
}

TEST_CASE("poisoning reused buffers changes no value or gradient of correct ops", "[engine][graph][poison]") {
    seed_network plain, poisoned;
    plain.g.set_poison_reused_buffers(false);
    poisoned.g.set_poison_reused_buffers(true);
    for (auto* s : {&plain, &poisoned}) {
        s->g.forward();
        s->g.backward(s->J);
    }
    CHECK(plain.g.value(plain.J)(0, 0) == poisoned.g.value(poisoned.J)(0, 0));
    for (const char* p : {"W1", "b1", "W2", "b2"})
        CHECK(same_values(plain.g.grad(plain.g.find(p)), poisoned.g.grad(poisoned.g.find(p))));
    // Reading an overwritten intermediate still throws: poisoning changes where values live, not the rules.
    CHECK_THROWS_AS(poisoned.g.value(poisoned.Z1), graph_error);
}

namespace {

// Test double: out = x * y elementwise, whose backward sends to operand 1 before operand 0.
class product_second_first final : public op {
public:
    std::string_view kind() const override { return "product_second_first"; }
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    void forward(const forward_args& a) const override {
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = a.in[0]->data()[k] * a.in[1]->data()[k];
    }
    void backward(const backward_args& a) const override {
        const double *x = a.in[0]->data(), *y = a.in[1]->data(), *g = a.out_grad->data();
        if (a.in_grad[1]) a.in_grad[1].send([&](std::size_t k) { return g[k] * x[k]; });
        if (a.in_grad[0]) a.in_grad[0].send([&](std::size_t k) { return g[k] * y[k]; });
    }
};

}  // namespace

TEST_CASE("an op reading one operand twice gets both contributions, whatever order it sends them in",
          "[engine][graph][backward]") {
    // d sum(P * P) / dP = 2 P. The planner once made operand 0's sink overwrite and operand 1's add,
    // so an op sending to operand 1 first lost that contribution (giving P).
    graph g;
    node p = g.parameter("P", {1, 3});
    g.value(p) = tensor{{1, -2, 0.5}};
    node loss = sum(make_node(std::make_unique<product_second_first>(), {p, p}, "square"), "loss");
    g.forward();
    g.backward(loss);
    CHECK(same_values(g.grad(p), tensor{{2, -4, 1}}));
    g.backward(loss);  // and the next pass starts from zero again
    CHECK(same_values(g.grad(p), tensor{{2, -4, 1}}));
}

TEST_CASE("an intermediate read twice by one op, and by another op, gets every contribution",
          "[engine][api][aliasing]") {
    // L = sum(t * t) + sum(t), t = tanh(p): dL/dt = 2t + 1 whatever order the op writes its two sinks in.
    graph g;
    node p = g.parameter("P", {1, 3});
    g.value(p) = tensor{{0.3, -1.2, 0.5}};
    node t = tanh(p, "t");
    node loss = add(sum(make_node(std::make_unique<product_second_first>(), {t, t}, "square")), sum(t), "loss");
    g.forward();
    g.backward(loss);
    for (std::size_t k = 0; k < 3; ++k) {
        double tk = std::tanh(g.value(p)(0, k));
        CHECK(g.grad(p)(0, k) == Approx((2 * tk + 1) * (1 - tk * tk)).epsilon(1e-14));
    }
}
