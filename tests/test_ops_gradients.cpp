// Every op's backward against central finite differences (symgrad::gradcheck) at several fixed-seed shapes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gradcheck.hpp"
#include "ops/ops.hpp"

using namespace symgrad;

namespace {

// Tolerances: gradcheck's defaults (eps 1e-6, atol 1e-5, rtol 1e-3, as in PyTorch). In double precision
// the central difference has truncation error ~eps^2 * f''' ~ 1e-12 and rounding error ~1e-16 / eps ~ 1e-10
// for the O(1) values used here, so a correct backward sits five orders of magnitude inside atol.
const gradcheck_options checked_with_inputs = [] {
    gradcheck_options o;
    o.check_inputs = true;  // inputs here are continuous (weights R, labels Y, data X): their gradients mean something
    return o;
}();

struct value_range {
    double lo, hi;
    bool random_sign;  // draw |x| from [lo, hi] and flip the sign with probability 1/2
};
constexpr value_range any_value{-1.5, 1.5, false};
constexpr value_range positive{0.2, 2.0, false};
constexpr value_range away_from_zero{0.2, 1.5, true};  // relu: eps = 1e-6 never crosses the kink
constexpr value_range probability{0.05, 0.95, false};

void fill(tensor& t, std::mt19937& rng, value_range r) {
    std::uniform_real_distribution<double> u(r.lo, r.hi);
    std::bernoulli_distribution flip(0.5);
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = (r.random_sign && flip(rng) ? -1.0 : 1.0) * u(rng);
}

node random_parameter(graph& g, const std::string& name, shape2 s, std::mt19937& rng, value_range r = any_value) {
    node p = g.parameter(name, s);
    fill(g.value(p), rng, r);
    return p;
}

node random_input(graph& g, const std::string& name, shape2 s, std::mt19937& rng, value_range r = any_value) {
    node x = g.input(name, s);
    tensor t = tensor::from_shape({s.rows, s.cols});
    fill(t, rng, r);
    g.feed(x, t);
    return x;
}

node random_labels(graph& g, const std::string& name, shape2 s, std::mt19937& rng) {
    node y = g.input(name, s);
    tensor t = tensor::from_shape({s.rows, s.cols});
    std::bernoulli_distribution coin(0.5);
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = coin(rng) ? 1.0 : 0.0;
    g.feed(y, t);
    return y;
}

// k x m labels with one 1 per column, in a row drawn at random.
node one_hot_labels(graph& g, shape2 s, std::mt19937& rng) {
    node y = g.input("Y", s);
    tensor t = tensor::from_shape({s.rows, s.cols});
    t.fill(0.0);
    std::uniform_int_distribution<std::size_t> row(0, s.rows - 1);
    for (std::size_t j = 0; j < s.cols; ++j) t(row(rng), j) = 1.0;
    g.feed(y, t);
    return y;
}

// loss = sum(out * R) with random R: a generic linear functional of out, so every output element gets its
// own upstream gradient (a plain sum would send 1 everywhere and miss, e.g., a transposed backward).
node weighted_loss(graph& g, node out, std::mt19937& rng) {
    node r = random_input(g, "R", out.shape(), rng);
    return sum(mul(out, r, "weighted"), "loss");
}

// An identity op in front of the op under test, so the operand is an intermediate and the buffer
// planner may run the op in place (value and gradient buffers shared); the other cases read parameters.
node through_intermediate(node x) { return scale(x, 1.0, x.name() + "_copy"); }

struct grad_case {
    std::string op;     // which op the case is about (its TEST_CASE picks its cases by this)
    std::string label;  // shapes and variant, printed on failure
    std::function<node(graph&, std::mt19937&)> build;  // builds the graph, sets values, returns the loss
};

node binary_case(graph& g, std::mt19937& rng, node (*f)(node, node, const std::string&), shape2 a, shape2 b,
                 bool intermediate) {
    node x = random_parameter(g, "A", a, rng), y = random_parameter(g, "B", b, rng);
    if (intermediate) {
        x = through_intermediate(x);
        y = through_intermediate(y);
    }
    return weighted_loss(g, f(x, y, "out"), rng);
}

template <class F>
node unary_case(graph& g, std::mt19937& rng, F f, shape2 s, value_range r, bool intermediate) {
    node x = random_parameter(g, "A", s, rng, r);
    if (intermediate) x = through_intermediate(x);
    return weighted_loss(g, f(x), rng);
}

std::string shape_label(shape2 s) { return to_string(s); }

std::vector<grad_case> all_cases() {
    std::vector<grad_case> cases;
    // matmul: square-ish, 1x1, inner product, outer product, and the shapes whose gradients are outer
    // products: a row times a matrix (dB = a' g) and a matrix times a column (dA = g b').
    for (auto [a, b] : std::vector<std::pair<shape2, shape2>>{{{3, 4}, {4, 5}},
                                                             {{1, 1}, {1, 1}},
                                                             {{1, 6}, {6, 1}},
                                                             {{5, 1}, {1, 3}},
                                                             {{2, 7}, {7, 4}},
                                                             {{1, 4}, {4, 5}},
                                                             {{4, 3}, {3, 1}}}) {
        cases.push_back({"matmul", shape_label(a) + " x " + shape_label(b), [a = a, b = b](graph& g, std::mt19937& rng) {
                             node x = random_parameter(g, "A", a, rng), y = random_parameter(g, "B", b, rng);
                             return weighted_loss(g, matmul(x, y, "out"), rng);
                         }});
    }
    // Broadcasting binary ops: equal shapes, (h,1) over (h,m), (1,m) over (h,m), (1,1) over anything on
    // either side, (h,1) with (1,m), and 1x1 with 1x1; the equal-shape case also through intermediates.
    const std::vector<std::pair<shape2, shape2>> broadcast_shapes{
        {{3, 4}, {3, 4}}, {{3, 4}, {3, 1}}, {{3, 4}, {1, 4}}, {{1, 1}, {3, 4}},
        {{3, 4}, {1, 1}}, {{3, 1}, {1, 4}}, {{1, 1}, {1, 1}}};
    const std::vector<std::pair<std::string, node (*)(node, node, const std::string&)>> binaries{
        {"add", add}, {"sub", sub}, {"mul", mul}};
    for (const auto& [name, f] : binaries) {
        for (auto [a, b] : broadcast_shapes)
            cases.push_back({name, shape_label(a) + " with " + shape_label(b), [a = a, b = b, f = f](graph& g, std::mt19937& rng) {
                                 return binary_case(g, rng, f, a, b, false);
                             }});
        for (auto [a, b] : std::vector<std::pair<shape2, shape2>>{{{3, 4}, {3, 4}}, {{4, 5}, {4, 1}}})
            cases.push_back({name, shape_label(a) + " with " + shape_label(b) + " through intermediates",
                             [a = a, b = b, f = f](graph& g, std::mt19937& rng) { return binary_case(g, rng, f, a, b, true); }});
    }
    // Elementwise unary ops at 1x1, a matrix, a column and a row, directly and through an intermediate.
    struct unary {
        std::string name;
        std::function<node(node)> f;
        value_range range;
    };
    const std::vector<unary> unaries{
        {"neg", [](node x) { return neg(x, "out"); }, any_value},
        {"scale", [](node x) { return scale(x, 2.5, "out"); }, any_value},
        {"scale", [](node x) { return scale(x, -0.3, "out"); }, any_value},
        {"tanh", [](node x) { return tanh(x, "out"); }, any_value},
        {"sigmoid", [](node x) { return sigmoid(x, "out"); }, any_value},
        {"relu", [](node x) { return relu(x, "out"); }, away_from_zero},
        {"leaky_relu", [](node x) { return leaky_relu(x, 0.1, "out"); }, away_from_zero},
        {"exp", [](node x) { return exp(x, "out"); }, any_value},
        {"log", [](node x) { return log(x, "out"); }, positive},
    };
    for (const auto& u : unaries) {
        for (shape2 s : {shape2{1, 1}, shape2{3, 4}, shape2{5, 1}, shape2{1, 7}}) {
            // A 1x1 relu with a negative input has an all-zero gradient (inconclusive): keep it positive.
            value_range r = (u.name == "relu" && s.size() == 1) ? positive : u.range;
            for (bool via : {false, true})
                cases.push_back({u.name, shape_label(s) + (via ? " through an intermediate" : ""),
                                 [s, r, via, f = u.f](graph& g, std::mt19937& rng) {
                                     return unary_case(g, rng, f, s, r, via);
                                 }});
        }
    }
    // Reductions to 1x1 and transpose.
    for (shape2 s : {shape2{1, 1}, shape2{3, 4}, shape2{6, 1}, shape2{1, 5}}) {
        cases.push_back({"sum", shape_label(s), [s](graph& g, std::mt19937& rng) {
                             return unary_case(g, rng, [](node x) { return sum(x, "out"); }, s, any_value, false);
                         }});
        cases.push_back({"mean", shape_label(s), [s](graph& g, std::mt19937& rng) {
                             return unary_case(g, rng, [](node x) { return mean(x, "out"); }, s, any_value, false);
                         }});
        cases.push_back({"transpose", shape_label(s), [s](graph& g, std::mt19937& rng) {
                             return unary_case(g, rng, [](node x) { return transpose(x, "out"); }, s, any_value, false);
                         }});
    }
    // Losses: probabilities away from the clamp, logits of both signs, 0/1 labels (also checked: the
    // losses are linear in y, so the labels' gradient is well defined).
    for (shape2 s : {shape2{1, 1}, shape2{1, 5}, shape2{3, 4}}) {
        cases.push_back({"bce", shape_label(s), [s](graph& g, std::mt19937& rng) {
                             node a = random_parameter(g, "A", s, rng, probability);
                             node y = random_labels(g, "Y", s, rng);
                             return bce(a, y, "loss");
                         }});
        cases.push_back({"bce", shape_label(s) + " after sigmoid, scaled loss", [s](graph& g, std::mt19937& rng) {
                             node z = random_parameter(g, "Z", s, rng, {-3, 3, false});
                             node y = random_labels(g, "Y", s, rng);
                             return scale(bce(sigmoid(z), y), 3.0, "loss");
                         }});
        cases.push_back({"bce_with_logits", shape_label(s), [s](graph& g, std::mt19937& rng) {
                             node z = random_parameter(g, "Z", s, rng, {-4, 4, false});
                             node y = random_labels(g, "Y", s, rng);
                             return bce_with_logits(z, y, "loss");
                         }});
        cases.push_back({"bce_with_logits", shape_label(s) + " with soft labels, scaled loss", [s](graph& g, std::mt19937& rng) {
                             node z = random_parameter(g, "Z", s, rng, {-4, 4, false});
                             node y = random_input(g, "Y", s, rng, {0.0, 1.0, false});
                             return scale(bce_with_logits(z, y), -2.0, "loss");
                         }});
    }
    // The multi-class head: one-hot columns and soft columns that need not sum to 1 (labels checked too: the
    // loss is linear in y), 2 to 5 classes, one sample or several; softmax through a weighted loss.
    for (shape2 s : {shape2{3, 4}, shape2{2, 1}, shape2{5, 3}, shape2{4, 1}}) {
        cases.push_back({"softmax_cross_entropy", shape_label(s) + " one-hot", [s](graph& g, std::mt19937& rng) {
                             node z = random_parameter(g, "Z", s, rng, {-4, 4, false});
                             return softmax_cross_entropy(z, one_hot_labels(g, s, rng), "loss");
                         }});
        cases.push_back({"softmax_cross_entropy", shape_label(s) + " with unnormalized soft labels, scaled loss",
                         [s](graph& g, std::mt19937& rng) {
                             node z = random_parameter(g, "Z", s, rng, {-4, 4, false});
                             node y = random_input(g, "Y", s, rng, {0.0, 1.0, false});
                             return scale(softmax_cross_entropy(through_intermediate(z), y), -2.0, "loss");
                         }});
        for (bool via : {false, true})
            cases.push_back({"softmax", shape_label(s) + (via ? " through an intermediate" : ""),
                             [s, via](graph& g, std::mt19937& rng) {
                                 return unary_case(g, rng, [](node x) { return softmax(x, "out"); }, s, any_value, via);
                             }});
    }
    // Fan-out: one value read by several ops must get the sum of their gradients.
    cases.push_back({"fan-out", "a parameter read by tanh, exp and mul", [](graph& g, std::mt19937& rng) {
                         node p = random_parameter(g, "P", {3, 4}, rng);
                         node t = tanh(p, "t");
                         node e = exp(p, "e");
                         return weighted_loss(g, mul(t, e) + mul(p, t), rng);
                     }});
    cases.push_back({"fan-out", "an intermediate read twice by one mul (x * x)", [](graph& g, std::mt19937& rng) {
                         node p = random_parameter(g, "P", {2, 5}, rng);
                         node h = sigmoid(p, "h");
                         return weighted_loss(g, mul(h, h), rng);
                     }});
    cases.push_back({"fan-out", "a hidden layer feeding two heads and a shared bias", [](graph& g, std::mt19937& rng) {
                         node x = random_input(g, "X", {3, 6}, rng);
                         node w = random_parameter(g, "W", {4, 3}, rng);
                         node b = random_parameter(g, "b", {4, 1}, rng);
                         node h = tanh(matmul(w, x) + b, "h");
                         node v1 = random_parameter(g, "V1", {1, 4}, rng);
                         node v2 = random_parameter(g, "V2", {2, 4}, rng);
                         node head1 = sigmoid(matmul(v1, h) + sum(b));  // b reaches the loss twice
                         node head2 = exp(matmul(v2, h) * 0.5 + 0.1 * sum(h));  // h reaches it three times
                         return sum(head1) + mean(head2);
                     }});
    // The seed network: 7 inputs, 4 tanh units, a sigmoid output and BCE, with random parameters.
    for (std::size_t m : {1u, 3u, 10u}) {
        cases.push_back({"seed network", std::to_string(m) + " samples", [m](graph& g, std::mt19937& rng) {
                             node X = random_input(g, "X", {7, m}, rng);
                             node Y = random_labels(g, "Y", {1, m}, rng);
                             node W1 = random_parameter(g, "W1", {4, 7}, rng);
                             node b1 = random_parameter(g, "b1", {4, 1}, rng);
                             node W2 = random_parameter(g, "W2", {1, 4}, rng);
                             node b2 = random_parameter(g, "b2", {1, 1}, rng);
                             node A1 = tanh(matmul(W1, X) + b1, "A1");
                             node A2 = sigmoid(matmul(W2, A1) + b2, "A2");
                             return bce(A2, Y, "J");
                         }});
    }
    return cases;
}

// A fixed seed per case, from its name (FNV-1a), so adding a case does not change the others' values.
std::uint32_t seed_of(const grad_case& c) {
    std::uint32_t h = 2166136261u;
    for (char ch : c.op + "/" + c.label) h = (h ^ std::uint8_t(ch)) * 16777619u;
    return h;
}

gradcheck_report run(const grad_case& c) {
    graph g;
    std::mt19937 rng(seed_of(c));
    node loss = c.build(g, rng);
    return gradcheck(g, loss, checked_with_inputs);
}

// Every tensor must pass on its own: a case built here never has an all-zero (inconclusive) gradient.
void check_op(const std::string& op) {
    std::size_t n = 0;
    for (const auto& c : all_cases()) {
        if (c.op != op) continue;
        ++n;
        auto report = run(c);
        INFO(op << " " << c.label << ":\n" << report.summary());
        CHECK(report.repeatable);
        for (const auto& t : report.tensors) CHECK(t.status == check_status::passed);
        CHECK(report.passed());
    }
    CHECK(n >= 3);
}

}  // namespace

// One test per op of the table above, named by its rows: a new op needs a row there, nothing here.
std::vector<std::string> checked_ops() {
    std::vector<std::string> ops;
    for (const auto& c : all_cases())
        if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) ops.push_back(c.op);
    return ops;
}

TEST_CASE("every op in the table has gradients that match finite differences", "[engine][ops][gradcheck]") {
    auto ops = checked_ops();
    // The ops of ops/ops.hpp plus the fan-out and seed-network cases: a table that lost rows fails here.
    CHECK(ops.size() >= 20);
    for (const auto& op : ops) {
        DYNAMIC_SECTION(op) { check_op(op); }
    }
}

// Runs every case once more and reports the worst error seen, so a drift towards the tolerance shows.
TEST_CASE("the largest gradient-check error over every op stays far inside the tolerance",
          "[engine][ops][gradcheck][summary]") {
    double worst = 0.0;
    std::string where;
    std::size_t checks = 0;
    for (const auto& c : all_cases()) {
        auto report = run(c);
        checks += report.tensors.size();
        if (report.max_abs_error() >= worst) {
            worst = report.max_abs_error();
            where = c.op + " " + c.label;
        }
    }
    std::ostringstream line;
    line << "largest gradcheck max_abs_error over " << checks << " tensors: " << worst << " (" << where << ")";
    WARN(line.str());
    // 1e-7 is 100x inside atol = 1e-5: the bound that the error analysis above predicts with room to spare.
    CHECK(worst < 1e-7);
}
