// Analysis cost next to training (issue 10): one training iteration, one analysis without lookahead, and the
// lookahead, on Titanic with one wide tanh layer (default 2,000 units), process CPU time, median of repeats.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "analysis/symmetry.hpp"
#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "timing.hpp"

using namespace symgrad;

int main(int argc, char** argv) {
    std::size_t units = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
    std::size_t lookahead = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 300;
    dataset d = titanic();
    for (const char* init : {"glorot", "constant:0.5"}) {
        mlp net = build_mlp({d.features(), {units}, activation::tanh}, d.samples());
        net.g.feed(net.X, d.X);
        net.g.feed(net.Y, d.Y);
        init_plan::parse(init).apply(net.g, 1);
        auto opt = make_optimizer("adam", 0.01);
        const auto params = net.g.parameters();
        double step = bench::median_cpu_seconds(11, [&] {
            net.g.forward();
            net.g.backward(net.loss);
            opt->step(net.g, params);
        });
        double analysis = bench::median_cpu_seconds(5, [&] { analyze_symmetry(net.g, net.loss); });
        symmetry_options ahead;
        ahead.lookahead_optimizer = opt.get();
        ahead.lookahead_steps = lookahead;
        double with_lookahead = bench::median_cpu_seconds(1, [&] { analyze_symmetry(net.g, net.loss, ahead); });
        std::printf("%-13s %zu units: training iteration %.2f ms, analysis %.2f ms (%.2f iterations), "
                    "analysis with a %zu-step lookahead %.0f ms (%.1f iterations)\n",
                    init, units, 1e3 * step, 1e3 * analysis, analysis / step, lookahead, 1e3 * with_lookahead,
                    with_lookahead / step);
    }
    return 0;
}
