// matmul: (n x k)(k x m) -> (n x m) with cblas_dgemm straight on the planned buffers.
#include <cblas.h>

#include "engine/graph.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

class matmul_op final : public op {
public:
    std::string_view kind() const override { return "matmul"; }
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        if (in[0].shape.cols != in[1].shape.rows) throw_shape_error(kind(), in[0], &in[1], "cannot multiply");
        return {in[0].shape.rows, in[1].shape.cols};
    }
    void forward(const forward_args& a) const override {
        const tensor &x = *a.in[0], &y = *a.in[1];
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0, x.data(), k, y.data(), m, 0.0,
                    a.out->data(), m);
    }
    // dA = G B', dB = A' G; transposes are BLAS flags, accumulation is beta = 1.
    void backward(const backward_args& a) const override {
        const tensor &x = *a.in[0], &y = *a.in[1], &g = *a.out_grad;
        int n = int(x.shape()[0]), k = int(x.shape()[1]), m = int(y.shape()[1]);
        if (a.in_grad[0])
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, m, 1.0, g.data(), m, y.data(), m,
                        a.accumulate[0] ? 1.0 : 0.0, a.in_grad[0]->data(), k);
        if (a.in_grad[1])
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n, 1.0, x.data(), k, g.data(), m,
                        a.accumulate[1] ? 1.0 : 0.0, a.in_grad[1]->data(), m);
    }
};

}  // namespace

node matmul(node a, node b, const std::string& name) { return make_node(std::make_unique<matmul_op>(), {a, b}, name); }

}  // namespace symgrad
