// The fate recorder: per step, each hidden layer's pair spreads, movement and derivatives (ground_truth.hpp).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "ground_truth.hpp"

namespace symgrad::truth {

namespace {

double relative(double diff, double scale) { return scale > 0.0 ? diff / scale : 0.0; }

// Union-find over units that also carries each unit's sign relative to its root.
struct signed_union_find {
    std::vector<std::size_t> parent;
    std::vector<int> sign;  // relative to parent
    explicit signed_union_find(std::size_t n) : parent(n), sign(n, 1) { std::iota(parent.begin(), parent.end(), 0); }
    std::pair<std::size_t, int> find(std::size_t i) const {
        int s = 1;
        while (parent[i] != i) {
            s *= sign[i];
            i = parent[i];
        }
        return {i, s};
    }
    void join(std::size_t i, std::size_t j, int relation) {  // unit j = relation * unit i
        auto [ri, si] = find(i);
        auto [rj, sj] = find(j);
        if (ri == rj) return;
        parent[rj] = ri;
        sign[rj] = si * sj * relation;
    }
    // Classes ordered by their smallest unit; signs relative to each class's first unit.
    std::vector<std::vector<std::size_t>> classes(std::vector<int>* unit_sign) const {
        std::vector<std::vector<std::size_t>> out;
        std::vector<long> index(parent.size(), -1);
        if (unit_sign) unit_sign->assign(parent.size(), 1);
        for (std::size_t i = 0; i < parent.size(); ++i) {
            auto [root, s] = find(i);
            if (index[root] < 0) {
                index[root] = long(out.size());
                out.emplace_back();
            }
            auto& cls = out[std::size_t(index[root])];
            if (unit_sign) (*unit_sign)[i] = cls.empty() ? 1 : s * find(cls.front()).second;
            cls.push_back(i);
        }
        return out;
    }
};

// Spread of (row i of W, b_i, column i of V) against sign * the same for unit j, relative to each tensor.
double parameter_spread(const tensor& W, const tensor& b, const tensor& V, std::size_t i, std::size_t j, int sign,
                        const double scale[3]) {
    double dw = 0.0, dv = 0.0;
    for (std::size_t k = 0; k < W.shape()[1]; ++k) dw = std::max(dw, std::abs(W(i, k) - sign * W(j, k)));
    for (std::size_t r = 0; r < V.shape()[0]; ++r) dv = std::max(dv, std::abs(V(r, i) - sign * V(r, j)));
    double db = std::abs(b(i, 0) - sign * b(j, 0));
    return std::max({relative(dw, scale[0]), relative(db, scale[1]), relative(dv, scale[2])});
}

// Spread of row i against sign * row j of a units x samples tensor, relative to its largest magnitude.
double row_spread(const tensor& T, std::size_t i, std::size_t j, int sign, double scale) {
    double d = 0.0;
    for (std::size_t s = 0; s < T.shape()[1]; ++s) d = std::max(d, std::abs(T(i, s) - sign * T(j, s)));
    return relative(d, scale);
}

class fate_recorder {
public:
    fate_recorder(const network_state& start, const fate_options& options, std::size_t steps)
        : start_(start), options_(options), steps_(steps) {
        result_.steps = steps;
        result_.layers.resize(start.hidden_layers());
        for (std::size_t l = 0; l < result_.layers.size(); ++l) {
            layer_fate& f = result_.layers[l];
            f.units = start.width(l);
            f.never_moved.assign(f.units, true);
            f.max_derivative.assign(f.units, 0.0);
            for (std::size_t i = 0; i < f.units; ++i)
                for (std::size_t j = i + 1; j < f.units; ++j)
                    for (int sign : {1, -1}) f.pairs.push_back({i, j, sign});
        }
        moved_.assign(2 * start.layers.size(), false);
    }

    void observe(std::size_t step, const network_state& net, const pass_result& r) {
        result_.costs.push_back(r.cost);
        for (std::size_t l = 0; l < result_.layers.size(); ++l) observe_layer(step, l, net, r);
        for (std::size_t l = 0; l < net.layers.size(); ++l) {
            moved_[2 * l] = moved_[2 * l] || net.layers[l].W != start_.layers[l].W;
            moved_[2 * l + 1] = moved_[2 * l + 1] || net.layers[l].b != start_.layers[l].b;
        }
    }

    fate finish(const network_state& final_state) {
        for (std::size_t l = 0; l < result_.layers.size(); ++l) classify(result_.layers[l]);
        for (std::size_t k = 0; k < moved_.size(); ++k)
            if (moved_[k]) result_.moved.push_back((k % 2 == 0 ? "W" : "b") + std::to_string(k / 2 + 1));
        result_.only_output_bias_moved =
            result_.moved == std::vector<std::string>{"b" + std::to_string(start_.layers.size())};
        result_.final_state = final_state;
        return std::move(result_);
    }

private:
    bool mirrors_count() const { return start_.hidden == activation::tanh; }  // tanh is odd; others are not

    void observe_layer(std::size_t step, std::size_t l, const network_state& net, const pass_result& r) {
        layer_fate& f = result_.layers[l];
        const dense_layer& L = net.layers[l];
        const tensor& V = net.layers[l + 1].W;
        const double scale[3] = {max_abs(L.W), max_abs(L.b), max_abs(V)};
        double scale_A = max_abs(r.A[l]), scale_dZ = max_abs(r.dZ[l]);
        for (pair_record& p : f.pairs) {
            double s = parameter_spread(L.W, L.b, V, p.first, p.second, p.sign, scale);
            if (step == 0) p.initial_spread = s;
            p.max_spread = std::max(p.max_spread, s);
            p.final_spread = s;
            if (p.separated_at < 0 && s > options_.separation_tolerance) p.separated_at = long(step);
            double fs = std::max(row_spread(r.A[l], p.first, p.second, p.sign, scale_A),
                                 row_spread(r.dZ[l], p.first, p.second, p.sign, scale_dZ));
            if (step == 0) p.initial_function_spread = fs;
            p.max_function_spread = std::max(p.max_function_spread, fs);
            if (p.function_separated_at < 0 && fs > options_.separation_tolerance) p.function_separated_at = long(step);
        }
        for (std::size_t i = 0; i < f.units; ++i) {
            for (std::size_t k = 0; k < L.W.shape()[1]; ++k)
                if (L.W(i, k) != start_.layers[l].W(i, k)) f.never_moved[i] = false;
            if (L.b(i, 0) != start_.layers[l].b(i, 0)) f.never_moved[i] = false;
            for (std::size_t s = 0; s < r.derivative[l].shape()[1]; ++s)
                f.max_derivative[i] = std::max(f.max_derivative[i], std::abs(r.derivative[l](i, s)));
        }
        bool checkpoint = step == steps_ ||
                          std::find(options_.checkpoints.begin(), options_.checkpoints.end(), step) != options_.checkpoints.end();
        if (checkpoint) f.effective_width.push_back({step, effective_width(f, r.A[l], r.derivative[l], scale_A)});
    }

    // Classes of the units alive now (g' nonzero on some sample) whose activations agree within the
    // separation tolerance (tanh: or mirror each other).
    std::size_t effective_width(const layer_fate& f, const tensor& A, const tensor& d, double scale_A) const {
        std::vector<bool> alive(f.units, false);
        for (std::size_t i = 0; i < f.units; ++i)
            for (std::size_t s = 0; s < d.shape()[1]; ++s) alive[i] = alive[i] || d(i, s) != 0.0;
        signed_union_find uf(f.units);
        for (const pair_record& p : f.pairs) {
            if (!alive[p.first] || !alive[p.second] || (p.sign < 0 && !mirrors_count())) continue;
            if (row_spread(A, p.first, p.second, p.sign, scale_A) <= options_.separation_tolerance)
                uf.join(p.first, p.second, p.sign);
        }
        std::size_t width = 0;
        for (const auto& cls : uf.classes(nullptr)) width += alive[cls.front()] ? 1 : 0;
        return width;
    }

    void classify(layer_fate& f) const {
        signed_union_find tied(f.units), function(f.units);
        for (const pair_record& p : f.pairs) {
            if (p.sign < 0 && !mirrors_count()) continue;
            if (p.max_spread <= options_.tie_tolerance) tied.join(p.first, p.second, p.sign);
            if (p.max_function_spread <= options_.tie_tolerance) function.join(p.first, p.second, p.sign);
        }
        f.tied_classes = tied.classes(&f.sign);
        f.function_classes = function.classes(nullptr);
    }

    const network_state& start_;
    fate_options options_;
    std::size_t steps_;
    fate result_;
    std::vector<bool> moved_;  // W1, b1, W2, b2, ...
};

}  // namespace

const pair_record& layer_fate::pair(std::size_t i, std::size_t j, int s) const {
    if (i > j) std::swap(i, j);
    for (const pair_record& p : pairs)
        if (p.first == i && p.second == j && p.sign == s) return p;
    throw std::out_of_range("layer_fate::pair: no such pair");
}

std::vector<pair_record> layer_fate::initially_tied(double tolerance) const {
    std::vector<pair_record> out;
    for (const pair_record& p : pairs)
        if (p.initial_spread <= tolerance) out.push_back(p);
    return out;
}

fate measure_fate(const network_state& start, const tensor& X, const tensor& Y, const trainer_settings& settings,
                  trainer_kind kind, const fate_options& options) {
    fate_recorder recorder(start, options, settings.steps);
    network_state net = start;
    std::unique_ptr<detail::stepper> s = detail::make_stepper(kind, start, X, Y, settings);
    for (std::size_t t = 0; t <= settings.steps; ++t) {
        pass_result r = forward_backward(net, X, Y);
        recorder.observe(t, net, r);
        if (t < settings.steps) s->advance(net, &r);
    }
    return recorder.finish(net);
}

std::string describe(const fate& f, double tie_tolerance) {
    std::ostringstream out;
    out << std::setprecision(3) << "after " << f.steps << " steps, cost " << f.costs.front() << " -> " << f.costs.back()
        << "; moved:";
    for (const auto& name : f.moved) out << ' ' << name;
    out << '\n';
    for (std::size_t l = 0; l < f.layers.size(); ++l) {
        const layer_fate& L = f.layers[l];
        out << "  layer " << l + 1 << ": tied classes " << L.tied_classes.size() << ", function classes "
            << L.function_classes.size() << ", width";
        for (const auto& w : L.effective_width) out << ' ' << w.step << ':' << w.width;
        out << "; never moved";
        for (std::size_t i = 0; i < L.units; ++i)
            if (L.never_moved[i]) out << ' ' << i;
        out << "; zero g'";
        for (std::size_t i = 0; i < L.units; ++i)
            if (L.zero_derivative(i)) out << ' ' << i;
        out << '\n';
        for (const pair_record& p : L.initially_tied(tie_tolerance))
            out << "    pair " << p.first << ',' << p.second << " sign " << p.sign << ": initial " << p.initial_spread
                << " max " << p.max_spread << " final " << p.final_spread << " separated at "
                << (p.separated_at < 0 ? std::string("never") : std::to_string(p.separated_at)) << '\n';
        for (const pair_record& p : L.pairs)
            if (p.initial_function_spread <= tie_tolerance && p.initial_spread > tie_tolerance &&
                !(L.zero_derivative(p.first) && L.zero_derivative(p.second)))
                out << "    function pair " << p.first << ',' << p.second << " sign " << p.sign << ": initial "
                    << p.initial_function_spread << " max " << p.max_function_spread << " separated at "
                    << (p.function_separated_at < 0 ? std::string("never") : std::to_string(p.function_separated_at)) << '\n';
    }
    return out.str();
}

}  // namespace symgrad::truth
