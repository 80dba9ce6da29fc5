// Elementwise kernels: the build's baseline ISA (SSE2 on x86-64), or AVX2 when the CPU has it, chosen
// once at run time. Both run the same xsimd code, so they give the same bits.
#include "ops/kernels.hpp"

#include "ops/kernels_simd.hpp"

namespace symgrad::kernels {

#ifdef SYMGRAD_AVX2_KERNELS
namespace avx2 {
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
}  // namespace avx2
#endif

namespace {

using baseline = detail::simd_kernels<xsimd::default_arch>;
using kernel = void (*)(const double*, double*, std::size_t);

struct kernel_table {
#define SYMGRAD_KERNEL_FIELD(name, body) kernel name = nullptr;
    SYMGRAD_KERNELS(SYMGRAD_KERNEL_FIELD)
#undef SYMGRAD_KERNEL_FIELD
    const char* isa = nullptr;
};

const kernel_table& active() {
    static const kernel_table table = [] {
        kernel_table t;
#ifdef SYMGRAD_AVX2_KERNELS
        if (xsimd::available_architectures().avx2) {
#define SYMGRAD_AVX2_ENTRY(name, body) t.name = avx2::name;
            SYMGRAD_KERNELS(SYMGRAD_AVX2_ENTRY)
#undef SYMGRAD_AVX2_ENTRY
            t.isa = "avx2";
            return t;
        }
#endif
#define SYMGRAD_BASELINE_ENTRY(name, body) t.name = baseline::name;
        SYMGRAD_KERNELS(SYMGRAD_BASELINE_ENTRY)
#undef SYMGRAD_BASELINE_ENTRY
        t.isa = xsimd::default_arch::name();
        return t;
    }();
    return table;
}

}  // namespace

#define SYMGRAD_DISPATCH(name, body) \
    void name(const double* in, double* out, std::size_t n) { active().name(in, out, n); }
SYMGRAD_KERNELS(SYMGRAD_DISPATCH)
#undef SYMGRAD_DISPATCH
const char* instruction_set() { return active().isa; }

namespace reference {
#define SYMGRAD_REFERENCE(name, body) \
    void name(const double* in, double* out, std::size_t n) { baseline::name(in, out, n); }
SYMGRAD_KERNELS(SYMGRAD_REFERENCE)
#undef SYMGRAD_REFERENCE
}  // namespace reference

}  // namespace symgrad::kernels
