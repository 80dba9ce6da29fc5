// xsimd batches for the transcendental functions; scalar std:: calls finish the tail.
#include "ops/kernels.hpp"

#include <cmath>

#include <xsimd/xsimd.hpp>

namespace symgrad::kernels {

namespace {
using batch = xsimd::batch<double>;
constexpr std::size_t width = batch::size;

template <class V, class S>
void apply(const double* in, double* out, std::size_t n, V vec, S scalar) {
    std::size_t k = 0;
    for (; k + width <= n; k += width) vec(batch::load_unaligned(in + k)).store_unaligned(out + k);
    for (; k < n; ++k) out[k] = scalar(in[k]);
}
}  // namespace

void tanh(const double* in, double* out, std::size_t n) {
    apply(in, out, n, [](batch x) { return xsimd::tanh(x); }, [](double x) { return std::tanh(x); });
}

void sigmoid(const double* in, double* out, std::size_t n) {
    // 1 / (1 + exp(-x)) overflows exp only to +inf, which still gives the right limit 0.
    apply(in, out, n, [](batch x) { return batch(1.0) / (batch(1.0) + xsimd::exp(-x)); },
          [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
}

void exp(const double* in, double* out, std::size_t n) {
    apply(in, out, n, [](batch x) { return xsimd::exp(x); }, [](double x) { return std::exp(x); });
}

void log(const double* in, double* out, std::size_t n) {
    apply(in, out, n, [](batch x) { return xsimd::log(x); }, [](double x) { return std::log(x); });
}

}  // namespace symgrad::kernels
