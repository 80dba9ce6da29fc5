// Tensor helpers the tests share: bit-for-bit equality and seeded normal data.
#pragma once
#include <cstring>
#include <random>

#include "engine/tensor.hpp"

namespace symgrad::testing {

// Same shape and the same bits in every element (NaN equals itself here, -0 differs from +0).
inline bool same_bits(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// rows x cols of standard normal draws from rng.
inline tensor random_tensor(std::mt19937_64& rng, std::size_t rows, std::size_t cols) {
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor t = tensor::from_shape({rows, cols});
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = normal(rng);
    return t;
}

}  // namespace symgrad::testing
