// The terminal progress line shared by train() and symcheck.
#include "models/progress.hpp"

#include <cstdio>

#include <unistd.h>

namespace symgrad {

progress_line::progress_line(bool wanted, std::size_t total, std::string label)
    : on_(wanted && isatty(fileno(stderr)) != 0), total_(total), label_(std::move(label)) {}

void progress_line::update(std::size_t iteration, double cost) {
    if (!on_) return;
    auto now = clock::now();
    if (now - start_ < std::chrono::milliseconds(250) || now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    print(iteration, cost);
}

void progress_line::finish(std::size_t iteration, double cost) {
    if (!on_ || !shown_) return;
    print(iteration, cost);
    std::fputc('\n', stderr);
}

void progress_line::print(std::size_t iteration, double cost) {
    std::fprintf(stderr, "\r%s: %zu/%zu (%3.0f%%)  cost %.7g   ", label_.c_str(), iteration, total_,
                 100.0 * double(iteration) / double(total_ == 0 ? 1 : total_), cost);
    shown_ = true;
}

}  // namespace symgrad
