// Groups hidden units into classes of agreeing parameters without comparing all pairs.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "engine/error.hpp"
#include "engine/symmetry.hpp"

namespace symgrad {

namespace {

// Reads element `e` of unit i's share of a slice.
struct slice_reader {
    const double* data;
    std::size_t cols;
    bool by_row;
    double operator()(std::size_t unit, std::size_t e) const {
        return by_row ? data[unit * cols + e] : data[e * cols + unit];
    }
};

}  // namespace

std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices) {
    std::vector<std::pair<slice_reader, std::size_t>> readers;  // reader, elements per unit
    for (std::size_t s = 0; s < slices.size(); ++s) {
        const auto& sl = slices[s];
        if (!sl.values) throw graph_error("group_units: slice " + std::to_string(s) + " has no tensor");
        shape2 sh = shape_of(*sl.values);
        bool by_row = sl.owned == unit_slice::axis::row;
        if ((by_row ? sh.rows : sh.cols) != units)
            throw graph_error("group_units: slice " + std::to_string(s) + " has shape " + to_string(sh) + ", expected " +
                              std::to_string(units) + (by_row ? " rows" : " columns"));
        if (!(sl.tolerance >= 0.0))
            throw graph_error("group_units: slice " + std::to_string(s) + " has a negative or NaN tolerance");
        // std::sort needs a strict weak order, which NaN breaks.
        for (std::size_t k = 0; k < sl.values->size(); ++k)
            if (std::isnan(sl.values->data()[k]))
                throw anomaly_error("group_units: slice " + std::to_string(s) + " " + to_string(sh) + " holds NaN at element " +
                                    std::to_string(k));
        readers.push_back({slice_reader{sl.values->data(), sh.cols, by_row}, by_row ? sh.cols : sh.rows});
    }

    // order holds the units; class k is order[bounds[k], bounds[k+1]). Start with one class of all units.
    std::vector<std::size_t> order(units);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::vector<std::size_t> bounds{0, units}, next_bounds;
    std::vector<std::pair<double, std::size_t>> keyed;

    bool split = units > 1;
    while (split) {  // until a full pass over every element splits nothing
        split = false;
        for (std::size_t s = 0; s < readers.size() && bounds.size() - 1 < units; ++s) {
            const auto& [read, elements] = readers[s];
            const double tol = slices[s].tolerance;
            for (std::size_t e = 0; e < elements && bounds.size() - 1 < units; ++e) {
                next_bounds.assign(1, 0);
                for (std::size_t k = 0; k + 1 < bounds.size(); ++k) {
                    std::size_t lo = bounds[k], hi = bounds[k + 1];
                    if (hi - lo >= 2) {
                        double min = read(order[lo], e), max = min;
                        for (std::size_t i = lo + 1; i < hi; ++i) {
                            double v = read(order[i], e);
                            min = std::min(min, v);
                            max = std::max(max, v);
                        }
                        if (max - min > tol) {  // some gap may exceed the tolerance: sort and cut there
                            keyed.clear();
                            for (std::size_t i = lo; i < hi; ++i) keyed.emplace_back(read(order[i], e), order[i]);
                            std::sort(keyed.begin(), keyed.end());
                            for (std::size_t i = lo; i < hi; ++i) {
                                order[i] = keyed[i - lo].second;
                                if (i > lo && keyed[i - lo].first - keyed[i - lo - 1].first > tol) {
                                    next_bounds.push_back(i);
                                    split = true;
                                }
                            }
                        }
                    }
                    next_bounds.push_back(hi);
                }
                bounds.swap(next_bounds);
            }
        }
        if (bounds.size() - 1 == units) break;  // all singletons: nothing left to split
    }

    std::vector<std::vector<std::size_t>> classes;
    classes.reserve(bounds.size() - 1);
    for (std::size_t k = 0; k + 1 < bounds.size(); ++k) {
        std::vector<std::size_t> members(order.begin() + bounds[k], order.begin() + bounds[k + 1]);
        std::sort(members.begin(), members.end());
        if (!members.empty()) classes.push_back(std::move(members));
    }
    std::sort(classes.begin(), classes.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
    return classes;
}

}  // namespace symgrad
