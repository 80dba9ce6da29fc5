// libFuzzer target: the ONNX reader on arbitrary bytes returns a model that builds, writes back and reads back
// with the same finite parameters, or refuses with symgrad::error; anything else, a crash or a sanitizer
// report is a finding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.hpp"
#include "models/model_file.hpp"

namespace {

// A directory that does not exist: external data named by an input never reaches real files.
const char* const source = "/nonexistent-symgrad-fuzz/fuzz.onnx";

const char* run_onnx(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    symgrad::model_file model;
    try {
        model = symgrad::parse_model(bytes, symgrad::model_format::onnx, source);
    } catch (const symgrad::error& e) {
        return std::string(e.what()).empty() ? "an error with an empty message" : nullptr;
    }
    for (const auto& [name, p] : model.parameters)
        for (double v : p)
            if (!std::isfinite(v)) return "a non-finite parameter was accepted";
    try {
        symgrad::build_network(model, 3);  // with the loss; may refuse cleanly (a constant sized for another batch)
    } catch (const symgrad::error&) {
    }
    symgrad::model_file back;
    try {
        back = symgrad::parse_model(symgrad::model_bytes(model), symgrad::model_format::onnx, source);
    } catch (const symgrad::error& e) {
        std::fprintf(stderr, "fuzz_onnx: %s\n", e.what());
        return "a model that was read could not be written or read back";
    }
    if (back.parameters.size() != model.parameters.size()) return "the written model reads back other parameters";
    for (const auto& [name, p] : model.parameters) {
        auto it = back.parameters.find(name);
        if (it == back.parameters.end() || it->second.shape() != p.shape() || !std::equal(p.begin(), p.end(), it->second.begin()))
            return "the written model reads back other values";
    }
    return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const char* broken = run_onnx(data, size)) {
        std::fprintf(stderr, "fuzz_onnx: %s\n", broken);
        std::abort();
    }
    return 0;
}
