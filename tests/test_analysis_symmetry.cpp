// The symmetry analysis end to end on small constructed networks (models and by hand), and its report words.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error.hpp"
#include "analysis/report.hpp"
#include "analysis/symmetry.hpp"
#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

using classes_t = std::vector<std::vector<std::size_t>>;

// Features from a fixed-seed normal generator and imbalanced labels (about one in three is 1, like Titanic's
// 711 of 2201), so the output bias always has a nonzero gradient.
void feed_random_data(graph& g, node X, node Y, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor x = tensor::from_shape({X.shape().rows, X.shape().cols});
    for (auto& v : x) v = normal(rng);
    tensor y = tensor::from_shape({1, Y.shape().cols});
    for (std::size_t j = 0; j < y.size(); ++j) y.data()[j] = (j % 3 == 0) ? 1.0 : 0.0;
    g.feed(X, x);
    g.feed(Y, y);
}

// build_mlp on random data (7 features, 60 samples), parameters from `plan`.
mlp random_net(std::vector<std::size_t> hidden, activation act, const init_plan& plan, std::uint64_t seed = 7) {
    mlp net = build_mlp({7, std::move(hidden), act}, 60);
    feed_random_data(net.g, net.X, net.Y, seed);
    plan.apply(net.g, seed);
    return net;
}

init_plan weights(initializer w) {
    init_plan p;
    p.weights = w;
    return p;
}

classes_t singletons(std::size_t n) {
    classes_t c;
    for (std::size_t i = 0; i < n; ++i) c.push_back({i});
    return c;
}

// Copies hidden unit `from` onto unit `to` in layer 1 of `net`: row of W1, row of b1, column of W2.
void copy_unit(mlp& net, std::size_t from, std::size_t to) {
    auto& W1 = net.g.value(net.W[0]);
    auto& b1 = net.g.value(net.b[0]);
    auto& W2 = net.g.value(net.W[1]);
    for (std::size_t j = 0; j < W1.shape()[1]; ++j) W1(to, j) = W1(from, j);
    b1(to, 0) = b1(from, 0);
    for (std::size_t i = 0; i < W2.shape()[0]; ++i) W2(i, to) = W2(i, from);
}

// The tolerance the default options give W1 of `net`: 1e-9 of its largest |element|.
double default_w1_tolerance(const mlp& net) {
    double m = 0.0;
    for (double v : net.g.value(net.W[0])) m = std::max(m, std::abs(v));
    return symmetry_options{}.relative_tolerance * m;
}

}  // namespace

TEST_CASE("an all-zero tanh network on Titanic is frozen and only the output bias moves", "[symmetry]") {
    dataset d = titanic();
    mlp net = build_mlp({d.features(), {4}, activation::tanh}, d.samples());
    net.g.feed(net.X, d.X);
    net.g.feed(net.Y, d.Y);
    init_plan zeros = weights(initializer::zeros());
    zeros.apply(net.g, 1);

    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::frozen);
    REQUIRE(r.layers.size() == 1);
    CHECK(r.layers[0].verdict == symmetry_verdict::frozen);
    CHECK(r.layers[0].effective_width == 1);
    CHECK(r.layers[0].classes == classes_t{{0, 1, 2, 3}});
    CHECK(r.layers[0].moving_parameters.empty());
    // b2's gradient is mean(A2 - Y) = 0.5 - 711/2201, nonzero because the labels are imbalanced.
    CHECK(r.moving_parameters == std::vector<std::string>{"b2"});
    CHECK(r.still_parameters == std::vector<std::string>{"W1", "b1", "W2"});
    CHECK(r.has_problem());
}

TEST_CASE("constant initialisation gives a symmetric layer of effective width 1", "[symmetry]") {
    mlp net = random_net({4}, activation::tanh, weights(initializer::constant(0.5)));
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::symmetric);
    REQUIRE(r.layers.size() == 1);
    CHECK(r.layers[0].effective_width == 1);
    CHECK(r.layers[0].classes == classes_t{{0, 1, 2, 3}});
    // Not frozen: the weights move, but together.
    CHECK(r.layers[0].moving_parameters == std::vector<std::string>{"W1", "b1", "W2"});
}

TEST_CASE("constant initialisation stays symmetric after 50 steps of each optimiser", "[symmetry]") {
    std::string name = GENERATE(as<std::string>{}, "gd", "momentum", "adam");
    CAPTURE(name);
    mlp net = random_net({4}, activation::tanh, weights(initializer::constant(0.5)));
    auto opt = make_optimizer(name, 0.05);
    train_options options;
    options.iterations = 50;
    train(net.g, net.loss, *opt, options);

    REQUIRE(net.g.value(net.W[0])(0, 0) != 0.5);  // the weights did move
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::symmetric);
    CHECK(r.layers.at(0).effective_width == 1);
}

TEST_CASE("a randomly initialised network is healthy", "[symmetry]") {
    mlp net = random_net({6}, activation::tanh, weights(initializer::normal(0.0, 0.01)));
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::healthy);
    CHECK(r.layers.at(0).effective_width == 6);
    CHECK(r.layers.at(0).classes == singletons(6));
    CHECK(r.layers.at(0).transient_groups.empty());
    CHECK_FALSE(r.has_problem());
}

TEST_CASE("zeroing only W1 gives a transient layer, never a symmetric one", "[symmetry]") {
    init_plan plan = weights(initializer::normal(0.0, 0.01));
    plan.overrides["W1"] = initializer::zeros();
    mlp net = random_net({4}, activation::tanh, plan);
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::transient);
    CHECK(r.layers.at(0).effective_width == 4);
    CHECK(r.layers.at(0).transient_groups == classes_t{{0, 1, 2, 3}});
}

TEST_CASE("units that share only incoming weights separate after one gradient step", "[symmetry]") {
    init_plan plan = weights(initializer::normal(0.0, 0.01));
    plan.overrides["W1"] = initializer::zeros();
    mlp net = random_net({4}, activation::tanh, plan);
    analyze_symmetry(net.g, net.loss);  // leaves the gradients of this state in the graph
    make_gradient_descent(0.5)->step(net.g, net.g.parameters());
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::healthy);
    CHECK(r.layers.at(0).classes == singletons(4));
}

TEST_CASE("a random network with unit 5 copied from unit 2 has exactly one class of two", "[symmetry]") {
    mlp net = random_net({8}, activation::tanh, weights(initializer::normal(0.0, 1.0)));
    copy_unit(net, 2, 5);
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::symmetric);
    const auto& l = r.layers.at(0);
    CHECK(l.effective_width == 7);
    CHECK(l.classes == classes_t{{0}, {1}, {2, 5}, {3}, {4}, {6}, {7}});
}

TEST_CASE("two units differing by more than the tolerance are distinct", "[symmetry]") {
    mlp net = random_net({8}, activation::tanh, weights(initializer::normal(0.0, 1.0)));
    copy_unit(net, 2, 5);
    net.g.value(net.W[0])(5, 0) += 100.0 * default_w1_tolerance(net);
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::healthy);
    CHECK(r.layers.at(0).classes == singletons(8));
}

TEST_CASE("two units differing by less than the tolerance are the same", "[symmetry]") {
    mlp net = random_net({8}, activation::tanh, weights(initializer::normal(0.0, 1.0)));
    copy_unit(net, 2, 5);
    // 1/100 of W1's tolerance: the gradients then differ by far less than theirs too.
    net.g.value(net.W[0])(5, 0) += 0.01 * default_w1_tolerance(net);
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::symmetric);
    CHECK(r.layers.at(0).classes == classes_t{{0}, {1}, {2, 5}, {3}, {4}, {6}, {7}});
    CHECK(r.layers.at(0).class_spread > 0.0);
    CHECK(r.layers.at(0).class_spread <= symmetry_options{}.relative_tolerance);
}

TEST_CASE("exact mode tells apart a last-bit difference that the default tolerance merges", "[symmetry]") {
    mlp net = random_net({8}, activation::tanh, weights(initializer::normal(0.0, 1.0)));
    copy_unit(net, 2, 5);
    double& w = net.g.value(net.W[0])(5, 3);
    w = std::nextafter(w, 1e300);

    auto tolerant = analyze_symmetry(net.g, net.loss);
    CHECK(tolerant.layers.at(0).classes == classes_t{{0}, {1}, {2, 5}, {3}, {4}, {6}, {7}});

    symmetry_options exact;
    exact.exact = true;
    auto strict = analyze_symmetry(net.g, net.loss, exact);
    CHECK(strict.verdict == symmetry_verdict::healthy);
    CHECK(strict.layers.at(0).classes == singletons(8));
    CHECK(strict.exact);
}

TEST_CASE("a sigmoid hidden layer with zero init is symmetric, not frozen", "[symmetry]") {
    mlp net = random_net({4}, activation::sigmoid, weights(initializer::zeros()));
    auto r = analyze_symmetry(net.g, net.loss);
    // sigmoid(0) = 0.5, so W2 gets the same nonzero gradient in every column: the weights move together.
    CHECK(r.verdict == symmetry_verdict::symmetric);
    const auto& l = r.layers.at(0);
    CHECK(l.verdict == symmetry_verdict::symmetric);
    CHECK(l.effective_width == 1);
    CHECK_FALSE(l.output_zero);
    CHECK(l.moving_parameters == std::vector<std::string>{"W2"});
}

TEST_CASE("a relu hidden layer with zero init is frozen", "[symmetry]") {
    mlp net = random_net({4}, activation::relu, weights(initializer::zeros()));
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::frozen);
    CHECK(r.layers.at(0).output_zero);
    CHECK(r.moving_parameters == std::vector<std::string>{"b2"});
}

TEST_CASE("relu units with zero incoming weights are dead, hence frozen, even with random W2", "[symmetry]") {
    init_plan plan = weights(initializer::he_normal());
    plan.overrides["W1"] = initializer::zeros();
    mlp net = random_net({4}, activation::relu, plan);
    auto r = analyze_symmetry(net.g, net.loss);
    // relu'(0) = 0: no gradient reaches W1 or b1, and W2 gets none from a zero output. A tanh layer in the
    // same state is transient (see above): the difference is the activation's derivative at 0.
    CHECK(r.verdict == symmetry_verdict::frozen);
    CHECK(r.layers.at(0).moving_parameters.empty());
    CHECK(to_words(r.layers.at(0).fix).find("He") != std::string::npos);
}

TEST_CASE("a two-hidden-layer network gets a verdict per layer and the worst for the model", "[symmetry]") {
    init_plan plan = weights(initializer::glorot_normal());
    plan.overrides["W2"] = initializer::constant(0.3);
    plan.overrides["W3"] = initializer::constant(-0.2);
    mlp net = random_net({5, 3}, activation::tanh, plan);
    auto r = analyze_symmetry(net.g, net.loss);
    REQUIRE(r.layers.size() == 2);
    CHECK(r.layers[0].name == "hidden layer 1 (A1: W1, b1, W2)");
    CHECK(r.layers[1].name == "hidden layer 2 (A2: W2, b2, W3)");
    // Layer 1's outgoing columns (W2's) are equal, but its rows are random: distinct units.
    CHECK(r.layers[0].verdict == symmetry_verdict::healthy);
    CHECK(r.layers[1].verdict == symmetry_verdict::symmetric);
    CHECK(r.layers[1].effective_width == 1);
    CHECK(r.verdict == symmetry_verdict::symmetric);
}

TEST_CASE("an all-zero two-hidden-layer tanh network has both layers frozen", "[symmetry]") {
    mlp net = random_net({5, 3}, activation::tanh, weights(initializer::zeros()));
    auto r = analyze_symmetry(net.g, net.loss);
    REQUIRE(r.layers.size() == 2);
    CHECK(r.layers[0].verdict == symmetry_verdict::frozen);
    CHECK(r.layers[1].verdict == symmetry_verdict::frozen);
    CHECK(r.moving_parameters == std::vector<std::string>{"b3"});
}

TEST_CASE("a zero-init two-hidden-layer sigmoid network is symmetric in both layers, not frozen", "[symmetry]") {
    mlp net = random_net({5, 3}, activation::sigmoid, weights(initializer::zeros()));
    auto r = analyze_symmetry(net.g, net.loss);
    REQUIRE(r.layers.size() == 2);
    // Layer 1 gets no gradient yet (W3 = 0 blocks it), but its output is 0.5, not 0: W2 moves next step.
    CHECK(r.layers[0].verdict == symmetry_verdict::symmetric);
    CHECK(r.layers[0].moving_parameters.empty());
    CHECK(r.layers[1].verdict == symmetry_verdict::symmetric);
    CHECK(r.layers[1].moving_parameters == std::vector<std::string>{"W3"});
    CHECK(r.verdict == symmetry_verdict::symmetric);
}

TEST_CASE("a hand-built graph with other names and swapped add operands is analysed", "[symmetry]") {
    graph g;
    auto X = g.input("features", {3, 20});
    auto Y = g.input("target", {1, 20});
    auto enc = g.parameter("enc", {5, 3});
    auto shift = g.parameter("shift", {5, 1});
    auto dec = g.parameter("dec", {1, 5});
    auto c = g.parameter("c", {1, 1});
    auto hidden = relu(add(shift, matmul(enc, X)), "hidden");  // bias first
    auto out = bce_with_logits(add(matmul(dec, hidden), c), Y, "cost");
    feed_random_data(g, X, Y, 3);
    // Units 1 and 3 identical; the rest different. Positive weights keep the relu units alive.
    g.value(enc) = tensor{{0.1, 0.2, 0.3}, {0.5, -0.1, 0.2}, {0.9, 0.1, -0.4}, {0.5, -0.1, 0.2}, {-0.3, 0.6, 0.1}};
    g.value(shift) = tensor{{0.1}, {0.2}, {0.3}, {0.2}, {0.5}};
    g.value(dec) = tensor{{0.4, -0.7, 0.2, -0.7, 0.3}};

    auto r = analyze_symmetry(g, out);
    REQUIRE(r.layers.size() == 1);
    CHECK(r.layers[0].name == "hidden layer 1 (hidden: enc, shift, dec)");
    CHECK(r.layers[0].activation_kind == "relu");
    CHECK(r.layers[0].classes == classes_t{{0}, {1, 3}, {2}, {4}});
    CHECK(r.verdict == symmetry_verdict::symmetric);
}

TEST_CASE("a layer feeding two heads compares each unit's column in both outgoing weights", "[symmetry]") {
    graph g;
    auto X = g.input("X", {3, 12});
    auto Y = g.input("Y", {1, 12});
    auto W1 = g.parameter("W1", {3, 3});
    auto b1 = g.parameter("b1", {3, 1});
    auto Wa = g.parameter("Wa", {1, 3});
    auto Wb = g.parameter("Wb", {1, 3});
    auto A1 = tanh(matmul(W1, X) + b1, "A1");
    auto J = add(bce(sigmoid(matmul(Wa, A1)), Y), bce(sigmoid(matmul(Wb, A1)), Y), "J");
    feed_random_data(g, X, Y, 6);
    g.value(W1).fill(0.3);
    g.value(Wa).fill(-0.4);                // units agree on W1, b1 and Wa ...
    g.value(Wb) = tensor{{0.1, 0.1, 0.7}};  // ... and unit 2 differs in Wb
    auto r = analyze_symmetry(g, J);
    REQUIRE(r.layers.size() == 1);
    CHECK(r.layers[0].name == "hidden layer 1 (A1: W1, b1, Wa, Wb)");
    CHECK(r.layers[0].classes == classes_t{{0, 1}, {2}});
    CHECK(r.layers[0].verdict == symmetry_verdict::symmetric);
}

TEST_CASE("a hidden layer without bias is found", "[symmetry]") {
    graph g;
    auto X = g.input("X", {3, 10});
    auto Y = g.input("Y", {1, 10});
    auto V = g.parameter("V", {4, 3});
    auto U = g.parameter("U", {1, 4});
    auto h = tanh(matmul(V, X), "h");
    auto J = bce(sigmoid(matmul(U, h)), Y);
    feed_random_data(g, X, Y, 4);
    auto layers = find_hidden_layers(g);
    REQUIRE(layers.size() == 1);
    CHECK(layers[0].name == "hidden layer 1 (h: V, U)");
    CHECK_FALSE(layers[0].bias.valid());
    g.value(V).fill(0.25);
    g.value(U).fill(1.0);
    CHECK(analyze_symmetry(g, J).layers.at(0).effective_width == 1);
}

TEST_CASE("an activation that also feeds something other than matmul(W, .) is skipped with a note", "[symmetry]") {
    graph g;
    auto X = g.input("X", {3, 10});
    auto Y = g.input("Y", {1, 10});
    auto W1 = g.parameter("W1", {4, 3});
    auto b1 = g.parameter("b1", {4, 1});
    auto W2 = g.parameter("W2", {1, 4});
    auto A1 = tanh(matmul(W1, X) + b1, "A1");
    auto J = add(bce(sigmoid(matmul(W2, A1)), Y), mean(mul(A1, A1)), "J");  // an activity penalty on A1
    feed_random_data(g, X, Y, 5);
    auto r = analyze_symmetry(g, J);
    CHECK(r.layers.empty());
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0].find("'A1'") != std::string::npos);
}

TEST_CASE("a network without hidden layers is healthy and says why zero init is harmless there", "[symmetry]") {
    mlp net = random_net({}, activation::tanh, weights(initializer::zeros()));
    auto r = analyze_symmetry(net.g, net.loss);
    CHECK(r.verdict == symmetry_verdict::healthy);
    CHECK(r.layers.empty());
    CHECK(to_words(r.why).find("No hidden layers") != std::string::npos);
    CHECK(to_words(r.why).find("logistic regression") != std::string::npos);
}

TEST_CASE("a NaN in a parameter gets an anomaly error naming it, not a verdict", "[symmetry]") {
    mlp net = random_net({4}, activation::tanh, weights(initializer::normal(0.0, 0.01)));
    net.g.value(net.W[1])(0, 2) = std::nan("");
    CHECK_THROWS_WITH(analyze_symmetry(net.g, net.loss), Catch::Contains("'W2'") && Catch::Contains("NaN"));
}

TEST_CASE("a negative tolerance is rejected", "[symmetry]") {
    mlp net = random_net({4}, activation::tanh, weights(initializer::normal(0.0, 0.01)));
    symmetry_options o;
    o.relative_tolerance = -1e-9;
    CHECK_THROWS_AS(analyze_symmetry(net.g, net.loss, o), input_error);
}

TEST_CASE("the JSON report parses and holds the documented fields", "[symmetry]") {
    mlp net = random_net({4}, activation::tanh, weights(initializer::constant(0.5)));
    auto j = nlohmann::json::parse(to_json(analyze_symmetry(net.g, net.loss)));
    CHECK(j.at("verdict") == "symmetric");
    CHECK(j.at("tolerance").at("relative") == 1e-9);
    CHECK(j.at("tolerance").at("exact") == false);
    const auto& l = j.at("layers").at(0);
    CHECK(l.at("name") == "hidden layer 1 (A1: W1, b1, W2)");
    CHECK(l.at("units") == 4);
    CHECK(l.at("effective_width") == 1);
    CHECK(l.at("classes") == nlohmann::json::parse("[[0,1,2,3]]"));
    CHECK(l.at("verdict") == "symmetric");
    CHECK(l.at("moving_parameters").size() == 3);
    CHECK_FALSE(l.at("explanation").get<std::string>().empty());
    CHECK_FALSE(l.at("fix").get<std::string>().empty());
    CHECK(j.at("moving_parameters").size() == 4);
}

TEST_CASE("the text report names the verdict, the layer and its classes", "[symmetry]") {
    mlp net = random_net({4}, activation::tanh, weights(initializer::zeros()));
    std::string text = to_text(analyze_symmetry(net.g, net.loss));
    CAPTURE(text);
    CHECK(text.find("verdict: frozen") == 0);
    CHECK(text.find("hidden layer 1 (A1: W1, b1, W2): tanh, 4 units, effective width 1: frozen") != std::string::npos);
    CHECK(text.find("{0, 1, 2, 3}") != std::string::npos);
    CHECK(text.find("parameters moving: b2") != std::string::npos);
    CHECK(text.find("Glorot") != std::string::npos);
}
