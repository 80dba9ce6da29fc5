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
        send_range(0, target_->size(), f);
    }
    // Rows [r0, r1) of send (fusion by blocks of rows; k stays the whole buffer's index).
    template <class F>
    void send_rows(std::size_t r0, std::size_t r1, F f) const {
        send_range(r0 * target_->shape()[1], r1 * target_->shape()[1], f);
    }

    // Element (i, j) receives g(i, j).
    template <class G>
    void send_2d(G g) const {
        send_2d_rows(0, target_->shape()[0], g);
    }

    // The adjoint of broadcasting: the operand was broadcast to (rows x cols) and element (i, j) of that
    // shape contributes g(i, j); each operand element receives the sum over the axes it was broadcast along.
    template <class G>
    void send_summed(std::size_t rows, std::size_t cols, G g) const;
    // Rows [r0, r1) of send_summed, for an operand not broadcast along rows (its shape is rows x cols or
    // rows x 1): each of its rows then depends on the same row of g alone.
    template <class G>
    void send_summed_rows(std::size_t r0, std::size_t r1, std::size_t cols, G g) const;

    // For BLAS calls C = alpha op(A) op(B) + beta C into buffer(): the beta that keeps earlier contributions.
    double blas_beta() const { return adds_ ? 1.0 : 0.0; }
    double* data() const { return target_->data(); }

private:
    template <class F>
    void send_range(std::size_t k0, std::size_t k1, F f) const {
        double* t = target_->data();
        if (adds_)
            for (std::size_t k = k0; k < k1; ++k) t[k] += f(k);
        else
            for (std::size_t k = k0; k < k1; ++k) t[k] = f(k);
    }
    template <class G>
    void send_2d_rows(std::size_t r0, std::size_t r1, G g) const {
        double* t = target_->data();
        const std::size_t cols = target_->shape()[1];
        if (adds_)
            for (std::size_t i = r0; i < r1; ++i)
                for (std::size_t j = 0; j < cols; ++j) t[i * cols + j] += g(i, j);
        else
            for (std::size_t i = r0; i < r1; ++i)
                for (std::size_t j = 0; j < cols; ++j) t[i * cols + j] = g(i, j);
    }
    // Element i of the (rows x 1) target, for i in [r0, r1), receives the sum of g(i, j) over j.
    template <class G>
    void row_sums(std::size_t r0, std::size_t r1, std::size_t cols, G g) const;

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
        row_sums(0, rows, cols, g);
        return;
    }
    if (!adds_)
        for (std::size_t k = 0; k < tr * tc; ++k) t[k] = 0.0;
    const std::size_t rs = tr == 1 ? 0 : tc, cs = tc == 1 ? 0 : 1;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) t[i * rs + j * cs] += g(i, j);
}

template <class G>
void grad_sink::row_sums(std::size_t r0, std::size_t r1, std::size_t cols, G g) const {
    // The (h,1) bias case: a row sum in registers, eight independent partial sums, which GCC keeps in
    // vector registers, so the additions pipeline (the order differs from a single running sum only by
    // rounding; four scalar sums were 4 % of an iteration at size S).
    constexpr std::size_t lanes = 8;
    double* t = target_->data();
    for (std::size_t i = r0; i < r1; ++i) {
        double p[lanes] = {};
        std::size_t j = 0;
        for (; j + lanes <= cols; j += lanes)
            for (std::size_t l = 0; l < lanes; ++l) p[l] += g(i, j + l);
        for (; j < cols; ++j) p[0] += g(i, j);
        const double s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
        t[i] = adds_ ? t[i] + s : s;
    }
}

template <class G>
void grad_sink::send_summed_rows(std::size_t r0, std::size_t r1, std::size_t cols, G g) const {
    if (target_->shape()[1] == 1 && cols != 1) {
        row_sums(r0, r1, cols, g);
        return;
    }
    send_2d_rows(r0, r1, g);
}

}  // namespace symgrad
