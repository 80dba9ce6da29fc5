// The partition: groups a layer's units into classes of units that agree on every compared tensor.
#pragma once
#include <cstddef>
#include <vector>

#include "engine/tensor.hpp"

namespace symgrad {

// One tensor's share of every unit: unit i owns row i (axis::row) or column i (axis::column) of *values.
// Two units agree on the slice when every pair of corresponding elements differs by at most `tolerance`
// (absolute; 0 means exactly equal as doubles, so +0 and -0 agree).
struct unit_slice {
    enum class axis { row, column };
    const tensor* values = nullptr;
    axis owned = axis::row;
    double tolerance = 0.0;
};

// Groups `units` units into classes, each a sorted list of unit indices, classes ordered by first unit.
// Units that agree on every slice are always in the same class, with no bucket-boundary effects: the
// classes are the coarsest partition in which, for every element of every slice, a class's values
// sorted have no gap above the tolerance (unique, so independent of the order of units and slices).
// Found without comparing pairs: a candidate class is sorted on the first element whose values spread
// over more than the tolerance and cut at its gaps, and the pieces are checked again, until nothing is
// cut. Cost O(P) (P = units x numbers per unit): sorts are radix sorts of the values' bit patterns, pairs
// are compared in unit order and classes are put in order by a radix sort, so the cost per unit stays
// within 2x from 1e3 to 1e6 units (docs/performance.md); each further cut a piece goes through re-reads
// it once more. Throws
// graph_error on a slice whose shape does not have `units` rows (columns), anomaly_error on a NaN.
std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices);

}  // namespace symgrad
