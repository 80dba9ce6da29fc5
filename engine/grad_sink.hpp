// Where an op's backward sends one operand's gradient: the sink overwrites on the operand's first
// contribution of a pass and adds on later ones (fan-out), so an op never needs to know which.
#pragma once
#include <cstddef>

#include "engine/tensor.hpp"

namespace symgrad {

class grad_sink {
public:
    grad_sink() = default;
    // Set up by the planner: `adds` is false for the operand's first contribution of each pass.
    grad_sink(tensor* target, bool adds) : target_(target), adds_(adds) {}

    // False when the operand needs no gradient this pass; backward then skips it.
    explicit operator bool() const { return target_ != nullptr; }
    // True when the gradient lives in `t`'s buffer: the planner runs elementwise backwards in place on
    // out_grad, so an op must read what it needs from out_grad before it sends to an aliased sink.
    bool aliases(const tensor& t) const { return target_ == &t; }
    shape2 shape() const { return shape_of(*target_); }
    const tensor& buffer() const { return *target_; }

    // Element k (row-major) receives f(k). Two plain loops, so the hot ones stay vectorizable.
    template <class F>
    void send(F f) const {
        double* t = target_->data();
        const std::size_t n = target_->size();
        if (adds_)
            for (std::size_t k = 0; k < n; ++k) t[k] += f(k);
        else
            for (std::size_t k = 0; k < n; ++k) t[k] = f(k);
    }

    // Element (i, j) receives g(i, j).
    template <class G>
    void send_2d(G g) const {
        double* t = target_->data();
        const std::size_t rows = target_->shape()[0], cols = target_->shape()[1];
        if (adds_)
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j) t[i * cols + j] += g(i, j);
        else
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j) t[i * cols + j] = g(i, j);
    }

    // The adjoint of broadcasting: the operand was broadcast to (rows x cols) and element (i, j) of that
    // shape contributes g(i, j); each operand element receives the sum over the axes it was broadcast along.
    template <class G>
    void send_summed(std::size_t rows, std::size_t cols, G g) const;

    // For BLAS calls C = alpha op(A) op(B) + beta C into buffer(): the beta that keeps earlier contributions.
    double blas_beta() const { return adds_ ? 1.0 : 0.0; }
    double* data() const { return target_->data(); }

private:
    tensor* target_ = nullptr;
    bool adds_ = false;
};

template <class G>
void grad_sink::send_summed(std::size_t rows, std::size_t cols, G g) const {
    const std::size_t tr = target_->shape()[0], tc = target_->shape()[1];
    double* t = target_->data();
    if (tr == rows && tc == cols) {  // no broadcast: elementwise, and may alias g's source
        send_2d(g);
        return;
    }
    if (tr == rows && tc == 1) {
        // The (h,1) bias case: a row sum in registers, four independent partial sums so the additions
        // pipeline (the order differs from a single running sum only by rounding).
        for (std::size_t i = 0; i < rows; ++i) {
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            std::size_t j = 0;
            for (; j + 4 <= cols; j += 4) {
                s0 += g(i, j);
                s1 += g(i, j + 1);
                s2 += g(i, j + 2);
                s3 += g(i, j + 3);
            }
            for (; j < cols; ++j) s0 += g(i, j);
            const double s = (s0 + s1) + (s2 + s3);
            t[i] = adds_ ? t[i] + s : s;
        }
        return;
    }
    if (!adds_)
        for (std::size_t k = 0; k < tr * tc; ++k) t[k] = 0.0;
    const std::size_t rs = tr == 1 ? 0 : tc, cs = tc == 1 ? 0 : 1;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) t[i * rs + j * cs] += g(i, j);
}

}  // namespace symgrad
