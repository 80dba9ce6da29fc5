// bench_workload: the issue-5 training workload on the engine and on a hand-written C++ baseline.
//
// Each (size, threads, variant) runs in its own child process (this binary re-executed with --child),
// so that the peak resident memory (VmHWM) of one variant cannot include the other's buffers. The
// parent collects the children's one-line JSON reports and prints the table.
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
    explicit engine_variant(const problem& p) {
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
        g_.feed(X, p.X);
        g_.feed(Y, p.Y);
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

// --- (b) the hand-written baseline ------------------------------------------------------------------
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

#ifdef SYMGRAD_BENCH_LIBTORCH
// --- (c) LibTorch autograd, eager (optional: -DSYMGRAD_BENCH_LIBTORCH=ON with Debian's libtorch-dev) --------
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
nlohmann::json run_variant(const problem& p, int iterations) {
    Variant v(p);
    std::vector<double> seconds(std::size_t(iterations), 0.0);
    double first_cost = v.step();  // warm-up: first touches of every buffer, BLAS thread start
    double last_cost = first_cost;
    unsigned long allocations_before = heap_allocations.load(std::memory_order_relaxed);
    double cpu_before = cpu_seconds();
    for (int it = 0; it < iterations; ++it) {
        auto t0 = clock_type::now();
        last_cost = v.step();
        seconds[std::size_t(it)] = std::chrono::duration<double>(clock_type::now() - t0).count();
    }
    double cpu = cpu_seconds() - cpu_before;
    unsigned long allocations = heap_allocations.load(std::memory_order_relaxed) - allocations_before;
    std::vector<double> sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    std::size_t k = sorted.size();
    double median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
    return {{"median_seconds", median},
            {"min_seconds", sorted.front()},
            // Process CPU time (all threads): at 1 thread, the time a busy machine's scheduler did not take.
            {"cpu_seconds_per_iteration", cpu / iterations},
            {"allocations_per_iteration", double(allocations) / iterations},
            {"peak_kib", peak_resident_kib()},
            {"first_cost", first_cost},
            {"last_cost", last_cost}};
}

int child_main(const std::string& variant, const std::string& size_label, int threads, int iterations) {
    openblas_set_num_threads(threads);
    auto it = std::find_if(all_sizes.begin(), all_sizes.end(), [&](const size_spec& s) { return s.label == size_label; });
    if (it == all_sizes.end()) return 2;
    problem p = make_problem(*it);
    nlohmann::json r;
    if (variant == "engine")
        r = run_variant<engine_variant>(p, iterations);
    else if (variant == "baseline")
        r = run_variant<baseline_variant>(p, iterations);
#ifdef SYMGRAD_BENCH_LIBTORCH
    else if (variant == "libtorch") {
        torch::set_num_threads(threads);
        r = run_variant<libtorch_variant>(p, iterations);
    }
#endif
    else
        return 2;
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

nlohmann::json run_child(const std::string& self, const std::string& variant, const std::string& size, int threads,
                         int iterations) {
    std::string cmd = "'" + self + "' --child " + variant + " --sizes " + size + " --threads " +
                      std::to_string(threads) + " --iterations " + std::to_string(iterations);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) throw std::runtime_error("bench_workload: cannot start " + cmd);
    std::string out;
    char buf[4096];
    while (std::size_t got = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, got);
    if (pclose(pipe) != 0 || out.empty()) throw std::runtime_error("bench_workload: child failed: " + cmd);
    return nlohmann::json::parse(out);
}

struct bench_args {
    std::string sizes = "S,M,L", threads = "1,2", json_path, child;
    int iterations = 10, repeat = 1;
};

// Relative cost difference allowed between the variants: they do the same arithmetic up to the
// order of floating-point operations (BLAS blocking, the bce gradient's algebraic form), which moves
// the cost by ~1e-15 relative per iteration; 1e-9 catches any real difference in the work.
constexpr double cost_tolerance = 1e-9;

#ifdef SYMGRAD_BENCH_LIBTORCH
constexpr bool with_libtorch = true;
#else
constexpr bool with_libtorch = false;
#endif

// Parses the command line into `args`; returns an exit status when the program should stop (help, error).
std::optional<int> parse_args(int argc, char** argv, bench_args& args) {
    namespace po = boost::program_options;
    po::options_description opts("bench_workload: engine vs hand-written C++ on the 2-layer tanh/sigmoid workload");
    opts.add_options()("help", "this message")("sizes", po::value(&args.sizes), "comma list of S, M, L")(
        "iterations", po::value(&args.iterations), "timed iterations per run (after one warm-up)")(
        "threads", po::value(&args.threads), "comma list of OpenBLAS thread counts")(
        "repeat", po::value(&args.repeat), "engine/baseline pairs per configuration; the table shows the median")(
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

void print_row(const std::string& size, int threads, const nlohmann::json& e, const nlohmann::json& b, double ratio,
               double diff) {
    double pe = e["peak_kib"].get<double>() / 1024.0, pb = b["peak_kib"].get<double>() / 1024.0;
    std::cout << std::setw(4) << size << std::setw(8) << threads << std::fixed << std::setprecision(3)
              << std::setw(12) << 1e3 * e["median_seconds"].get<double>() << std::setw(12)
              << 1e3 * b["median_seconds"].get<double>() << std::setprecision(3) << std::setw(7)
              << ratio << std::setprecision(1) << std::setw(9)
              << e["allocations_per_iteration"].get<double>() << "," << std::left << std::setw(6)
              << b["allocations_per_iteration"].get<double>() << std::right << std::setw(9) << pe << ","
              << std::left << std::setw(7) << pb << std::right << std::setprecision(3) << std::setw(9)
              << pe / pb << std::scientific << std::setprecision(1) << std::setw(13) << diff
              << std::fixed << std::setprecision(3) << std::setw(11)
              << e["cpu_seconds_per_iteration"].get<double>() / b["cpu_seconds_per_iteration"].get<double>()
              << std::defaultfloat;
}

void print_libtorch_columns(const nlohmann::json& lt, const nlohmann::json& b) {
    std::cout << std::fixed << std::setprecision(3) << std::setw(13) << 1e3 * lt["median_seconds"].get<double>()
              << std::setw(18) << lt["median_seconds"].get<double>() / b["median_seconds"].get<double>()
              << std::setprecision(1) << std::setw(14) << lt["allocations_per_iteration"].get<double>()
              << std::setw(12) << lt["peak_kib"].get<double>() / 1024.0 << std::defaultfloat;
}

// One (size, threads) configuration: `repeat` engine/baseline pairs, the median pair's row printed, and
// LibTorch once when built with it. Clears costs_agree when a variant computed a different cost.
nlohmann::json run_configuration(const std::string& self, const bench_args& args, const std::string& size,
                                 int threads, bool& costs_agree) {
    std::vector<nlohmann::json> engine_runs, baseline_runs;
    std::vector<double> ratios;
    for (int r = 0; r < args.repeat; ++r) {
        engine_runs.push_back(run_child(self, "engine", size, threads, args.iterations));
        baseline_runs.push_back(run_child(self, "baseline", size, threads, args.iterations));
        ratios.push_back(engine_runs.back()["median_seconds"].get<double>() /
                         baseline_runs.back()["median_seconds"].get<double>());
    }
    // Report the pair whose ratio is the median one.
    std::vector<std::size_t> idx(ratios.size());
    for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = k;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return ratios[a] < ratios[b]; });
    std::size_t pick = idx[idx.size() / 2];
    const auto& e = engine_runs[pick];
    const auto& b = baseline_runs[pick];
    double diff = cost_difference(e, b);
    if (!(diff <= cost_tolerance)) costs_agree = false;
    print_row(size, threads, e, b, ratios[pick], diff);
    nlohmann::json lt;
    if (with_libtorch) {
        // Once per configuration, after the pairs: a third variant in the same run, same data.
        lt = run_child(self, "libtorch", size, threads, args.iterations);
        if (!(cost_difference(lt, b) <= cost_tolerance)) costs_agree = false;
        print_libtorch_columns(lt, b);
    }
    std::cout << "\n";
    std::cout.flush();
    return {{"size", size},          {"threads", threads},  {"iterations", args.iterations},
            {"ratio", ratios[pick]}, {"all_ratios", ratios}, {"cost_relative_difference", diff},
            {"engine", e},           {"baseline", b},        {"libtorch", lt}};
}

}  // namespace

int main(int argc, char** argv) {
    bench_args args;
    if (auto status = parse_args(argc, argv, args)) return *status;
    if (!args.child.empty()) return child_main(args.child, args.sizes, std::stoi(args.threads), args.iterations);

    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        std::cerr << "bench_workload: cannot find its own executable\n";
        return 1;
    }
    self[len] = '\0';

    nlohmann::json results = nlohmann::json::array();
    bool costs_agree = true;
    std::cout << "elementwise kernels: " << symgrad::kernels::instruction_set() << " (both variants)\n";
    std::cout << "size threads   engine_ms baseline_ms  ratio  allocs/it(e,b)  peak_MiB(e,b)  peak_ratio  cost_rel_diff  cpu_ratio"
              << (with_libtorch ? "  libtorch_ms libtorch/baseline allocs/it(t) peak_MiB(t)" : "") << "\n";
    for (const auto& size : list_items(args.sizes))
        for (const auto& t : list_items(args.threads))
            results.push_back(run_configuration(self, args, size, std::stoi(t), costs_agree));
    if (!args.json_path.empty()) std::ofstream(args.json_path) << results.dump(2) << "\n";
    if (!costs_agree) {
        std::cerr << "bench_workload: the engine and the baseline computed different costs (relative difference > "
                  << cost_tolerance << "); the comparison is invalid\n";
        return 1;
    }
    return 0;
}
