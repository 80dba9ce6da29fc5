// The seed network of docs/engine.md: 7 inputs, 4 tanh units, a sigmoid output, BCE; one forward and
// backward, then the cost and the gradients. Built against the installed package by the install test.
#include <cmath>
#include <cstdio>

#include <engine/graph.hpp>  // the package puts <prefix>/include/symgrad on the include path
#include <ops/ops.hpp>

int main() {
    using namespace symgrad;
    const std::size_t m = 5;  // samples, one per column

    graph g;
    node X = g.input("X", {7, m});
    node Y = g.input("Y", {1, m});
    node W1 = g.parameter("W1", {4, 7});
    node b1 = g.parameter("b1", {4, 1});
    node W2 = g.parameter("W2", {1, 4});
    node b2 = g.parameter("b2", {1, 1});
    node A1 = tanh(matmul(W1, X) + b1, "A1");    // (4x7)(7xm) + (4x1) broadcast over the m columns
    node A2 = sigmoid(matmul(W2, A1) + b2, "A2");
    node J = bce(A2, Y, "J");                     // mean binary cross-entropy, 1x1

    tensor x = tensor::from_shape({7, m});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(double(k));
    g.feed(X, x);
    g.feed(Y, tensor{{1, 0, 1, 1, 0}});
    for (node p : g.parameters())  // parameters are zero until set; set them in place through value()
        for (std::size_t k = 0; k < g.value(p).size(); ++k) g.value(p).data()[k] = 0.1 * std::cos(double(k + p.id()));

    g.forward();
    g.backward(J);
    std::printf("cost J = %.6f\n", g.value(J)(0, 0));
    for (node p : g.parameters()) {
        const tensor& d = g.grad(p);
        std::printf("gradient d J / d %s %s:", p.name().c_str(), to_string(p.shape()).c_str());
        for (std::size_t k = 0; k < d.size(); ++k) std::printf(" %.6f", d.data()[k]);
        std::printf("\n");
    }
    return 0;
}
