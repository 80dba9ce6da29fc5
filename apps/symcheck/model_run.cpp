// symcheck --model: reading the user's file, fitting it to the data, the weight-only run and --compress's check.
#include "model_run.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

#include "analysis/hidden_layers.hpp"
#include "analysis/symmetry.hpp"
#include "engine/error.hpp"
#include "engine/files.hpp"

namespace symgrad::symcheck {

namespace {

comparison comparison_of(const config& cfg) {
    comparison how;
    how.exact = cfg.exact;
    how.relative_tolerance = cfg.tolerance ? *cfg.tolerance : symmetry_options{}.relative_tolerance;
    return how;
}

model_read_options read_options(const config& cfg) {
    model_read_options o;
    o.hidden_activation = cfg.hidden_activation;
    o.layer_order = cfg.layer_order;
    o.max_input_bytes = cfg.max_input_bytes;
    return o;
}

// The model's logits (outputs x samples) on X, computed by the engine in double.
tensor logits_of(const model_file& model, const tensor& X) {
    mlp net = build_network(model, X.shape()[1]);
    net.g.retain(net.logits);
    tensor Y = xt::zeros<double>({net.Y.shape().rows, net.Y.shape().cols});
    net.g.feed({{net.X, X}, {net.Y, Y}});
    net.g.forward();
    return net.g.value(net.logits);
}

double relative_difference(const tensor& a, const tensor& b) {
    double d = 0.0, s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::abs(a.flat(i) - b.flat(i)));
        s = std::max(s, std::abs(a.flat(i)));
    }
    return s > 0 ? d / s : d;
}

bool has_float32(const model_file& m) {
    return std::any_of(m.origins.begin(), m.origins.end(), [](const auto& o) { return o.second.dtype == "float32"; });
}

std::string scientific(double x) {
    std::ostringstream s;
    s << std::setprecision(3) << x;
    return s.str();
}

// Compresses `state`, checks its outputs on X against the original's, and keeps the bytes to write.
void compress_and_check(const config& cfg, const model_file& state, const tensor& X, const std::string& on,
                        model_outcome& m) {
    const comparison how = comparison_of(cfg);
    compression c = compress_model(state, how);
    const tensor before = logits_of(state, X);
    m.checked_on = on;
    m.difference = relative_difference(before, logits_of(c.model, X));
    if (!(m.difference <= compress_check_tolerance) && !how.exact) {
        // Units merged within the tolerance moved the outputs: keep only bitwise-equal merges, which are exact.
        const std::string moved = scientific(m.difference);
        c = compress_model(state, comparison{how.relative_tolerance, true});
        m.difference = relative_difference(before, logits_of(c.model, X));
        c.notes.push_back("merging units equal within the tolerance moved the outputs by " + moved +
                          " (relative); merged only bitwise-equal units instead");
    }
    if (!(m.difference <= compress_check_tolerance))
        throw compress_check_failed("--compress: the compressed model's outputs differ from the original's by " +
                                    scientific(m.difference) + " (relative) on " + on + ", above " +
                                    scientific(compress_check_tolerance) +
                                    "; nothing written");
    m.compressed_bytes = model_bytes(c.model);
    model_file back = parse_model(m.compressed_bytes, c.model.format, cfg.compress_path, read_options(cfg));
    const double stored = relative_difference(before, logits_of(back, X));
    if (has_float32(state)) m.stored_difference = stored;
    else if (!(stored <= compress_check_tolerance))
        throw compress_check_failed("--compress: the written model read back gives outputs " + scientific(stored) +
                                    " (relative) away from the original's; nothing written");
    m.compressed = std::move(c);
}

tensor random_inputs(std::size_t features, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor X({features, std::size_t(256)});
    for (double& x : X) x = normal(rng);
    return X;
}

std::string count_words(std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

void fill_shape(model_outcome& m) {
    mlp probe = build_network(m.file, 1);
    m.inputs = probe.X.shape().rows;
    m.outputs = probe.logits.shape().rows;
}

nlohmann::json model_json(const model_outcome& m) {
    nlohmann::json j = {{"source", m.file.source}, {"format", to_string(m.file.format)}, {"inputs", m.inputs},
                        {"outputs", m.outputs}, {"parameters", parameter_count(m.file)}, {"notes", m.file.notes}};
    return j;
}

nlohmann::json compress_json(const config& cfg, const model_outcome& m) {
    nlohmann::json j = to_json_value(*m.compressed);
    j["path"] = cfg.compress_path;
    j["checked_on"] = m.checked_on;
    j["max_relative_difference"] = m.difference;
    j["tolerance"] = compress_check_tolerance;
    if (m.stored_difference) j["max_relative_difference_stored"] = *m.stored_difference;
    return j;
}

}  // namespace

// Refuses what would be silently ignored or destroy the input: --layer-order on an ONNX file (its graph gives
// the order) and --compress naming the --model file itself (under any spelling or hard link).
void check_model_flags(const config& cfg) {
    if (!cfg.layer_order.empty() && model_format_of(cfg.model_path) == model_format::onnx)
        throw input_error("--layer-order: applies to weight files (.npz, .safetensors); the graph of --model '" +
                          cfg.model_path + "' gives its layers' order");
    std::error_code ec;
    if (!cfg.compress_path.empty() && std::filesystem::equivalent(cfg.compress_path, cfg.model_path, ec))
        throw input_error("--compress: '" + cfg.compress_path + "' is the --model file itself; write the compressed " +
                          "model to another file");
}

model_file read_user_model(const config& cfg) {
    check_model_flags(cfg);
    return read_model(cfg.model_path, read_options(cfg));
}

void attach_model(const config& cfg, experiment& ex) {
    auto m = std::make_shared<model_outcome>();
    m->file = read_user_model(cfg);
    fill_shape(*m);
    const std::size_t classes = ex.data.Y.shape()[0] == 1 ? 2 : ex.data.Y.shape()[0];
    const std::size_t wanted = classes == 2 ? 1 : classes;
    if (m->inputs != ex.data.features())
        throw input_error("--model '" + cfg.model_path + "' takes " + count_words(m->inputs, "input", "inputs") +
                          " but --data '" + ex.data.source + "' has " + count_words(ex.data.features(), "feature", "features"));
    // Two logits (PyTorch's CrossEntropyLoss on two classes) read the 0/1 labels as two one-hot rows.
    if (classes == 2 && m->outputs == 2) {
        ex.data.Y = labels_for_head(ex.data.Y, 2);
        if (ex.validation) ex.validation->Y = labels_for_head(ex.validation->Y, 2);
    } else if (m->outputs != wanted)
        throw input_error("--model '" + cfg.model_path + "' gives " + count_words(m->outputs, "output", "outputs") +
                          " but --data '" + ex.data.source + "' has " + std::to_string(classes) + " classes, which need " +
                          count_words(wanted, "output", "outputs") + (classes == 2 ? " (or 2)" : ""));
    mlp probe = build_network(m->file, 1);
    ex.spec.inputs = m->inputs;
    ex.spec.hidden.clear();
    for (const auto& layer : find_hidden_layers(probe.g)) ex.spec.hidden.push_back(layer.units());
    ex.spec.hidden_activation = m->file.hidden_activation;
    ex.spec.outputs = m->outputs;
    ex.model = std::move(m);
}

mlp model_network(const model_outcome& model, std::size_t samples) { return build_network(model.file, samples); }

void compress_after_run(const config& cfg, experiment& ex) {
    if (cfg.compress_path.empty() || !ex.model || ex.runs.empty()) return;
    model_file state = ex.model->file;
    for (auto& [name, value] : state.parameters) {
        auto it = ex.runs.front().final_parameters.find(name);
        if (it != ex.runs.front().final_parameters.end()) value = it->second;
    }
    const std::string on = "the data (" + count_words(ex.data.samples(), "sample", "samples") + ")";
    compress_and_check(cfg, state, ex.data.X, on, *ex.model);
}

int run_without_data(const config& cfg, bool text) {
    model_outcome m;
    m.file = read_user_model(cfg);
    fill_shape(m);
    m.weights = analyze_weights(m.file, comparison_of(cfg));
    if (!cfg.compress_path.empty())
        compress_and_check(cfg, m.file, random_inputs(m.inputs, cfg.seed), "256 random inputs (normal, --seed; no --data)", m);
    const int status = m.weights->has_problem() ? 1 : 0;
    output_batch batch;
    if (!cfg.json_path.empty()) {
        nlohmann::json j = {{"tool", "symcheck"}, {"version", symcheck_version}, {"model", model_json(m)},
                            {"weight_analysis", to_json_value(*m.weights)}, {"exit_status", status}};
        if (m.compressed) j["compress"] = compress_json(cfg, m);
        batch.add(cfg.json_path, j.dump(2) + "\n");
    }
    if (m.compressed) batch.add(cfg.compress_path, m.compressed_bytes);
    batch.commit();
    if (text) std::cout << model_text(m) << to_text(*m.weights) << compression_text(m);
    return status;
}

std::string model_text(const model_outcome& m) {
    std::ostringstream out;
    out << "model: " << m.file.source << " (" << to_string(m.file.format) << (has_float32(m.file) ? ", float32" : "")
        << "), " << count_words(m.inputs, "input", "inputs") << ", " << count_words(m.outputs, "output", "outputs") << ", "
        << parameter_count(m.file) << " parameters\n";
    for (const auto& n : m.file.notes) out << "model: " << n << "\n";
    return out.str();
}

std::string compression_text(const model_outcome& m) {
    if (!m.compressed) return "";
    std::ostringstream out;
    out << to_text(*m.compressed) << "  outputs checked on " << m.checked_on << ": largest relative difference "
        << scientific(m.difference) << " (limit " << scientific(compress_check_tolerance) << ", in double)\n";
    if (m.stored_difference)
        out << "  after rounding to the file's float32 and reading back: " << scientific(*m.stored_difference) << "\n";
    return out.str();
}

void add_model_json(const config& cfg, const model_outcome& m, nlohmann::json& report) {
    report["model_file"] = model_json(m);
    if (m.compressed) report["compress"] = compress_json(cfg, m);
}

}  // namespace symgrad::symcheck
