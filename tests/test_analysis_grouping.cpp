// The partition on its own: group_units on hand-made tensors, rows and columns, tolerances, order, scale.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "analysis/unit_grouping.hpp"

using namespace symgrad;

namespace {

using classes_t = std::vector<std::vector<std::size_t>>;

}  // namespace

TEST_CASE("grouping keeps together values that straddle a rounding-bucket boundary", "[symmetry][grouping]") {
    // With tolerance 1, a hash of round(x / tol) puts 0.98 and 1.02 (0.04 apart) in different buckets.
    tensor v{{0.98}, {5.0}, {1.02}, {0.49}, {0.51}};
    auto classes = group_units(5, {{&v, unit_slice::axis::row, 1.0}});
    // 0.49 .. 1.02 are chained by gaps of at most 0.47 <= 1: one class; 5.0 is 3.98 away.
    CHECK(classes == classes_t{{0, 2, 3, 4}, {1}});
}

TEST_CASE("grouping splits on any element of any slice, rows or columns", "[symmetry][grouping]") {
    tensor rows{{1, 2}, {1, 2}, {1, 2}, {1, 2}};
    tensor cols{{7, 7, 8, 7}, {0, 0, 0, 3}};  // unit 2 differs in row 0, unit 3 in row 1
    auto classes = group_units(4, {{&rows, unit_slice::axis::row, 0.0}, {&cols, unit_slice::axis::column, 0.5}});
    CHECK(classes == classes_t{{0, 1}, {2}, {3}});
}

TEST_CASE("grouping with zero tolerance treats +0 and -0 as equal but the next double as different", "[symmetry][grouping]") {
    tensor v{{0.0}, {-0.0}, {std::nextafter(0.0, 1.0)}};
    CHECK(group_units(3, {{&v, unit_slice::axis::row, 0.0}}) == classes_t{{0, 1}, {2}});
}

TEST_CASE("grouping re-checks earlier elements after a later one splits a class", "[symmetry][grouping]") {
    // Element 0 chains 0, 0.6 and 1.2 (gaps <= 1); element 1 then separates the middle unit, leaving units
    // 0 and 2, which differ by 1.2 > 1 in element 0: a second pass must split them.
    tensor v{{0.0, 0.0}, {0.6, 9.0}, {1.2, 0.0}};
    CHECK(group_units(3, {{&v, unit_slice::axis::row, 1.0}}) == classes_t{{0}, {1}, {2}});
}

TEST_CASE("grouping gives the same classes whatever the order of the units", "[symmetry][grouping]") {
    // Values on a chain and in clusters, with tolerance 1; then the same units listed in another order.
    const std::vector<double> values{0.0, 3.0, 0.8, 10.0, 1.6, 3.5, 10.9, 20.0, 2.4};
    const std::vector<std::size_t> perm{5, 2, 8, 0, 7, 3, 1, 6, 4};  // new position -> old unit
    tensor a = tensor::from_shape({values.size(), 1}), b = a;
    for (std::size_t i = 0; i < values.size(); ++i) {
        a(i, 0) = values[i];
        b(i, 0) = values[perm[i]];
    }
    auto classes_a = group_units(values.size(), {{&a, unit_slice::axis::row, 1.0}});
    auto classes_b = group_units(values.size(), {{&b, unit_slice::axis::row, 1.0}});
    // Map b's classes back to original unit numbers and compare as sets of sets.
    std::vector<std::vector<std::size_t>> mapped;
    for (auto& c : classes_b) {
        std::vector<std::size_t> m;
        for (std::size_t i : c) m.push_back(perm[i]);
        std::sort(m.begin(), m.end());
        mapped.push_back(m);
    }
    std::sort(mapped.begin(), mapped.end());
    // 0, 0.8, 1.6, 2.4, 3.0, 3.5 chain (gaps <= 0.8); 10 and 10.9 pair up; 20 alone.
    CHECK(classes_a == classes_t{{0, 1, 2, 4, 5, 8}, {3, 6}, {7}});
    CHECK(mapped == classes_a);
}

TEST_CASE("grouping finds every pair in a layer of 100000 units", "[symmetry][grouping]") {
    // Unit 2k+1 copies unit 2k; values from a fixed-seed generator, 4 numbers per unit.
    const std::size_t n = 100000;
    std::mt19937_64 rng(9);
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor rows = tensor::from_shape({n, 3}), cols = tensor::from_shape({1, n});
    for (std::size_t u = 0; u < n; u += 2) {
        for (std::size_t e = 0; e < 3; ++e) rows(u, e) = rows(u + 1, e) = normal(rng);
        cols(0, u) = cols(0, u + 1) = normal(rng);
    }
    auto classes = group_units(n, {{&rows, unit_slice::axis::row, 1e-12}, {&cols, unit_slice::axis::column, 1e-12}});
    REQUIRE(classes.size() == n / 2);
    bool all_pairs = true;
    for (std::size_t k = 0; k < classes.size(); ++k)
        all_pairs = all_pairs && classes[k] == std::vector<std::size_t>{2 * k, 2 * k + 1};
    CHECK(all_pairs);
}

TEST_CASE("grouping rejects a slice that does not hold one row per unit", "[symmetry][grouping]") {
    tensor v = xt::zeros<double>({3, 2});
    CHECK_THROWS_WITH(group_units(4, {{&v, unit_slice::axis::row, 0.0}}),
                      Catch::Contains("(3x2)") && Catch::Contains("expected 4 rows"));
}

namespace {

// The reference: the definition in unit_grouping.hpp applied literally, comparing pairs. A class whose
// values of some element, sorted, have a gap above the tolerance is cut there, until nothing is cut.
// Written for the test; shares no code with group_units.
classes_t split_once(const std::vector<std::size_t>& c, const std::vector<std::vector<double>>& numbers, double tol) {
    for (std::size_t e = 0; e < numbers[0].size(); ++e) {
        // The units chained to the first one by steps of at most tol: a class of its own unless that is all.
        std::vector<bool> in(c.size(), false);
        in[0] = true;
        for (bool grew = true; grew;) {
            grew = false;
            for (std::size_t i = 0; i < c.size(); ++i)
                for (std::size_t j = 0; j < c.size(); ++j)
                    if (in[i] && !in[j] && std::abs(numbers[c[i]][e] - numbers[c[j]][e]) <= tol) in[j] = grew = true;
        }
        if (std::find(in.begin(), in.end(), false) == in.end()) continue;
        classes_t parts(2);
        for (std::size_t i = 0; i < c.size(); ++i) parts[in[i] ? 0 : 1].push_back(c[i]);
        return parts;
    }
    return {c};
}

classes_t reference_grouping(const std::vector<std::vector<double>>& numbers, double tol) {
    classes_t classes(1);
    for (std::size_t u = 0; u < numbers.size(); ++u) classes[0].push_back(u);
    for (bool split = true; split;) {
        classes_t next;
        for (const auto& c : classes) {
            classes_t parts = split_once(c, numbers, tol);
            next.insert(next.end(), parts.begin(), parts.end());
        }
        split = next.size() > classes.size();
        classes = next;
    }
    std::sort(classes.begin(), classes.end());  // members are in unit order already: by first unit
    return classes;
}

}  // namespace

TEST_CASE("grouping agrees with a pairwise reference on planted classes and near-tolerance pairs", "[symmetry][grouping]") {
    std::mt19937_64 rng(14);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    const double tol = 0.01;
    for (int trial = 0; trial < 31; ++trial) {  // the last with 2500 units, where group_units radix-sorts
        // 3 row elements and 2 column elements per unit; units copy a planted prototype, then some move by
        // just inside (0.999 tol) or just outside (1.001 tol) the tolerance on one element.
        const std::size_t n = trial == 30 ? 2500 : 5 + std::size_t(trial) * 7, prototypes = 1 + std::size_t(trial + 1) % 6;
        std::vector<std::vector<double>> proto(prototypes, std::vector<double>(5)), numbers(n);
        for (auto& p : proto)
            for (auto& v : p) v = std::round(uniform(rng) * 4) * 0.05;  // coarse grid: prototypes often share elements
        for (std::size_t u = 0; u < n; ++u) {
            numbers[u] = proto[rng() % prototypes];
            if (rng() % 3 == 0) numbers[u][rng() % 5] += (rng() % 2 ? 0.999 : 1.001) * tol * (rng() % 2 ? 1 : -1);
        }
        tensor rows = tensor::from_shape({n, 3}), cols = tensor::from_shape({2, n});
        for (std::size_t u = 0; u < n; ++u) {
            for (std::size_t e = 0; e < 3; ++e) rows(u, e) = numbers[u][e];
            for (std::size_t e = 0; e < 2; ++e) cols(e, u) = numbers[u][3 + e];
        }
        auto got = group_units(n, {{&rows, unit_slice::axis::row, tol}, {&cols, unit_slice::axis::column, tol}});
        INFO("trial " << trial << ", " << n << " units");
        CHECK(got == reference_grouping(numbers, tol));
    }
}
