// The training loop: forward, backward, optimiser step, with recorded costs and an optional progress line.
#include <chrono>
#include <cstdio>

#include <unistd.h>

#include "models/optim.hpp"

namespace symgrad {

namespace {

// "\rtrain: 1200/3000 (40%)  cost 0.5123456" at most every 100 ms, only once a run has lasted 250 ms, so
// short runs stay silent. fprintf to unbuffered stderr does not allocate.
class progress_line {
public:
    progress_line(bool on, std::size_t total) : on_(on), total_(total) {}
    void update(std::size_t iteration, double cost) {
        if (!on_) return;
        auto now = clock::now();
        if (now - start_ < std::chrono::milliseconds(250) || now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        print(iteration, cost);
    }
    void finish(std::size_t iteration, double cost) {
        if (!on_ || !shown_) return;
        print(iteration, cost);
        std::fputc('\n', stderr);
    }

private:
    using clock = std::chrono::steady_clock;
    void print(std::size_t iteration, double cost) {
        std::fprintf(stderr, "\rtrain: %zu/%zu (%3.0f%%)  cost %.7g   ", iteration, total_,
                     100.0 * double(iteration) / double(total_ == 0 ? 1 : total_), cost);
        shown_ = true;
    }
    bool on_;
    std::size_t total_;
    bool shown_ = false;
    clock::time_point start_ = clock::now(), last_ = start_;
};

}  // namespace

std::vector<double> train(graph& g, node loss, optimizer& opt, const train_options& options,
                          const train_callback& callback) {
    std::vector<double> costs;
    costs.reserve(options.iterations);  // the only allocation that scales with the run
    const std::vector<node> params = g.parameters();
    progress_line progress(options.progress && isatty(fileno(stderr)) != 0, options.iterations);
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
