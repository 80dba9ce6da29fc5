// matmul: (n x k)(k x m) -> (n x m) with cblas_dgemm straight on the planned buffers.
#include <cblas.h>

#include "engine/graph.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

class matmul_op final : public op {
public:
    std::string_view kind() const override { return op_kinds::matmul; }
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        if (in[0].shape.cols != in[1].shape.rows) throw_shape_error(kind(), in[0], &in[1], "cannot multiply");
        return {in[0].shape.rows, in[1].shape.cols};
    }
    void forward(const forward_args& a) const override { product(a, 0.0); }
    // out += the product (op::forward_accumulate): a bias add prefills out with b, then Z = W X + b is one
    // dgemm with beta = 1, as PyTorch's addmm. Each element gets b added once, as in the unfolded add, but
    // where dgemm splits the inner dimension into blocks (k of several hundred) b joins the first block's
    // partial sum instead of the finished product: a rounding-level difference. Only for the dgemm path:
    // dgemv adds into its output in steps at any k, and a row or column has no pass worth saving.
    bool has_forward_accumulate(const std::array<operand_info, max_arity>& in) const override {
        return in[0].shape.rows != 1 && in[0].shape.cols != 1 && in[1].shape.cols != 1;
    }
    void forward_accumulate(const forward_args& a) const override { product(a, 1.0); }
    // dA = G B', dB = A' G; transposes are BLAS flags, and the sink's beta keeps earlier contributions.
    void backward(const backward_args& a) const override {
        const tensor &x = *a.in[0], &y = *a.in[1], &g = *a.out_grad;
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        const grad_sink &dx = a.in_grad[0], &dy = a.in_grad[1];
        outer_factors f;
        if (dx && n == 1)  // row dA = g B'
            gemv(CblasNoTrans, k, m, y.data(), g.data(), dx);
        else if (dx && k == 1)  // column dA = G b'
            gemv(CblasNoTrans, n, m, g.data(), y.data(), dx);
        else if (dx && outer_gradient(a, 0, f))
            outer(f, dx);
        else if (dx)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, m, 1.0, g.data(), m, y.data(), m,
                        dx.blas_beta(), dx.data(), k);
        if (dy && m == 1)  // column dB = A' g
            gemv(CblasTrans, n, k, x.data(), g.data(), dy);
        else if (dy && outer_gradient(a, 1, f))
            outer(f, dy);
        else if (dy)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n, 1.0, x.data(), k, g.data(), m,
                        dy.blas_beta(), dy.data(), m);
    }
    // The gradients that are outer products, as backward() sends them: a row times a matrix gives
    // dB = a' g (the input gradient of a one-unit layer, which the planner folds into the activation's
    // derivative: op::outer_gradient), a matrix times a column dA = g b' (when neither n nor k is 1).
    bool outer_gradient(const backward_args& a, std::size_t operand, outer_factors& f) const override {
        const tensor &x = *a.in[0], &y = *a.in[1], &g = *a.out_grad;
        const std::size_t n = x.shape()[0], k = x.shape()[1], m = y.shape()[1];
        if (operand == 1 && n == 1 && m != 1)
            f = {x.data(), g.data()};
        else if (operand == 0 && m == 1 && n != 1 && k != 1)
            f = {g.data(), y.data()};
        else
            return false;
        return true;
    }

private:
    // out = x y + beta out, beta 0 or 1.
    static void product(const forward_args& a, double beta) {
        const tensor &x = *a.in[0], &y = *a.in[1];
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        if (beta == 0.0 && (n == 1 || m == 1)) a.out->fill(0.0);
        if (n == 1) return gemv(CblasTrans, k, m, y.data(), x.data(), *a.out);  // row = x Y
        if (m == 1) return gemv(CblasNoTrans, n, k, x.data(), y.data(), *a.out);  // column = X y
        if (k == 1) return outer(x.data(), y.data(), *a.out, beta);              // column times row
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0, x.data(), k, y.data(), m, beta,
                    a.out->data(), m);
    }
    // out (a vector) receives op(M) v for the row-major rows x cols matrix M. A product with a vector
    // result goes through dgemv, which streams M once, where dgemm would first copy (pack) all of it.
    // A first contribution zero-fills the short output and adds, so stale contents never leak in through beta.
    static void gemv(CBLAS_TRANSPOSE t, int rows, int cols, const double* M, const double* v, const grad_sink& out) {
        if (out.blas_beta() == 0.0) out.send([](std::size_t) { return 0.0; });
        cblas_dgemv(CblasRowMajor, t, rows, cols, 1.0, M, cols, v, 1, 1.0, out.data(), 1);
    }
    // out receives the outer product of column u and row v. One pass writing each element once: dgemm
    // with an inner dimension of 1 would zero-fill the output first and pack both operands (measured:
    // the output layer's dA1 = W2' dZ2 took 8 % of an iteration at size M through dgemm). Same bits as
    // dgemm: one rounded product, plus one rounded sum when the sink adds.
    static void outer(const outer_factors& f, const grad_sink& out) {
        out.send_2d([u = f.u, v = f.v](std::size_t i, std::size_t j) { return u[i] * v[j]; });
    }
    static void outer(const double* u, const double* v, tensor& out, double beta) {
        const std::size_t rows = out.shape()[0], cols = out.shape()[1];
        double* o = out.data();
        if (beta == 0.0)  // written, never scaled: a stale or poisoned NaN must not leak in through 0 * NaN
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j) o[i * cols + j] = u[i] * v[j];
        else
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j) o[i * cols + j] += u[i] * v[j];
    }
    // The forward's vector products, added into the output buffer (zeroed first by a plain forward).
    static void gemv(CBLAS_TRANSPOSE t, int rows, int cols, const double* M, const double* v, tensor& out) {
        cblas_dgemv(CblasRowMajor, t, rows, cols, 1.0, M, cols, v, 1, 1.0, out.data(), 1);
    }
};

}  // namespace

node matmul(node a, node b, const std::string& name) { return make_node(std::make_unique<matmul_op>(), {a, b}, name); }

}  // namespace symgrad
