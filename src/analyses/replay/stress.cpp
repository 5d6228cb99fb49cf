// `marginsim stress`: the windows asked for, replayed one by one.

#include "marginsim/stress.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "marginsim/error.hpp"

namespace marginsim {
namespace {

// Where a book's adverse extremes are: a long book's at the lows, a short one's at the highs.
std::string extremes_word(const Scenario& book) {
    const auto any = [&](Side side) {
        return std::any_of(book.positions.begin(), book.positions.end(),
                           [side](const Position& p) { return p.side == side; });
    };
    const bool longs = any(Side::long_side);
    const bool shorts = any(Side::short_side);
    return longs && shorts ? "at the extremes" : shorts ? "at the highs" : "at the lows";
}

}  // namespace

StressReport stress_test(const Scenario& book, const std::vector<PriceSeries>& series,
                         const std::vector<ReplayWindow>& windows, bool skip_uncovered) {
    StressReport report;
    report.scenario = book.source;
    report.policy = book.policy;
    report.fee_rate = book.fee_rate;
    report.balance = book.balance;
    report.warnings = book.warnings;
    report.overrides = book.overrides;
    report.extremes_word = extremes_word(book);
    if (!series.empty()) {
        report.history = std::filesystem::path(series.front().source).parent_path().string();
    }
    const DailyBars bars = daily_bars(series);
    for (const ReplayWindow& window : windows) {
        try {
            check_window(series, window);
        } catch (const InputError& error) {
            if (!skip_uncovered) throw;
            report.skipped.push_back(window.name + ": " + error.message());
            continue;
        }
        const auto start = static_cast<std::size_t>(
            std::lower_bound(bars.dates.begin(), bars.dates.end(), window.start) - bars.dates.begin());
        Replay replay = marginsim::replay(book, bars, start, window.days);
        replay.window = window;
        report.replays.push_back(std::move(replay));
    }
    if (report.replays.empty()) {
        throw InputError(report.history, 0, 0, "",
                         fmt::format("no window is covered by the history of every asset of the book ({})",
                                     report.skipped.empty() ? std::string("none asked") : report.skipped.front()),
                         "price files that cover at least one window of the catalogue");
    }
    return report;
}

}  // namespace marginsim
