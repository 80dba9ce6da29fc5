// A progress line for long training runs, shown on stderr only when it is a terminal.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace symgrad {

// "\r<label>: 1200/3000 (40%)  cost 0.5123456" at most every 100 ms, and only once a run has lasted
// 250 ms, so short runs stay silent. Writing to unbuffered stderr with fprintf does not allocate.
class progress_line {
public:
    // Shown only when `wanted` and stderr is a terminal.
    progress_line(bool wanted, std::size_t total, std::string label = "train");
    void update(std::size_t iteration, double cost);
    // Prints the last state and ends the line, if anything was shown.
    void finish(std::size_t iteration, double cost);

private:
    using clock = std::chrono::steady_clock;
    void print(std::size_t iteration, double cost);
    bool on_;
    std::size_t total_;
    std::string label_;
    bool shown_ = false;
    clock::time_point start_ = clock::now(), last_ = start_;
};

}  // namespace symgrad
