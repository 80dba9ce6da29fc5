// Small deterministic networks for each category of issue 10 and the article's controls, for ground truth.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ground_truth.hpp"

namespace symgrad::truth {

struct adversarial_case {
    std::string name;         // short id, e.g. "3-equitable-tie"
    std::string description;  // what was built and what the issue says training does with it
    network_state start;
    tensor X;  // features x samples
    tensor Y;  // 1 x samples, 0/1
};

// Labels of the synthetic data: linear (x0 + x1/2 > 0: one unit suffices, so a tie is a stable state)
// or nonlinear (x0 + x1/2 - x2 x3 > 0: more units help, so a tie is a saddle that rounding falls off).
enum class label_rule { linear, nonlinear };

// Data: `features` x `samples` standard normal (fixed seed) labelled by `rule`; and penguin-like
// unstandardised measurements (grams, millimetres).
adversarial_case synthetic_data(std::size_t features, std::size_t samples, std::uint64_t seed,
                                label_rule rule = label_rule::nonlinear);
adversarial_case penguin_like_data(std::size_t samples, std::uint64_t seed);

// A tensor filled from symgrad's portable normal initialiser (mean 0, `std`), seeded.
tensor normal_tensor(std::size_t rows, std::size_t cols, double std, std::uint64_t seed);
// Layers inputs -> widths... -> 1, weights normal(0, std) and biases 0.
network_state random_network(std::size_t inputs, const std::vector<std::size_t>& widths, activation hidden,
                             double std, std::uint64_t seed);

// The categories.
adversarial_case dead_layer_above_frozen();  // (1) relu 4-3: layer 2 dead on every sample, so nothing feeds back
adversarial_case dead_pair_sharing_weights();  // (2) relu: units 2, 3 share row and bias, dead, outgoing differ
// (3) tanh 3-3: layer 1 equal rows, W2 a Latin square (rows differ, equal row and column sums).
adversarial_case equitable_tie(label_rule rule = label_rule::linear);
// (4) tanh 4: unit 1 = unit 0 with its incoming row scaled by 1 + relative.
adversarial_case near_tie(double relative = 1e-12, label_rule rule = label_rule::linear);
adversarial_case mirrored_tanh_pair();       // (5a) tanh: unit 1 = -(unit 0) in (w, b, v)
adversarial_case mirrored_sigmoid_pair();    // (5b) sigmoid: unit 1 = -(unit 0) in (w, b, v)
adversarial_case dead_relu_units();          // (5c) relu 8: units 6, 7 dead on every sample
adversarial_case saturated_tanh_layer();     // (5d) tanh on grams and millimetres: every unit saturated
adversarial_case copied_unit();              // (6) random tanh 5: unit 4 an exact copy of unit 1
adversarial_case net2net_widened();          // (7) tanh 3 widened to 5: units 3, 4 copy 0, 1, outgoing halved

// The article's controls on the embedded Titanic data (tanh, symcheck's default seed 1 and widths).
adversarial_case zeros_init();              // hidden 4, every parameter 0
adversarial_case constant_init();           // hidden 4, weights 0.5, biases 0
adversarial_case small_random_init();       // hidden 4, weights normal(0, 0.01), biases 0
adversarial_case two_tanh_layers_zero();    // hidden 4-4, every parameter 0
adversarial_case deep_constant_init();      // hidden 4-4-4, weights 0.5, biases 0
// Issue 10 item 8: hidden 2000, weights 0.5: the output saturates (z ~ 1000s), where BCE from clamped
// probabilities had no gradient and the article's dZ = A - Y (the engine's fused loss now) has one.
adversarial_case saturated_output();

// Every case above in the order listed, with the fragile and stable variants of 3 and 4 (18 cases).
std::vector<adversarial_case> every_case();

// The learning rates the tests use: gd 0.5, momentum 0.05, adam 0.01 (each converges on every case).
trainer_settings settings_for(const std::string& optimizer, std::size_t steps);

}  // namespace symgrad::truth
