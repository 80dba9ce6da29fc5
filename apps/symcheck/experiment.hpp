// One symcheck run per initialiser: build, initialise, train while tracing, analyse the final state.
#pragma once
#include <cstddef>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/symmetry.hpp"
#include "engine/collective.hpp"
#include "models/data.hpp"
#include "models/mlp.hpp"
#include "options.hpp"

namespace symgrad::symcheck {

// State after `iteration` updates (0 = as initialised).
struct trace_point {
    std::size_t iteration = 0;
    double cost = 0.0;
    std::optional<std::size_t> effective_width;  // narrowest hidden layer; absent between --trace-every samples
};

struct run_result {
    std::string init;
    std::vector<trace_point> trace;
    symmetry_report initial;  // the state as initialised
    symmetry_report final;    // the state after training (== initial with 0 iterations)
    double initial_cost = 0.0;
    double final_cost = 0.0;
    std::map<std::string, bool> moved;  // per parameter: changed at all during training
    // With cfg.reports_accuracy(): the trained network on the whole training set and on the held-out part.
    std::optional<evaluation> on_training, on_validation;
    std::vector<std::pair<std::string, std::string>> saved_files;  // --save: (file name, .npy bytes)
    std::map<std::string, tensor> final_parameters;  // --model: the analysed state, by parameter name
};

struct model_outcome;  // model_run.hpp: the user's --model

struct experiment {
    dataset data;                       // what the network trains on (without the held-out part)
    std::optional<dataset> validation;  // --validation: the held-out samples
    mlp_spec spec;
    std::vector<run_result> runs;
    std::string dot;  // the model graph (same for every run)
    std::shared_ptr<model_outcome> model;  // --model: the file, its shape and --compress's outcome
    // Data mode under mpirun (docs/distributed.md): data's X and Y hold this process's shard, samples
    // [first_sample, first_sample + data.samples()) of all_samples; peers hold the rest. Null: one process.
    collective* peers = nullptr;
    std::size_t first_sample = 0, all_samples = 0;
    std::size_t samples() const { return peers ? all_samples : data.samples(); }  // the whole training data's
    // Per label row, the training samples whose entry is 1: positives of 0/1 labels, samples per class of k.
    std::vector<std::size_t> label_counts;
    symmetry_verdict verdict() const;  // worst over runs
};

// Where --save puts a run's parameters: --save itself, or a subdirectory named after the run (characters
// other than letters, digits, '.' and '-' become '_') when there are several runs.
std::string save_directory(const config& cfg, const std::string& label);

// The estimated peak memory of a run in bytes (within 25% of the measured peak, tests/test_robustness_memory.cpp);
// run_experiment refuses a run above --max-memory or the memory available.
double estimate_peak_memory(const config& cfg, const mlp_spec& spec, std::size_t samples);

// Runs every initialiser of cfg. `log` receives the article's weight tables (--print-weights), if any.
// Throws input_error for bad data or parameters and anomaly_error when a run diverges. With peers (the
// processes of an mpirun, more than one) every process calls it: each trains on its shard of the samples and
// all of them end with the same experiment; failures are agreed (failures.hpp).
experiment run_experiment(const config& cfg, std::ostream* log, collective* peers = nullptr);

}  // namespace symgrad::symcheck
