// The independent reference of bench_workload: vectorisable elementary functions and a fused training loop.
#include "reference_mlp.hpp"

#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

// The loops are compiled for x86-64-v4 (AVX-512), v3 (AVX2, FMA) and the baseline, chosen at load time,
// as a hand-written limit would use the machine (no -ffast-math: IEEE values throughout). GCC vectorises
// every clone only with -fno-trapping-math (bench/CMakeLists.txt); without it, only AVX-512's masks let
// it vectorise the selects.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(SYMGRAD_REFERENCE_NO_CLONES)
#define REFERENCE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define REFERENCE_CLONES
#endif

namespace symgrad::bench::reference {
namespace {

inline double from_bits(std::uint64_t b) {
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
}
inline std::uint64_t to_bits(double d) {
    std::uint64_t b;
    std::memcpy(&b, &d, sizeof b);
    return b;
}

// Adding 1.5 * 2^52 rounds a double below 2^51 to an integer, which then sits in the low bits.
constexpr double round_magic = 0x1.8p52;
constexpr std::uint64_t round_magic_bits = 0x4338000000000000;
constexpr double log2e = 0x1.71547652b82fep0;
constexpr double ln2_hi = 0x1.62e42fee00000p-1;  // 32 significant bits: k * ln2_hi is exact for |k| < 2^21
constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
constexpr double bce_clamp = 1e-12;  // the workload's definition of the cost (as the engine's bce)

// 2^k for an integral k in [-1022, 1023] held in a double: the exponent field built from k's bits.
inline double pow2(double k) {
    std::uint64_t ki = to_bits(k + round_magic) - round_magic_bits;  // k in two's complement
    return from_bits((ki + 1023) << 52);
}

// expm1(r) for |r| <= ln2/2: Taylor series to r^13 (the first term left out is below 5e-18 relative).
inline double expm1_poly(double r) {
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return (p * r) * r + r;
}

// e^x = 2^k (1 + expm1_poly(r)): k = round(x / ln2), r = x - k ln2 in two exact-ish steps (Cody-Waite).
inline double reduce(double x, double& k) {
    k = (x * log2e + round_magic) - round_magic;
    double r = (x - k * ln2_hi) - k * ln2_lo;
    return expm1_poly(r);
}

// tanh |x| = -e / (e + 2) with e = expm1(-2|x|) = 2^k p + (2^k - 1), no cancellation near 0.
inline double tanh_one(double x) {
    double a = std::fabs(x);
    a = a > 20.0 ? 20.0 : a;  // tanh(20) rounds to 1; a NaN stays NaN
    double k;
    double p = reduce(-2.0 * a, k);
    double s = pow2(k);
    double e = s * p + (s - 1.0);
    return std::copysign(-e / (e + 2.0), x);
}

// sigmoid from e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e) below; 2^k in two factors reaches subnormals.
inline double sigmoid_one(double x) {
    double a = std::fabs(x);
    a = a > 746.0 ? 746.0 : a;
    double k;
    double p = reduce(-a, k);
    double k1 = k < -600.0 ? -600.0 : k;
    double e = (1.0 + p) * pow2(k1) * pow2(k - k1);
    double pos = 1.0 / (1.0 + e);
    return x >= 0.0 ? pos : e * pos;
}

// log x = j ln2 + log f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(s), s = (f-1)/(f+1), |s| < 0.172,
// series to s^21 (the first term left out is below 1e-18 relative).
inline double log_one(double x) {
    bool tiny = x < 0x1p-1022;
    double xs = tiny ? x * 0x1p54 : x;
    std::uint64_t b = to_bits(xs);
    double f = from_bits((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    double j = from_bits(round_magic_bits + ((b >> 52) & 0x7ff)) - round_magic - (tiny ? 1077.0 : 1023.0);
    bool high = f > 0x1.6a09e667f3bcdp0;
    f = high ? 0.5 * f : f;
    j = high ? j + 1.0 : j;
    double s = (f - 1.0) / (f + 1.0), z = s * s;
    double q = 2.0 / 21.0;
    q = q * z + 2.0 / 19.0;
    q = q * z + 2.0 / 17.0;
    q = q * z + 2.0 / 15.0;
    q = q * z + 2.0 / 13.0;
    q = q * z + 2.0 / 11.0;
    q = q * z + 2.0 / 9.0;
    q = q * z + 2.0 / 7.0;
    q = q * z + 2.0 / 5.0;
    q = q * z + 2.0 / 3.0;
    double r = j * ln2_hi + (j * ln2_lo + (2.0 * s + s * z * q));
    r = x > 0.0 ? r : (x == 0.0 ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN());
    return x == std::numeric_limits<double>::infinity() ? x : r;
}

// log1p u = log(w) u / (w - 1) with w = 1 + u: the rounding of w cancels (Goldberg, 1991, theorem 4).
inline double log1p_one(double u) {
    double w = 1.0 + u;
    double r = log_one(w) * (u / (w - 1.0));
    r = w == 1.0 ? u : r;
    return u == std::numeric_limits<double>::infinity() ? u : r;
}

// Partial sums in `lanes` independent slots, so the compiler can keep them in one vector register.
constexpr std::size_t lanes = 8;
inline double total(const double (&acc)[lanes]) {
    double s = 0.0;
    for (double a : acc) s += a;
    return s;
}

}  // namespace

REFERENCE_CLONES void tanh_array(const double* in, double* out, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) out[j] = tanh_one(in[j]);
}
REFERENCE_CLONES void sigmoid_array(const double* in, double* out, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) out[j] = sigmoid_one(in[j]);
}
REFERENCE_CLONES void log_array(const double* in, double* out, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) out[j] = log_one(in[j]);
}
REFERENCE_CLONES void log1p_array(const double* in, double* out, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) out[j] = log1p_one(in[j]);
}

namespace {

// Forward, one pass per hidden row: A1 = tanh(Z1 + b1) in place, and Z2 += W2[i] A1[i, :] (Z2 holds b2).
REFERENCE_CLONES void bias_tanh_project(double* row, double bias, double weight, double* z2, std::size_t m) {
    for (std::size_t j = 0; j < m; ++j) {
        double a = tanh_one(row[j] + bias);
        row[j] = a;
        z2[j] += weight * a;
    }
}

// Output, one sample: A2 = sigmoid(z), the clamped cost term with one log (labels are 0 or 1; log(1 - q)
// as log(v) q / (1 - v) with v = 1 - q, Goldberg's identity), and dZ2 = (A2 - y) / m written over z.
inline double sigmoid_bce_one(double& z, double y, double inv_m) {
    double a = sigmoid_one(z);
    double q = a < bce_clamp ? bce_clamp : (a > 1.0 - bce_clamp ? 1.0 - bce_clamp : a);
    bool one = y != 0.0;
    double v = one ? q : 1.0 - q;
    double c = one ? 1.0 : -q / (v - 1.0);  // v - 1 != 0 as q >= 1e-12
    z = (a - y) * inv_m;
    return log_one(v) * c;
}

// The output layer in one pass. Returns the cost sum; db2 (the sum of dZ2) goes to *db2.
REFERENCE_CLONES double sigmoid_bce(double* z2, const double* y, std::size_t m, double inv_m, double* db2) {
    double cost[lanes] = {}, grad[lanes] = {};
    std::size_t j0 = 0;
    for (; j0 + lanes <= m; j0 += lanes)
        for (std::size_t l = 0; l < lanes; ++l) {
            cost[l] += sigmoid_bce_one(z2[j0 + l], y[j0 + l], inv_m);
            grad[l] += z2[j0 + l];
        }
    for (std::size_t j = j0; j < m; ++j) {
        cost[0] += sigmoid_bce_one(z2[j], y[j], inv_m);
        grad[0] += z2[j];
    }
    *db2 = total(grad);
    return total(cost);
}

// Backward, one pass per hidden row: dW2[i] = A1[i, :] dZ2 (A1 read before it is overwritten), then
// dZ1 = W2[i] dZ2 (1 - A1^2) written over A1, and db1[i] = its row sum. Returns {dW2[i], db1[i]}.
struct row_gradients {
    double dw2, db1;
};
REFERENCE_CLONES row_gradients tanh_backward(double* row, const double* dz2, double weight, std::size_t m) {
    double dw[lanes] = {}, db[lanes] = {};
    std::size_t j0 = 0;
    for (; j0 + lanes <= m; j0 += lanes)
        for (std::size_t l = 0; l < lanes; ++l) {
            double a = row[j0 + l], g = dz2[j0 + l];
            double d = weight * g * (1.0 - a * a);
            dw[l] += g * a;
            db[l] += d;
            row[j0 + l] = d;
        }
    for (std::size_t j = j0; j < m; ++j) {
        double a = row[j], g = dz2[j];
        double d = weight * g * (1.0 - a * a);
        dw[0] += g * a;
        db[0] += d;
        row[j] = d;
    }
    return {total(dw), total(db)};
}

}  // namespace

mlp::mlp(std::size_t n, std::size_t h, std::size_t m, const double* X, const double* Y, const double* W1,
         const double* b1, const double* W2, double b2, double learning_rate)
    : n_(n), h_(h), m_(m), lr_(learning_rate), X_(X, X + n * m), Y_(Y, Y + m), W1_(W1, W1 + h * n),
      b1_(b1, b1 + h), W2_(W2, W2 + h), b2_(b2), A1_(h * m), Z2_(m) {
    for (double y : Y_)
        if (y != 0.0 && y != 1.0) throw std::invalid_argument("reference::mlp: labels must be 0 or 1");
}

void mlp::forward_hidden() {
    const int n = int(n_), h = int(h_), m = int(m_);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h, m, n, 1.0, W1_.data(), n, X_.data(), m, 0.0,
                A1_.data(), m);
    for (double& z : Z2_) z = b2_;
    for (std::size_t i = 0; i < h_; ++i) bias_tanh_project(A1_.data() + i * m_, b1_[i], W2_[i], Z2_.data(), m_);
}

double mlp::output_pass() {
    double cost = -sigmoid_bce(Z2_.data(), Y_.data(), m_, 1.0 / double(m_), &db2_) / double(m_);
    b2_ -= lr_ * db2_;
    return cost;
}

// Each row needs only its own W2[i], so W2 and b1 are updated as soon as the row is done; the W1 update
// is folded into the weight-gradient product (beta = 1), so there is no dW1 buffer.
void mlp::backward_hidden() {
    for (std::size_t i = 0; i < h_; ++i) {
        row_gradients g = tanh_backward(A1_.data() + i * m_, Z2_.data(), W2_[i], m_);
        W2_[i] -= lr_ * g.dw2;
        b1_[i] -= lr_ * g.db1;
    }
    const int n = int(n_), h = int(h_), m = int(m_);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h, n, m, -lr_, A1_.data(), m, X_.data(), m, 1.0,
                W1_.data(), n);
}

double mlp::step() {
    forward_hidden();
    double cost = output_pass();
    backward_hidden();
    return cost;
}

}  // namespace symgrad::bench::reference
