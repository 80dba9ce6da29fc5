// libFuzzer target: the CSV loader on arbitrary bytes returns a consistent, finite data set or refuses with
// symgrad::error (fuzz_checks.hpp); anything else, a crash or a sanitizer report is a finding.
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const char* broken = symgrad::fuzzing::run_csv(data, size)) {
        std::fprintf(stderr, "fuzz_csv: %s\n", broken);
        std::abort();
    }
    return 0;
}
