// libFuzzer target: runs mode's decoder (apps/symcheck/sweep.cpp) on arbitrary bytes either refuses them with
// input_error or decodes a run whose encoding is exactly those bytes; a crash, a sanitizer report or a
// decodable input that encodes differently is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.hpp"
#include "sweep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        if (symgrad::symcheck::encode(symgrad::symcheck::decode(bytes)) != bytes) {
            std::fprintf(stderr, "fuzz_runs: a decodable input does not encode back to its own bytes\n");
            std::abort();
        }
    } catch (const symgrad::input_error&) {
    }
    return 0;
}
