// symcheck: glue from the command line to the experiment and its outputs; errors become exit codes.
#include <filesystem>
#include <iostream>
#include <map>

#include <sys/stat.h>
#include <unistd.h>

#include "engine/files.hpp"
#include "engine/error.hpp"
#ifdef SYMGRAD_MPI
#include "distributed/mpi_collective.hpp"
#endif
#include "experiment.hpp"
#include "failures.hpp"
#include "model_run.hpp"
#include "options.hpp"
#include "outputs.hpp"

namespace {

namespace fs = std::filesystem;
using namespace symgrad;
using namespace symgrad::symcheck;

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

// --model's runs stay on rank 0 (docs/distributed.md): the other processes wait for its exit status.
template <class Run>
int on_rank_zero(collective& peers, Run run) {
    int status = 0;
    agree(&peers, [&] {
        if (peers.rank() == 0) status = run();
    });
    return std::stoi(peers.all_gather(std::to_string(status))[0]);
}

// With peers (mpirun -np N, N > 1) every process runs this; rank 0 alone prints and writes.
int run(int argc, const char* const* argv, collective* peers) {
    const bool rank_zero = !peers || peers->rank() == 0;
    parsed p;
    agree(peers, [&] {
        p = parse_command_line(argc, argv);
        if (p.what == parsed::action::run && rank_zero) check_outputs(p.cfg);  // rank 0's files
    });
    if (p.what != parsed::action::run) {
        if (rank_zero) std::cout << p.text;
        return 0;
    }
    config cfg = p.cfg;
    if (!rank_zero) cfg.quiet = true;  // no progress lines from the others
    bool text = !cfg.quiet && !writes_to_stdout(cfg);
    if (peers && !cfg.model_path.empty())
        return on_rank_zero(*peers, [&] { return run(argc, argv, nullptr); });
    if (!cfg.model_path.empty() && !cfg.has_data()) return run_without_data(cfg, text);
    experiment ex = run_experiment(cfg, text ? &std::cout : nullptr, peers);
    compress_after_run(cfg, ex);
    agree(peers, [&] {
        if (rank_zero) write_outputs(cfg, ex);
    });
    if (text) std::cout << text_report(cfg, ex);
    return exit_status(ex);
}

// The single process prints the line and returns its code. Under MPI, an agreed failure (every process
// threw it) is printed by rank 0 and returned by all; anything else is printed by its rank, and `abort` must
// then end every process (docs/distributed.md).
int fail(collective* peers, std::exception_ptr thrown, bool& abort) {
    failure f = classify(thrown);
    abort = false;
    try {
        std::rethrow_exception(thrown);
    } catch (const agreed_failure&) {
        if (peers && peers->rank() != 0) return f.exit_code;
        peers = nullptr;
    } catch (...) {
    }
    if (!peers) {
        std::cerr << f.line << "\n";
        return f.exit_code;
    }
    std::cerr << f.line << " (rank " << peers->rank() << " of " << peers->size() << ")\n" << std::flush;
    abort = true;
    return f.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    symgrad::remove_temporaries_on_signal("symcheck");
#ifdef SYMGRAD_MPI
    symgrad::mpi_session session(argc, argv);
    symgrad::collective* peers = session.peers().size() > 1 ? &session.peers() : nullptr;
#else
    symgrad::collective* peers = nullptr;
#endif
    try {
        int status = run(argc, argv, peers);
        // Before MPI_Finalize (the session's end, a fence of every rank): once any rank has left it, mpirun
        // may end the others, and text still in rank 0's buffer would be lost.
        std::cout.flush();
        return status;
    } catch (...) {
        bool abort = false;
        int status = fail(peers, std::current_exception(), abort);
#ifdef SYMGRAD_MPI
        if (abort) session.abort(status);
#endif
        return status;
    }
}
