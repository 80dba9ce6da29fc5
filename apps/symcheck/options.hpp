// symcheck's command line: every option, its default and its validation (Boost.Program_options).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/data.hpp"
#include "models/init.hpp"
#include "models/mlp.hpp"

namespace symgrad::symcheck {

// CMake's project(VERSION), passed in by apps/symcheck/CMakeLists.txt: --version and the JSON report print it.
constexpr const char* symcheck_version = SYMGRAD_VERSION;

struct init_run {
    std::string label;  // as the user wrote it, e.g. "constant:0.5"
    init_plan plan;
};

struct config {
    // Data.
    std::string data = "titanic";
    csv_options csv;
    // Limits: the largest input read, and the memory a run may use (empty: the memory available now).
    std::size_t max_input_bytes = std::size_t(4) << 30;
    std::optional<double> max_memory_bytes;
    // Model. With --model: the user's file (its state is analysed; empty data means --data was not given
    // and only the weights are analysed), the layer order for weight files, and where --compress writes.
    std::string model_path;
    std::vector<std::string> layer_order;
    std::string compress_path;
    std::vector<std::size_t> hidden{4};
    activation hidden_activation = activation::tanh;
    // Initialisation: one run per entry; or parameters loaded from a directory of .npy files.
    std::vector<init_run> inits;
    std::string load_dir;
    // Training.
    std::string optimizer = "gd";
    double learning_rate = 0.01;
    std::size_t iterations = 3000;
    std::uint64_t seed = 1;
    std::size_t batch_size = 0;         // samples per mini-batch; 0: the full batch, as the article
    std::optional<double> validation;   // the fraction of samples held out for validation
    // Analysis.
    std::optional<double> tolerance;  // default: the analysis library's
    bool exact = false;
    bool detect_anomaly = true;
    bool anomaly_check_every_node = false;  // --detect-anomaly full; else only the results, localising on a hit
    std::size_t trace_every = 1;
    std::size_t lookahead = 300;  // steps of the lookahead on the initial and final states; 0: none
    // Outputs.
    std::string json_path;  // "-" for stdout (then no text report)
    std::string trace_path;
    std::string svg_path;
    std::string dot_path;
    std::string save_dir;
    std::size_t print_weights = 0;
    bool quiet = false;
    // Accuracy is reported (text and JSON) when mini-batches or a validation split are asked for; without
    // them the outputs stay as they were.
    bool reports_accuracy() const { return batch_size != 0 || validation.has_value(); }
    bool has_data() const { return !data.empty(); }
};

// What parse() found: run with a config, or print help/version and exit 0.
struct parsed {
    enum class action { run, help, version } what = action::run;
    config cfg;
    std::string text;  // help or version text
};

// Throws input_error with a one-line message for any bad flag or value.
parsed parse_command_line(int argc, const char* const* argv);

}  // namespace symgrad::symcheck
