// Elementwise kernels: the build's baseline ISA (SSE2 on x86-64), or AVX2 when the CPU has it, chosen
// once at run time. Both run the same xsimd code, so they give the same bits.
#include "ops/kernels.hpp"

#include "ops/kernels_simd.hpp"

namespace symgrad::kernels {

#ifdef SYMGRAD_AVX2_KERNELS
namespace avx2 {
void tanh(const double* in, double* out, std::size_t n);
void sigmoid(const double* in, double* out, std::size_t n);
void exp(const double* in, double* out, std::size_t n);
void log(const double* in, double* out, std::size_t n);
}  // namespace avx2
#endif

namespace {

using baseline = detail::simd_kernels<xsimd::default_arch>;
using kernel = void (*)(const double*, double*, std::size_t);

struct kernel_table {
    kernel tanh, sigmoid, exp, log;
    const char* isa;
};

const kernel_table& active() {
    static const kernel_table table = [] {
#ifdef SYMGRAD_AVX2_KERNELS
        if (xsimd::available_architectures().avx2)
            return kernel_table{avx2::tanh, avx2::sigmoid, avx2::exp, avx2::log, "avx2"};
#endif
        return kernel_table{baseline::tanh, baseline::sigmoid, baseline::exp, baseline::log, xsimd::default_arch::name()};
    }();
    return table;
}

}  // namespace

void tanh(const double* in, double* out, std::size_t n) { active().tanh(in, out, n); }
void sigmoid(const double* in, double* out, std::size_t n) { active().sigmoid(in, out, n); }
void exp(const double* in, double* out, std::size_t n) { active().exp(in, out, n); }
void log(const double* in, double* out, std::size_t n) { active().log(in, out, n); }
const char* instruction_set() { return active().isa; }

namespace reference {
void tanh(const double* in, double* out, std::size_t n) { baseline::tanh(in, out, n); }
void sigmoid(const double* in, double* out, std::size_t n) { baseline::sigmoid(in, out, n); }
void exp(const double* in, double* out, std::size_t n) { baseline::exp(in, out, n); }
void log(const double* in, double* out, std::size_t n) { baseline::log(in, out, n); }
}  // namespace reference

}  // namespace symgrad::kernels
