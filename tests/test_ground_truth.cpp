// The ground truth proven on known facts: the hand trainer agrees with the engine, and each adversarial
// case's fate under gd, momentum and Adam is what issue 10 says it is.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include <xtensor/xmath.hpp>

#include "adversarial_cases.hpp"
#include "ground_truth.hpp"

using namespace symgrad;
using namespace symgrad::truth;

namespace {

const char* const optimizers[] = {"gd", "momentum", "adam"};

fate hand_fate(const adversarial_case& c, const std::string& optimizer, std::size_t steps) {
    return measure_fate(c.start, c.X, c.Y, settings_for(optimizer, steps), trainer_kind::hand);
}

bool width_always(const layer_fate& f, std::size_t width) {
    for (const auto& w : f.effective_width)
        if (w.width != width) return false;
    return !f.effective_width.empty();
}

}  // namespace

// --- the trainer itself ------------------------------------------------------------------------------------

TEST_CASE("ground truth: the hand pass's gradients match central differences of its own cost", "[truth][trainer]") {
    adversarial_case c = synthetic_data(4, 64, 7);
    c.start = random_network(4, {4, 3}, activation::tanh, 0.5, 5);
    for (auto& L : c.start.layers) L.b = normal_tensor(L.b.shape()[0], 1, 0.3, 99);
    pass_result r = forward_backward(c.start, c.X, c.Y);
    const double h = 1e-6;
    double checked = 0.0;
    for (std::size_t l = 0; l < c.start.layers.size(); ++l)
        for (int which = 0; which < 2; ++which) {
            const tensor& analytic = which == 0 ? r.dW[l] : r.db[l];
            for (std::size_t k = 0; k < analytic.size(); ++k) {
                network_state plus = c.start, minus = c.start;
                (which == 0 ? plus.layers[l].W : plus.layers[l].b).data()[k] += h;
                (which == 0 ? minus.layers[l].W : minus.layers[l].b).data()[k] -= h;
                double numeric = (forward_backward(plus, c.X, c.Y).cost - forward_backward(minus, c.X, c.Y).cost) / (2 * h);
                // Central differences in float64 with h = 1e-6: truncation ~h^2, cancellation ~1e-16/h = 1e-10.
                CHECK(analytic.data()[k] == Approx(numeric).margin(1e-8));
                checked += std::abs(numeric);
            }
        }
    CHECK(checked > 1e-2);  // the gradients compared are not all zero
}

TEST_CASE("ground truth: build_engine_mlp gives the engine the state's weights, so both passes agree",
          "[truth][trainer]") {
    adversarial_case c = dead_relu_units();
    mlp m = build_engine_mlp(c.start, c.X, c.Y);
    m.g.forward();
    m.g.backward(m.loss);
    pass_result r = forward_backward(c.start, c.X, c.Y);
    CHECK(m.g.value(m.loss)(0, 0) == Approx(r.cost).epsilon(1e-14));
    for (std::size_t l = 0; l < c.start.layers.size(); ++l) {
        network_state grads{{{m.g.grad(m.W[l]), m.g.grad(m.b[l])}}, c.start.hidden};
        network_state hand{{{r.dW[l], r.db[l]}}, c.start.hidden};
        CHECK(max_relative_difference(hand, grads) < 1e-13);  // rounding only: one pass, no dynamics
        CHECK(xt::amax(xt::abs(r.dW[l]))() > 1e-3);           // and not an all-zero comparison
    }
}

// The two trainers share no code: the hand one uses std::tanh and in-order loops, the engine its SIMD
// kernels, BLAS and BCE from probabilities. On stable dynamics they differ by rounding only; measured, the
// largest relative difference is <= 2.5e-14 after 1000 steps (synthetic), <= 7e-14 after 300 steps
// (Titanic), <= 1e-13 after 5000 steps; asserted: 1e-12. Where a tie
// is a saddle (near_tie and equitable_tie on nonlinear labels) or Adam runs away on separable data
// (mirrored_tanh_pair) or the engine's rounding breaks a copy (net2net_widened under Adam: 1.7e-8 after
// 1000 steps) the difference grows like any perturbation (up to 1e-7 to 1 after 5000 steps): that is the
// issue's point, not a disagreement, so those are not compared here.
TEST_CASE("ground truth: the hand trainer and symgrad's engine train the same weights to the same values", "[truth][trainer]") {
    for (const auto& c : {small_random_init(), dead_relu_units(), copied_unit(), equitable_tie(),
                          dead_pair_sharing_weights(), saturated_tanh_layer()})
        for (const char* opt : optimizers) {
            INFO(c.name << ' ' << opt);
            trainer_settings s = settings_for(opt, c.X.shape()[1] > 100 ? 300 : 1000);
            std::vector<double> hand_costs, engine_costs;
            network_state hand = train(c.start, c.X, c.Y, s, trainer_kind::hand, &hand_costs);
            network_state engine = train(c.start, c.X, c.Y, s, trainer_kind::engine, &engine_costs);
            CHECK(max_relative_difference(c.start, hand) > 1e-3);  // training moved something
            CHECK(max_relative_difference(hand, engine) < 1e-12);
            REQUIRE(hand_costs.size() == engine_costs.size());
            // Both compute the cost in logits form (the engine's loss is bce_with_logits), so only rounding
            // differs: a sum over at most 2201 samples, far below 1e-12 relative.
            for (std::size_t t = 0; t < hand_costs.size(); t += 100)
                CHECK(hand_costs[t] == Approx(engine_costs[t]).epsilon(1e-12));
        }
}

// --- the categories, each with its fate from training --------------------------------------------

// Measured (5000 steps, every optimiser, both arithmetics): moved = {b3}; layer 2 g' = 0 everywhere.
TEST_CASE("ground truth: a dead relu layer above a frozen one: only the output bias ever moves", "[truth][fate]") {
    adversarial_case c = dead_layer_above_frozen();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        CHECK(f.only_output_bias_moved);
        for (std::size_t i = 0; i < 3; ++i) CHECK(f.layers[1].zero_derivative(i));
        for (std::size_t i = 0; i < 4; ++i) CHECK(f.layers[0].never_moved[i]);
        CHECK(f.costs.back() < f.costs.front());  // the output bias did learn the base rate
    }
}

// Measured: units 2, 3 never move and g' = 0 at every step; their outgoing weights stay 0.7 and -0.3.
TEST_CASE("ground truth: two dead relu units sharing weights never move, whatever their outgoing weights", "[truth][fate]") {
    adversarial_case c = dead_pair_sharing_weights();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        const layer_fate& L = f.layers[0];
        CHECK(L.never_moved[2]);
        CHECK(L.never_moved[3]);
        CHECK(L.zero_derivative(2));
        CHECK(L.zero_derivative(3));
        CHECK_FALSE(L.never_moved[0]);
        CHECK(L.pair(2, 3).max_spread > 0.1);  // not identical units: dead, not tied
        CHECK(f.final_state.layers[1].W(0, 2) == 0.7);
        CHECK(f.final_state.layers[1].W(0, 3) == -0.3);
        CHECK(width_always(L, 2));
    }
}

// Measured on linear labels (5000 steps): the largest spread of activations and dZ within a layer is
// 1.1e-15 (gd), 9.3e-16 (momentum), 1.2e-14 (adam); rows of W2 differ by 0.8 all along.
TEST_CASE("ground truth: an equitable tie (rows differ, sums agree) keeps each layer one unit for ever", "[truth][fate]") {
    adversarial_case c = equitable_tie();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 5000);
        INFO(opt << '\n' << describe(f));
        for (std::size_t l = 0; l < 2; ++l) {
            CHECK(f.layers[l].function_classes.size() == 1);
            CHECK(width_always(f.layers[l], 1));
        }
        CHECK(f.layers[1].tied_classes.size() == 3);  // not identical rows: the pairwise test alone misses it
        CHECK(f.layers[1].pair(0, 1).max_spread > 0.1);
    }
}

// Measured on nonlinear labels, where more units help: rounding (sums of a Latin square's rows in
// different orders, 1e-16) grows until the units separate beyond 1e-6: hand gd at 1805-1975, momentum
// 1978-2172, Adam 428-1856 (the engine: gd 1740-1886, momentum 1997-2195, Adam 481-2300). Exact algebra,
// fragile arithmetic.
TEST_CASE("ground truth: the same equitable tie on a problem that needs more units is broken by rounding", "[truth][fate]") {
    adversarial_case c = equitable_tie(label_rule::nonlinear);
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        const pair_record& p = f.layers[0].pair(0, 2);
        CHECK(p.initial_function_spread < 1e-15);
        CHECK(p.function_separated_at > 300);
        CHECK(p.function_separated_at < 2500);
        CHECK(f.layers[0].effective_width.back().width > 1);
    }
}

// Measured, units differing by 1e-12 relative, 5000 steps. Linear labels: largest spread 1.9e-11 (gd),
// 1.6e-11 (momentum), 6.3e-12 (adam), never separated. Nonlinear labels: separated beyond 1e-6 at 3712
// (gd), 4799 (momentum), 1443 (adam), in both arithmetics; Adam first.
TEST_CASE("ground truth: a near tie stays within 1e-10 where the tie is stable and separates where it is not", "[truth][fate]") {
    adversarial_case stable = near_tie(1e-12, label_rule::linear);
    for (const char* opt : optimizers) {
        fate f = hand_fate(stable, opt, 5000);
        INFO(opt << '\n' << describe(f));
        CHECK(f.layers[0].pair(0, 1).initial_spread == Approx(1e-12).epsilon(0.5));
        CHECK(f.layers[0].pair(0, 1).max_spread < 1e-10);
        CHECK(f.layers[0].pair(0, 1).separated_at == -1);
    }
    adversarial_case saddle = near_tie(1e-12, label_rule::nonlinear);
    long at[3] = {};
    for (int k = 0; k < 3; ++k) at[k] = hand_fate(saddle, optimizers[k], 5000).layers[0].pair(0, 1).separated_at;
    INFO("separated at: gd " << at[0] << ", momentum " << at[1] << ", adam " << at[2]);
    CHECK(at[0] > 3000);
    CHECK(at[1] > 4000);
    CHECK(at[2] > 1000);
    CHECK(at[2] < 2000);
}

// The numbers were taken at symcheck's default learning rate, 0.01 for every optimiser. Measured
// there on the saddle (nonlinear labels), 20000 steps: gd largest spread 1.5e-11, never separated;
// momentum separated at 17891 (5.3e-6 at 20000); Adam at 1443 (largest 1.7e-3). Both arithmetics agree.
TEST_CASE("ground truth: at learning rate 0.01 gd keeps a 1e-12 near tie while momentum and Adam break it",
          "[truth][fate]") {
    adversarial_case c = near_tie(1e-12, label_rule::nonlinear);
    auto at_lr = [&](const char* opt, std::size_t steps) {
        return measure_fate(c.start, c.X, c.Y, {opt, 0.01, steps}, trainer_kind::hand).layers[0].pair(0, 1);
    };
    pair_record gd = at_lr("gd", 20000), momentum = at_lr("momentum", 20000), adam = at_lr("adam", 3000);
    INFO("gd max " << gd.max_spread << "; momentum separated at " << momentum.separated_at << "; adam at "
                   << adam.separated_at);
    CHECK(gd.max_spread < 1e-10);
    CHECK(momentum.separated_at > 15000);
    CHECK(adam.separated_at > 1000);
    CHECK(adam.separated_at < 2000);
}

// Measured: the spread of (w, b, v) against (-w, -b, -v) is exactly 0 at every step (hand and engine,
// every optimiser): tanh is odd, the sums negate exactly and Adam's moments negate with them.
TEST_CASE("ground truth: a tanh unit and its mirror stay exactly mirrored and count once", "[truth][fate]") {
    adversarial_case c = mirrored_tanh_pair();
    for (const char* opt : optimizers)
        for (trainer_kind kind : {trainer_kind::hand, trainer_kind::engine}) {
            fate f = measure_fate(c.start, c.X, c.Y, settings_for(opt, 3000), kind);
            INFO(opt << '\n' << describe(f));
            const layer_fate& L = f.layers[0];
            CHECK(L.pair(0, 1, -1).max_spread == 0.0);
            CHECK(L.tied_classes.size() == 3);
            CHECK(L.sign[1] == -1);
            CHECK(width_always(L, 3));
            CHECK_FALSE(L.never_moved[0]);
        }
}

// sigma(-z) = 1 - sigma(z): the pair computes 2v sigma(z) - v, one unit plus an output-bias shift, but it
// does not stay mirrored: dv_0 + dv_1 = sum(dZ_out) = db_out, so each step moves v_0 + v_1 by -lr db_out,
// and from then on the incoming gradients differ. Measured: separated beyond 1e-6 at step 1 (gd,
// momentum) or 2 (adam); largest spread 0.86 (gd), 1.33 (adam).
TEST_CASE("ground truth: a sigmoid mirrored pair is one unit plus a bias shift now, but training unmirrors it", "[truth][fate]") {
    adversarial_case c = mirrored_sigmoid_pair();
    pass_result r = forward_backward(c.start, c.X, c.Y);
    network_state one = train(c.start, c.X, c.Y, settings_for("gd", 1), trainer_kind::hand);
    double lr = settings_for("gd", 1).learning_rate;
    double v_sum_before = c.start.layers[1].W(0, 0) + c.start.layers[1].W(0, 1);
    double v_sum_after = one.layers[1].W(0, 0) + one.layers[1].W(0, 1);
    CHECK(v_sum_before == 0.0);
    CHECK(std::abs(r.db[1](0, 0)) > 1e-3);
    CHECK(v_sum_after == Approx(-lr * r.db[1](0, 0)).epsilon(1e-10));
    for (std::size_t k = 0; k < 4; ++k)  // the incoming rows are still mirrored after one step
        CHECK(one.layers[0].W(1, k) == Approx(-one.layers[0].W(0, k)).epsilon(1e-12));
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        CHECK(f.layers[0].pair(0, 1, -1).separated_at <= 2);
        CHECK(f.layers[0].pair(0, 1, -1).max_spread > 0.5);
    }
}

// Measured: units 6, 7 have g' = 0 on every sample at every step and never move; width 6 throughout.
TEST_CASE("ground truth: relu units dead on every sample never move and leave a real width of 6 of 8", "[truth][fate]") {
    adversarial_case c = dead_relu_units();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        const layer_fate& L = f.layers[0];
        for (std::size_t i = 0; i < 8; ++i) {
            CHECK(L.zero_derivative(i) == (i >= 6));
            CHECK(L.never_moved[i] == (i >= 6));
        }
        CHECK(width_always(L, 6));
    }
}

// Measured: tanh' = 0 exactly on every sample and step, W1 b1 never move, the cost goes from 1.03 to the
// labels' entropy (0.689 here) and no lower: the output learns the base rate only.
TEST_CASE("ground truth: a tanh layer saturated on unstandardised data never moves and the cost stops at the base rate",
          "[truth][fate]") {
    adversarial_case c = saturated_tanh_layer();
    double p = 0.0;
    for (double y : c.Y) p += y;
    p /= double(c.Y.size());
    double entropy = -(p * std::log(p) + (1 - p) * std::log(1 - p));
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        for (std::size_t i = 0; i < 4; ++i) {
            CHECK(f.layers[0].zero_derivative(i));
            CHECK(f.layers[0].never_moved[i]);
        }
        CHECK(f.moved == std::vector<std::string>{"W2", "b2"});
        CHECK(f.costs.back() >= entropy - 1e-9);
        CHECK(f.costs.back() == Approx(entropy).margin(0.01));
        CHECK(width_always(f.layers[0], 0));
    }
}

// Measured: the copy stays bit-identical in the hand arithmetic (spread 0 under every optimiser); the
// engine keeps it within 2.2e-16 (gd), 2.0e-13 (momentum), 0 (adam) over 5000 steps.
TEST_CASE("ground truth: a random network with one exactly copied unit keeps the copy for ever", "[truth][fate]") {
    adversarial_case c = copied_unit();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        CHECK(f.layers[0].pair(1, 4).max_spread == 0.0);
        CHECK(f.layers[0].tied_classes.size() == 4);
        CHECK(f.layers[0].initially_tied(1e-9).size() == 1);  // only the copy: the rest is random
        CHECK(width_always(f.layers[0], 4));
        fate e = measure_fate(c.start, c.X, c.Y, settings_for(opt, 3000), trainer_kind::engine);
        CHECK(e.layers[0].pair(1, 4).max_spread < 1e-12);
    }
}

// Measured, 5000 steps: the hand arithmetic keeps both Net2Net pairs bit-identical under every optimiser.
// The engine's (BLAS, position-dependent last bits): pair (1,4) reaches 8.8e-16 (gd), 3.5e-16 (momentum),
// 4.3e-7 (adam, growing); pair (0,3) stays exact. Not asserted: which arithmetic the engine runs is
// issue 10's decision, and this is the number that decision should be measured on.
TEST_CASE("ground truth: a Net2Net-widened network keeps its copies exactly in position-independent arithmetic", "[truth][fate]") {
    adversarial_case c = net2net_widened();
    for (const char* opt : optimizers) {
        fate f = hand_fate(c, opt, 3000);
        INFO(opt << '\n' << describe(f));
        CHECK(f.layers[0].pair(0, 3).max_spread == 0.0);
        CHECK(f.layers[0].pair(1, 4).max_spread == 0.0);
        CHECK(f.layers[0].tied_classes.size() == 3);
        CHECK(width_always(f.layers[0], 3));
    }
}

// --- the article's controls on Titanic (2000 steps; measured the same at 5000) ------------------------------

TEST_CASE("ground truth: the article's controls: zeros freeze, constants stay one unit, small random weights give four",
          "[truth][fate][article]") {
    for (const char* opt : optimizers) {
        INFO(opt);
        fate zeros = hand_fate(zeros_init(), opt, 2000);
        CHECK(zeros.only_output_bias_moved);
        CHECK(zeros.layers[0].tied_classes.size() == 1);

        fate constant = hand_fate(constant_init(), opt, 2000);
        CHECK(constant.layers[0].tied_classes.size() == 1);
        CHECK(constant.layers[0].pair(0, 3).max_spread == 0.0);
        CHECK_FALSE(constant.layers[0].never_moved[0]);
        CHECK(width_always(constant.layers[0], 1));

        fate random = hand_fate(small_random_init(), opt, 2000);
        CHECK(random.layers[0].tied_classes.size() == 4);
        CHECK(random.layers[0].initially_tied(1e-3).empty());
        CHECK(width_always(random.layers[0], 4));
    }
}

TEST_CASE("ground truth: the article's deep controls: two zero tanh layers freeze, three constant layers stay one unit each",
          "[truth][fate][article]") {
    for (const char* opt : optimizers) {
        INFO(opt);
        fate zeros = hand_fate(two_tanh_layers_zero(), opt, 2000);
        CHECK(zeros.only_output_bias_moved);
        fate constant = hand_fate(deep_constant_init(), opt, 2000);
        for (const auto& L : constant.layers) {
            CHECK(L.tied_classes.size() == 1);
            CHECK_FALSE(L.never_moved[0]);
        }
    }
}

// Prints every case's fate under every optimiser and both arithmetics, with timings (the numbers in
// tests/GROUND_TRUTH.md). Hidden: run with `symgrad_tests "[.truth-table]" -s`. Environment knobs:
// TRUTH_STEPS (default 5000), TRUTH_CASE (a substring of the case names), TRUTH_SYNTHETIC (skip Titanic),
// TRUTH_LR (one learning rate for every optimiser instead of settings_for's).
TEST_CASE("the fate table of every adversarial case", "[.truth-table]") {
    std::size_t steps = std::getenv("TRUTH_STEPS") ? std::stoul(std::getenv("TRUTH_STEPS")) : 5000;
    std::string only = std::getenv("TRUTH_CASE") ? std::getenv("TRUTH_CASE") : "";
    bool synthetic_only = std::getenv("TRUTH_SYNTHETIC") != nullptr;
    for (const auto& c : every_case())
        if ((!synthetic_only || c.X.shape()[1] < 100) && c.name.find(only) != std::string::npos)
        for (const char* opt : {"gd", "momentum", "adam"})
            for (trainer_kind kind : {trainer_kind::hand, trainer_kind::engine}) {
                auto t0 = std::chrono::steady_clock::now();
                trainer_settings s = settings_for(opt, steps);
                if (std::getenv("TRUTH_LR")) s.learning_rate = std::stod(std::getenv("TRUTH_LR"));
                fate f = measure_fate(c.start, c.X, c.Y, s, kind);
                double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                std::cout << "== " << c.name << ' ' << opt << (kind == trainer_kind::hand ? " hand" : " engine") << " ("
                          << ms << " ms)\n"
                          << describe(f);
                if (kind == trainer_kind::engine) {
                    fate h = measure_fate(c.start, c.X, c.Y, s, trainer_kind::hand);
                    std::cout << "   hand vs engine after " << steps << ": " << max_relative_difference(h.final_state, f.final_state) << '\n';
                }
            }
    CHECK(true);
}

// Issue 10 item 8: on a saturated output the engine's fused loss (bce_with_logits, dZ = A - Y) follows the
// hand trainer. Before the fusion the engine's cost sat at 18.7052 for all 30 steps (BCE from clamped
// probabilities has no gradient there) while the hand trainer's fell 599.9 -> 75.1.
TEST_CASE("ground truth: a saturated output keeps learning, as the hand trainer's dZ = A - Y does", "[truth][fate]") {
    adversarial_case c = saturated_output();
    std::vector<double> hand, engine;
    train(c.start, c.X, c.Y, {"adam", 0.01, 10}, trainer_kind::hand, &hand);
    train(c.start, c.X, c.Y, {"adam", 0.01, 10}, trainer_kind::engine, &engine);
    REQUIRE(hand.size() == engine.size());
    for (std::size_t t = 0; t < hand.size(); ++t) {
        INFO("step " << t);
        CHECK(engine[t] == Approx(hand[t]).epsilon(1e-9));  // 2000 saturated units: sums of large terms
    }
    CHECK(engine.back() < 0.8 * engine.front());  // measured: 599.97 -> 438.2 in 10 steps
}
