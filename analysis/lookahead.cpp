// The lookahead: trains a copy of the state with a clone of the run's optimizer and measures how ties evolve.
#include "analysis/lookahead.hpp"

#include <algorithm>
#include <cmath>

namespace symgrad {

namespace {

// Puts every parameter and the step counter back as they were, however the lookahead ends.
class state_guard {
public:
    explicit state_guard(graph& g) : g_(g), params_(g.parameters()), step_(g.step()) {
        for (node p : params_) saved_.push_back(g.value(p));
    }
    ~state_guard() {
        for (std::size_t i = 0; i < params_.size(); ++i) g_.value(params_[i]) = saved_[i];
        g_.set_step(step_);
    }
    state_guard(const state_guard&) = delete;
    state_guard& operator=(const state_guard&) = delete;

private:
    graph& g_;
    std::vector<node> params_;
    std::vector<tensor> saved_;
    long step_;
};

// Largest difference of the group's W_in rows and biases from its first unit's, relative to each tensor.
double incoming_spread(const graph& g, const hidden_layer& layer, const std::vector<std::size_t>& units) {
    double spread = 0.0;
    auto rows = [&](const tensor& t) {
        double scale = max_abs(t);
        if (scale == 0.0) return;
        for (std::size_t u : units)
            for (std::size_t e = 0; e < t.shape()[1]; ++e)
                spread = std::max(spread, std::abs(t(u, e) - t(units[0], e)) / scale);
    };
    rows(g.value(layer.weights_in));
    if (layer.bias.valid()) rows(g.value(layer.bias));
    return spread;
}

}  // namespace

namespace {

// Least-squares slope of ln(spread) over steps [from, to) where the spread is positive; 0 with < 2 points.
double log_slope(const std::vector<double>& spreads, std::size_t from, std::size_t to) {
    double n = 0, st = 0, sy = 0, stt = 0, sty = 0;
    for (std::size_t t = from; t < to; ++t) {
        if (!(spreads[t] > 0.0)) continue;
        double y = std::log(spreads[t]);
        n += 1, st += double(t), sy += y, stt += double(t) * double(t), sty += double(t) * y;
    }
    double denominator = n * stt - st * st;
    return n >= 2 && denominator > 0 ? (n * sty - st * sy) / denominator : 0.0;
}

// The share of steps in [from, to) with a positive spread.
double positive_share(const std::vector<double>& spreads, std::size_t from, std::size_t to) {
    std::size_t k = 0;
    for (std::size_t t = from; t < to; ++t) k += spreads[t] > 0.0;
    return to > from ? double(k) / double(to - from) : 0.0;
}

// Per unit of `layer`: whether its W_in row or bias differs from `start` (W_in, then b if any).
std::vector<bool> units_moved(const graph& g, const hidden_layer& layer, const std::vector<tensor>& start) {
    std::vector<bool> moved(layer.units(), false);
    const tensor& w = g.value(layer.weights_in);
    for (std::size_t i = 0; i < layer.units(); ++i) {
        for (std::size_t j = 0; j < w.shape()[1]; ++j) moved[i] = moved[i] || w(i, j) != start[0](i, j);
        if (layer.bias.valid()) moved[i] = moved[i] || g.value(layer.bias)(i, 0) != start[1](i, 0);
    }
    return moved;
}

}  // namespace

class_growth growth_of(const std::vector<double>& spreads) {
    class_growth c;
    if (spreads.empty()) return c;
    c.initial_spread = spreads.front();
    c.final_spread = spreads.back();
    for (std::size_t t = 0; t < spreads.size(); ++t) {
        c.max_spread = std::max(c.max_spread, spreads[t]);
        if (c.separated_at < 0 && spreads[t] >= distinct_spread) c.separated_at = long(t);
    }
    // The rate over the second half, where a growth has settled; and whether the last quarter keeps it up
    // (under gradient descent a small difference often grows early and then stops, which must not be
    // extrapolated).
    const std::size_t n = spreads.size();
    double rate = log_slope(spreads, n / 2, n);
    c.growth_per_100 = std::exp(100.0 * rate);
    // Above rounding a modest rate is growth; at the rounding level (an exact tie that the arithmetic
    // breaks) only a strong trend over the second half counts, which rounding noise alone does not make.
    bool above_rounding = c.growth_per_100 > 1.1 && c.final_spread > 2.0 * std::max(c.initial_spread, rounding_spread);
    bool from_rounding = c.growth_per_100 > 2.0 && c.final_spread > 2.0 * c.initial_spread &&
                         positive_share(spreads, n / 2, n) >= 0.5;
    c.grows = c.separated_at >= 0 || above_rounding || from_rounding;
    c.steady = c.grows && log_slope(spreads, 3 * n / 4, n) >= 0.9 * log_slope(spreads, n / 2, 3 * n / 4);
    if (c.separated_at >= 0)
        c.predicted_separation = c.separated_at;
    else if (c.grows && c.steady)
        c.predicted_separation = long(n - 1) + long(std::ceil(std::log(distinct_spread / c.final_spread) / rate));
    return c;
}

lookahead_result run_lookahead(graph& g, node loss, const std::vector<hidden_layer>& layers,
                               const std::vector<layer_partition>& parts,
                               const std::vector<std::vector<std::vector<std::size_t>>>& groups, const optimizer& opt,
                               std::size_t steps, const comparison& how) {
    lookahead_result result;
    result.ran = true;
    result.optimizer = opt.name();
    std::vector<layer_partition> tracked = parts;
    // spreads[l][c] and group spreads over steps 0..N
    std::vector<std::vector<std::vector<double>>> spreads(layers.size()), incoming(layers.size());
    auto record = [&]() {
        for (std::size_t l = 0; l < layers.size(); ++l) {
            spreads[l].resize(parts[l].classes.size());
            for (std::size_t c = 0; c < parts[l].classes.size(); ++c)
                if (parts[l].classes[c].size() > 1) spreads[l][c].push_back(tracked[l].value_spread(c));
            incoming[l].resize(groups[l].size());
            for (std::size_t k = 0; k < groups[l].size(); ++k)
                incoming[l][k].push_back(incoming_spread(g, layers[l], groups[l][k]));
        }
    };
    // Another round (up to extension_rounds) while a tie, not yet distinct, grows steadily (its separation
    // is then measured rather than extrapolated), or is exact but seeded by rounding (the arithmetic has
    // broken it in the last bits, and whether training amplifies that can show only later).
    auto still_growing = [&]() {
        for (std::size_t l = 0; l < layers.size(); ++l)
            for (std::size_t c = 0; c < parts[l].classes.size(); ++c) {
                if (parts[l].classes[c].size() < 2) continue;
                class_growth grown = growth_of(spreads[l][c]);
                bool seeded = grown.initial_spread == 0.0 && grown.max_spread > 0.0;
                if (grown.separated_at < 0 && ((grown.grows && grown.steady) || seeded)) return true;
            }
        return false;
    };
    std::vector<std::vector<tensor>> start(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
        start[l].push_back(g.value(layers[l].weights_in));
        if (layers[l].bias.valid()) start[l].push_back(g.value(layers[l].bias));
    }
    std::vector<std::vector<bool>> moved(layers.size());
    {
        state_guard guard(g);
        auto copy = opt.clone();
        const std::vector<node> params = g.parameters();
        record();
        std::size_t t = 0;
        for (std::size_t round = 0; round < extension_rounds && (round == 0 || still_growing()); ++round)
            for (std::size_t k = 0; k < steps; ++k) {
                g.set_step(long(++t));
                g.forward();
                g.backward(loss);
                copy->step(g, params);
                measure_spreads(g, layers, tracked, how);
                record();
            }
        result.steps = t;
        for (std::size_t l = 0; l < layers.size(); ++l) moved[l] = units_moved(g, layers[l], start[l]);
    }
    double tolerance = how.exact ? 0.0 : how.relative_tolerance;
    for (std::size_t l = 0; l < layers.size(); ++l) {
        result.layers.emplace_back();
        result.layers[l].moved = std::move(moved[l]);
        for (std::size_t c = 0; c < parts[l].classes.size(); ++c) {
            if (parts[l].classes[c].size() < 2) continue;
            result.layers[l].classes.push_back(growth_of(spreads[l][c]));
            result.layers[l].classes.back().cls = c;
        }
        for (std::size_t k = 0; k < groups[l].size(); ++k) {
            group_separation s{groups[l][k], -1};
            for (std::size_t t = 0; t < incoming[l][k].size() && s.separated_at < 0; ++t)
                if (incoming[l][k][t] > tolerance) s.separated_at = long(t);
            result.layers[l].groups.push_back(s);
        }
    }
    return result;
}

}  // namespace symgrad
