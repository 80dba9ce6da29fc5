// tanh, sigmoid, relu, exp, log: elementwise, each with its derivative written next to it.
#include <cmath>

#include "engine/graph.hpp"
#include "ops/kernels.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

class elementwise_op : public op {
public:
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override { return in[0].shape; }
    bool forward_in_place_ok(std::size_t) const override { return true; }
    bool backward_in_place_ok(std::size_t) const override { return true; }

protected:
    // in_grad = / += g * d(k), where d(k) is the local derivative at element k (reads out or in).
    template <class D>
    static void chain(const backward_args& a, D d) {
        if (!a.in_grad[0]) return;
        const double* g = a.out_grad->data();
        double* o = a.in_grad[0]->data();
        std::size_t n = a.out_grad->size();
        if (a.accumulate[0])
            for (std::size_t k = 0; k < n; ++k) o[k] += g[k] * d(k);
        else
            for (std::size_t k = 0; k < n; ++k) o[k] = g[k] * d(k);
    }
};

// Ops whose derivative is a function of their output only, so their input buffer can be reused.
class output_derivative_op : public elementwise_op {
public:
    bool backward_reads_input(std::size_t) const override { return false; }
    bool backward_reads_output() const override { return true; }
};

class tanh_op final : public output_derivative_op {
public:
    std::string_view kind() const override { return op_kinds::tanh; }
    void forward(const forward_args& a) const override { kernels::tanh(a.in[0]->data(), a.out->data(), a.out->size()); }
    void backward(const backward_args& a) const override {  // 1 - tanh^2
        const double* y = a.out->data();
        chain(a, [y](std::size_t k) { return 1.0 - y[k] * y[k]; });
    }
};

class sigmoid_op final : public output_derivative_op {
public:
    std::string_view kind() const override { return op_kinds::sigmoid; }
    void forward(const forward_args& a) const override {
        kernels::sigmoid(a.in[0]->data(), a.out->data(), a.out->size());
    }
    void backward(const backward_args& a) const override {  // s (1 - s)
        const double* y = a.out->data();
        chain(a, [y](std::size_t k) { return y[k] * (1.0 - y[k]); });
    }
};

class relu_op final : public output_derivative_op {
public:
    std::string_view kind() const override { return op_kinds::relu; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double* o = a.out->data();
        for (std::size_t k = 0, n = a.out->size(); k < n; ++k) o[k] = x[k] > 0.0 ? x[k] : 0.0;
    }
    void backward(const backward_args& a) const override {  // 1 where the output is positive (0 at 0)
        const double* y = a.out->data();
        chain(a, [y](std::size_t k) { return y[k] > 0.0 ? 1.0 : 0.0; });
    }
};

class exp_op final : public output_derivative_op {
public:
    std::string_view kind() const override { return op_kinds::exp; }
    void forward(const forward_args& a) const override { kernels::exp(a.in[0]->data(), a.out->data(), a.out->size()); }
    void backward(const backward_args& a) const override {
        const double* y = a.out->data();
        chain(a, [y](std::size_t k) { return y[k]; });
    }
};

class log_op final : public elementwise_op {
public:
    std::string_view kind() const override { return op_kinds::log; }
    bool forward_in_place_ok(std::size_t) const override { return false; }  // backward needs the input
    void forward(const forward_args& a) const override { kernels::log(a.in[0]->data(), a.out->data(), a.out->size()); }
    void backward(const backward_args& a) const override {  // 1 / x
        const double* x = a.in[0]->data();
        chain(a, [x](std::size_t k) { return 1.0 / x[k]; });
    }
};

template <class Op>
node unary(node a, const std::string& name) {
    return make_node(std::make_unique<Op>(), {a}, name);
}

}  // namespace

node tanh(node a, const std::string& name) { return unary<tanh_op>(a, name); }
node sigmoid(node a, const std::string& name) { return unary<sigmoid_op>(a, name); }
node relu(node a, const std::string& name) { return unary<relu_op>(a, name); }
node exp(node a, const std::string& name) { return unary<exp_op>(a, name); }
node log(node a, const std::string& name) { return unary<log_op>(a, name); }

}  // namespace symgrad
