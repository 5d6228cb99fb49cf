#pragma once
// Fixtures of the calibration tests: price histories (closes by date from a known log-price
// sequence, a random walk or the engine's own model) written as Binance/CryptoDataDownload or
// plain `date,close` files, and the scenario frame a calibrated snippet is loaded in.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"
#include "engine/market_model.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim::testing {

using std::chrono::days;

inline Date date(int y, unsigned m, unsigned d) {
    return Date(std::chrono::year_month_day{std::chrono::year(y), std::chrono::month(m),
                                            std::chrono::day(d)});
}

// Shortest round-trip decimal form: the file holds exactly the simulated close.
inline std::string fmt_close(double value) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

// One asset's closes by date, written in either file format.
struct Closes {
    std::vector<Date> dates;
    std::vector<double> closes;
};

// CryptoDataDownload's layout: publisher line, header, newest first, the Unix time in ms.
inline std::string binance_csv(const Closes& c, const std::string& pair) {
    std::string text =
        "https://www.CryptoDataDownload.com\n"
        "Unix,Date,Symbol,Open,High,Low,Close,Volume BASE,Volume USDT,tradecount\n";
    for (std::size_t k = c.dates.size(); k-- > 0;) {
        const auto ms = static_cast<long long>(c.dates[k].time_since_epoch().count()) * 86400000LL;
        const std::string close = fmt_close(c.closes[k]);  // open = high = low = close: a valid bar
        text += std::to_string(ms) + "," + format_date(c.dates[k]) + "," + pair + "," + close + "," + close + "," +
                close + "," + close + ",10,20,30\n";
    }
    return text;
}

// date,close in a shuffled order.
inline std::string plain_csv(const Closes& c, std::uint64_t shuffle_seed) {
    std::vector<std::size_t> order(c.dates.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 engine(shuffle_seed);
    std::shuffle(order.begin(), order.end(), engine);
    std::string text = "date,close\n";
    for (std::size_t k : order) {
        text += format_date(c.dates[k]) + "," + fmt_close(c.closes[k]) + "\n";
    }
    return text;
}

// Daily closes of the engine's own model: one path, one step per day from `start`.
inline std::vector<Closes> engine_closes(const Scenario& scenario, Date start, int day_count,
                                  std::uint64_t seed) {
    const MarketModel model(scenario);
    PathBlock paths(model.asset_count(), 1);
    paths.reset(model.start_log_price(), 1);
    RandomStream rng(seed, 0);
    std::vector<Closes> result(model.asset_count());
    for (int day = 0; day <= day_count; ++day) {
        if (day > 0) model.step(paths, rng);
        for (std::size_t i = 0; i < model.asset_count(); ++i) {
            result[i].dates.push_back(start + std::chrono::days(day));
            result[i].closes.push_back(paths.price(i)[0]);
        }
    }
    return result;
}

inline Closes without_days(const Closes& c, const std::vector<Date>& drop) {
    Closes result;
    for (std::size_t k = 0; k < c.dates.size(); ++k) {
        if (std::find(drop.begin(), drop.end(), c.dates[k]) != drop.end()) continue;
        result.dates.push_back(c.dates[k]);
        result.closes.push_back(c.closes[k]);
    }
    return result;
}

inline Closes from_day(const Closes& c, std::size_t first) {
    Closes result;
    result.dates.assign(c.dates.begin() + static_cast<std::ptrdiff_t>(first), c.dates.end());
    result.closes.assign(c.closes.begin() + static_cast<std::ptrdiff_t>(first), c.closes.end());
    return result;
}

inline PriceSeries series_of(const std::string& symbol, const Closes& c) {
    PriceSeries s;
    s.symbol = symbol;
    s.source = symbol + ".csv";
    s.dates = c.dates;
    s.closes = c.closes;
    return s;
}

// Closes exp(x_k) of a known log-price sequence, one per day from `start`.
inline Closes log_prices(Date start, const std::vector<double>& x) {
    Closes c;
    for (std::size_t k = 0; k < x.size(); ++k) {
        c.dates.push_back(start + days(static_cast<int>(k)));
        c.closes.push_back(std::exp(x[k]));
    }
    return c;
}

// A random walk of `count` daily log closes from ln 100, daily standard deviation `sd`.
inline Closes random_walk(Date start, int count, double sd, std::uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> step(0.0, sd);
    std::vector<double> x{std::log(100.0)};
    while (static_cast<int>(x.size()) < count) x.push_back(x.back() + step(engine));
    return log_prices(start, x);
}

// date,close in date order: close k stands on line k + 2.
inline std::string ordered_csv(const Closes& c) {
    std::string text = "date,close\n";
    for (std::size_t k = 0; k < c.dates.size(); ++k) {
        text += format_date(c.dates[k]) + "," + fmt_close(c.closes[k]) + "\n";
    }
    return text;
}


// The message of the InputError that reading (error_of) or calibrating gives; "(no error)".
inline std::string error_of(std::string_view text, std::string_view name = "prices.csv") {
    try {
        parse_price_csv(text, name);
    } catch (const InputError& error) {
        return error.what();
    }
    return "(no error)";
}

inline std::string error_of_calibrating(const std::vector<PriceSeries>& series) {
    try {
        calibrate(align_returns(series));
    } catch (const InputError& error) {
        return error.what();
    }
    return "(no error)";
}

// Within `sigmas` standard errors of the truth.
inline bool within(const Estimate& estimate, double truth, double sigmas) {
    return std::abs(estimate.value - truth) <= sigmas * estimate.standard_error;
}

// [simulation] and [account] before a snippet, and a position after it: a loadable scenario.
inline const std::string snippet_frame = R"([simulation]
horizon_days = 7
[account]
balance = 10000
)";

inline std::string with_position(const std::string& symbol) {
    return "\n[[positions]]\nsymbol = \"" + symbol +
           "\"\nside = \"long\"\nmargin = 1000\nleverage = 5\n";
}

}  // namespace marginsim::testing
