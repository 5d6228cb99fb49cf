// Liquidation prices (docs/model.md) checked against Binance's published example and
// hand-worked cases: open positions and a mixed isolated + cross book.

#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "engine/margin_book.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

// ---------------------------------------------------------------------------------------------
// Binance's published calculation example
// ---------------------------------------------------------------------------------------------

namespace {

// Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
// https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 (its worked example, as
// also reproduced in freqtrade's tests/exchange/test_binance.py::test_liquidation_price_binance):
// cross wallet balance 1,535,443.01 USDT, one-way mode, two longs:
//   BTCUSDT 109.488 at entry 32,481.98, mark 31,967.27, MMR 2.5 %, maintenance amount 16,300
//   ETHUSDT 3,683.979 at entry 1,456.84, mark 1,335.18, MMR 10 %, maintenance amount 135,365
// with TMM1 = 71,200.81144 and UPNL1 = -56,354.57 (BTC, seen from ETH), TMM1 = 356,512.508 and
// UPNL1 = -448,192.89 (ETH, seen from BTC), and the liquidation prices
//   cross:    BTCUSDT 26,316.89, ETHUSDT 1,153.26
//   isolated: BTCUSDT 18,778.73, ETHUSDT 1,114.78 (WB = 1,535,443.01 as the isolated wallet,
//             TMM1 = UPNL1 = 0, as the article's notes define isolated mode).
// The tier tables are those in force at the time: BTCUSDT as announced by Binance on
// 2021-03-18 ("Updates to Leverage and Margin Tiers of Binance Futures Contracts": 0.4 % to
// 50,000, 0.5 % to 250,000, 1 % to 1,000,000, 2.5 % to 10,000,000, ...), ETHUSDT as listed in
// https://gist.github.com/crackcomm/e29582030d9eeac6c6124a7503cd0ac2 (0.5 % to 10,000, 0.65 % to
// 100,000, 1 % to 500,000, 2 % to 1,000,000, 5 % to 2,000,000, 10 % to 5,000,000, ...).
// Amounts are omitted: the parser derives them, and they must come out as the article's cum.
const std::string binance_assets = R"([[assets]]
symbol = "BTC"
price = 31967.27
volatility = 0.6
tiers = [ { notional_cap = 50000, rate = 0.004 }, { notional_cap = 250000, rate = 0.005 }, { notional_cap = 1000000, rate = 0.01 }, { notional_cap = 10000000, rate = 0.025 },
          { notional_cap = 20000000, rate = 0.05 }, { notional_cap = 50000000, rate = 0.1 }, { notional_cap = 100000000, rate = 0.125 },
          { notional_cap = 200000000, rate = 0.15 }, { notional_cap = 300000000, rate = 0.25 }, { rate = 0.5 } ]
[[assets]]
symbol = "ETH"
price = 1335.18
volatility = 0.8
tiers = [ { notional_cap = 10000, rate = 0.005 }, { notional_cap = 100000, rate = 0.0065 }, { notional_cap = 500000, rate = 0.01 },
          { notional_cap = 1000000, rate = 0.02 }, { notional_cap = 2000000, rate = 0.05 }, { notional_cap = 5000000, rate = 0.1 },
          { notional_cap = 10000000, rate = 0.125 }, { notional_cap = 20000000, rate = 0.15 }, { rate = 0.25 } ]
)";

std::string binance_position(const std::string& symbol, double quantity, double entry,
                             double margin, const std::string& mode) {
    std::ostringstream text;
    text.precision(17);
    text << "[[positions]]\nsymbol = \"" << symbol << "\"\nside = \"long\"\nquantity = " << quantity
         << "\nentry_price = " << entry << "\nmargin = " << margin << "\nmode = \"" << mode
         << "\"\n";
    return text.str();
}

std::string binance_scenario(double balance, const std::string& positions) {
    std::ostringstream text;
    text.precision(17);
    text << "[simulation]\nhorizon_days = 1\n[account]\nbalance = " << balance << "\n"
         << binance_assets << positions;
    return text.str();
}

std::vector<double> start_prices(const Scenario& s) {
    std::vector<double> p;
    for (const Asset& a : s.assets) p.push_back(a.price);
    return p;
}

// To the cent, as Binance rounds its displayed prices.
void check_cents(double value, double published) {
    CHECK(std::abs(value - published) < 0.005);
}

}  // namespace

TEST_CASE("the published Binance USDS-M example is reproduced to the cent in cross mode",
          "[liquidation][binance]") {
    const double wallet = 1535443.01;
    // Margins only matter in isolated mode; in cross the whole wallet backs both positions.
    const Scenario s = parse_scenario(
        binance_scenario(wallet, binance_position("BTC", 109.488, 32481.98, 500000, "cross") +
                                     binance_position("ETH", 3683.979, 1456.84, 1000000, "cross")),
        "binance-example.toml");
    // Derived maintenance amounts equal the article's cum of the tiers it uses.
    CHECK(s.assets[0].tiers[3].amount == Approx(16300).margin(1e-9));
    CHECK(s.assets[1].tiers[5].amount == Approx(135365).margin(1e-9));

    const MarginBook book(s);
    const std::vector<double> prices = start_prices(s);
    // The article's intermediate values.
    CHECK(book.maintenance(0, prices[0]) == Approx(71200.81144).margin(1e-5));
    check_cents(book.upnl(0, prices[0]), -56354.57);
    CHECK(book.maintenance(1, prices[1]) == Approx(356512.508).margin(1e-3));
    check_cents(book.upnl(1, prices[1]), -448192.89);

    for (MarginMode mode : {MarginMode::cross, MarginMode::as_configured}) {
        INFO(to_string(mode));
        const auto btc = book.liquidation_price(mode, 0, prices);
        const auto eth = book.liquidation_price(mode, 1, prices);
        REQUIRE(btc.has_value());
        REQUIRE(eth.has_value());
        check_cents(*btc, 26316.89);
        check_cents(*eth, 1153.26);
    }
    // The panel shows the same numbers.
    const LiquidationPanel panel = liquidation_panel(s);
    const LiquidationRow& btc_row = panel.modes[mode_index(MarginMode::cross)].rows[0];
    REQUIRE(btc_row.liquidation_price.has_value());
    check_cents(*btc_row.liquidation_price, 26316.89);
    CHECK(btc_row.entry_price == 32481.98);
    CHECK(btc_row.price == 31967.27);
}

TEST_CASE("the published Binance USDS-M example is reproduced to the cent in isolated mode",
          "[liquidation][binance]") {
    const double wallet = 1535443.01;  // the article's WB, taken as each isolated wallet
    const Scenario btc = parse_scenario(
        binance_scenario(wallet, binance_position("BTC", 109.488, 32481.98, wallet, "isolated")),
        "binance-btc.toml");
    const Scenario eth = parse_scenario(
        binance_scenario(wallet, binance_position("ETH", 3683.979, 1456.84, wallet, "isolated")),
        "binance-eth.toml");
    for (MarginMode mode : {MarginMode::isolated, MarginMode::as_configured}) {
        INFO(to_string(mode));
        const auto btc_lp = MarginBook(btc).liquidation_price(mode, 0, start_prices(btc));
        const auto eth_lp = MarginBook(eth).liquidation_price(mode, 0, start_prices(eth));
        REQUIRE(btc_lp.has_value());
        REQUIRE(eth_lp.has_value());
        check_cents(*btc_lp, 18778.73);
        check_cents(*eth_lp, 1114.78);
    }
}

// ---------------------------------------------------------------------------------------------
// Open positions (entry_price, quantity)
// ---------------------------------------------------------------------------------------------

namespace {

std::string open_position(double price, double entry, double quantity, double margin,
                          const std::string& side, double rate, double balance,
                          const std::string& mode = "isolated") {
    std::ostringstream text;
    text.precision(17);
    text << "[simulation]\nhorizon_days = 1\n[account]\nbalance = " << balance
         << "\n[[assets]]\nsymbol = \"X\"\nprice = " << price
         << "\nvolatility = 0.8\nmaintenance_margin_rate = " << rate
         << "\n[[positions]]\nsymbol = \"X\"\nside = \"" << side << "\"\nquantity = " << quantity
         << "\nentry_price = " << entry << "\nmargin = " << margin << "\nmode = \"" << mode
         << "\"\n";
    return text.str();
}


}  // namespace

TEST_CASE("an open long in profit: liquidation price and panel by hand", "[liquidation][open]") {
    // Long 100 X bought at 50, now 60: +1,000 unrealised. Margin 500 (10x at entry), MMR 0.5 %.
    // Isolated: 500 + 100 (P - 50) = 100 P 0.005  =>  P = (5000 - 500) / 99.5.
    // Cross, wallet 2,000:                        =>  P = (5000 - 2000) / 99.5.
    const Scenario s = parse_scenario(open_position(60, 50, 100, 500, "long", 0.005, 2000),
                                      "open-long.toml");
    CHECK(s.positions[0].leverage == Approx(10));
    const LiquidationPanel panel = liquidation_panel(s);
    const LiquidationRow& iso = panel.modes[mode_index(MarginMode::isolated)].rows[0];
    REQUIRE(iso.liquidation_price.has_value());
    CHECK(*iso.liquidation_price == Approx(4500 / 99.5).epsilon(1e-14));
    CHECK(*iso.distance_pct == Approx((4500 / 99.5 - 60) / 60 * 100).epsilon(1e-12));
    CHECK(*iso.distance_sigma_days ==
          Approx(std::log(4500 / 99.5 / 60) / (0.8 / std::sqrt(365.0))).epsilon(1e-12));
    // Maintenance 6,000 * 0.5 % = 30 against a margin balance of 500 + 1,000.
    CHECK(*iso.margin_ratio == Approx(30.0 / 1500.0).epsilon(1e-14));
    CHECK(iso.mode == MarginMode::isolated);
    const LiquidationRow& cross = panel.modes[mode_index(MarginMode::cross)].rows[0];
    CHECK(*cross.liquidation_price == Approx(3000 / 99.5).epsilon(1e-14));
    CHECK(*cross.margin_ratio == Approx(30.0 / 3000.0).epsilon(1e-14));
    CHECK(cross.mode == MarginMode::cross);
    // Its loss is measured from the current price: the start equity holds the profit.
    const MarginBook book(s);
    CHECK(book.layout(MarginMode::isolated).pools[0].start_equity == Approx(1500));
}

TEST_CASE("an open short in loss: liquidation price and start checks by hand",
          "[liquidation][open]") {
    // Short 10 X sold at 100, margin 300, MMR 1 %; isolated liquidation where
    // 300 - 10 (P - 100) = 10 P 0.01  =>  P = 1300 / 10.1 = 128.71...; in cross with a
    // wallet of 400: P = 1400 / 10.1 = 138.61...
    const double lp_isolated = 1300 / 10.1;
    const double lp_cross = 1400 / 10.1;
    const Scenario s = parse_scenario(open_position(120, 100, 10, 300, "short", 0.01, 400),
                                      "open-short.toml");
    const MarginBook book(s);
    CHECK(*book.liquidation_price(MarginMode::isolated, 0, start_prices(s)) ==
          Approx(lp_isolated).epsilon(1e-14));
    CHECK(*book.liquidation_price(MarginMode::cross, 0, start_prices(s)) ==
          Approx(lp_cross).epsilon(1e-14));
    const LiquidationRow row = liquidation_panel(s).modes[0].rows[0];
    CHECK(*row.distance_pct == Approx((lp_isolated - 120) / 120 * 100).epsilon(1e-12));
    CHECK(*row.margin_ratio == Approx(12.0 / 100.0).epsilon(1e-13));  // 1,200 * 1 % / (300 - 200)

    // The start state agrees with the liquidation prices: just below each one every mode has a
    // liquidation price; just above, the pool is flagged as liquidated at the start and said
    // in a warning, and the other modes still answer.
    const LiquidationPanel below = liquidation_panel(parse_scenario(open_position(128.7, 100, 10, 300, "short", 0.01, 400), "a"));
    for (const ModeLiquidations& mode : below.modes) CHECK_FALSE(mode.rows[0].liquidated_at_start);
    const Scenario past_isolated = parse_scenario(open_position(128.8, 100, 10, 300, "short", 0.01, 400), "a");
    REQUIRE(past_isolated.warnings.size() == 1);
    CHECK_THAT(past_isolated.warnings[0],
               Catch::Contains("already at or below its maintenance margin at the start price 128.8 in isolated "
                               "mode: margin 300 + unrealised PnL -288 = 12 <= maintenance margin 12.88") &&
                   Catch::StartsWith("a:10:1: positions[0]: AS CONFIGURED, THIS POSITION STARTS LIQUIDATED"));
    const LiquidationPanel isolated_gone = liquidation_panel(past_isolated);
    const LiquidationRow& gone = isolated_gone.modes[mode_index(MarginMode::isolated)].rows[0];
    CHECK(gone.liquidated_at_start);
    CHECK_FALSE(gone.liquidation_price.has_value());
    CHECK_THAT(gone.reason, Catch::Contains("margin balance 12.00 of its isolated pool is at or below its "
                                            "maintenance margin 12.88"));
    const LiquidationRow& still = isolated_gone.modes[mode_index(MarginMode::cross)].rows[0];
    CHECK_FALSE(still.liquidated_at_start);
    CHECK(*still.liquidation_price == Approx(lp_cross).epsilon(1e-14));

    const Scenario past_cross = parse_scenario(open_position(138.7, 100, 10, 300, "short", 0.01, 400), "a");
    REQUIRE(past_cross.warnings.size() == 2);  // cross mode, then the isolated position
    CHECK_THAT(past_cross.warnings[0],
               Catch::Contains("the cross positions (positions[0]) are already at or below their maintenance "
                               "margin at the start prices in cross mode: wallet 400 + unrealised PnL -387 = 13 <= "
                               "maintenance margin 13.87; reported as liquidated at time 0 in cross mode"));
    for (const ModeLiquidations& mode : liquidation_panel(past_cross).modes) CHECK(mode.rows[0].liquidated_at_start);
}

// ---------------------------------------------------------------------------------------------
// Further hand-checked cases: a mixed book, no liquidation price, a zero-vol asset
// ---------------------------------------------------------------------------------------------

TEST_CASE("a mixed isolated + cross book: every mode by hand", "[liquidation][mixed]") {
    // Balance 10,000. BTC long 0.4 at 50,000 (cross, 2,000 margin), ETH short 2 at 2,500
    // (cross, 1,000 margin, zero volatility), SOL long 40 at 100 (isolated, 500 margin).
    const Scenario s = ScenarioBuilder(10000, 1, 24)
                           .asset("BTC", 50000, 0.5, 0.0, 0.004)
                           .asset("ETH", 2500, 0.0, 0.0, 0.005)
                           .asset("SOL", 100, 0.9, 0.0, 0.01)
                           .position("BTC", Side::long_side, 2000, 10, MarginMode::cross)
                           .position("ETH", Side::short_side, 1000, 5, MarginMode::cross)
                           .position("SOL", Side::long_side, 500, 8, MarginMode::isolated)
                           .build();
    const LiquidationPanel panel = liquidation_panel(s);
    auto row = [&](MarginMode mode, std::size_t j) { return panel.modes[mode_index(mode)].rows[j]; };
    // The first expected.size() positions' liquidation prices, or margin ratios, in `mode`.
    auto check_prices = [&](MarginMode mode, const std::vector<double>& expected) {
        for (std::size_t j = 0; j < expected.size(); ++j) {
            INFO(to_string(mode) << " " << j);
            REQUIRE(row(mode, j).liquidation_price.has_value());
            CHECK(*row(mode, j).liquidation_price == Approx(expected[j]));
        }
    };
    auto check_margin_ratios = [&](MarginMode mode, const std::vector<double>& expected) {
        for (std::size_t j = 0; j < expected.size(); ++j) {
            INFO(to_string(mode) << " " << j);
            CHECK(*row(mode, j).margin_ratio == Approx(expected[j]));
        }
    };

    // as_configured: cross wallet 10,000 - 500 backs BTC and ETH (maintenance 80 and 25).
    //   BTC: 9,500 + 0.4 (P - 50,000) - 0.4 P 0.004 - 25 = 0   =>  P = 10,525 / 0.3984
    //   ETH: 9,500 - 2 (P - 2,500) - 2 P 0.005 - 80 = 0        =>  P = 14,420 / 2.01
    //   SOL isolated: 500 + 40 (P - 100) = 40 P 0.01          =>  P = 3,500 / 39.6
    check_prices(MarginMode::as_configured, {10525 / 0.3984, 14420 / 2.01, 3500 / 39.6});
    check_margin_ratios(MarginMode::as_configured, {105.0 / 9500.0, 105.0 / 9500.0, 40.0 / 500.0});
    CHECK(row(MarginMode::as_configured, 2).mode == MarginMode::isolated);
    CHECK(row(MarginMode::as_configured, 1).mode == MarginMode::cross);
    // A zero-volatility asset has no distance in standard deviations.
    CHECK_FALSE(row(MarginMode::as_configured, 1).distance_sigma_days.has_value());
    CHECK(*row(MarginMode::as_configured, 0).distance_sigma_days ==
          Approx(std::log(10525 / 0.3984 / 50000) / (0.5 / std::sqrt(365.0))));

    // isolated: each on its own margin.
    check_prices(MarginMode::isolated, {18000 / 0.3984, 6000 / 2.01, 3500 / 39.6});

    // cross: the whole 10,000 backs all three (maintenance 80 + 25 + 40).
    check_prices(MarginMode::cross, {10065 / 0.3984, 14880 / 2.01});  // SOL: below
    CHECK(*row(MarginMode::cross, 0).margin_ratio == Approx(145.0 / 10000.0));
    // SOL falling to 0 costs the pool 4,000: 10,000 - 4,000 stays above the maintenance
    // 80 + 25 (+ 0 for SOL at 0). No positive price liquidates it.
    const LiquidationRow sol = row(MarginMode::cross, 2);
    CHECK_FALSE(sol.liquidation_price.has_value());
    CHECK_FALSE(sol.distance_pct.has_value());
    CHECK_FALSE(sol.distance_sigma_days.has_value());
    CHECK(sol.reason ==
          "no positive SOL price liquidates it, other prices held: the margin balance of its "
          "cross pool stays above the maintenance margin at every positive SOL price (as the "
          "price goes to 0: margin balance 6000.00, maintenance margin 105.00)");

    // JSON, schema marginsim.liq/1, null where not defined.
    const nlohmann::json json = nlohmann::json::parse(to_json(panel));
    CHECK(json["schema"] == "marginsim.liq/1");
    CHECK(json["scenario"] == "built-in-test");
    REQUIRE(json["modes"].size() == 3);
    const nlohmann::json& sol_json = json["modes"]["cross"][2];
    CHECK(sol_json["symbol"] == "SOL");
    CHECK(sol_json["side"] == "long");
    CHECK(sol_json["mode"] == "cross");
    CHECK(sol_json["liquidation_price"].is_null());
    CHECK(sol_json["distance_pct"].is_null());
    CHECK(sol_json["distance_sigma_days"].is_null());
    CHECK(sol_json["reason"] == sol.reason);
    const nlohmann::json& eth_json = json["modes"]["as_configured"][1];
    CHECK(eth_json["side"] == "short");
    CHECK(eth_json["entry_price"] == 2500.0);
    CHECK(eth_json["price"] == 2500.0);
    CHECK(eth_json["liquidation_price"].get<double>() == Approx(14420 / 2.01));
    CHECK(eth_json["distance_pct"].get<double>() == Approx((14420 / 2.01 - 2500) / 25));
    CHECK(eth_json["distance_sigma_days"].is_null());
    CHECK(eth_json["margin_ratio"].get<double>() == Approx(105.0 / 9500.0));
    CHECK(eth_json["reason"].is_null());
    const std::vector<std::string> keys{"symbol", "side", "mode", "entry_price", "price",
                                        "liquidation_price", "distance_pct",
                                        "distance_sigma_days", "margin_ratio", "reason"};
    std::vector<std::string> found;
    for (const auto& item : json["modes"]["isolated"][0].items()) found.push_back(item.key());
    std::sort(found.begin(), found.end());
    std::vector<std::string> sorted_keys = keys;
    std::sort(sorted_keys.begin(), sorted_keys.end());
    CHECK(found == sorted_keys);
}
