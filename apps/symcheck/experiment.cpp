// The training-and-analysis loop behind symcheck; each analysed iteration's forward/backward is the
// training pass itself, so tracing the effective width costs no extra pass.
#include "experiment.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include <unistd.h>

#include "engine/error.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "models/progress.hpp"
#include "ops/ops.hpp"

namespace symgrad::symcheck {

namespace {

dataset load_data(const config& cfg) {
    if (cfg.data == "titanic") return titanic();
    return load_csv(cfg.data, cfg.csv);
}

std::size_t narrowest(const symmetry_report& r) {
    std::size_t w = 0;
    bool first = true;
    for (const auto& l : r.layers) {
        w = first ? l.effective_width : std::min(w, l.effective_width);
        first = false;
    }
    return w;
}

void print_tensor(std::ostream& out, const std::string& name, const tensor& t) {
    out << "  " << name << " =\n";
    for (std::size_t i = 0; i < t.shape()[0]; ++i) {
        out << "    [";
        for (std::size_t j = 0; j < t.shape()[1]; ++j) out << (j ? " " : "") << std::setw(12) << std::setprecision(6) << t(i, j);
        out << " ]\n";
    }
}

// Divergence, the rule docs/errors.md explains: after an update the cost is above its starting value AND some
// sample's true label gets a probability beyond the BCE clamp. There the clamped loss no longer measures the
// error and the sigmoid's gradient has vanished, so training cannot come back and any verdict would describe
// an artefact. Both thresholds are the problem's own (the starting cost, ops.hpp's bce_clamp); NaN and Inf
// are the graph's anomaly detection's job.
void check_divergence(const mlp& net, const config& cfg, const std::string& run, std::size_t iteration,
                      double cost, double initial_cost) {
    if (!(cost > initial_cost)) return;
    const tensor& a = net.g.value(net.output);
    const tensor& y = net.g.value(net.Y);
    for (std::size_t j = 0; j < a.shape()[1]; ++j) {
        double p_true = y(0, j) == 1.0 ? a(0, j) : 1.0 - a(0, j);
        if (!(p_true < bce_clamp)) continue;
        std::ostringstream msg;
        msg << std::setprecision(6) << "anomaly: training diverged in run '" << run << "' at iteration " << iteration
            << ": the cost rose from " << initial_cost << " to " << cost << " and node '" << net.output.name() << "' ("
            << net.g.kind_name(net.output) << ", " << to_string(net.output.shape()) << ") gives the sample in column "
            << j << " a probability of " << p_true << " for its true label " << y(0, j)
            << ", beyond the BCE clamp " << bce_clamp << " where the loss stops measuring the error; lower --lr (now "
            << cfg.learning_rate << " with " << cfg.optimizer << ")";
        throw anomaly_error(msg.str());
    }
}

// Refuses a model that cannot fit: a lower bound on its memory (every parameter as value and gradient, every
// layer's activations once, in doubles) against the machine's physical memory. Without it a width like 10^9
// makes the allocator thrash for minutes or the OOM killer end the process.
void check_fits_in_memory(const mlp_spec& spec, std::size_t samples) {
    double doubles = 0.0;
    double previous = double(spec.inputs);
    std::vector<std::size_t> widths = spec.hidden;
    widths.push_back(1);
    for (std::size_t w : widths) {
        doubles += 2.0 * (double(w) * previous + double(w)) + double(w) * double(samples);
        previous = double(w);
    }
    double needed = 8.0 * doubles;
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    double physical = double(pages) * double(page);
    if (pages > 0 && page > 0 && needed > physical) {
        std::ostringstream msg;
        msg << std::setprecision(3) << "model too large: " << spec.inputs << " inputs, hidden widths";
        for (std::size_t w : spec.hidden) msg << " " << w;
        msg << " and " << samples << " samples need at least " << needed / 1e9 << " GB, this machine has "
            << physical / 1e9 << " GB; use narrower layers";
        throw input_error(msg.str());
    }
}

}  // namespace

symmetry_verdict experiment::verdict() const {
    symmetry_verdict v = symmetry_verdict::healthy;
    for (const auto& r : runs) v = std::max(v, r.final.verdict);
    return v;
}

experiment run_experiment(const config& cfg, std::ostream* log) {
    experiment ex;
    ex.data = load_data(cfg);
    ex.spec.inputs = ex.data.features();
    ex.spec.hidden = cfg.hidden;
    ex.spec.hidden_activation = cfg.hidden_activation;
    check_fits_in_memory(ex.spec, ex.data.samples());

    symmetry_options opts;
    opts.exact = cfg.exact;
    if (cfg.tolerance) opts.relative_tolerance = *cfg.tolerance;

    for (const auto& init : cfg.inits) {
        mlp net = build_mlp(ex.spec, ex.data.samples());
        net.g.feed(net.X, ex.data.X);
        net.g.feed(net.Y, ex.data.Y);
        net.g.set_detect_anomaly(cfg.detect_anomaly);
        net.g.retain(net.output);  // the divergence rule reads the probabilities after each pass
        if (!cfg.load_dir.empty())
            load_parameters(net.g, cfg.load_dir);
        else
            init.plan.apply(net.g, cfg.seed);
        if (ex.dot.empty()) {
            std::ostringstream dot;
            net.g.write_dot(dot);
            ex.dot = dot.str();
        }
        const std::vector<node> params = net.g.parameters();
        std::vector<tensor> start;
        for (auto p : params) start.push_back(net.g.value(p));
        auto opt = make_optimizer(cfg.optimizer, cfg.learning_rate);

        run_result run;
        run.init = init.label;
        run.trace.reserve(cfg.iterations + 1);
        progress_line progress(!cfg.quiet, cfg.iterations, "run '" + init.label + "'");
        for (std::size_t it = 0; it <= cfg.iterations; ++it) {
            net.g.set_step(long(it));
            trace_point point;
            point.iteration = it;
            bool analyse = it == 0 || it == cfg.iterations || it % cfg.trace_every == 0;
            if (analyse) {
                symmetry_report rep = analyse_symmetry(net.g, net.loss, opts);  // runs forward + backward
                point.effective_width = narrowest(rep);
                if (it == 0) run.initial = rep;
                if (it == cfg.iterations) run.final = std::move(rep);
            } else {
                net.g.forward();
                net.g.backward(net.loss);
            }
            point.cost = net.g.value(net.loss)(0, 0);
            if (!std::isfinite(point.cost))
                throw anomaly_error("anomaly: the cost is " + std::to_string(point.cost) + " at iteration " +
                                    std::to_string(it) + " of run '" + init.label + "'");
            if (cfg.detect_anomaly && it > 0) check_divergence(net, cfg, init.label, it, point.cost, run.trace[0].cost);
            run.trace.push_back(point);
            if (log && it < cfg.print_weights && !net.W.empty()) {
                *log << "run '" << init.label << "', iteration " << it << " (cost " << std::setprecision(10)
                     << point.cost << "):\n";
                print_tensor(*log, net.W[0].name(), net.g.value(net.W[0]));
                if (net.W.size() > 1) print_tensor(*log, net.W[1].name(), net.g.value(net.W[1]));
            }
            if (it < cfg.iterations) opt->step(net.g, params);
            progress.update(it, point.cost);
        }
        progress.finish(cfg.iterations, run.trace.back().cost);
        run.initial_cost = run.trace.front().cost;
        run.final_cost = run.trace.back().cost;
        for (std::size_t k = 0; k < params.size(); ++k) {
            const tensor& now = net.g.value(params[k]);
            run.moved[params[k].name()] = !std::equal(now.begin(), now.end(), start[k].begin());
        }
        if (!cfg.save_dir.empty()) {
            std::string dir = cfg.save_dir;
            if (cfg.inits.size() > 1) {
                std::string safe;
                for (char c : init.label) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
                dir += "/" + safe;
            }
            save_parameters(net.g, dir);
        }
        ex.runs.push_back(std::move(run));
    }
    return ex;
}

}  // namespace symgrad::symcheck
