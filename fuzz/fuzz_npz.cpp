// libFuzzer target: the .npz reader on arbitrary bytes returns a finite dense chain that writes back and
// reads again unchanged, or refuses with symgrad::error (fuzz_model_checks.hpp); anything else is a finding.
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_model_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const char* broken = symgrad::fuzzing::run_weight_file(data, size, symgrad::model_format::npz)) {
        std::fprintf(stderr, "fuzz_npz: %s\n", broken);
        std::abort();
    }
    return 0;
}
