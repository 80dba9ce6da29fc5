// Folding chosen by the planner, in backward (a one-row matmul's outer-product gradient into its operand's
// activation backward, op::outer_gradient) and forward (a bias add's prefill, then the matmul adding its
// product into it, op::has_prefill): each happens where it should, and every value and gradient is the
// unfolded one's to the bit (forward: for inner dimensions BLAS does not split). The unfolded reference is
// the same graph with the activation, or the product, retained, which keeps its own buffers.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <utility>

#include "engine/graph.hpp"
#include "ops/ops.hpp"
#include "tensor_checks.hpp"

using namespace symgrad;

namespace {

using testing::random_tensor;
using testing::same_bits;

// 2x, counting the backward passes that took an outer-product gradient, so a test sees whether it folded.
class counting_double final : public op {
public:
    explicit counting_double(int* folded) : folded_(folded) {}
    std::string_view kind() const override { return "counting_double"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    bool elementwise() const override { return true; }
    saved saves() const override { return saved::nothing; }
    void forward(const forward_args& a) const override {
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = 2.0 * a.in[0]->data()[k];
    }
    void backward(const backward_args& a) const override {
        const double* g = a.out_grad->data();
        if (a.in_grad[0]) a.in_grad[0].send([g](std::size_t k) { return 2.0 * g[k]; });
    }
    bool has_backward_outer() const override { return true; }
    void backward_outer(const backward_args& a, const outer_factors& f) const override {
        ++*folded_;
        if (a.in_grad[0]) a.in_grad[0].send_2d([f](std::size_t i, std::size_t j) { return 2.0 * (f.u[i] * f.v[j]); });
    }

private:
    int* folded_;
};

// x itself, counting the forwards that added into a prefilled output (op::forward_accumulate).
class counting_copy final : public op {
public:
    explicit counting_copy(int* accumulated) : accumulated_(accumulated) {}
    std::string_view kind() const override { return "counting_copy"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    void forward(const forward_args& a) const override {
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] = a.in[0]->data()[k];
    }
    bool has_forward_accumulate(const std::array<operand_info, max_arity>&) const override { return true; }
    void forward_accumulate(const forward_args& a) const override {
        ++*accumulated_;
        for (std::size_t k = 0; k < a.out->size(); ++k) a.out->data()[k] += a.in[0]->data()[k];
    }
    void backward(const backward_args& a) const override {
        const double* g = a.out_grad->data();
        if (a.in_grad[0]) a.in_grad[0].send([g](std::size_t k) { return g[k]; });
    }

private:
    int* accumulated_;
};

// X (n x m) -> hidden layers -> a one-unit output layer: loss = sum(sigmoid(w A + c)), with random
// activations (tanh, sigmoid, relu, counting_double counting into *folds), random widths and, with
// `fan_out`, the last hidden layer also reaching the loss through a sum (two consumers: no fold there).
// The same seed builds the same graph.
struct one_unit_net {
    graph g;
    node loss;
    bool counted_last = false;  // the last hidden activation is a counting_double
    one_unit_net(unsigned seed, std::size_t n, std::size_t m, bool retain_last, bool fan_out, int* folds) {
        std::mt19937_64 rng(seed);
        node a = g.input("X", {n, m});
        std::size_t rows = n;
        const int layers = 1 + int(rng() % 3);
        for (int layer = 0; layer < layers; ++layer) {
            const std::size_t h = 2 + rng() % 40;
            node z = add(matmul(g.parameter("W" + std::to_string(layer), {h, rows}), a),
                         g.parameter("b" + std::to_string(layer), {h, 1}));
            const int kind = int(rng() % 4);
            a = kind == 0 ? tanh(z) : kind == 1 ? sigmoid(z) : kind == 2 ? relu(z)
                                    : make_node(std::make_unique<counting_double>(folds), {z});
            counted_last = kind == 3;
            rows = h;
        }
        if (retain_last) g.retain(a);
        node out = sigmoid(add(matmul(g.parameter("w", {1, rows}), a), g.parameter("c", {1, 1})));
        loss = fan_out ? add(sum(out), sum(a), "loss") : sum(out, "loss");
        for (auto p : g.parameters())
            g.value(p) = (1.0 / double(p.shape().cols)) * random_tensor(rng, p.shape().rows, p.shape().cols);
        g.feed(g.inputs()[0], random_tensor(rng, n, m));
    }
};

}  // namespace

TEST_CASE("a one-unit layer's input gradient is folded into the activation's backward, only where it is safe",
          "[engine][planner][fold]") {
    int folded = 0;
    graph g;
    node X = g.input("X", {3, 50});
    node W = g.parameter("W", {4, 3});
    node A = make_node(std::make_unique<counting_double>(&folded), {matmul(W, X)}, "A");
    node w = g.parameter("w", {1, 4});
    node loss = sum(matmul(w, A), "loss");
    std::mt19937_64 rng(5);
    g.feed(X, random_tensor(rng, 3, 50));
    g.value(W) = random_tensor(rng, 4, 3);
    g.value(w) = random_tensor(rng, 1, 4);
    g.forward();
    g.backward(loss);
    CHECK(folded == 1);
    // By hand: dA = w' 1 (every column of dA is w'), dW = 2 dA X'.
    const tensor x = g.value(X), wv = g.value(w), dW = g.grad(W);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t c = 0; c < 3; ++c) {
            double want = 0.0;
            for (std::size_t j = 0; j < 50; ++j) want += 2.0 * wv(0, i) * x(c, j);
            CHECK(dW(i, c) == Approx(want).epsilon(1e-12));
        }
    // The every-node anomaly check names each gradient as it is sent, so it materialises dA.
    g.set_anomaly_check(anomaly_check::every_node);
    g.forward();
    g.backward(loss);
    CHECK(folded == 1);
    CHECK(same_bits(g.grad(W), dW));
    g.set_anomaly_check(anomaly_check::off);
    g.forward();
    g.backward(loss);
    CHECK(folded == 2);
    // Retained, A keeps its gradient: no fold, and it is w' in every column.
    g.retain(A);
    g.forward();
    g.backward(loss);
    CHECK(folded == 2);
    CHECK(same_bits(g.grad(W), dW));
    for (std::size_t j = 0; j < 50; ++j) CHECK(g.grad(A)(2, j) == wv(0, 2));
}

TEST_CASE("a matrix times a column folds the matrix's outer-product gradient into its activation",
          "[engine][planner][fold]") {
    int folded = 0;
    graph g;
    node X = g.input("X", {50, 3});  // samples as rows here: A is 50 x 4, w a column
    node W = g.parameter("W", {3, 4});
    node A = make_node(std::make_unique<counting_double>(&folded), {matmul(X, W)}, "A");
    node w = g.parameter("w", {4, 1});
    node loss = sum(matmul(A, w), "loss");
    std::mt19937_64 rng(7);
    g.feed(X, random_tensor(rng, 50, 3));
    g.value(W) = random_tensor(rng, 3, 4);
    g.value(w) = random_tensor(rng, 4, 1);
    g.forward();
    g.backward(loss);
    CHECK(folded == 1);
    // By hand: dA = 1 w' (every row of dA is w'), dW = X' (2 dA).
    const graph& cg = g;
    const tensor dW = cg.grad(W);
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < 4; ++i) {
            double want = 0.0;
            for (std::size_t j = 0; j < 50; ++j) want += cg.value(X)(j, c) * 2.0 * cg.value(w)(i, 0);
            CHECK(dW(c, i) == Approx(want).epsilon(1e-12));
        }
    g.retain(A);  // unfolded: the same bits
    g.forward();
    g.backward(loss);
    CHECK(folded == 1);
    CHECK(same_bits(cg.grad(W), dW));
}

TEST_CASE("an activation read by a second op, or whose own gradient is readable, is not folded",
          "[engine][planner][fold]") {
    int folded = 0;
    {
        graph g;  // A also reaches the loss through a sum: its gradient is not the outer product alone
        node W = g.parameter("W", {4, 6});
        node A = make_node(std::make_unique<counting_double>(&folded), {matmul(W, g.input("X", {6, 7}))}, "A");
        node loss = add(sum(matmul(g.parameter("w", {1, 4}), A)), sum(A), "loss");
        g.feed(g.inputs()[0], tensor::from_shape({6, 7}));
        g.forward();
        g.backward(loss);
        CHECK(folded == 0);
    }
    {
        graph g;  // A on a parameter: no in-place chain writes over its gradient, so grad(A) is readable
        node V = g.parameter("V", {4, 7});
        node A = make_node(std::make_unique<counting_double>(&folded), {V}, "A");
        node w = g.parameter("w", {1, 4});
        node loss = sum(matmul(w, A), "loss");
        std::mt19937_64 rng(9);
        g.value(w) = random_tensor(rng, 1, 4);
        g.forward();
        g.backward(loss);
        CHECK(folded == 0);
        for (std::size_t j = 0; j < 7; ++j) CHECK(g.grad(A)(1, j) == g.value(w)(0, 1));
    }
}

TEST_CASE("folded and unfolded backward give the same gradients to the bit on random networks",
          "[engine][planner][fold]") {
    int nets_folded = 0;
    for (unsigned seed = 1; seed <= 40; ++seed) {
        // A width that is no multiple of a vector; every fourth net also reads its last layer twice.
        const std::size_t m = seed % 2 ? 1001 : 37;
        const bool fan_out = seed % 4 == 0;
        int folds = 0, unfolded_folds = 0;
        one_unit_net folded(seed, 5, m, false, fan_out, &folds), plain(seed, 5, m, true, fan_out, &unfolded_folds);
        folded.g.set_poison_reused_buffers(seed > 20);  // poisoning: a folded op must not read dA
        plain.g.set_poison_reused_buffers(seed > 20);
        for (auto* net : {&folded, &plain}) {
            net->g.forward();
            net->g.backward(net->loss);
        }
        INFO("seed " << seed);
        CHECK(folds == (folded.counted_last && !fan_out ? 1 : 0));  // the fold happened where it may
        CHECK(unfolded_folds == 0);
        nets_folded += folds;
        CHECK(same_bits(folded.g.value(folded.loss), plain.g.value(plain.loss)));
        auto pf = folded.g.parameters(), pp = plain.g.parameters();
        for (std::size_t i = 0; i < pf.size(); ++i) {
            INFO(pf[i].name());
            CHECK(same_bits(folded.g.grad(pf[i]), plain.g.grad(pp[i])));
        }
    }
    CHECK(nets_folded >= 3);  // the seeds above fold in several nets (and tanh, sigmoid, relu in others)
}

TEST_CASE("a bias add prefills its output and the op before it adds into it, only where the planner can",
          "[engine][planner][fold]") {
    int accumulated = 0;
    graph g;
    node P = g.parameter("P", {3, 5});
    node b = g.parameter("b", {3, 1});
    node C = make_node(std::make_unique<counting_copy>(&accumulated), {P}, "C");
    node Z = add(b, C, "Z");       // the in-place operand second: prefill broadcasts operand 0
    node loss = sum(Z * Z, "loss");  // mul reads Z in backward, so Z stays readable
    std::mt19937_64 rng(11);
    g.value(P) = random_tensor(rng, 3, 5);
    g.value(b) = random_tensor(rng, 3, 1);
    g.set_poison_reused_buffers(false);  // poisoning gives in-place writers buffers of their own
    g.forward();
    CHECK(accumulated == 1);
    const graph& cg = g;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 5; ++j) CHECK(cg.value(Z)(i, j) == cg.value(b)(i, 0) + cg.value(P)(i, j));
    g.backward(loss);  // gradients are untouched by the forward fold: d loss / d b_i = sum_j 2 Z_ij
    for (std::size_t i = 0; i < 3; ++i) {
        double want = 0.0;
        for (std::size_t j = 0; j < 5; ++j) want += 2.0 * cg.value(Z)(i, j);
        CHECK(cg.grad(b)(i, 0) == Approx(want).epsilon(1e-14));
    }
    // The every-node check names the product's own value, so it runs unfolded. (An add fused into its
    // activation runs by rows, unfolded too: tests/test_engine_planner_fusion.cpp counts its blocks.)
    g.set_anomaly_check(anomaly_check::every_node);
    g.forward();
    CHECK(accumulated == 1);
    g.set_anomaly_check(anomaly_check::off);
    g.forward();
    CHECK(accumulated == 2);
    // Retained, C keeps its value: Z gets a buffer of its own and adds as usual.
    g.retain(C);
    g.forward();
    CHECK(accumulated == 2);
    CHECK(same_bits(cg.value(C), cg.value(P)));
}

TEST_CASE("W X + b by prefill and accumulation is the separate product and add, to the bit for small inner "
          "dimensions and within rounding for large ones",
          "[engine][planner][fold]") {
    // Every product path: dgemm, which folds, and those that do not: a row (n = 1) or a column (m = 1)
    // by dgemv, an outer product (k = 1).
    for (auto [n, m] : {std::pair<std::size_t, std::size_t>{9, 301}, {1, 301}, {9, 1}})
    for (std::size_t k : {1u, 2u, 7u, 64u, 1500u})
        for (shape2 bias : {shape2{n, 1}, shape2{1, m}, shape2{1, 1}, shape2{n, m}}) {
            graph folded, plain;
            node zf, zp;
            for (auto* gp : {&folded, &plain}) {
                graph& g = *gp;
                std::mt19937_64 rng(k * 31 + bias.rows);
                node W = g.parameter("W", {n, k}), X = g.input("X", {k, m}), b = g.parameter("b", bias);
                node WX = matmul(W, X, "WX");
                if (gp == &plain) g.retain(WX);
                (gp == &folded ? zf : zp) = add(WX, b, "Z");
                g.value(W) = random_tensor(rng, n, k);
                g.value(b) = random_tensor(rng, bias.rows, bias.cols);
                g.feed(X, random_tensor(rng, k, m));
                g.set_poison_reused_buffers(false);
                g.forward();
            }
            INFO(n << "x" << k << " times " << k << "x" << m << ", bias " << bias.rows << "x" << bias.cols);
            const tensor &a = folded.value(zf), &b = plain.value(zp);
            if (k <= 64) {
                CHECK(same_bits(a, b));
            } else {
                // Blocks of the inner dimension: b joins the first block's partial sum, so each element
                // may differ by a few roundings of its partial sums, each within 2^-53 of |W||X| (<= ~200).
                for (std::size_t e = 0; e < a.size(); ++e) CHECK(std::abs(a.data()[e] - b.data()[e]) <= 1e-12);
            }
        }
}
