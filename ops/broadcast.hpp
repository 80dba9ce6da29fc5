// NumPy broadcasting between matrices for elementwise ops: the shape rule and a strided read view.
// Its adjoint, summing over the broadcast axes, is grad_sink::send_summed.
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

}  // namespace symgrad::detail
