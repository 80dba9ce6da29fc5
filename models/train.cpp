// The training loop: forward, backward, optimiser step, with recorded costs and an optional progress line.
#include "models/batches.hpp"
#include "models/optim.hpp"
#include "models/progress.hpp"

namespace symgrad {

std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_hooks& hooks) {
    const std::size_t first = options.evaluate_final_state ? 0 : 1;
    const std::size_t passes = options.iterations + 1 - first;
    std::vector<double> costs;
    costs.reserve(passes);  // the only allocation that scales with the run
    const std::vector<node> params = g.parameters();
    progress_line progress(options.progress, options.iterations, options.progress_label);
    for (std::size_t k = 0; k < passes; ++k) {
        const std::size_t pass = first + k;
        g.set_step(long(pass));
        if (hooks.before_pass) hooks.before_pass(pass);
        if (hooks.forward_backward) {
            hooks.forward_backward(pass);
        } else {
            g.forward();
            g.backward(loss);
        }
        double cost = g.value(loss)(0, 0);
        costs.push_back(cost);
        if (hooks.before_update) hooks.before_update(pass, cost);
        if (k < options.iterations) opt.step(g, params);
        progress.update(pass, cost);
        if (hooks.after_update && !hooks.after_update(pass, cost)) break;
    }
    if (!costs.empty()) progress.finish(first + costs.size() - 1, costs.back());
    return costs;
}

std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_callback& callback) {
    train_hooks hooks;
    hooks.after_update = callback;
    return train(g, loss, opt, options, hooks);
}

std::vector<double> train_minibatches(graph& g, node loss, node x, node y, minibatches& batches, optimizer& opt,
                                      const train_options& options, const train_hooks& hooks) {
    train_hooks fed = hooks;
    fed.before_pass = [&](std::size_t pass) {
        batches.feed(g, x, y, pass);
        if (hooks.before_pass) hooks.before_pass(pass);
    };
    return train(g, loss, opt, options, fed);
}

}  // namespace symgrad
