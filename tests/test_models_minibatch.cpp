// Mini-batch training, the held-out split and the evaluation path (issue 11) on the article's network.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "analysis/symmetry.hpp"
#include "engine/error.hpp"
#include "models/batches.hpp"
#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"
#include "models/optim.hpp"

using namespace symgrad;

namespace {

const dataset& data() {
    static const dataset d = titanic();
    return d;
}

// The article's network on the embedded Titanic data (6 features x 2201 people), one tanh layer of 4.
mlp article_network(const std::string& init, std::uint64_t seed = 1) {
    mlp net = build_mlp({data().features(), {4}, activation::tanh}, data().samples());
    net.g.feed({{net.X, data().X}, {net.Y, data().Y}});
    init_plan::parse(init).apply(net.g, seed);
    return net;
}

// Trains `iterations` updates, full batch when batch_size is 0, and returns the costs.
std::vector<double> run(mlp& net, const std::string& optimizer, double lr, std::size_t iterations,
                        std::size_t batch_size, bool through_minibatches = true) {
    auto opt = make_optimizer(optimizer, lr);
    train_options options;
    options.iterations = iterations;
    if (!through_minibatches) return train(net.g, net.loss, *opt, options);
    minibatches batches(data().X, data().Y, {batch_size, 11});
    return train_minibatches(net.g, net.loss, net.X, net.Y, batches, *opt, options);
}

// The verdict after training, analysed on the whole training set.
symmetry_verdict fate(mlp& net) {
    net.g.feed({{net.X, data().X}, {net.Y, data().Y}});
    return analyze_symmetry(net.g, net.loss).verdict;
}

}  // namespace

TEST_CASE("a seed gives one order of the samples, another seed another", "[models][minibatch]") {
    auto a = shuffled_indices(100, 5), b = shuffled_indices(100, 5), c = shuffled_indices(100, 6);
    CHECK(a == b);
    CHECK(a != c);
    std::sort(c.begin(), c.end());
    for (std::size_t k = 0; k < c.size(); ++k) CHECK(c[k] == k);
    // Pinned: std::mt19937_64 is fixed by the standard, so these are the same on every platform.
    CHECK(shuffled_indices(6, 1) == std::vector<std::size_t>{1, 3, 0, 4, 5, 2});
}

TEST_CASE("each epoch feeds every sample once, the last batch holding the remainder", "[models][minibatch]") {
    // 10 samples whose only feature is their column number; batches of 4: 4, 4, 2.
    tensor X = tensor::from_shape({1, 10}), Y = tensor::from_shape({1, 10});
    for (std::size_t j = 0; j < 10; ++j) X(0, j) = Y(0, j) = double(j);
    minibatches batches(X, Y, {4, 3});
    REQUIRE(batches.batches_per_epoch() == 3);
    graph g;
    node x = g.input("x", {1, 10}), y = g.input("y", {1, 10});
    std::vector<std::vector<double>> epochs(2);
    for (std::size_t index = 0; index < 6; ++index) {
        batches.feed(g, x, y, index);
        CHECK(x.shape().cols == (index % 3 == 2 ? 2u : 4u));
        for (std::size_t j = 0; j < x.shape().cols; ++j) {
            CHECK(g.value(x)(0, j) == g.value(y)(0, j));  // features and labels stay paired
            epochs[index / 3].push_back(g.value(x)(0, j));
        }
    }
    CHECK(epochs[0] != epochs[1]);  // reshuffled
    for (auto& e : epochs) {
        std::sort(e.begin(), e.end());
        CHECK(e == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    }
}

TEST_CASE("full-batch training through minibatches is bit-identical to plain training", "[models][minibatch]") {
    for (const char* optimizer : {"gd", "momentum", "adam"}) {
        for (std::size_t batch_size : {std::size_t(0), data().samples(), std::size_t(5000)}) {
            mlp plain = article_network("normal:0.1"), batched = article_network("normal:0.1");
            auto expected = run(plain, optimizer, 0.1, 30, 0, false);
            auto got = run(batched, optimizer, 0.1, 30, batch_size);
            INFO(optimizer << ", batch size " << batch_size);
            CHECK(got == expected);
            CHECK(std::equal(plain.g.value(plain.W[0]).begin(), plain.g.value(plain.W[0]).end(),
                             batched.g.value(batched.W[0]).begin()));
        }
    }
}

TEST_CASE("mini-batches keep the full-batch run's fate: symmetric stays symmetric, healthy stays healthy",
          "[models][minibatch][symmetry]") {
    for (const char* optimizer : {"gd", "momentum", "adam"}) {
        for (const char* init : {"constant:0.5", "normal:0.5"}) {
            mlp full = article_network(init), batched = article_network(init);
            run(full, optimizer, 0.05, 200, 0);
            auto costs = run(batched, optimizer, 0.05, 200, 64);  // 35 batches an epoch, the last of 25
            INFO(optimizer << ", " << init);
            const symmetry_verdict expected = fate(full);
            CHECK(fate(batched) == expected);
            CHECK(expected == (std::string(init) == "constant:0.5" ? symmetry_verdict::symmetric
                                                                   : symmetry_verdict::healthy));
            CHECK(costs.back() < costs.front() + 0.1);  // it trained, it did not diverge
        }
    }
}

TEST_CASE("mini-batch training follows the seed: same seed same run, another seed another",
          "[models][minibatch]") {
    auto costs = [](std::uint64_t seed) {
        mlp net = article_network("normal:0.1");
        auto opt = make_optimizer("adam", 0.01);
        minibatches batches(data().X, data().Y, {100, seed});
        return train_minibatches(net.g, net.loss, net.X, net.Y, batches, *opt, {40});
    };
    CHECK(costs(1) == costs(1));
    CHECK(costs(1) != costs(2));
}

TEST_CASE("evaluation runs forward only and leaves the training gradients alone", "[models][evaluate]") {
    mlp net = article_network("normal:0.5");
    net.g.forward();
    net.g.backward(net.loss);
    const tensor grad = net.g.grad(net.W[0]);
    const tensor x = tensor{{1, 0}, {0, 0}, {0, 1}, {0, 0}, {1, 1}, {1, 0}}, y = tensor{{1, 0}};
    evaluation e = evaluate(net, x, y);
    CHECK(e.samples == 2);
    CHECK(std::equal(grad.begin(), grad.end(), net.g.grad(net.W[0]).begin()));
    // Against a network built for the two samples with the same parameters.
    mlp two = build_mlp({6, {4}, activation::tanh}, 2);
    for (std::size_t k = 0; k < 2; ++k) {
        two.g.value(two.W[k]) = net.g.value(net.W[k]);
        two.g.value(two.b[k]) = net.g.value(net.b[k]);
    }
    two.g.feed({{two.X, x}, {two.Y, y}});
    two.g.forward();
    CHECK(e.cost == two.g.value(two.loss)(0, 0));
    const tensor& a = two.g.value(two.output);
    CHECK(e.accuracy == ((a(0, 0) >= 0.5 ? 1.0 : 0.0) + (a(0, 1) < 0.5 ? 1.0 : 0.0)) / 2.0);
}

TEST_CASE("accuracy counts probabilities on the right side of one half", "[models][evaluate]") {
    CHECK(accuracy(tensor{{0.9, 0.5, 0.49, 0.1}}, tensor{{1, 1, 1, 0}}) == 0.75);
    CHECK_THROWS_AS(accuracy(tensor{{0.9}}, tensor{{1, 0}}), input_error);
}

TEST_CASE("a held-out split is seeded, disjoint and keeps the column order", "[models][minibatch]") {
    tensor X = tensor::from_shape({2, 10}), Y = tensor::from_shape({1, 10});
    for (std::size_t j = 0; j < 10; ++j) {
        X(0, j) = double(j);
        X(1, j) = -double(j);
        Y(0, j) = double(j % 2);
    }
    auto s = hold_out(X, Y, 0.3, 4);
    REQUIRE(s.X_validation.shape()[1] == 3);
    REQUIRE(s.X_train.shape()[1] == 7);
    std::vector<double> all;
    for (const tensor* t : {&s.X_train, &s.X_validation})
        for (std::size_t j = 0; j < t->shape()[1]; ++j) {
            CHECK((*t)(1, j) == -(*t)(0, j));
            if (j > 0) CHECK((*t)(0, j) > (*t)(0, j - 1));
            all.push_back((*t)(0, j));
        }
    std::sort(all.begin(), all.end());
    CHECK(all == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    auto again = hold_out(X, Y, 0.3, 4), other = hold_out(X, Y, 0.3, 5);
    CHECK(std::equal(again.X_validation.begin(), again.X_validation.end(), s.X_validation.begin()));
    CHECK_FALSE(std::equal(other.X_validation.begin(), other.X_validation.end(), s.X_validation.begin()));
    CHECK_THROWS_WITH(hold_out(X, Y, 1.0, 4), Catch::Contains("less than 1"));
    CHECK_THROWS_WITH(hold_out(X, Y, 0.0, 4), Catch::Contains("greater than 0"));
    CHECK(hold_out(X, Y, 0.01, 4).X_validation.shape()[1] == 1);  // at least one held out
}
