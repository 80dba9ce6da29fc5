// An independent reference for bench_workload: the issue-5 network trained by hand-derived, fused loops.
//
// It shares no code with the engine (no engine/, ops/ or models/ header): its own buffers, its own
// vectorisable tanh/sigmoid/log written as plain loops the compiler vectorises, and cblas_dgemm for the
// two large products. It is the yardstick of docs/performance.md ("the independent reference").
#pragma once
#include <cstddef>
#include <vector>

namespace symgrad::bench::reference {

// Elementwise functions on arrays (out may equal in). Accuracy against the long double functions over
// sweeps of the whole range (tests/test_bench_reference.cpp checks these bounds; measured maxima on x86-64
// baseline, v3 and v4 builds in brackets):
//   tanh_array: every double, within 3 units in the last place (2.50);
//   sigmoid_array: 1/(1+exp(-x)) within 3 ulp for x >= -708 (2.72); below, where the result is subnormal,
//                  within 2 * 2^-1074 absolutely (0.90);
//   log_array: every positive double, within 2.5 ulp (1.95);
//   log1p_array: every u > -1, within 4 ulp (3.31).
// Special values: NaN gives NaN; log(0) = -inf, log(+inf) = +inf, log of a negative number is NaN.
constexpr double tanh_max_ulp = 3.0;
constexpr double sigmoid_max_ulp = 3.0;
constexpr double sigmoid_subnormal_max_error = 2 * 0x1p-1074;
constexpr double log_max_ulp = 2.5;
constexpr double log1p_max_ulp = 4.0;

void tanh_array(const double* in, double* out, std::size_t n);
void sigmoid_array(const double* in, double* out, std::size_t n);
void log_array(const double* in, double* out, std::size_t n);
void log1p_array(const double* in, double* out, std::size_t n);

// The article's network A1 = tanh(W1 X + b1), A2 = sigmoid(W2 A1 + b2), J = bce(A2, Y) with labels 0
// or 1 and probabilities clamped to [1e-12, 1 - 1e-12] in the logs (the workload's definition), trained
// by full-batch gradient descent. Row-major arrays: X is n x m, Y 1 x m, W1 h x n, b1 h, W2 1 x h.
class mlp {
public:
    mlp(std::size_t n, std::size_t h, std::size_t m, const double* X, const double* Y, const double* W1,
        const double* b1, const double* W2, double b2, double learning_rate);
    // One iteration: forward pass, cost, gradients and the update. Returns the forward pass's cost.
    double step();

private:
    void forward_hidden();
    double output_pass();
    void backward_hidden();

    std::size_t n_, h_, m_;
    double lr_;
    std::vector<double> X_, Y_, W1_, b1_, W2_;
    double b2_;
    std::vector<double> A1_;  // A1 in the forward pass, then dZ1 in its place
    std::vector<double> Z2_;  // the output logits, then dZ2 in their place
    double db2_ = 0.0;
};

}  // namespace symgrad::bench::reference
