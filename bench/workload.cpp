// bench_workload: the issue-5 training workload on the engine, on the old hand-written baseline (which
// calls the engine's own kernels) and on the independent reference (bench/reference_mlp, no engine code).
//
// Each (size, threads, variant, repetition) runs in its own child process (this binary re-executed with
// --child), so that the peak resident memory (VmHWM) of one variant cannot include another's buffers.
// The variants run interleaved, repetition by repetition; the parent collects the children's one-line
// JSON reports and prints the medians of the repetitions' mean CPU and wall times per iteration.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <sched.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#ifdef SYMGRAD_BENCH_LIBTORCH
#include <torch/torch.h>
#endif

#include "engine/graph.hpp"
#include "engine/text.hpp"
#include "models/optim.hpp"
#include "ops/kernels.hpp"
#include "ops/ops.hpp"
#include "reference_mlp.hpp"
#include "timing.hpp"

// --- heap allocation counter ------------------------------------------------------------------------
// malloc and friends are replaced in this executable, so every allocation (operator new goes through
// malloc, and so does OpenBLAS) is counted. Sanitizer builds keep their own allocator.
namespace {
std::atomic<unsigned long> heap_allocations{0};
void count_allocation() { heap_allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

#if !defined(__SANITIZE_ADDRESS__) && !defined(SYMGRAD_BENCH_NO_MALLOC_HOOK)
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
    count_allocation();
    return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
    count_allocation();
    return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
    count_allocation();
    return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
    count_allocation();
    return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    count_allocation();
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    count_allocation();
    void* p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void* p) { __libc_free(p); }
}
#endif

namespace {

using clock_type = std::chrono::steady_clock;
using symgrad::bench::cpu_seconds;

struct size_spec {
    std::string label;
    std::size_t inputs, hidden, samples;
};

const std::vector<size_spec> all_sizes = {{"S", 7, 4, 891}, {"M", 64, 256, 10000}, {"L", 784, 1024, 8192}};
constexpr double learning_rate = 0.1;
constexpr unsigned long data_seed = 20240501;

// The data and initial parameters, identical for both variants (same seed, same binary).
struct problem {
    std::size_t n, h, m;
    symgrad::tensor X, Y, W1, b1, W2, b2;
};

symgrad::tensor random_normal(std::mt19937_64& rng, std::size_t rows, std::size_t cols, double scale) {
    std::normal_distribution<double> normal(0.0, 1.0);
    symgrad::tensor t = symgrad::tensor::from_shape({rows, cols});
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = scale * normal(rng);
    return t;
}

problem make_problem(const size_spec& s) {
    std::mt19937_64 rng(data_seed);
    problem p{s.inputs, s.hidden, s.samples, {}, {}, {}, {}, {}, {}};
    p.X = random_normal(rng, p.n, p.m, 1.0);
    // Labels from a random linear rule, so the network has something to learn.
    symgrad::tensor rule = random_normal(rng, 1, p.n, 1.0);
    p.Y = symgrad::tensor::from_shape({1, p.m});
    for (std::size_t j = 0; j < p.m; ++j) {
        double s_j = 0.0;
        for (std::size_t i = 0; i < p.n; ++i) s_j += rule(0, i) * p.X(i, j);
        p.Y(0, j) = s_j > 0.0 ? 1.0 : 0.0;
    }
    // Scaled so tanh is not saturated at any size (Glorot-like 1/sqrt(fan_in)).
    p.W1 = random_normal(rng, p.h, p.n, 1.0 / std::sqrt(double(p.n)));
    p.b1 = symgrad::tensor::from_shape({p.h, 1});
    p.b1.fill(0.0);
    p.W2 = random_normal(rng, 1, p.h, 1.0 / std::sqrt(double(p.h)));
    p.b2 = symgrad::tensor::from_shape({1, 1});
    p.b2.fill(0.0);
    return p;
}

// --- (a) the engine ---------------------------------------------------------------------------------
class engine_variant {
public:
    // Takes the problem's X and Y (moved into the graph: a user holds one copy of the data, not two).
    explicit engine_variant(problem& p) {
        using namespace symgrad;
        auto X = g_.input("X", {p.n, p.m});
        auto Y = g_.input("Y", {1, p.m});
        auto W1 = g_.parameter("W1", {p.h, p.n});
        auto b1 = g_.parameter("b1", {p.h, 1});
        auto W2 = g_.parameter("W2", {1, p.h});
        auto b2 = g_.parameter("b2", {1, 1});
        auto A1 = symgrad::tanh(matmul(W1, X) + b1);
        auto A2 = sigmoid(matmul(W2, A1) + b2);
        loss_ = bce(A2, Y, "J");
        g_.feed(X, std::move(p.X));
        g_.feed(Y, std::move(p.Y));
        g_.value(W1) = p.W1;
        g_.value(b1) = p.b1;
        g_.value(W2) = p.W2;
        g_.value(b2) = p.b2;
        params_ = g_.parameters();
    }
    // One gradient-descent iteration (models' gd, as a user of the library would train); returns the cost
    // of its forward pass.
    double step() {
        g_.forward();
        double cost = g_.value(loss_)(0, 0);
        g_.backward(loss_);
        gd_->step(g_, params_);
        return cost;
    }

private:
    symgrad::graph g_;
    symgrad::node loss_;
    std::vector<symgrad::node> params_;
    std::unique_ptr<symgrad::optimizer> gd_ = symgrad::make_gradient_descent(learning_rate);
};

// --- (b) the old hand-written baseline (it shares the engine's tanh/sigmoid kernels) -----------------
// The article's formulas on buffers allocated once:
//   Z1 = W1 X + b1, A1 = tanh Z1, Z2 = W2 A1 + b2, A2 = sigmoid Z2, J = -mean(Y log A2 + (1-Y) log(1-A2))
//   dZ2 = (A2 - Y)/m, dW2 = dZ2 A1', db2 = sum dZ2, dZ1 = W2' dZ2 * (1 - A1^2), dW1 = dZ1 X', db1 = rowsum dZ1
// with cblas_dgemm straight on the buffers, the update folded into the weight-gradient dgemm
// (W += -lr dZ A' with beta = 1, so no dW buffers), bias+activation and derivative+row-sum fused,
// and the engine's vectorized tanh/sigmoid kernels applied per row while the row is in cache.
class baseline_variant {
public:
    explicit baseline_variant(const problem& p)
        : n_(p.n), h_(p.h), m_(p.m), X_(p.X.data(), p.X.data() + p.X.size()),
          Y_(p.Y.data(), p.Y.data() + p.Y.size()), W1_(p.W1.data(), p.W1.data() + p.W1.size()),
          b1_(p.b1.data(), p.b1.data() + p.b1.size()), W2_(p.W2.data(), p.W2.data() + p.W2.size()),
          b2_(p.b2(0, 0)), A1_(h_ * m_), dZ1_(h_ * m_), A2_(m_), dZ2_(m_) {}

    double step() {
        const int n = int(n_), h = int(h_), m = int(m_);
        const double inv_m = 1.0 / double(m_);
        // Forward.
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h, m, n, 1.0, W1_.data(), n, X_.data(), m, 0.0,
                    A1_.data(), m);
        for (std::size_t i = 0; i < h_; ++i) {
            double* row = A1_.data() + i * m_;
            for (std::size_t j = 0; j < m_; ++j) row[j] += b1_[i];
            symgrad::kernels::tanh(row, row, m_);
        }
        cblas_dgemv(CblasRowMajor, CblasTrans, h, m, 1.0, A1_.data(), m, W2_.data(), 1, 0.0, A2_.data(), 1);
        for (std::size_t j = 0; j < m_; ++j) A2_[j] += b2_;
        symgrad::kernels::sigmoid(A2_.data(), A2_.data(), m_);
        // Cost with the same clamp as the engine's bce; labels are 0/1, so one log per sample.
        double s = 0.0;
        for (std::size_t j = 0; j < m_; ++j) {
            double q = std::clamp(A2_[j], symgrad::bce_clamp, 1.0 - symgrad::bce_clamp);
            s += Y_[j] != 0.0 ? std::log(q) : std::log1p(-q);
        }
        const double cost = -s * inv_m;
        // Backward, with the update folded in.
        double db2 = 0.0;
        for (std::size_t j = 0; j < m_; ++j) {
            dZ2_[j] = (A2_[j] - Y_[j]) * inv_m;
            db2 += dZ2_[j];
        }
        // dZ1 = W2' dZ2 (outer product, old W2), then W2 -= lr dZ2 A1'.
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, m, 1, 1.0, W2_.data(), h, dZ2_.data(), m, 0.0,
                    dZ1_.data(), m);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, h, m, -learning_rate, A1_.data(), m, dZ2_.data(), 1, 1.0,
                    W2_.data(), 1);
        b2_ -= learning_rate * db2;
        for (std::size_t i = 0; i < h_; ++i) {
            double* d = dZ1_.data() + i * m_;
            const double* a = A1_.data() + i * m_;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;  // independent partial sums pipeline
            std::size_t j = 0;
            for (; j + 4 <= m_; j += 4) {
                s0 += d[j] *= 1.0 - a[j] * a[j];
                s1 += d[j + 1] *= 1.0 - a[j + 1] * a[j + 1];
                s2 += d[j + 2] *= 1.0 - a[j + 2] * a[j + 2];
                s3 += d[j + 3] *= 1.0 - a[j + 3] * a[j + 3];
            }
            for (; j < m_; ++j) s0 += d[j] *= 1.0 - a[j] * a[j];
            b1_[i] -= learning_rate * ((s0 + s1) + (s2 + s3));
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h, n, m, -learning_rate, dZ1_.data(), m, X_.data(), m,
                    1.0, W1_.data(), n);
        return cost;
    }

private:
    std::size_t n_, h_, m_;
    std::vector<double> X_, Y_, W1_, b1_, W2_;
    double b2_;
    std::vector<double> A1_, dZ1_, A2_, dZ2_;
};

// --- (c) the independent reference: bench/reference_mlp, which shares no code with the engine ------------
class reference_variant {
public:
    explicit reference_variant(const problem& p)
        : net_(p.n, p.h, p.m, p.X.data(), p.Y.data(), p.W1.data(), p.b1.data(), p.W2.data(), p.b2(0, 0),
               learning_rate) {}
    double step() { return net_.step(); }

private:
    symgrad::bench::reference::mlp net_;
};

#ifdef SYMGRAD_BENCH_LIBTORCH
// --- (d) LibTorch autograd, eager (optional: -DSYMGRAD_BENCH_LIBTORCH=ON with Debian's libtorch-dev) --------
// The same network and update written as a LibTorch user would: float64 tensors, autograd, an in-place
// update under NoGradGuard and grad().zero_() as optimizer.zero_grad() did in 1.13.
class libtorch_variant {
public:
    explicit libtorch_variant(const problem& p)
        : X_(from(p.X)), Y_(from(p.Y)), W1_(from(p.W1).requires_grad_()), b1_(from(p.b1).requires_grad_()),
          W2_(from(p.W2).requires_grad_()), b2_(from(p.b2).requires_grad_()) {}
    double step() {
        auto A1 = torch::tanh(torch::mm(W1_, X_) + b1_);
        auto A2 = torch::sigmoid(torch::mm(W2_, A1) + b2_);
        auto J = torch::binary_cross_entropy(A2, Y_);
        double cost = J.item<double>();
        J.backward();
        torch::NoGradGuard no_grad;
        for (torch::Tensor* w : {&W1_, &b1_, &W2_, &b2_}) {
            w->sub_(w->grad(), learning_rate);
            w->mutable_grad().zero_();
        }
        return cost;
    }

private:
    static torch::Tensor from(const symgrad::tensor& t) {
        return torch::from_blob(const_cast<double*>(t.data()), {long(t.shape()[0]), long(t.shape()[1])},
                                torch::kFloat64)
            .clone();
    }
    torch::Tensor X_, Y_, W1_, b1_, W2_, b2_;
};
#endif

// --- child: one variant at one size and thread count -------------------------------------------------
long peak_resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

template <class Variant>
nlohmann::json run_variant(problem& p, int iterations) {
    Variant v(p);
    std::vector<double> seconds(std::size_t(iterations), 0.0);
    double first_cost = v.step();  // warm-up: first touches of every buffer, BLAS thread start
    double last_cost = first_cost;
    unsigned long allocations_before = heap_allocations.load(std::memory_order_relaxed);
    double cpu_before = cpu_seconds();
    auto start = clock_type::now();
    for (int it = 0; it < iterations; ++it) {
        auto t0 = clock_type::now();
        last_cost = v.step();
        seconds[std::size_t(it)] = std::chrono::duration<double>(clock_type::now() - t0).count();
    }
    double wall = std::chrono::duration<double>(clock_type::now() - start).count();
    double cpu = cpu_seconds() - cpu_before;
    unsigned long allocations = heap_allocations.load(std::memory_order_relaxed) - allocations_before;
    // This repetition's means (they keep the iterations a preemption slowed down) and, for the record
    // only, the median single iteration (which drops them).
    return {{"wall_seconds_per_iteration", wall / iterations},
            // Process CPU time (all threads): at 1 thread, the time a busy machine's scheduler did not take.
            {"cpu_seconds_per_iteration", cpu / iterations},
            {"median_single_iteration_seconds", symgrad::bench::median(seconds)},
            {"allocations_per_iteration", double(allocations) / iterations},
            {"peak_kib", peak_resident_kib()},
            {"first_cost", first_cost},
            {"last_cost", last_cost}};
}

// Pins this process to one CPU (a 1-thread run then cannot migrate between cores mid-iteration).
bool pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

int child_main(const std::string& variant, const std::string& size_label, int threads, int iterations, int cpu) {
    openblas_set_num_threads(threads);
    bool pinned = threads == 1 && cpu >= 0 && pin_to_cpu(cpu);
    auto it = std::find_if(all_sizes.begin(), all_sizes.end(), [&](const size_spec& s) { return s.label == size_label; });
    if (it == all_sizes.end()) return 2;
    problem p = make_problem(*it);
    nlohmann::json r;
    if (variant == "engine")
        r = run_variant<engine_variant>(p, iterations);
    else if (variant == "baseline")
        r = run_variant<baseline_variant>(p, iterations);
    else if (variant == "reference")
        r = run_variant<reference_variant>(p, iterations);
#ifdef SYMGRAD_BENCH_LIBTORCH
    else if (variant == "libtorch") {
        torch::set_num_threads(threads);
        r = run_variant<libtorch_variant>(p, iterations);
    }
#endif
    else
        return 2;
    r["pinned_cpu"] = pinned ? cpu : -1;
    std::cout << r.dump() << std::endl;
    return 0;
}

// --- parent ---------------------------------------------------------------------------------------------
// The non-empty items of a comma list ("S,M,L").
std::vector<std::string> list_items(const std::string& s) {
    std::vector<std::string> items;
    for (auto& item : symgrad::split(s, ','))
        if (!item.empty()) items.push_back(item);
    return items;
}

struct bench_args {
    std::string sizes = "S,M,L", threads = "1,2", json_path, child;
    int iterations = 10, repeat = 5, cpu = -1;
};

// OpenBLAS reads OPENBLAS_NUM_THREADS when it loads, so the child starts no more BLAS threads than asked.
nlohmann::json run_child(const std::string& self, const std::string& variant, const std::string& size, int threads,
                         const bench_args& args) {
    std::string cmd = "OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " '" + self + "' --child " + variant +
                      " --sizes " + size + " --threads " + std::to_string(threads) + " --iterations " +
                      std::to_string(args.iterations) + " --cpu " + std::to_string(args.cpu);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) throw std::runtime_error("bench_workload: cannot start " + cmd);
    std::string out;
    char buf[4096];
    while (std::size_t got = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, got);
    if (pclose(pipe) != 0 || out.empty()) throw std::runtime_error("bench_workload: child failed: " + cmd);
    return nlohmann::json::parse(out);
}

// Relative cost difference allowed between the variants: they do the same arithmetic up to the
// order of floating-point operations (BLAS blocking, fused loops, the bce gradient's algebraic form) and
// their own tanh/sigmoid/log (a few ulp), which moves the cost by ~1e-15 relative per iteration; 1e-9
// catches any real difference in the work.
constexpr double cost_tolerance = 1e-9;

#ifdef SYMGRAD_BENCH_LIBTORCH
constexpr bool with_libtorch = true;
#else
constexpr bool with_libtorch = false;
#endif

// The highest CPU this process may run on: the children of a 1-thread run are all pinned to it.
int default_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    for (int c = CPU_SETSIZE - 1; c >= 0; --c)
        if (CPU_ISSET(c, &set)) return c;
    return -1;
}

// Parses the command line into `args`; returns an exit status when the program should stop (help, error).
std::optional<int> parse_args(int argc, char** argv, bench_args& args) {
    namespace po = boost::program_options;
    po::options_description opts("bench_workload: the engine against an independent hand-written reference on the "
                                 "2-layer tanh/sigmoid workload");
    opts.add_options()("help", "this message")("sizes", po::value(&args.sizes), "comma list of S, M, L")(
        "iterations", po::value(&args.iterations), "timed iterations per repetition (after one warm-up)")(
        "threads", po::value(&args.threads), "comma list of OpenBLAS thread counts")(
        "repeat", po::value(&args.repeat),
        "repetitions per configuration, every variant once per repetition; the table shows medians of their means")(
        "cpu", po::value(&args.cpu), "CPU to pin 1-thread runs to (default: the last one this process may use)")(
        "json", po::value(&args.json_path), "also write the results as JSON to this file")(
        "child", po::value(&args.child), "internal: run one variant and print its JSON report");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "bench_workload: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << opts << "\n";
        return 0;
    }
    if (args.iterations < 1 || args.repeat < 1) {
        std::cerr << "bench_workload: --iterations and --repeat must be at least 1\n";
        return 2;
    }
    if (args.child.empty() && !vm.count("cpu")) args.cpu = default_cpu();
    return std::nullopt;
}

// Largest relative difference of the first and last costs of two runs; NaN if either is NaN.
double cost_difference(const nlohmann::json& x, const nlohmann::json& y) {
    double diff = 0.0;
    for (const char* key : {"first_cost", "last_cost"}) {
        double a = x[key].get<double>(), b = y[key].get<double>();
        double d = std::abs(a - b) / std::max(std::abs(b), 1e-300);
        if (!(d <= diff)) diff = d;
    }
    return diff;
}

std::vector<std::string> variant_names() {
    std::vector<std::string> names = {"engine", "baseline", "reference"};
    if (with_libtorch) names.push_back("libtorch");
    return names;
}

// One variant's repetitions summarised: medians of the repetition means, and the largest of the rest.
nlohmann::json summarize(const std::vector<nlohmann::json>& runs) {
    auto values = [&](const char* key) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r[key].get<double>());
        return v;
    };
    auto cpu = values("cpu_seconds_per_iteration"), wall = values("wall_seconds_per_iteration");
    auto allocations = values("allocations_per_iteration"), peak = values("peak_kib");
    return {{"cpu_seconds", symgrad::bench::median(cpu)},
            {"wall_seconds", symgrad::bench::median(wall)},
            {"allocations_per_iteration", *std::max_element(allocations.begin(), allocations.end())},
            {"peak_mib", *std::max_element(peak.begin(), peak.end()) / 1024.0},
            {"runs", runs}};
}

void print_header() {
    std::cout << "size thr | cpu ms/it: engine  baseline reference" << (with_libtorch ? "  libtorch" : "")
              << " | wall ms/it: engine  baseline reference" << (with_libtorch ? "  libtorch" : "")
              << " | e/ref cpu wall | e/base cpu wall" << (with_libtorch ? " | e/torch cpu wall" : "")
              << " | allocs/it e,b,r | peak MiB e,b,r | peak e/r | cost diff\n";
}

void print_row(const std::string& size, int threads, const nlohmann::json& v, double diff) {
    auto names = variant_names();
    auto ms = [&](const std::string& name, const char* key) { return 1e3 * v[name][key].get<double>(); };
    auto ratio = [&](const std::string& a, const std::string& b, const char* key) {
        return v[a][key].get<double>() / v[b][key].get<double>();
    };
    std::cout << std::setw(4) << size << std::setw(4) << threads << " |" << std::fixed << std::setprecision(3);
    for (const char* key : {"cpu_seconds", "wall_seconds"}) {
        std::cout << std::setw(key[0] == 'c' ? 17 : 18) << ms("engine", key);
        for (std::size_t k = 1; k < names.size(); ++k) std::cout << std::setw(10) << ms(names[k], key);
        std::cout << " |";
    }
    for (const char* other : {"reference", "baseline", "libtorch"}) {
        if (!v.contains(other)) continue;
        std::cout << std::setw(std::string(other) == "baseline" ? 11 : 10) << ratio("engine", other, "cpu_seconds")
                  << std::setw(6) << ratio("engine", other, "wall_seconds") << " |";
    }
    std::cout << std::setprecision(1) << std::setw(7) << v["engine"]["allocations_per_iteration"].get<double>() << ","
              << v["baseline"]["allocations_per_iteration"].get<double>() << ","
              << v["reference"]["allocations_per_iteration"].get<double>() << std::setw(9)
              << v["engine"]["peak_mib"].get<double>() << "," << v["baseline"]["peak_mib"].get<double>() << ","
              << v["reference"]["peak_mib"].get<double>() << std::setprecision(3) << std::setw(8)
              << ratio("engine", "reference", "peak_mib") << std::scientific << std::setprecision(1) << std::setw(10)
              << diff << std::defaultfloat << "\n";
    std::cout.flush();
}

// One (size, threads) configuration: `repeat` repetitions, each running every variant once (the starting
// variant rotates, so no variant always follows the same one). Every run's costs are checked against the
// reference's of the same repetition; clears costs_agree when one differs.
nlohmann::json run_configuration(const std::string& self, const bench_args& args, const std::string& size,
                                 int threads, bool& costs_agree) {
    auto names = variant_names();
    const std::size_t reference = std::size_t(std::find(names.begin(), names.end(), "reference") - names.begin());
    std::vector<std::vector<nlohmann::json>> runs(names.size());
    double diff = 0.0;
    for (int r = 0; r < args.repeat; ++r) {
        for (std::size_t k = 0; k < names.size(); ++k) {
            std::size_t v = (k + std::size_t(r)) % names.size();
            runs[v].push_back(run_child(self, names[v], size, threads, args));
        }
        for (std::size_t v = 0; v < names.size(); ++v) {
            double d = cost_difference(runs[v].back(), runs[reference].back());
            if (!(d <= diff)) diff = d;
        }
    }
    if (!(diff <= cost_tolerance)) costs_agree = false;
    nlohmann::json result = {{"size", size},
                             {"threads", threads},
                             {"iterations", args.iterations},
                             {"repeat", args.repeat},
                             {"cost_relative_difference", diff}};
    for (std::size_t v = 0; v < names.size(); ++v) result[names[v]] = summarize(runs[v]);
    print_row(size, threads, result, diff);
    return result;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

}  // namespace

int main(int argc, char** argv) {
    bench_args args;
    if (auto status = parse_args(argc, argv, args)) return *status;
    if (!args.child.empty())
        return child_main(args.child, args.sizes, std::stoi(args.threads), args.iterations, args.cpu);

    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        std::cerr << "bench_workload: cannot find its own executable\n";
        return 1;
    }
    self[len] = '\0';

    nlohmann::json results = nlohmann::json::array();
    bool costs_agree = true;
    std::cout << "engine and baseline elementwise kernels: " << symgrad::kernels::instruction_set()
              << "; 1-thread runs pinned to CPU " << args.cpu << "; load average " << load_average() << "\n"
              << "times: median over " << args.repeat << " repetitions of each repetition's mean over "
              << args.iterations << " iterations\n";
    print_header();
    for (const auto& size : list_items(args.sizes))
        for (const auto& t : list_items(args.threads))
            results.push_back(run_configuration(self, args, size, std::stoi(t), costs_agree));
    std::cout << "load average at the end " << load_average() << "\n";
    if (!args.json_path.empty()) std::ofstream(args.json_path) << results.dump(2) << "\n";
    if (!costs_agree) {
        std::cerr << "bench_workload: the variants computed different costs (relative difference > "
                  << cost_tolerance << "); the comparison is invalid\n";
        return 1;
    }
    return 0;
}
