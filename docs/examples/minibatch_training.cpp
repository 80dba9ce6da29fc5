// docs/engine.md's worked example: a mini-batch training loop with a held-out test set, engine and ops only.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <engine/graph.hpp>
#include <ops/ops.hpp>

using namespace symgrad;

// Two features per column, label 1 inside the circle of radius 1.2: a task one hidden layer can learn.
static void make_data(std::size_t m, std::mt19937_64& rng, tensor& x, tensor& y) {
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    x = tensor::from_shape({2, m});
    y = tensor::from_shape({1, m});
    for (std::size_t j = 0; j < m; ++j) {
        x(0, j) = u(rng);
        x(1, j) = u(rng);
        y(0, j) = x(0, j) * x(0, j) + x(1, j) * x(1, j) < 1.44 ? 1.0 : 0.0;
    }
}

// Copies the columns order[first, first + count) of `from` into `to`, which has count columns.
static void gather(const tensor& from, const std::vector<std::size_t>& order, std::size_t first, tensor& to) {
    for (std::size_t i = 0; i < from.shape()[0]; ++i)
        for (std::size_t j = 0; j < to.shape()[1]; ++j) to(i, j) = from(i, order[first + j]);
}

int main() {
    std::mt19937_64 rng(42);
    tensor x_train, y_train, x_test, y_test;
    make_data(1000, rng, x_train, y_train);
    make_data(300, rng, x_test, y_test);

    // The graph is built once, for any batch size: 2 inputs -> 16 tanh units -> sigmoid, BCE.
    const std::size_t batch = 64;
    graph g;
    node X = g.input("X", {2, batch});
    node Y = g.input("Y", {1, batch});
    node W1 = g.parameter("W1", {16, 2}), b1 = g.parameter("b1", {16, 1});
    node W2 = g.parameter("W2", {1, 16}), b2 = g.parameter("b2", {1, 1});
    node P = sigmoid(matmul(W2, tanh(matmul(W1, X) + b1)) + b2, "P");
    node J = bce(P, Y, "J");
    std::normal_distribution<double> normal(0.0, 0.5);
    for (node w : {W1, W2})
        for (double& v : g.value(w)) v = normal(rng);  // random weights break the units' symmetry

    // One buffer per batch width: 1000 = 15 x 64 + 40, so every epoch ends with a partial batch of 40.
    tensor xb = tensor::from_shape({2, batch}), yb = tensor::from_shape({1, batch});
    tensor xl = tensor::from_shape({2, 1000 % batch}), yl = tensor::from_shape({1, 1000 % batch});
    std::vector<std::size_t> order(1000);
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    const std::vector<node> params = g.parameters();
    for (int epoch = 0; epoch < 40; ++epoch) {
        std::shuffle(order.begin(), order.end(), rng);  // a new order every epoch
        for (std::size_t first = 0; first < order.size(); first += batch) {
            const bool last = first + batch > order.size();
            tensor& xs = last ? xl : xb;
            tensor& ys = last ? yl : yb;
            gather(x_train, order, first, xs);
            gather(y_train, order, first, ys);
            g.feed({{X, xs}, {Y, ys}});  // both inputs at once: the batch size may change here
            g.forward();
            g.backward(J);
            for (node p : params) g.value(p) -= 0.5 * g.grad(p);  // gradient descent, in place
        }
    }

    // Evaluation: forward only on the test set; the parameters' gradients stay those of the last batch.
    g.feed({{X, x_test}, {Y, y_test}});
    g.forward();
    const tensor& p = std::as_const(g).value(P);
    std::size_t right = 0;
    for (std::size_t j = 0; j < p.shape()[1]; ++j) right += (p(0, j) >= 0.5) == (y_test(0, j) == 1.0);
    const double accuracy = double(right) / double(p.shape()[1]);
    std::printf("test cost %.4f, test accuracy %.3f\n", std::as_const(g).value(J)(0, 0), accuracy);
    return accuracy > 0.9 ? 0 : 1;
}
