// Vectorized elementwise kernels (xsimd) on raw buffers, shared by the ops and the benchmark baseline.
#pragma once
#include <cstddef>

namespace symgrad::kernels {

void tanh(const double* in, double* out, std::size_t n);
void sigmoid(const double* in, double* out, std::size_t n);
void exp(const double* in, double* out, std::size_t n);
void log(const double* in, double* out, std::size_t n);

}  // namespace symgrad::kernels
