#include "marginsim/liquidation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "engine/margin_book.hpp"

namespace marginsim {
namespace {

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

std::string start_liquidation_reason(const MarginBook& book, const MarginPool& pool,
                                     const std::vector<double>& prices, MarginMode mode) {
    const PoolState start = pool_state(book, pool, prices);
    return fmt::format("liquidated at the start: the margin balance {:.2f} of its {} pool is at or below its "
                       "maintenance margin {:.2f} at the current prices; reported as liquidated at time 0 in {} mode",
                       start.margin_balance, pool.is_cross ? "cross" : "isolated", start.maintenance,
                       to_string(mode));
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
    if (pool.liquidated_at_start()) {
        row.liquidated_at_start = true;
        row.reason = start_liquidation_reason(book, pool, prices, mode);
    } else if ((row.liquidation_price = book.liquidation_price(mode, j, prices))) {
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

}  // namespace marginsim
