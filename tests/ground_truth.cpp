// The hand trainer (plain loops, no engine) and the fate recorder behind tests/ground_truth.hpp.
#include "ground_truth.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "models/optim.hpp"

namespace symgrad::truth {

namespace {

tensor zeros(std::size_t rows, std::size_t cols) {
    tensor t = tensor::from_shape({rows, cols});
    t.fill(0.0);
    return t;
}

// Z = W A + b; every element sums k = 0 .. fan_in-1 in order, then adds the bias (as the engine does).
tensor affine(const dense_layer& L, const tensor& A) {
    std::size_t n = L.W.shape()[0], fan_in = L.W.shape()[1], m = A.shape()[1];
    tensor Z = zeros(n, m);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < fan_in; ++k)
            for (std::size_t s = 0; s < m; ++s) Z(i, s) += L.W(i, k) * A(k, s);
        for (std::size_t s = 0; s < m; ++s) Z(i, s) += L.b(i, 0);
    }
    return Z;
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Applies the hidden activation to Z in place and returns g'(Z) from the output, as the engine's ops do.
tensor activate(activation a, tensor& Z) {
    tensor d = zeros(Z.shape()[0], Z.shape()[1]);
    for (std::size_t k = 0; k < Z.size(); ++k) {
        double& z = Z.data()[k];
        switch (a) {
            case activation::tanh: z = std::tanh(z); d.data()[k] = 1.0 - z * z; break;
            case activation::sigmoid: z = sigmoid(z); d.data()[k] = z * (1.0 - z); break;
            case activation::relu: z = z > 0.0 ? z : 0.0; d.data()[k] = z > 0.0 ? 1.0 : 0.0; break;
        }
    }
    return d;
}

// dW = dZ A_prev^T and db = row sums of dZ, each summed over samples in order.
void layer_gradients(const tensor& dZ, const tensor& A_prev, tensor& dW, tensor& db) {
    std::size_t n = dZ.shape()[0], fan_in = A_prev.shape()[0], m = dZ.shape()[1];
    dW = zeros(n, fan_in);
    db = zeros(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < fan_in; ++k) {
            double g = 0.0;
            for (std::size_t s = 0; s < m; ++s) g += dZ(i, s) * A_prev(k, s);
            dW(i, k) = g;
        }
        double g = 0.0;
        for (std::size_t s = 0; s < m; ++s) g += dZ(i, s);
        db(i, 0) = g;
    }
}

// dA_prev = W^T dZ, summed over the units i = 0 .. n-1 in order.
tensor back_through(const tensor& W, const tensor& dZ) {
    std::size_t n = W.shape()[0], fan_in = W.shape()[1], m = dZ.shape()[1];
    tensor dA = zeros(fan_in, m);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < fan_in; ++k)
            for (std::size_t s = 0; s < m; ++s) dA(k, s) += W(i, k) * dZ(i, s);
    return dA;
}

// Mean BCE in the stable logits form; its gradient is (A - Y) / m exactly (the article's dZ2).
double binary_head(const tensor& Z, const tensor& Y, tensor& A, tensor& dZ) {
    const std::size_t m = Z.shape()[1];
    double cost = 0.0;
    for (std::size_t s = 0; s < m; ++s) {
        double z = Z(0, s), y = Y(0, s);
        A(0, s) = sigmoid(z);
        cost += std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
        dZ(0, s) = (A(0, s) - y) / double(m);
    }
    return cost / double(m);
}

// Mean softmax cross-entropy over k rows, one sample (column) at a time: log-sum-exp after the column's max,
// -log softmax_c = lse - z_c, gradient (softmax - Y) / m for one-hot columns.
double softmax_head(const tensor& Z, const tensor& Y, tensor& A, tensor& dZ) {
    const std::size_t k = Z.shape()[0], m = Z.shape()[1];
    double cost = 0.0;
    for (std::size_t s = 0; s < m; ++s) {
        double top = Z(0, s), total = 0.0;
        for (std::size_t c = 1; c < k; ++c) top = std::max(top, Z(c, s));
        for (std::size_t c = 0; c < k; ++c) total += std::exp(Z(c, s) - top);
        const double lse = top + std::log(total);
        for (std::size_t c = 0; c < k; ++c) {
            A(c, s) = std::exp(Z(c, s) - lse);
            cost += Y(c, s) * (lse - Z(c, s));
            dZ(c, s) = (A(c, s) - Y(c, s)) / double(m);
        }
    }
    return cost / double(m);
}

}  // namespace

pass_result forward_backward(const network_state& net, const tensor& X, const tensor& Y) {
    std::size_t L = net.layers.size(), m = X.shape()[1];
    if (L == 0) throw std::invalid_argument("truth: needs an output layer");
    const std::size_t k = net.layers.back().W.shape()[0];
    if (Y.shape()[0] != k) throw std::invalid_argument("truth: labels need one row per output unit");
    pass_result r;
    r.A.resize(L);
    r.derivative.resize(L);
    r.dZ.resize(L);
    r.dW.resize(L);
    r.db.resize(L);
    tensor Z_out;
    for (std::size_t l = 0; l < L; ++l) {
        tensor Z = affine(net.layers[l], l == 0 ? X : r.A[l - 1]);
        if (l + 1 < L) {
            r.derivative[l] = activate(net.hidden, Z);
            r.A[l] = Z;
        } else {
            Z_out = Z;
        }
    }
    r.A[L - 1] = zeros(k, m);
    r.dZ[L - 1] = zeros(k, m);
    r.cost = k == 1 ? binary_head(Z_out, Y, r.A[L - 1], r.dZ[L - 1]) : softmax_head(Z_out, Y, r.A[L - 1], r.dZ[L - 1]);
    for (std::size_t l = L; l-- > 0;) {
        layer_gradients(r.dZ[l], l == 0 ? X : r.A[l - 1], r.dW[l], r.db[l]);
        if (l == 0) break;
        r.dZ[l - 1] = back_through(net.layers[l].W, r.dZ[l]);
        for (std::size_t k = 0; k < r.dZ[l - 1].size(); ++k) r.dZ[l - 1].data()[k] *= r.derivative[l - 1].data()[k];
    }
    return r;
}

hand_optimizer::hand_optimizer(std::string name, double learning_rate) : name_(std::move(name)), lr_(learning_rate) {
    if (name_ != "gd" && name_ != "momentum" && name_ != "adam")
        throw std::invalid_argument("truth: unknown optimizer " + name_);
}

void hand_optimizer::update(network_state& net, const pass_result& gradients) {
    std::vector<tensor*> params;
    std::vector<const tensor*> grads;
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
        params.push_back(&net.layers[l].W);
        params.push_back(&net.layers[l].b);
        grads.push_back(&gradients.dW[l]);
        grads.push_back(&gradients.db[l]);
    }
    if (first_.empty())
        for (auto* p : params) {
            first_.push_back(zeros(p->shape()[0], p->shape()[1]));
            second_.push_back(zeros(p->shape()[0], p->shape()[1]));
        }
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    ++t_;
    double c1 = 1.0 - std::pow(b1, double(t_)), c2 = 1.0 - std::pow(b2, double(t_));
    for (std::size_t i = 0; i < params.size(); ++i) {
        double* w = params[i]->data();
        const double* d = grads[i]->data();
        double* v = first_[i].data();
        double* s = second_[i].data();
        for (std::size_t k = 0, n = params[i]->size(); k < n; ++k) {
            if (name_ == "gd") {
                w[k] -= lr_ * d[k];
            } else if (name_ == "momentum") {  // the same expressions as models/optim.cpp, for the same bits
                v[k] = 0.9 * v[k] + d[k];
                w[k] -= lr_ * v[k];
            } else {
                v[k] = b1 * v[k] + (1.0 - b1) * d[k];
                s[k] = b2 * s[k] + (1.0 - b2) * d[k] * d[k];
                w[k] -= lr_ * (v[k] / c1) / (std::sqrt(s[k] / c2) + eps);
            }
        }
    }
}

mlp build_engine_mlp(const network_state& state, const tensor& X, const tensor& Y) {
    mlp_spec spec;
    spec.inputs = X.shape()[0];
    spec.hidden_activation = state.hidden;
    spec.outputs = state.layers.back().W.shape()[0];
    for (std::size_t l = 0; l < state.hidden_layers(); ++l) spec.hidden.push_back(state.width(l));
    mlp m = build_mlp(spec, X.shape()[1]);
    m.g.feed(m.X, X);
    m.g.feed(m.Y, Y);
    for (std::size_t l = 0; l < state.layers.size(); ++l) {
        m.g.value(m.W[l]) = state.layers[l].W;
        m.g.value(m.b[l]) = state.layers[l].b;
    }
    return m;
}

namespace {

using detail::stepper;

class hand_stepper final : public stepper {
public:
    hand_stepper(const tensor& X, const tensor& Y, const trainer_settings& s)
        : X_(X), Y_(Y), opt_(s.optimizer, s.learning_rate) {}
    double advance(network_state& net, const pass_result* current) override {
        if (current) {
            opt_.update(net, *current);
            return current->cost;
        }
        pass_result r = forward_backward(net, X_, Y_);
        opt_.update(net, r);
        return r.cost;
    }

private:
    const tensor& X_;
    const tensor& Y_;
    hand_optimizer opt_;
};

// symgrad's own network and optimiser: the arithmetic the analysis under test sees.
class engine_stepper final : public stepper {
public:
    engine_stepper(const network_state& start, const tensor& X, const tensor& Y, const trainer_settings& s)
        : m_(std::make_unique<mlp>(build_engine_mlp(start, X, Y))) {
        params_ = m_->g.parameters();
        opt_ = make_optimizer(s.optimizer, s.learning_rate);
    }
    double advance(network_state& net, const pass_result*) override {
        m_->g.forward();
        m_->g.backward(m_->loss);
        double cost = m_->g.value(m_->loss)(0, 0);
        opt_->step(m_->g, params_);
        for (std::size_t l = 0; l < net.layers.size(); ++l) {
            net.layers[l].W = m_->g.value(m_->W[l]);
            net.layers[l].b = m_->g.value(m_->b[l]);
        }
        return cost;
    }

private:
    std::unique_ptr<mlp> m_;
    std::vector<node> params_;
    std::unique_ptr<optimizer> opt_;
};

}  // namespace

std::unique_ptr<stepper> detail::make_stepper(trainer_kind kind, const network_state& start, const tensor& X, const tensor& Y,
                                      const trainer_settings& s) {
    if (kind == trainer_kind::hand) return std::make_unique<hand_stepper>(X, Y, s);
    return std::make_unique<engine_stepper>(start, X, Y, s);
}

network_state train(const network_state& start, const tensor& X, const tensor& Y, const trainer_settings& settings,
                    trainer_kind kind, std::vector<double>* costs) {
    network_state net = start;
    auto s = detail::make_stepper(kind, start, X, Y, settings);
    for (std::size_t t = 0; t < settings.steps; ++t) {
        double c = s->advance(net, nullptr);
        if (costs) costs->push_back(c);
    }
    return net;
}

double max_relative_difference(const network_state& a, const network_state& b) {
    double worst = 0.0;
    for (std::size_t l = 0; l < a.layers.size(); ++l)
        for (int which = 0; which < 2; ++which) {
            const tensor& x = which == 0 ? a.layers[l].W : a.layers[l].b;
            const tensor& y = which == 0 ? b.layers[l].W : b.layers[l].b;
            double scale = std::max(max_abs(x), max_abs(y)), diff = 0.0;
            for (std::size_t k = 0; k < x.size(); ++k) diff = std::max(diff, std::abs(x.data()[k] - y.data()[k]));
            if (scale > 0.0) worst = std::max(worst, diff / scale);
        }
    return worst;
}

}  // namespace symgrad::truth
