// What a model file's weights alone tell about its hidden units, without data: ties, mirrors, dead and unused units.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/compress.hpp"

namespace symgrad {

// One hidden layer's facts from its weights. Classes list only groups of two or more units.
struct layer_weight_facts {
    std::string name;
    std::string activation_kind;
    std::size_t units = 0;
    // Units with equal incoming weights and bias, as stored in the file.
    std::vector<std::vector<std::size_t>> identical;
    // Units with the same output for every input: equal incoming weights and bias after the previous layer's
    // tied units are taken together (their incoming columns summed) and, for tanh, up to sign. Holds the
    // identical classes and the forward-equitable ties that join them.
    std::vector<std::vector<std::size_t>> same_output;
    std::vector<int> sign;                          // per unit: -1 for a mirror of its class's first unit
    std::vector<std::vector<std::size_t>> mirrored; // same_output classes holding a unit and its mirror
    std::vector<std::size_t> zero_outgoing;         // the unit's outgoing weights are all zero
    std::vector<std::size_t> zero_output;           // output 0 for every input (zero incoming row, see below)
    std::vector<std::size_t> dead_relu;             // relu units with zero incoming row and bias <= 0: dead on any data
    std::size_t distinct_outputs = 0;               // units left after compression
};

struct weight_report {
    std::string source;
    std::vector<layer_weight_facts> layers;
    std::size_t parameters = 0, parameters_compressed = 0;
    double relative_tolerance = 0.0;
    bool exact = false;
    std::vector<std::string> notes;
    // A problem proved from the weights alone: relu units dead for every input (they never get a gradient).
    bool has_problem() const;
};

// The analysis of `model`'s weights at tolerance `how` (the compression's classes and removals).
weight_report analyze_weights(const model_file& model, const comparison& how);

// What the weights cannot tell, one sentence each (the same for every model).
std::vector<std::string> undecided_without_data();

// Renderings (analysis/weight_report.cpp).
std::string to_text(const weight_report& report);
nlohmann::json to_json_value(const weight_report& report);
std::string to_text(const compression& c);  // per layer: units before -> after, merged classes, removed units
nlohmann::json to_json_value(const compression& c);

}  // namespace symgrad
