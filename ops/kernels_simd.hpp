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

// Halves of the [9/9] Pade approximant of e^(2h), e^(2h) ~ (eh + vh) / (eh - vh) with eh = 1 + w2 (even in h)
// and vh = h (1 + w1) (odd); p_j = (18-j)! 9! / (18! j! (9-j)!) scaled so both lead with 1, in h = r/2 (the
// coefficients of z = r^2 times 4^j, exactly). Relative error under 0.001 ulp for |h| <= 0.7 (checked in
// exact rationals). w1 and w2 are returned apart because tanh needs their difference without the rounding
// of 1 + w.
template <class B>
void pade_exp_halves(B h, B& w1, B& w2) {
    B z = h * h;
    w2 = z * (((B(256.0 / 196035840) * z + B(64.0 / 159120)) * z + B(7.0 / 255)) * z + B(8.0 / 17));
    w1 = z * (((B(256.0 / 8821612800) * z + B(64.0 / 2227680)) * z + B(1.0 / 255)) * z + B(7.0 / 51));
}

// tanh with one division; xsimd 8.1's takes three when a batch mixes |x| below and above 0.625. With a = |x|
// clamped at 20 (tanh 20 rounds to 1) and r = -2a:
//   a < 0.7:   tanh a = -vh/eh at r = -2a, written a + a (w1 - w2) / (1 + w2) so the quotient is a small
//              correction (|r| <= 1.4 keeps the Pade accurate);
//   a >= 0.7:  e^-2a = s e^r, s = 2^k, r = -2a - k ln2 in [-ln2/2, ln2/2] (Cody-Waite, exact first step),
//              tanh a = 1 - q, q = 2u/(1+u) = 2 s p / (m + s p), p = eh + vh, m = eh - vh; q < 0.4.
// Numerator and denominator are chosen per lane, then divided once. Within 1.5 ulp of long double.
// GCC 12's _mm512_slli_epi64 passes _mm512_undefined_epi32() as its unused merge operand, which
// -Wuninitialized reports once inlined here (ops/CMakeLists.txt silences the 'maybe' form likewise).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <class B>
[[gnu::always_inline]] inline B tanh(B x) {
    using I = xsimd::batch<int64_t, typename B::arch_type>;
    constexpr double round_bias = 0x1.8p52;  // adding it rounds to an integer held in the low mantissa bits
    B a = xsimd::min(B(20.0), xsimd::abs(x));  // minpd returns its second operand, NaN, for a NaN
    auto small = a < B(0.7);
    B t = xsimd::select(small, B(round_bias), a * B(-2 * 1.4426950408889634) + B(round_bias));
    B k = t - B(round_bias);  // round(-2a / ln2), 0 below 0.7
    B h = (k * B(-0.5 * ln2_hi) - a) - k * B(0.5 * ln2_lo);  // h = r/2 = -a - k ln2/2
    B s = xsimd::bitwise_cast<B>((xsimd::bitwise_cast<I>(t) - I(int64_t(0x4338000000000000) - 1023)) << 52);
    B w1, w2;
    pade_exp_halves(h, w1, w2);
    B eh = B(1.0) + w2, vh = h + h * w1;
    B sp = s * (eh + vh);
    B q = xsimd::select(small, a * (w1 - w2), B(-2.0) * sp) / xsimd::select(small, eh, (eh - vh) + sp);
    return (xsimd::select(small, a, B(1.0)) + q) | xsimd::bitofsign(x);
}
#pragma GCC diagnostic pop

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

    // One function per row of SYMGRAD_KERNELS (ops/kernel_list.hpp). apply calls the body twice (loop and
    // tail), so GCC called it out of line once per batch, reloading every constant; inlined, tanh is 9 %
    // faster at AVX-512 and 25 % at SSE2.
#define SYMGRAD_SIMD_KERNEL(name, body)                                                    \
    static void name(const double* in, double* out, std::size_t n) {                      \
        apply(in, out, n, [](batch x) __attribute__((always_inline)) { return body; }); \
    }
    SYMGRAD_KERNELS(SYMGRAD_SIMD_KERNEL)
#undef SYMGRAD_SIMD_KERNEL
};

}  // namespace symgrad::kernels::detail
