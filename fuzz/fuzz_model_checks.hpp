// What fuzz_npz and fuzz_safetensors run, and tests/test_models_weight_files.cpp replays on their corpora:
// one input through a weight-file reader and the promises a successful read keeps (a finite dense chain
// that writes back and reads again to the same parameters, bit for bit).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "engine/error.hpp"
#include "models/model_file.hpp"

namespace symgrad::fuzzing {

// Returns the promise a read model broke, or nullptr.
inline const char* check_weight_model(const model_file& m) {
    if (m.layers.empty()) return "a model with no layer";
    std::size_t previous = 0;
    for (const auto& [w, b] : m.layers) {
        if (!m.parameters.count(w) || !m.origins.count(w)) return "a layer's weight without its parameter or origin";
        const tensor& W = m.parameters.at(w);
        if (W.dimension() != 2 || W.size() == 0) return "an empty weight";
        if (previous != 0 && W.shape()[1] != previous) return "a layer whose fan_in is not the units before";
        previous = W.shape()[0];
        if (!b.empty() && (!m.parameters.count(b) || shape_of(m.parameters.at(b)) != shape2{W.shape()[0], 1}))
            return "a bias that is not units x 1";
    }
    for (const auto& [name, t] : m.parameters)
        if (first_non_finite(t)) return "a non-finite parameter was accepted";
    return nullptr;
}

inline const char* run_weight_file(const std::uint8_t* data, std::size_t size, model_format format) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    model_file m;
    try {
        m = parse_model(bytes, format, "fuzz");
    } catch (const error& e) {
        return std::string(e.what()).empty() ? "an error with an empty message" : nullptr;
    }
    if (const char* broken = check_weight_model(m)) return broken;
    model_file back;
    try {
        back = parse_model(model_bytes(m), format, "fuzz-written");
    } catch (const error&) {
        return "a model read cannot be written back and read again";
    }
    if (back.layers != m.layers || back.parameters.size() != m.parameters.size() || back.metadata != m.metadata)
        return "the written model reads back with other layers, parameters or metadata";
    for (const auto& [name, t] : m.parameters) {
        auto it = back.parameters.find(name);
        if (it == back.parameters.end() || it->second.shape() != t.shape() ||
            std::memcmp(it->second.data(), t.data(), t.size() * sizeof(double)) != 0 ||
            back.origins.at(name).dtype != m.origins.at(name).dtype ||
            back.origins.at(name).one_dimensional != m.origins.at(name).one_dimensional)
            return "a parameter reads back with other values, shape or dtype";
    }
    return nullptr;
}

}  // namespace symgrad::fuzzing
