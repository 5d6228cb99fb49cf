#pragma once
// The three Binance USDⓈ-M exports read into plain values, every field checked where it is read
// (private to src/importers).

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim::importers {

struct BinanceAccount {
    double total_wallet_balance = 0.0;
    std::optional<double> total_cross_wallet_balance;  // totalCrossWalletBalance, if exported
    bool multi_assets_margin = false;
    std::optional<long long> update_time;  // ms since the epoch
};

enum class PositionSide { both, long_leg, short_leg };

struct BinancePosition {
    std::size_t index = 0;  // in the positionRisk array
    std::string symbol;     // "BTCUSDT"
    double amount = 0.0;    // positionAmt: signed
    double entry_price = 0.0;
    double mark_price = 0.0;
    double leverage = 0.0;
    bool isolated = false;
    double isolated_wallet = 0.0;  // isolated only
    std::optional<double> liquidation_price;  // absent when 0 or not exported
    PositionSide side = PositionSide::both;
    std::optional<long long> update_time;
};

struct BinanceBracket {
    double notional_floor = 0.0;
    double notional_cap = 0.0;
    double maint_margin_ratio = 0.0;
    double cum = 0.0;
    double initial_leverage = 0.0;
};

// Per symbol, in increasing notional; every bracket's floor is the previous cap.
using BinanceBrackets = std::map<std::string, std::vector<BinanceBracket>, std::less<>>;

// Each throws InputError naming the file, the JSON path and what was expected.
BinanceAccount parse_binance_account(std::string_view text, const std::string& file);
// Every position of the array, the zero ones included (positionAmt 0).
std::vector<BinancePosition> parse_binance_positions(std::string_view text, const std::string& file);
BinanceBrackets parse_binance_brackets(std::string_view text, const std::string& file);

// The whole file; throws InputError naming it when it cannot be read.
std::string read_export_file(const std::filesystem::path& path);

}  // namespace marginsim::importers
