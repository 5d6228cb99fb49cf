// Scenario parsing and validation (docs/scenario-format.md): values, defaults, the tier and
// correlation rules, and the exact error messages a user sees for bad input.

#include "marginsim/error.hpp"
#include "engine/market_model.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using namespace marginsim;

namespace {

const std::string scenario_dir = std::string(MARGINSIM_SOURCE_DIR) + "/tests/scenarios/";

// A small valid scenario; the line numbers in the expected messages below refer to it.
const std::string base = R"([simulation]
horizon_days = 7
[account]
balance = 10000
[[assets]]
symbol = "BTC"
price = 60000
volatility = 0.5
maintenance_margin_rate = 0.004
[[assets]]
symbol = "ETH"
price = 3000
volatility = 0.6
maintenance_margin_rate = 0.005
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000
leverage = 10
[[positions]]
symbol = "ETH"
side = "short"
margin = 500
quantity = 2
)";
//  1 [simulation]           6 symbol = "BTC"     11 symbol = "ETH"      16 symbol = "BTC"     21
// symbol = "ETH"  2 horizon_days = 7       7 price = 60000      12 price = 3000        17 side =
// "long"      22 side = "short"  3 [account]              8 volatility = 0.5   13 volatility = 0.6
// 18 margin = 1000      23 margin = 500  4 balance = 10000        9 maintenance_...    14
// maintenance_...     19 leverage = 10      24 quantity = 2  5 [[assets]]            10 [[assets]]
// 15 [[positions]]       20 [[positions]]      25 (appended text)

struct Edit {
    std::string from;  // must occur exactly once in the text; empty: append `to`
    std::string to;
};

std::string edited(std::string text, const std::vector<Edit>& edits) {
    for (const Edit& edit : edits) {
        if (edit.from.empty()) {
            text += edit.to;
            continue;
        }
        const std::size_t at = text.find(edit.from);
        REQUIRE(at != std::string::npos);
        REQUIRE(text.find(edit.from, at + 1) == std::string::npos);
        text.replace(at, edit.from.size(), edit.to);
    }
    return text;
}

// A third asset, SOL (5 lines inserted after line 14: the positions start at line 20).
const Edit add_sol{"maintenance_margin_rate = 0.005\n",
                   "maintenance_margin_rate = 0.005\n[[assets]]\nsymbol = \"SOL\"\nprice = 150\n"
                   "volatility = 0.9\nmaintenance_margin_rate = 0.01\n"};

// Equicorrelation -0.6 of three assets: eigenvalues 1 + 2r = -0.2 and 1 - r = 1.6 (twice).
const std::string not_psd_matrix =
    "[correlation]\nmatrix = [[1, -0.6, -0.6], [-0.6, 1, -0.6], [-0.6, -0.6, 1]]\n";

std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, "case.toml");
    } catch (const InputError& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("a full scenario parses to the values it states", "[scenario]") {
    const Scenario s = load_scenario(scenario_dir + "full.toml");
    CHECK(s.source == scenario_dir + "full.toml");
    CHECK(s.warnings.empty());

    CHECK(s.simulation.paths == 20000);
    CHECK(s.simulation.horizon_days == 3.5);
    CHECK(s.simulation.steps_per_day == 48);
    CHECK(s.simulation.seed == 7);
    CHECK(s.simulation.model == PriceModel::student_t);
    CHECK(s.simulation.dof == 4.5);
    CHECK(s.simulation.threads == 2);
    CHECK(s.simulation.steps == 168);  // 3.5 days * 48
    CHECK(s.simulation.dt_years == Approx(1.0 / (365.0 * 48.0)));
    CHECK(s.simulation.dt_days() == Approx(1.0 / 48.0));

    CHECK(s.balance == 25000.0);
    CHECK(s.policy == LiquidationPolicy::fee);
    CHECK(s.fee_rate == 0.01);

    REQUIRE(s.asset_count() == 3);
    const Asset& btc = s.assets[0];
    CHECK(btc.symbol == "BTC");
    CHECK(btc.price == 66800.0);
    CHECK(btc.volatility == 0.47);
    CHECK(btc.drift == 0.05);
    CHECK(btc.funding_rate == 0.0001);
    REQUIRE(btc.tiers.size() == 4);
    CHECK(btc.tiers[0].notional_cap == 50000.0);
    CHECK(btc.tiers[1].notional_cap == 250000.0);
    CHECK(btc.tiers[2].notional_cap == 1000000.0);
    CHECK(btc.tiers[3].notional_cap == no_cap);
    CHECK(btc.tiers[0].rate == 0.004);
    CHECK(btc.tiers[3].rate == 0.025);
    // Derived for continuity: amount_k = amount_(k-1) + cap_(k-1) * (rate_k - rate_(k-1)).
    CHECK(btc.tiers[0].amount == 0.0);
    CHECK(btc.tiers[1].amount == Approx(0.0 + 50000.0 * (0.005 - 0.004)));    // 50
    CHECK(btc.tiers[2].amount == 1300.0);                                      // given
    CHECK(btc.tiers[3].amount == Approx(1300.0 + 1000000.0 * (0.025 - 0.01)));  // 16300
    CHECK(btc.tiers[0].max_leverage == 125.0);
    CHECK(btc.tiers[1].max_leverage == 100.0);
    CHECK(btc.tiers[2].max_leverage == 50.0);
    CHECK(btc.tiers[3].max_leverage == 20.0);

    const Asset& eth = s.assets[1];
    CHECK(eth.symbol == "ETH");
    CHECK(eth.drift == -0.1);
    CHECK(eth.funding_rate == -0.0002);
    REQUIRE(eth.tiers.size() == 1);
    CHECK(eth.tiers[0].notional_cap == no_cap);
    CHECK(eth.tiers[0].rate == 0.005);
    CHECK(eth.tiers[0].amount == 0.0);
    CHECK_FALSE(eth.tiers[0].max_leverage.has_value());
    CHECK(s.assets[2].price == 150.0);

    const std::vector<double> expected_correlation{1.0, 0.81, 0.74, 0.81, 1.0, 0.72, 0.74, 0.72, 1.0};
    CHECK(s.correlation == expected_correlation);
    CHECK(s.correlation_at(0, 2) == 0.74);
    CHECK(s.correlation_at(2, 1) == 0.72);
    CHECK_FALSE(s.correlation_repaired);

    REQUIRE(s.positions.size() == 3);
    const Position& btc_long = s.positions[0];
    CHECK(btc_long.asset == 0);
    CHECK(btc_long.side == Side::long_side);
    CHECK(btc_long.margin == 2000.0);
    CHECK(btc_long.leverage == 10.0);
    CHECK(btc_long.entry_price == 66800.0);
    CHECK(btc_long.quantity == Approx(2000.0 * 10.0 / 66800.0));
    CHECK(btc_long.notional_at_entry() == Approx(20000.0));
    CHECK(btc_long.mode == MarginMode::isolated);

    const Position& eth_short = s.positions[1];
    CHECK(eth_short.symbol == "ETH");
    CHECK(eth_short.asset == 1);
    CHECK(eth_short.side == Side::short_side);
    CHECK(sign(eth_short.side) == -1);
    CHECK(eth_short.quantity == 5.0);
    CHECK(eth_short.entry_price == 3200.0);
    CHECK(eth_short.leverage == Approx(5.0 * 3200.0 / 1500.0));
    CHECK(eth_short.mode == MarginMode::cross);

    const Position& sol_long = s.positions[2];
    CHECK(sol_long.asset == 2);
    CHECK(sol_long.quantity == Approx(500.0 * 3.0 / 150.0));
    CHECK(sol_long.mode == MarginMode::cross);

    CHECK(s.cross_wallet(MarginMode::cross) == 25000.0);
    CHECK(s.cross_wallet(MarginMode::as_configured) == 25000.0 - 2000.0);
    CHECK(s.cross_wallet(MarginMode::isolated) == 0.0);
}

TEST_CASE("the example configs load without warnings", "[scenario]") {
    const std::string configs = std::string(MARGINSIM_SOURCE_DIR) + "/configs/";
    const Scenario seed = load_scenario(configs + "seed_example.toml");
    CHECK(seed.asset_count() == 3);
    CHECK(seed.positions.size() == 3);
    CHECK(seed.warnings.empty());
    CHECK(seed.cross_wallet(MarginMode::as_configured) == 10000.0 - 2000.0);  // SOL isolated
    const Scenario pair = load_scenario(configs + "hedged_pair.toml");
    CHECK(pair.asset_count() == 2);
    CHECK(pair.positions[1].side == Side::short_side);
    CHECK(pair.warnings.empty());
}

TEST_CASE("derived tier amounts make the maintenance margin continuous", "[scenario]") {
    const Scenario s = load_scenario(scenario_dir + "full.toml");
    const std::vector<Tier>& tiers = s.assets[0].tiers;
    for (std::size_t k = 0; k + 1 < tiers.size(); ++k) {
        const double cap = tiers[k].notional_cap;
        const double below = cap * tiers[k].rate - tiers[k].amount;
        const double above = cap * tiers[k + 1].rate - tiers[k + 1].amount;
        CHECK(above == Approx(below).epsilon(1e-12));
    }
}

TEST_CASE("defaults apply and integers are accepted where numbers are expected", "[scenario]") {
    const Scenario s = parse_scenario(base, "base.toml");
    CHECK(s.source == "base.toml");
    CHECK(s.warnings.empty());
    CHECK(s.simulation.paths == 100000);
    CHECK(s.simulation.horizon_days == 7.0);  // written as the integer 7
    CHECK(s.simulation.steps_per_day == 24);
    CHECK(s.simulation.seed == 1);
    CHECK(s.simulation.model == PriceModel::gaussian);
    CHECK(s.simulation.threads == 0);
    CHECK(s.simulation.steps == 7 * 24);
    CHECK(s.simulation.dt_years == Approx(1.0 / (365.0 * 24.0)));
    CHECK(s.balance == 10000.0);
    CHECK(s.policy == LiquidationPolicy::full);
    CHECK(s.fee_rate == 0.005);

    REQUIRE(s.asset_count() == 2);
    CHECK(s.assets[0].price == 60000.0);
    CHECK(s.assets[0].drift == 0.0);
    CHECK(s.assets[0].funding_rate == 0.0);
    REQUIRE(s.assets[0].tiers.size() == 1);
    CHECK(s.assets[0].tiers[0].notional_cap == no_cap);
    CHECK(s.assets[0].tiers[0].rate == 0.004);
    CHECK(s.assets[0].tiers[0].amount == 0.0);
    CHECK(s.correlation == std::vector<double>{1.0, 0.0, 0.0, 1.0});
    CHECK_FALSE(s.correlation_repaired);
    CHECK(s.correlation_repair_distance == 0.0);

    REQUIRE(s.positions.size() == 2);
    CHECK(s.positions[0].entry_price == 60000.0);
    CHECK(s.positions[0].mode == MarginMode::cross);
    CHECK(s.positions[0].quantity == Approx(1000.0 * 10.0 / 60000.0));
    CHECK(s.positions[1].leverage == Approx(2.0 * 3000.0 / 500.0));
    CHECK(s.cross_wallet(MarginMode::as_configured) == 10000.0);  // no isolated position
}

TEST_CASE("horizon steps are rounded to the nearest whole step", "[scenario]") {
    // 0.03 days * 24 = 0.72 steps: rounds to one step.
    const Scenario s = parse_scenario(edited(base, {{"horizon_days = 7", "horizon_days = 0.03"}}), "case.toml");
    CHECK(s.simulation.steps == 1);
    const Scenario t = parse_scenario(
        edited(base, {{"horizon_days = 7", "horizon_days = 1.49\nsteps_per_day = 10"}}), "case.toml");
    CHECK(t.simulation.steps == 15);  // 14.9
}

TEST_CASE("maintenance margin and tier lookup follow the tier table", "[scenario]") {
    // Binance BTCUSDT: 0.4% to 50k, 0.5% (amount 50) to 250k, 1% (1300) to 1M, 2.5% (16300) above.
    const std::vector<Tier> tiers{{50000.0, 0.004, 0.0, 125.0},
                                  {250000.0, 0.005, 50.0, 100.0},
                                  {1000000.0, 0.01, 1300.0, 50.0},
                                  {no_cap, 0.025, 16300.0, 20.0}};
    CHECK(tier_index(tiers, 0.0) == 0);
    CHECK(tier_index(tiers, 50000.0) == 0);  // a boundary belongs to the lower tier
    CHECK(tier_index(tiers, 50000.5) == 1);
    CHECK(tier_index(tiers, 250000.0) == 1);
    CHECK(tier_index(tiers, 999999.0) == 2);
    CHECK(tier_index(tiers, 5e9) == 3);
    CHECK(maintenance_margin(tiers, 10000.0) == Approx(40.0));
    CHECK(maintenance_margin(tiers, 100000.0) == Approx(100000.0 * 0.005 - 50.0));
    CHECK(maintenance_margin(tiers, 2000000.0) == Approx(2000000.0 * 0.025 - 16300.0));

    const std::vector<Tier> capped{{100.0, 0.1, 0.0, std::nullopt}, {200.0, 0.2, 10.0, std::nullopt}};
    CHECK(tier_index(capped, 500.0) == 1);  // above the last cap: the last tier
    CHECK(maintenance_margin(capped, 500.0) == Approx(500.0 * 0.2 - 10.0));

    const std::vector<Tier> flat{{no_cap, 0.004, 0.0, std::nullopt}};
    CHECK(tier_index(flat, 1e12) == 0);
    CHECK(maintenance_margin(flat, 25000.0) == Approx(100.0));
}

TEST_CASE("enum names and overrides", "[scenario]") {
    CHECK(to_string(PriceModel::gaussian) == "gaussian");
    CHECK(to_string(PriceModel::student_t) == "student_t");
    CHECK(to_string(LiquidationPolicy::full) == "full");
    CHECK(to_string(LiquidationPolicy::fee) == "fee");
    CHECK(to_string(Side::long_side) == "long");
    CHECK(to_string(Side::short_side) == "short");
    CHECK(to_string(MarginMode::isolated) == "isolated");
    CHECK(to_string(MarginMode::cross) == "cross");
    CHECK(to_string(MarginMode::as_configured) == "as_configured");

    Scenario s = parse_scenario(base, "base.toml");
    set_paths(s, 123);
    CHECK(s.simulation.paths == 123);
}

TEST_CASE("a tier amount that breaks continuity is a warning and not an error", "[scenario]") {
    const std::string tiers =
        "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.005, amount = 60 } ]";
    const Scenario s = parse_scenario(edited(base, {{"maintenance_margin_rate = 0.004", tiers}}), "case.toml");
    REQUIRE(s.warnings.size() == 1);
    // continuous: 0 + 50000 * (0.005 - 0.004) = 50
    CHECK(s.warnings[0] ==
          "case.toml:9:76: assets[0].tiers[1].amount = 60 breaks continuity of the BTC maintenance "
          "margin: the continuous value is 50");
    CHECK(s.assets[0].tiers[1].amount == 60.0);  // the given amount is used

    // Within 1e-6 of the boundary notional: no warning.
    const std::string close =
        "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.005, amount = 50.01 } ]";
    CHECK(parse_scenario(edited(base, {{"maintenance_margin_rate = 0.004", close}}), "case.toml")
              .warnings.empty());
}

TEST_CASE("a non-PSD correlation matrix is repaired on request and reported", "[scenario]") {
    const std::string text = edited(base, {add_sol, {"", not_psd_matrix + "repair = \"nearest\"\n"}});
    const Scenario s = parse_scenario(text, "case.toml");
    CHECK(s.correlation_repaired);
    // By symmetry the nearest correlation matrix is again equicorrelated, at the PSD boundary
    // r = -1/(n-1) = -0.5: it moved 6 off-diagonal entries by 0.1 each.
    CHECK(s.correlation_repair_distance == Approx(std::sqrt(6.0 * 0.01)).epsilon(1e-6));
    REQUIRE(s.correlation.size() == 9);
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(s.correlation_at(i, j) == Approx(i == j ? 1.0 : -0.5).margin(1e-6));
        }
    }
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0] ==
          "case.toml:31:10: correlation.matrix is not positive semi-definite (smallest eigenvalue "
          "-0.2): replaced by the nearest correlation matrix, Frobenius distance 0.245: "
          "[[1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1]]");

    // A valid matrix is kept as given, even with repair = "nearest".
    const std::string valid = "[correlation]\nmatrix = [[1, 0.3], [0.3, 1]]\nrepair = \"nearest\"\n";
    const Scenario t = parse_scenario(edited(base, {{"", valid}}), "case.toml");
    CHECK_FALSE(t.correlation_repaired);
    CHECK(t.correlation == std::vector<double>{1.0, 0.3, 0.3, 1.0});
    CHECK(t.warnings.empty());
}

TEST_CASE("an error carries file and line and column and key and expectation", "[scenario]") {
    try {
        parse_scenario(edited(base, {{"leverage = 10", "leverage = 0.5"}}), "case.toml");
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.file() == "case.toml");
        CHECK(error.line() == 19);
        CHECK(error.column() == 12);
        CHECK(error.key() == "positions[0].leverage");
        CHECK(error.message() == "out of range: found 0.5");
        CHECK(error.expected() == "a leverage >= 1");
    }
}

TEST_CASE("a missing file is reported with line 0", "[scenario]") {
    const std::string path = scenario_dir + "no_such_file.toml";
    try {
        load_scenario(path);
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.line() == 0);
        CHECK(std::string(error.what()) ==
              path + ": scenario file not found (expected a path to a readable TOML scenario file)");
    }
    try {
        load_scenario(scenario_dir);
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.message() == "is a directory, not a scenario file");
    }
}

TEST_CASE("malformed scenarios are rejected with a precise message", "[scenario]") {
    struct Case {
        std::vector<Edit> edits;
        std::string message;
    };
    const std::string isolated_fix =
        "expected margin + unrealised PnL above the maintenance margin at the start: more margin, a "
        "smaller position or an entry_price nearer the current price)";
    const std::string cross_fix =
        "expected cross equity above the total maintenance margin at the start: a larger balance, "
        "smaller positions or entry prices nearer the current prices)";
    const std::vector<Case> cases{
        // TOML syntax
        {{{"balance = 10000", "balance = 10000.0.0"}},
         "case.toml:4:18: TOML syntax error: error while parsing floating-point: expected decimal "
         "digit or exponent, saw '.' (expected valid TOML syntax, see https://toml.io)"},
        {{{"balance = 10000", "balance = 10000\nbalance = 5"}},
         "case.toml:5:11: TOML syntax error: error while parsing key-value pair: cannot redefine "
         "existing integer 'balance' (expected valid TOML syntax, see https://toml.io)"},
        // unknown keys
        {{{"", "[accounts]\nbalance = 5\n"}},
         "case.toml:25:2: accounts: unknown key (expected one of simulation, account, liquidation, "
         "assets, correlation, positions, jumps, regime)"},
        {{{"horizon_days = 7", "horizon_days = 7\npahts = 10"}},
         "case.toml:3:1: simulation.pahts: unknown key (expected one of paths, horizon_days, "
         "steps_per_day, seed, model, dof, threads)"},
        {{{"leverage = 10", "leverage = 10\nstop_loss = 50000"}},
         "case.toml:20:1: positions[0].stop_loss: unknown key (expected one of symbol, side, margin, "
         "leverage, quantity, entry_price, mode)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { cap = 5000, rate = 0.004 }, { rate = 0.01 } ]"}},
         "case.toml:9:13: assets[0].tiers[0].cap: unknown key (expected one of notional_cap, rate, "
         "amount, max_leverage)"},
        // types
        {{{"[simulation]\nhorizon_days = 7", "simulation = 5"}},
         "case.toml:1:14: simulation: wrong type: found the integer 5 (expected a table [simulation])"},
        {{{"horizon_days = 7", "horizon_days = 7\npaths = 1000.0"}},
         "case.toml:3:9: simulation.paths: wrong type: found the floating-point number 1000.0 "
         "(expected an integer > 0)"},
        {{{"horizon_days = 7", "horizon_days = 7\nseed = 1e3"}},
         "case.toml:3:8: simulation.seed: wrong type: found the floating-point number 1000.0 "
         "(expected an integer >= 0)"},
        {{{"balance = 10000", "balance = \"10000\""}},
         "case.toml:4:11: account.balance: wrong type: found the string \"10000\" (expected a "
         "balance > 0 in the quote currency)"},
        {{{"side = \"long\"", "side = \"buy\""}},
         "case.toml:17:8: positions[0].side: unknown value \"buy\" (expected one of \"long\", \"short\")"},
        {{{"side = \"long\"", "side = true"}},
         "case.toml:17:8: positions[0].side: wrong type: found the boolean true (expected one of "
         "\"long\", \"short\")"},
        {{{"horizon_days = 7", "horizon_days = 7\nmodel = \"gausian\""}},
         "case.toml:3:9: simulation.model: unknown value \"gausian\" (expected one of \"gaussian\", "
         "\"student_t\", \"jump\", \"regime\")"},
        {{{"leverage = 10", "leverage = 10\nmode = \"as_configured\""}},
         "case.toml:20:8: positions[0].mode: unknown value \"as_configured\" (expected one of "
         "\"cross\", \"isolated\")"},
        // ranges
        {{{"horizon_days = 7", "horizon_days = 7\npaths = 0"}},
         "case.toml:3:9: simulation.paths: out of range: found 0 (expected an integer > 0)"},
        {{{"horizon_days = 7", "horizon_days = -1"}},
         "case.toml:2:16: simulation.horizon_days: out of range: found -1 (expected a number of days > 0)"},
        {{{"horizon_days = 7", "horizon_days = 7\nsteps_per_day = 0"}},
         "case.toml:3:17: simulation.steps_per_day: out of range: found 0 (expected an integer > 0)"},
        {{{"horizon_days = 7", "horizon_days = 7\nsteps_per_day = 3000000000"}},
         "case.toml:3:17: simulation.steps_per_day: too large: found 3000000000 (expected an integer "
         "<= 2147483647)"},
        {{{"horizon_days = 7", "horizon_days = 7\nseed = -3"}},
         "case.toml:3:8: simulation.seed: out of range: found -3 (expected an integer >= 0)"},
        {{{"horizon_days = 7", "horizon_days = 7\nthreads = -1"}},
         "case.toml:3:11: simulation.threads: out of range: found -1 (expected an integer >= 0, 0 = "
         "all cores)"},
        {{{"balance = 10000", "balance = 0"}},
         "case.toml:4:11: account.balance: out of range: found 0 (expected a balance > 0 in the quote "
         "currency)"},
        {{{"", "[liquidation]\npolicy = \"fee\"\nfee_rate = 1\n"}},
         "case.toml:27:12: liquidation.fee_rate: out of range: found 1 (expected a fraction of "
         "notional in [0, 1))"},
        {{{"", "[liquidation]\npolicy = \"partial\"\n"}},
         "case.toml:26:10: liquidation.policy: unknown value \"partial\" (expected one of \"full\", "
         "\"fee\")"},
        {{{"price = 60000", "price = -60000"}},
         "case.toml:7:9: assets[0].price: out of range: found -60000 (expected a price > 0)"},
        {{{"volatility = 0.5", "volatility = 12"}},
         "case.toml:8:14: assets[0].volatility: out of range: found 12 (expected an annualised "
         "volatility in [0, 10))"},
        {{{"maintenance_margin_rate = 0.005", "maintenance_margin_rate = 1.0"}},
         "case.toml:14:27: assets[1].maintenance_margin_rate: out of range: found 1.0 (expected a "
         "maintenance margin rate in [0, 1))"},
        {{{"maintenance_margin_rate = 0.005", "maintenance_margin_rate = 0.005\nfunding_rate = -1.5"}},
         "case.toml:15:16: assets[1].funding_rate: out of range: found -1.5 (expected a funding rate "
         "per 8 hours in (-1, 1))"},
        {{{"margin = 500", "margin = 0"}},
         "case.toml:23:10: positions[1].margin: out of range: found 0 (expected an initial margin > 0)"},
        {{{"leverage = 10", "leverage = 0.5"}},
         "case.toml:19:12: positions[0].leverage: out of range: found 0.5 (expected a leverage >= 1)"},
        {{{"quantity = 2", "quantity = 2\nentry_price = 0"}},
         "case.toml:25:15: positions[1].entry_price: out of range: found 0 (expected an entry price > 0)"},
        {{{"quantity = 2", "quantity = 0.1"}},
         "case.toml:24:12: positions[1].quantity: leverage 0.6 is below 1: quantity 0.1 at entry "
         "price 3000 is a notional of 300, less than the margin 500 (expected quantity * entry_price "
         ">= margin, i.e. leverage >= 1)"},
        // nan and inf
        {{{"volatility = 0.5", "volatility = nan"}},
         "case.toml:8:14: assets[0].volatility: not a finite number: found nan (expected an "
         "annualised volatility in [0, 10))"},
        {{{"price = 60000", "price = inf"}},
         "case.toml:7:9: assets[0].price: not a finite number: found inf (expected a price > 0)"},
        {{{"margin = 1000", "margin = -inf"}},
         "case.toml:18:10: positions[0].margin: not a finite number: found -inf (expected an "
         "initial margin > 0)"},
        // required keys
        {{{"[simulation]\nhorizon_days = 7\n", ""}},
         "case.toml:1:1: simulation: missing required table (expected a [simulation] table with at "
         "least horizon_days)"},
        {{{"horizon_days = 7", "seed = 3"}},
         "case.toml:1:1: simulation.horizon_days: missing required key (expected a number of days > 0)"},
        {{{"balance = 10000", ""}},
         "case.toml:3:1: account.balance: missing required key (expected a balance > 0 in the quote "
         "currency)"},
        {{{"volatility = 0.6\n", ""}},
         "case.toml:10:1: assets[1].volatility: missing required key (expected an annualised "
         "volatility in [0, 10))"},
        {{{"side = \"short\"\n", ""}},
         "case.toml:20:1: positions[1].side: missing required key (expected one of \"long\", \"short\")"},
        {{{"[[positions]]\nsymbol = \"BTC\"\nside = \"long\"\nmargin = 1000\nleverage = 10\n"
           "[[positions]]\nsymbol = \"ETH\"\nside = \"short\"\nmargin = 500\nquantity = 2\n", ""}},
         "case.toml:1:1: positions: missing required table (expected at least one [[positions]] table)"},
        // the simulation model
        {{{"horizon_days = 7", "horizon_days = 7\ndof = 4"}},
         "case.toml:3:7: simulation.dof: dof is only used by model = \"student_t\", but the model is "
         "\"gaussian\" (expected no dof with the gaussian model, or model = \"student_t\")"},
        {{{"horizon_days = 7", "horizon_days = 7\nmodel = \"student_t\""}},
         "case.toml:1:1: simulation.dof: missing required key (expected degrees of freedom for model "
         "= \"student_t\": a number > 2)"},
        {{{"horizon_days = 7", "horizon_days = 7\nmodel = \"student_t\"\ndof = 2"}},
         "case.toml:4:7: simulation.dof: out of range: found 2 (expected a number > 2: the variance "
         "is infinite for dof <= 2)"},
        {{{"horizon_days = 7", "horizon_days = 0.01"}},
         "case.toml:2:16: simulation.horizon_days: too short for one monitoring step: 0.01 days at "
         "24 steps per day rounds to 0 steps (expected at least half a step: horizon_days >= "
         "0.02083333333 at 24 steps per day)"},
        // assets
        {{{"symbol = \"ETH\"\nprice", "symbol = \"BTC\"\nprice"}},
         "case.toml:11:10: assets[1].symbol: duplicate symbol \"BTC\", already used by assets[0] "
         "(expected a different symbol for each asset)"},
        {{{"symbol = \"ETH\"\nprice", "symbol = \"\"\nprice"}},
         "case.toml:11:10: assets[1].symbol: empty symbol (expected a non-empty symbol such as \"BTC\")"},
        {{{"maintenance_margin_rate = 0.004", "maintenance_margin_rate = 0.004\ntiers = [ { rate = 0.004 } ]"}},
         "case.toml:5:1: assets[0]: both maintenance_margin_rate and tiers are given (expected "
         "exactly one of maintenance_margin_rate or tiers)"},
        {{{"maintenance_margin_rate = 0.004", "drift = 0.1"}},
         "case.toml:5:1: assets[0]: no maintenance margin: neither maintenance_margin_rate nor tiers "
         "is given (expected exactly one of maintenance_margin_rate or tiers)"},
        // tiers
        {{{"maintenance_margin_rate = 0.004", "tiers = []"}},
         "case.toml:9:9: assets[0].tiers: empty tier table (expected at least one tier { "
         "notional_cap, rate, amount, max_leverage })"},
        {{{"maintenance_margin_rate = 0.004",
           "tiers = [ { notional_cap = 50000, rate = 0.004 }, { notional_cap = 40000, rate = 0.005 }, "
           "{ rate = 0.01 } ]"}},
         "case.toml:9:68: assets[0].tiers[1].notional_cap: not above the previous tier's cap: found "
         "40000, the previous cap is 50000 (expected notional caps strictly increasing from tier to "
         "tier)"},
        {{{"maintenance_margin_rate = 0.004",
           "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.003 } ]"}},
         "case.toml:9:60: assets[0].tiers[1].rate: below the previous tier's rate: found 0.003, the "
         "previous rate is 0.004 (expected rates that do not decrease as the notional grows)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { rate = 0.004 }, { rate = 0.005 } ]"}},
         "case.toml:9:11: assets[0].tiers[0].notional_cap: missing required key (expected a "
         "notional cap > 0: only the last tier may omit it)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { notional_cap = inf, rate = 0.004 } ]"}},
         "case.toml:9:28: assets[0].tiers[0].notional_cap: not a finite number: found inf (expected "
         "a notional > 0; omit notional_cap on the last tier for no upper bound)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { rate = 0.004, max_leverage = 0.5 } ]"}},
         "case.toml:9:42: assets[0].tiers[0].max_leverage: out of range: found 0.5 (expected a "
         "leverage >= 1)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { rate = 0.004, amount = -1 } ]"}},
         "case.toml:9:36: assets[0].tiers[0].amount: out of range: found -1 (expected a maintenance "
         "amount >= 0)"},
        // positions
        {{{"symbol = \"ETH\"\nside", "symbol = \"DOGE\"\nside"}},
         "case.toml:21:10: positions[1].symbol: no asset named \"DOGE\" (expected one of the asset "
         "symbols \"BTC\", \"ETH\")"},
        {{{"leverage = 10", "leverage = 10\nquantity = 0.1"}},
         "case.toml:15:1: positions[0]: both leverage and quantity are given (expected exactly one of "
         "leverage >= 1 or quantity > 0)"},
        {{{"leverage = 10", ""}},
         "case.toml:15:1: positions[0]: neither leverage nor quantity is given (expected exactly one "
         "of leverage >= 1 or quantity > 0)"},
        // cross-field checks
        {{{"maintenance_margin_rate = 0.004",
           "tiers = [ { notional_cap = 5000, rate = 0.004, max_leverage = 20 }, { rate = 0.01, "
           "max_leverage = 5 } ]"}},
         "case.toml:15:1: positions[0]: leverage 10 exceeds max_leverage 5 of assets[0].tiers[1], "
         "the BTC tier holding its notional at entry 10000 (expected leverage <= 5 at this notional)"},
        {{{"maintenance_margin_rate = 0.004", "tiers = [ { notional_cap = 5000, rate = 0.004 } ]"}},
         "case.toml:15:1: positions[0]: notional at entry 10000 is above 5000, the cap of the last "
         "BTC tier assets[0].tiers[0] (expected a notional <= 5000, or a last tier without "
         "notional_cap)"},
        {{{"balance = 10000", "balance = 1200"}},
         "case.toml:20:1: positions[1].margin: position margins add up to 1500, more than the "
         "account balance 1200; the running sum exceeds it from this position on (expected a sum of "
         "position margins <= account.balance, so that every margin mode is fundable)"},
        // BTC long from 100000, now 60000: q = 0.1, upnl = -4000, mm = 0.1 * 60000 * 0.004 = 24.
        {{{"leverage = 10", "leverage = 10\nentry_price = 100000"}},
         "case.toml:15:1: positions[0]: already at or below its maintenance margin at the start "
         "price 60000 in isolated mode: margin 1000 + unrealised PnL -4000 = -3000 <= maintenance "
         "margin 24 (" + isolated_fix},
        // q = 0.5, upnl = -20000; mm = 120 (BTC) + 2 * 3000 * 0.005 = 30 (ETH).
        {{{"margin = 1000\nleverage = 10", "margin = 5000\nleverage = 10\nentry_price = 100000"}},
         "case.toml:15:1: positions: the cross positions (positions[0], positions[1]) are already "
         "at or below their maintenance margin at the start prices in cross mode: wallet 10000 + "
         "unrealised PnL -20000 = -10000 <= maintenance margin 150 (" + cross_fix},
        // BTC isolated, long from 30000: upnl +10000 keeps the all-cross account alive
        // (10000 + 10000 - 9600 > 140); ETH short 4 from 600: upnl -9600, mm 60, alone in the
        // as_configured cross wallet 10000 - 1000.
        {{{"leverage = 10", "leverage = 10\nentry_price = 30000\nmode = \"isolated\""},
          {"quantity = 2", "quantity = 4\nentry_price = 600"}},
         "case.toml:22:1: positions: the cross positions (positions[1]) are already at or below "
         "their maintenance margin at the start prices in as_configured mode: cross wallet 9000 "
         "(balance 10000 minus isolated margins) + unrealised PnL -9600 = -600 <= maintenance margin "
         "60 (" + cross_fix},
        // correlation
        {{{"", "[correlation]\nmatrix = [[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]]\n"}},
         "case.toml:26:10: correlation.matrix: found 3 rows for 2 assets (expected a 2 x 2 matrix: "
         "one row and one column per asset, in [[assets]] order)"},
        {{{"", "[correlation]\nmatrix = [[1, 0.5], [0.5]]\n"}},
         "case.toml:26:21: correlation.matrix[1]: found 1 entry for 2 assets (expected a row of 2 "
         "numbers, one per asset)"},
        {{{"", "[correlation]\nmatrix = [[1, 0.5], 0.5]\n"}},
         "case.toml:26:21: correlation.matrix[1]: wrong type: found the floating-point number 0.5 "
         "(expected a row of 2 numbers, one per asset)"},
        {{{"", "[correlation]\nmatrix = [[1, 1.5], [1.5, 1]]\n"}},
         "case.toml:26:15: correlation.matrix[0][1]: out of range: found 1.5 (expected a correlation "
         "in [-1, 1])"},
        {{{"", "[correlation]\nmatrix = [[1, 0.5], [0.5, 0.9]]\n"}},
         "case.toml:26:27: correlation.matrix[1][1]: not a unit diagonal: found 0.9 (expected 1 on "
         "the diagonal: each asset's correlation with itself)"},
        {{{"", "[correlation]\nmatrix = [[1, 0.5], [0.4, 1]]\n"}},
         "case.toml:26:22: correlation.matrix[1][0]: not symmetric: found 0.4, but "
         "correlation.matrix[0][1] is 0.5 (expected a symmetric matrix: [i][j] equal to [j][i])"},
        {{{"", "[correlation]\nmatrix = [[1, \"0.5\"], [0.5, 1]]\n"}},
         "case.toml:26:15: correlation.matrix[0][1]: wrong type: found the string \"0.5\" (expected "
         "a correlation in [-1, 1])"},
        {{{"", "[correlation]\nrepair = \"higham\"\n"}},
         "case.toml:26:10: correlation.repair: unknown value \"higham\" (expected one of \"none\", "
         "\"nearest\")"},
        {{add_sol, {"", not_psd_matrix}},
         "case.toml:31:10: correlation.matrix: not positive semi-definite: smallest eigenvalue -0.2 "
         "(expected a positive semi-definite matrix, correlations that can hold together; or repair "
         "= \"nearest\" in [correlation] to use the nearest valid correlation matrix)"},
    };
    REQUIRE(cases.size() >= 30);
    for (const Case& c : cases) {
        const std::string text = edited(base, c.edits);
        INFO(text);
        CHECK(error_of(text) == c.message);
    }
}

TEST_CASE("correlation pairs fill the matrix and the default fills unnamed pairs", "[scenario]") {
    const std::string pairs =
        "[correlation]\npairs = { \"BTC/ETH\" = 0.8, \"SOL/BTC\" = 0.7 }\ndefault = 0.5\n";
    const Scenario s = parse_scenario(edited(base, {add_sol, {"", pairs}}), "case.toml");
    // Order BTC, ETH, SOL; SOL/BTC sets both [2][0] and [0][2]; ETH/SOL is unnamed.
    CHECK(s.correlation == std::vector<double>{1.0, 0.8, 0.7, 0.8, 1.0, 0.5, 0.7, 0.5, 1.0});
    CHECK_FALSE(s.correlation_repaired);
    CHECK(s.warnings.empty());

    // The same as the full matrix it stands for.
    const std::string matrix =
        "[correlation]\nmatrix = [[1, 0.8, 0.7], [0.8, 1, 0.5], [0.7, 0.5, 1]]\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", matrix}}), "case.toml").correlation ==
          s.correlation);

    // Without a default, unnamed pairs are uncorrelated; a [correlation.pairs] table works too.
    const std::string no_default = "[correlation.pairs]\n\"ETH/BTC\" = -0.25\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", no_default}}), "case.toml").correlation ==
          std::vector<double>{1.0, -0.25, 0.0, -0.25, 1.0, 0.0, 0.0, 0.0, 1.0});

    // No pairs at all: every pair takes the default.
    const std::string only_default = "[correlation]\npairs = {}\ndefault = 0.3\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", only_default}}), "case.toml").correlation ==
          std::vector<double>{1.0, 0.3, 0.3, 0.3, 1.0, 0.3, 0.3, 0.3, 1.0});
}

TEST_CASE("correlation pairs split at the slash that names two assets", "[scenario]") {
    // Symbols may hold a slash themselves: "A/B/C" is the pair (A/B, C) when A/B is an asset
    // and A is not.
    const std::string text = R"([simulation]
horizon_days = 1
[account]
balance = 1000
[[assets]]
symbol = "A/B"
price = 1
volatility = 0.5
maintenance_margin_rate = 0.01
[[assets]]
symbol = "C"
price = 1
volatility = 0.5
maintenance_margin_rate = 0.01
[correlation]
pairs = { "A/B/C" = 0.4 }
[[positions]]
symbol = "C"
side = "long"
margin = 100
leverage = 2
)";
    CHECK(parse_scenario(text, "case.toml").correlation ==
          std::vector<double>{1.0, 0.4, 0.4, 1.0});

    // With assets A, B/C, A/B and C, "A/B/C" names two pairs: an error rather than a guess.
    const std::string more = "[[assets]]\nsymbol = \"A\"\nprice = 1\nvolatility = 0.5\n"
                             "maintenance_margin_rate = 0.01\n[[assets]]\nsymbol = \"B/C\"\n"
                             "price = 1\nvolatility = 0.5\nmaintenance_margin_rate = 0.01\n";
    const std::string ambiguous = edited(text, {{"[correlation]\n", more + "[correlation]\n"}});
    CHECK(error_of(ambiguous) ==
          "case.toml:26:11: correlation.pairs.\"A/B/C\": ambiguous pair: more than one split "
          "names two assets (expected a pair \"A/B\" of two asset symbols among \"A/B\", \"C\", "
          "\"A\", \"B/C\")");
}

TEST_CASE("correlation pairs that cannot hold together are rejected or repaired", "[scenario]") {
    // Default -0.6 for three assets: the equicorrelation matrix of the repair test above.
    const std::string pairs = "[correlation]\npairs = {}\ndefault = -0.6\n";
    CHECK(error_of(edited(base, {add_sol, {"", pairs}})) ==
          "case.toml:31:9: correlation.pairs: the matrix of pairs and default is not positive "
          "semi-definite: smallest eigenvalue -0.2 (expected a positive semi-definite matrix, "
          "correlations that can hold together; or repair = \"nearest\" in [correlation] to use "
          "the nearest valid correlation matrix)");

    const std::string repaired = pairs + "repair = \"nearest\"\n";
    const Scenario s = parse_scenario(edited(base, {add_sol, {"", repaired}}), "case.toml");
    CHECK(s.correlation_repaired);
    CHECK(s.correlation_repair_distance == Approx(std::sqrt(6.0 * 0.01)).epsilon(1e-6));
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(s.correlation_at(i, j) == Approx(i == j ? 1.0 : -0.5).margin(1e-6));
        }
    }
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0] ==
          "case.toml:31:9: correlation.pairs is not positive semi-definite (smallest eigenvalue "
          "-0.2): replaced by the nearest correlation matrix, Frobenius distance 0.245: "
          "[[1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1]]");
}

TEST_CASE("malformed correlation pairs are rejected with a precise message", "[scenario]") {
    struct Case {
        std::string correlation;  // appended at line 25
        std::string message;
    };
    const std::string among =
        "(expected a pair \"A/B\" of two asset symbols among \"BTC\", \"ETH\")";
    const std::vector<Case> cases{
        {"[correlation]\npairs = { \"BTC/DOGE\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTC/DOGE\": no asset named \"DOGE\" " + among},
        {"[correlation]\npairs = { \"DOGE/ETH\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"DOGE/ETH\": no asset named \"DOGE\" " + among},
        {"[correlation]\npairs = { \"BTCETH\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTCETH\": not a pair: no '/' between two symbols " +
             among},
        {"[correlation]\npairs = { \"BTC/BTC\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTC/BTC\": a pair of \"BTC\" with itself: its "
         "correlation is 1 by definition (expected a pair of two different assets)"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8, \"ETH/BTC\" = 0.7 }\n",
         "case.toml:26:28: correlation.pairs.\"ETH/BTC\": the pair ETH/BTC is given twice: "
         "\"BTC/ETH\" at line 26 already sets it (expected each pair once, in either order)"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 1.5 }\n",
         "case.toml:26:23: correlation.pairs.\"BTC/ETH\": out of range: found 1.5 (expected a "
         "correlation in [-1, 1])"},
        {"[correlation]\npairs = { \"BTC/ETH\" = \"0.8\" }\n",
         "case.toml:26:23: correlation.pairs.\"BTC/ETH\": wrong type: found the string \"0.8\" "
         "(expected a correlation in [-1, 1])"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8 }\ndefault = -1.2\n",
         "case.toml:27:11: correlation.default: out of range: found -1.2 (expected a correlation "
         "in [-1, 1])"},
        {"[correlation]\npairs = [0.8]\n",
         "case.toml:26:9: correlation.pairs: wrong type: found an array (expected a table of "
         "pairs such as { \"BTC/ETH\" = 0.8 })"},
        {"[correlation]\ndefault = 0.5\n",
         "case.toml:26:11: correlation.default: default is only used with pairs, but no pairs are "
         "given (expected pairs = { \"A/B\" = ... } next to default, or no default)"},
        {"[correlation]\nmatrix = [[1, 0.5], [0.5, 1]]\npairs = { \"BTC/ETH\" = 0.5 }\n",
         "case.toml:25:1: correlation: both matrix and pairs are given (expected exactly one of "
         "matrix (the full matrix) or pairs (with an optional default))"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8 }\ndefualt = 0.5\n",
         "case.toml:27:1: correlation.defualt: unknown key (expected one of matrix, pairs, "
         "default, repair)"},
    };
    for (const Case& c : cases) {
        const std::string text = base + c.correlation;
        INFO(text);
        CHECK(error_of(text) == c.message);
    }
}

TEST_CASE("a tier whose maintenance margin goes negative on its range is refused", "[scenario]") {
    const auto with_tiers = [](const std::string& tiers) {
        return edited(base, {{"maintenance_margin_rate = 0.004", tiers}});
    };
    // First tier: rate x notional - amount < 0 for every notional below amount / rate = 125000,
    // so on the whole tier (cap 100000).
    CHECK(error_of(with_tiers("tiers = [ { notional_cap = 100000, rate = 0.004, amount = 500 }, "
                              "{ rate = 0.005 } ]")) ==
          "case.toml:9:59: assets[0].tiers[0].amount: negative maintenance margin: rate 0.004 x "
          "notional 0 - amount 500 = -500 at the bottom of the tier's notional range (expected an "
          "amount <= rate x 0 = 0, the tier's lower notional bound, so that the maintenance margin "
          "rate x notional - amount is >= 0 on its range)");
    // Second tier: 0.005 x 50000 - 400 = -150 just above its lower bound.
    CHECK_THAT(error_of(with_tiers("tiers = [ { notional_cap = 50000, rate = 0.004 }, "
                                   "{ rate = 0.005, amount = 400 } ]")),
               Catch::Contains("assets[0].tiers[1].amount: negative maintenance margin: rate 0.005 x "
                               "notional 50000 - amount 400 = -150"));
    // Exactly zero at the bound is a valid (if generous) table.
    CHECK_NOTHROW(parse_scenario(with_tiers("tiers = [ { notional_cap = 50000, rate = 0.004 }, "
                                            "{ rate = 0.005, amount = 250 } ]"),
                                 "case.toml"));
}

TEST_CASE("the bundled Binance tier tables load with a maintenance margin >= 0 everywhere",
          "[scenario]") {
    for (const char* symbol : {"BTCUSDT", "ETHUSDT", "SOLUSDT"}) {
        INFO(symbol);
        const std::string reference = std::string("binance-usdm/") + symbol;
        const Scenario s = parse_scenario(
            edited(base, {{"maintenance_margin_rate = 0.004", "tiers = \"" + reference + "\""}}),
            std::string(MARGINSIM_SOURCE_DIR) + "/configs/case.toml");
        const std::vector<Tier>& tiers = s.assets[0].tiers;
        REQUIRE(tiers.size() > 1);
        double lower = 0.0;
        for (const Tier& tier : tiers) {
            CHECK(tier.rate * lower - tier.amount >= 0.0);
            if (std::isfinite(tier.notional_cap)) {
                CHECK(tier.rate * tier.notional_cap - tier.amount >= 0.0);
                lower = tier.notional_cap;
            }
        }
    }
}

TEST_CASE("fee_rate with the full liquidation policy is refused like dof without student_t",
          "[scenario]") {
    CHECK(error_of(base + "[liquidation]\npolicy = \"full\"\nfee_rate = 0.01\n") ==
          "case.toml:27:12: liquidation.fee_rate: fee_rate is only used by policy = \"fee\", but "
          "the policy is \"full\" (expected no fee_rate with policy = \"full\", or policy = \"fee\")");
    // The default policy is full, too.
    CHECK_THAT(error_of(base + "[liquidation]\nfee_rate = 0.01\n"),
               Catch::Contains("liquidation.fee_rate: fee_rate is only used by policy = \"fee\""));
    CHECK(parse_scenario(base + "[liquidation]\npolicy = \"fee\"\nfee_rate = 0.01\n", "case.toml")
              .fee_rate == 0.01);
}

TEST_CASE("a dof so close to 2 that most paths barely move is warned about", "[scenario]") {
    const auto student_t = [](const std::string& dof) {
        return parse_scenario(
            edited(base, {{"horizon_days = 7", "horizon_days = 7\nmodel = \"student_t\"\ndof = " + dof}}),
            "case.toml");
    };
    // The median of the unit-variance step factor sqrt((dof - 2) / chi2(dof)): for dof = 2 + 1e-7
    // it is sqrt(1e-7 / 1.39) = 0.027%, as the warning says.
    const Scenario near_two = student_t("2.0000001");
    REQUIRE(near_two.warnings.size() == 1);
    CHECK_THAT(near_two.warnings[0],
               Catch::StartsWith("case.toml:4:7: simulation.dof = 2.0000001 is close to 2: the "
                                 "median step is only 0.027% of a gaussian step"));
    CHECK(student_t("2.5").warnings.size() == 1);
    CHECK(student_t("3").warnings.empty());
    CHECK(student_t("4.5").warnings.empty());
}

TEST_CASE("symbols holding invisible characters are refused", "[scenario]") {
    const auto with_symbol = [](const std::string& symbol) {
        return error_of(edited(base, {{"symbol = \"ETH\"\nprice", "symbol = \"" + symbol + "\"\nprice"}}));
    };
    // "BTC" and "BTC<zero-width space>" print the same: two assets that look like one.
    CHECK(with_symbol("ETH\\u200b") ==
          "case.toml:11:10: assets[1].symbol: symbol \"ETH\u200b\" holds U+200B, a white-space, "
          "format or control character that prints as nothing or as a blank (expected a symbol of "
          "visible characters only, such as \"BTC\": no space, no zero-width or other invisible "
          "character)");
    for (const char* hidden : {"ET H", "ETH\\u00a0X", "\\ufeffETH", "E\\u2060TH", "ETH\\u202e",
                               "ETH\\U000e0041", "ETH\\u00ad", "E\\u3000TH"}) {
        INFO(hidden);
        CHECK_THAT(with_symbol(hidden), Catch::Contains("assets[1].symbol: symbol \"") &&
                                            Catch::Contains("a white-space, format or control"));
    }
    // Visible non-ASCII symbols stay valid.
    CHECK_NOTHROW(parse_scenario(
        edited(base, {{"symbol = \"ETH\"\nprice", "symbol = \"ÉTH\"\nprice"},
                      {"symbol = \"ETH\"\nside", "symbol = \"ÉTH\"\nside"}}),
        "case.toml"));
}

TEST_CASE("jumps whose compensating drift would send the paths to 0 are refused", "[scenario]") {
    const auto with_jumps = [](double intensity, double mean, double vol) {
        return edited(base, {{"horizon_days = 7", "horizon_days = 7\nmodel = \"jump\""},
                             {"", "[jumps]\nintensity = " + std::to_string(intensity) +
                                      "\nmean = " + std::to_string(mean) + "\nvol = " +
                                      std::to_string(vol) + "\n"}});
    };
    // Within the documented per-key ranges, kappa = e^(5 + 2) - 1 = 1096: a drift of -21 over
    // 7 days on every path that meets no jump (98% of them).
    CHECK_THAT(error_of(with_jumps(1, 5, 2)),
               Catch::Contains("jumps.intensity: the jumps of BTC are too large or too frequent") &&
                   Catch::Contains("lowers the log price by 21.01 over 7 days"));
    // Frequent large crashes, too: 1000 a year of mean -5.
    CHECK_THAT(error_of(with_jumps(1000, -5, 0)), Catch::Contains("jumps.intensity"));

    // Upward jumps of mean 1 and vol 0.5 (kappa = e^1.125 - 1 = 2.08) at 33 a year over 7 days:
    // V = 33 x 7/365 x (e^2.5 - 2 e^1.125 + 1) = 4.44 <= ln(101). Accepted, and the simulated
    // mean matches Merton's E[S_T] = S_0 e^(mu T) (mu = 0 here), and the median path (one
    // without a jump: P(N = 0) = e^-0.63 = 0.53) falls by no more than the bound the check
    // argues, lambda kappa T <= V / kappa: the compensator no longer drives the paths to 0.
    const Scenario s = parse_scenario(with_jumps(33, 1, 0.5), "case.toml");
    const MarketModel model(s);
    PathBlock paths(s.asset_count(), block_size);
    std::vector<double> growth;  // S_T / S_0 of BTC
    for (std::uint64_t b = 0; b < 100; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, block_size, rng);
        for (int k = 0; k < s.simulation.steps; ++k) model.step(paths, rng);
        for (std::size_t p = 0; p < block_size; ++p)
            growth.push_back(std::exp(paths.log_price(0)[p] - model.start_log_price()[0]));
    }
    double sum = 0.0, sum_sq = 0.0;
    for (const double g : growth) {
        sum += g;
        sum_sq += g * g;
    }
    const auto n = static_cast<double>(growth.size());
    const double mean = sum / n;
    const double error = std::sqrt((sum_sq / n - mean * mean) / n);
    INFO("E[S_T/S_0] " << mean << " +- " << error);
    CHECK(std::abs(mean - 1.0) < 4.0 * error);
    CHECK(error < 0.05);
    std::nth_element(growth.begin(), growth.begin() + growth.size() / 2, growth.end());
    const double kappa = std::expm1(1.0 + 0.5 * 0.25);
    const double v = 33.0 * 7.0 / 365.0 * (std::exp(2.5) - 2.0 * std::exp(1.125) + 1.0);
    CHECK(v <= std::log(101.0));
    CHECK(growth[growth.size() / 2] > std::exp(-v / kappa));
}
