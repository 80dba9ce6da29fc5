// Cross-entropy losses: binary from probabilities (clamped logs) and from logits (stable form), and the
// multi-class softmax_cross_entropy with the column softmax it reports.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/graph.hpp"
#include "ops/kernels.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

// Column j's log-sum-exp, max + log(sum exp(z - max)): every exp is at most 1, so logits of 1e3 or 1e300
// neither overflow nor lose the largest term. Columns are strided by `cols` in the row-major buffer.
double column_logsumexp(const double* z, std::size_t rows, std::size_t cols, std::size_t j) {
    double top = z[j];
    for (std::size_t i = 1; i < rows; ++i) top = std::max(top, z[i * cols + j]);
    double s = 0.0;
    for (std::size_t i = 0; i < rows; ++i) s += std::exp(z[i * cols + j] - top);
    return top + std::log(s);
}

// Writes v into element k of a sink's buffer, keeping an earlier contribution when the sink adds (the
// ops below walk column by column, which send_2d's row order does not allow).
struct direct_sink {
    double* t;
    double beta;
    void put(std::size_t k, double v) const { t[k] = beta * t[k] + v; }
};
direct_sink direct(const grad_sink& s) { return {s.data(), s.blas_beta()}; }

class bce_base : public op {
public:
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        if (in[0].shape != in[1].shape) throw_shape_error(kind(), in[0], &in[1], "needs equal shapes, got");
        return {1, 1};
    }
};

// bce's loops are compiled for AVX-512, AVX2 and the baseline, chosen at load time (GCC's target_clones;
// the benchmark's independent reference has its own copy of this). Every clone gives the same bits: the
// loops take exact IEEE operations in the source's order, and where FMA contraction may apply the product
// is exact (a factor of 0 or +-1), so a fused multiply-add rounds the same; a gradient added to a sink goes
// through memory first for that reason.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SYMGRAD_LOSS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SYMGRAD_LOSS_CLONES
#endif

// The loops below are written so that GCC vectorises them (even at SSE2). Under the default
// -ftrapping-math it will not evaluate arithmetic a ?: skips, and its partial-redundancy elimination moves
// arithmetic on a selected value into the select's arms; either way the loop keeps a branch and stays
// scalar. So selects pick loaded values or constants, never feed arithmetic in the same loop (the clamped
// probabilities go to a buffer first), and constants are combined exactly: 0 + 1 x = x, 1 + (-1) x = 1 - x,
// and adding a zero or multiplying by 1 changes no nonzero x.
inline double indicator(bool c) { return c ? 1.0 : 0.0; }
// q for a label of 1 (one = 1), 1 - q for 0 (one = 0), with the bits of one ? q : 1 - q.
inline double labelled_argument(double q, double one) { return (1.0 - one) + (2.0 * one - 1.0) * q; }

// q[k] = std::clamp(p[k], bce_clamp, 1 - bce_clamp) as two selects of a loaded value: the same value for
// every p, and a NaN fails both comparisons and passes through, so a NaN probability still gives a NaN
// cost and gradient.
SYMGRAD_LOSS_CLONES void clamp_probabilities(const double* p, double* q, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        double v = p[k] < bce_clamp ? bce_clamp : p[k];
        q[k] = v > 1.0 - bce_clamp ? 1.0 - bce_clamp : v;
    }
}

// The sum of f(k) over k < n in eight interleaved partial sums, which GCC keeps in vector registers (a
// single running sum is a chain of dependent additions, 3-4 cycles each). The order differs from a running
// sum's, so the result may differ from it by rounding; the same n and values give the same bits.
template <class F>
double lane_sum(std::size_t n, F f) {
    constexpr std::size_t lanes = 8;
    double part[lanes] = {};
    std::size_t k = 0;
    for (; k + lanes <= n; k += lanes)
        for (std::size_t l = 0; l < lanes; ++l) part[l] += f(k + l);
    for (std::size_t l = 0; k + l < n; ++l) part[l] += f(k + l);
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// True when every label is 0 or 1 (a NaN is neither): a count, exact in any order, so it vectorises.
SYMGRAD_LOSS_CLONES bool binary_labels(const double* y, std::size_t n) {
    return lane_sum(n, [y](std::size_t k) { return indicator((y[k] != 0.0) & (y[k] != 1.0)); }) == 0.0;
}

// The sum over k of log q_k (label 1) or log1p(-q_k) (label 0), q the clamped probability, from one
// pass of the vectorised log (ops/kernels.hpp, <= 1 ulp) over q_k or w_k = 1 - q_k rounded. log(w)
// alone would lose every digit of log1p(-q) as q nears the clamp of 1e-12; the rounding error of w,
// d = (1 - w) - q (exact: both subtractions are exact by Sterbenz's lemma for q < 1/2, and d = 0 from
// 1/2 up), puts it back: log1p(-q) = log(w + d) = log w + d / w + O(d^2), and d / w = d (1 + q) up to
// d q^2 / (1 - q), a quarter of an ulp at most (at q = 1/2). So no division, and within 2 ulp of log1p:
// the log's 1, the sum's 0.5, that 0.25 (tests/test_ops_losses.cpp measures it against long double).
SYMGRAD_LOSS_CLONES double labelled_log_sum(const double* q, const double* y, double* u, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) u[k] = labelled_argument(q[k], indicator(y[k] == 1.0));
    kernels::log(u, u, n);
    for (std::size_t k = 0; k < n; ++k) {
        double zero = 1.0 - indicator(y[k] == 1.0), w = 1.0 - q[k];
        u[k] += zero * (((1.0 - w) - q[k]) * (1.0 + q[k]));  // label 1: log q + 0
    }
    return lane_sum(n, [u](std::size_t k) { return u[k]; });
}

// g (+-1) / (q or 1 - q) for 0/1 labels into t, or added to it through `spare` (n doubles) so that no clone
// fuses the product into the sum (bce's backward, below, says why this is its gradient).
SYMGRAD_LOSS_CLONES void binary_label_gradient(const double* q, const double* y, double g, double* t, bool adds,
                                              double* spare, std::size_t n) {
    double* v = adds ? spare : t;
    for (std::size_t k = 0; k < n; ++k) {
        double one = indicator(y[k] == 1.0);
        v[k] = g * ((1.0 - 2.0 * one) / labelled_argument(q[k], one));
    }
    if (adds)
        for (std::size_t k = 0; k < n; ++k) t[k] += v[k];
}

// The buffer an op keeps from pass to pass: grown once per batch size, so a steady pass allocates nothing.
double* scratch(std::vector<double>& buffer, std::size_t n) {
    if (buffer.size() < n) buffer.resize(n);
    return buffer.data();
}

class bce_op final : public bce_base {
public:
    std::string_view kind() const override { return "bce"; }
    // J = -mean(y log a + (1 - y) log(1 - a)), a clamped to [c, 1 - c].
    void forward(const forward_args& a) const override {
        const double *p = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double *q = scratch(clamped_, n), *u = scratch(arguments_, n);
        clamp_probabilities(p, q, n);
        double s = binary_labels(y, n) ? labelled_log_sum(q, y, u, n) : general_sum(q, y, n);
        (*a.out)(0, 0) = -s / double(n);
    }
    // Any labels: both terms, with libm's log and log1p (for a 0/1 label the other term is an exact zero).
    static double general_sum(const double* q, const double* y, std::size_t n) {
        double s = 0.0;
        for (std::size_t k = 0; k < n; ++k) s += y[k] * std::log(q[k]) + (1.0 - y[k]) * std::log1p(-q[k]);
        return s;
    }

    // dJ/da = (-(y / a) + (1 - y) / (1 - a)) / N with the clamped a; dJ/dy = (log(1 - a) - log a) / N.
    void backward(const backward_args& a) const override {
        const double* y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double g = (*a.out_grad)(0, 0) / double(n);
        double* q = scratch(clamped_, n);
        clamp_probabilities(a.in[0]->data(), q, n);
        if (a.in_grad[0]) send_probability_gradient(a.in_grad[0], q, y, scratch(arguments_, n), n, g);
        if (a.in_grad[1]) a.in_grad[1].send([&](std::size_t k) { return g * (std::log1p(-q[k]) - std::log(q[k])); });
    }
    // For a label of 1, -(y/q) + (1-y)/(1-q) is -(1/q) + 0, and for 0 it is -0 + 1/(1-q): the zero term is
    // exact and the other is nonzero (finite, or NaN with q), so adding it changes no bit. That leaves one
    // division, (-1 or 1) / (q or 1 - q), with the two-division formula's bits (negation is exact), which
    // tests/test_ops_losses.cpp checks against that formula. Other labels keep the formula.
    static void send_probability_gradient(const grad_sink& sink, const double* q, const double* y, double* spare,
                                          std::size_t n, double g) {
        if (binary_labels(y, n))
            binary_label_gradient(q, y, g, sink.data(), sink.blas_beta() != 0.0, spare, n);
        else
            sink.send([&](std::size_t k) { return g * (-(y[k] / q[k]) + (1.0 - y[k]) / (1.0 - q[k])); });
    }

private:
    mutable std::vector<double> clamped_;    // the clamped probabilities
    mutable std::vector<double> arguments_;  // the logs' arguments, then the terms; backward's spare
};

// Each element's log1p(e^-|z|) and sigmoid(z) use e = e^-|z| <= 1, which never overflows, from the
// vectorised exp, log and sigmoid (ops/kernels.hpp) on buffers kept from pass to pass.
class bce_with_logits_op final : public bce_base {
public:
    std::string_view kind() const override { return "bce_with_logits"; }
    // J = mean(max(z, 0) - z y + log1p(e)), e = e^-|z|, log1p(e) by Goldberg's identity from w = 1 + e
    // rounded: log(w) * e / (w - 1), or e where w == 1 (the rounding of w cancels in the quotient). The
    // passes are split where a select would otherwise keep a loop scalar (see indicator above).
    void forward(const forward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double *e = scratch(exps_, n), *t = scratch(terms_, n), *l = scratch(logs_, n);
        for (std::size_t k = 0; k < n; ++k) {
            e[k] = -std::abs(z[k]);
            t[k] = z[k] < 0.0 ? 0.0 : z[k];  // std::max(z, 0.0)
        }
        kernels::exp(e, e, n);
        for (std::size_t k = 0; k < n; ++k) {
            t[k] -= z[k] * y[k];
            l[k] = 1.0 + e[k];
        }
        kernels::log(l, l, n);
        for (std::size_t k = 0; k < n; ++k) l[k] *= e[k] / ((1.0 + e[k]) - 1.0);  // inf or NaN where w == 1
        for (std::size_t k = 0; k < n; ++k) l[k] = 1.0 + e[k] == 1.0 ? e[k] : l[k];
        (*a.out)(0, 0) = lane_sum(n, [t, l](std::size_t k) { return t[k] + l[k]; }) / double(n);
    }
    // dJ/dz = (sigmoid(z) - y) / N, sigmoid by the vectorised kernel (no overflow); dJ/dy = -z / N.
    void backward(const backward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double g = (*a.out_grad)(0, 0) / double(n);
        if (a.in_grad[0]) {
            double* s = scratch(exps_, n);
            kernels::sigmoid(z, s, n);
            a.in_grad[0].send([&](std::size_t k) { return g * (s[k] - y[k]); });
        }
        if (a.in_grad[1]) a.in_grad[1].send([&](std::size_t k) { return -g * z[k]; });
    }

private:
    mutable std::vector<double> exps_, logs_, terms_;  // e^-|z| (or the sigmoids), log(1 + e), max(z, 0) - z y
};

// Mean over the m columns (samples) of -sum_c y_c log softmax(z)_c, softmax taken down each column of the
// k x m logits. Backward reads only the inputs: it recomputes each column's log-sum-exp, which costs k
// exps per column and saves the planner a k x m buffer.
class softmax_cross_entropy_op final : public op {
public:
    std::string_view kind() const override { return op_kinds::softmax_cross_entropy; }
    std::size_t arity() const override { return 2; }
    saved saves() const override { return saved::inputs; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        if (in[0].shape != in[1].shape) throw_shape_error(kind(), in[0], &in[1], "needs equal shapes, got");
        return {1, 1};
    }
    // -log softmax(z)_c = lse - z_c, finite for any finite z.
    void forward(const forward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        const std::size_t rows = a.in[0]->shape()[0], cols = a.in[0]->shape()[1];
        double s = 0.0;
        for (std::size_t j = 0; j < cols; ++j) {
            const double lse = column_logsumexp(z, rows, cols, j);
            for (std::size_t i = 0; i < rows; ++i) s += y[i * cols + j] * (lse - z[i * cols + j]);
        }
        (*a.out)(0, 0) = s / double(cols);
    }
    // dJ/dz_c = (softmax(z)_c * sum_c' y_c' - y_c) / m, which is (softmax(z) - y) / m for one-hot or
    // probability columns (the general form keeps gradcheck exact for any y); dJ/dy_c = (lse - z_c) / m.
    void backward(const backward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        const std::size_t rows = a.in[0]->shape()[0], cols = a.in[0]->shape()[1];
        const double g = (*a.out_grad)(0, 0) / double(cols);
        for (std::size_t j = 0; j < cols; ++j) {
            const double lse = column_logsumexp(z, rows, cols, j);
            double mass = 0.0;
            for (std::size_t i = 0; i < rows; ++i) mass += y[i * cols + j];
            for (std::size_t i = 0; i < rows; ++i) {
                const std::size_t k = i * cols + j;
                if (a.in_grad[0]) direct(a.in_grad[0]).put(k, g * (std::exp(z[k] - lse) * mass - y[k]));
                if (a.in_grad[1]) direct(a.in_grad[1]).put(k, g * (lse - z[k]));
            }
        }
    }
};

// softmax down each column of k x m logits: the class probabilities of each sample. Backward reads the
// output: dz_c = s_c (g_c - sum_c' g_c' s_c').
class softmax_op final : public op {
public:
    std::string_view kind() const override { return op_kinds::softmax; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    saved saves() const override { return saved::output; }
    void forward(const forward_args& a) const override {
        const double* z = a.in[0]->data();
        double* o = a.out->data();
        const std::size_t rows = a.in[0]->shape()[0], cols = a.in[0]->shape()[1];
        for (std::size_t j = 0; j < cols; ++j) {
            const double lse = column_logsumexp(z, rows, cols, j);
            for (std::size_t i = 0; i < rows; ++i) o[i * cols + j] = std::exp(z[i * cols + j] - lse);
        }
    }
    void backward(const backward_args& a) const override {
        if (!a.in_grad[0]) return;
        const double *s = a.out->data(), *g = a.out_grad->data();
        const std::size_t rows = a.out->shape()[0], cols = a.out->shape()[1];
        const direct_sink out = direct(a.in_grad[0]);
        for (std::size_t j = 0; j < cols; ++j) {
            double dot = 0.0;
            for (std::size_t i = 0; i < rows; ++i) dot += g[i * cols + j] * s[i * cols + j];
            for (std::size_t i = 0; i < rows; ++i) out.put(i * cols + j, s[i * cols + j] * (g[i * cols + j] - dot));
        }
    }
};

}  // namespace

node bce(node probabilities, node labels, const std::string& name) {
    return make_node(std::make_unique<bce_op>(), {probabilities, labels}, name);
}
node bce_with_logits(node logits, node labels, const std::string& name) {
    return make_node(std::make_unique<bce_with_logits_op>(), {logits, labels}, name);
}
node softmax_cross_entropy(node logits, node labels, const std::string& name) {
    return make_node(std::make_unique<softmax_cross_entropy_op>(), {logits, labels}, name);
}
node softmax(node logits, const std::string& name) { return make_node(std::make_unique<softmax_op>(), {logits}, name); }

}  // namespace symgrad
