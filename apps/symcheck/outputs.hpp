// symcheck's outputs: the text report, the JSON report, the CSV trace, the SVG figure.
#pragma once
#include <string>

#include "experiment.hpp"
#include "options.hpp"

namespace symgrad::symcheck {

// Exit status: 0 no layer frozen, symmetric, fragile or inactive, 1 some layer is; bad input (2) and internal errors (3) are
// decided in main.
int exit_status(const experiment& ex);

std::string text_report(const config& cfg, const experiment& ex);
std::string json_report(const config& cfg, const experiment& ex);  // schema in docs/symcheck.md
std::string trace_csv(const experiment& ex);                      // run,iteration,cost,effective_width
std::string figure_svg(const config& cfg, const experiment& ex);

}  // namespace symgrad::symcheck
