// The elementwise kernels for one xsimd architecture; included by kernels.cpp (the build's baseline ISA)
// and kernels_avx2.cpp (compiled with -mavx2), so the same code runs at either width.
#pragma once
#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "ops/kernel_list.hpp"

namespace symgrad::kernels::detail {

template <class Arch>
struct simd_kernels {
    using batch = xsimd::batch<double, Arch>;
    static constexpr std::size_t width = batch::size;

    // The tail goes through the same vector code in a zero-padded batch, so every element is computed by
    // the same sequence of operations wherever it sits: identical inputs give identical bits.
    template <class F>
    static void apply(const double* in, double* out, std::size_t n, F f) {
        std::size_t k = 0;
        for (; k + width <= n; k += width) f(batch::load_unaligned(in + k)).store_unaligned(out + k);
        if (k == n) return;
        double pad[width] = {};
        for (std::size_t j = 0; k + j < n; ++j) pad[j] = in[k + j];
        f(batch::load_unaligned(pad)).store_unaligned(pad);
        for (std::size_t j = 0; k + j < n; ++j) out[k + j] = pad[j];
    }

    // One function per row of SYMGRAD_KERNELS (ops/kernel_list.hpp).
#define SYMGRAD_SIMD_KERNEL(name, body) \
    static void name(const double* in, double* out, std::size_t n) { apply(in, out, n, [](batch x) { return body; }); }
    SYMGRAD_KERNELS(SYMGRAD_SIMD_KERNEL)
#undef SYMGRAD_SIMD_KERNEL
};

}  // namespace symgrad::kernels::detail
