// graph::set_data_parallel over thread ranks: sharded training takes the single process's steps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <xtensor/xview.hpp>

#include "engine/error.hpp"
#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"
#include "tensor_checks.hpp"
#include "thread_collective.hpp"

using namespace symgrad;

namespace {

struct trained {
    std::vector<double> costs;
    std::vector<tensor> parameters;
};

tensor columns(const tensor& t, std::size_t from, std::size_t to) {
    return xt::view(t, xt::all(), xt::range(from, to));
}

// Trains the article's network (Titanic, 4 tanh units, glorot) on columns [from, to) of the data; with
// peers, as one shard of the whole data set of `total` samples.
trained train_shard(const std::string& optimizer, std::size_t from, std::size_t to, collective* peers) {
    const dataset d = titanic();
    mlp_spec spec;
    spec.inputs = d.features();
    spec.hidden = {4};
    mlp net = build_mlp(spec, to - from);
    net.g.feed({{net.X, columns(d.X, from, to)}, {net.Y, columns(d.Y, from, to)}});
    init_plan::parse("glorot").apply(net.g, 7);
    if (peers) net.g.set_data_parallel(peers, double(to - from) / double(d.samples()));
    auto opt = make_optimizer(optimizer, optimizer == "adam" ? 0.01 : 0.5);
    train_options o;
    o.iterations = 300;
    trained t;
    t.costs = train(net.g, net.loss, *opt, o);
    for (node p : net.g.parameters()) t.parameters.push_back(net.g.value(p));
    return t;
}

// Rank r of n holds columns [m r / n, m (r + 1) / n).
std::vector<trained> train_sharded(const std::string& optimizer, std::size_t ranks) {
    const std::size_t m = titanic().samples();
    std::vector<trained> out(ranks);
    testing::run_ranks(ranks, [&](collective& peers) {
        std::size_t r = peers.rank();
        out[r] = train_shard(optimizer, m * r / ranks, m * (r + 1) / ranks, &peers);
    });
    return out;
}

double relative_difference(const tensor& a, const tensor& b) {
    double scale = 0.0, diff = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        scale = std::max(scale, std::abs(a.flat(i)));
        diff = std::max(diff, std::abs(a.flat(i) - b.flat(i)));
    }
    return scale > 0.0 ? diff / scale : diff;
}

bool bit_identical(const trained& a, const trained& b) {
    if (a.costs != b.costs) return false;
    for (std::size_t k = 0; k < a.parameters.size(); ++k)
        if (!testing::same_bits(a.parameters[k], b.parameters[k])) return false;
    return true;
}

}  // namespace

TEST_CASE("Sharded training over 2 and 3 ranks follows the single process within 1e-12", "[data_parallel]") {
    // The shards sum the same per-sample terms in another grouping, so only rounding (a few ulp per
    // product, compounded over 300 steps) separates them; 1e-12 relative is the bound.
    for (std::string optimizer : {"gd", "momentum", "adam"}) {
        const trained one = train_shard(optimizer, 0, titanic().samples(), nullptr);
        REQUIRE(one.costs.back() < one.costs.front() - 1e-3);  // it trains: the comparison means something
        for (std::size_t ranks : {2u, 3u}) {
            CAPTURE(optimizer, ranks);
            std::vector<trained> shards = train_sharded(optimizer, ranks);
            for (const auto& s : shards) {
                REQUIRE(s.costs.size() == one.costs.size());
                for (std::size_t i = 0; i < one.costs.size(); ++i)
                    REQUIRE(std::abs(s.costs[i] - one.costs[i]) <= 1e-12 * std::abs(one.costs[i]));
                for (std::size_t k = 0; k < one.parameters.size(); ++k)
                    REQUIRE(relative_difference(one.parameters[k], s.parameters[k]) <= 1e-12);
                REQUIRE(bit_identical(s, shards[0]));  // every rank took the same steps
            }
        }
    }
}

TEST_CASE("Sharded training is bit-identical from run to run for a given number of ranks", "[data_parallel]") {
    std::vector<trained> first = train_sharded("adam", 3), second = train_sharded("adam", 3);
    REQUIRE(bit_identical(first[0], second[0]));
    // and different rank counts really do group the sums differently (else the test above proves little)
    std::vector<trained> two = train_sharded("adam", 2);
    REQUIRE_FALSE(bit_identical(first[0], two[0]));
}

TEST_CASE("set_data_parallel refuses a share outside [0, 1]", "[data_parallel]") {
    mlp_spec spec;
    spec.inputs = 2;
    mlp net = build_mlp(spec, 3);
    testing::run_ranks(1, [&](collective& peers) {
        REQUIRE_THROWS_WITH(net.g.set_data_parallel(&peers, 1.5),
                            Catch::Contains("share must be a number in [0, 1], got 1.5"));
        REQUIRE_THROWS_AS(net.g.set_data_parallel(&peers, std::nan("")), graph_error);
        REQUIRE(net.g.data_parallel() == nullptr);
    });
}

TEST_CASE("A NaN on one shard stops every rank with the same anomaly, and the ranks stay in step",
          "[data_parallel]") {
    // Rank 1's shard holds a NaN. With an anomaly check on, every rank must throw the first message by rank
    // (else rank 0 would go on into a sum rank 1 never reaches), and after the caller catches it (as the
    // analysis' lookahead does) the next passes must still pair up: equal gradients on both ranks.
    const dataset d = titanic();
    const std::size_t m = d.samples();
    for (anomaly_check mode : {anomaly_check::results, anomaly_check::every_node}) {
        std::vector<std::string> messages(2);
        std::vector<tensor> gradients(2);
        testing::run_ranks(2, [&](collective& peers) {
            const std::size_t r = peers.rank(), from = m * r / 2, to = m * (r + 1) / 2;
            mlp_spec spec;
            spec.inputs = d.features();
            spec.hidden = {3};
            mlp net = build_mlp(spec, to - from);
            tensor x = columns(d.X, from, to);
            if (r == 1) x(2, 5) = std::nan("");
            net.g.feed({{net.X, x}, {net.Y, columns(d.Y, from, to)}});
            init_plan::parse("glorot").apply(net.g, 3);
            net.g.set_data_parallel(&peers, double(to - from) / double(m));
            net.g.set_anomaly_check(mode);
            try {
                net.g.forward();
                net.g.backward(net.loss);
            } catch (const anomaly_error& e) {
                messages[r] = e.what();
            }
            net.g.feed(net.X, columns(d.X, from, to));
            net.g.forward();
            net.g.backward(net.loss);
            gradients[r] = net.g.grad(net.W[0]);
        });
        CAPTURE(int(mode));
        REQUIRE_THAT(messages[0], Catch::Contains("anomaly: ") && Catch::Contains("NaN"));
        REQUIRE(messages[0] == messages[1]);
        REQUIRE(testing::same_bits(gradients[0], gradients[1]));
    }
}
