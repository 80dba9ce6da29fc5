// Process CPU time for the benchmarks: one clock, so their cpu columns compare.
#pragma once
#include <algorithm>
#include <ctime>
#include <limits>
#include <vector>

namespace symgrad::bench {

// CPU seconds used by this process, all threads, user and system (CLOCK_PROCESS_CPUTIME_ID, nanosecond
// resolution where getrusage has only the scheduler's tick).
inline double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// The median of a list (the mean of the two middle values for an even count); NaN for an empty list.
inline double median(std::vector<double> values) {
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(values.begin(), values.end());
    std::size_t k = values.size();
    return k % 2 ? values[k / 2] : 0.5 * (values[k / 2 - 1] + values[k / 2]);
}

// The median CPU time of `repeats` calls of f(): the median drops the runs another process disturbed.
template <class F>
double median_cpu_seconds(int repeats, F&& f) {
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        double start = cpu_seconds();
        f();
        times.push_back(cpu_seconds() - start);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace symgrad::bench
