#pragma once
// An exchange account as the scenario will hold it: assets with their marks and brackets,
// positions with side, size, entry, margin and mode (private to src/importers).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "importers/binance_export.hpp"

namespace marginsim::importers {

struct BookAsset {
    std::string symbol;           // "BTC"
    std::string exchange_symbol;  // "BTCUSDT"
    double mark_price = 0.0;
    std::vector<BinanceBracket> brackets;
    // The scenario refuses a position above its tier's max_leverage or past a capped last
    // tier. A real account can hold both (brackets are lowered after positions are opened):
    // then the asset's tiers are written without max_leverage, or without the last cap.
    std::string max_leverage_dropped;  // why, empty when kept
    std::string last_cap_dropped;      // why, empty when kept
};

struct BookPosition {
    std::size_t export_index = 0;  // in the positionRisk array
    std::size_t asset = 0;         // into ImportedBook::assets
    std::string position_side;     // "BOTH", "LONG", "SHORT"
    bool is_long = true;
    double quantity = 0.0;
    double entry_price = 0.0;
    double margin = 0.0;
    double exchange_leverage = 0.0;
    bool isolated = false;
    std::optional<double> exchange_liquidation_price;
};

struct ImportedBook {
    double balance = 0.0;       // totalWalletBalance
    double cross_wallet = 0.0;  // balance less the isolated wallets
    double cross_margin_scale = 1.0;  // < 1 when the cross initial margins exceed the cross wallet
    std::optional<long long> exported_at;  // the latest updateTime in the exports, ms
    std::vector<BookAsset> assets;
    std::vector<BookPosition> positions;
    std::vector<std::string> skipped;
    std::vector<std::string> warnings;
};

// Zero positions and contracts not quoted in USDT are left out (in `skipped`). Throws
// InputError naming the export file and JSON path of what cannot be imported.
ImportedBook build_binance_book(const BinanceAccount& account,
                                const std::vector<BinancePosition>& positions,
                                const BinanceBrackets& brackets, const std::string& account_file,
                                const std::string& positions_file, const std::string& brackets_file);

}  // namespace marginsim::importers
