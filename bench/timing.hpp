// Process CPU time for the benchmarks: one clock, so their cpu columns compare.
#pragma once
#include <ctime>

namespace symgrad::bench {

// CPU seconds used by this process, all threads, user and system (CLOCK_PROCESS_CPUTIME_ID, nanosecond
// resolution where getrusage has only the scheduler's tick).
inline double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

}  // namespace symgrad::bench
