#pragma once
// The hand-made Binance accounts of the import tests, and the import of one through files.

#include <filesystem>
#include <string>

#include "binance_exports.hpp"
#include "cli_runner.hpp"
#include "marginsim/import.hpp"

namespace marginsim::testing {

inline const std::filesystem::path bundled_history =
    std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";

// Binance's worked cross example ("How to Calculate Liquidation Price of USDⓈ-M Futures
// Contracts"): wallet 1,535,443.01 USDT, long 109.488 BTCUSDT at 32,481.98 (mark 31,967.27)
// and long 3,683.979 ETHUSDT at 1,456.84 (mark 1,335.18), one-way mode; published liquidation
// prices BTC 26,316.89 and ETH 1,153.26 with MMR 2.5 % / cum 16,300 and 10 % / cum 135,365.
// The brackets in force then: BTCUSDT as announced by Binance on 2021-03-18, ETHUSDT as in
// tests/test_liquidation.cpp, with initial leverages as published for them. The example gives
// no leverage: 20 is Binance's default, above the initialLeverage 4 of ETH's bracket at its
// notional (brackets get lowered under open positions), and at 20x ETH has lost more than its
// initial margin, so the hypothetical isolated mode cannot start.
inline TestAccount worked_example(double btc_leverage = 20, double eth_leverage = 20) {
    TestAccount a;
    a.wallet = 1535443.01;
    a.brackets["BTCUSDT"] = with_cum({{50000, 0.004, 125}, {250000, 0.005, 100}, {1000000, 0.01, 50},
                                      {10000000, 0.025, 20}, {20000000, 0.05, 10}, {50000000, 0.1, 5},
                                      {100000000, 0.125, 4}, {200000000, 0.15, 3}, {300000000, 0.25, 2},
                                      {9223372036854775807.0, 0.5, 1}});
    a.brackets["ETHUSDT"] = with_cum({{10000, 0.005, 100}, {100000, 0.0065, 75}, {500000, 0.01, 50},
                                      {1000000, 0.02, 25}, {2000000, 0.05, 10}, {5000000, 0.1, 5},
                                      {10000000, 0.125, 4}, {20000000, 0.15, 3}, {1e12, 0.25, 2}});
    a.legs.push_back({"BTCUSDT", "BOTH", 109.488, 32481.98, 31967.27, btc_leverage});
    a.legs.push_back({"ETHUSDT", "BOTH", 3683.979, 1456.84, 1335.18, eth_leverage});
    return a;
}

// One-way mode: a cross long whose liquidation notional falls a bracket below the mark's, an
// isolated short whose liquidation notional rises a bracket above the mark's, a closed XRP
// position (positionAmt 0) and a USDC-margined one (not in the USDT wallet).
inline TestAccount one_way_book() {
    TestAccount a;
    a.wallet = 196000;  // cross wallet 76,000 + SOL's isolated wallet 120,000
    a.brackets["BTCUSDT"] = with_cum({{50000, 0.004, 125}, {250000, 0.005, 100}, {1000000, 0.01, 50},
                                      {10000000, 0.025, 20}});
    a.brackets["SOLUSDT"] = with_cum({{10000, 0.005, 75}, {50000, 0.01, 50}, {250000, 0.02, 25},
                                      {1000000, 0.05, 10}});
    a.brackets["XRPUSDT"] = with_cum({{10000, 0.005, 75}, {1000000, 0.01, 20}});
    a.legs.push_back({"BTCUSDT", "BOTH", 5, 60000, 58000, 10});
    a.legs.push_back({"XRPUSDT", "BOTH", 0, 0, 0.52, 20});
    a.legs.push_back({"SOLUSDT", "BOTH", -1000, 140, 150, 2, true, 120000});
    a.legs.push_back({"ETHUSDC", "BOTH", 1, 2000, 1900, 10});
    return a;
}

// Hedge mode: an ETH LONG and SHORT pair in cross (one liquidation price), an isolated BTC
// LONG and a closed BTC SHORT leg.
inline TestAccount hedge_book() {
    TestAccount a;
    a.wallet = 6000;  // cross wallet 3,000 + BTC's isolated wallet 3,000
    a.brackets["ETHUSDT"] = with_cum({{10000, 0.005, 100}, {100000, 0.0065, 75}, {500000, 0.01, 50}});
    a.brackets["BTCUSDT"] = with_cum({{50000, 0.004, 125}, {250000, 0.005, 100}});
    a.legs.push_back({"ETHUSDT", "LONG", 10, 2000, 1900, 10});
    a.legs.push_back({"ETHUSDT", "SHORT", -4, 2100, 1900, 10});
    a.legs.push_back({"BTCUSDT", "LONG", 0.5, 60000, 58000, 10, true, 3000});
    a.legs.push_back({"BTCUSDT", "SHORT", 0, 0, 58000, 10});
    return a;
}

// A real cross account whose ETH position has lost more than its initial margin: it stands
// on the wallet, and alone (the hypothetical isolated mode) it would start liquidated.
inline TestAccount deep_loss_cross_book() {
    TestAccount a;
    a.wallet = 50000;
    a.brackets["ETHUSDT"] = with_cum({{10000, 0.005, 100}, {100000, 0.0065, 75}, {500000, 0.01, 50}});
    a.legs.push_back({"ETHUSDT", "BOTH", 100, 2000, 1750, 10});
    return a;
}


inline BinanceExportFiles write_exports(const TempDir& dir, const TestAccount& account) {
    return {dir.write("account.json", account_json(account)), dir.write("positionRisk.json", positions_json(account)),
            dir.write("leverageBracket.json", brackets_json(account))};
}

inline ImportResult import_account(const TempDir& dir, const TestAccount& account,
                                   const std::filesystem::path& history = bundled_history) {
    ImportOptions options;
    options.history_dir = history;
    options.generated_at = "2026-12-06 22:00 UTC";
    return import_binance(write_exports(dir, account), options);
}

}  // namespace marginsim::testing
