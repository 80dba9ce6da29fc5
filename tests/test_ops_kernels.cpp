// The elementwise kernels: the run-time-chosen instruction set gives the same bits as the baseline one,
// and an element's result does not depend on where it sits (tail or not).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "ops/kernels.hpp"

namespace {

using kernel = void (*)(const double*, double*, std::size_t);

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<double> inputs(std::size_t n, double low, double high, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(low, high);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

}  // namespace

TEST_CASE("the dispatched kernels give the same bits as the baseline instruction set", "[ops][kernels]") {
    INFO("dispatched to " << symgrad::kernels::instruction_set());
    struct pair {
        const char* name;
        kernel fast, reference;
        double low, high;
    };
    const pair kernels[] = {
        {"tanh", symgrad::kernels::tanh, symgrad::kernels::reference::tanh, -20, 20},
        {"sigmoid", symgrad::kernels::sigmoid, symgrad::kernels::reference::sigmoid, -800, 800},
        {"exp", symgrad::kernels::exp, symgrad::kernels::reference::exp, -700, 700},
        {"log", symgrad::kernels::log, symgrad::kernels::reference::log, 1e-300, 1e300},
    };
    // Every row of SYMGRAD_KERNELS (ops/kernel_list.hpp) has its entry above.
#define SYMGRAD_COUNT_KERNEL(name, body) +1
    CHECK(std::size(kernels) == std::size_t(0 SYMGRAD_KERNELS(SYMGRAD_COUNT_KERNEL)));
#undef SYMGRAD_COUNT_KERNEL
    for (const auto& k : kernels) {
        for (std::size_t n : {1u, 2u, 3u, 5u, 7u, 8u, 13u, 1000u, 1001u}) {
            auto x = inputs(n, k.low, k.high, unsigned(n));
            std::vector<double> a(n), b(n);
            k.fast(x.data(), a.data(), n);
            k.reference(x.data(), b.data(), n);
            for (std::size_t i = 0; i < n; ++i) {
                INFO(k.name << " n=" << n << " i=" << i << " x=" << x[i]);
                REQUIRE(same_bits(a[i], b[i]));
            }
        }
    }
}

TEST_CASE("every available instruction set gives the same bits as the baseline one", "[ops][kernels]") {
    // AVX2 and AVX-512 are built without FMA contraction (ops/CMakeLists.txt), so they round as SSE2 does.
    const auto sets = symgrad::kernels::available_kernel_sets();
    const auto& base = sets.front();
    for (const auto& set : sets) {
        for (std::size_t n : {1u, 7u, 8u, 9u, 17u, 4099u}) {
            auto x = inputs(n, -40, 40, unsigned(n)), wide = inputs(n, -745, 710, unsigned(n)), positive = wide;
            for (auto& v : positive) v = std::exp(v);  // 5e-324 to 2e308, subnormals included
            std::vector<double> a(n), b(n);
            const std::pair<kernel, kernel> pairs[] = {{set.tanh, base.tanh}, {set.sigmoid, base.sigmoid},
                                                       {set.exp, base.exp}, {set.log, base.log}};
            for (std::size_t k = 0; k < std::size(pairs); ++k) {
                const auto& in = k == 3 ? positive : k == 2 ? wide : x;
                pairs[k].first(in.data(), a.data(), n);
                pairs[k].second(in.data(), b.data(), n);
                for (std::size_t i = 0; i < n; ++i) {
                    INFO(set.isa << " kernel " << k << " n=" << n << " x=" << in[i]);
                    REQUIRE(same_bits(a[i], b[i]));
                }
            }
        }
    }
}

TEST_CASE("an element's kernel result does not depend on its position, tail included", "[ops][kernels]") {
    // Identical hidden units must stay bit-identical; a scalar tail would compute some elements differently.
    const double values[] = {0.3, -1.7, 4.2, 1e-9};
    for (double v : values) {
        for (std::size_t n : {1u, 3u, 5u, 6u, 7u, 9u}) {
            std::vector<double> x(n, v), y(n);
            symgrad::kernels::tanh(x.data(), y.data(), n);
            for (std::size_t i = 1; i < n; ++i) REQUIRE(same_bits(y[i], y[0]));
            symgrad::kernels::sigmoid(x.data(), y.data(), n);
            for (std::size_t i = 1; i < n; ++i) REQUIRE(same_bits(y[i], y[0]));
        }
    }
}

TEST_CASE("the kernels keep IEEE special values", "[ops][kernels]") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> x{0.0, -0.0, inf, -inf, nan}, y(5);
    symgrad::kernels::tanh(x.data(), y.data(), 5);
    CHECK(y[0] == 0.0);
    CHECK(y[2] == 1.0);
    CHECK(y[3] == -1.0);
    CHECK(std::isnan(y[4]));
    symgrad::kernels::exp(x.data(), y.data(), 5);
    CHECK(y[0] == 1.0);
    CHECK(y[2] == inf);
    CHECK(y[3] == 0.0);
    CHECK(std::isnan(y[4]));
    symgrad::kernels::log(x.data(), y.data(), 5);
    CHECK(y[0] == -inf);
    CHECK(y[2] == inf);
    CHECK(std::isnan(y[3]));
    CHECK(std::isnan(y[4]));
    symgrad::kernels::sigmoid(x.data(), y.data(), 5);
    CHECK(y[0] == 0.5);
    CHECK(y[2] == 1.0);
    CHECK(y[3] == 0.0);
    CHECK(std::isnan(y[4]));
}
