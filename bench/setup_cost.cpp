// symcheck's own costs (issue 14): its set-up (graph, feed, init, planning, the first pass's extra) and its
// anomaly detection, each next to one steady training iteration, on Titanic with one wide tanh layer.
// Usage: bench_setup_cost [units (2048)] [repeats (21)]. Process CPU time; run with OPENBLAS_NUM_THREADS=1.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "timing.hpp"

using namespace symgrad;

namespace {

struct run {
    mlp net;
    std::unique_ptr<optimizer> opt;
    std::vector<node> params;
};

// symcheck's prepare_network and its first analysed pass: build, feed, anomaly check, retain the output,
// initialise, retain the hidden activation (as analyze_symmetry does), then forward and backward.
std::unique_ptr<run> set_up(const dataset& d, std::size_t units, anomaly_check check) {
    auto r = std::make_unique<run>(run{build_mlp({d.features(), {units}, activation::tanh}, d.samples()),
                                       make_optimizer("gd", 0.01), {}});
    mlp& net = r->net;
    net.g.feed(net.X, d.X);
    net.g.feed(net.Y, d.Y);
    net.g.set_anomaly_check(check);
    net.g.retain(net.output);
    init_plan::parse("glorot").apply(net.g, 1);
    net.g.retain(net.g.find("A1"));
    net.g.forward();
    net.g.backward(net.loss);
    r->params = net.g.parameters();
    return r;
}

void iteration(run& r) {
    r.net.g.forward();
    r.net.g.backward(r.net.loss);
    r.opt->step(r.net.g, r.params);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t units = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2048;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 21;
    const dataset d = titanic();
    std::vector<double> setups;
    for (int k = 0; k < 5; ++k) {
        double start = bench::cpu_seconds();
        set_up(d, units, anomaly_check::results);
        setups.push_back(bench::cpu_seconds() - start);
    }
    // One network, its iterations run with each check in turn, so that the same buffers and the same load
    // from other processes meet all three.
    const std::array<anomaly_check, 3> checks{anomaly_check::off, anomaly_check::results, anomaly_check::every_node};
    std::unique_ptr<run> r = set_up(d, units, anomaly_check::off);
    std::array<std::vector<double>, 3> times;
    for (int k = 0; k < repeats; ++k)
        for (std::size_t c = 0; c < 3; ++c) {
            r->net.g.set_anomaly_check(checks[c]);
            times[c].push_back(bench::median_cpu_seconds(1, [&] { iteration(*r); }));
        }
    const double step = median(times[0]);
    const double setup = median(setups) - step;  // the first pass counts as the first iteration
    std::printf("%zu units, %zu samples: set-up %.2f ms, one iteration %.2f ms: set-up = %.2f iterations\n", units,
                d.samples(), 1e3 * setup, 1e3 * step, setup / step);
    const char* names[] = {"", "results (default)", "every node (--detect-anomaly full)"};
    for (std::size_t c = 1; c < 3; ++c) {
        const double t = median(times[c]);
        std::printf("anomaly check %-36s iteration %.2f ms, %+.1f%% of an unchecked one\n", names[c], 1e3 * t,
                    100.0 * (t - step) / step);
    }
    return 0;
}
