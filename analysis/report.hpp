// The report in words: renders a symmetry_report's reasons into the text symcheck prints and into JSON.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/symmetry.hpp"

namespace symgrad {

// The reasons as sentences, joined by one space (what the report shows after "why:" and "fix:").
std::string to_words(const std::vector<reason>& reasons);

// "{0, 2, 5}", cut after `limit` units with the count ("{0, 1, ... (40 units)}").
std::string unit_list(const std::vector<std::size_t>& units, std::size_t limit = 16);

// A readable multi-line report (what symcheck prints).
std::string to_text(const symmetry_report& report);

// The report as a JSON object: verdict, explanation, fix, moving_parameters, still_parameters, notes,
// tolerance {relative, exact}, layers [{name, activation, activation_kind, parameters, units,
// effective_width, classes, transient_groups, verdict, moving_parameters, output_zero, class_spread,
// explanation, fix}]. explanation and fix are to_words of the reasons.
nlohmann::json to_json_value(const symmetry_report& report);
std::string to_json(const symmetry_report& report);  // to_json_value(report).dump(2)

}  // namespace symgrad
