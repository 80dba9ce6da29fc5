// The interface every operation implements: shape rule, forward and vector-Jacobian product.
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "engine/tensor.hpp"

namespace symgrad {

constexpr std::size_t max_arity = 2;

// What an op sees of an operand when the graph is built: enough to check shapes and name it in errors.
struct operand_info {
    std::string_view name;
    shape2 shape;
};

struct forward_args {
    std::array<const tensor*, max_arity> in{};
    tensor* out = nullptr;
};

// in_grad[i] is null when operand i needs no gradient. When accumulate[i] is false the op overwrites
// in_grad[i] (it is the operand's first contribution this pass); when true it adds to it (fan-out).
// in_grad[i] may be the same buffer as out_grad (the planner aliases them when it is safe), so an op
// must write each element only after reading the elements of out_grad and out it needs for it.
struct backward_args {
    std::array<const tensor*, max_arity> in{};
    const tensor* out = nullptr;
    const tensor* out_grad = nullptr;
    std::array<tensor*, max_arity> in_grad{};
    std::array<bool, max_arity> accumulate{};
};

class op {
public:
    virtual ~op() = default;
    // Short lower-case name used in errors, DOT labels and structural analysis ("matmul", "tanh").
    virtual std::string_view kind() const = 0;
    virtual std::size_t arity() const = 0;
    // Throws graph_error naming the op, the operands and their shapes when they do not fit.
    virtual shape2 output_shape(const std::array<operand_info, max_arity>& in) const = 0;
    virtual void forward(const forward_args& a) const = 0;
    virtual void backward(const backward_args& a) const = 0;
    // Which saved tensors backward reads; lets the planner reuse the others' buffers.
    virtual bool backward_reads_input(std::size_t /*i*/) const { return true; }
    virtual bool backward_reads_output() const { return false; }
    // True when forward may write its result into operand i's buffer (same shape, element by element).
    virtual bool forward_in_place_ok(std::size_t /*i*/) const { return false; }
    // True when backward may write operand i's gradient into out_grad's buffer (same shape, elementwise).
    virtual bool backward_in_place_ok(std::size_t /*i*/) const { return false; }
    // Label for DOT and reports, e.g. "scale(0.5)"; kind() by default.
    virtual std::string label() const { return std::string(kind()); }
};

// "add: cannot broadcast Z (4x891) and b (3x1)": the one format every shape error uses (docs/engine.md).
[[noreturn]] void throw_shape_error(std::string_view op_kind, const operand_info& a, const operand_info* b,
                                    std::string_view what);

}  // namespace symgrad
