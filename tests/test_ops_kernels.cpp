// The elementwise kernels: the dispatcher runs the set it names, the FMA instruction sets agree to the bit,
// and an element's result does not depend on where it sits (tail or not).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
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

// The set the dispatcher runs, by name (the fastest available unless SYMGRAD_KERNELS forces one).
symgrad::kernels::kernel_set dispatched_set() {
    for (const auto& s : symgrad::kernels::available_kernel_sets())
        if (std::string(s.isa) == symgrad::kernels::instruction_set()) return s;
    FAIL("no available set is named " << symgrad::kernels::instruction_set());
    return {};
}

// The inputs kernel k (in SYMGRAD_KERNELS order: tanh, sigmoid, exp, log) is compared on.
std::vector<double> kernel_inputs(std::size_t k, std::size_t n) {
    auto x = inputs(n, -40, 40, unsigned(n)), wide = inputs(n, -745, 710, unsigned(n)), positive = wide;
    for (auto& v : positive) v = std::exp(v);  // 5e-324 to 2e308, subnormals included
    return k == 3 ? positive : k == 2 ? wide : x;
}

// Every kernel of `a` gives the bits of the same kernel of `b`, tails included.
void require_same_bits(const symgrad::kernels::kernel_set& a, const symgrad::kernels::kernel_set& b) {
    const std::pair<kernel, kernel> pairs[] = {
        {a.tanh, b.tanh}, {a.sigmoid, b.sigmoid}, {a.exp, b.exp}, {a.log, b.log}};
    // Every row of SYMGRAD_KERNELS (ops/kernel_list.hpp) has its pair above.
#define SYMGRAD_COUNT_KERNEL(name, body) +1
    REQUIRE(std::size(pairs) == std::size_t(0 SYMGRAD_KERNELS(SYMGRAD_COUNT_KERNEL)));
#undef SYMGRAD_COUNT_KERNEL
    for (std::size_t n : {1u, 7u, 8u, 9u, 17u, 1001u, 4099u}) {
        for (std::size_t k = 0; k < std::size(pairs); ++k) {
            const auto in = kernel_inputs(k, n);
            std::vector<double> ya(n), yb(n);
            pairs[k].first(in.data(), ya.data(), n);
            pairs[k].second(in.data(), yb.data(), n);
            for (std::size_t i = 0; i < n; ++i) {
                INFO(a.isa << " vs " << b.isa << " kernel " << k << " n=" << n << " x=" << in[i]);
                REQUIRE(same_bits(ya[i], yb[i]));
            }
        }
    }
}

}  // namespace

TEST_CASE("the dispatched kernels give the bits of the instruction set they name", "[ops][kernels]") {
    const auto set = dispatched_set();
    const symgrad::kernels::kernel_set calls{set.isa, symgrad::kernels::tanh, symgrad::kernels::sigmoid,
                                             symgrad::kernels::exp, symgrad::kernels::log};
    require_same_bits(calls, set);
}

TEST_CASE("the FMA instruction sets give the same bits as each other", "[ops][kernels]") {
    // AVX2 and AVX-512 both contract a*b+c into FMA (ops/CMakeLists.txt), so a machine gives the same
    // results whichever of the two it runs; the SSE2 baseline rounds twice and is held to the ulp bounds
    // only (tests/test_ops_kernels_ulp.cpp). On a CPU with fewer than two FMA sets there is nothing to compare.
    std::vector<symgrad::kernels::kernel_set> fma;
    for (const auto& s : symgrad::kernels::available_kernel_sets())
        if (std::string(s.isa) == "avx2" || std::string(s.isa) == "avx512") fma.push_back(s);
    for (std::size_t i = 1; i < fma.size(); ++i) require_same_bits(fma[i], fma[0]);
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
