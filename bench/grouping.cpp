// Times symmetry grouping on hidden layers of 1e3 to 1e6 units, to show it grows linearly (not a test), beside
// the previous version (grouping_baseline.cpp), and reports max/min of the cost per unit over the sizes.
// Usage: OPENBLAS_NUM_THREADS=1 bench_grouping [max_units (default 1000000)] [repeats (default 5)]
// Times are process CPU time (median of the repeats), so other jobs on the machine do not inflate them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "analysis/symmetry.hpp"
#include "grouping_baseline.hpp"
#include "timing.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

constexpr std::size_t inputs = 8, outputs = 1, samples = 16;

// The six tensors analyze_symmetry compares for one layer: W_in, b, W_out and their gradients.
struct layer_tensors {
    std::vector<tensor> t;
    std::vector<unit_slice> slices;
};

// "distinct": every unit random. "identical": every unit the same. "pairs": unit 2k+1 copies unit 2k.
layer_tensors make_layer(std::size_t units, const std::string& pattern, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    layer_tensors L;
    const shape2 shapes[] = {{units, inputs}, {units, 1}, {outputs, units}};
    for (int copy = 0; copy < 2; ++copy) {  // values, then gradients
        for (std::size_t s = 0; s < 3; ++s) {
            tensor x = tensor::from_shape({shapes[s].rows, shapes[s].cols});
            bool by_row = s < 2;
            std::size_t per_unit = by_row ? shapes[s].cols : shapes[s].rows;
            std::vector<double> common(per_unit);
            for (auto& v : common) v = normal(rng);
            for (std::size_t u = 0; u < units; ++u) {
                for (std::size_t e = 0; e < per_unit; ++e) {
                    double& v = by_row ? x(u, e) : x(e, u);
                    if (pattern == "identical")
                        v = common[e];
                    else if (pattern == "pairs" && u % 2 == 1)
                        v = by_row ? x(u - 1, e) : x(e, u - 1);
                    else
                        v = normal(rng);
                }
            }
            L.t.push_back(std::move(x));
        }
    }
    for (std::size_t s = 0; s < 6; ++s) {
        double scale = 0.0;
        for (double v : L.t[s]) scale = std::max(scale, std::abs(v));
        auto axis = (s % 3 == 2) ? unit_slice::axis::column : unit_slice::axis::row;
        L.slices.push_back({nullptr, axis, symmetry_options{}.relative_tolerance * scale});
    }
    for (std::size_t s = 0; s < 6; ++s) L.slices[s].values = &L.t[s];
    return L;
}

// The whole analysis (forward, backward, grouping, verdict) on a tanh layer of `units` random units.
double time_full_analysis(std::size_t units, int repeats) {
    graph g;
    auto X = g.input("X", {inputs, samples});
    auto Y = g.input("Y", {outputs, samples});
    auto W1 = g.parameter("W1", {units, inputs});
    auto b1 = g.parameter("b1", {units, 1});
    auto W2 = g.parameter("W2", {outputs, units});
    auto b2 = g.parameter("b2", {outputs, 1});
    auto J = bce(sigmoid(matmul(W2, tanh(matmul(W1, X) + b1)) + b2), Y);
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (node n : {X, W1, W2}) {
        tensor t = tensor::from_shape({n.shape().rows, n.shape().cols});
        for (auto& v : t) v = normal(rng) * (n == X ? 1.0 : 0.1);
        if (n == X)
            g.feed(X, t);
        else
            g.value(n) = t;
    }
    tensor y = tensor::from_shape({outputs, samples});
    for (std::size_t j = 0; j < samples; ++j) y(0, j) = double(j % 3 == 0);
    g.feed(Y, y);
    std::size_t width = 0;
    double s = bench::median_cpu_seconds(repeats, [&] { width = analyze_symmetry(g, J).layers.at(0).effective_width; });
    if (width != units) std::fprintf(stderr, "unexpected effective width %zu of %zu\n", width, units);
    return s;
}

// One row per size and pattern: the current and the baseline group_units, which must give the same classes;
// then per pattern the largest over the smallest ns/unit across the sizes (1.0 is perfectly linear).
void grouping_table(std::size_t max_units, int repeats) {
    const std::vector<std::string> patterns{"distinct", "pairs", "identical"};
    std::printf("%9s  %-9s  %8s  %11s  %9s  %13s  %13s\n", "units", "pattern", "classes", "time (ms)", "ns/unit",
                "baseline (ms)", "base ns/unit");
    std::vector<std::vector<double>> per_unit(patterns.size()), base_per_unit(patterns.size());
    for (std::size_t n = 1000; n <= max_units; n *= 10) {
        for (std::size_t p = 0; p < patterns.size(); ++p) {
            auto L = make_layer(n, patterns[p], 42);
            std::vector<std::vector<std::size_t>> now, before;
            double s = bench::median_cpu_seconds(repeats, [&] { now = group_units(n, L.slices); });
            double b = bench::median_cpu_seconds(repeats, [&] { before = baseline::group_units(n, L.slices); });
            if (now != before) std::fprintf(stderr, "classes differ from the baseline's at %zu units\n", n);
            per_unit[p].push_back(s * 1e9 / double(n));
            base_per_unit[p].push_back(b * 1e9 / double(n));
            std::printf("%9zu  %-9s  %8zu  %11.3f  %9.1f  %13.3f  %13.1f\n", n, patterns[p].c_str(), now.size(), s * 1e3,
                        per_unit[p].back(), b * 1e3, base_per_unit[p].back());
        }
    }
    auto ratio = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()) / *std::min_element(v.begin(), v.end()); };
    std::printf("\nns/unit max/min over the sizes:");
    for (std::size_t p = 0; p < patterns.size(); ++p)
        std::printf("  %s %.2f (baseline %.2f)", patterns[p].c_str(), ratio(per_unit[p]), ratio(base_per_unit[p]));
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t max_units = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
    int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
    if (max_units < 1000 || repeats < 1) {
        std::fprintf(stderr, "usage: bench_grouping [max_units >= 1000] [repeats >= 1]\n");
        return 2;
    }
    std::printf("group_units on a layer of n units, %zu inputs, %zu output: values and gradients of W_in, b, W_out\n"
                "(%zu numbers per unit); CPU time, median of %d runs. Linear growth shows as a flat ns/unit column.\n\n",
                inputs, outputs, 2 * (inputs + 1 + outputs), repeats);
    grouping_table(max_units, repeats);
    std::printf("\nanalyze_symmetry end to end (forward, backward on %zu samples, grouping, verdicts), random tanh layer\n\n",
                samples);
    std::printf("%9s  %11s  %9s\n", "units", "time (ms)", "ns/unit");
    for (std::size_t n = 1000; n <= max_units; n *= 10) {
        double s = time_full_analysis(n, repeats);
        std::printf("%9zu  %11.3f  %9.1f\n", n, s * 1e3, s * 1e9 / double(n));
    }
    return 0;
}
