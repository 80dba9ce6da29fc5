// Central finite differences against backward(), one element at a time, in double precision.
#include "engine/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.hpp"

namespace symgrad {

const char* to_string(check_status s) {
    switch (s) {
        case check_status::passed: return "passed";
        case check_status::failed: return "FAILED";
        default: return "inconclusive (both gradients all zero)";  // zero within atol at every element
    }
}

check_status gradcheck_report::status() const {
    if (!repeatable || !same_when_poisoned) return check_status::failed;
    bool any_pass = false;
    for (const auto& t : tensors) {
        if (t.status == check_status::failed) return check_status::failed;
        any_pass = any_pass || t.status == check_status::passed;
    }
    return any_pass ? check_status::passed : check_status::inconclusive;
}

double gradcheck_report::max_abs_error() const {
    double m = 0.0;
    for (const auto& t : tensors) m = std::max(m, t.max_abs_error);
    return m;
}

std::string gradcheck_report::summary() const {
    std::ostringstream out;
    for (const auto& t : tensors)
        out << t.name << " " << symgrad::to_string(t.shape) << ": " << symgrad::to_string(t.status)
            << ", max abs error " << t.max_abs_error << ", max rel error " << t.max_rel_error << ", worst at ("
            << t.worst_row << "," << t.worst_col << ") analytic " << t.analytic_at_worst << " numeric "
            << t.numeric_at_worst << "\n";
    if (!repeatable) out << "backward is not repeatable: max difference " << repeat_max_diff << "\n";
    if (!same_when_poisoned)
        out << "backward reads a buffer its op's saves() does not declare (gradients change when reused "
               "buffers are NaN-poisoned): max difference "
            << poisoned_max_diff << "\n";
    return out.str();
}

namespace {
// True when every checked gradient equals the one kept in `analytic` bit for bit; max_diff gets the largest gap.
bool same_gradients(const graph& g, const std::vector<node>& checked, const std::vector<tensor>& analytic,
                    double& max_diff) {
    bool same = true;
    for (std::size_t t = 0; t < checked.size(); ++t) {
        const tensor& again = g.grad(checked[t]);
        for (std::size_t k = 0; k < again.size(); ++k) {
            double d = std::abs(again.data()[k] - analytic[t].data()[k]);
            if (d != 0.0 || std::isnan(d)) same = false;
            max_diff = std::max(max_diff, d);
        }
    }
    return same;
}
}  // namespace

gradcheck_report gradcheck(graph& g, node loss, const gradcheck_options& o) {
    if (!(o.eps > 0) || !(o.atol >= 0) || !(o.rtol >= 0))
        throw input_error("gradcheck: eps must be > 0 and atol, rtol >= 0");
    g.retain(loss);  // its value is read after every forward; an op after it could otherwise overwrite it
    std::vector<node> checked = g.parameters();
    if (o.check_inputs)
        for (auto in : g.inputs()) {
            g.require_grad(in);
            checked.push_back(in);
        }

    g.forward();
    g.backward(loss);
    std::vector<tensor> analytic;
    for (auto n : checked) analytic.push_back(g.grad(n));

    gradcheck_report report;
    g.backward(loss);
    report.repeatable = same_gradients(g, checked, analytic, report.repeat_max_diff);
    if (o.poison_reused_buffers && !g.poison_reused_buffers()) {
        g.set_poison_reused_buffers(true);
        g.forward();
        g.backward(loss);
        report.same_when_poisoned = same_gradients(g, checked, analytic, report.poisoned_max_diff);
        g.set_poison_reused_buffers(false);
    }

    auto cost = [&]() {
        g.forward();
        return g.value(loss)(0, 0);
    };
    for (std::size_t t = 0; t < checked.size(); ++t) {
        tensor& v = g.value(checked[t]);
        tensor_check c;
        c.name = checked[t].name();
        c.shape = shape_of(v);
        bool all_zero = true, failed = false;
        double worst_excess = -INFINITY;
        for (std::size_t k = 0; k < v.size(); ++k) {
            double saved = v.data()[k];
            v.data()[k] = saved + o.eps;
            double plus = cost();
            v.data()[k] = saved - o.eps;
            double minus = cost();
            v.data()[k] = saved;
            double numeric = (plus - minus) / (2 * o.eps);
            double a = analytic[t].data()[k];
            double err = std::abs(a - numeric);
            double scale = std::max(std::abs(a), std::abs(numeric));
            double allowed = o.atol + o.rtol * std::abs(numeric);
            if (!(err <= allowed)) failed = true;  // NaN fails too
            if (std::abs(a) > o.atol || std::abs(numeric) > o.atol || !std::isfinite(err)) all_zero = false;
            c.max_abs_error = std::max(c.max_abs_error, err);
            if (scale > 0) c.max_rel_error = std::max(c.max_rel_error, err / scale);
            if (err - allowed > worst_excess || std::isnan(err)) {
                worst_excess = std::isnan(err) ? INFINITY : err - allowed;
                std::size_t cols = c.shape.cols;
                c.worst_row = k / cols;
                c.worst_col = k % cols;
                c.analytic_at_worst = a;
                c.numeric_at_worst = numeric;
            }
        }
        c.status = failed ? check_status::failed : (all_zero ? check_status::inconclusive : check_status::passed);
        report.tensors.push_back(c);
    }
    g.forward();
    g.backward(loss);
    return report;
}

}  // namespace symgrad
