// The training loop: forward, backward, optimiser step, with recorded costs and an optional progress line.
#include "models/optim.hpp"
#include "models/progress.hpp"

namespace symgrad {

std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_callback& callback) {
    std::vector<double> costs;
    costs.reserve(options.iterations);  // the only allocation that scales with the run
    const std::vector<node> params = g.parameters();
    progress_line progress(options.progress, options.iterations);
    for (std::size_t i = 1; i <= options.iterations; ++i) {
        g.set_step(long(i));
        g.forward();
        g.backward(loss);
        double cost = g.value(loss)(0, 0);
        costs.push_back(cost);
        opt.step(g, params);
        progress.update(i, cost);
        if (callback && !callback(i, cost)) break;
    }
    if (!costs.empty()) progress.finish(costs.size(), costs.back());
    return costs;
}

}  // namespace symgrad
