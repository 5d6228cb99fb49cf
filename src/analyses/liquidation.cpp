#include "marginsim/liquidation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "engine/margin_book.hpp"

namespace marginsim {
namespace {

using Json = nlohmann::ordered_json;

std::vector<double> current_prices(const Scenario& scenario) {
    std::vector<double> prices;
    prices.reserve(scenario.asset_count());
    for (const Asset& asset : scenario.assets) prices.push_back(asset.price);
    return prices;
}

struct PoolState {
    double margin_balance = 0.0;  // collateral + unrealised PnL
    double maintenance = 0.0;
};

// The pool at `prices`, with the asset `moving` (if any) at `moving_price` instead.
PoolState pool_state(const MarginBook& book, const MarginPool& pool,
                     const std::vector<double>& prices, std::optional<std::size_t> moving = {},
                     double moving_price = 0.0) {
    PoolState state{pool.collateral, 0.0};
    for (std::size_t k : pool.positions) {
        const std::size_t asset = book.asset_of(k);
        const double p = moving && asset == *moving ? moving_price : prices[asset];
        state.margin_balance += book.upnl(k, p);
        state.maintenance += book.maintenance(k, p);
    }
    return state;
}

std::string no_liquidation_reason(const MarginBook& book, const MarginPool& pool,
                                  const std::vector<double>& prices, std::size_t asset,
                                  const std::string& symbol) {
    const PoolState at_zero = pool_state(book, pool, prices, asset, 0.0);
    return fmt::format(
        "no positive {0} price liquidates it, other prices held: the margin balance of its "
        "{1} pool stays above the maintenance margin at every positive {0} price (as the price "
        "goes to 0: margin balance {2:.2f}, maintenance margin {3:.2f})",
        symbol, pool.is_cross ? "cross" : "isolated", at_zero.margin_balance,
        at_zero.maintenance);
}

LiquidationRow make_row(const Scenario& scenario, const MarginBook& book, MarginMode mode,
                        std::size_t j, const std::vector<double>& prices) {
    const Position& position = scenario.positions[j];
    const Asset& asset = scenario.assets[position.asset];
    const ModeLayout& layout = book.layout(mode);
    const std::size_t pool_index = layout.pool_of_position[j];
    const MarginPool& pool = layout.pools[pool_index];

    LiquidationRow row;
    row.position = j;
    row.symbol = position.symbol;
    row.side = position.side;
    row.mode = pool.is_cross ? MarginMode::cross : MarginMode::isolated;
    row.quantity = position.quantity;
    row.entry_price = position.entry_price;
    row.price = asset.price;
    row.liquidation_price = book.liquidation_price(mode, j, prices);
    if (row.liquidation_price) {
        const double lp = *row.liquidation_price;
        row.distance_pct = (lp - row.price) / row.price * 100.0;
        if (asset.volatility > 0.0) {
            row.distance_sigma_days = std::log(lp / row.price) / (asset.volatility / std::sqrt(365.0));
        }
    } else {
        row.reason = no_liquidation_reason(book, pool, prices, position.asset, position.symbol);
    }
    if (pool_state(book, pool, prices).margin_balance > 0.0) {
        row.margin_ratio = book.margin_ratio(mode, pool_index, prices);
    }
    return row;
}

Json optional_number(const std::optional<double>& value) {
    return value ? Json(*value) : Json(nullptr);
}

// 1234567.891 -> "1,234,567.89" with `decimals` digits after the point.
std::string grouped(double value, int decimals) {
    const std::string digits = fmt::format("{:.{}f}", std::abs(value), decimals);
    const std::size_t integer_end = std::min(digits.find('.'), digits.size());
    std::string text;
    for (std::size_t i = 0; i < integer_end; ++i) {
        if (i > 0 && (integer_end - i) % 3 == 0) text += ',';
        text += digits[i];
    }
    text += digits.substr(integer_end);
    const bool nonzero = digits.find_first_not_of("0.") != std::string::npos;
    return value < 0.0 && nonzero ? "-" + text : text;
}

// Prices as an exchange shows them: cents for prices of 10 and more, more digits below.
std::string format_price(double price) {
    if (std::abs(price) >= 10.0) return grouped(price, 2);
    if (std::abs(price) >= 1.0) return grouped(price, 4);
    return fmt::format("{:.6g}", price);
}

std::string or_dash(const std::optional<double>& value, std::string_view format_spec) {
    return value ? fmt::format(fmt::runtime(format_spec), *value) : std::string("-");
}

void write_mode(std::ostream& out, const ModeLiquidations& mode) {
    fmt::print(out, "\n{}\n", to_string(mode.mode));
    fmt::print(out, "  {:<8} {:<5} {:<8} {:>16} {:>16} {:>16} {:>10} {:>9} {:>12}\n", "symbol",
               "side", "pool", "entry price", "price", "liq. price", "distance", "daily sd",
               "margin ratio");
    for (const LiquidationRow& row : mode.rows) {
        const std::string lp =
            row.liquidation_price ? format_price(*row.liquidation_price) : std::string("none");
        const std::string distance =
            row.distance_pct ? fmt::format("{:+.2f}%", *row.distance_pct) : std::string("-");
        const std::string ratio =
            row.margin_ratio ? fmt::format("{:.2f}%", *row.margin_ratio * 100.0) : std::string("-");
        fmt::print(out, "  {:<8} {:<5} {:<8} {:>16} {:>16} {:>16} {:>10} {:>9} {:>12}\n",
                   row.symbol, to_string(row.side), to_string(row.mode),
                   format_price(row.entry_price), format_price(row.price), lp, distance,
                   or_dash(row.distance_sigma_days, "{:+.2f}"), ratio);
    }
    for (const LiquidationRow& row : mode.rows) {
        if (!row.reason.empty())
            fmt::print(out, "  {} {}: {}\n", row.symbol, to_string(row.side), row.reason);
    }
}

}  // namespace

LiquidationPanel liquidation_panel(const Scenario& scenario) {
    const MarginBook book(scenario);
    const std::vector<double> prices = current_prices(scenario);
    LiquidationPanel panel;
    panel.scenario = scenario.source;
    panel.warnings = scenario.warnings;
    for (const Asset& asset : scenario.assets) {
        if (!asset.tier_table.empty()) panel.tier_tables.push_back(asset.symbol + ": " + asset.tier_table);
    }
    for (MarginMode mode : all_modes) {
        ModeLiquidations& out = panel.modes[mode_index(mode)];
        out.mode = mode;
        for (std::size_t j = 0; j < scenario.positions.size(); ++j)
            out.rows.push_back(make_row(scenario, book, mode, j, prices));
    }
    return panel;
}

std::string to_json(const LiquidationPanel& panel) {
    Json modes = Json::object();
    for (const ModeLiquidations& mode : panel.modes) {
        Json rows = Json::array();
        for (const LiquidationRow& row : mode.rows) {
            rows.push_back(Json{{"symbol", row.symbol},
                                {"side", to_string(row.side)},
                                {"mode", to_string(row.mode)},
                                {"entry_price", row.entry_price},
                                {"price", row.price},
                                {"liquidation_price", optional_number(row.liquidation_price)},
                                {"distance_pct", optional_number(row.distance_pct)},
                                {"distance_sigma_days", optional_number(row.distance_sigma_days)},
                                {"margin_ratio", optional_number(row.margin_ratio)},
                                {"reason", row.reason.empty() ? Json(nullptr) : Json(row.reason)}});
        }
        modes[std::string(to_string(mode.mode))] = std::move(rows);
    }
    const Json document{{"schema", liquidation_schema},
                        {"scenario", panel.scenario},
                        {"modes", std::move(modes)}};
    return document.dump(2) + '\n';
}

void write_text(std::ostream& out, const LiquidationPanel& panel) {
    fmt::print(out, "marginsim liquidation prices: {}\n", panel.scenario);
    if (!panel.tier_tables.empty()) {
        std::string tables;
        for (const std::string& table : panel.tier_tables)
            tables += (tables.empty() ? "" : ", ") + table;
        fmt::print(out, "tier tables: {}\n", tables);
    }
    fmt::print(out,
               "liq. price: the price of the position's asset at which its pool reaches its "
               "maintenance margin,\nevery other price held. distance: to it from the current "
               "price, in % and in daily standard\ndeviations (volatility / sqrt(365)). margin "
               "ratio: maintenance margin / margin balance of the pool.\n");
    for (const ModeLiquidations& mode : panel.modes) write_mode(out, mode);
}

}  // namespace marginsim
