// symcheck: glue from the command line to the experiment and its outputs; errors become exit codes.
#include <filesystem>
#include <iostream>
#include <map>

#include <sys/stat.h>
#include <unistd.h>

#include "engine/files.hpp"
#include "engine/error.hpp"
#include "experiment.hpp"
#include "model_run.hpp"
#include "options.hpp"
#include "outputs.hpp"

namespace {

namespace fs = std::filesystem;
using namespace symgrad;
using namespace symgrad::symcheck;

constexpr int exit_bad_input = 2;
constexpr int exit_internal = 3;

// Every output path, checked before training so a bad one costs no work: each must be writable (or "-"), and
// no two may name the same file (a character device such as /dev/null may take several).
void check_outputs(const config& cfg) {
    const std::pair<const char*, const std::string*> outputs[] = {
        {"--json", &cfg.json_path}, {"--trace", &cfg.trace_path}, {"--svg", &cfg.svg_path}, {"--dot", &cfg.dot_path},
        {"--compress", &cfg.compress_path}};
    std::map<std::string, std::string> seen;  // resolved path -> flag
    for (const auto& [flag, path] : outputs) {
        if (path->empty()) continue;
        output_kind kind = check_output_path(flag, *path);
        std::error_code ec;
        std::string key = kind == output_kind::standard_output ? "-" : fs::weakly_canonical(fs::absolute(*path), ec).string();
        struct stat st {};
        if (kind == output_kind::write_through && ::stat(path->c_str(), &st) == 0 && S_ISCHR(st.st_mode)) continue;
        auto [it, fresh] = seen.emplace(key, flag);
        if (!fresh)
            throw io_error(std::string(flag) + ": '" + *path + "' is also where " + it->second +
                           " writes; give each output its own file");
    }
    if (cfg.save_dir.empty()) return;
    check_output_directory("--save", cfg.save_dir);
    std::map<std::string, std::string> runs;  // save directory -> run
    for (const auto& init : cfg.inits) {
        auto [it, fresh] = runs.emplace(save_directory(cfg, init.label), init.label);
        if (!fresh)
            throw input_error("--save: runs '" + it->second + "' and '" + init.label + "' would both be saved in '" +
                              it->first + "'; give each --init once");
    }
}

bool writes_to_stdout(const config& cfg) {
    return cfg.json_path == "-" || cfg.trace_path == "-" || cfg.svg_path == "-" || cfg.dot_path == "-";
}

// Every output of the run, committed together at the end: all of them, or (on any failure) none.
void write_outputs(const config& cfg, const experiment& ex) {
    output_batch batch;
    if (!cfg.json_path.empty()) batch.add(cfg.json_path, json_report(cfg, ex));
    if (!cfg.trace_path.empty()) batch.add(cfg.trace_path, trace_csv(ex));
    if (!cfg.svg_path.empty()) batch.add(cfg.svg_path, figure_svg(cfg, ex));
    if (!cfg.dot_path.empty()) batch.add(cfg.dot_path, ex.dot);
    for (const auto& r : ex.runs)
        for (const auto& [name, bytes] : r.saved_files)
            batch.add((fs::path(save_directory(cfg, r.init)) / name).string(), bytes);
    if (ex.model && !ex.model->compressed_bytes.empty()) batch.add(cfg.compress_path, ex.model->compressed_bytes);
    batch.commit();
}

// Messages may quote user text (a CSV cell, a column name, a flag) holding line breaks or control bytes;
// escaping them keeps every error on one line.
std::string one_line(const std::string& message) {
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (char ch : message) {
        unsigned char u = static_cast<unsigned char>(ch);
        if (ch == '\n') s += "\\n";
        else if (ch == '\r') s += "\\r";
        else if (ch == '\t') s += "\\t";
        else if (u < 0x20 || u == 0x7f) s += std::string("\\x") + hex[u >> 4] + hex[u & 15];
        else s += ch;
    }
    return s;
}

int run(int argc, const char* const* argv) {
    parsed p = parse_command_line(argc, argv);
    if (p.what != parsed::action::run) {
        std::cout << p.text;
        return 0;
    }
    const config& cfg = p.cfg;
    check_outputs(cfg);
    bool text = !cfg.quiet && !writes_to_stdout(cfg);
    if (!cfg.model_path.empty() && !cfg.has_data()) return run_without_data(cfg, text);
    experiment ex = run_experiment(cfg, text ? &std::cout : nullptr);
    compress_after_run(cfg, ex);
    write_outputs(cfg, ex);
    if (text) std::cout << text_report(cfg, ex);
    return exit_status(ex);
}

}  // namespace

int main(int argc, char** argv) {
    symgrad::remove_temporaries_on_signal("symcheck");
    try {
        return run(argc, argv);
    } catch (const symgrad::symcheck::compress_check_failed& e) {
        std::cerr << "symcheck: error: " << one_line(e.what()) << "\n";
        return exit_internal;
    } catch (const symgrad::error& e) {
        std::cerr << "symcheck: error: " << one_line(e.what()) << "\n";
        return exit_bad_input;
    } catch (const std::bad_alloc&) {
        std::cerr << "symcheck: error: out of memory (try a smaller model or data set)\n";
        return exit_bad_input;
    } catch (const std::exception& e) {
        std::cerr << "symcheck: internal error: " << one_line(e.what()) << "\n";
        return exit_internal;
    }
}
