// Groups hidden units into classes of agreeing parameters without comparing all pairs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "engine/error.hpp"
#include "analysis/unit_grouping.hpp"

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

    // order holds the units; every range order[lo, hi) on the stack is a candidate class. A range is taken
    // apart depth first: the first element (of any slice) whose values in the range spread over more than
    // the tolerance is sorted, and the range is cut wherever two neighbours differ by more than it. The
    // pieces go back on the stack and are checked on every element again (dropping units can open gaps).
    // A range with no such gap in any element is a class. Whatever the order of cuts, this ends at the
    // coarsest partition whose classes have no gap in any element: a cut never separates units that such
    // a partition keeps together, so the result does not depend on the order of units or slices.
    std::vector<std::size_t> order(units);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::vector<std::pair<std::size_t, std::size_t>> stack, found;  // ranges [lo, hi)
    if (units > 0) stack.emplace_back(0, units);
    std::vector<std::pair<double, std::size_t>> keyed;
    std::vector<double> lows, highs;

    while (!stack.empty()) {
        auto [lo, hi] = stack.back();
        stack.pop_back();
        if (hi - lo == 2) {  // two units: the one gap is the spread, so compare them directly
            std::size_t a = order[lo], b = order[lo + 1];
            bool same = true;
            for (std::size_t s = 0; s < readers.size() && same; ++s) {
                const auto& [read, elements] = readers[s];
                for (std::size_t e = 0; e < elements && same; ++e)
                    same = !(std::abs(read(a, e) - read(b, e)) > slices[s].tolerance);
            }
            if (same) {
                found.emplace_back(lo, hi);
            } else {
                found.emplace_back(lo, lo + 1);
                found.emplace_back(lo + 1, hi);
            }
            continue;
        }
        bool cut = false;
        for (std::size_t s = 0; s < readers.size() && !cut && hi - lo > 1; ++s) {
            const auto& [read, elements] = readers[s];
            const double tol = slices[s].tolerance;
            // Spread of every element of this slice in one pass over the units (a unit's row is contiguous).
            lows.assign(elements, 0.0);
            highs.assign(elements, 0.0);
            for (std::size_t e = 0; e < elements; ++e) lows[e] = highs[e] = read(order[lo], e);
            for (std::size_t i = lo + 1; i < hi; ++i) {
                for (std::size_t e = 0; e < elements; ++e) {
                    double v = read(order[i], e);
                    lows[e] = std::min(lows[e], v);
                    highs[e] = std::max(highs[e], v);
                }
            }
            for (std::size_t e = 0; e < elements && !cut; ++e) {
                if (!(highs[e] - lows[e] > tol)) continue;  // all within the tolerance: no gap possible
                keyed.clear();
                for (std::size_t i = lo; i < hi; ++i) keyed.emplace_back(read(order[i], e), order[i]);
                std::sort(keyed.begin(), keyed.end());
                std::size_t start = lo;
                for (std::size_t i = lo; i < hi; ++i) {
                    order[i] = keyed[i - lo].second;
                    if (i > lo && keyed[i - lo].first - keyed[i - lo - 1].first > tol) {
                        (i - start == 1 ? found : stack).emplace_back(start, i);  // a single unit is final
                        start = i;
                    }
                }
                if (start > lo) {  // at least one cut: the last piece too goes back
                    (hi - start == 1 ? found : stack).emplace_back(start, hi);
                    cut = true;
                }  // else a chain of small gaps spanning more than the tolerance: try the next element
            }
        }
        if (!cut) found.emplace_back(lo, hi);
    }

    // Members sorted within each class; classes ordered by their smallest unit, found in O(units) by
    // walking the units in order and numbering each class when its first member comes up.
    constexpr std::size_t unnumbered = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> class_of(units), number(found.size(), unnumbered);
    for (std::size_t k = 0; k < found.size(); ++k) {
        std::sort(order.begin() + found[k].first, order.begin() + found[k].second);
        for (std::size_t i = found[k].first; i < found[k].second; ++i) class_of[order[i]] = k;
    }
    std::vector<std::vector<std::size_t>> classes(found.size());
    for (std::size_t u = 0, next = 0; u < units; ++u) {
        std::size_t k = class_of[u];
        if (number[k] != unnumbered) continue;
        number[k] = next;
        classes[next++].assign(order.begin() + found[k].first, order.begin() + found[k].second);
    }
    return classes;
}

}  // namespace symgrad
