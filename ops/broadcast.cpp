// Broadcast shape rule shared by add, sub and mul.
#include "ops/broadcast.hpp"

namespace symgrad::detail {

shape2 broadcast_shape(std::string_view op_kind, const operand_info& a, const operand_info& b) {
    auto dim = [&](std::size_t x, std::size_t y) {
        if (x == y || y == 1) return x;
        if (x == 1) return y;
        throw_shape_error(op_kind, a, &b, "cannot broadcast");
    };
    return {dim(a.shape.rows, b.shape.rows), dim(a.shape.cols, b.shape.cols)};
}

}  // namespace symgrad::detail
