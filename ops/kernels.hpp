// Vectorized elementwise kernels (xsimd) on raw buffers, shared by the ops and the benchmark baseline.
#pragma once
#include <cstddef>

#include "ops/kernel_list.hpp"

namespace symgrad::kernels {

// The fastest instruction set the CPU offers among those built (AVX2 or the build's baseline, SSE2 on
// x86-64), chosen on first use. Every element, tail included, goes through the same vector code.
// One function per row of SYMGRAD_KERNELS: tanh, sigmoid, exp, log.
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
// "avx2", "sse2", ...: what the calls above run.
const char* instruction_set();

// The build's baseline instruction set, always; tests compare the dispatched kernels with these bitwise.
namespace reference {
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
}  // namespace reference

}  // namespace symgrad::kernels
