// Strong scaling of data-parallel training (docs/distributed.md): the benchmark's L size (784 inputs, 1024 tanh
// units, 8192 samples) trained with gradient descent, each of the mpirun's ranks holding m / N samples.
// Prints the median wall time per iteration on rank 0. Run it with 1 BLAS thread per rank:
//   mpirun -np 2 -x OPENBLAS_NUM_THREADS=1 build-mpi/bench/bench_distributed_scaling [iterations]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <xtensor/xview.hpp>

#include "distributed/mpi_collective.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "timing.hpp"

namespace {

using namespace symgrad;

constexpr std::size_t inputs = 784, hidden = 1024, samples = 8192;

// bench/workload.cpp's L data: normal features, labels from a random linear rule (every rank makes all of it
// from the seed, then keeps its columns).
void make_data(tensor& X, tensor& Y) {
    std::mt19937_64 rng(20240501);
    std::normal_distribution<double> normal(0.0, 1.0);
    X = tensor::from_shape({inputs, samples});
    for (std::size_t k = 0; k < X.size(); ++k) X.data()[k] = normal(rng);
    std::vector<double> rule(inputs);
    for (double& r : rule) r = normal(rng);
    Y = tensor::from_shape({1, samples});
    for (std::size_t j = 0; j < samples; ++j) {
        double s = 0.0;
        for (std::size_t i = 0; i < inputs; ++i) s += rule[i] * X(i, j);
        Y(0, j) = s > 0.0 ? 1.0 : 0.0;
    }
}

}  // namespace

int main(int argc, char** argv) {
    mpi_session session(argc, argv);
    collective& peers = session.peers();
    const std::size_t iterations = argc > 1 ? std::size_t(std::atoi(argv[1])) : 5;
    const std::size_t r = peers.rank(), n = peers.size();
    const std::size_t from = samples * r / n, to = samples * (r + 1) / n;

    tensor X, Y;
    make_data(X, Y);
    mlp_spec spec;
    spec.inputs = inputs;
    spec.hidden = {hidden};
    mlp net = build_mlp(spec, to - from);
    net.g.feed({{net.X, tensor(xt::view(X, xt::all(), xt::range(from, to)))},
                {net.Y, tensor(xt::view(Y, xt::all(), xt::range(from, to)))}});
    init_plan::parse("glorot").apply(net.g, 1);
    if (n > 1) net.g.set_data_parallel(&peers, double(to - from) / double(samples));
    auto gd = make_optimizer("gd", 0.1);
    const std::vector<node> params = net.g.parameters();

    std::vector<double> seconds;
    double cost = 0.0;
    for (std::size_t it = 0; it <= iterations; ++it) {  // iteration 0 warms up (plans, buffers, pages)
        double time = 0.0;
        peers.sum(&time, 1);  // start together
        auto start = std::chrono::steady_clock::now();
        net.g.forward();
        net.g.backward(net.loss);
        cost = net.g.value(net.loss)(0, 0);
        gd->step(net.g, params);
        time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        peers.max(&time, 1);  // an iteration lasts as long as its slowest rank
        if (it > 0) seconds.push_back(time);
    }
    // The communication alone: the sum backward() does, of every gradient and the cost (P + 1 doubles).
    std::size_t packed = 1;
    for (node p : params) packed += net.g.value(p).size();
    std::vector<double> buffer(packed, 1.0), sum_seconds;
    for (std::size_t k = 0; k < 5; ++k) {
        auto start = std::chrono::steady_clock::now();
        peers.sum(buffer.data(), packed);
        double time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        peers.max(&time, 1);
        sum_seconds.push_back(time);
    }
    if (r == 0)
        std::printf("ranks %zu: %.4f s per iteration (median of %zu; L: %zu inputs, %zu units, %zu samples), "
                    "of which the sum of %zu doubles %.2f ms; last cost %.17g\n",
                    n, bench::median(seconds), seconds.size(), inputs, hidden, samples, packed,
                    1e3 * bench::median(sum_seconds), cost);
    return 0;
}
