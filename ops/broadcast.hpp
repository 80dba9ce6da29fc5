// NumPy broadcasting between matrices for elementwise ops, and its adjoint (summing over broadcast axes).
#pragma once
#include <cstddef>

#include "engine/op.hpp"
#include "engine/tensor.hpp"

namespace symgrad::detail {

// Broadcast shape of two operands, or a graph_error naming op, operands and shapes.
shape2 broadcast_shape(std::string_view op_kind, const operand_info& a, const operand_info& b);

// A read-only 2-D view whose row/column stride is 0 along a broadcast axis.
struct bview {
    const double* data;
    std::size_t row_stride;
    std::size_t col_stride;
    double operator()(std::size_t i, std::size_t j) const { return data[i * row_stride + j * col_stride]; }
};

inline bview broadcast_view(const tensor& t) {
    std::size_t rows = t.shape()[0], cols = t.shape()[1];
    return {t.data(), rows == 1 ? std::size_t(0) : cols, cols == 1 ? std::size_t(0) : std::size_t(1)};
}

// target (shape t, broadcastable to (rows x cols)) = / += sum over broadcast axes of g(i,j).
// When target has the full shape this is an elementwise store; it may then alias g's source.
template <class G>
void reduce_to(tensor& target, bool accumulate, std::size_t rows, std::size_t cols, G g) {
    std::size_t tr = target.shape()[0], tc = target.shape()[1];
    double* t = target.data();
    if (tr == rows && tc == cols) {
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) {
                double v = g(i, j);
                t[i * cols + j] = accumulate ? t[i * cols + j] + v : v;
            }
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
            double s = (s0 + s1) + (s2 + s3);
            t[i] = accumulate ? t[i] + s : s;
        }
        return;
    }
    if (!accumulate)
        for (std::size_t k = 0; k < tr * tc; ++k) t[k] = 0.0;
    std::size_t rs = tr == 1 ? 0 : tc, cs = tc == 1 ? 0 : 1;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) t[i * rs + j * cs] += g(i, j);
}

}  // namespace symgrad::detail
