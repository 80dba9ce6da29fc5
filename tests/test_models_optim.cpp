// Optimisers and the training loop on graphs whose gradients are known in closed form.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "models/optim.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// J = sum(W * C): dJ/dW = C whatever W is, so every step sees the same, known gradient.
struct linear_problem {
    graph g;
    node W, C, J;
    linear_problem() {
        W = g.parameter("W", {2, 3});
        C = g.input("C", {2, 3});
        J = sum(mul(W, C));
        g.feed(C, tensor{{1e-3, 5.0, -2.0}, {0.25, -1e-6, 40.0}});
        g.value(W) = tensor{{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.0}};
    }
    void pass() {
        g.forward();
        g.backward(J);
    }
};

// J = mean((W - T)^2), minimised at W = T.
struct quadratic_problem {
    graph g;
    node W, T, J;
    quadratic_problem() {
        W = g.parameter("W", {2, 2});
        T = g.input("T", {2, 2});
        auto d = sub(W, T);
        J = mean(mul(d, d));
        g.feed(T, tensor{{3.0, -2.0}, {0.5, 1.0}});
    }
};

}  // namespace

TEST_CASE("gradient descent subtracts lr times the gradient", "[models][optim]") {
    linear_problem p;
    tensor w0 = p.g.value(p.W);
    tensor c = p.g.value(p.C);
    auto opt = make_gradient_descent(0.1);
    p.pass();
    opt->step(p.g, p.g.parameters());
    for (std::size_t k = 0; k < w0.size(); ++k) CHECK(p.g.value(p.W).data()[k] == w0.data()[k] - 0.1 * c.data()[k]);
}

TEST_CASE("momentum accumulates velocity v = beta v + g", "[models][optim]") {
    linear_problem p;
    tensor w0 = p.g.value(p.W);
    tensor c = p.g.value(p.C);
    auto opt = make_momentum(0.1, 0.9);
    auto params = p.g.parameters();
    for (int s = 0; s < 2; ++s) {
        p.pass();
        opt->step(p.g, params);
    }
    // Two steps with a constant gradient c: W0 - lr c - lr (beta + 1) c = W0 - 2.9 lr c.
    // 1e-13 relative covers the different rounding of the two-step sum against the closed form.
    for (std::size_t k = 0; k < w0.size(); ++k)
        CHECK(p.g.value(p.W).data()[k] == Approx(w0.data()[k] - 0.29 * c.data()[k]).epsilon(1e-13).margin(1e-15));
}

TEST_CASE("Adam's bias-corrected steps have size lr whatever the gradient's scale", "[models][optim]") {
    // With a constant gradient g, bias correction makes m^ = g and v^ = g^2 at every step, so each step is
    // lr g / (|g| + eps): lr in size for gradients from 1e-6 to 40 (without the correction, step 1 would
    // be lr * 0.1 / sqrt(0.001) ~ 3.2 lr). 1e-12 relative: the moments' rounding.
    linear_problem p;
    tensor c = p.g.value(p.C);
    auto opt = make_adam(0.01);
    auto params = p.g.parameters();
    for (int s = 0; s < 3; ++s) {
        tensor before = p.g.value(p.W);
        p.pass();
        opt->step(p.g, params);
        for (std::size_t k = 0; k < c.size(); ++k) {
            double g = c.data()[k];
            double expected = 0.01 * g / (std::abs(g) + 1e-8);
            CHECK(before.data()[k] - p.g.value(p.W).data()[k] == Approx(expected).epsilon(1e-9));
        }
    }
}

TEST_CASE("every optimiser trains a quadratic to its minimum", "[models][optim]") {
    for (std::string name : {"gd", "momentum", "adam"}) {
        INFO(name);
        quadratic_problem p;
        auto opt = make_optimizer(name, name == "adam" ? 0.05 : 0.5);
        auto costs = train(p.g, p.J, *opt, {2000});
        REQUIRE(costs.size() == 2000);
        CHECK(costs.front() > 1.0);
        // 1e-4: Adam's last steps still oscillate on the order of lr around the minimum; gd and momentum
        // converge geometrically and land far closer.
        const tensor& w = p.g.value(p.W);
        const tensor& t = p.g.value(p.T);
        for (std::size_t k = 0; k < w.size(); ++k) CHECK(w.data()[k] == Approx(t.data()[k]).margin(1e-4));
    }
}

TEST_CASE("make_optimizer picks by name and rejects unknown names", "[models][optim]") {
    CHECK(make_optimizer("gd", 0.1)->name() == "gd");
    CHECK(make_optimizer("momentum", 0.1)->name() == "momentum");
    CHECK(make_optimizer("adam", 0.1)->name() == "adam");
    try {
        make_optimizer("rmsprop", 0.1);
        FAIL("no exception");
    } catch (const input_error& e) {
        std::string what = e.what();
        CHECK(what.find("'rmsprop'") != std::string::npos);
        CHECK(what.find("gd, momentum, adam") != std::string::npos);
    }
}

TEST_CASE("a learning rate that is not a positive finite number is rejected", "[models][optim]") {
    for (double lr : {0.0, -0.1, std::numeric_limits<double>::infinity(), std::nan("")}) {
        INFO("lr " << lr);
        for (std::string name : {"gd", "momentum", "adam"}) CHECK_THROWS_AS(make_optimizer(name, lr), input_error);
    }
    CHECK_THROWS_AS(make_momentum(0.1, 1.0), input_error);
    CHECK_THROWS_AS(make_adam(0.1, 0.9, -0.1), input_error);
    CHECK_THROWS_AS(make_adam(0.1, 0.9, 0.999, 0.0), input_error);
}

TEST_CASE("train records one cost per iteration and reports each to the callback", "[models][optim]") {
    quadratic_problem p;
    auto opt = make_gradient_descent(0.1);
    std::vector<std::pair<std::size_t, double>> seen;
    auto costs = train(p.g, p.J, *opt, {25}, [&](std::size_t i, double cost) {
        seen.emplace_back(i, cost);
        return true;
    });
    REQUIRE(costs.size() == 25);
    REQUIRE(seen.size() == 25);
    for (std::size_t i = 0; i < 25; ++i) {
        CHECK(seen[i].first == i + 1);
        CHECK(seen[i].second == costs[i]);
        if (i > 0) CHECK(costs[i] < costs[i - 1]);  // gd with lr 0.1 on mean((W-T)^2) contracts every step
    }
    // The first cost is the one before any update: mean((0 - T)^2) for the zero-filled W.
    CHECK(costs[0] == Approx((9.0 + 4.0 + 0.25 + 1.0) / 4).epsilon(1e-15));
}

TEST_CASE("train stops when the callback returns false", "[models][optim]") {
    quadratic_problem p;
    auto opt = make_gradient_descent(0.1);
    auto costs = train(p.g, p.J, *opt, {100}, [](std::size_t i, double) { return i < 7; });
    CHECK(costs.size() == 7);
    auto none = train(p.g, p.J, *opt, {0});
    CHECK(none.empty());
}

TEST_CASE("train with evaluate_final_state records the trained state too, passes numbered 0..N", "[models][optim]") {
    quadratic_problem plain, watched;
    auto opt_plain = make_gradient_descent(0.1);
    auto opt_watched = make_gradient_descent(0.1);
    auto costs = train(plain.g, plain.J, *opt_plain, {5});
    train_options options;
    options.iterations = 5;
    options.evaluate_final_state = true;
    std::vector<std::size_t> passes, before;
    train_hooks hooks;
    hooks.forward_backward = [&](std::size_t pass) {
        passes.push_back(pass);
        watched.g.forward();
        watched.g.backward(watched.J);
    };
    hooks.before_update = [&](std::size_t pass, double cost) {
        before.push_back(pass);
        CHECK(cost == watched.g.value(watched.J)(0, 0));
    };
    auto traced = train(watched.g, watched.J, *opt_watched, options, hooks);
    REQUIRE(traced.size() == 6);
    CHECK(passes == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
    CHECK(before == passes);
    // The same five updates as the plain loop, then one more pass on the trained state and no sixth update.
    for (std::size_t i = 0; i < 5; ++i) CHECK(traced[i] == costs[i]);
    CHECK(traced[5] < traced[4]);
    bool same_weights = watched.g.value(watched.W) == plain.g.value(plain.W);
    CHECK(same_weights);
}

TEST_CASE("a before_update hook that throws stops training before that pass's update", "[models][optim]") {
    quadratic_problem p, two_updates;
    auto opt = make_gradient_descent(0.1);
    train(two_updates.g, two_updates.J, *opt, {2});
    train_hooks hooks;
    hooks.before_update = [&](std::size_t pass, double) {
        if (pass == 3) throw anomaly_error("stop");
    };
    CHECK_THROWS_AS(train(p.g, p.J, *opt, {10}, hooks), anomaly_error);
    bool two_made = p.g.value(p.W) == two_updates.g.value(two_updates.W);  // the third never applied
    CHECK(two_made);
}

TEST_CASE("an optimiser resizes its state when given different parameters", "[models][optim]") {
    quadratic_problem a;
    linear_problem b;
    auto opt = make_adam(0.01);
    train(a.g, a.J, *opt, {3});
    // A new parameter list restarts the moments (and Adam's step count): the first step is again lr.
    tensor before = b.g.value(b.W);
    b.pass();
    opt->step(b.g, b.g.parameters());
    double moved = before(0, 1) - b.g.value(b.W)(0, 1);
    CHECK(moved == Approx(0.01).epsilon(1e-8));  // 0.01 * 5 / (5 + 1e-8), rounding aside
}
