// Vectorized elementwise kernels (xsimd) on raw buffers, shared by the ops and the benchmark baseline.
#pragma once
#include <cstddef>

namespace symgrad::kernels {

// The fastest instruction set the CPU offers among those built (AVX2 or the build's baseline, SSE2 on
// x86-64), chosen on first use. Every element, tail included, goes through the same vector code.
void tanh(const double* in, double* out, std::size_t n);
void sigmoid(const double* in, double* out, std::size_t n);
void exp(const double* in, double* out, std::size_t n);
void log(const double* in, double* out, std::size_t n);
// "avx2", "sse2", ...: what the calls above run.
const char* instruction_set();

// The build's baseline instruction set, always; tests compare the dispatched kernels with these bitwise.
namespace reference {
void tanh(const double* in, double* out, std::size_t n);
void sigmoid(const double* in, double* out, std::size_t n);
void exp(const double* in, double* out, std::size_t n);
void log(const double* in, double* out, std::size_t n);
}  // namespace reference

}  // namespace symgrad::kernels
