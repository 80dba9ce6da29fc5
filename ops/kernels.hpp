// Vectorized elementwise kernels (xsimd) on raw buffers, shared by the ops and the benchmark baseline.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ops/kernel_list.hpp"

namespace symgrad::kernels {

// The fastest instruction set the CPU offers among those built (AVX-512, AVX2 or the build's baseline,
// SSE2 on x86-64), chosen on first use; the environment variable SYMGRAD_KERNELS=sse2|avx2|avx512 picks
// one instead (an unknown name, or one this CPU or build lacks, makes every call throw input_error).
// Every element, tail included, goes through the same vector code, so results are deterministic per
// machine. AVX2 and AVX-512 use FMA and give the same bits; the SSE2 baseline (no FMA) may differ from them
// in the last bit (tests/test_ops_kernels.cpp). Accuracy on every instruction set against
// long double (tests/test_ops_kernels_ulp.cpp checks the bounds; in brackets the worst seen over 2.5e7
// points per kernel):
//   tanh    <= 1.5 ulp everywhere (1.43, near the switch of formulas at |x| = 0.7);
//   sigmoid <= 2.5 ulp where the result is at least 2^-1022 (2.28); below (x < -708.4) it is 0;
//   exp     <= 1.5 ulp up to overflow at x = 709.78 (1.28, near 709.4); results below
//           2^-1022 (x < -708.4) are 0, an absolute error under 2^-1022;
//   log     <= 1 ulp for every positive input, subnormals included (0.75);
// NaN gives NaN; +-inf and +-0 give the IEEE limits (log of a negative number is NaN, log(+-0) = -inf).
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
// "avx512", "avx2", "sse2", ...: what the calls above run.
const char* instruction_set();

// One instruction set's kernels, for tests and benchmarks that compare them.
using kernel = void (*)(const double* in, double* out, std::size_t n);
struct kernel_set {
    const char* isa = nullptr;
#define SYMGRAD_KERNEL_FIELD(name, body) kernel name = nullptr;
    SYMGRAD_KERNELS(SYMGRAD_KERNEL_FIELD)
#undef SYMGRAD_KERNEL_FIELD
};
// The sets built into this binary that this CPU can run, the baseline first and the fastest last.
std::vector<kernel_set> available_kernel_sets();
// The set named `requested` ("sse2", "avx2", "avx512"), or the fastest available when it is empty; an
// unknown name or one not available here is an input_error naming SYMGRAD_KERNELS and the choices.
kernel_set choose_kernel_set(const std::string& requested);

}  // namespace symgrad::kernels
