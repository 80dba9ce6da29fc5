// sum and mean to 1x1, and transpose.
#include "engine/graph.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

// sum and mean differ only by the factor applied to the total.
class total_op : public op {
public:
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>&) const override { return {1, 1}; }
    saved saves() const override { return saved::nothing; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double s = 0.0;
        std::size_t n = a.in[0]->size();
        for (std::size_t k = 0; k < n; ++k) s += x[k];
        (*a.out)(0, 0) = s * factor(n);
    }
    void backward(const backward_args& a) const override {  // every element gets g * factor
        if (!a.in_grad[0]) return;
        double v = (*a.out_grad)(0, 0) * factor(a.in_grad[0].shape().size());
        a.in_grad[0].send([v](std::size_t) { return v; });
    }

protected:
    virtual double factor(std::size_t n) const = 0;
};

class sum_op final : public total_op {
public:
    std::string_view kind() const override { return "sum"; }

protected:
    double factor(std::size_t) const override { return 1.0; }
};

class mean_op final : public total_op {
public:
    std::string_view kind() const override { return "mean"; }

protected:
    double factor(std::size_t n) const override { return 1.0 / double(n); }
};

class transpose_op final : public op {
public:
    std::string_view kind() const override { return "transpose"; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        return {in[0].shape.cols, in[0].shape.rows};
    }
    saved saves() const override { return saved::nothing; }
    void forward(const forward_args& a) const override {
        std::size_t r = a.in[0]->shape()[0], c = a.in[0]->shape()[1];
        const double* f = a.in[0]->data();
        double* t = a.out->data();
        for (std::size_t i = 0; i < r; ++i)
            for (std::size_t j = 0; j < c; ++j) t[j * r + i] = f[i * c + j];
    }
    void backward(const backward_args& a) const override {  // the operand's (i, j) is out_grad's (j, i)
        if (!a.in_grad[0]) return;
        const double* g = a.out_grad->data();
        std::size_t gc = a.out_grad->shape()[1];
        a.in_grad[0].send_2d([g, gc](std::size_t i, std::size_t j) { return g[j * gc + i]; });
    }
};

}  // namespace

node sum(node a, const std::string& name) { return make_node(std::make_unique<sum_op>(), {a}, name); }
node mean(node a, const std::string& name) { return make_node(std::make_unique<mean_op>(), {a}, name); }
node transpose(node a, const std::string& name) { return make_node(std::make_unique<transpose_op>(), {a}, name); }

}  // namespace symgrad
