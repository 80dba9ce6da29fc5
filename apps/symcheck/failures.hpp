// How symcheck turns an exception into its one line and exit code, and how the processes of one mpirun agree
// on a failure so that they all leave together with that line and code (docs/distributed.md).
#pragma once
#include <exception>
#include <string>

#include "engine/collective.hpp"

namespace symgrad::symcheck {

constexpr int exit_bad_input = 2;
constexpr int exit_internal = 3;

struct failure {
    int exit_code = exit_internal;
    std::string line;  // "symcheck: error: ..." on one line
};

// The exit code and line for what was thrown: 3 for a failed --compress check or an internal error, 2 for
// any symgrad::error (bad input, anomaly) or running out of memory.
failure classify(std::exception_ptr thrown);

// A failure every process knows of and leaves with: rank 0 prints the line, every process returns the code.
class agreed_failure : public std::exception {
public:
    explicit agreed_failure(failure f) : failure_(std::move(f)) {}
    const failure& what_failed() const { return failure_; }
    const char* what() const noexcept override { return failure_.line.c_str(); }

private:
    failure failure_;
};

// The one agreement check of a phase where failures are expected: with peers, runs `phase` on every process
// and, if it threw on any, throws on every process the agreed_failure of the first (by rank) that threw.
// Without peers (one process) it only runs `phase`: what it throws passes through unchanged.
template <class Phase>
void agree(collective* peers, Phase&& phase) {
    if (!peers) return phase();
    std::string mine;
    try {
        phase();
    } catch (...) {
        failure f = classify(std::current_exception());
        mine = std::to_string(f.exit_code) + " " + f.line;
    }
    std::string first = first_error(*peers, mine);
    if (first.empty()) return;
    std::size_t space = first.find(' ');
    throw agreed_failure({std::stoi(first.substr(0, space)), first.substr(space + 1)});
}

}  // namespace symgrad::symcheck
