// Exchange-grade margin: bundled tier tables and their references, liquidation prices checked
// against Binance's published example and hand-worked cases, open positions, and the proof
// that the Monte Carlo rule and the deterministic liquidation price are one rule.

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "engine/engine.hpp"
#include "engine/margin_book.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = MARGINSIM_SOURCE_DIR;
const fs::path bundled_tiers = source_dir / "configs" / "exchanges";

// A fresh directory under the system temporary directory, removed with the object.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("marginsim_test_liquidation_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const noexcept { return path_; }
    fs::path write(const fs::path& relative, const std::string& text) const {
        const fs::path file = path_ / relative;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }

private:
    fs::path path_;
};

// A one-asset, one-position scenario whose asset reads its tiers from `tiers` (TOML value).
std::string one_position(const std::string& tiers, double price = 60000, double margin = 1000,
                         double leverage = 10, const std::string& side = "long") {
    return "[simulation]\nhorizon_days = 1\n[account]\nbalance = 10000\n"
           "[[assets]]\nsymbol = \"BTC\"\nprice = " +
           std::to_string(price) + "\nvolatility = 0.5\ntiers = " + tiers +
           "\n[[positions]]\nsymbol = \"BTC\"\nside = \"" + side +
           "\"\nmode = \"isolated\"\nmargin = " + std::to_string(margin) +
           "\nleverage = " + std::to_string(leverage) + "\n";
}

InputError load_error(const fs::path& file, const LoadOptions& options = {}) {
    try {
        load_scenario(file, options);
    } catch (const InputError& error) {
        return error;
    }
    FAIL("expected an InputError loading " << file);
    throw;  // unreachable
}

// Amounts continuous across tiers: amount_k = amount_(k-1) + cap_(k-1) (rate_k - rate_(k-1)).
void check_continuous(const std::vector<Tier>& tiers) {
    for (std::size_t k = 1; k < tiers.size(); ++k) {
        const double expected = tiers[k - 1].amount +
                                tiers[k - 1].notional_cap * (tiers[k].rate - tiers[k - 1].rate);
        CHECK(tiers[k].amount == Approx(expected).margin(1e-6));
    }
}

struct PublishedTier {
    double cap;
    double rate;
    double amount;
    double max_leverage;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Bundled tier tables and references
// ---------------------------------------------------------------------------------------------

TEST_CASE("the bundled Binance tables hold the published brackets", "[liquidation][tiers]") {
    // First, second and last brackets of Binance's /fapi/v1/leverageBracket output as cited in
    // each file (notionalCap, maintMarginRatio, cum, initialLeverage).
    struct Expected {
        std::string reference;
        std::size_t count;
        std::vector<PublishedTier> picked;  // tiers 0, 1 and the last
    };
    const std::vector<Expected> tables{
        {"binance-usdm/BTCUSDT",
         12,
         {{300000, 0.004, 0, 150}, {800000, 0.005, 300, 100}, {1.8e9, 0.5, 421482000, 1}}},
        {"binance-usdm/ETHUSDT",
         12,
         {{300000, 0.004, 0, 150}, {800000, 0.005, 300, 100}, {1.2e9, 0.5, 280507000, 1}}},
        {"binance-usdm/SOLUSDT",
         10,
         {{50000, 0.005, 0, 100}, {400000, 0.0065, 75, 75}, {4e8, 0.5, 66731475, 1}}},
    };
    TempDir dir;
    for (const Expected& expected : tables) {
        INFO(expected.reference);
        const fs::path scenario =
            dir.write("s.toml", one_position("\"" + expected.reference + "\"", 100, 1000, 10));
        const Scenario s = load_scenario(scenario, LoadOptions{bundled_tiers});
        CHECK(s.warnings.empty());
        CHECK(s.assets[0].tier_table == expected.reference);
        const std::vector<Tier>& tiers = s.assets[0].tiers;
        REQUIRE(tiers.size() == expected.count);
        const std::vector<std::size_t> at{0, 1, tiers.size() - 1};
        for (std::size_t i = 0; i < at.size(); ++i) {
            const Tier& tier = tiers[at[i]];
            CHECK(tier.notional_cap == expected.picked[i].cap);
            CHECK(tier.rate == expected.picked[i].rate);
            CHECK(tier.amount == expected.picked[i].amount);
            REQUIRE(tier.max_leverage.has_value());
            CHECK(*tier.max_leverage == expected.picked[i].max_leverage);
        }
        // Binance's cum is the continuous maintenance amount: every given amount matches it.
        check_continuous(tiers);
    }
}

TEST_CASE("a tier reference is looked up in --tiers-dir then next to the scenario",
          "[liquidation][tiers]") {
    TempDir dir;
    const std::string table_a = "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.01 } ]\n";
    const std::string table_b = "tiers = [ { rate = 0.02 } ]\n";
    const fs::path scenario = dir.write("run/s.toml", one_position("\"x/BTC\""));
    dir.write("run/exchanges/x/BTC.toml", table_b);
    dir.write("elsewhere/x/BTC.toml", table_a);

    // Without --tiers-dir: the exchanges directory next to the scenario.
    const Scenario beside = load_scenario(scenario);
    REQUIRE(beside.assets[0].tiers.size() == 1);
    CHECK(beside.assets[0].tiers[0].rate == 0.02);
    // --tiers-dir comes first.
    const Scenario first = load_scenario(scenario, LoadOptions{dir.path() / "elsewhere"});
    REQUIRE(first.assets[0].tiers.size() == 2);
    CHECK(first.assets[0].tiers[1].amount == Approx(50000 * (0.01 - 0.004)));  // derived
    // A --tiers-dir without the file falls back to the scenario's directory.
    const Scenario fallback = load_scenario(scenario, LoadOptions{dir.path() / "empty"});
    CHECK(fallback.assets[0].tiers[0].rate == 0.02);
    // parse_scenario resolves next to its source name.
    const Scenario parsed =
        parse_scenario(one_position("\"x/BTC\""), (dir.path() / "run" / "inline.toml").string());
    CHECK(parsed.assets[0].tiers[0].rate == 0.02);
}

TEST_CASE("a tier reference that is not found names the reference, the paths tried and the key",
          "[liquidation][tiers]") {
    TempDir dir;
    const fs::path scenario = dir.write("s.toml", one_position("\"binance-usdm/BTCUSDC\""));
    const InputError error = load_error(scenario, LoadOptions{dir.path() / "tiers"});
    CHECK(error.file() == scenario.string());
    CHECK(error.line() == 9);  // tiers = "..." in one_position()
    CHECK(error.column() == 9);
    CHECK(error.key() == "assets[0].tiers");
    const std::string tried_first = (dir.path() / "tiers/binance-usdm/BTCUSDC.toml").string();
    const std::string tried_second =
        (dir.path() / "exchanges/binance-usdm/BTCUSDC.toml").string();
    CHECK(error.message() == "tier table \"binance-usdm/BTCUSDC\" not found: tried " +
                                 tried_first + ", " + tried_second);
}

TEST_CASE("a tier reference may not leave its directories", "[liquidation][tiers]") {
    TempDir dir;
    for (const std::string bad : {"../BTC", "/etc/x", "a//b", "a/./b", "", "b c"}) {
        INFO(bad);
        const fs::path scenario = dir.write("s.toml", one_position("\"" + bad + "\""));
        const InputError error = load_error(scenario);
        CHECK(error.key() == "assets[0].tiers");
        CHECK(error.message() == "not a tier table reference: \"" + bad + "\"");
    }
}

TEST_CASE("errors and warnings of a tier file point into the tier file", "[liquidation][tiers]") {
    TempDir dir;
    const fs::path scenario = dir.write("s.toml", one_position("\"t/BTC\""));
    SECTION("a rate below the previous one") {
        const fs::path table = dir.write(
            "exchanges/t/BTC.toml",
            "# comment\ntiers = [\n  { notional_cap = 50000, rate = 0.01 },\n"
            "  { notional_cap = 250000, rate = 0.005 },\n]\n");
        const InputError error = load_error(scenario);
        CHECK(error.file() == table.string());
        CHECK(error.line() == 4);
        CHECK(error.column() == 35);
        CHECK(error.key() == "tiers[1].rate");
        CHECK(error.message() ==
              "below the previous tier's rate: found 0.005, the previous rate is 0.01");
    }
    SECTION("an unknown key") {
        const fs::path table =
            dir.write("exchanges/t/BTC.toml", "tiers = [ { rate = 0.004 } ]\nsymbol = \"BTC\"\n");
        const InputError error = load_error(scenario);
        CHECK(error.file() == table.string());
        CHECK(error.line() == 2);
        CHECK(error.key() == "symbol");
        CHECK(error.message() == "unknown key");
    }
    SECTION("no tiers") {
        const fs::path table = dir.write("exchanges/t/BTC.toml", "# nothing\n");
        const InputError error = load_error(scenario);
        CHECK(error.file() == table.string());
        CHECK(error.key() == "tiers");
        CHECK(error.message() == "missing required key");
    }
    SECTION("a TOML syntax error") {
        const fs::path table = dir.write("exchanges/t/BTC.toml", "tiers = [ { rate = } ]\n");
        const InputError error = load_error(scenario);
        CHECK(error.file() == table.string());
        CHECK(error.line() == 1);
        CHECK(error.message().rfind("TOML syntax error: ", 0) == 0);
    }
    SECTION("an amount that breaks continuity is a warning located in the tier file") {
        const fs::path table = dir.write(
            "exchanges/t/BTC.toml",
            "tiers = [\n  { notional_cap = 50000, rate = 0.004 },\n"
            "  { notional_cap = 250000, rate = 0.005, amount = 60 },\n  { rate = 0.01 },\n]\n");
        const Scenario s = load_scenario(scenario);
        REQUIRE(s.warnings.size() == 1);
        CHECK(s.warnings[0] == table.string() +
                                   ":3:51: tiers[1].amount = 60 breaks continuity of the BTC "
                                   "maintenance margin: the continuous value is 50");
        CHECK(s.assets[0].tiers[1].amount == 60);
        CHECK(s.assets[0].tiers[2].amount == Approx(60 + 250000 * 0.005));  // from the given 60
    }
}

TEST_CASE("a position above the max_leverage of a referenced tier names the table and the tier",
          "[liquidation][tiers]") {
    TempDir dir;
    // 20,000 notional at 125x is in BTCUSDT's first bracket (150x): allowed. 420,000 at 120x
    // is in the second (100x): refused.
    const fs::path ok = dir.write("ok.toml", one_position("\"binance-usdm/BTCUSDT\"", 60000,
                                                          160, 125));
    CHECK_NOTHROW(load_scenario(ok, LoadOptions{bundled_tiers}));
    const fs::path bad =
        dir.write("bad.toml", one_position("\"binance-usdm/BTCUSDT\"", 60000, 3500, 120));
    const InputError error = load_error(bad, LoadOptions{bundled_tiers});
    CHECK(error.key() == "positions[0]");
    CHECK(error.message() ==
          "leverage 120 exceeds max_leverage 100 of tiers[1] of \"binance-usdm/BTCUSDT\" "
          "(assets[0].tiers), the BTC tier holding its notional at entry 420000");
}

TEST_CASE("the seed example uses the bundled tables and still loads without warnings",
          "[liquidation][tiers]") {
    const Scenario s = load_scenario(source_dir / "configs" / "seed_example.toml");
    CHECK(s.warnings.empty());
    REQUIRE(s.asset_count() == 3);
    CHECK(s.assets[0].tier_table == "binance-usdm/BTCUSDT");
    CHECK(s.assets[1].tier_table == "binance-usdm/ETHUSDT");
    CHECK(s.assets[2].tier_table == "binance-usdm/SOLUSDT");
    // 20,000 USDT notionals: first brackets.
    CHECK(maintenance_margin(s.assets[0].tiers, 20000) == Approx(80));
    CHECK(maintenance_margin(s.assets[1].tiers, 20000) == Approx(80));
    CHECK(maintenance_margin(s.assets[2].tiers, 20000) == Approx(100));
}

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
tiers = [ { notional_cap = 50000, rate = 0.004 }, { notional_cap = 250000, rate = 0.005 },
          { notional_cap = 1000000, rate = 0.01 }, { notional_cap = 10000000, rate = 0.025 },
          { notional_cap = 20000000, rate = 0.05 }, { notional_cap = 50000000, rate = 0.1 },
          { notional_cap = 100000000, rate = 0.125 }, { notional_cap = 200000000, rate = 0.15 },
          { notional_cap = 300000000, rate = 0.25 }, { rate = 0.5 } ]
[[assets]]
symbol = "ETH"
price = 1335.18
volatility = 0.8
tiers = [ { notional_cap = 10000, rate = 0.005 }, { notional_cap = 100000, rate = 0.0065 },
          { notional_cap = 500000, rate = 0.01 }, { notional_cap = 1000000, rate = 0.02 },
          { notional_cap = 2000000, rate = 0.05 }, { notional_cap = 5000000, rate = 0.1 },
          { notional_cap = 10000000, rate = 0.125 }, { notional_cap = 20000000, rate = 0.15 },
          { rate = 0.25 } ]
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

std::string parse_error_message(const std::string& text) {
    try {
        parse_scenario(text, "open.toml");
    } catch (const InputError& error) {
        return error.message();
    }
    return "no error";
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

    // The start checks agree with the liquidation prices: just below each one loads, just
    // above is an error that says which pool is already liquidated.
    CHECK_NOTHROW(parse_scenario(open_position(128.7, 100, 10, 300, "short", 0.01, 400), "a"));
    CHECK(parse_error_message(open_position(128.8, 100, 10, 300, "short", 0.01, 400)) ==
          "already at or below its maintenance margin at the start price 128.8 in isolated "
          "mode: margin 300 + unrealised PnL -288 = 12 <= maintenance margin 12.88");
    CHECK(parse_error_message(open_position(138.7, 100, 10, 300, "short", 0.01, 400)) ==
          "the cross positions (positions[0]) are already at or below their maintenance margin "
          "at the start prices in cross mode: wallet 400 + unrealised PnL -387 = 13 <= "
          "maintenance margin 13.87");
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

    // as_configured: cross wallet 10,000 - 500 backs BTC and ETH (maintenance 80 and 25).
    //   BTC: 9,500 + 0.4 (P - 50,000) - 0.4 P 0.004 - 25 = 0   =>  P = 10,525 / 0.3984
    //   ETH: 9,500 - 2 (P - 2,500) - 2 P 0.005 - 80 = 0        =>  P = 14,420 / 2.01
    //   SOL isolated: 500 + 40 (P - 100) = 40 P 0.01          =>  P = 3,500 / 39.6
    CHECK(*row(MarginMode::as_configured, 0).liquidation_price == Approx(10525 / 0.3984));
    CHECK(*row(MarginMode::as_configured, 1).liquidation_price == Approx(14420 / 2.01));
    CHECK(*row(MarginMode::as_configured, 2).liquidation_price == Approx(3500 / 39.6));
    CHECK(*row(MarginMode::as_configured, 0).margin_ratio == Approx(105.0 / 9500.0));
    CHECK(*row(MarginMode::as_configured, 1).margin_ratio == Approx(105.0 / 9500.0));
    CHECK(*row(MarginMode::as_configured, 2).margin_ratio == Approx(40.0 / 500.0));
    CHECK(row(MarginMode::as_configured, 2).mode == MarginMode::isolated);
    CHECK(row(MarginMode::as_configured, 1).mode == MarginMode::cross);
    // A zero-volatility asset has no distance in standard deviations.
    CHECK_FALSE(row(MarginMode::as_configured, 1).distance_sigma_days.has_value());
    CHECK(*row(MarginMode::as_configured, 0).distance_sigma_days ==
          Approx(std::log(10525 / 0.3984 / 50000) / (0.5 / std::sqrt(365.0))));

    // isolated: each on its own margin.
    CHECK(*row(MarginMode::isolated, 0).liquidation_price == Approx(18000 / 0.3984));
    CHECK(*row(MarginMode::isolated, 1).liquidation_price == Approx(6000 / 2.01));
    CHECK(*row(MarginMode::isolated, 2).liquidation_price == Approx(3500 / 39.6));

    // cross: the whole 10,000 backs all three (maintenance 80 + 25 + 40).
    CHECK(*row(MarginMode::cross, 0).liquidation_price == Approx(10065 / 0.3984));
    CHECK(*row(MarginMode::cross, 1).liquidation_price == Approx(14880 / 2.01));
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

// ---------------------------------------------------------------------------------------------
// The Monte Carlo rule and the liquidation price are one rule
// ---------------------------------------------------------------------------------------------

namespace {

// Tiers where the rate jumps at 250,000 and at 50,000, amounts continuous.
std::vector<Tier> jumpy_tiers() {
    return {{50000, 0.004, 0, {}},
            {250000, 0.05, 50000 * (0.05 - 0.004), {}},
            {1000000, 0.1, 50000 * (0.05 - 0.004) + 250000 * (0.1 - 0.05), {}},
            {no_cap, 0.2, 50000 * (0.05 - 0.004) + 250000 * (0.1 - 0.05) + 1e6 * 0.1, {}}};
}

struct DriftCase {
    std::string name;
    Side side;
    double balance;
    double margin;
    double leverage;
    bool tiered;
    std::size_t start_tier;  // tier of the notional at the start
    std::size_t lp_tier;     // tier of the notional at the liquidation price
};

// Liquidation price solved with the start tier's (rate, amount) throughout: what a solver
// that ignores the tier change would give. C + s q (P - P0) = q P r - a.
double start_tier_price(const Tier& tier, int s, double q, double p0, double collateral) {
    return (s * q * p0 - collateral - tier.amount) / (q * (s - tier.rate));
}

// One deterministic path (zero volatility): the price is exp(x0 + mu k dt) at step k.
int first_liquidation_step(const Scenario& scenario, MarginMode mode) {
    const Engine engine(scenario);
    PathBlock paths(scenario.asset_count(), 1);
    BookState state(engine.book(), 1);
    engine.run_block(1, 0, 1, paths, state);
    return state.first_liquidation_step(mode, 0);
}

}  // namespace

TEST_CASE("zero volatility and a drift through the liquidation price: liquidated at the first "
          "step past it", "[liquidation][consistency]") {
    const double p0 = 50000.0;
    const int steps_per_day = 1440;  // one step a minute: much finer than the tier effects
    const std::vector<DriftCase> cases{
        {"long, flat", Side::long_side, 3000, 1000, 10, false, 0, 0},
        {"short, flat", Side::short_side, 3000, 1000, 10, false, 0, 0},
        // 260,000 notional (tier 2) liquidating below 250,000 (tier 1) on the way down.
        {"long, tiered", Side::long_side, 50000, 25000, 10.4, true, 2, 1},
        // 40,000 notional (tier 0) liquidating above 50,000 (tier 1) on the way up.
        {"short, tiered", Side::short_side, 50000, 12000, 40000.0 / 12000.0, true, 0, 1},
    };
    for (const DriftCase& c : cases) {
        const bool is_long = c.side == Side::long_side;
        const double mu = is_long ? -20.0 : 20.0;  // annual drift through the liquidation price
        ScenarioBuilder builder(c.balance, 20, steps_per_day);
        builder.asset("BTC", p0, 0.0, mu, 0.005);
        if (c.tiered) builder.tiers(jumpy_tiers());
        const Scenario s =
            builder.position("BTC", c.side, c.margin, c.leverage, MarginMode::isolated).build();
        const MarginBook book(s);
        const std::vector<Tier>& tiers = s.assets[0].tiers;
        const double q = s.positions[0].quantity;
        const double dt = s.simulation.dt_years;
        REQUIRE(tier_index(tiers, q * p0) == c.start_tier);
        for (MarginMode mode : {MarginMode::isolated, MarginMode::cross}) {
            INFO(c.name << ", " << to_string(mode));
            const MarginPool& pool = book.layout(mode).pools[0];
            const auto lp = book.liquidation_price(mode, 0, std::vector<double>{p0});
            REQUIRE(lp.has_value());
            CHECK(tier_index(tiers, q * *lp) == c.lp_tier);
            // First step k with exp(x0 + mu k dt) at or past the liquidation price.
            auto first_step_past = [&](double price) {
                const double steps = std::log(price / p0) / (mu * dt);
                REQUIRE(std::abs(steps - std::round(steps)) > 1e-6);  // no rounding tie
                return static_cast<int>(std::ceil(steps));
            };
            const int expected = first_step_past(*lp);
            REQUIRE(expected < s.simulation.steps);
            CHECK(first_liquidation_step(s, mode) == expected);
            if (c.tiered) {
                // Discriminating: ignoring the tier change would give another step.
                const double naive = start_tier_price(tiers[c.start_tier], sign(c.side), q, p0,
                                                      pool.collateral);
                CHECK(first_step_past(naive) != expected);
            }

            // The same rule in MarginBook::is_liquidated: at the liquidation price (moved by one
            // part in 10^12 the liquidating way, for rounding) the pool is liquidated, and a
            // hair before it (one part in 10^9) it is not.
            const double at = *lp * (is_long ? 1.0 - 1e-12 : 1.0 + 1e-12);
            CHECK(MarginBook::is_liquidated(pool.collateral + book.upnl(0, at),
                                            book.maintenance(0, at)));
            const double not_yet = *lp * (is_long ? 1.0 + 1e-9 : 1.0 - 1e-9);
            CHECK_FALSE(MarginBook::is_liquidated(pool.collateral + book.upnl(0, not_yet),
                                                  book.maintenance(0, not_yet)));
        }
    }
}

TEST_CASE("the run report carries the liquidation prices of the panel", "[liquidation][report]") {
    const Scenario s = load_scenario(source_dir / "configs" / "seed_example.toml");
    RunOptions options;
    options.paths = 1024;
    options.threads = 1;
    const Report report = simulate(s, options);
    const LiquidationPanel panel = liquidation_panel(s);
    for (MarginMode mode : all_modes) {
        const ModeReport& mode_report = report.modes[mode_index(mode)];
        REQUIRE(mode_report.positions.size() == s.positions.size());
        for (std::size_t j = 0; j < s.positions.size(); ++j) {
            INFO(to_string(mode) << " " << j);
            CHECK(mode_report.positions[j].liquidation_price ==
                  panel.modes[mode_index(mode)].rows[j].liquidation_price);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// marginsim liq
// ---------------------------------------------------------------------------------------------

namespace {

struct CliResult {
    int code = -1;
    std::string out;
    std::string err;
};

std::string read_all(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string quoted(const fs::path& path) {
    std::string text(1, '\'');
    text += path.string();
    text += '\'';
    return text;
}

CliResult run_cli(const TempDir& dir, const std::string& arguments) {
    const std::string command = quoted(MARGINSIM_CLI) + " " + arguments + " >" +
                                quoted(dir.path() / "stdout") + " 2>" +
                                quoted(dir.path() / "stderr");
    const int status = std::system(command.c_str());
    CliResult result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read_all(dir.path() / "stdout");
    result.err = read_all(dir.path() / "stderr");
    return result;
}

}  // namespace

TEST_CASE("marginsim liq prints the panel and writes marginsim.liq/1 JSON", "[liquidation][cli]") {
    TempDir dir;
    const fs::path seed = source_dir / "configs" / "seed_example.toml";
    const fs::path json_file = dir.path() / "liq.json";
    const CliResult result = run_cli(dir, std::string("liq ") + quoted(seed) + " --json " + quoted(json_file));
    REQUIRE(result.code == 0);
    CHECK(result.err.empty());
    CHECK_THAT(result.out, Catch::Contains("\nisolated\n"));
    CHECK_THAT(result.out, Catch::Contains("\ncross\n"));
    CHECK_THAT(result.out, Catch::Contains("\nas_configured\n"));
    CHECK_THAT(result.out, Catch::Contains("BTC: binance-usdm/BTCUSDT"));
    // BTC isolated at 10x, first bracket 0.4 %: 66,797.37 * 0.9 / 0.996 = 60,359.07.
    CHECK_THAT(result.out, Catch::Contains("60,359.07"));

    const nlohmann::json json = nlohmann::json::parse(read_all(json_file));
    CHECK(json["schema"] == "marginsim.liq/1");
    CHECK(json["scenario"] == seed.string());
    const nlohmann::json& btc = json["modes"]["isolated"][0];
    CHECK(btc["liquidation_price"].get<double>() == Approx(66797.37 * 0.9 / 0.996).epsilon(1e-14));
    CHECK(btc["margin_ratio"].get<double>() == Approx(80.0 / 2000.0));
    // Same numbers as the library's panel, and as the run report's positions.
    const LiquidationPanel panel = liquidation_panel(load_scenario(seed));
    for (MarginMode mode : all_modes) {
        for (std::size_t j = 0; j < 3; ++j) {
            INFO(to_string(mode) << " " << j);
            const LiquidationRow& row = panel.modes[mode_index(mode)].rows[j];
            const nlohmann::json& item = json["modes"][std::string(to_string(mode))][j];
            CHECK(item["symbol"] == row.symbol);
            CHECK(item["mode"] == std::string(to_string(row.mode)));
            CHECK(item["liquidation_price"].get<double>() == *row.liquidation_price);
        }
    }
}

TEST_CASE("marginsim liq --tiers-dir and its errors", "[liquidation][cli]") {
    TempDir dir;
    const fs::path scenario = dir.write("s.toml", one_position("\"mine/BTC\""));
    dir.write("tables/mine/BTC.toml", "tiers = [ { rate = 0.01 } ]\n");

    const CliResult missing = run_cli(dir, std::string("liq ") + quoted(scenario));
    CHECK(missing.code == 2);
    CHECK_THAT(missing.err, Catch::Contains("assets[0].tiers: tier table \"mine/BTC\" not found"));

    const CliResult found =
        run_cli(dir, std::string("liq ") + quoted(scenario) + " --tiers-dir " + quoted(dir.path() / "tables"));
    CHECK(found.code == 0);
    // Isolated long, 10x, MMR 1 %: 60,000 * 0.9 / 0.99 = 54,545.45.
    CHECK_THAT(found.out, Catch::Contains("54,545.45"));

    const CliResult unwritable =
        run_cli(dir, std::string("liq ") + quoted(scenario) + " --tiers-dir " + quoted(dir.path() / "tables") +
                         " --json " + quoted(dir.path() / "no-such-dir" / "x.json"));
    CHECK(unwritable.code == 2);  // an unusable output path is bad usage
    CHECK_THAT(unwritable.err, Catch::StartsWith("error: "));
}
