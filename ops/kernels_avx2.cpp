// The kernels compiled for AVX2 (this file only gets -mavx2; no FMA, so rounding matches the SSE2 build).
#include "ops/kernels_simd.hpp"

#ifdef __AVX2__
namespace symgrad::kernels::avx2 {

using k = detail::simd_kernels<xsimd::avx2>;
void tanh(const double* in, double* out, std::size_t n) { k::tanh(in, out, n); }
void sigmoid(const double* in, double* out, std::size_t n) { k::sigmoid(in, out, n); }
void exp(const double* in, double* out, std::size_t n) { k::exp(in, out, n); }
void log(const double* in, double* out, std::size_t n) { k::log(in, out, n); }

}  // namespace symgrad::kernels::avx2
#endif
