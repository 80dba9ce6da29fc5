// The list of elementwise SIMD kernels, one row each: the name and its body on an xsimd batch `x`.
// Adding a kernel is one row here; kernels.hpp, kernels.cpp, kernels_avx2.cpp and kernels_simd.hpp
// expand the list into declarations, the run-time dispatch and the code for each instruction set.
#pragma once

// sigmoid is 1 / (1 + exp(-x)): exp overflows only to +inf, which still gives the right limit 0.
#define SYMGRAD_KERNELS(X)                                  \
    X(tanh, xsimd::tanh(x))                                 \
    X(sigmoid, batch(1.0) / (batch(1.0) + xsimd::exp(-x)))  \
    X(exp, xsimd::exp(x))                                   \
    X(log, xsimd::log(x))

// A kernel's signature: n elements from in to out (which may be the same buffer).
#define SYMGRAD_DECLARE_KERNEL(name, body) void name(const double* in, double* out, std::size_t n);
