// Elementwise kernels: the build's baseline ISA (SSE2 on x86-64), AVX2 or AVX-512 when the CPU has them,
// chosen once at run time (or forced by SYMGRAD_KERNELS). All run the same xsimd code (AVX2 and AVX-512 with FMA).
#include "ops/kernels.hpp"

#include <cstdlib>

#include "engine/error.hpp"
#include "ops/kernels_simd.hpp"

namespace symgrad::kernels {

#ifdef SYMGRAD_AVX2_KERNELS
namespace avx2 {
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
}  // namespace avx2
#endif
#ifdef SYMGRAD_AVX512_KERNELS
namespace avx512 {
SYMGRAD_KERNELS(SYMGRAD_DECLARE_KERNEL)
}  // namespace avx512
#endif

namespace {

using baseline = detail::simd_kernels<xsimd::default_arch>;

// A kernel_set from an entry macro that names one ISA's function for each row of SYMGRAD_KERNELS.
#define SYMGRAD_KERNEL_SET(label, entry) \
    [] {                                     \
        kernel_set s;                        \
        s.isa = label;                       \
        SYMGRAD_KERNELS(entry)               \
        return s;                            \
    }()
#define SYMGRAD_BASELINE_ENTRY(name, body) s.name = baseline::name;
#define SYMGRAD_AVX2_ENTRY(name, body) s.name = avx2::name;
#define SYMGRAD_AVX512_ENTRY(name, body) s.name = avx512::name;

// kernels_avx512.cpp uses AVX-512F and DQ (whose FMA covers every width with -mfma). xsimd 8.1 reads CPUID only; GCC's check also asks the OS
// (XCR0) whether it saves the AVX-512 registers.
bool cpu_has_avx512() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();  // needed if the first kernel call comes from another file's static initializer
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

// kernels_avx2.cpp uses AVX2 and FMA (a few AVX2 CPUs lack FMA).
bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const kernel_set& active() {
    static const kernel_set table = [] {
        const char* requested = std::getenv("SYMGRAD_KERNELS");
        return choose_kernel_set(requested ? requested : "");
    }();
    return table;
}

}  // namespace

std::vector<kernel_set> available_kernel_sets() {
    std::vector<kernel_set> sets{SYMGRAD_KERNEL_SET(xsimd::default_arch::name(), SYMGRAD_BASELINE_ENTRY)};
#ifdef SYMGRAD_AVX2_KERNELS
    if (cpu_has_avx2_fma()) sets.push_back(SYMGRAD_KERNEL_SET("avx2", SYMGRAD_AVX2_ENTRY));
#endif
#ifdef SYMGRAD_AVX512_KERNELS
    if (cpu_has_avx512()) sets.push_back(SYMGRAD_KERNEL_SET("avx512", SYMGRAD_AVX512_ENTRY));
#endif
    return sets;
}

kernel_set choose_kernel_set(const std::string& requested) {
    auto sets = available_kernel_sets();
    if (requested.empty()) return sets.back();
    std::string names;
    for (const auto& s : sets) {
        if (requested == s.isa) return s;
        names += (names.empty() ? "" : ", ") + std::string(s.isa);
    }
    bool known = requested == "sse2" || requested == "avx2" || requested == "avx512";
    throw input_error("SYMGRAD_KERNELS=" + requested + ": " +
                      (known ? "this CPU or build does not offer it" : "unknown instruction set") +
                      " (available here: " + names + ")");
}

#define SYMGRAD_DISPATCH(name, body) \
    void name(const double* in, double* out, std::size_t n) { active().name(in, out, n); }
SYMGRAD_KERNELS(SYMGRAD_DISPATCH)
#undef SYMGRAD_DISPATCH
const char* instruction_set() { return active().isa; }

}  // namespace symgrad::kernels
