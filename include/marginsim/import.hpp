#pragma once
// Imports an exchange account into a runnable scenario: the exchange's own API exports in, a
// scenario TOML out (positions, margins and modes, the account's maintenance tiers, the marks
// as start prices, volatilities and correlations calibrated from daily price history, and
// comments saying where every number came from). docs/import.md describes the mapping.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace marginsim {

// Binance USDⓈ-M futures, as the API returns them: GET /fapi/v2/account (an object),
// GET /fapi/v2/positionRisk (an array), GET /fapi/v1/leverageBracket (an array of
// { symbol, brackets }). Numbers may be JSON strings ("0.004") or JSON numbers.
struct BinanceExportFiles {
    std::filesystem::path account;
    std::filesystem::path positions;
    std::filesystem::path brackets;
};

struct ImportOptions {
    // Daily price CSV files, one per asset (as read by `marginsim calibrate`), found by file
    // name (Binance_BTCUSDT_d.csv -> BTC). Required: the CLI passes the bundled directory by
    // default.
    std::filesystem::path history_dir;
    std::optional<int> window_days = 365;  // calendar days up to the last common date
    double horizon_days = 7.0;
    std::string generated_at;  // written in the provenance comment ("2026-12-06 22:30 UTC")
};

// One imported position next to the exchange's own liquidation price.
struct ImportedPosition {
    std::string exchange_symbol;  // "BTCUSDT"
    std::string asset;            // "BTC"
    std::string side;             // "long" or "short"
    std::string mode;             // "cross" or "isolated"
    std::optional<double> exchange_liquidation_price;  // absent when the export says 0 or omits it
    std::optional<double> liquidation_price;           // marginsim's, as_configured mode
};

struct ImportResult {
    std::string scenario_toml;  // loads with load_scenario/parse_scenario as it stands
    std::vector<ImportedPosition> positions;  // in the scenario's [[positions]] order
    std::vector<std::string> skipped;         // what was not imported, and why
    std::vector<std::string> warnings;        // what the user should check
};

// Reads the three exports and the history, writes the scenario. Throws InputError naming the
// file, the JSON path (`positions[3].entryPrice`) and what was expected for a bad export, the
// history directory and the asset for an asset without price history, and the scenario
// loader's own error when the imported book does not load.
ImportResult import_binance(const BinanceExportFiles& files, const ImportOptions& options);

}  // namespace marginsim
