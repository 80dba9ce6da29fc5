// The benchmark's independent reference (bench/reference_mlp): its elementary functions stay within their
// stated ulp bounds against long double over sweeps of the range, and its fused training step matches
// the article's formulas computed plainly here.
#ifdef SYMGRAD_BENCH_REFERENCE
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "reference_mlp.hpp"

namespace ref = symgrad::bench::reference;

namespace {

// |got - exact| in units of the last place of the double nearest to exact (subnormal spacing below 2^-1022).
double ulp_error(double got, long double exact) {
    double d = double(exact);
    int e = d == 0.0 ? -1074 : std::ilogb(d);
    long double ulp = std::ldexp(1.0L, std::max(e, -1022) - 52);
    return double(std::fabs((long double)got - exact) / ulp);
}

using array_fn = void (*)(const double*, double*, std::size_t);

// The largest ulp error of f over xs against the long double function g.
double worst_ulp(array_fn f, const std::vector<double>& xs, const std::function<long double(long double)>& g) {
    std::vector<double> out(xs.size());
    f(xs.data(), out.data(), xs.size());
    double worst = 0.0;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        double e = ulp_error(out[k], g((long double)xs[k]));
        if (!(e <= worst)) worst = e;  // a NaN result counts as a failure
    }
    return worst;
}

// Uniform points on [lo, hi), then +-(1+u) 2^e for every binary exponent in [e_lo, e_hi) (both signs if asked).
std::vector<double> sweep(double lo, double hi, int uniform, int e_lo, int e_hi, int per_exponent, bool negatives) {
    std::mt19937_64 rng(20261129);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> xs;
    for (int k = 0; k < uniform; ++k) xs.push_back(lo + (hi - lo) * u(rng));
    for (int e = e_lo; e < e_hi; ++e)
        for (int k = 0; k < per_exponent; ++k) {
            double x = std::ldexp(1.0 + u(rng), e);
            xs.push_back(x);
            if (negatives) xs.push_back(-x);
        }
    return xs;
}

}  // namespace

TEST_CASE("the reference's tanh stays within its ulp bound over the whole range", "[bench_reference]") {
    auto xs = sweep(-25.0, 25.0, 400000, -1074, 6, 100, true);
    CHECK(worst_ulp(ref::tanh_array, xs, [](long double x) { return std::tanh(x); }) <= ref::tanh_max_ulp);
}

TEST_CASE("the reference's sigmoid stays within its bounds, relative above -708 and absolute below", "[bench_reference]") {
    auto sigmoid = [](long double x) { return 1.0L / (1.0L + std::exp(-x)); };
    auto xs = sweep(-708.0, 40.0, 400000, -1074, 6, 100, true);
    std::vector<double> near = sweep(-40.0, 40.0, 200000, 0, 0, 0, false);
    xs.insert(xs.end(), near.begin(), near.end());
    CHECK(worst_ulp(ref::sigmoid_array, xs, sigmoid) <= ref::sigmoid_max_ulp);
    std::vector<double> low = sweep(-760.0, -708.0, 50000, 0, 0, 0, false), out(low.size());
    ref::sigmoid_array(low.data(), out.data(), low.size());
    for (std::size_t k = 0; k < low.size(); ++k)
        REQUIRE(double(std::fabs(out[k] - sigmoid(low[k]))) <= ref::sigmoid_subnormal_max_error);
}

TEST_CASE("the reference's log and log1p stay within their ulp bounds over the whole range", "[bench_reference]") {
    auto xs = sweep(0.5, 2.0, 200000, -1074, 1024, 100, false);
    for (int e = -60; e < 0; ++e)
        for (double f : {1.1, 1.5, 1.9}) xs.insert(xs.end(), {1.0 + std::ldexp(f, e), 1.0 - std::ldexp(f, e - 1)});
    CHECK(worst_ulp(ref::log_array, xs, [](long double x) { return std::log(x); }) <= ref::log_max_ulp);
    auto us = sweep(-1.0, 1.0, 200000, -1074, 1024, 50, false);
    auto negative = sweep(0.0, 0.0, 0, -1074, 0, 50, false);
    for (double u : negative) us.push_back(-u);
    CHECK(worst_ulp(ref::log1p_array, us, [](long double u) { return std::log1p(u); }) <= ref::log1p_max_ulp);
}

TEST_CASE("the reference's functions keep the special values", "[bench_reference]") {
    const double inf = INFINITY;
    std::vector<double> in = {0.0, inf, -inf, NAN, -1.0}, out(in.size());
    ref::tanh_array(in.data(), out.data(), in.size());
    CHECK(out[0] == 0.0);
    CHECK(out[1] == 1.0);
    CHECK(out[2] == -1.0);
    CHECK(std::isnan(out[3]));
    ref::sigmoid_array(in.data(), out.data(), in.size());
    CHECK((out[0] == 0.5 && out[1] == 1.0 && out[2] == 0.0 && std::isnan(out[3])));
    ref::log_array(in.data(), out.data(), in.size());
    CHECK((out[0] == -inf && out[1] == inf && std::isnan(out[2]) && std::isnan(out[3]) && std::isnan(out[4])));
    ref::log1p_array(in.data(), out.data(), in.size());
    CHECK((out[0] == 0.0 && out[1] == inf && std::isnan(out[2]) && std::isnan(out[3]) && out[4] == -inf));
}

// The article's formulas, unfused, in long double with the std:: functions: two steps of gradient descent.
TEST_CASE("the reference's fused step follows the article's formulas", "[bench_reference]") {
    const std::size_t n = 3, h = 2, m = 5;
    std::vector<double> X = {0.5, -1.0, 2.0, 0.1, -0.3, 1.5, 0.2, -0.7, 0.9, -2.0, -0.4, 0.8, 1.1, -1.2, 0.6};
    std::vector<double> Y = {1, 0, 1, 1, 0};
    std::vector<long double> W1 = {0.3, -0.2, 0.5, -0.4, 0.1, 0.25}, b1 = {0.05, -0.1}, W2 = {0.7, -0.6};
    long double b2 = 0.2L;
    std::vector<double> W1d(W1.begin(), W1.end()), b1d(b1.begin(), b1.end()), W2d(W2.begin(), W2.end());
    ref::mlp net(n, h, m, X.data(), Y.data(), W1d.data(), b1d.data(), W2d.data(), double(b2), 0.1);
    for (int step = 0; step < 2; ++step) {
        std::vector<long double> A1(h * m), dZ2(m);
        long double cost = 0.0L;
        for (std::size_t j = 0; j < m; ++j) {
            long double z2 = b2;
            for (std::size_t i = 0; i < h; ++i) {
                long double z = b1[i];
                for (std::size_t k = 0; k < n; ++k) z += W1[i * n + k] * X[k * m + j];
                A1[i * m + j] = std::tanh(z);
                z2 += W2[i] * A1[i * m + j];
            }
            long double a2 = 1.0L / (1.0L + std::exp(-z2));
            cost -= (Y[j] * std::log(a2) + (1 - Y[j]) * std::log(1.0L - a2)) / m;
            dZ2[j] = (a2 - Y[j]) / m;
        }
        CHECK(net.step() == Approx(double(cost)).epsilon(1e-13));
        for (std::size_t i = 0; i < h; ++i) {
            long double dw2 = 0.0L, db1 = 0.0L;
            std::vector<long double> dz1(m);
            for (std::size_t j = 0; j < m; ++j) {
                dw2 += dZ2[j] * A1[i * m + j];
                dz1[j] = W2[i] * dZ2[j] * (1.0L - A1[i * m + j] * A1[i * m + j]);
                db1 += dz1[j];
            }
            for (std::size_t k = 0; k < n; ++k) {
                long double dw1 = 0.0L;
                for (std::size_t j = 0; j < m; ++j) dw1 += dz1[j] * X[k * m + j];
                W1[i * n + k] -= 0.1L * dw1;
            }
            W2[i] -= 0.1L * dw2;
            b1[i] -= 0.1L * db1;
        }
        long double db2 = 0.0L;
        for (long double d : dZ2) db2 += d;
        b2 -= 0.1L * db2;
    }
}
#endif
