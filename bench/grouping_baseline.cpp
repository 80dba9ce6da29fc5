// The previous group_units (before issue 14), kept verbatim as bench_grouping's baseline column: std::sort per cut.
#include "grouping_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "engine/error.hpp"

namespace symgrad::baseline {

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

// A slice checked and ready to read: its reader, its elements per unit, its tolerance.
struct checked_slice {
    slice_reader read;
    std::size_t elements;
    double tolerance;
};

std::vector<checked_slice> check_slices(std::size_t units, const std::vector<unit_slice>& slices) {
    std::vector<checked_slice> checked;
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
        // std::sort needs a strict weak order, which NaN breaks; an Inf has no gap to measure either.
        if (auto k = first_non_finite(*sl.values))
            throw anomaly_error("group_units: slice " + std::to_string(s) + " " + to_string(sh) + " holds " +
                                (std::isnan(sl.values->data()[*k]) ? "NaN" : "Inf") + " at element " + std::to_string(*k));
        checked.push_back({slice_reader{sl.values->data(), sh.cols, by_row}, by_row ? sh.cols : sh.rows, sl.tolerance});
    }
    return checked;
}

using range = std::pair<std::size_t, std::size_t>;  // order[lo, hi)

// order holds the units; every range order[lo, hi) on the stack is a candidate class. A range is taken
// apart depth first: the first element (of any slice) whose values in the range spread over more than
// the tolerance is sorted, and the range is cut wherever two neighbours differ by more than it. The
// pieces go back on the stack and are checked on every element again (dropping units can open gaps).
// A range with no such gap in any element is a class. Whatever the order of cuts, this ends at the
// coarsest partition whose classes have no gap in any element: a cut never separates units that such
// a partition keeps together, so the result does not depend on the order of units or slices.
class partitioner {
public:
    partitioner(std::size_t units, std::vector<checked_slice> slices) : order_(units), slices_(std::move(slices)) {
        std::iota(order_.begin(), order_.end(), std::size_t{0});
        if (units > 0) stack_.emplace_back(0, units);
    }

    std::vector<std::vector<std::size_t>> classes() {
        while (!stack_.empty()) {
            auto [lo, hi] = stack_.back();
            stack_.pop_back();
            if (hi - lo == 2)
                split_pair(lo, hi);
            else if (!cut(lo, hi))
                found_.emplace_back(lo, hi);
        }
        return numbered();
    }

private:
    // Two units: the one gap is the spread, so compare them directly.
    void split_pair(std::size_t lo, std::size_t hi) {
        std::size_t a = order_[lo], b = order_[lo + 1];
        bool same = true;
        for (std::size_t s = 0; s < slices_.size() && same; ++s) {
            const auto& sl = slices_[s];
            for (std::size_t e = 0; e < sl.elements && same; ++e)
                same = !(std::abs(sl.read(a, e) - sl.read(b, e)) > sl.tolerance);
        }
        if (same) {
            found_.emplace_back(lo, hi);
        } else {
            found_.emplace_back(lo, lo + 1);
            found_.emplace_back(lo + 1, hi);
        }
    }

    // Cuts order[lo, hi) at the gaps of its first element that has any; false when no element does.
    bool cut(std::size_t lo, std::size_t hi) {
        if (hi - lo <= 1) return false;
        for (const auto& sl : slices_) {
            spread(sl, lo, hi);
            for (std::size_t e = 0; e < sl.elements; ++e) {
                if (!(highs_[e] - lows_[e] > sl.tolerance)) continue;  // all within the tolerance: no gap possible
                if (cut_at_gaps(sl, e, lo, hi)) return true;
            }  // else a chain of small gaps spanning more than the tolerance: try the next element
        }
        return false;
    }

    // Spread of every element of a slice in one pass over the units (a unit's row is contiguous). The hot
    // loop of identical layers: it works on local copies so that nothing is re-read through `this`.
    void spread(const checked_slice& sl, std::size_t lo, std::size_t hi) {
        const slice_reader read = sl.read;
        const std::size_t elements = sl.elements;
        const std::size_t* order = order_.data();
        lows_.assign(elements, 0.0);
        highs_.assign(elements, 0.0);
        double* lows = lows_.data();
        double* highs = highs_.data();
        for (std::size_t e = 0; e < elements; ++e) lows[e] = highs[e] = read(order[lo], e);
        for (std::size_t i = lo + 1; i < hi; ++i) {
            for (std::size_t e = 0; e < elements; ++e) {
                double v = read(order[i], e);
                lows[e] = std::min(lows[e], v);
                highs[e] = std::max(highs[e], v);
            }
        }
    }

    // Sorts order[lo, hi) on element e and pushes the pieces between gaps; false when there is no gap.
    bool cut_at_gaps(const checked_slice& sl, std::size_t e, std::size_t lo, std::size_t hi) {
        keyed_.clear();
        for (std::size_t i = lo; i < hi; ++i) keyed_.emplace_back(sl.read(order_[i], e), order_[i]);
        std::sort(keyed_.begin(), keyed_.end());
        std::size_t start = lo;
        for (std::size_t i = lo; i < hi; ++i) {
            order_[i] = keyed_[i - lo].second;
            if (i > lo && keyed_[i - lo].first - keyed_[i - lo - 1].first > sl.tolerance) {
                (i - start == 1 ? found_ : stack_).emplace_back(start, i);  // a single unit is final
                start = i;
            }
        }
        if (start == lo) return false;
        (hi - start == 1 ? found_ : stack_).emplace_back(start, hi);  // at least one cut: the last piece too
        return true;
    }

    // Members sorted within each class; classes ordered by their smallest unit, found in O(units) by
    // walking the units in order and numbering each class when its first member comes up.
    std::vector<std::vector<std::size_t>> numbered() {
        constexpr std::size_t unnumbered = std::numeric_limits<std::size_t>::max();
        std::vector<std::size_t> class_of(order_.size()), number(found_.size(), unnumbered);
        for (std::size_t k = 0; k < found_.size(); ++k) {
            std::sort(order_.begin() + found_[k].first, order_.begin() + found_[k].second);
            for (std::size_t i = found_[k].first; i < found_[k].second; ++i) class_of[order_[i]] = k;
        }
        std::vector<std::vector<std::size_t>> classes(found_.size());
        for (std::size_t u = 0, next = 0; u < order_.size(); ++u) {
            std::size_t k = class_of[u];
            if (number[k] != unnumbered) continue;
            number[k] = next;
            classes[next++].assign(order_.begin() + found_[k].first, order_.begin() + found_[k].second);
        }
        return classes;
    }

    std::vector<std::size_t> order_;
    std::vector<checked_slice> slices_;
    std::vector<range> stack_, found_;
    std::vector<std::pair<double, std::size_t>> keyed_;  // (value, unit), reused by every cut
    std::vector<double> lows_, highs_;                  // reused by every spread
};

}  // namespace

std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices) {
    return partitioner(units, check_slices(units, slices)).classes();
}

}  // namespace symgrad::baseline
