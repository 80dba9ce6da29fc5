// tanh, sigmoid, relu, leaky_relu, exp, log: elementwise, each with its derivative written next to it.
#include <cmath>

#include "engine/graph.hpp"
#include "ops/elementwise.hpp"
#include "ops/kernels.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

using detail::elementwise_unary_op;

// Rows [r0, r1) of an elementwise unary op whose forward is kernel(in, out, n): the kernels give each
// element the same bits wherever it sits in the buffer, so a block of rows equals that part of forward().
template <class Kernel>
void kernel_rows(Kernel kernel, const forward_args& a, std::size_t r0, std::size_t r1) {
    const std::size_t c = a.out->shape()[1];
    kernel(a.in[0]->data() + r0 * c, a.out->data() + r0 * c, (r1 - r0) * c);
}

// Rows [r0, r1) of elementwise_unary_op::chain: the same g * d(k) per element.
template <class D>
void chain_rows(const backward_args& a, std::size_t r0, std::size_t r1, D d) {
    if (!a.in_grad[0]) return;
    const double* g = a.out_grad->data();
    a.in_grad[0].send_rows(r0, r1, [g, d](std::size_t k) { return g[k] * d(k); });
}

// The derivatives from the output y, shared by backward and backward_rows.
struct tanh_derivative {
    const double* y;
    double operator()(std::size_t k) const { return 1.0 - y[k] * y[k]; }
};
struct sigmoid_derivative {
    const double* y;
    double operator()(std::size_t k) const { return y[k] * (1.0 - y[k]); }
};
struct relu_derivative {
    const double* y;
    double operator()(std::size_t k) const { return y[k] > 0.0 ? 1.0 : 0.0; }
};

void relu_array(const double* x, double* o, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) o[k] = x[k] > 0.0 ? x[k] : 0.0;
}

class tanh_op final : public elementwise_unary_op {
public:
    std::string_view kind() const override { return op_kinds::tanh; }
    saved saves() const override { return saved::output; }
    void forward(const forward_args& a) const override { kernels::tanh(a.in[0]->data(), a.out->data(), a.out->size()); }
    bool has_forward_rows() const override { return true; }
    void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const override {
        kernel_rows(kernels::tanh, a, r0, r1);
    }
    void backward(const backward_args& a) const override { chain(a, tanh_derivative{a.out->data()}); }  // 1 - tanh^2
    bool has_backward_rows(const backward_args&) const override { return true; }
    void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const override {
        chain_rows(a, r0, r1, tanh_derivative{a.out->data()});
    }
    bool has_backward_outer() const override { return true; }
    void backward_outer(const backward_args& a, const outer_factors& g) const override {
        chain_outer(a, g, tanh_derivative{a.out->data()});
    }
};

class sigmoid_op final : public elementwise_unary_op {
public:
    std::string_view kind() const override { return op_kinds::sigmoid; }
    saved saves() const override { return saved::output; }
    void forward(const forward_args& a) const override {
        kernels::sigmoid(a.in[0]->data(), a.out->data(), a.out->size());
    }
    bool has_forward_rows() const override { return true; }
    void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const override {
        kernel_rows(kernels::sigmoid, a, r0, r1);
    }
    void backward(const backward_args& a) const override { chain(a, sigmoid_derivative{a.out->data()}); }  // s (1 - s)
    bool has_backward_rows(const backward_args&) const override { return true; }
    void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const override {
        chain_rows(a, r0, r1, sigmoid_derivative{a.out->data()});
    }
    bool has_backward_outer() const override { return true; }
    void backward_outer(const backward_args& a, const outer_factors& g) const override {
        chain_outer(a, g, sigmoid_derivative{a.out->data()});
    }
};

class relu_op final : public elementwise_unary_op {
public:
    std::string_view kind() const override { return op_kinds::relu; }
    saved saves() const override { return saved::output; }
    void forward(const forward_args& a) const override { relu_array(a.in[0]->data(), a.out->data(), a.out->size()); }
    bool has_forward_rows() const override { return true; }
    void forward_rows(const forward_args& a, std::size_t r0, std::size_t r1) const override {
        kernel_rows(relu_array, a, r0, r1);
    }
    // 1 where the output is positive (0 at 0)
    void backward(const backward_args& a) const override { chain(a, relu_derivative{a.out->data()}); }
    bool has_backward_rows(const backward_args&) const override { return true; }
    void backward_rows(const backward_args& a, std::size_t r0, std::size_t r1) const override {
        chain_rows(a, r0, r1, relu_derivative{a.out->data()});
    }
    bool has_backward_outer() const override { return true; }
    void backward_outer(const backward_args& a, const outer_factors& g) const override {
        chain_outer(a, g, relu_derivative{a.out->data()});
    }
};

// x for x > 0, slope * x otherwise. Backward reads the input: with a negative slope the output's sign
// would not tell the two sides apart.
class leaky_relu_op final : public elementwise_unary_op {
public:
    explicit leaky_relu_op(double slope) : slope_(slope) {}
    std::string_view kind() const override { return "leaky_relu"; }
    std::string label() const override { return "leaky_relu(" + std::to_string(slope_) + ")"; }
    saved saves() const override { return saved::inputs; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double* o = a.out->data();
        for (std::size_t k = 0, n = a.out->size(); k < n; ++k) o[k] = x[k] > 0.0 ? x[k] : slope_ * x[k];
    }
    void backward(const backward_args& a) const override {  // 1 where x > 0, slope elsewhere (at 0 too)
        const double* x = a.in[0]->data();
        chain(a, [x, s = slope_](std::size_t k) { return x[k] > 0.0 ? 1.0 : s; });
    }

private:
    double slope_;
};

class exp_op final : public elementwise_unary_op {
public:
    std::string_view kind() const override { return "exp"; }
    saved saves() const override { return saved::output; }
    void forward(const forward_args& a) const override { kernels::exp(a.in[0]->data(), a.out->data(), a.out->size()); }
    void backward(const backward_args& a) const override {
        const double* y = a.out->data();
        chain(a, [y](std::size_t k) { return y[k]; });
    }
};

class log_op final : public elementwise_unary_op {
public:
    std::string_view kind() const override { return "log"; }
    saved saves() const override { return saved::inputs; }
    void forward(const forward_args& a) const override { kernels::log(a.in[0]->data(), a.out->data(), a.out->size()); }
    void backward(const backward_args& a) const override {  // 1 / x
        const double* x = a.in[0]->data();
        chain(a, [x](std::size_t k) { return 1.0 / x[k]; });
    }
};

template <class Op, class... Args>
node unary(node a, const std::string& name, Args... args) {
    return make_node(std::make_unique<Op>(args...), {a}, name);
}

}  // namespace

node tanh(node a, const std::string& name) { return unary<tanh_op>(a, name); }
node sigmoid(node a, const std::string& name) { return unary<sigmoid_op>(a, name); }
node relu(node a, const std::string& name) { return unary<relu_op>(a, name); }
node leaky_relu(node a, double slope, const std::string& name) { return unary<leaky_relu_op>(a, name, slope); }
node exp(node a, const std::string& name) { return unary<exp_op>(a, name); }
node log(node a, const std::string& name) { return unary<log_op>(a, name); }

}  // namespace symgrad
