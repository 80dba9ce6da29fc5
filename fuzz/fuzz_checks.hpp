// What the fuzz targets and their regression tests (tests/test_robustness_fuzz.cpp) both run: one input
// through a loader, and the promises a successful load must keep. A symgrad::error is a clean refusal;
// any other exception escapes, which libFuzzer reports as a finding and Catch2 as a failure.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.hpp"
#include "models/data.hpp"

namespace symgrad::fuzzing {

// The first byte of a CSV input picks the options, so every policy, standardisation and column choice is
// explored; the rest is the file.
inline csv_options csv_options_from(unsigned char pick) {
    csv_options o;
    o.missing = pick % 3 == 0 ? missing_policy::drop_row
                : pick % 3 == 1 ? missing_policy::impute_mean
                                : missing_policy::error;
    o.standardize = (pick & 4) != 0;
    o.drop_identifiers = (pick & 8) == 0;
    if (pick & 16) o.label = "survived";
    if (pick & 32) o.ignore.push_back("name");
    return o;
}

// Returns the promise of models/data.hpp an input broke, or nullptr.
inline const char* run_csv(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return nullptr;
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    dataset d;
    try {
        d = parse_csv(text, "fuzz.csv", csv_options_from(data[0]));
    } catch (const error& e) {
        return std::string(e.what()).empty() ? "an error with an empty message" : nullptr;
    }
    if (d.X.dimension() != 2 || d.Y.dimension() != 2) return "X or Y is not a matrix";
    // models/data.hpp: one row of 0/1 for up to two classes, k one-hot rows for k >= 3.
    const std::size_t k = d.class_names.size();
    if (k == 0) return "no class names";
    if (d.Y.shape()[0] != (k >= 3 ? k : 1)) return "Y's rows do not match the class count";
    if (d.X.shape()[1] != d.Y.shape()[1]) return "X and Y disagree on the sample count";
    if (d.samples() == 0 || d.features() == 0) return "a data set with no samples or no features";
    if (d.feature_names.size() != d.features()) return "not one feature name per row of X";
    for (double v : d.X)
        if (!std::isfinite(v)) return "a non-finite feature value";
    for (double v : d.Y)
        if (v != 0.0 && v != 1.0) return "a label other than 0 or 1";
    for (std::size_t j = 0; k >= 3 && j < d.samples(); ++j) {
        double ones = 0.0;
        for (std::size_t c = 0; c < k; ++c) ones += d.Y(c, j);
        if (ones != 1.0) return "a one-hot label column without exactly one 1";
    }
    return nullptr;
}

inline const char* run_npy(const std::uint8_t* data, std::size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    tensor t;
    try {
        t = parse_npy(bytes, "fuzz.npy");
    } catch (const error& e) {
        return std::string(e.what()).empty() ? "an error with an empty message" : nullptr;
    }
    if (t.dimension() != 2) return "the result is not a matrix";
    if (t.size() * 8 > size) return "more elements than the file has bytes for";  // 8 input bytes each
    for (double v : t)
        if (!std::isfinite(v)) return "a non-finite element was accepted";
    return nullptr;
}

}  // namespace symgrad::fuzzing
