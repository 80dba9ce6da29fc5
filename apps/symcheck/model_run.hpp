// symcheck --model: the user's network read from a file, checked against the data, analysed and compressed.
#pragma once
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

#include "analysis/compress.hpp"
#include "analysis/weight_analysis.hpp"
#include "experiment.hpp"
#include "models/model_file.hpp"
#include "options.hpp"

namespace symgrad::symcheck {

// The relative difference --compress accepts between the original's and the compressed model's outputs.
constexpr double compress_check_tolerance = 1e-12;

// --compress's check failed: nothing is written and symcheck exits 3.
struct compress_check_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct model_outcome {
    model_file file;          // as read: the state analysed (before any --iterations)
    std::size_t inputs = 0, outputs = 0;
    std::optional<weight_report> weights;  // without --data
    std::optional<compression> compressed;
    std::string compressed_bytes;          // what --compress writes
    std::string checked_on;                // "the data (2201 samples)" or "256 random inputs"
    double difference = 0.0;               // max |original - compressed| / max |original| over the logits, in double
    std::optional<double> stored_difference;  // the same after narrowing to the file's float32, read back
};

// Reads --model with --activation and --layer-order.
model_file read_user_model(const config& cfg);

// experiment.cpp's hook: reads the model into ex.model, checks it against ex.data (inputs = features, outputs =
// 1 for two classes, k for k) and sets ex.spec to its widths. Throws input_error naming both counts.
void attach_model(const config& cfg, experiment& ex);

// The network of the model with `samples` columns, parameters set from the file.
mlp model_network(const model_outcome& model, std::size_t samples);

// --compress after a run: compresses the analysed state (the file's, or after --iterations the trained one) and
// checks the outputs on the data. Throws compress_check_failed when they differ by more than the tolerance.
void compress_after_run(const config& cfg, experiment& ex);

// --model without --data: the weight-only analysis (and --compress, checked on random inputs); writes its
// outputs and returns the exit status (1 when a problem is proved from the weights alone, else 0).
int run_without_data(const config& cfg, bool text);

// The lines and JSON members --model adds to the report of a run with data.
std::string model_text(const model_outcome& model);        // the file: format, inputs, outputs, reader's notes
std::string compression_text(const model_outcome& model);  // --compress: counts, classes, the check; "" without
void add_model_json(const config& cfg, const model_outcome& model, nlohmann::json& report);

}  // namespace symgrad::symcheck
