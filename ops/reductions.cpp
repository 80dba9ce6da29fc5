// sum and mean to 1x1, and transpose.
#include "engine/graph.hpp"
#include "ops/op_kinds.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

// sum and mean differ only by the factor applied to the total.
class total_op : public op {
public:
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>&) const override { return {1, 1}; }
    bool backward_reads_input(std::size_t) const override { return false; }
    void forward(const forward_args& a) const override {
        const double* x = a.in[0]->data();
        double s = 0.0;
        std::size_t n = a.in[0]->size();
        for (std::size_t k = 0; k < n; ++k) s += x[k];
        (*a.out)(0, 0) = s * factor(n);
    }
    void backward(const backward_args& a) const override {  // every element gets g * factor
        if (!a.in_grad[0]) return;
        double* d = a.in_grad[0]->data();
        std::size_t n = a.in_grad[0]->size();
        double v = (*a.out_grad)(0, 0) * factor(n);
        for (std::size_t k = 0; k < n; ++k) d[k] = a.accumulate[0] ? d[k] + v : v;
    }

protected:
    virtual double factor(std::size_t n) const = 0;
};

class sum_op final : public total_op {
public:
    std::string_view kind() const override { return op_kinds::sum; }

protected:
    double factor(std::size_t) const override { return 1.0; }
};

class mean_op final : public total_op {
public:
    std::string_view kind() const override { return op_kinds::mean; }

protected:
    double factor(std::size_t n) const override { return 1.0 / double(n); }
};

class transpose_op final : public op {
public:
    std::string_view kind() const override { return op_kinds::transpose; }
    std::size_t arity() const override { return 1; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        return {in[0].shape.cols, in[0].shape.rows};
    }
    bool backward_reads_input(std::size_t) const override { return false; }
    void forward(const forward_args& a) const override { copy_transposed(*a.in[0], *a.out, false); }
    void backward(const backward_args& a) const override {
        if (a.in_grad[0]) copy_transposed(*a.out_grad, *a.in_grad[0], a.accumulate[0]);
    }

private:
    static void copy_transposed(const tensor& from, tensor& to, bool accumulate) {
        std::size_t r = from.shape()[0], c = from.shape()[1];
        const double* f = from.data();
        double* t = to.data();
        for (std::size_t i = 0; i < r; ++i)
            for (std::size_t j = 0; j < c; ++j) t[j * r + i] = accumulate ? t[j * r + i] + f[i * c + j] : f[i * c + j];
    }
};

}  // namespace

node sum(node a, const std::string& name) { return make_node(std::make_unique<sum_op>(), {a}, name); }
node mean(node a, const std::string& name) { return make_node(std::make_unique<mean_op>(), {a}, name); }
node transpose(node a, const std::string& name) { return make_node(std::make_unique<transpose_op>(), {a}, name); }

}  // namespace symgrad
