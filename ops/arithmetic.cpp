// add, sub, mul (broadcasting), neg and scale: forward, shape rule and vector-Jacobian product together.
#include <algorithm>

#include "engine/graph.hpp"
#include "ops/broadcast.hpp"
#include "ops/elementwise.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

using detail::broadcast_view;

// The output buffer may be one operand's buffer (planned in place); each element is read before written.
// Output rows [r0, r1) only (fusion computes a block of rows at a time; forward is all of them).
template <class F>
void broadcast_binary(const tensor& a, const tensor& b, tensor& out, F f, std::size_t r0, std::size_t r1) {
    std::size_t r = out.shape()[0], c = out.shape()[1];
    double* o = out.data();
    const double *pa = a.data(), *pb = b.data();
    if (a.shape() == out.shape() && b.shape() == out.shape()) {
        for (std::size_t k = r0 * c; k < r1 * c; ++k) o[k] = f(pa[k], pb[k]);
    } else if (a.shape() == out.shape() && b.shape()[0] == r && b.shape()[1] == 1) {
        for (std::size_t i = r0; i < r1; ++i) {  // (h,m) with an (h,1) column: the bias case
            double bi = pb[i];
            for (std::size_t j = 0; j < c; ++j) o[i * c + j] = f(pa[i * c + j], bi);
        }
    } else {
        auto va = broadcast_view(a), vb = broadcast_view(b);
        for (std::size_t i = r0; i < r1; ++i)
            for (std::size_t j = 0; j < c; ++j) o[i * c + j] = f(va(i, j), vb(i, j));
    }
}

// A broadcasting binary op is a rule: its kind, what backward saves, its value f(x, y), the partial
// derivatives df/dx and df/dy, and which of them is 1 everywhere (an aliased gradient is then in place). This one class broadcasts the forward and sends each operand
// g * partial, summed over the axes it was broadcast along (grad_sink::send_summed).
template <class Rule>
class broadcasting_op final : public op {
public:
    std::string_view kind() const override { return Rule::kind; }
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        return detail::broadcast_shape(kind(), in[0], in[1]);
    }
    saved saves() const override { return Rule::saves; }
    bool elementwise() const override { return true; }
    void forward(const forward_args& a) const override {
        broadcast_binary(*a.in[0], *a.in[1], *a.out, Rule::value, 0, a.out->shape()[0]);
    }
    bool has_forward_rows() const override { return true; }
    void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const override {
        broadcast_binary(*a.in[0], *a.in[1], *a.out, Rule::value, r0, r1);
    }
    // A sum is operand i plus the other operand broadcast (op::has_prefill): out receives that broadcast,
    // and operand i's op adds itself in (x + y and y + x round the same).
    bool has_prefill(std::size_t) const override { return Rule::kind == op_kinds::add; }
    void prefill(const forward_args& a, std::size_t operand) const override {
        const auto other = broadcast_view(*a.in[1 - operand]);
        const std::size_t rows = a.out->shape()[0], cols = a.out->shape()[1];
        for (std::size_t i = 0; i < rows; ++i) {  // a row of the other operand, or one value along the row
            const double* from = other.data + i * other.row_stride;
            double* row = a.out->data() + i * cols;
            if (other.col_stride == 0)
                std::fill(row, row + cols, *from);
            else
                std::copy(from, from + cols, row);
        }
    }
    void backward(const backward_args& a) const override { backward_rows(a, 0, a.out_grad->shape()[0]); }
    // By rows when no operand that needs a gradient is broadcast along rows (summed over all of them).
    bool has_backward_rows(const backward_args& a) const override {
        for (std::size_t i = 0; i < 2; ++i)
            if (a.in_grad[i] && a.in[i]->shape()[0] != a.out_grad->shape()[0]) return false;
        return true;
    }
    void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const override {
        // An operand whose gradient shares out_grad's buffer goes last, after the other has read it.
        if (a.in_grad[0].aliases(*a.out_grad)) {
            send<1>(a, r0, r1);
            send<0>(a, r0, r1);
        } else {
            send<0>(a, r0, r1);
            send<1>(a, r0, r1);
        }
    }

private:
    // Rows [r0, r1) of the output's gradient; all of them (backward) may also sum over broadcast rows.
    template <std::size_t I>
    static void send(const backward_args& a, std::size_t r0, std::size_t r1) {
        const grad_sink& sink = a.in_grad[I];
        if (!sink) return;
        if (Rule::partial_is_one[I] && sink.aliases(*a.out_grad)) return;  // g * 1 is already there
        const double* g = a.out_grad->data();
        const std::size_t rows = a.out_grad->shape()[0], c = a.out_grad->shape()[1];
        auto x = broadcast_view(*a.in[0]), y = broadcast_view(*a.in[1]);
        auto contribution = [g, c, x, y](std::size_t i, std::size_t j) {
            return g[i * c + j] * (I == 0 ? Rule::d_x(x(i, j), y(i, j)) : Rule::d_y(x(i, j), y(i, j)));
        };
        if (r0 == 0 && r1 == rows)
            sink.send_summed(rows, c, contribution);
        else
            sink.send_summed_rows(r0, r1, c, contribution);
    }
};

struct add_rule {
    static constexpr std::string_view kind = op_kinds::add;
    static constexpr saved saves = saved::nothing;
    static constexpr bool partial_is_one[2] = {true, true};
    static double value(double x, double y) { return x + y; }
    static double d_x(double, double) { return 1.0; }
    static double d_y(double, double) { return 1.0; }
};

struct sub_rule {
    static constexpr std::string_view kind = "sub";
    static constexpr saved saves = saved::nothing;
    static constexpr bool partial_is_one[2] = {true, false};
    static double value(double x, double y) { return x - y; }
    static double d_x(double, double) { return 1.0; }
    static double d_y(double, double) { return -1.0; }
};

struct mul_rule {
    static constexpr std::string_view kind = "mul";
    static constexpr saved saves = saved::inputs;
    static constexpr bool partial_is_one[2] = {false, false};
    static double value(double x, double y) { return x * y; }
    static double d_x(double, double y) { return y; }
    static double d_y(double x, double) { return x; }
};

// neg and scale: out = factor * x, so the derivative is the constant factor and backward saves nothing.
class scaling_op : public detail::elementwise_unary_op {
public:
    explicit scaling_op(double factor) : factor_(factor) {}
    saved saves() const override { return saved::nothing; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double* o = a.out->data();
        for (std::size_t k = 0, n = a.out->size(); k < n; ++k) o[k] = factor_ * x[k];
    }
    void backward(const backward_args& a) const override {
        chain(a, [f = factor_](std::size_t) { return f; });
    }

protected:
    double factor_;
};

class neg_op final : public scaling_op {
public:
    neg_op() : scaling_op(-1.0) {}
    std::string_view kind() const override { return "neg"; }
};

class scale_op final : public scaling_op {
public:
    using scaling_op::scaling_op;
    std::string_view kind() const override { return "scale"; }
    std::string label() const override { return "scale(" + std::to_string(factor_) + ")"; }
};

template <class Rule>
node binary(node a, node b, const std::string& name) {
    return make_node(std::make_unique<broadcasting_op<Rule>>(), {a, b}, name);
}

}  // namespace

node add(node a, node b, const std::string& name) { return binary<add_rule>(a, b, name); }
node sub(node a, node b, const std::string& name) { return binary<sub_rule>(a, b, name); }
node mul(node a, node b, const std::string& name) { return binary<mul_rule>(a, b, name); }
node neg(node a, const std::string& name) { return make_node(std::make_unique<neg_op>(), {a}, name); }
node scale(node a, double factor, const std::string& name) {
    return make_node(std::make_unique<scale_op>(factor), {a}, name);
}

}  // namespace symgrad
