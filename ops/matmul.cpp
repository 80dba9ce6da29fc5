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
    void forward(const forward_args& a) const override {
        const tensor &x = *a.in[0], &y = *a.in[1];
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        if (n == 1) return gemv(CblasTrans, k, m, y.data(), x.data(), false, *a.out);  // row = x Y
        if (m == 1) return gemv(CblasNoTrans, n, k, x.data(), y.data(), false, *a.out);  // column = X y
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0, x.data(), k, y.data(), m, 0.0,
                    a.out->data(), m);
    }
    // dA = G B', dB = A' G; transposes are BLAS flags, accumulation is beta = 1.
    void backward(const backward_args& a) const override {
        const tensor &x = *a.in[0], &y = *a.in[1], &g = *a.out_grad;
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        if (a.in_grad[0] && n == 1)  // row dA = g B'
            gemv(CblasNoTrans, k, m, y.data(), g.data(), a.accumulate[0], *a.in_grad[0]);
        else if (a.in_grad[0] && k == 1)  // column dA = G b'
            gemv(CblasNoTrans, n, m, g.data(), y.data(), a.accumulate[0], *a.in_grad[0]);
        else if (a.in_grad[0])
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, m, 1.0, g.data(), m, y.data(), m,
                        a.accumulate[0] ? 1.0 : 0.0, a.in_grad[0]->data(), k);
        if (a.in_grad[1] && m == 1)  // column dB = A' g
            gemv(CblasTrans, n, k, x.data(), g.data(), a.accumulate[1], *a.in_grad[1]);
        else if (a.in_grad[1])
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n, 1.0, x.data(), k, g.data(), m,
                        a.accumulate[1] ? 1.0 : 0.0, a.in_grad[1]->data(), m);
    }

private:
    // out (a vector) = / += op(M) v for the row-major rows x cols matrix M. A product with a vector
    // result goes through dgemv, which streams M once, where dgemm would first copy (pack) all of it.
    // Overwriting zero-fills the short output and adds, so stale contents never leak in through beta.
    static void gemv(CBLAS_TRANSPOSE t, int rows, int cols, const double* M, const double* v, bool accumulate,
                     tensor& out) {
        if (!accumulate) out.fill(0.0);
        cblas_dgemv(CblasRowMajor, t, rows, cols, 1.0, M, cols, v, 1, 1.0, out.data(), 1);
    }
};

}  // namespace

node matmul(node a, node b, const std::string& name) { return make_node(std::make_unique<matmul_op>(), {a, b}, name); }

}  // namespace symgrad
