// Scenario parsing (docs/scenario-format.md): the values a scenario states, the defaults, the
// simulation model's keys and the error a user sees for a missing file.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_text.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

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

TEST_CASE("defaults apply and integers are accepted where numbers are expected", "[scenario]") {
    const Scenario s = parse_scenario(base, "base.toml");
    CHECK(s.source == "base.toml");
    CHECK(s.warnings.empty());
    CHECK(s.simulation.paths == 100000);
    CHECK(s.simulation.horizon_days == 7.0);  // written as the integer 7
    CHECK(s.simulation.steps_per_day == 4);
    CHECK(s.simulation.monitoring == Monitoring::continuous);
    CHECK(s.simulation.seed == 1);
    CHECK(s.simulation.model == PriceModel::gaussian);
    CHECK(s.simulation.threads == 0);
    CHECK(s.simulation.steps == 7 * 4);
    CHECK(s.simulation.dt_years == Approx(1.0 / (365.0 * 4.0)));
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
    // 0.18 days * 4 (the default steps a day) = 0.72 steps: rounds to one step.
    const Scenario s = parse_scenario(edited(base, {{"horizon_days = 7", "horizon_days = 0.18"}}), "case.toml");
    CHECK(s.simulation.steps == 1);
    const Scenario t = parse_scenario(
        edited(base, {{"horizon_days = 7", "horizon_days = 1.49\nsteps_per_day = 10"}}), "case.toml");
    CHECK(t.simulation.steps == 15);  // 14.9
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
