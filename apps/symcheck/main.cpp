// symcheck: glue from the command line to the experiment and its outputs; errors become exit codes.
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "engine/files.hpp"
#include "engine/error.hpp"
#include "experiment.hpp"
#include "options.hpp"
#include "outputs.hpp"

namespace {

namespace fs = std::filesystem;
using namespace symgrad;
using namespace symgrad::symcheck;

constexpr int exit_bad_input = 2;
constexpr int exit_internal = 3;

// Fails before training when an output file could not be written later.
void check_writable(const std::string& flag, const std::string& path) {
    if (path.empty() || path == "-") return;
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw io_error(flag + ": '" + path + "' is a directory");
    if (!fs::is_directory(dir, ec))
        throw io_error(flag + ": cannot write '" + path + "': '" + dir.string() + "' " +
                       (fs::exists(dir, ec) ? "is not a directory" : "does not exist"));
    if (::access(dir.c_str(), W_OK) != 0) throw io_error(flag + ": cannot write '" + path + "': directory not writable");
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

void write(const std::string& path, const std::string& text) {
    write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

int run(int argc, const char* const* argv) {
    parsed p = parse_command_line(argc, argv);
    if (p.what != parsed::action::run) {
        std::cout << p.text;
        return 0;
    }
    const config& cfg = p.cfg;
    check_writable("--json", cfg.json_path);
    check_writable("--trace", cfg.trace_path);
    check_writable("--svg", cfg.svg_path);
    check_writable("--dot", cfg.dot_path);
    if (!cfg.save_dir.empty()) {
        std::error_code ec;
        fs::create_directories(cfg.save_dir, ec);
        if (ec || ::access(cfg.save_dir.c_str(), W_OK) != 0)
            throw io_error("--save: cannot write into '" + cfg.save_dir + "'" + (ec ? ": " + ec.message() : ""));
    }
    bool text = !cfg.quiet && cfg.json_path != "-";
    experiment ex = run_experiment(cfg, text ? &std::cout : nullptr);
    if (!cfg.json_path.empty()) {
        std::string json = json_report(cfg, ex);
        if (cfg.json_path == "-")
            std::cout << json;
        else
            write(cfg.json_path, json);
    }
    if (!cfg.trace_path.empty()) write(cfg.trace_path, trace_csv(ex));
    if (!cfg.svg_path.empty()) write(cfg.svg_path, figure_svg(cfg, ex));
    if (!cfg.dot_path.empty()) write(cfg.dot_path, ex.dot);
    if (text) std::cout << text_report(cfg, ex);
    return exit_status(ex);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
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
