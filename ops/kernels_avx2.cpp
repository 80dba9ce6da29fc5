// The kernels compiled for AVX2 with FMA (this file only gets -mavx2 -mfma, contracted as AVX-512's are;
// see ops/CMakeLists.txt).
#include "ops/kernels_simd.hpp"

#ifdef __AVX2__
namespace symgrad::kernels::avx2 {

using k = detail::simd_kernels<xsimd::avx2>;
#define SYMGRAD_AVX2_KERNEL(name, body) \
    void name(const double* in, double* out, std::size_t n) { k::name(in, out, n); }
SYMGRAD_KERNELS(SYMGRAD_AVX2_KERNEL)
#undef SYMGRAD_AVX2_KERNEL

}  // namespace symgrad::kernels::avx2
#endif
