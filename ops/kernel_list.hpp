// The list of elementwise SIMD kernels, one row each: the name and its body on an xsimd batch `x`.
// Adding a kernel is one row here; kernels.hpp, kernels.cpp, kernels_avx2.cpp, kernels_avx512.cpp and
// kernels_simd.hpp expand the list into declarations, the run-time dispatch and each instruction set's code.
#pragma once

// Bodies may call the helpers of ops/kernels_simd.hpp, which fix xsimd 8.1's exp near overflow, log of
// subnormals and the sigmoid's overflow, and replace its tanh by one with a single division (accuracy
// measured in tests/test_ops_kernels_ulp.cpp).
#define SYMGRAD_KERNELS(X)            \
    X(tanh, detail::tanh(x))          \
    X(sigmoid, detail::sigmoid(x))    \
    X(exp, detail::exp_full_range(x)) \
    X(log, detail::log_full_range(x))

// A kernel's signature: n elements from in to out (which may be the same buffer).
#define SYMGRAD_DECLARE_KERNEL(name, body) void name(const double* in, double* out, std::size_t n);
