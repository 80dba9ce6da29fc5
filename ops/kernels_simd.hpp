// The elementwise kernels for one xsimd architecture; included by kernels.cpp (the build's baseline ISA),
// kernels_avx2.cpp (-mavx2) and kernels_avx512.cpp (-mavx512f -mavx512dq), so the same code runs at
// every width; plus the fixes to xsimd 8.1's functions the kernel bodies use.
#pragma once
#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "ops/kernel_list.hpp"

namespace symgrad::kernels::detail {

// ln 2 = ln2_hi + ln2_lo, with ln2_hi's last 21 bits zero (fdlibm's split, also xsimd's log_2hi/log_2lo),
// so that x - k ln2_hi is exact for the x and small k below.
constexpr double ln2_hi = 6.93147180369123816490e-01;
constexpr double ln2_lo = 1.90821492927058770002e-10;

// xsimd 8.1's exp builds 2^k in the exponent bits and overflows to +inf from x = 1023.5 ln 2 = 709.44,
// although e^x is finite up to 709.78. There e^x = e^(x - ln2_hi) * 2 e^-ln2_lo, where x - ln2_hi is
// exact (x in [512, 1024) is a multiple of 2^-43, ln2_hi of 2^-32) and the factor is rounded once.
template <class B>
B exp_full_range(B x) {
    B r = xsimd::exp(x);
    auto near_overflow = x > B(709.0);
    if (!xsimd::any(near_overflow)) return r;
    constexpr double twice_e_minus_lo = double(2.0L * (1.0L - ln2_lo + 0.5L * ln2_lo * ln2_lo));
    return xsimd::select(near_overflow, xsimd::exp(x - B(ln2_hi)) * B(twice_e_minus_lo), r);
}

// xsimd 8.1's log reads the exponent bits before it rescales a subnormal input, so its log of a
// subnormal is wrong by up to 37. Rescaled here: log x = log(x 2^54) - 54 ln2_hi - 54 ln2_lo, where the
// first subtraction is exact (both terms are multiples of 2^-43 in [512, 1024)).
template <class B>
B log_full_range(B x) {
    auto subnormal = x < B(0x1p-1022) && x > B(0.0);
    if (!xsimd::any(subnormal)) return xsimd::log(x);
    B r = xsimd::log(xsimd::select(subnormal, x * B(0x1p54), x));
    return xsimd::select(subnormal, (r - B(54 * ln2_hi)) - B(54 * ln2_lo), r);
}

// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, with e = e^-|x| <= 1: never overflows, so
// results down to 2^-1022 keep their precision (1 / (1 + e^-x) flushed them to 0 from x = -709.44).
template <class B>
B sigmoid(B x) {
    B e = xsimd::exp(-xsimd::abs(x));
    return xsimd::select(x < B(0.0), e, B(1.0)) / (B(1.0) + e);
}

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
