#pragma once
// The liquidation panel of a scenario, the way an exchange's position panel shows it: per
// account mode and position, the entry and current prices, the deterministic liquidation
// price (docs/model.md#liquidation-price, the same MarginBook::liquidation_price the run report
// uses), the distance to it, and the margin ratio of the position's pool. No simulation.

#include <array>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim {

inline constexpr const char* liquidation_schema = "marginsim.liq/1";

struct LiquidationRow {
    std::size_t position = 0;  // index into Scenario::positions
    std::string symbol;
    Side side = Side::long_side;
    MarginMode mode = MarginMode::cross;  // its pool in this account mode: isolated or cross
    double quantity = 0.0;
    double entry_price = 0.0;
    double price = 0.0;  // current price of its asset
    std::optional<double> liquidation_price;  // empty when no positive price liquidates
    std::optional<double> distance_pct;        // (LP - price) / price * 100
    // ln(LP / price) in daily standard deviations, vol / sqrt(365); empty for a zero-vol asset.
    std::optional<double> distance_sigma_days;
    // Maintenance margin / margin balance of its pool at the current prices; empty when the
    // margin balance is not positive.
    std::optional<double> margin_ratio;
    std::string reason;  // why there is no liquidation price; empty when there is one
    // Its pool is at or below its maintenance margin at the current prices: liquidated at time
    // 0 in this mode (no liquidation price; `reason` gives the numbers).
    bool liquidated_at_start = false;
};

struct ModeLiquidations {
    MarginMode mode = MarginMode::isolated;
    std::vector<LiquidationRow> rows;  // in position order
};

struct LiquidationPanel {
    std::string scenario;  // source file
    std::array<ModeLiquidations, mode_count> modes;
    std::vector<std::string> tier_tables;  // per asset: "BTC: binance-usdm/BTCUSDT", if any
    std::vector<std::string> warnings;
};

// Every mode of all_modes, every position, at the scenario's current prices.
LiquidationPanel liquidation_panel(const Scenario& scenario);

// JSON, schema "marginsim.liq/1": { schema, scenario, modes: { <mode>: [ { symbol, side,
// mode, entry_price, price, liquidation_price, distance_pct, distance_sigma_days,
// margin_ratio, reason[, liquidated_at_start: true] } ] } }, null where a value is not
// defined; pretty-printed.
std::string to_json(const LiquidationPanel& panel);
// One table per mode, as on an exchange's position panel.
void write_text(std::ostream& out, const LiquidationPanel& panel);

}  // namespace marginsim
