// libFuzzer target: the .npy reader on arbitrary bytes returns a finite matrix the file has room for or
// refuses with symgrad::error (fuzz_checks.hpp); anything else, a crash or a sanitizer report is a finding.
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const char* broken = symgrad::fuzzing::run_npy(data, size)) {
        std::fprintf(stderr, "fuzz_npy: %s\n", broken);
        std::abort();
    }
    return 0;
}
