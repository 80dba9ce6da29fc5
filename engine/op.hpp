// The interface every operation implements: shape rule, forward, vector-Jacobian product, and what
// backward saves.
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "engine/grad_sink.hpp"
#include "engine/tensor.hpp"

namespace symgrad {

constexpr std::size_t max_arity = 2;

// What an op sees of an operand when the graph is built: enough to check shapes and name it in errors.
struct operand_info {
    std::string_view name;
    shape2 shape;
};

// out may be the buffer of an operand of the same shape when the op is elementwise (see op::elementwise).
struct forward_args {
    std::array<const tensor*, max_arity> in{};
    tensor* out = nullptr;
};

// in_grad[i] receives operand i's gradient (it is false when operand i needs none). Only what saves()
// declares may be read besides out_grad: the buffers of in or out may hold another node's values by now.
// An operand the op reads twice gets two sinks that both add into a buffer the engine zeroes first, so the
// op may send to them in any order.
struct backward_args {
    std::array<const tensor*, max_arity> in{};
    const tensor* out = nullptr;
    const tensor* out_grad = nullptr;
    std::array<grad_sink, max_arity> in_grad{};
};

// A rank-one gradient u v': element (i, j) is u[i] * v[j]. See op::outer_gradient.
struct outer_factors {
    const double* u = nullptr;
    const double* v = nullptr;
};

// What backward reads besides out_grad; the planner may hand every other buffer to a later node.
enum class saved { nothing = 0, inputs = 1, output = 2, inputs_and_output = 3 };
constexpr bool saves_inputs(saved s) { return s == saved::inputs || s == saved::inputs_and_output; }
constexpr bool saves_output(saved s) { return s == saved::output || s == saved::inputs_and_output; }

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
    // What backward reads (default: the inputs). Declaring less than it reads gives wrong gradients;
    // gradcheck catches that by poisoning the buffers the declaration lets the planner reuse.
    virtual saved saves() const { return saved::inputs; }
    // True when output element k depends only on element k of each operand of the output's shape (and on
    // broadcast operands), and operand k's gradient only on out_grad element k. The planner may then
    // write forward's result over such an operand and its gradient over out_grad, each element after
    // reading it; a binary op sends to a sink that aliases out_grad last.
    virtual bool elementwise() const { return false; }
    // Fusion: an elementwise op that can compute output rows [r0, r1) alone, each element with exactly the
    // arithmetic forward() uses, says so here and implements forward_rows. The planner then runs such an op
    // and the elementwise op that is its only consumer (a bias add and its activation) one block of rows at
    // a time, so the block is still in cache when the second op reads it: one pass over memory, same bits.
    virtual bool has_forward_rows() const { return false; }
    virtual void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const;
    // The same in backward: whether, for these arguments, backward_rows can send every operand's gradient
    // for output rows [r0, r1) alone, writing only the operands' rows [r0, r1) with backward()'s arithmetic
    // (an operand broadcast along rows, summed over all of them, cannot). The planner then runs the op and
    // the op whose gradient it computes (tanh's derivative and the bias row sum) block by block.
    virtual bool has_backward_rows(const backward_args&) const { return false; }
    virtual void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const;
    // Forward folding (on, except under the every-node anomaly check, with poisoning, which plans nothing in
    // place, and for a sum fused into its activation by set_fusion): an op that can add its result into
    // out instead of writing it (a matmul: BLAS's beta = 1) says so and implements forward_accumulate; an op
    // whose result is operand i plus a broadcast of its other operand says has_prefill(i) and implements
    // prefill, which writes that broadcast into out. When out is operand i's buffer (planned in place) and
    // operand i's op accumulates, the planner runs prefill, then that op's forward_accumulate, in place of
    // both forwards: Z = W X + b in one pass, as PyTorch's addmm, and no separate pass adding b.
    virtual bool has_forward_accumulate(const std::array<operand_info, max_arity>& /*in*/) const { return false; }
    virtual void forward_accumulate(const forward_args& a) const;
    virtual bool has_prefill(std::size_t /*operand*/) const { return false; }
    virtual void prefill(const forward_args& a, std::size_t operand) const;
    // Folding (on, except under the every-node anomaly check): an op whose gradient to operand i is, for
    // these arguments, the outer product u v' of buffers it reads (a one-row matmul's dB = a' g) says so
    // here and gives the factors; backward() must send exactly u[i] * v[j]. When that operand is the output
    // of an op with backward_outer, read by this op alone, the planner runs this op without that sink and
    // then the operand's op with the factors in place of out_grad: the h x m gradient is never written.
    virtual bool outer_gradient(const backward_args&, std::size_t /*operand*/, outer_factors&) const { return false; }
    // backward() with out_grad(i, j) = u[i] * v[j], each product rounded as the materialised one would be,
    // so every gradient is backward()'s to the bit (elementwise unary ops).
    virtual bool has_backward_outer() const { return false; }
    virtual void backward_outer(const backward_args& a, const outer_factors& g) const;
    // Label for DOT and reports, e.g. "scale(0.5)"; kind() by default.
    virtual std::string label() const { return std::string(kind()); }
};

// "add: cannot broadcast Z (4x891) and b (3x1)": the one format every shape error uses (docs/engine.md).
[[noreturn]] void throw_shape_error(std::string_view op_kind, const operand_info& a, const operand_info* b,
                                    std::string_view what);

}  // namespace symgrad
