// Gradient descent, momentum and Adam: in-place updates, state sized once, no allocation afterwards.
#include "models/optim.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "engine/text.hpp"

namespace symgrad {

namespace {

void check_beta(const std::string& who, const char* what, double beta) {
    if (!(beta >= 0.0 && beta < 1.0))
        throw input_error(who + ": " + what + " must be in [0, 1), got " + shortest(beta));
}

// Per-parameter state tensors (velocity, moments), matched to the parameter list it was sized for.
class optimizer_state {
public:
    explicit optimizer_state(std::size_t per_parameter) : per_parameter_(per_parameter) {}
    // Sizes the state (zero-filled) on the first step and whenever the list of parameters changes;
    // returns true when it did, so the caller can reset step counters.
    bool ensure(const std::vector<node>& params) {
        bool same = ids_.size() == params.size();
        for (std::size_t i = 0; same && i < params.size(); ++i)
            same = ids_[i] == params[i].id() && shape_of(slots_[i * per_parameter_]) == params[i].shape();
        if (same) return false;
        ids_.clear();
        slots_.clear();
        for (auto p : params) {
            ids_.push_back(p.id());
            for (std::size_t s = 0; s < per_parameter_; ++s) {
                tensor t = tensor::from_shape({p.shape().rows, p.shape().cols});
                t.fill(0.0);
                slots_.push_back(std::move(t));
            }
        }
        return true;
    }
    tensor& slot(std::size_t parameter, std::size_t which) { return slots_[parameter * per_parameter_ + which]; }

private:
    std::size_t per_parameter_;
    std::vector<std::size_t> ids_;
    std::vector<tensor> slots_;
};

class gradient_descent final : public optimizer {
public:
    explicit gradient_descent(double lr) : lr_(lr) { check_learning_rate(lr, "gd: the learning rate"); }
    std::string name() const override { return "gd"; }
    std::unique_ptr<optimizer> clone() const override { return std::make_unique<gradient_descent>(*this); }
    void step(graph& g, const std::vector<node>& params) override {
        for (auto p : params) {
            tensor& value = g.value(p);
            double* w = value.data();
            const double* d = g.grad(p).data();
            for (std::size_t k = 0, n = value.size(); k < n; ++k) w[k] -= lr_ * d[k];
        }
    }

private:
    double lr_;
};

class momentum final : public optimizer {
public:
    momentum(double lr, double beta) : lr_(lr), beta_(beta), state_(1) {
        check_learning_rate(lr, "momentum: the learning rate");
        check_beta("momentum", "beta", beta);
    }
    std::string name() const override { return "momentum"; }
    std::unique_ptr<optimizer> clone() const override { return std::make_unique<momentum>(*this); }
    void step(graph& g, const std::vector<node>& params) override {
        state_.ensure(params);
        for (std::size_t i = 0; i < params.size(); ++i) {
            tensor& value = g.value(params[i]);
            double* w = value.data();
            const double* d = g.grad(params[i]).data();
            double* v = state_.slot(i, 0).data();
            for (std::size_t k = 0, n = value.size(); k < n; ++k) {
                v[k] = beta_ * v[k] + d[k];
                w[k] -= lr_ * v[k];
            }
        }
    }

private:
    double lr_, beta_;
    optimizer_state state_;
};

class adam final : public optimizer {
public:
    adam(double lr, double beta1, double beta2, double epsilon)
        : lr_(lr), beta1_(beta1), beta2_(beta2), epsilon_(epsilon), state_(2) {
        check_learning_rate(lr, "adam: the learning rate");
        check_beta("adam", "beta1", beta1);
        check_beta("adam", "beta2", beta2);
        if (!(std::isfinite(epsilon) && epsilon > 0.0))
            throw input_error("adam: epsilon must be a positive finite number, got " + shortest(epsilon));
    }
    std::string name() const override { return "adam"; }
    std::unique_ptr<optimizer> clone() const override { return std::make_unique<adam>(*this); }
    // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; W -= lr m^ / (sqrt(v^) + eps), m^ = m/(1-b1^t), v^ = v/(1-b2^t).
    void step(graph& g, const std::vector<node>& params) override {
        if (state_.ensure(params)) t_ = 0;
        ++t_;
        double c1 = 1.0 - std::pow(beta1_, double(t_));
        double c2 = 1.0 - std::pow(beta2_, double(t_));
        for (std::size_t i = 0; i < params.size(); ++i) {
            tensor& value = g.value(params[i]);
            double* w = value.data();
            const double* d = g.grad(params[i]).data();
            double* m = state_.slot(i, 0).data();
            double* v = state_.slot(i, 1).data();
            for (std::size_t k = 0, n = value.size(); k < n; ++k) {
                m[k] = beta1_ * m[k] + (1.0 - beta1_) * d[k];
                v[k] = beta2_ * v[k] + (1.0 - beta2_) * d[k] * d[k];
                w[k] -= lr_ * (m[k] / c1) / (std::sqrt(v[k] / c2) + epsilon_);
            }
        }
    }

private:
    double lr_, beta1_, beta2_, epsilon_;
    long t_ = 0;
    optimizer_state state_;
};

}  // namespace

void check_learning_rate(double lr, const std::string& where, const std::string& as_written) {
    if (!(std::isfinite(lr) && lr > 0.0))
        throw input_error(where + ": must be a positive finite number, got " +
                          (as_written.empty() ? shortest(lr) : as_written));
}

std::unique_ptr<optimizer> make_gradient_descent(double learning_rate) {
    return std::make_unique<gradient_descent>(learning_rate);
}

std::unique_ptr<optimizer> make_momentum(double learning_rate, double beta) {
    return std::make_unique<momentum>(learning_rate, beta);
}

std::unique_ptr<optimizer> make_adam(double learning_rate, double beta1, double beta2, double epsilon) {
    return std::make_unique<adam>(learning_rate, beta1, beta2, epsilon);
}

std::unique_ptr<optimizer> make_optimizer(const std::string& name, double learning_rate) {
    if (name == "gd" || name == "sgd") return make_gradient_descent(learning_rate);
    if (name == "momentum") return make_momentum(learning_rate);
    if (name == "adam") return make_adam(learning_rate);
    throw input_error("optimizer '" + name + "': unknown (choices: gd, momentum, adam)");
}

}  // namespace symgrad
