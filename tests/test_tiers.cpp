// Tier tables (docs/model.md): derived amounts, the maintenance margin and tier lookup, the
// continuity warning and the refusal of tiers whose maintenance margin goes negative.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_text.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

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
