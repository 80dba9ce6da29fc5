// The kernels compiled for AVX-512 (this file only gets -mavx512f -mavx512dq -mfma, with FMA contraction
// as AVX2's; see ops/CMakeLists.txt).
#include "ops/kernels_simd.hpp"

#ifdef __AVX512F__
namespace symgrad::kernels::avx512 {

using k = detail::simd_kernels<xsimd::avx512f>;
#define SYMGRAD_AVX512_KERNEL(name, body) \
    void name(const double* in, double* out, std::size_t n) { k::name(in, out, n); }
SYMGRAD_KERNELS(SYMGRAD_AVX512_KERNEL)
#undef SYMGRAD_AVX512_KERNEL

}  // namespace symgrad::kernels::avx512
#endif
