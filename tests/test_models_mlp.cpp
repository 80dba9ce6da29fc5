// build_mlp: shapes and names, the layer pattern structure analysis relies on, errors, gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "engine/error.hpp"
#include "engine/gradcheck.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"

using namespace symgrad;

namespace {

tensor wave(std::size_t rows, std::size_t cols, double phase) {
    tensor t = tensor::from_shape({rows, cols});
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = std::sin(1.7 * double(k) + phase);
    return t;
}

tensor labels(std::size_t samples) {
    tensor y = tensor::from_shape({1, samples});
    for (std::size_t k = 0; k < samples; ++k) y.data()[k] = (k * 7 % 3 == 0) ? 1.0 : 0.0;
    return y;
}

}  // namespace

TEST_CASE("build_mlp names W_l and b_l with the article's shapes", "[models][mlp]") {
    auto net = build_mlp({6, {5, 3}, activation::tanh}, 11);
    REQUIRE(net.W.size() == 3);
    REQUIRE(net.b.size() == 3);
    const std::size_t rows[] = {5, 3, 1}, cols[] = {6, 5, 3};
    for (std::size_t l = 0; l < 3; ++l) {
        INFO("layer " << l + 1);
        CHECK(net.W[l].name() == "W" + std::to_string(l + 1));
        CHECK(net.b[l].name() == "b" + std::to_string(l + 1));
        CHECK(net.W[l].shape() == shape2{rows[l], cols[l]});
        CHECK(net.b[l].shape() == shape2{rows[l], 1});
        CHECK(net.W[l].kind() == node_kind::parameter);
    }
    CHECK(net.X.name() == "X");
    CHECK(net.X.shape() == shape2{6, 11});
    CHECK(net.Y.shape() == shape2{1, 11});
    CHECK(net.output.name() == "A3");
    CHECK(net.output.shape() == shape2{1, 11});
    CHECK(net.loss.name() == "J");
    // The loss reads the logits Z3 (fused sigmoid + BCE); A3 is the sigmoid of the same Z3.
    CHECK(net.g.kind_name(net.loss) == "bce_with_logits");
    CHECK(net.logits.name() == "Z3");
    CHECK(net.g.operands(net.loss)[0] == net.logits);
    CHECK(net.g.operands(net.output)[0] == net.logits);
    CHECK(net.g.parameters().size() == 6);
}

TEST_CASE("build_mlp with no hidden layer is logistic regression", "[models][mlp]") {
    auto net = build_mlp({6, {}, activation::tanh}, 9);
    REQUIRE(net.W.size() == 1);
    CHECK(net.W[0].shape() == shape2{1, 6});
    CHECK(net.b[0].shape() == shape2{1, 1});
    CHECK(net.output.name() == "A1");
    CHECK(net.g.kind_name(net.output) == "sigmoid");
    auto z = net.g.operands(net.output)[0];
    CHECK(net.g.kind_name(z) == "add");
    CHECK(net.g.operands(z)[0] == net.g.find("W1X"));
    CHECK(net.g.operands(net.g.operands(z)[0])[1] == net.X);
}

TEST_CASE("each hidden activation is fed by add(matmul(W, .), b) and consumed by matmul(W_next, .)",
          "[models][mlp]") {
    for (auto act : {activation::tanh, activation::sigmoid, activation::relu}) {
        INFO(to_string(act));
        auto net = build_mlp({4, {3, 2}, act}, 5);
        for (std::size_t l = 1; l <= 2; ++l) {
            node A = net.g.find("A" + std::to_string(l));
            CHECK(net.g.kind_name(A) == to_string(act));
            node Z = net.g.operands(A)[0];
            REQUIRE(net.g.kind_name(Z) == "add");
            auto zo = net.g.operands(Z);
            REQUIRE(net.g.kind_name(zo[0]) == "matmul");
            CHECK(net.g.operands(zo[0])[0] == net.W[l - 1]);
            CHECK(zo[1] == net.b[l - 1]);
            auto users = net.g.consumers(A);
            REQUIRE(users.size() == 1);
            CHECK(net.g.kind_name(users[0]) == "matmul");
            CHECK(net.g.operands(users[0])[0] == net.W[l]);
            CHECK(net.g.operands(users[0])[1] == A);
        }
        CHECK(net.g.kind_name(net.output) == "sigmoid");
    }
}

TEST_CASE("build_mlp rejects zero inputs, samples and widths with input_error", "[models][mlp]") {
    CHECK_THROWS_AS(build_mlp({0, {4}, activation::tanh}, 10), input_error);
    CHECK_THROWS_AS(build_mlp({6, {4}, activation::tanh}, 0), input_error);
    try {
        build_mlp({6, {4, 0, 2}, activation::tanh}, 10);
        FAIL("no exception");
    } catch (const input_error& e) {
        CHECK(std::string(e.what()).find("hidden layer 2") != std::string::npos);
    }
}

TEST_CASE("activations parse from their names and print back", "[models][mlp]") {
    for (auto act : {activation::tanh, activation::sigmoid, activation::relu})
        CHECK(parse_activation(to_string(act)) == act);
    try {
        parse_activation("softmax");
        FAIL("no exception");
    } catch (const input_error& e) {
        std::string what = e.what();
        CHECK(what.find("'softmax'") != std::string::npos);
        CHECK(what.find("tanh, sigmoid, relu") != std::string::npos);
    }
}

TEST_CASE("the built network's gradients pass a finite-difference check for every activation", "[models][mlp]") {
    for (auto act : {activation::tanh, activation::sigmoid, activation::relu}) {
        INFO(to_string(act));
        auto net = build_mlp({3, {4, 2}, act}, 7);
        net.g.feed(net.X, wave(3, 7, 0.3));
        net.g.feed(net.Y, labels(7));
        init_plan plan;
        plan.weights = initializer::normal(0.0, 1.0);
        plan.biases = initializer::normal(0.0, 0.5);
        plan.apply(net.g, 5);
        auto report = gradcheck(net.g, net.loss);  // default tolerances: atol 1e-5, rtol 1e-3
        INFO(report.summary());
        CHECK(report.passed());
    }
}

TEST_CASE("the built network's output is the sigmoid of the affine map of the last hidden layer",
          "[models][mlp]") {
    // Logistic regression by hand: a = 1 / (1 + exp(-(w.x + b))) per sample, from the raw buffers.
    auto net = build_mlp({3, {}, activation::tanh}, 4);
    tensor x = wave(3, 4, 1.0);
    net.g.feed(net.X, x);
    net.g.feed(net.Y, labels(4));
    net.g.value(net.W[0]) = tensor{{0.5, -1.0, 2.0}};
    net.g.value(net.b[0]) = tensor{{0.25}};
    net.g.forward();
    const tensor& a = net.g.value(net.output);
    for (std::size_t j = 0; j < 4; ++j) {
        double z = 0.5 * x(0, j) - 1.0 * x(1, j) + 2.0 * x(2, j) + 0.25;
        CHECK(a(0, j) == Approx(1.0 / (1.0 + std::exp(-z))).epsilon(1e-14));  // xsimd exp: a few ulp
    }
}
