// One symcheck run per initialiser on models' training loop; each analysed iteration's forward/backward is
// the training pass itself, so tracing the effective width costs no extra pass.
#include "experiment.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include <unistd.h>

#include <xtensor/xview.hpp>

#include "engine/error.hpp"
#include "engine/text.hpp"
#include "failures.hpp"
#include "models/batches.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "model_run.hpp"
#include "sweep.hpp"
#include "ops/ops.hpp"

namespace symgrad::symcheck {

namespace {

// With peers (data mode), a CSV file is read in shares: each rank its byte range (models/data.hpp).
dataset load_data(const config& cfg, collective* peers) {
    if (cfg.data == "titanic") return titanic();
    return peers ? load_csv_shard(cfg.data, cfg.csv, *peers) : load_csv(cfg.data, cfg.csv);
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

// The probability the output gives sample j's true class: with one row a(0, j) for label 1 and 1 - a(0, j)
// for label 0; with k rows a(c, j) at the row c of the label column's 1.
double true_class_probability(const tensor& a, const tensor& y, std::size_t j, std::size_t& cls) {
    if (a.shape()[0] == 1) {
        cls = y(0, j) == 1.0 ? 1 : 0;
        return y(0, j) == 1.0 ? a(0, j) : 1.0 - a(0, j);
    }
    cls = 0;
    for (std::size_t c = 1; c < y.shape()[0]; ++c)
        if (y(c, j) > y(cls, j)) cls = c;
    return a(cls, j);
}

// Divergence, the rule docs/errors.md explains: after an update the cost is above its starting value AND some
// sample's true class gets a probability below bce_clamp (1e-12, the level the library's BCE treats as
// certain): the model is worse than it started and certain of a wrong answer, the state a far too large
// learning rate leaves, with every tanh unit saturated. Both thresholds are the problem's own (the starting
// cost, ops.hpp's bce_clamp); NaN and Inf are the graph's anomaly detection's job. The message for the first
// such sample, or "". In data mode columns and shape are the whole data's, as in one process.
std::string divergence(const mlp& net, const config& cfg, const experiment& ex, const std::string& run,
                       std::size_t iteration, double cost, double initial_cost) {
    const tensor& a = net.g.value(net.output);
    const tensor& y = net.g.value(net.Y);
    auto shape = net.output.shape();
    shape.cols = ex.samples();
    for (std::size_t j = 0; j < a.shape()[1]; ++j) {
        std::size_t cls = 0;
        double p_true = true_class_probability(a, y, j, cls);
        if (!(p_true < bce_clamp)) continue;
        std::ostringstream msg;
        msg << std::setprecision(6) << "anomaly: training diverged in run '" << run << "' at iteration " << iteration
            << ": the cost rose from " << initial_cost << " to " << cost << " and node '" << net.output.name() << "' ("
            << net.g.kind_name(net.output) << ", " << to_string(shape) << ") gives the sample in column "
            << ex.first_sample + j << " a probability of " << p_true;
        const auto& classes = ex.data.class_names;  // the rows of a k-class output
        if (a.shape()[0] == 1)
            msg << " for its true label " << y(0, j);
        else
            msg << " for its true class '" << (cls < classes.size() ? classes[cls] : std::to_string(cls)) << "'";
        msg << ", below " << bce_clamp << ": worse than at the start and certain of a wrong answer; lower --lr (now "
            << cfg.learning_rate << " with " << cfg.optimizer << ")";
        return msg.str();
    }
    return {};
}

// Throws anomaly_error on divergence. In data mode every process searches its shard and all throw the first
// finding by rank, which is the single process's first sample.
void check_divergence(const mlp& net, const config& cfg, const experiment& ex, const std::string& run,
                      std::size_t iteration, double cost, double initial_cost) {
    if (!(cost > initial_cost)) return;  // the cost is the same on every process
    agree(ex.peers, [&] {
        std::string found = divergence(net, cfg, ex, run, iteration, cost, initial_cost);
        if (!found.empty()) throw anomaly_error(found);
    });
}

// The memory the run may use: --max-memory, else what the kernel reports available now (MemAvailable, capped by
// a cgroup v2 limit when one is set), else physical memory.
double memory_budget(const config& cfg, std::string& source) {
    if (cfg.max_memory_bytes) {
        source = "--max-memory";
        return *cfg.max_memory_bytes;
    }
    source = "memory available now; set the budget with --max-memory";
    double available = 0.0;
    std::ifstream meminfo("/proc/meminfo");
    for (std::string key; meminfo >> key;) {
        double kb = 0.0;
        meminfo >> kb;
        if (key == "MemAvailable:") available = kb * 1024.0;
        meminfo.ignore(256, '\n');
    }
    std::ifstream cg_max("/sys/fs/cgroup/memory.max"), cg_now("/sys/fs/cgroup/memory.current");
    double limit = 0.0, used = 0.0;
    if (cg_max >> limit && cg_now >> used && limit > used && (available <= 0.0 || limit - used < available))
        available = limit - used;
    if (available > 0.0) return available;
    return double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE));
}

}  // namespace

double estimate_peak_memory(const config& cfg, const mlp_spec& spec, std::size_t samples) {
    // Coefficients measured on this code (docs/performance.md, "Memory of a run"): each hidden or output
    // activation costs 3.2 doubles per element (the matmul, bias and activation values and the gradients the
    // planner does not share), each parameter 3 (value, gradient, the copy that tells whether it moved), the
    // optimizer 1 (momentum) or 2 (Adam) more, --save 3 more (the .npy bytes and their copy in the output
    // batch); the data set 2 (the loaded copy and the fed one); and the process itself 8 MB.
    double activations = 0.0, parameters = 0.0, previous = double(spec.inputs);
    std::vector<std::size_t> widths = spec.hidden;
    widths.push_back(spec.outputs);
    for (std::size_t w : widths) {
        activations += double(w) * double(samples);
        parameters += double(w) * previous + double(w);
        previous = double(w);
    }
    double per_parameter = 3.0 + (cfg.optimizer == "momentum" ? 1.0 : cfg.optimizer == "adam" ? 2.0 : 0.0) +
                           (cfg.save_dir.empty() ? 0.0 : 3.0);
    double doubles = 3.2 * activations + per_parameter * parameters + 2.0 * double(spec.inputs) * double(samples);
    return 8e6 + 8.0 * doubles;
}

namespace {

// Refuses, before anything is allocated, a run whose estimated peak memory exceeds the budget: without it a
// width like 30000 trains for minutes until the kernel kills the process without a word.
void check_fits_in_memory(const config& cfg, const mlp_spec& spec, std::size_t samples) {
    double needed = estimate_peak_memory(cfg, spec, samples);
    std::string source;
    double budget = memory_budget(cfg, source);
    if (needed <= budget) return;
    std::ostringstream msg;
    msg << std::setprecision(3) << "model too large: " << spec.inputs << " inputs, hidden widths";
    for (std::size_t w : spec.hidden) msg << " " << w;
    msg << " and " << samples << " samples need about " << needed / 1e9 << " GB (estimated), more than the budget of "
        << budget / 1e9 << " GB (" << source << "); use narrower layers";
    throw input_error(msg.str());
}

// With fewer samples than parameters the network can fit every label by heart, whatever its units do.
void warn_if_fewer_samples_than_parameters(experiment& ex) {
    std::size_t parameters = 0, previous = ex.spec.inputs;
    std::vector<std::size_t> widths = ex.spec.hidden;
    widths.push_back(ex.spec.outputs);
    for (std::size_t w : widths) {
        parameters += w * previous + w;
        previous = w;
    }
    if (ex.samples() >= parameters) return;
    ex.data.warnings.push_back("only " + std::to_string(ex.samples()) + " samples for " + std::to_string(parameters) +
                               " parameters: the model can memorise every label; use more data or narrower layers");
}

// One run's network: built, fed, initialised (or loaded) and watched by anomaly detection.
mlp prepare_network(const config& cfg, const experiment& ex, const init_run& init) {
    mlp net = ex.model ? model_network(*ex.model, ex.data.samples()) : build_mlp(ex.spec, ex.data.samples());
    net.g.feed(net.X, ex.data.X);
    net.g.feed(net.Y, ex.data.Y);
    if (ex.peers) net.g.set_data_parallel(ex.peers, double(ex.data.samples()) / double(ex.samples()));
    net.g.set_anomaly_check(!cfg.detect_anomaly              ? anomaly_check::off
                            : cfg.anomaly_check_every_node ? anomaly_check::every_node
                                                           : anomaly_check::results);
    net.g.retain(net.output);  // the divergence rule reads the probabilities after each pass
    if (!cfg.load_dir.empty())
        agree(ex.peers, [&] { load_parameters(net.g, cfg.load_dir); });  // data mode: every rank loads, one line
    else if (!ex.model)
        init.plan.apply(net.g, cfg.seed);
    return net;
}

// The training loop's hooks for one run: analyse the sampled iterations during their own pass, check
// every cost, record the trace and print the article's weight tables.
class run_watcher {
public:
    // The initial and final states are analysed with a lookahead that clones `opt`, the run's optimizer
    // (fresh at iteration 0, carrying the run's state at the end).
    run_watcher(const config& cfg, const experiment& ex, mlp& net, const symmetry_options& opts, const optimizer& opt,
                std::ostream* log, run_result& run)
        : cfg_(cfg), ex_(ex), net_(net), opts_(opts), ends_(opts), log_(log), run_(run) {
        ends_.lookahead_optimizer = &opt;
        // Never trains ahead longer than the run itself (a 1-iteration run gets a 1-step lookahead);
        // with 0 iterations (the initial state only) the lookahead is the only training there is.
        ends_.lookahead_steps = cfg.iterations > 0 ? std::min(cfg.lookahead, cfg.iterations) : cfg.lookahead;
    }

    train_hooks hooks() {
        train_hooks h;
        h.forward_backward = [this](std::size_t it) { forward_backward(it); };
        h.before_update = [this](std::size_t it, double cost) { record(it, cost); };
        return h;
    }

private:
    void forward_backward(std::size_t it) {
        width_.reset();
        bool sampled = it == 0 || it == cfg_.iterations || it % cfg_.trace_every == 0;
        if (!sampled) {
            net_.g.forward();
            net_.g.backward(net_.loss);
            return;
        }
        bool end = it == 0 || it == cfg_.iterations;
        symmetry_report rep = analyze_symmetry(net_.g, net_.loss, end ? ends_ : opts_);  // runs forward + backward
        width_ = narrowest(rep);
        if (it == 0) run_.initial = rep;
        if (it == cfg_.iterations) run_.final = std::move(rep);
    }

    void record(std::size_t it, double cost) {
        if (ex_.peers) fail_for_test(it);
        if (!std::isfinite(cost))  // the same cost on every process: they all agree to stop
            agree(ex_.peers, [&] {
                throw anomaly_error("anomaly: the cost is " + shortest(cost) + " at iteration " + std::to_string(it) +
                                    " of run '" + run_.init + "'");
            });
        if (cfg_.detect_anomaly && it > 0) check_divergence(net_, cfg_, ex_, run_.init, it, cost, run_.trace[0].cost);
        trace_point point;
        point.iteration = it;
        point.cost = cost;
        point.effective_width = width_;
        run_.trace.push_back(point);
        if (log_ && it < cfg_.print_weights && !net_.W.empty()) {
            *log_ << "run '" << run_.init << "', iteration " << it << " (cost " << std::setprecision(10) << cost
                  << "):\n";
            print_tensor(*log_, net_.W[0].name(), net_.g.value(net_.W[0]));
            if (net_.W.size() > 1) print_tensor(*log_, net_.W[1].name(), net_.g.value(net_.W[1]));
        }
    }

    // The test hook of tests/mpi: SYMCHECK_TEST_FAIL=R:I makes rank R throw at iteration I of data mode, where
    // the other ranks are on their way into a collective sum (the failure rule must end them all, not hang).
    void fail_for_test(std::size_t it) const {
        static const char* hook = std::getenv("SYMCHECK_TEST_FAIL");
        if (!hook || std::to_string(ex_.peers->rank()) + ":" + std::to_string(it) != hook) return;
        throw input_error("test failure (SYMCHECK_TEST_FAIL=" + std::string(hook) + ") on rank " +
                          std::to_string(ex_.peers->rank()));
    }

    const config& cfg_;
    const experiment& ex_;
    mlp& net_;
    const symmetry_options& opts_;
    symmetry_options ends_;  // opts_ with the lookahead
    std::ostream* log_;
    run_result& run_;
    std::optional<std::size_t> width_;  // of the pass in progress, when it was analysed
};

// The trained network's cost and accuracy on the whole training set and on the held-out samples.
void evaluate_run(const experiment& ex, mlp& net, run_result& run) {
    run.on_training = evaluate(net, ex.data.X, ex.data.Y);  // in data mode evaluate() sums over the shards
    if (ex.validation) run.on_validation = evaluate(net, ex.validation->X, ex.validation->Y);
}

// --validation: the held-out samples leave the training data; both keep the file's column order.
void split_validation(const config& cfg, experiment& ex) {
    if (!cfg.validation) return;
    data_split s = hold_out(ex.data.X, ex.data.Y, *cfg.validation, cfg.seed);
    ex.validation = ex.data;
    ex.validation->X = std::move(s.X_validation);
    ex.validation->Y = std::move(s.Y_validation);
    ex.data.X = std::move(s.X_train);
    ex.data.Y = std::move(s.Y_train);
}

// The model graph for --dot. In data mode the network holds a shard; the DOT shows the whole data's shapes,
// as one process would, from a network built for them (never run) on rank 0 alone, which writes it: its
// inputs are whole-data sized, so the other ranks must not allocate them.
std::string graph_dot(const config& cfg, const experiment& ex, const mlp& net) {
    std::ostringstream dot;
    if (!ex.peers || cfg.dot_path.empty() || ex.peers->rank() != 0) {
        net.g.write_dot(dot);
    } else {
        const std::size_t m = ex.samples();
        mlp whole = ex.model ? model_network(*ex.model, m) : build_mlp(ex.spec, m);
        whole.g.retain(whole.output);
        whole.g.write_dot(dot);
    }
    return dot.str();
}

run_result run_one(const config& cfg, experiment& ex, const init_run& init, const symmetry_options& opts,
                   std::ostream* log) {
    mlp net = prepare_network(cfg, ex, init);
    if (ex.dot.empty()) ex.dot = graph_dot(cfg, ex, net);
    const std::vector<node> params = net.g.parameters();
    std::vector<tensor> start;
    for (auto p : params) start.push_back(net.g.value(p));
    auto opt = make_optimizer(cfg.optimizer, cfg.learning_rate);

    run_result run;
    run.init = init.label;
    run.trace.reserve(cfg.iterations + 1);
    train_options training;
    training.iterations = cfg.iterations;
    training.progress = !cfg.quiet;
    training.progress_label = "run '" + init.label + "'";
    training.evaluate_final_state = true;
    run_watcher watcher(cfg, ex, net, opts, *opt, log, run);
    if (cfg.batch_size == 0) {
        train(net.g, net.loss, *opt, training, watcher.hooks());
    } else {
        minibatches batches(ex.data.X, ex.data.Y, {cfg.batch_size, cfg.seed});
        train_minibatches(net.g, net.loss, net.X, net.Y, batches, *opt, training, watcher.hooks());
    }

    run.initial_cost = run.trace.front().cost;
    run.final_cost = run.trace.back().cost;
    for (std::size_t k = 0; k < params.size(); ++k) {
        const tensor& now = net.g.value(params[k]);
        run.moved[params[k].name()] = !std::equal(now.begin(), now.end(), start[k].begin());
    }
    if (cfg.reports_accuracy()) evaluate_run(ex, net, run);
    if (!cfg.save_dir.empty()) run.saved_files = parameter_files(net.g);  // written with the other outputs
    if (ex.model)
        for (auto p : params) run.final_parameters[p.name()] = net.g.value(p);
    return run;
}


// What data mode does not do exactly with several processes: refused in one line (docs/distributed.md).
void refuse_in_data_mode(const config& cfg, const collective& peers) {
    const std::string why = " with " + std::to_string(peers.size()) +
                            " processes sharing the samples (mpirun -np " + std::to_string(peers.size()) +
                            "); run it in one process";
    if (cfg.batch_size != 0) throw input_error("--batch-size: not available" + why);
    if (cfg.validation) throw input_error("--validation: not available" + why);
}

// Data mode: every rank's place in the samples. A CSV file came sharded (each rank its rows, in file order);
// the whole data (Titanic) is cut here: rank r of N keeps columns [m r / N, m (r + 1) / N). Collective.
void share_samples(collective& peers, bool sharded, experiment& ex) {
    const std::size_t n = peers.size(), r = peers.rank();
    ex.peers = &peers;
    if (!sharded) {
        const std::size_t m = ex.data.samples();
        if (m < n)
            throw input_error(ex.data.source + ": " + std::to_string(m) + " samples for " + std::to_string(n) +
                              " processes; every process needs at least one sample (use fewer processes)");
        auto columns = xt::range(m * r / n, m * (r + 1) / n);
        ex.data.X = tensor(xt::view(ex.data.X, xt::all(), columns));
        ex.data.Y = tensor(xt::view(ex.data.Y, xt::all(), columns));
        ex.first_sample = m * r / n;
        ex.all_samples = m;
        return;
    }
    std::vector<std::string> counts = peers.all_gather(std::to_string(ex.data.samples()));
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t rows = std::stoul(counts[k]);
        if (rows == 0)
            throw input_error(ex.data.source + ": rank " + std::to_string(k) + " of " + std::to_string(n) +
                              " holds no rows of the file (too few lines for its byte range); use fewer processes");
        if (k < r) ex.first_sample += rows;
        ex.all_samples += rows;
    }
}

// The report's label counts (per row of Y, the samples whose entry is 1), over every shard in data mode.
void count_labels(experiment& ex) {
    const tensor& Y = ex.data.Y;
    std::vector<double> n(Y.shape()[0], 0.0);
    for (std::size_t c = 0; c < Y.shape()[0]; ++c)
        for (std::size_t j = 0; j < Y.shape()[1]; ++j) n[c] += Y(c, j) == 1.0;
    if (ex.peers) ex.peers->sum(n.data(), n.size());  // whole numbers far below 2^53: exact in any order
    for (double c : n) ex.label_counts.push_back(static_cast<std::size_t>(c));
}

// Runs mode: this rank computes its share of the runs (sweep.hpp), each the single process's run exactly, and
// every rank gets all of them in order. The single process stops at the first failing run in --init order,
// so on failure every rank throws the failure of the smallest failing run over the ranks.
std::vector<run_result> run_shared_out(const config& cfg, experiment& ex, const symmetry_options& opts,
                                       collective& peers) {
    std::vector<run_result> mine;
    std::string failed;  // "run exit-code line" of this rank's first failing run
    for (std::size_t k : runs_of_rank(cfg.inits.size(), peers)) {
        try {
            mine.push_back(run_one(cfg, ex, cfg.inits[k], opts, nullptr));
        } catch (...) {
            failure f = classify(std::current_exception());
            failed = std::to_string(k) + " " + std::to_string(f.exit_code) + " " + f.line;
            break;
        }
    }
    std::size_t first_run = cfg.inits.size();
    failure first;
    for (const auto& e : peers.all_gather(failed)) {
        if (e.empty()) continue;
        std::istringstream in(e);
        std::size_t run = 0;
        int code = 0;
        in >> run >> code;
        if (run >= first_run) continue;
        first_run = run;
        first = {code, e.substr(e.find(' ', e.find(' ') + 1) + 1)};
    }
    if (first_run < cfg.inits.size()) throw agreed_failure(first);
    return gather_runs(std::move(mine), cfg.inits.size(), peers);
}

}  // namespace

std::string save_directory(const config& cfg, const std::string& label) {
    if (cfg.inits.size() <= 1) return cfg.save_dir;
    std::string safe;
    for (char c : label) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
    return cfg.save_dir + "/" + safe;
}

symmetry_verdict experiment::verdict() const {
    symmetry_verdict v = symmetry_verdict::healthy;
    for (const auto& r : runs) v = std::max(v, r.final.verdict);
    return v;
}

experiment run_experiment(const config& cfg, std::ostream* log, collective* peers) {
    experiment ex;
    // Runs mode shares the --init runs out; data mode (one run, or --print-weights, whose tables interleave
    // with training) shares each run's samples.
    const bool runs_mode = peers && cfg.inits.size() > 1 && cfg.print_weights == 0;
    collective* data_peers = runs_mode ? nullptr : peers;
    agree(peers, [&] {
        if (peers && cfg.data == "-")  // mpirun forwards standard input to rank 0 alone
            throw input_error("--data -: standard input reaches only rank 0 under mpirun; give the data as a file");
        if (data_peers) refuse_in_data_mode(cfg, *data_peers);
        ex.data = load_data(cfg, data_peers);  // collective in data mode: every rank reaches it
        if (data_peers) share_samples(*data_peers, cfg.data != "titanic", ex);
        split_validation(cfg, ex);
        ex.spec.outputs = ex.data.Y.shape()[0];  // 1 for two classes (0/1 labels), k for k one-hot rows
        ex.spec.inputs = ex.data.features();
        ex.spec.hidden = cfg.hidden;
        ex.spec.hidden_activation = cfg.hidden_activation;
        if (!cfg.model_path.empty()) attach_model(cfg, ex);  // the file's widths replace --hidden
        check_fits_in_memory(cfg, ex.spec, ex.data.samples());  // this process's samples
        warn_if_fewer_samples_than_parameters(ex);
    });
    count_labels(ex);

    symmetry_options opts;
    opts.exact = cfg.exact;
    if (cfg.tolerance) opts.relative_tolerance = *cfg.tolerance;
    if (runs_mode) {
        ex.runs = run_shared_out(cfg, ex, opts, *peers);
        return ex;
    }
    for (const auto& init : cfg.inits) ex.runs.push_back(run_one(cfg, ex, init, opts, log));
    return ex;
}

}  // namespace symgrad::symcheck
