#pragma once
// Fixtures of the backtest tests: a small book on two synthetic assets and its random-walk
// price history, in memory or written as `date,close` files next to the book.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "calibrate_fixtures.hpp"

namespace marginsim::testing {

// A book on two synthetic assets: an isolated 10x long of AAA and a cross short of BBB.
inline const std::string backtest_book_toml = R"([simulation]
horizon_days = 5
steps_per_day = 2
seed = 3
[account]
balance = 3000
[[assets]]
symbol = "AAA"
price = 100
volatility = 0.5
maintenance_margin_rate = 0.01
[[assets]]
symbol = "BBB"
price = 50
volatility = 0.6
maintenance_margin_rate = 0.01
[[positions]]
symbol = "AAA"
side = "long"
margin = 1000
leverage = 10
mode = "isolated"
[[positions]]
symbol = "BBB"
side = "short"
margin = 1000
quantity = 60
mode = "cross"
)";

// Random walks of 800 days from 2020-01-01 with daily sd 4% and 5%.
inline std::vector<PriceSeries> synthetic_backtest_history() {
    return {series_of("AAA", random_walk(date(2020, 1, 1), 800, 0.04, 1)),
            series_of("BBB", random_walk(date(2020, 1, 1), 800, 0.05, 2))};
}

// The series as SYMBOL.csv and the book as book.toml in `dir`.
inline void write_backtest_files(const std::filesystem::path& dir, const std::vector<PriceSeries>& history) {
    for (const PriceSeries& s : history) std::ofstream(dir / (s.symbol + ".csv")) << ordered_csv({s.dates, s.closes});
    std::ofstream(dir / "book.toml") << backtest_book_toml;
}

}  // namespace marginsim::testing
