// SVG rendering of the cost / effective-width figure; plain text, fixed number formatting.
#include "svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/text.hpp"

namespace symgrad::plot {

namespace {

constexpr double width = 760, panel_height = 300, margin_left = 80, margin_right = 200, margin_top = 50,
                 panel_gap = 60, plot_height = panel_height - 70;
// Dash patterns on top of colours, so that lines lying on top of each other stay distinguishable.
const char* const dashes[] = {"", "9 4", "2 3", "12 3 2 3"};
const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// One significant digit in exponent form at the extremes ("1e-04"), printf's %g in between.
std::string tick_label(double v) {
    if (!(v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3))) return six_digits(v);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0e", v);
    return buf;
}

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target, bool integers) {
    if (!(hi > lo)) {
        double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / std::max(1, target);
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    if (integers) step = std::max(1.0, std::round(step));
    std::vector<double> ticks;
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return ticks;
}

std::string render_svg(const std::string& title, const std::vector<panel>& panels) {
    double height = margin_top + double(panels.size()) * (panel_height + panel_gap) - panel_gap + 30;
    std::ostringstream s;
    s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
      << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << num(width / 2) << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" << escape(title)
      << "</text>\n";
    double plot_width = width - margin_left - margin_right;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        const panel& pn = panels[p];
        double top = margin_top + double(p) * (panel_height + panel_gap) + 20;
        double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
        for (const auto& l : pn.lines)
            for (std::size_t k = 0; k < l.x.size() && k < l.y.size(); ++k) {
                if (!std::isfinite(l.x[k]) || !std::isfinite(l.y[k])) continue;
                xmin = std::min(xmin, l.x[k]);
                xmax = std::max(xmax, l.x[k]);
                ymin = std::min(ymin, l.y[k]);
                ymax = std::max(ymax, l.y[k]);
            }
        if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
        if (pn.integer_y) ymin = std::min(ymin, 0.0);
        auto xt = nice_ticks(xmin, xmax, 6);
        auto yt = nice_ticks(ymin, ymax, 5, pn.integer_y);
        double x0 = std::min(xmin, xt.front()), x1 = std::max(xmax, xt.back());
        double y0 = std::min(ymin, yt.front()), y1 = std::max(ymax, yt.back());
        auto X = [&](double v) { return margin_left + (v - x0) / (x1 - x0) * plot_width; };
        auto Y = [&](double v) { return top + plot_height - (v - y0) / (y1 - y0) * plot_height; };

        s << "<g>\n<text x=\"" << num(margin_left + plot_width / 2) << "\" y=\"" << num(top - 6)
          << "\" text-anchor=\"middle\" font-size=\"14\">" << escape(pn.title) << "</text>\n";
        s << "<rect x=\"" << num(margin_left) << "\" y=\"" << num(top) << "\" width=\"" << num(plot_width)
          << "\" height=\"" << num(plot_height) << "\" fill=\"none\" stroke=\"black\"/>\n";
        for (double t : xt) {
            s << "<line x1=\"" << num(X(t)) << "\" y1=\"" << num(top + plot_height) << "\" x2=\"" << num(X(t))
              << "\" y2=\"" << num(top + plot_height + 5) << "\" stroke=\"black\"/>"
              << "<text x=\"" << num(X(t)) << "\" y=\"" << num(top + plot_height + 18)
              << "\" text-anchor=\"middle\">" << tick_label(t) << "</text>\n";
        }
        for (double t : yt) {
            s << "<line x1=\"" << num(margin_left - 5) << "\" y1=\"" << num(Y(t)) << "\" x2=\"" << num(margin_left)
              << "\" y2=\"" << num(Y(t)) << "\" stroke=\"black\"/>"
              << "<line x1=\"" << num(margin_left) << "\" y1=\"" << num(Y(t)) << "\" x2=\""
              << num(margin_left + plot_width) << "\" y2=\"" << num(Y(t)) << "\" stroke=\"#dddddd\"/>"
              << "<text x=\"" << num(margin_left - 8) << "\" y=\"" << num(Y(t) + 4) << "\" text-anchor=\"end\">"
              << tick_label(t) << "</text>\n";
        }
        s << "<text x=\"" << num(margin_left + plot_width / 2) << "\" y=\"" << num(top + plot_height + 36)
          << "\" text-anchor=\"middle\">" << escape(pn.x_label) << "</text>\n";
        s << "<text transform=\"translate(" << num(20) << "," << num(top + plot_height / 2)
          << ") rotate(-90)\" text-anchor=\"middle\">" << escape(pn.y_label) << "</text>\n";
        for (std::size_t i = 0; i < pn.lines.size(); ++i) {
            const auto& l = pn.lines[i];
            const char* color = palette[i % (sizeof palette / sizeof palette[0])];
            const char* dash = dashes[i % (sizeof dashes / sizeof dashes[0])];
            std::string dash_attr = *dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string();
            s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\"" << dash_attr << " points=\"";
            for (std::size_t k = 0; k < l.x.size() && k < l.y.size(); ++k)
                if (std::isfinite(l.x[k]) && std::isfinite(l.y[k])) s << num(X(l.x[k])) << "," << num(Y(l.y[k])) << " ";
            s << "\"><title>" << escape(l.label) << "</title></polyline>\n";
            double ly = top + 10 + double(i) * 20;
            double lx = margin_left + plot_width + 15;
            s << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly) << "\" x2=\"" << num(lx + 24) << "\" y2=\"" << num(ly)
              << "\" stroke=\"" << color << "\" stroke-width=\"3\"" << dash_attr << "/><text x=\"" << num(lx + 30) << "\" y=\""
              << num(ly + 4) << "\">" << escape(l.label) << "</text>\n";
        }
        s << "</g>\n";
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace symgrad::plot
