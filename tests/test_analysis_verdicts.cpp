// decide() on its own: plain facts in, a verdict and reason codes with their arguments out; no graph, no words.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "analysis/verdicts.hpp"
#include "models/init.hpp"

using namespace symgrad;

namespace {

std::vector<reason_code> codes(const std::vector<reason>& reasons) {
    std::vector<reason_code> c;
    for (const auto& r : reasons) c.push_back(r.code);
    return c;
}

// A 4-unit tanh layer W1, b1, W2 whose units are all distinct and all moving.
layer_facts distinct_layer() {
    layer_facts f;
    f.activation_kind = "tanh";
    f.units = 4;
    f.effective_width = 4;
    f.parameters = {"W1", "b1", "W2"};
    f.weights_out = {"W2"};
    f.moving_parameters = {"W1", "b1", "W2"};
    f.input_is_data = true;
    return f;
}

// Every weight zero: the output is 0, nothing moves, all units in one class.
layer_facts all_zero_layer(const std::string& kind) {
    layer_facts f = distinct_layer();
    f.activation_kind = kind;
    f.effective_width = 1;
    f.moving_parameters.clear();
    f.output_zero = f.weights_out_zero = f.weights_in_zero = true;
    return f;
}

}  // namespace

TEST_CASE("distinct units are healthy and need no fix", "[analysis][verdicts]") {
    decision d = decide(distinct_layer());
    CHECK(d.verdict == symmetry_verdict::healthy);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::all_units_distinct});
    CHECK(d.why[0].units == 4);
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::none_needed});
}

TEST_CASE("fewer classes than units with moving weights is symmetric, moving together", "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.effective_width = 1;
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::symmetric);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::units_form_classes, reason_code::weights_move_together});
    CHECK(d.why[0].units == 4);
    CHECK(d.why[0].classes == 1);
    CHECK(d.why[1].parameters == std::vector<std::string>{"W1", "b1", "W2"});
    REQUIRE(codes(d.fix) == std::vector<reason_code>{reason_code::initialize_randomly});
    CHECK(d.fix[0].recommended == initializer::glorot_uniform());
}

TEST_CASE("a symmetric layer with no gradient says its gradients are zero at this step", "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.effective_width = 2;
    f.moving_parameters.clear();
    CHECK(codes(decide(f).why) == std::vector<reason_code>{reason_code::units_form_classes, reason_code::gradients_zero_now});
}

TEST_CASE("all-zero weights make a tanh layer frozen, naming the outgoing weights", "[analysis][verdicts]") {
    decision d = decide(all_zero_layer("tanh"));
    CHECK(d.verdict == symmetry_verdict::frozen);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::frozen_outgoing_zero, reason_code::gradients_stay_zero,
                                                      reason_code::units_also_identical});
    CHECK(d.why[0].units == 4);
    CHECK(d.why[0].parameters == std::vector<std::string>{"W2"});
    CHECK(d.why[1].parameters == std::vector<std::string>{"W1", "b1", "W2"});
    CHECK(d.why[2].classes == 1);
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::initialize_randomly});
}

TEST_CASE("a zero output is not frozen while some parameter of the layer still moves", "[analysis][verdicts]") {
    layer_facts f = all_zero_layer("tanh");
    f.moving_parameters = {"W1"};
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::symmetric);
    CHECK(codes(d.why).back() == reason_code::output_zero_note);
}

TEST_CASE("a zero output that reads a changing input through nonzero weights is not frozen", "[analysis][verdicts]") {
    layer_facts f = all_zero_layer("tanh");
    f.weights_in_zero = false;
    f.input_is_data = false;
    CHECK(decide(f).verdict == symmetry_verdict::symmetric);
}

TEST_CASE("dead relu units are frozen with nonzero outgoing weights, and the fix says how to revive them", "[analysis][verdicts]") {
    layer_facts f = all_zero_layer("relu");
    f.weights_out_zero = false;
    f.effective_width = 4;
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::frozen);
    CHECK(codes(d.why) == std::vector<reason_code>{reason_code::frozen_dead_relu, reason_code::gradients_stay_zero});
    REQUIRE(codes(d.fix) == std::vector<reason_code>{reason_code::initialize_randomly, reason_code::revive_dead_units});
    CHECK(d.fix[0].recommended == initializer::he_normal());
}

TEST_CASE("the same zero output with nonzero outgoing weights is not frozen for tanh", "[analysis][verdicts]") {
    layer_facts f = all_zero_layer("tanh");
    f.weights_out_zero = false;
    CHECK(decide(f).verdict != symmetry_verdict::frozen);
}

TEST_CASE("units sharing only incoming weights are transient, with the first group as the example", "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.transient_groups = {{0, 1, 2, 3}};
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::transient);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::units_share_incoming});
    CHECK(d.why[0].groups == 1);
    CHECK(d.why[0].example_units == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::none_needed});
}

TEST_CASE("a model without hidden layers is healthy and says so", "[analysis][verdicts]") {
    decision d = decide(model_facts{});
    CHECK(d.verdict == symmetry_verdict::healthy);
    CHECK(codes(d.why) == std::vector<reason_code>{reason_code::no_hidden_layers});
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::none_needed});
}

TEST_CASE("a model takes its first worst layer's verdict and fix", "[analysis][verdicts]") {
    model_facts m;
    m.moving_parameters = {"b3"};
    m.layers.push_back({"layer one", 5, 5, decide(distinct_layer())});
    m.layers.push_back({"layer two", 4, 1, decide(all_zero_layer("tanh"))});
    m.layers.push_back({"layer three", 4, 1, decide(all_zero_layer("sigmoid"))});
    decision d = decide(m);
    CHECK(d.verdict == symmetry_verdict::frozen);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::worst_layer_frozen, reason_code::others_still_move});
    CHECK(d.why[0].layers == 3);
    CHECK(d.why[0].layer == "layer two");
    CHECK(d.why[1].parameters == std::vector<std::string>{"b3"});
    CHECK(d.fix == m.layers[1].decided.fix);
}

TEST_CASE("a symmetric model names how many units its worst layer acts as", "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.effective_width = 2;
    model_facts m;
    m.layers.push_back({"hidden", 4, 2, decide(f)});
    decision d = decide(m);
    CHECK(d.verdict == symmetry_verdict::symmetric);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::worst_layer_symmetric});
    CHECK(d.why[0].units == 4);
    CHECK(d.why[0].classes == 2);
}

// --- issue 10: units and measured ties ------------------------------------------------------------------

TEST_CASE("dead relu units whose input can still change are inactive now, not proved, with the relu fixes",
          "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.activation_kind = "relu";
    f.input_is_data = false;
    f.inactive_units = {1, 3};
    f.effective_width = 2;
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::inactive);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::dead_units, reason_code::inactive_not_proved});
    CHECK(d.why[0].units == 2);
    CHECK(d.why[0].frozen_units == 0);
    CHECK(d.why[0].example_units == std::vector<std::size_t>{1, 3});
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::dead_relu_fix});
    CHECK(is_problem(d.verdict));
}

TEST_CASE("a layer whose units are all proved frozen is frozen; starved units ask to fix the layers above",
          "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.activation_kind = "relu";
    f.frozen_units = {0, 1, 2, 3};
    f.moving_parameters.clear();
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::frozen);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::frozen_units_proved, reason_code::starved_units});
    CHECK(d.why[1].units == 4);
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::fix_layers_above});
}

TEST_CASE("a saturated first layer is told to standardise its inputs, a deeper one to use smaller weights",
          "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.inactive_units = {0, 1, 2, 3};
    f.frozen_units = {0, 1, 2, 3};
    f.effective_width = 0;
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::frozen);
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::standardize_inputs});
    f.input_is_data = false;
    CHECK(codes(decide(f).fix) == std::vector<reason_code>{reason_code::smaller_initial_weights});
}

TEST_CASE("a tie that the lookahead sees growing is fragile, with its growth and date, and the copy named in the fix",
          "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.effective_width = 3;
    f.tied_classes = 1;
    f.first_tie = {1, 3};
    f.lookahead_ran = true;
    f.lookahead_steps = 300;
    f.lookahead_optimizer = "adam";
    f.fragile_classes = 1;
    f.fastest_growth = 245.0;
    f.earliest_separation = 382;
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::fragile);
    const reason& r = d.why.at(2);
    REQUIRE(r.code == reason_code::ties_fragile);
    CHECK(r.growth == 245.0);
    CHECK(r.iteration == 382);
    CHECK(r.steps == 300);
    CHECK(r.optimizer == "adam");
    REQUIRE(codes(d.fix) == std::vector<reason_code>{reason_code::redraw_copied_units});
    CHECK(d.fix[0].example_units == std::vector<std::size_t>{1, 3});
    CHECK(is_problem(d.verdict));
}

TEST_CASE("a tie that the lookahead sees hold stays symmetric and says it was measured", "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.effective_width = 1;
    f.tied_classes = 1;
    f.lookahead_ran = true;
    f.lookahead_steps = 300;
    f.lookahead_optimizer = "gd";
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::symmetric);
    CHECK(codes(d.why) == std::vector<reason_code>{reason_code::units_form_classes, reason_code::weights_move_together,
                                                    reason_code::ties_hold_measured});
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::initialize_randomly});  // every unit alike: the init
}

TEST_CASE("transient needs the lookahead's confirmation when it ran; unconfirmed shared rows are fragile",
          "[analysis][verdicts]") {
    layer_facts f = distinct_layer();
    f.transient_groups = {{0, 1}};
    f.lookahead_ran = true;
    f.lookahead_steps = 300;
    f.lookahead_optimizer = "adam";
    f.transient_separated_at = {2};
    decision d = decide(f);
    CHECK(d.verdict == symmetry_verdict::transient);
    REQUIRE(codes(d.why) == std::vector<reason_code>{reason_code::units_share_incoming, reason_code::transient_confirmed});
    CHECK(d.why[1].iteration == 2);
    CHECK_FALSE(is_problem(d.verdict));

    f.transient_separated_at = {-1};
    d = decide(f);
    CHECK(d.verdict == symmetry_verdict::fragile);
    CHECK(codes(d.why) == std::vector<reason_code>{reason_code::incoming_tie_persists});
}

TEST_CASE("a model whose first frozen layer is only starved takes its fix from the layer that causes it",
          "[analysis][verdicts]") {
    layer_facts starved = distinct_layer();
    starved.activation_kind = "relu";
    starved.frozen_units = {0, 1, 2, 3};
    starved.moving_parameters.clear();
    layer_facts dead = starved;
    dead.inactive_units = {0, 1, 2, 3};
    dead.effective_width = 0;
    dead.input_is_data = false;
    model_facts m;
    m.layers.push_back({"layer one", 4, 4, decide(starved)});
    m.layers.push_back({"layer two", 4, 0, decide(dead)});
    REQUIRE(codes(m.layers[0].decided.fix) == std::vector<reason_code>{reason_code::fix_layers_above});
    decision d = decide(m);
    CHECK(d.verdict == symmetry_verdict::frozen);
    CHECK(d.why[0].layer == "layer one");
    CHECK(codes(d.fix) == std::vector<reason_code>{reason_code::dead_relu_fix});
}
