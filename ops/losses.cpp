// Binary cross-entropy from probabilities (clamped logs) and from logits (stable form).
#include <algorithm>
#include <cmath>

#include "engine/graph.hpp"
#include "ops/ops.hpp"

namespace symgrad {
namespace {

class bce_base : public op {
public:
    std::size_t arity() const override { return 2; }
    shape2 output_shape(const std::array<operand_info, max_arity>& in) const override {
        if (in[0].shape != in[1].shape) throw_shape_error(kind(), in[0], &in[1], "needs equal shapes, got");
        return {1, 1};
    }
};

class bce_op final : public bce_base {
public:
    std::string_view kind() const override { return "bce"; }
    // J = -mean(y log a + (1 - y) log(1 - a)), a clamped to [c, 1 - c].
    void forward(const forward_args& a) const override {
        const double *p = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double s = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
            double q = std::clamp(p[k], bce_clamp, 1.0 - bce_clamp);
            // A 0/1 label zeroes one term exactly (the clamped logs are finite and nonzero, and a NaN q
            // still reaches the other), so skipping its log gives the same bits at half the cost.
            if (y[k] == 0.0)
                s += std::log1p(-q);
            else if (y[k] == 1.0)
                s += std::log(q);
            else
                s += y[k] * std::log(q) + (1.0 - y[k]) * std::log1p(-q);
        }
        (*a.out)(0, 0) = -s / double(n);
    }
    // dJ/da = (-(y / a) + (1 - y) / (1 - a)) / N with the clamped a; dJ/dy = (log(1 - a) - log a) / N.
    void backward(const backward_args& a) const override {
        const double *p = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double g = (*a.out_grad)(0, 0) / double(n);
        auto q = [p](std::size_t k) { return std::clamp(p[k], bce_clamp, 1.0 - bce_clamp); };
        if (a.in_grad[0])
            a.in_grad[0].send([&](std::size_t k) { return g * (-(y[k] / q(k)) + (1.0 - y[k]) / (1.0 - q(k))); });
        if (a.in_grad[1]) a.in_grad[1].send([&](std::size_t k) { return g * (std::log1p(-q(k)) - std::log(q(k))); });
    }
};

class bce_with_logits_op final : public bce_base {
public:
    std::string_view kind() const override { return "bce_with_logits"; }
    void forward(const forward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double s = 0.0;
        for (std::size_t k = 0; k < n; ++k)
            s += std::max(z[k], 0.0) - z[k] * y[k] + std::log1p(std::exp(-std::abs(z[k])));
        (*a.out)(0, 0) = s / double(n);
    }
    // dJ/dz = (sigmoid(z) - y) / N, with sigmoid evaluated without overflow; dJ/dy = -z / N.
    void backward(const backward_args& a) const override {
        const double *z = a.in[0]->data(), *y = a.in[1]->data();
        std::size_t n = a.in[0]->size();
        double g = (*a.out_grad)(0, 0) / double(n);
        if (a.in_grad[0])
            a.in_grad[0].send([&](std::size_t k) {
                double e = std::exp(-std::abs(z[k]));
                double s = z[k] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
                return g * (s - y[k]);
            });
        if (a.in_grad[1]) a.in_grad[1].send([&](std::size_t k) { return -g * z[k]; });
    }
};

}  // namespace

node bce(node probabilities, node labels, const std::string& name) {
    return make_node(std::make_unique<bce_op>(), {probabilities, labels}, name);
}
node bce_with_logits(node logits, node labels, const std::string& name) {
    return make_node(std::make_unique<bce_with_logits_op>(), {logits, labels}, name);
}

}  // namespace symgrad
