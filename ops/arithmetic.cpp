// add, sub, mul (broadcasting), neg and scale: forward, shape rule and vector-Jacobian product together.
#include "engine/graph.hpp"
#include "ops/broadcast.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

using detail::broadcast_view;
using detail::reduce_to;

// Shared shape and in-place rules of the broadcasting binary ops.
class broadcasting_op : public op {
public:
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        return detail::broadcast_shape(kind(), in[0], in[1]);
    }
    bool forward_in_place_ok(std::size_t) const override { return true; }
    bool backward_in_place_ok(std::size_t) const override { return true; }

protected:
    static std::size_t rows(const tensor& t) { return t.shape()[0]; }
    static std::size_t cols(const tensor& t) { return t.shape()[1]; }
};

// The output buffer may be one operand's buffer (planned in place); each element is read before written.
template <class F>
void broadcast_binary(const tensor& a, const tensor& b, tensor& out, F f) {
    std::size_t r = out.shape()[0], c = out.shape()[1];
    double* o = out.data();
    const double *pa = a.data(), *pb = b.data();
    if (a.shape() == out.shape() && b.shape() == out.shape()) {
        for (std::size_t k = 0; k < r * c; ++k) o[k] = f(pa[k], pb[k]);
    } else if (a.shape() == out.shape() && b.shape()[0] == r && b.shape()[1] == 1) {
        for (std::size_t i = 0; i < r; ++i) {  // (h,m) with an (h,1) column: the bias case
            double bi = pb[i];
            for (std::size_t j = 0; j < c; ++j) o[i * c + j] = f(pa[i * c + j], bi);
        }
    } else {
        auto va = broadcast_view(a), vb = broadcast_view(b);
        for (std::size_t i = 0; i < r; ++i)
            for (std::size_t j = 0; j < c; ++j) o[i * c + j] = f(va(i, j), vb(i, j));
    }
}

// add and sub: out = a + sign * b. The gradient passes straight through (times sign for b), summed over
// the broadcast axes; neither needs its inputs in backward, so both may run in place.
class signed_sum_op : public broadcasting_op {
public:
    explicit signed_sum_op(double sign) : sign_(sign) {}
    bool backward_reads_input(std::size_t) const override { return false; }
    void forward(const forward_args& a) const override {
        double s = sign_;  // x + (-1) * y is exactly x - y in IEEE arithmetic
        broadcast_binary(*a.in[0], *a.in[1], *a.out, [s](double x, double y) { return x + s * y; });
    }
    void backward(const backward_args& a) const override {
        const tensor& g = *a.out_grad;
        const double* pg = g.data();
        std::size_t c = cols(g);
        for (std::size_t i = 0; i < 2; ++i) {
            if (!a.in_grad[i]) continue;
            double sign = i == 0 ? 1.0 : sign_;
            if (a.in_grad[i] == a.out_grad && sign > 0) continue;  // planned in place: already there
            reduce_to(*a.in_grad[i], a.accumulate[i], rows(g), c,
                      [pg, c, sign](std::size_t r, std::size_t k) { return sign * pg[r * c + k]; });
        }
    }

private:
    double sign_;
};

class add_op final : public signed_sum_op {
public:
    add_op() : signed_sum_op(1.0) {}
    std::string_view kind() const override { return op_kinds::add; }
};

class sub_op final : public signed_sum_op {
public:
    sub_op() : signed_sum_op(-1.0) {}
    std::string_view kind() const override { return op_kinds::sub; }
};

class mul_op final : public broadcasting_op {
public:
    std::string_view kind() const override { return op_kinds::mul; }
    void forward(const forward_args& a) const override {
        broadcast_binary(*a.in[0], *a.in[1], *a.out, [](double x, double y) { return x * y; });
    }
    // d a = g * b (summed over a's broadcast axes), d b = g * a.
    void backward(const backward_args& a) const override {
        const tensor& g = *a.out_grad;
        const double* pg = g.data();
        std::size_t c = cols(g);
        // An operand whose gradient shares out_grad's buffer goes last, after the other has read it.
        bool first_aliased = a.in_grad[0] == a.out_grad;
        for (std::size_t step = 0; step < 2; ++step) {
            std::size_t i = first_aliased ? 1 - step : step;
            if (!a.in_grad[i]) continue;
            auto other = broadcast_view(*a.in[1 - i]);
            reduce_to(*a.in_grad[i], a.accumulate[i], rows(g), c,
                      [pg, c, other](std::size_t r, std::size_t k) { return pg[r * c + k] * other(r, k); });
        }
    }
};

// Unary ops whose derivative is a constant factor.
class linear_unary_op : public op {
public:
    explicit linear_unary_op(double factor) : factor_(factor) {}
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    bool backward_reads_input(std::size_t) const override { return false; }
    bool forward_in_place_ok(std::size_t) const override { return true; }
    bool backward_in_place_ok(std::size_t) const override { return true; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double* o = a.out->data();
        for (std::size_t k = 0, n = a.out->size(); k < n; ++k) o[k] = factor_ * x[k];
    }
    void backward(const backward_args& a) const override {
        if (!a.in_grad[0]) return;
        const double* g = a.out_grad->data();
        double* d = a.in_grad[0]->data();
        for (std::size_t k = 0, n = a.out_grad->size(); k < n; ++k)
            d[k] = a.accumulate[0] ? d[k] + factor_ * g[k] : factor_ * g[k];
    }

protected:
    double factor_;
};

class neg_op final : public linear_unary_op {
public:
    neg_op() : linear_unary_op(-1.0) {}
    std::string_view kind() const override { return op_kinds::neg; }
};

class scale_op final : public linear_unary_op {
public:
    using linear_unary_op::linear_unary_op;
    std::string_view kind() const override { return op_kinds::scale; }
    std::string label() const override { return "scale(" + std::to_string(factor_) + ")"; }
};

}  // namespace

node add(node a, node b, const std::string& name) { return make_node(std::make_unique<add_op>(), {a, b}, name); }
node sub(node a, node b, const std::string& name) { return make_node(std::make_unique<sub_op>(), {a, b}, name); }
node mul(node a, node b, const std::string& name) { return make_node(std::make_unique<mul_op>(), {a, b}, name); }
node neg(node a, const std::string& name) { return make_node(std::make_unique<neg_op>(), {a}, name); }
node scale(node a, double factor, const std::string& name) {
    return make_node(std::make_unique<scale_op>(factor), {a}, name);
}

}  // namespace symgrad
