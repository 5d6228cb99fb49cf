#pragma once
// Scenarios of the benchmarks: the seed example from configs/, and a larger book written as
// TOML text, so that both go through the same parser and validation as a user's file.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "marginsim/scenario.hpp"

namespace marginsim::bench {

inline std::filesystem::path seed_example_path() {
    return std::filesystem::path(MARGINSIM_SOURCE_DIR) / "configs" / "seed_example.toml";
}

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// True when `line` assigns `key` ("  key = ...").
inline bool assigns(std::string_view line, std::string_view key) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || !line.substr(start).starts_with(key)) return false;
    const std::size_t next = line.find_first_not_of(" \t", start + key.size());
    return next != std::string_view::npos && line[next] == '=';
}

// The TOML text with every line `key = ...` set to `key = value`; when no line has the key,
// `key = value` is added after the line `table` ("[simulation]"). Edits a scenario as a user
// would, so that the parser derives every field from the result.
inline std::string with_key(std::string_view toml, std::string_view table, std::string_view key, std::string_view value) {
    std::string out;
    std::istringstream lines{std::string(toml)};
    bool found = false;
    for (std::string line; std::getline(lines, line);) {
        if (assigns(line, key)) {
            line = fmt::format("{} = {}", key, value);
            found = true;
        }
        out += line + "\n";
    }
    if (found) return out;
    const std::string header = std::string(table) + "\n";
    const std::size_t at = out.find(header);
    if (at == std::string::npos) throw std::runtime_error("no " + std::string(table) + " table to add " + std::string(key) + " to");
    return out.insert(at + header.size(), std::string(key) + " = " + std::string(value) + "\n");
}

// A scenario's [simulation] monitoring, steps_per_day and horizon_days set (horizon_days <= 0:
// as written), the text parsed as if it were the file `source` (its tier references resolve).
inline Scenario with_simulation(std::string_view toml, const std::filesystem::path& source, Monitoring monitoring,
                                int steps_per_day, double horizon_days = 0.0) {
    std::string text = with_key(toml, "[simulation]", "monitoring", fmt::format("\"{}\"", to_string(monitoring)));
    text = with_key(text, "[simulation]", "steps_per_day", std::to_string(steps_per_day));
    if (horizon_days > 0.0) text = with_key(text, "[simulation]", "horizon_days", fmt::format("{:.1f}", horizon_days));
    return parse_scenario(text, source.string());
}

// The rare-event book of marginsim_accuracy_bench: the seed example at 3x leverage (same
// margins, so 6,000 USDT notional each against the 10,000 balance) over 40 days, continuous
// monitoring at 1 step a day. Its cross P(liquidation) is about 8e-5: the whole cross account
// is lost only when the three fall by about half together.
inline constexpr double rare_book_leverage = 3.0;
inline constexpr double rare_book_horizon_days = 40.0;
inline std::string rare_book_toml(std::string_view seed_toml) {
    std::string text = with_key(seed_toml, "[[positions]]", "leverage", fmt::format("{:.1f}", rare_book_leverage));
    text = with_key(text, "[simulation]", "horizon_days", fmt::format("{:.1f}", rare_book_horizon_days));
    text = with_key(text, "[simulation]", "monitoring", "\"continuous\"");
    text = with_key(text, "[simulation]", "steps_per_day", "1");
    return fmt::format("# The rare-event book of marginsim_accuracy_bench: the seed example below at leverage {:.0f}\n"
                       "# and horizon_days {:.0f}, continuous monitoring at 1 step a day (its comments describe the\n"
                       "# seed example as written, at 10x over 7 days).\n\n{}",
                       rare_book_leverage, rare_book_horizon_days, text);
}

// Monitoring every 1/steps_per_day days, derived fields kept in step as the parser does.
inline void set_steps_per_day(Scenario& scenario, int steps_per_day) {
    Simulation& sim = scenario.simulation;
    sim.steps_per_day = steps_per_day;
    sim.steps = static_cast<int>(std::llround(sim.horizon_days * steps_per_day));
    sim.dt_years = 1.0 / (365.0 * steps_per_day);
}

// 10 assets, 20 positions (a long and a short on each, leverage 3x to 20x, cross and isolated
// mixed), two assets with Binance-like tier tables, funding on half of them, policy "fee".
// Correlation of one market factor: rho_ij = b_i b_j, positive definite since every b_i < 1.
inline std::string large_book_toml(std::uint64_t paths) {
    struct AssetRow {
        const char* symbol;
        double price, volatility, beta, funding;
    };
    constexpr AssetRow rows[] = {
        {"BTC", 66797.37, 0.44, 0.92, 0.0001},  {"ETH", 2026.48, 0.75, 0.90, 0.0001},
        {"SOL", 82.54, 0.77, 0.88, 0.0002},     {"BNB", 590.0, 0.50, 0.80, 0.0},
        {"XRP", 2.1, 0.80, 0.78, -0.0001},      {"DOGE", 0.17, 0.95, 0.80, 0.0003},
        {"ADA", 0.65, 0.85, 0.82, 0.0},         {"AVAX", 20.5, 0.90, 0.85, 0.0},
        {"LINK", 13.2, 0.85, 0.84, 0.0},        {"DOT", 4.1, 0.80, 0.83, 0.0},
    };
    constexpr std::size_t n = std::size(rows);
    std::string toml = fmt::format(
        "[simulation]\npaths = {}\nhorizon_days = 7.0\nsteps_per_day = 24\nseed = 7\n"
        "model = \"gaussian\"\n\n[account]\nbalance = 60000.0\n\n"
        "[liquidation]\npolicy = \"fee\"\nfee_rate = 0.005\n\n",
        paths);
    for (std::size_t i = 0; i < n; ++i) {
        const AssetRow& a = rows[i];
        toml += fmt::format("[[assets]]\nsymbol = \"{}\"\nprice = {}\nvolatility = {}\ndrift = 0.0\n",
                            a.symbol, a.price, a.volatility);
        if (i < 2) {
            toml += "tiers = [ { notional_cap = 50000, rate = 0.004 },\n"
                    "          { notional_cap = 250000, rate = 0.005 },\n"
                    "          { notional_cap = 1000000, rate = 0.01 },\n"
                    "          { rate = 0.025 } ]\n";
        } else {
            toml += "maintenance_margin_rate = 0.005\n";
        }
        if (a.funding != 0.0) toml += fmt::format("funding_rate = {}\n", a.funding);
        toml += "\n";
    }
    toml += "[correlation]\nmatrix = [";
    for (std::size_t i = 0; i < n; ++i) {
        toml += i == 0 ? "[" : ",\n          [";
        for (std::size_t j = 0; j < n; ++j) {
            const double rho = i == j ? 1.0 : rows[i].beta * rows[j].beta;
            toml += fmt::format("{}{}", j == 0 ? "" : ", ", rho);
        }
        toml += "]";
    }
    toml += "]\n\n";
    constexpr double leverage[] = {3, 5, 10, 20, 8};
    for (std::size_t k = 0; k < 2 * n; ++k) {
        const AssetRow& a = rows[k % n];
        const bool is_long = k < n || k % 3 == 0;
        toml += fmt::format(
            "[[positions]]\nsymbol = \"{}\"\nside = \"{}\"\nmargin = {}\nleverage = {}\nmode = \"{}\"\n\n",
            a.symbol, is_long ? "long" : "short", 1000.0 + 250.0 * static_cast<double>(k % 4),
            leverage[k % std::size(leverage)], k % 2 == 0 ? "cross" : "isolated");
    }
    return toml;
}

inline Scenario large_book(std::uint64_t paths) {
    return parse_scenario(large_book_toml(paths), "bench:large_book");
}

}  // namespace marginsim::bench
