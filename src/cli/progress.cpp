#include "progress.hpp"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <unistd.h>

namespace marginsim::cli {
namespace {

constexpr int bar_width = 24;

std::string grouped(std::uint64_t value) {
    std::string digits = std::to_string(value);
    for (std::size_t at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, 1, ',');
    return digits;
}

std::string clock_text(double seconds) {
    const auto total = static_cast<std::uint64_t>(std::llround(seconds));
    const std::uint64_t h = total / 3600;
    const std::uint64_t m = total / 60 % 60;
    const std::uint64_t s = total % 60;
    return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

}  // namespace

ProgressBar::Style ProgressBar::style_for(bool force, bool quiet) {
    if (quiet) return Style::off;
    if (::isatty(STDERR_FILENO) != 0) return Style::terminal;
    return force ? Style::log : Style::off;
}

ProgressBar::ProgressBar(Style style)
    : style_(style),
      interval_(style == Style::terminal ? std::chrono::steady_clock::duration(std::chrono::milliseconds(125))
                                         : std::chrono::steady_clock::duration(std::chrono::seconds(1))) {}

std::string ProgressBar::line(std::string_view label, const RunProgress& progress) {
    const double total = static_cast<double>(std::max<std::uint64_t>(progress.paths_total, 1));
    const double share = std::min(1.0, static_cast<double>(progress.paths_done) / total);
    const auto filled = static_cast<int>(share * bar_width);
    const std::uint64_t ran = progress.paths_done - progress.paths_resumed;
    const double rate = progress.elapsed_s > 0.0 ? static_cast<double>(ran) / progress.elapsed_s : 0.0;
    const std::uint64_t left = progress.paths_total - std::min(progress.paths_done, progress.paths_total);
    const std::string eta = left == 0 ? std::string("0:00")
                            : rate > 0.0 ? clock_text(static_cast<double>(left) / rate)
                                         : std::string("--");
    return fmt::format("{}[{}{}] {:3.0f}% {}/{} paths  {} paths/s  ETA {}", label, std::string(static_cast<std::size_t>(filled), '#'),
                       std::string(static_cast<std::size_t>(bar_width - filled), '-'), 100.0 * share,
                       grouped(progress.paths_done), grouped(progress.paths_total),
                       grouped(static_cast<std::uint64_t>(std::llround(rate))), eta);
}

void ProgressBar::update(std::string_view label, const RunProgress& progress) {
    if (style_ == Style::off) return;
    const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::int64_t next = next_draw_.load(std::memory_order_relaxed);
    if (now < next) return;
    // One thread wins the slot; the others go back to their blocks at once.
    if (!next_draw_.compare_exchange_strong(next, now + interval_.count(), std::memory_order_relaxed)) return;
    if (!draw_lock_.try_lock()) return;
    const std::lock_guard<std::mutex> lock(draw_lock_, std::adopt_lock);
    draw(label, progress, false);
}

void ProgressBar::finish(std::string_view label, const RunProgress& progress) {
    if (style_ == Style::off) return;
    const std::lock_guard<std::mutex> lock(draw_lock_);
    draw(label, progress, true);
}

void ProgressBar::message(std::string_view text) {
    const std::lock_guard<std::mutex> lock(draw_lock_);
    if (style_ == Style::terminal) std::fputs("\r\x1b[K", stderr);
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

void ProgressBar::draw(std::string_view label, const RunProgress& progress, bool end_line) {
    const std::string text = line(label, progress);
    if (style_ == Style::terminal) {
        std::fputs("\r\x1b[K", stderr);
        std::fputs(text.c_str(), stderr);
        if (end_line) std::fputc('\n', stderr);
    } else {
        std::fputs(text.c_str(), stderr);
        std::fputc('\n', stderr);
    }
    std::fflush(stderr);
}

}  // namespace marginsim::cli
