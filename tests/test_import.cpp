// import binance: hand-made exports in Binance's documented format, their liquidation prices
// computed by Binance's published formula (tests/binance_exports.hpp), imported into a scenario
// whose liquidation panel must give the same prices to the cent.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "binance_books.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/scenario.hpp"

using namespace marginsim;
using namespace marginsim::testing;

namespace {

// To the cent, as Binance rounds its displayed prices.
void check_cents(double value, double expected) { CHECK(std::abs(value - expected) < 0.005); }

// The imported scenario's as_configured liquidation prices against Binance's formula, position
// by position (the imported positions are the open USDT ones, in export order).
Scenario check_against_formula(const TestAccount& account, const ImportResult& result) {
    const Scenario scenario = parse_scenario(result.scenario_toml, "imported.toml");
    const LiquidationPanel panel = liquidation_panel(scenario);
    const auto& rows = panel.modes[mode_index(MarginMode::as_configured)].rows;
    std::size_t row = 0;
    for (std::size_t j = 0; j < account.legs.size(); ++j) {
        if (account.legs[j].amount == 0.0 || !usdt(account.legs[j])) continue;
        INFO(account.legs[j].symbol << " " << account.legs[j].position_side);
        REQUIRE(row < rows.size());
        const std::optional<double> binance = binance_liquidation_price(account, j);
        REQUIRE(binance.has_value());
        REQUIRE(rows[row].liquidation_price.has_value());
        check_cents(*rows[row].liquidation_price, *binance);
        REQUIRE(result.positions[row].exchange_liquidation_price.has_value());
        CHECK(*result.positions[row].exchange_liquidation_price == *binance);
        ++row;
    }
    CHECK(row == rows.size());
    return scenario;
}

std::string error_of(const TempDir& dir, const std::string& account, const std::string& positions,
                     const std::string& brackets) {
    ImportOptions options;
    options.history_dir = bundled_history;
    try {
        import_binance({dir.write("a.json", account), dir.write("p.json", positions), dir.write("b.json", brackets)},
                       options);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("Binance's formula, written out here, gives its published worked example", "[import][binance]") {
    const TestAccount a = worked_example();
    CHECK(bracket_at(a.brackets.at("BTCUSDT"), 109.488 * 26316.89).cum == Approx(16300));
    CHECK(bracket_at(a.brackets.at("ETHUSDT"), 3683.979 * 1153.26).cum == Approx(135365));
    check_cents(*binance_liquidation_price(a, 0), 26316.89);
    check_cents(*binance_liquidation_price(a, 1), 1153.26);
}

TEST_CASE("Binance's worked example at its default leverage 20: liq gives its prices, isolated mode flagged",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    const TestAccount account = worked_example(20, 20);
    const ImportResult result = import_account(dir, account);
    const Scenario s = check_against_formula(account, result);
    const LiquidationPanel panel = liquidation_panel(s);
    const auto& rows = panel.modes[mode_index(MarginMode::as_configured)].rows;
    check_cents(*rows[0].liquidation_price, 26316.89);
    check_cents(*rows[1].liquidation_price, 1153.26);
    CHECK(s.positions[1].leverage == Approx(20).epsilon(1e-12));
    // In the hypothetical isolated mode ETH cannot stand on its initial margin: liquidated at
    // time 0 there, BTC not; as configured (all cross) nothing starts liquidated.
    const auto& isolated = panel.modes[mode_index(MarginMode::isolated)].rows;
    CHECK_FALSE(isolated[0].liquidated_at_start);
    CHECK(isolated[1].liquidated_at_start);
    for (const auto& row : rows) CHECK_FALSE(row.liquidated_at_start);
}

TEST_CASE("the worked example at leverages that let each position stand alone imports and liq reproduces "
          "Binance's liquidation prices",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    // ETH at 5x: above its bracket's initialLeverage 4, so its tiers lose max_leverage.
    const TestAccount account = worked_example(20, 5);
    const ImportResult result = import_account(dir, account);
    const Scenario s = check_against_formula(account, result);
    const LiquidationPanel panel = liquidation_panel(s);
    const auto& rows = panel.modes[mode_index(MarginMode::as_configured)].rows;
    check_cents(*rows[0].liquidation_price, 26316.89);
    check_cents(*rows[1].liquidation_price, 1153.26);
    REQUIRE(result.warnings.size() == 1);
    CHECK_THAT(result.warnings[0], Catch::Contains("ETHUSDT: tiers written without max_leverage: positions[1] "
                                                   "holds leverage 5 (notional at entry / margin), above the initialLeverage 4"));

    // The book as exported: wallet, marks, sizes, entries, modes, the cross margins at the
    // exchange's leverage, the brackets as tiers.
    CHECK(s.balance == 1535443.01);
    REQUIRE(s.assets.size() == 2);
    CHECK(s.assets[0].symbol == "BTC");
    CHECK(s.assets[0].price == 31967.27);
    CHECK(s.assets[1].price == 1335.18);
    REQUIRE(s.positions.size() == 2);
    CHECK(s.positions[0].quantity == 109.488);
    CHECK(s.positions[0].entry_price == 32481.98);
    CHECK(s.positions[0].side == Side::long_side);
    CHECK(s.positions[0].mode == MarginMode::cross);
    CHECK(s.positions[0].leverage == Approx(20).epsilon(1e-12));
    CHECK(s.positions[1].leverage == Approx(5).epsilon(1e-12));
    const auto& tiers = s.assets[1].tiers;
    REQUIRE(tiers.size() == 9);
    CHECK(tiers[5].rate == 0.1);
    CHECK(tiers[5].amount == 135365);
    CHECK_FALSE(tiers[5].max_leverage.has_value());
    CHECK(s.assets[0].tiers[3].max_leverage == 20);
    CHECK(s.assets[0].tiers.back().notional_cap == 9223372036854775807.0);

    // The volatilities and correlation are `marginsim calibrate`'s on the same files and window.
    const Calibration c = calibrate_files({bundled_history / "Binance_BTCUSDT_d.csv", bundled_history / "Binance_ETHUSDT_d.csv"},
                                          {"BTC", "ETH"}, [] { CalibrationOptions o; o.window_days = 365; return o; }());
    CHECK(s.assets[0].volatility == Approx(c.volatility[0].value).margin(5e-5));
    CHECK(s.assets[1].volatility == Approx(c.volatility[1].value).margin(5e-5));
    CHECK(s.correlation[1] == Approx(c.correlation_at(0, 1).value).margin(5e-5));
    // Provenance.
    CHECK_THAT(result.scenario_toml, Catch::Contains("account.json (GET /fapi/v2/account)"));
    CHECK_THAT(result.scenario_toml, Catch::Contains("Binance_BTCUSDT_d.csv"));
    CHECK_THAT(result.scenario_toml, Catch::Contains("365 calendar days"));
    CHECK_THAT(result.scenario_toml, Catch::Contains("liquidationPrice 26316.89, marginsim 26316.89"));
}

TEST_CASE("one-way book: isolated short, brackets crossed on the way to liquidation, skipped positions",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    const TestAccount account = one_way_book();
    // The case is what it claims: each liquidation notional lies in another bracket than the mark's.
    const auto bracket_cap = [&](std::size_t j, double price) {
        return bracket_at(account.brackets.at(account.legs[j].symbol), std::abs(account.legs[j].amount) * price).cap;
    };
    CHECK(bracket_cap(0, *binance_liquidation_price(account, 0)) != bracket_cap(0, account.legs[0].mark));
    CHECK(bracket_cap(2, *binance_liquidation_price(account, 2)) != bracket_cap(2, account.legs[2].mark));

    const ImportResult result = import_account(dir, account);
    const Scenario s = check_against_formula(account, result);
    REQUIRE(s.positions.size() == 2);
    CHECK(s.positions[1].side == Side::short_side);
    CHECK(s.positions[1].quantity == 1000);
    CHECK(s.positions[1].mode == MarginMode::isolated);
    CHECK(s.positions[1].margin == 120000);  // isolatedWallet
    CHECK(s.cross_wallet(MarginMode::as_configured) == Approx(76000));
    REQUIRE(result.skipped.size() == 2);
    CHECK_THAT(result.skipped[0], Catch::Contains("XRPUSDT") && Catch::Contains("positionAmt 0"));
    CHECK_THAT(result.skipped[1], Catch::Contains("ETHUSDC"));
    CHECK_THAT(result.scenario_toml, Catch::Contains("# Not imported: positions[1] XRPUSDT"));
    CHECK(result.scenario_toml.find("symbol = \"XRP\"") == std::string::npos);
}

TEST_CASE("hedge mode: the LONG and SHORT legs of a symbol are two positions sharing a cross price",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    const TestAccount account = hedge_book();
    const ImportResult result = import_account(dir, account);
    const Scenario s = check_against_formula(account, result);
    REQUIRE(s.positions.size() == 3);
    CHECK(s.positions[0].side == Side::long_side);
    CHECK(s.positions[1].side == Side::short_side);
    CHECK(s.positions[1].quantity == 4);
    CHECK(s.positions[0].asset == s.positions[1].asset);
    CHECK(*result.positions[0].liquidation_price == *result.positions[1].liquidation_price);
    CHECK_THAT(result.skipped.at(0), Catch::Contains("BTCUSDT SHORT"));
}

TEST_CASE("a position above the last bracket's cap: the last tier is written without its cap",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    TestAccount account;
    account.wallet = 20000;
    account.brackets["SOLUSDT"] = with_cum({{10000, 0.005, 75}, {50000, 0.01, 50}});
    account.legs.push_back({"SOLUSDT", "BOTH", 400, 150, 140, 5});  // 60,000 at entry
    const ImportResult result = import_account(dir, account);
    const Scenario s = check_against_formula(account, result);
    CHECK(s.assets[0].tiers.back().notional_cap == no_cap);
    REQUIRE(result.warnings.size() == 1);
    CHECK_THAT(result.warnings[0], Catch::Contains("SOLUSDT: last tier written without its cap"));
}

TEST_CASE("the brackets of one symbol, as GET /fapi/v1/leverageBracket?symbol= returns them", "[import][binance]") {
    TempDir dir("marginsim_test_import");
    TestAccount account;
    account.wallet = 20000;
    account.brackets["SOLUSDT"] = with_cum({{10000, 0.005, 75}, {50000, 0.01, 50}, {250000, 0.02, 25}});
    account.legs.push_back({"SOLUSDT", "BOTH", -100, 150, 140, 5});
    const nlohmann::json array = nlohmann::json::parse(brackets_json(account));
    BinanceExportFiles files = write_exports(dir, account);
    dir.write("leverageBracket.json", array[0].dump());
    ImportOptions options;
    options.history_dir = bundled_history;
    check_against_formula(account, import_binance(files, options));
}

TEST_CASE("a liquidationPrice marginsim does not reproduce is a warning naming the position", "[import][binance]") {
    TempDir dir("marginsim_test_import");
    const TestAccount account = hedge_book();
    BinanceExportFiles files = write_exports(dir, account);
    nlohmann::json positions = nlohmann::json::parse(positions_json(account));
    const double binance = *binance_liquidation_price(account, 2);
    positions[2]["liquidationPrice"] = decimal(binance + 0.01);  // as if other brackets had been in force
    dir.write("positionRisk.json", positions.dump());
    ImportOptions options;
    options.history_dir = bundled_history;
    const ImportResult result = import_binance(files, options);
    REQUIRE(result.warnings.size() == 1);
    CHECK_THAT(result.warnings[0], Catch::StartsWith("positions[2] BTCUSDT LONG: liquidationPrice") &&
                                       Catch::Contains("are the brackets those of the account"));
}

TEST_CASE("a cross account whose position could not stand alone imports, its isolated mode flagged",
          "[import][binance]") {
    TempDir dir("marginsim_test_import");
    const TestAccount account = deep_loss_cross_book();
    const Scenario s = check_against_formula(account, import_account(dir, account));
    const LiquidationPanel panel = liquidation_panel(s);
    CHECK(panel.modes[mode_index(MarginMode::isolated)].rows[0].liquidated_at_start);
    CHECK_FALSE(panel.modes[mode_index(MarginMode::as_configured)].rows[0].liquidated_at_start);
}

TEST_CASE("bad exports name the file, the JSON path and what was expected", "[import][binance][errors]") {
    TempDir dir("marginsim_test_import");
    const TestAccount book = one_way_book();
    const std::string account = account_json(book);
    const std::string positions = positions_json(book);
    const std::string brackets = brackets_json(book);
    const auto replaced = [](std::string text, const std::string& from, const std::string& to) {
        const std::size_t at = text.find(from);
        REQUIRE(at != std::string::npos);
        return text.replace(at, from.size(), to);
    };
    CHECK_THAT(error_of(dir, account, replaced(positions, "\"entryPrice\": \"140\"", "\"entryPrice\": \"14o\""), brackets),
               Catch::Contains("p.json: positions[2].entryPrice: found \"14o\"") && Catch::Contains("expected a finite number"));
    CHECK_THAT(error_of(dir, account, replaced(positions, "\"markPrice\": \"58000\",", ""), brackets),
               Catch::Contains("p.json: positions[0].markPrice: missing"));
    CHECK_THAT(error_of(dir, account, replaced(positions, "\"marginType\": \"isolated\"", "\"marginType\": \"portfolio\""), brackets),
               Catch::Contains("positions[2].marginType") && Catch::Contains("\"cross\" or \"isolated\""));
    CHECK_THAT(error_of(dir, account, replaced(positions, "\"positionSide\": \"BOTH\"", "\"positionSide\": \"SHORT\""), brackets),
               Catch::Contains("positions[0].positionAmt"));
    CHECK_THAT(error_of(dir, replaced(account, "\"totalWalletBalance\": \"196000\"", "\"totalWalletBalance\": \"-5\""), positions, brackets),
               Catch::Contains("a.json: totalWalletBalance: found \"-5\""));
    CHECK_THAT(error_of(dir, account, positions, replaced(brackets, "\"SOLUSDT\"", "\"SOLBUSD\"")),
               Catch::Contains("b.json: brackets: no brackets for SOLUSDT (positions[2].symbol)"));
    CHECK_THAT(error_of(dir, account, positions, replaced(brackets, "\"notionalFloor\": 50000.0", "\"notionalFloor\": 40000.0")),
               Catch::Contains("b.json: brackets[0].brackets") && Catch::Contains("previous bracket's notionalCap"));
    CHECK_THAT(error_of(dir, account, positions, replaced(brackets, "\"cum\": 50.0", "\"cum\": \"fifty\"")),
               Catch::Contains("brackets[0].brackets[1].cum"));
    CHECK_THAT(error_of(dir, account, "[\n  {\"symbol\": \"BTCUSDT\",\n  }\n]", brackets),
               Catch::Contains("p.json:3:") && Catch::Contains("not valid JSON"));
    CHECK_THAT(error_of(dir, account, "{}", brackets), Catch::Contains("p.json: positions: found {}") &&
                                                           Catch::Contains("expected a JSON array"));
}

TEST_CASE("an asset without price history is an error naming it and the directory", "[import][binance][errors]") {
    TempDir dir("marginsim_test_import");
    TestAccount account;
    account.wallet = 1000;
    account.brackets["1000PEPEUSDT"] = with_cum({{5000, 0.01, 50}, {100000, 0.02, 20}});
    account.legs.push_back({"1000PEPEUSDT", "BOTH", 100000, 0.01, 0.011, 5});
    try {
        import_account(dir, account);
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.file() == bundled_history.string());
        CHECK(error.key() == "1000PEPE");
        CHECK_THAT(std::string(error.what()), Catch::Contains("no daily price history for 1000PEPE (1000PEPEUSDT)") &&
                                                  Catch::Contains("Binance_1000PEPEUSDT_d.csv"));
    }
}
