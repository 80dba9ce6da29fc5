// Values and gradients: double-precision matrices (a scalar is 1x1) and their shapes.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

#include <xtensor/xtensor.hpp>

namespace symgrad {

using tensor = xt::xtensor<double, 2>;

struct shape2 {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t size() const { return rows * cols; }
    friend bool operator==(shape2 a, shape2 b) { return a.rows == b.rows && a.cols == b.cols; }
    friend bool operator!=(shape2 a, shape2 b) { return !(a == b); }
};

inline shape2 shape_of(const tensor& t) { return {t.shape()[0], t.shape()[1]}; }

// "(4x7)", the form every error message and the DOT export use.
inline std::string to_string(shape2 s) {
    return "(" + std::to_string(s.rows) + "x" + std::to_string(s.cols) + ")";
}

// The largest |element| (0 for an empty tensor): the scale relative tolerances are taken against.
inline double max_abs(const tensor& t) {
    double m = 0.0;
    for (double x : t) m = std::max(m, std::abs(x));
    return m;
}

// True when every element is exactly 0 (or -0).
inline bool all_zero(const tensor& t) {
    for (double x : t)
        if (x != 0.0) return false;
    return true;
}

// The row-major index of the first NaN or Inf element, or nothing when every element is finite.
inline std::optional<std::size_t> first_non_finite(const tensor& t) {
    const double* p = t.data();
    for (std::size_t k = 0, n = t.size(); k < n; ++k)
        if (!std::isfinite(p[k])) return k;
    return std::nullopt;
}

}  // namespace symgrad
