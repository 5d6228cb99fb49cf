#pragma once
// The progress bar of long runs, on stderr: paths done of the total, paths/s and ETA.
// On a terminal it redraws one line at most 8 times a second; when forced (--progress) on a
// file or pipe it writes a plain line at most once a second; otherwise it prints nothing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "marginsim/simulate.hpp"

namespace marginsim::cli {

class ProgressBar {
public:
    enum class Style { off, terminal, log };
    // off when quiet; terminal when stderr is one; log when forced and it is not; else off.
    static Style style_for(bool force, bool quiet);

    explicit ProgressBar(Style style);
    bool enabled() const noexcept { return style_ != Style::off; }

    // Thread-safe and cheap when it does not draw: one clock read and an atomic compare.
    void update(std::string_view label, const RunProgress& progress);
    // The last state, drawn whatever the throttle, and the line ended.
    void finish(std::string_view label, const RunProgress& progress);
    // A line of its own on stderr, the bar cleared first (it is redrawn on the next update).
    void message(std::string_view text);

    // "[######------] 45% 45,056/100,000 paths  123,456 paths/s  ETA 0:03" (for tests too).
    static std::string line(std::string_view label, const RunProgress& progress);

private:
    void draw(std::string_view label, const RunProgress& progress, bool end_line);

    Style style_;
    std::chrono::steady_clock::duration interval_;
    std::atomic<std::int64_t> next_draw_{0};  // steady_clock ticks
    std::mutex draw_lock_;
};

}  // namespace marginsim::cli
