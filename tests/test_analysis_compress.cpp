// The compressed model and the weight-only analysis: classes from training or construction, outputs by hand.
#include <catch2/catch.hpp>

#include "analysis/compress.hpp"
#include "analysis/weight_analysis.hpp"
#include "model_file_helpers.hpp"
#include "models/data.hpp"

using namespace symgrad;
using namespace symgrad::testing;
using truth::dense_layer;
using truth::network_state;

namespace {

tensor filled(std::size_t r, std::size_t c, double v) { return xt::ones<double>({r, c}) * v; }

// A few columns of inputs with varied signs and sizes, enough to tell distinct functions apart.
tensor probe_inputs(std::size_t features) {
    tensor X({features, std::size_t(7)});
    for (std::size_t k = 0; k < features; ++k)
        for (std::size_t j = 0; j < 7; ++j) X(k, j) = std::sin(1.3 * double(k + 1) * double(j + 1)) * double(j % 3 + 1);
    return X;
}

// 6 -> 4 tanh -> 1 from constant:0.5, trained 200 steps by the engine on the Titanic data.
network_state trained_constant_network() {
    network_state s;
    s.hidden = activation::tanh;
    s.layers.push_back({filled(4, 6, 0.5), filled(4, 1, 0.5)});
    s.layers.push_back({filled(1, 4, 0.5), filled(1, 1, 0.5)});
    dataset d = titanic();
    return truth::train(s, d.X, d.Y, {"gd", 0.1, 200}, truth::trainer_kind::engine);
}

}  // namespace

TEST_CASE("a constant-initialised network trained by the engine compresses to one hidden unit with the same outputs",
          "[analysis][compress]") {
    network_state s = trained_constant_network();
    // The fate from training: the four rows are still equal, bit for bit, and have moved.
    for (std::size_t i = 1; i < 4; ++i)
        for (std::size_t k = 0; k < 6; ++k) REQUIRE(s.layers[0].W(i, k) == s.layers[0].W(0, k));
    REQUIRE(s.layers[0].W(0, 0) != 0.5);
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    REQUIRE(c.layers.size() == 1);
    CHECK(c.layers[0].classes == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}});
    CHECK(c.layers[0].units_after == 1);
    CHECK(c.exact_merges);
    CHECK(c.parameters_before == 4 * 6 + 4 + 4 + 1);
    CHECK(c.parameters_after == 6 + 1 + 1 + 1);
    CHECK(c.model.parameters.at("2.weight")(0, 0) ==
          Approx(4 * s.layers[1].W(0, 0)).epsilon(1e-15));  // the four equal outgoing weights summed
    dataset d = titanic();
    CHECK(relative_difference(hand_logits(m, d.X), hand_logits(c.model, d.X)) <= 1e-12);
    for (const auto& [name, origin] : m.origins) {
        CHECK(c.model.origins.at(name).dtype == origin.dtype);
        CHECK(c.model.origins.at(name).one_dimensional == origin.one_dimensional);
    }
}

TEST_CASE("a mirrored tanh unit merges with sign -1 on its outgoing weight", "[analysis][compress]") {
    network_state s;
    s.layers.push_back({tensor{{0.3, -0.7}, {-0.3, 0.7}, {0.9, 0.1}}, tensor{{0.2}, {-0.2}, {0.05}}});
    s.layers.push_back({tensor{{1.5, 0.25, -2.0}}, tensor{{0.1}}});
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    CHECK(c.layers[0].classes == std::vector<std::vector<std::size_t>>{{0, 1}, {2}});
    CHECK(c.layers[0].sign == std::vector<int>{1, -1, 1});
    CHECK(c.model.parameters.at("2.weight")(0, 0) == 1.5 - 0.25);
    CHECK(c.model.parameters.at("0.weight")(0, 1) == -0.7);  // the representative keeps its own row
    tensor X = probe_inputs(2);
    CHECK(relative_difference(hand_logits(m, X), hand_logits(c.model, X)) <= 1e-12);
    weight_report w = analyze_weights(m, comparison{});
    CHECK(w.layers[0].identical.empty());
    CHECK(w.layers[0].mirrored == std::vector<std::vector<std::size_t>>{{0, 1}});
    CHECK_FALSE(w.has_problem());
}

TEST_CASE("sigmoid units are not taken as mirrors", "[analysis][compress]") {
    network_state s;
    s.hidden = activation::sigmoid;
    s.layers.push_back({tensor{{0.3, -0.7}, {-0.3, 0.7}}, tensor{{0.2}, {-0.2}}});
    s.layers.push_back({tensor{{1.5, 0.25}}, tensor{{0.1}}});
    compression c = compress_model(as_model_file(s), comparison{});
    CHECK(c.layers[0].units_after == 2);
}

TEST_CASE("relu units dead for every input are removed, units dead only on data or constant are kept",
          "[analysis][compress]") {
    network_state s;
    s.hidden = activation::relu;
    // unit 0: zero row, b = -1 (dead everywhere); 1: zero row, b = 0.5 (constant 0.5); 2: dead on the positive
    // probe inputs below only; 3: an ordinary unit.
    s.layers.push_back({tensor{{0, 0}, {0, 0}, {-1, -1}, {0.5, -0.25}}, tensor{{-1}, {0.5}, {-0.1}, {0.3}}});
    s.layers.push_back({tensor{{2.0, 3.0, 4.0, 5.0}}, tensor{{0.0}}});
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    CHECK(c.layers[0].dead == std::vector<std::size_t>{0});
    CHECK(c.layers[0].units_after == 3);
    tensor X = xt::abs(probe_inputs(2));  // all positive: unit 2 is dead on these, not on all inputs
    CHECK(relative_difference(hand_logits(m, X), hand_logits(c.model, X)) <= 1e-12);
    weight_report w = analyze_weights(m, comparison{});
    CHECK(w.layers[0].dead_relu == std::vector<std::size_t>{0});
    CHECK(w.has_problem());
}

TEST_CASE("units whose outgoing weights are all zero are removed", "[analysis][compress]") {
    network_state s;
    s.layers.push_back({tensor{{0.3, -0.7}, {0.4, 0.2}, {0.9, 0.1}}, tensor{{0.2}, {-0.2}, {0.05}}});
    s.layers.push_back({tensor{{1.5, 0.0, -2.0}}, tensor{{0.1}}});
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    CHECK(c.layers[0].unused == std::vector<std::size_t>{1});
    CHECK(c.layers[0].kept_as == std::vector<long>{0, -1, 1});
    CHECK(c.parameters_after == 2 * 2 + 2 + 2 + 1);
    tensor X = probe_inputs(2);
    CHECK(relative_difference(hand_logits(m, X), hand_logits(c.model, X)) <= 1e-12);
    CHECK(analyze_weights(m, comparison{}).layers[0].zero_outgoing == std::vector<std::size_t>{1});
}

TEST_CASE("units tied only through the layer below (forward-equitable) merge after that layer's merge",
          "[analysis][compress]") {
    network_state s;
    // Layer 1: units 0 and 1 identical, unit 2 distinct. Layer 2: units 0 and 1 read (a, b) and (b, a) from
    // the tied pair, so their incoming sums agree, though their rows do not.
    s.layers.push_back({tensor{{0.3, -0.7}, {0.3, -0.7}, {0.9, 0.1}}, tensor{{0.2}, {0.2}, {0.05}}});
    s.layers.push_back({tensor{{0.6, -0.1, 0.4}, {-0.1, 0.6, 0.4}, {0.2, 0.2, -0.3}}, tensor{{0.1}, {0.1}, {0.0}}});
    s.layers.push_back({tensor{{1.0, 2.0, -1.5}}, tensor{{0.3}}});
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    REQUIRE(c.layers.size() == 2);
    CHECK(c.layers[0].classes == std::vector<std::vector<std::size_t>>{{0, 1}, {2}});
    CHECK(c.layers[1].classes == std::vector<std::vector<std::size_t>>{{0, 1}, {2}});
    CHECK(c.parameters_after == (2 * 2 + 2) + (2 * 2 + 2) + (2 + 1));
    tensor X = probe_inputs(2);
    CHECK(relative_difference(hand_logits(m, X), hand_logits(c.model, X)) <= 1e-12);
    weight_report w = analyze_weights(m, comparison{});
    CHECK(w.layers[1].identical.empty());
    CHECK(w.layers[1].same_output == std::vector<std::vector<std::size_t>>{{0, 1}});
}

TEST_CASE("units equal only within the tolerance merge and say so; exact comparison keeps them apart",
          "[analysis][compress]") {
    network_state s;
    s.layers.push_back({tensor{{0.3, -0.7}, {0.3 + 1e-13, -0.7}}, tensor{{0.2}, {0.2}}});
    s.layers.push_back({tensor{{1.0, 1.0}}, tensor{{0.0}}});
    model_file m = as_model_file(s);
    compression loose = compress_model(m, comparison{});
    CHECK(loose.layers[0].units_after == 1);
    CHECK_FALSE(loose.exact_merges);
    CHECK(loose.layers[0].merge_spread > 0.0);
    compression exact = compress_model(m, comparison{0.0, true});
    CHECK(exact.layers[0].units_after == 2);
    CHECK(exact.exact_merges);
}

TEST_CASE("a layer whose every unit is unused keeps one unit that contributes nothing", "[analysis][compress]") {
    network_state s;
    s.layers.push_back({tensor{{0.3, -0.7}, {0.4, 0.2}}, tensor{{0.2}, {-0.2}}});
    s.layers.push_back({tensor{{0.0, 0.0}}, tensor{{0.7}}});
    model_file m = as_model_file(s);
    compression c = compress_model(m, comparison{});
    CHECK(c.layers[0].units_after == 1);
    tensor X = probe_inputs(2);
    CHECK(relative_difference(hand_logits(m, X), hand_logits(c.model, X)) <= 1e-12);
}

TEST_CASE("the weight-only analysis lists what it cannot decide without data", "[analysis][compress]") {
    weight_report w = analyze_weights(as_model_file(trained_constant_network()), comparison{});
    CHECK(w.layers[0].identical == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}});
    std::string text = to_text(w);
    CHECK(text.find("Not decided without data") != std::string::npos);
    CHECK(text.find("depends on their gradients") != std::string::npos);
    CHECK(to_json_value(w)["undecided_without_data"].size() == 3);
}
