// Fusion chosen by the planner (an elementwise op and its in-place elementwise consumer, by blocks of rows):
// it happens where it should, and every value and gradient is the unfused graph's to the bit.
#include <catch2/catch.hpp>

#include <random>

#include "engine/error.hpp"
#include "engine/graph.hpp"
#include "ops/ops.hpp"
#include "tensor_checks.hpp"

using namespace symgrad;

namespace {

using testing::random_tensor;
using testing::same_bits;

// 2x computed whole or by rows, counting the row blocks of forward and backward, so a test can see whether
// the planner fused it.
class counting_double final : public op {
public:
    counting_double(int* blocks, int* backward_blocks) : blocks_(blocks), backward_blocks_(backward_blocks) {}
    std::string_view kind() const override { return "counting_double"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    bool elementwise() const override { return true; }
    saved saves() const override { return saved::nothing; }  // so it may write over its operand
    void forward(const forward_args& a) const override { forward_rows_uncounted(a, 0, a.out->shape()[0]); }
    bool has_forward_rows() const override { return true; }
    void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const override {
        ++*blocks_;
        forward_rows_uncounted(a, r0, r1);
    }
    void backward(const backward_args& a) const override { backward_rows_uncounted(a, 0, a.out->shape()[0]); }
    bool has_backward_rows(const backward_args&) const override { return true; }
    void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const override {
        ++*backward_blocks_;
        backward_rows_uncounted(a, r0, r1);
    }

private:
    static void forward_rows_uncounted(const forward_args& a, std::size_t r0, std::size_t r1) {
        const std::size_t c = a.out->shape()[1];
        for (std::size_t k = r0 * c; k < r1 * c; ++k) a.out->data()[k] = 2.0 * a.in[0]->data()[k];
    }
    static void backward_rows_uncounted(const backward_args& a, std::size_t r0, std::size_t r1) {
        const double* g = a.out_grad->data();
        if (a.in_grad[0]) a.in_grad[0].send_rows(r0, r1, [g](std::size_t k) { return 2.0 * g[k]; });
    }
    int* blocks_;
    int* backward_blocks_;
};

// A random layer chain on X (n x m): per layer a matmul, an elementwise binary op with a parameter of a
// random broadcast shape, then a random activation; loss = sum. The same seed builds the same graph.
struct random_chain {
    graph g;
    node X, loss;
    std::vector<node> values;  // every layer's activation
    random_chain(unsigned seed, std::size_t n, std::size_t m) {
        std::mt19937_64 rng(seed);
        X = g.input("X", {n, m});
        node a = X;
        std::size_t rows = n;
        for (int layer = 0; layer < 3; ++layer) {
            const std::size_t h = 3 + rng() % 40;
            node W = g.parameter("W" + std::to_string(layer), {h, rows});
            node z = matmul(W, a);
            const shape2 bias_shapes[] = {{h, 1}, {1, m}, {h, m}, {1, 1}};
            node b = g.parameter("b" + std::to_string(layer), bias_shapes[rng() % 4]);
            switch (rng() % 3) {
                case 0: z = add(z, b); break;
                case 1: z = sub(z, b); break;
                default: z = mul(z, b); break;
            }
            switch (rng() % 3) {
                case 0: a = tanh(z); break;
                case 1: a = sigmoid(z); break;
                default: a = relu(z); break;
            }
            values.push_back(a);
            rows = h;
        }
        loss = sum(a, "loss");
        for (auto p : g.parameters())
            g.value(p) = (1.0 / double(p.shape().cols)) * random_tensor(rng, p.shape().rows, p.shape().cols);
        g.feed(X, random_tensor(rng, n, m));
    }
};

}  // namespace

TEST_CASE("a bias add and its activation run fused, block by block, only where the planner can prove it safe",
          "[engine][planner][fusion]") {
    int blocks = 0, backward_blocks = 0;
    graph g;
    node X = g.input("X", {3, 1000});  // 8000 bytes a row: 16 rows a block, so 40 rows are 3 blocks
    node W = g.parameter("W", {40, 3});
    node b = g.parameter("b", {40, 1});
    node Z = add(matmul(W, X), b, "Z");
    node A = make_node(std::make_unique<counting_double>(&blocks, &backward_blocks), {Z}, "A");
    node loss = sum(A, "loss");
    std::mt19937_64 rng(3);
    g.feed(X, random_tensor(rng, 3, 1000));
    g.value(W) = random_tensor(rng, 40, 3);
    g.value(b) = random_tensor(rng, 40, 1);
    g.set_poison_reused_buffers(false);  // poisoning gives in-place writers buffers of their own: no fusion
    CHECK_FALSE(g.fusion());  // off by default
    g.set_fusion(true);
    g.forward();
    CHECK(blocks == 3);
    const tensor fused = g.value(A);
    g.backward(loss);  // A's derivative and b's row sum, by blocks too
    CHECK(backward_blocks == 3);
    const tensor fused_db = g.grad(b), fused_dW = g.grad(W);
    g.set_fusion(false);
    g.forward();
    CHECK(blocks == 3);  // unfused: forward() whole, no blocks
    CHECK(same_bits(g.value(A), fused));
    g.backward(loss);
    CHECK(backward_blocks == 3);
    CHECK(same_bits(g.grad(b), fused_db));
    CHECK(same_bits(g.grad(W), fused_dW));
    // Z read by a second op: its value must survive, so A is not in place over it and nothing fuses.
    g.set_fusion(true);
    node twice = add(Z, A, "twice");
    (void)twice;
    g.forward();
    CHECK(blocks == 3);
    CHECK(same_bits(g.value(A), fused));
    g.backward(loss);  // Z has two consumers: its gradient is not A's alone, so backward does not fuse
    CHECK(backward_blocks == 3);
}

TEST_CASE("fused and unfused forward give the same values and gradients to the bit on random graphs",
          "[engine][planner][fusion]") {
    for (unsigned seed = 1; seed <= 50; ++seed) {
        // Many samples so most layers take several blocks, and a width that is no multiple of a vector.
        // Poisoning (odd seeds from 25) gives in-place writers their own buffers: backward still fuses.
        const std::size_t m = seed % 2 ? 3001 : 517;
        random_chain fused(seed % 25, 4, m), plain(seed % 25, 4, m);
        fused.g.set_poison_reused_buffers(seed > 25);
        plain.g.set_poison_reused_buffers(seed > 25);
        fused.g.set_fusion(true);
        for (auto* c : {&fused, &plain}) {
            c->g.forward();
            c->g.backward(c->loss);
        }
        INFO("seed " << seed);
        CHECK(same_bits(fused.g.value(fused.loss), plain.g.value(plain.loss)));
        for (std::size_t i = 0; i < fused.values.size(); ++i) {
            if (fused.g.consumers(fused.values[i]).size() == 0) continue;
            CHECK(same_bits(fused.g.value(fused.values[i]), plain.g.value(plain.values[i])));
        }
        auto pf = fused.g.parameters(), pp = plain.g.parameters();
        for (std::size_t i = 0; i < pf.size(); ++i) CHECK(same_bits(fused.g.grad(pf[i]), plain.g.grad(pp[i])));
    }
}

TEST_CASE("an overflow in the fused operand is named by both anomaly checks, though tanh hides it",
          "[engine][planner][fusion]") {
    graph g;
    node X = g.input("X", {2, 3});
    node b = g.parameter("b", {2, 1});
    node W = g.parameter("W", {2, 2});
    node Z = add(matmul(W, X), b, "Z");
    node A = tanh(Z, "A");
    (void)A;
    g.set_poison_reused_buffers(false);
    g.set_fusion(true);
    g.feed(X, tensor{{1, 2, 1e308}, {4, 5, 6}});
    g.value(W) = tensor{{1, 0}, {0, 1}};
    g.value(b) = tensor{{1e308}, {0}};  // W X + b overflows to +inf at (0,2); tanh makes it 1
    for (auto mode : {anomaly_check::every_node, anomaly_check::results}) {
        g.set_anomaly_check(mode);
        CHECK_THROWS_WITH(g.forward(), Catch::StartsWith("anomaly: value of node 'Z' (add, (2x3)) is Inf at (0,2)"));
    }
}
