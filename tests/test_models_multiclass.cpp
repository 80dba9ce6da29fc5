// The multi-class head (issue 12): build_mlp with k output rows, attach_loss's softmax head, k-class
// accuracy, labels for a two-row head, and mini-batches and held-out splits of k-row labels.
#include <catch2/catch.hpp>

#include <cmath>
#include <utility>

#include "engine/error.hpp"
#include "models/batches.hpp"
#include "models/mlp.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

bool same(const tensor& a, const tensor& b) { return shape_of(a) == shape_of(b) && bool(xt::all(xt::equal(a, b))); }

}  // namespace

TEST_CASE("build_mlp with three outputs reads k x m one-hot labels through softmax_cross_entropy",
          "[models][multiclass]") {
    mlp net = build_mlp({4, {5}, activation::tanh, 3}, 7);
    CHECK(net.Y.shape() == shape2{3, 7});
    CHECK(net.logits.shape() == shape2{3, 7});
    CHECK(net.W.back().shape() == shape2{3, 5});
    CHECK(net.b.back().shape() == shape2{3, 1});
    CHECK(net.g.kind_name(net.loss) == "softmax_cross_entropy");
    CHECK(net.g.kind_name(net.output) == "softmax");
    CHECK(net.output.name() == "A2");
    CHECK(net.loss.name() == "J");
}

TEST_CASE("one output row keeps the binary head: bce_with_logits and sigmoid", "[models][multiclass]") {
    mlp net = build_mlp({4, {5}, activation::tanh}, 7);
    CHECK(net.Y.shape() == shape2{1, 7});
    CHECK(net.g.kind_name(net.loss) == "bce_with_logits");
    CHECK(net.g.kind_name(net.output) == "sigmoid");
}

TEST_CASE("build_mlp refuses zero outputs", "[models][multiclass]") {
    CHECK_THROWS_MATCHES(build_mlp({4, {5}, activation::tanh, 0}, 7), input_error,
                         Catch::Message("build_mlp: the network needs at least one output row, got 0"));
}

TEST_CASE("the softmax head's cost at zero weights is log k and its outputs 1/k", "[models][multiclass]") {
    // All parameters 0: every logit is 0, softmax is 1/3 per class, and each sample costs -log(1/3).
    mlp net = build_mlp({2, {3}, activation::tanh, 3}, 4);
    tensor X{{1, 2, 3, 4}, {0, -1, 1, 0}};
    tensor Y{{1, 0, 0, 1}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    for (node p : net.g.parameters()) net.g.value(p).fill(0.0);
    evaluation e = evaluate(net, X, Y);
    CHECK(e.cost == Approx(std::log(3.0)).epsilon(1e-14));
    CHECK(e.samples == 4);
    // Every column ties, so the first row is predicted: right for samples 0 and 3.
    CHECK(e.accuracy == 0.5);
}

TEST_CASE("k-class accuracy compares each column's most probable row with the label's row", "[models][multiclass]") {
    tensor p{{0.7, 0.1, 0.2, 0.3}, {0.2, 0.3, 0.5, 0.3}, {0.1, 0.6, 0.3, 0.4}};
    tensor y{{1, 0, 0, 0}, {0, 0, 0, 1}, {0, 1, 1, 0}};
    // Predicted rows 0, 2, 1, 2 against labels 0, 2, 2, 1: two right.
    CHECK(accuracy(p, y) == 0.5);
    CHECK_THROWS_AS(accuracy(p, tensor{{1, 0, 0, 0}}), input_error);
}

TEST_CASE("labels_for_head passes matching labels and turns 0/1 labels into two one-hot rows",
          "[models][multiclass]") {
    tensor y{{1, 0, 0, 1, 0}};
    CHECK(same(labels_for_head(y, 1), y));
    CHECK(same(labels_for_head(y, 2), tensor{{0, 1, 1, 0, 1}, {1, 0, 0, 1, 0}}));
    tensor three{{1, 0}, {0, 1}, {0, 0}};
    CHECK(same(labels_for_head(three, 3), three));
    CHECK_THROWS_MATCHES(labels_for_head(y, 3), input_error,
                         Catch::Message("labels: a head of 3 output rows cannot read labels (1x5) (needs (3x5))"));
    CHECK_THROWS_AS(labels_for_head(three, 1), input_error);
}

TEST_CASE("attach_loss refuses labels whose shape does not fit the logits", "[models][multiclass]") {
    mlp net;
    net.X = net.g.input("X", {2, 5});
    net.Y = net.g.input("Y", {1, 5});
    node W = net.g.parameter("W1", {3, 2});
    net.W.push_back(W);
    net.logits = matmul(W, net.X, "Z1");
    CHECK_THROWS_MATCHES(attach_loss(net), input_error,
                         Catch::Message("attach_loss: labels Y (1x5) do not fit logits Z1 (3x5)"));
}

TEST_CASE("mini-batches and held-out splits carry every row of k-row labels with their columns",
          "[models][multiclass][minibatch]") {
    // Label row c of sample j is 1 when j % 3 == c, and X's only row is j: a column that moved without its
    // labels shows as X(0, j) % 3 != the row of the 1.
    const std::size_t m = 10;
    tensor X = tensor::from_shape({1, m}), Y = tensor::from_shape({3, m});
    Y.fill(0.0);
    for (std::size_t j = 0; j < m; ++j) X(0, j) = double(j), Y(j % 3, j) = 1.0;
    auto consistent = [](const tensor& x, const tensor& y) {
        REQUIRE(y.shape()[0] == 3);
        REQUIRE(y.shape()[1] == x.shape()[1]);
        for (std::size_t j = 0; j < x.shape()[1]; ++j)
            for (std::size_t c = 0; c < 3; ++c) CHECK(y(c, j) == (std::size_t(x(0, j)) % 3 == c ? 1.0 : 0.0));
    };
    data_split split = hold_out(X, Y, 0.3, 5);
    consistent(split.X_train, split.Y_train);
    consistent(split.X_validation, split.Y_validation);
    CHECK(split.Y_validation.shape()[1] == 3);

    graph g;
    node x = g.input("X", {1, 4}), y = g.input("Y", {3, 4});
    minibatches batches(X, Y, {4, 9});
    for (std::size_t b = 0; b < 2; ++b) {  // two full batches of 4 (the third, of 2, has another width)
        batches.feed(g, x, y, b);
        consistent(std::as_const(g).value(x), std::as_const(g).value(y));
    }
}
