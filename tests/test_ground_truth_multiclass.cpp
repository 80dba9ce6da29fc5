// The 3-class head against the hand trainer (tests/ground_truth.cpp, its own softmax cross-entropy loops):
// the hand pass checked by finite differences, the engine's costs against it, and symcheck's analysis
// against the fates that training a 3-class network observes (zeros: frozen, constant: symmetric,
// random: healthy).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "adversarial_cases.hpp"
#include "analysis/report.hpp"
#include "analysis/symmetry.hpp"
#include "ground_truth.hpp"
#include "models/optim.hpp"

using namespace symgrad;
using namespace symgrad::truth;

namespace {

constexpr std::size_t classes = 3, features = 4, samples = 90, hidden_units = 4;

// 4 standard normal features; the class is the largest of three scores (x0, x1, -x0 - x1 + x2 x3), so
// the classes are unequal in size and one needs the hidden layer's nonlinearity. Y is 3 x 90 one-hot.
struct three_class_data {
    tensor X = normal_tensor(features, samples, 1.0, 31);
    tensor Y = tensor::from_shape({classes, samples});
    three_class_data() {
        Y.fill(0.0);
        for (std::size_t s = 0; s < samples; ++s) {
            const double score[classes] = {X(0, s), X(1, s), -X(0, s) - X(1, s) + X(2, s) * X(3, s)};
            Y(std::size_t(std::max_element(score, score + classes) - score), s) = 1.0;
        }
    }
};

const three_class_data& data() {
    static const three_class_data d;
    return d;
}

// 4 -> 4 tanh -> 3: every weight `weight` and every bias 0, or normal(0, 0.5) weights when random.
network_state three_class_network(double weight, bool random) {
    network_state net;
    net.hidden = activation::tanh;
    std::size_t fan_in = features, seed = 7;
    for (std::size_t width : {hidden_units, classes}) {
        tensor W = random ? normal_tensor(width, fan_in, 0.5, seed++) : tensor::from_shape({width, fan_in});
        if (!random) W.fill(weight);
        tensor b = tensor::from_shape({width, 1});
        b.fill(0.0);
        net.layers.push_back({W, b});
        fan_in = width;
    }
    return net;
}

// symcheck's library analysis of the start state with a gd lookahead (the run's optimizer), as symcheck runs it.
symmetry_report analysis_of(const network_state& start) {
    mlp net = build_engine_mlp(start, data().X, data().Y);
    auto opt = make_optimizer("gd", 0.5);
    symmetry_options options;
    options.lookahead_optimizer = opt.get();
    return analyze_symmetry(net.g, net.loss, options);
}

fate hand_fate(const network_state& start, std::size_t steps) {
    return measure_fate(start, data().X, data().Y, settings_for("gd", steps), trainer_kind::hand);
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

TEST_CASE("ground truth: the hand softmax pass's gradients match central differences of its own cost",
          "[truth][trainer][multiclass]") {
    network_state start = three_class_network(0, true);
    for (auto& L : start.layers) L.b = normal_tensor(L.b.shape()[0], 1, 0.3, 99);
    pass_result r = forward_backward(start, data().X, data().Y);
    const double h = 1e-6;
    double checked = 0.0;
    for (std::size_t l = 0; l < start.layers.size(); ++l)
        for (int which = 0; which < 2; ++which) {
            const tensor& analytic = which == 0 ? r.dW[l] : r.db[l];
            for (std::size_t k = 0; k < analytic.size(); ++k) {
                network_state plus = start, minus = start;
                (which == 0 ? plus.layers[l].W : plus.layers[l].b).data()[k] += h;
                (which == 0 ? minus.layers[l].W : minus.layers[l].b).data()[k] -= h;
                double numeric =
                    (forward_backward(plus, data().X, data().Y).cost - forward_backward(minus, data().X, data().Y).cost) /
                    (2 * h);
                CHECK(analytic.data()[k] == Approx(numeric).margin(1e-8));  // as the binary test: ~h^2 + 1e-16/h
                checked += std::abs(numeric);
            }
        }
    CHECK(checked > 1e-2);
    // All parameters 0: every class gets 1/3, so the cost is log 3 whatever the labels.
    CHECK(forward_backward(three_class_network(0, false), data().X, data().Y).cost == Approx(std::log(3.0)).epsilon(1e-14));  // 90 rounded terms
}

TEST_CASE("ground truth: the engine's 3-class network trains with the hand trainer's costs to 1e-12",
          "[truth][trainer][multiclass]") {
    // The engine (BLAS, softmax_cross_entropy, its optimizer) and the hand loops share no code; on this
    // stable run they differ by rounding only.
    network_state start = three_class_network(0, true);
    std::vector<double> hand_costs, engine_costs;
    network_state hand = train(start, data().X, data().Y, settings_for("gd", 500), trainer_kind::hand, &hand_costs);
    network_state engine = train(start, data().X, data().Y, settings_for("gd", 500), trainer_kind::engine, &engine_costs);
    REQUIRE(hand_costs.size() == engine_costs.size());
    for (std::size_t t = 0; t < hand_costs.size(); ++t) {
        CAPTURE(t);
        CHECK(engine_costs[t] == Approx(hand_costs[t]).epsilon(1e-12));
    }
    CHECK(hand_costs.back() < 0.5 * hand_costs.front());  // it learned: not a comparison of two stuck runs
    CHECK(max_relative_difference(hand, engine) < 1e-10);
}

TEST_CASE("ground truth: a 3-class network from zeros keeps its hidden weights, and the analysis says frozen",
          "[truth][analysis][multiclass]") {
    // tanh(0) = 0 hides the hidden layer from W2's gradient and W2 = 0 hides the softmax from the hidden
    // layer's: only the output biases move (the classes are unequal in size).
    network_state start = three_class_network(0, false);
    fate f = hand_fate(start, 2000);
    INFO(describe(f));
    CHECK(f.only_output_bias_moved);
    REQUIRE(f.layers.size() == 1);
    CHECK(std::all_of(f.layers[0].never_moved.begin(), f.layers[0].never_moved.end(), [](bool b) { return b; }));

    symmetry_report report = analysis_of(start);
    INFO(to_text(report));
    REQUIRE(report.layers.size() == 1);
    CHECK(report.layers[0].units == hidden_units);
    CHECK(report.layers[0].verdict == symmetry_verdict::frozen);
    CHECK(report.verdict == symmetry_verdict::frozen);
    CHECK(report.layers[0].frozen_units.size() == hidden_units);
    CHECK(contains(report.moving_parameters, "b2"));
    CHECK_FALSE(contains(report.moving_parameters, "W2"));
}

TEST_CASE("ground truth: a 3-class network from constant weights keeps its hidden units tied, and the analysis "
          "says symmetric",
          "[truth][analysis][multiclass]") {
    // Every hidden unit has the same incoming row and the same column of W2, so they get the same gradient,
    // while the three output rows separate (each class's error differs).
    network_state start = three_class_network(0.5, false);
    fate f = hand_fate(start, 2000);
    INFO(describe(f));
    REQUIRE(f.layers.size() == 1);
    CHECK(f.layers[0].tied_classes == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}});
    CHECK(contains(f.moved, "W1"));
    CHECK(contains(f.moved, "W2"));
    CHECK(f.final_state.layers[1].W(0, 0) != f.final_state.layers[1].W(1, 0));  // the output units did separate

    symmetry_report report = analysis_of(start);
    INFO(to_text(report));
    REQUIRE(report.layers.size() == 1);
    CHECK(report.layers[0].classes == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}});
    CHECK(report.layers[0].effective_width == 1);
    CHECK(report.layers[0].verdict == symmetry_verdict::symmetric);
    CHECK(report.verdict == symmetry_verdict::symmetric);
}

TEST_CASE("ground truth: a 3-class network from random weights keeps four distinct units, and the analysis "
          "says healthy",
          "[truth][analysis][multiclass]") {
    network_state start = three_class_network(0, true);
    fate f = hand_fate(start, 2000);
    INFO(describe(f));
    REQUIRE(f.layers.size() == 1);
    CHECK(f.layers[0].tied_classes.size() == hidden_units);  // every unit its own class at every step
    for (const auto& w : f.layers[0].effective_width) CHECK(w.width == hidden_units);

    symmetry_report report = analysis_of(start);
    INFO(to_text(report));
    REQUIRE(report.layers.size() == 1);
    CHECK(report.layers[0].effective_width == hidden_units);
    CHECK(report.layers[0].verdict == symmetry_verdict::healthy);
    CHECK(report.verdict == symmetry_verdict::healthy);
}
