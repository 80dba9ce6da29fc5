// The one base of the elementwise unary ops (activations, neg, scale): shape rule, in-place eligibility
// and the chain rule; a derived op gives kind(), saves(), forward and its local derivative.
#pragma once
#include <array>
#include <cstddef>

#include "engine/op.hpp"

namespace symgrad::detail {

class elementwise_unary_op : public op {
public:
    std::size_t arity() const final { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const final { return in[0].shape; }
    bool elementwise() const final { return true; }

protected:
    // The operand receives g * d(k), where d(k) is the local derivative at element k (it reads what
    // saves() declares: the output or the input).
    template <class D>
    static void chain(const backward_args& a, D d) {
        if (!a.in_grad[0]) return;
        const double* g = a.out_grad->data();
        a.in_grad[0].send([g, d](std::size_t k) { return g[k] * d(k); });
    }
    // chain() with out_grad(i, j) = u[i] * v[j] never written (op::backward_outer): the same rounded
    // product, then times d, so the operand gets chain()'s bits.
    template <class D>
    static void chain_outer(const backward_args& a, const outer_factors& g, D d) {
        if (!a.in_grad[0]) return;
        const std::size_t cols = a.in_grad[0].shape().cols;
        const double *u = g.u, *v = g.v;
        a.in_grad[0].send_2d([u, v, d, cols](std::size_t i, std::size_t j) { return (u[i] * v[j]) * d(i * cols + j); });
    }
};

}  // namespace symgrad::detail
