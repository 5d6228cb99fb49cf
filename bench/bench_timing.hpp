#pragma once
// Wall and CPU time of one piece of work, as the benchmark programs take them.
#include <sys/resource.h>

#include <chrono>
#include <limits>

namespace marginsim::bench {

struct Timing {
    double wall_s = std::numeric_limits<double>::infinity();
    double cpu_s = 0.0;
};

// User + system CPU seconds of the process so far (every thread).
inline double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One timed run of `work`: wall and CPU time of the process.
template <class Work>
Timing time_once(Work&& work) {
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    work();
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - t0;
    return Timing{wall.count(), cpu_seconds() - cpu0};
}

}  // namespace marginsim::bench
