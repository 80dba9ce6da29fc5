// The previous group_units (before issue 14), the baseline bench_grouping times the current one against.
#pragma once
#include <cstddef>
#include <vector>

#include "analysis/unit_grouping.hpp"

namespace symgrad::baseline {

// Same contract as symgrad::group_units (analysis/unit_grouping.hpp), the std::sort-per-cut version.
std::vector<std::vector<std::size_t>> group_units(std::size_t units, const std::vector<unit_slice>& slices);

}  // namespace symgrad::baseline
