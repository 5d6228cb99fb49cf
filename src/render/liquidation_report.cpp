// The text and JSON renderings of the liquidation-price panel.

#include "marginsim/liquidation.hpp"

#include <cmath>
#include <ostream>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "render/format.hpp"

namespace marginsim {
namespace {

using Json = nlohmann::ordered_json;
using detail::grouped;

Json optional_number(const std::optional<double>& value) {
    return value ? Json(*value) : Json(nullptr);
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
        const std::string lp = row.liquidated_at_start ? std::string("AT START")
                               : row.liquidation_price ? format_price(*row.liquidation_price)
                                                       : std::string("none");
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

std::string to_json(const LiquidationPanel& panel) {
    Json modes = Json::object();
    for (const ModeLiquidations& mode : panel.modes) {
        Json rows = Json::array();
        for (const LiquidationRow& row : mode.rows) {
            Json entry{{"symbol", row.symbol},
                                {"side", to_string(row.side)},
                                {"mode", to_string(row.mode)},
                                {"entry_price", row.entry_price},
                                {"price", row.price},
                                {"liquidation_price", optional_number(row.liquidation_price)},
                                {"distance_pct", optional_number(row.distance_pct)},
                                {"distance_sigma_days", optional_number(row.distance_sigma_days)},
                                {"margin_ratio", optional_number(row.margin_ratio)},
                                {"reason", row.reason.empty() ? Json(nullptr) : Json(row.reason)}};
            if (row.liquidated_at_start) entry["liquidated_at_start"] = true;
            rows.push_back(std::move(entry));
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
