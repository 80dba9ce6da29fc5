// The partition: groups hidden units into classes of agreeing parameters without comparing all pairs.
#include "analysis/unit_grouping.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "engine/error.hpp"

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

// A double as an unsigned integer of the same order (+0 and -0 alike, as they compare equal), and back.
std::uint64_t order_key(double v) {
    if (v == 0.0) v = 0.0;
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : b | (std::uint64_t{1} << 63);
}

double key_value(std::uint64_t k) {
    std::uint64_t b = (k >> 63) ? k & ~(std::uint64_t{1} << 63) : ~k;
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

struct keyed_unit {
    std::uint64_t key;
    std::size_t unit;
};

// Sorts on the keys: LSD radix, 11 bits a pass, one counting pass for all digits, and no pass where every
// key has the same digit. Linear, where std::sort's n log n and cache misses made the cost per unit grow
// about 3x from 1e3 to 1e6 units. Stable: equal keys keep their order (numbered() relies on it).
void sort_keys(std::vector<keyed_unit>& a, std::vector<keyed_unit>& spare) {
    constexpr int bits = 11, passes = 6;
    constexpr std::size_t radix = std::size_t{1} << bits;
    if (a.size() < 2048) {  // below this, the 6 x 2048 counters cost more than they save
        std::stable_sort(a.begin(), a.end(), [](const keyed_unit& x, const keyed_unit& y) { return x.key < y.key; });
        return;
    }
    std::vector<std::array<std::size_t, radix>> count(passes);  // one allocation per sort of >= 2048 units
    for (const auto& x : a)
        for (int p = 0; p < passes; ++p) ++count[p][(x.key >> (p * bits)) & (radix - 1)];
    spare.resize(a.size());
    for (int p = 0; p < passes; ++p) {
        auto& c = count[p];
        if (std::find(c.begin(), c.end(), a.size()) != c.end()) continue;  // one digit for all: nothing to do
        std::size_t sum = 0;
        for (auto& n : c) sum += std::exchange(n, sum);
        for (const auto& x : a) spare[c[(x.key >> (p * bits)) & (radix - 1)]++] = x;
        a.swap(spare);
    }
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
                pairs_.emplace_back(lo, hi);
            else if (!cut(lo, hi))
                found_.emplace_back(lo, hi);
        }
        split_pairs();
        return numbered();
    }

private:
    // Candidates of two units, compared last in order of their smaller unit, so their numbers are read
    // roughly in memory order (in order of value, every pair missed the cache per tensor at 1e6 units).
    // Their classes go to members_ as (smallest unit, unit), ready for numbered().
    void split_pairs() {
        keyed_.clear();
        for (const range& r : pairs_) {
            std::size_t a = order_[r.first], b = order_[r.first + 1];
            keyed_.push_back({std::min(a, b), std::max(a, b)});
        }
        sort_keys(keyed_, spare_);
        for (const auto& k : keyed_) {
            std::size_t a = k.key, b = k.unit;
            members_.push_back({a, a});
            members_.push_back({same(a, b) ? a : b, b});
        }
    }

    // Two units: the one gap is the spread, so compare them directly.
    bool same(std::size_t a, std::size_t b) const {
        for (const auto& sl : slices_)
            for (std::size_t e = 0; e < sl.elements; ++e)
                if (std::abs(sl.read(a, e) - sl.read(b, e)) > sl.tolerance) return false;
        return true;
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
        for (std::size_t i = lo; i < hi; ++i) keyed_.push_back({order_key(sl.read(order_[i], e)), order_[i]});
        sort_keys(keyed_, spare_);
        std::size_t start = lo;
        double previous = key_value(keyed_[0].key);
        for (std::size_t i = lo; i < hi; ++i) {
            order_[i] = keyed_[i - lo].unit;
            double value = key_value(keyed_[i - lo].key);
            if (i > lo && value - previous > sl.tolerance) {
                (i - start == 1 ? found_ : stack_).emplace_back(start, i);  // a single unit is final
                start = i;
            }
            previous = value;
        }
        if (start == lo) return false;
        (hi - start == 1 ? found_ : stack_).emplace_back(start, hi);  // at least one cut: the last piece too
        return true;
    }

    // Members sorted within each class; classes ordered by their smallest unit. A small class's units (the
    // pairs' already in members_) are keyed by the class's smallest unit, a large class (more than 8) once
    // by a marked entry; a stable radix sort then puts every class whole in place, its members in order,
    // read and written in sequence (looking classes up per unit missed the cache once per unit at 1e6).
    std::vector<std::vector<std::size_t>> numbered() {
        constexpr std::size_t whole = std::size_t{1} << (std::numeric_limits<std::size_t>::digits - 1);
        keyed_.swap(members_);
        for (std::size_t k = 0; k < found_.size(); ++k) {
            auto [lo, hi] = found_[k];
            std::sort(order_.begin() + lo, order_.begin() + hi);
            if (hi - lo > 8)
                keyed_.push_back({order_[lo], k | whole});
            else
                for (std::size_t i = lo; i < hi; ++i) keyed_.push_back({order_[lo], order_[i]});
        }
        sort_keys(keyed_, spare_);
        std::vector<std::vector<std::size_t>> classes;
        classes.reserve(found_.size());
        for (std::size_t i = 0, end = 0; i < keyed_.size(); i = end) {
            for (end = i + 1; end < keyed_.size() && keyed_[end].key == keyed_[i].key;) ++end;
            if (keyed_[i].unit & whole) {
                const range& r = found_[keyed_[i].unit & ~whole];
                classes.emplace_back(order_.begin() + r.first, order_.begin() + r.second);
                continue;
            }
            classes.emplace_back(end - i);
            for (std::size_t j = i; j < end; ++j) classes.back()[j - i] = keyed_[j].unit;
        }
        return classes;
    }

    std::vector<std::size_t> order_;
    std::vector<checked_slice> slices_;
    std::vector<range> stack_, found_, pairs_;  // pairs_: candidates of two units, compared last
    std::vector<keyed_unit> keyed_, spare_;  // (value's key, unit), reused by every cut
    std::vector<keyed_unit> members_;        // the pairs' classes as (smallest unit, unit)
    std::vector<double> lows_, highs_;                  // reused by every spread
};

}  // namespace

std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices) {
    return partitioner(units, check_slices(units, slices)).classes();
}

}  // namespace symgrad
