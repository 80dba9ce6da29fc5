// A small, dependency-free SVG line chart: panels stacked vertically, axes, ticks, legend.
#pragma once
#include <string>
#include <vector>

namespace symgrad::plot {

struct series {
    std::string label;
    std::vector<double> x, y;
};

struct panel {
    std::string title;
    std::string x_label, y_label;
    std::vector<series> lines;
    bool integer_y = false;  // ticks at whole numbers only (effective width)
};

// "Nice" tick positions (1, 2 or 5 times a power of ten) covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target, bool integers = false);

// The whole figure as an SVG document; output depends only on the input (byte-identical reruns).
std::string render_svg(const std::string& title, const std::vector<panel>& panels);

}  // namespace symgrad::plot
