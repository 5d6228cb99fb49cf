// The Monte Carlo rule and the deterministic liquidation price are one rule: a zero-volatility
// path drifting through the price is liquidated at the first step past it, and the run report
// carries the prices of the panel.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "marginsim/liquidation.hpp"
#include "engine/engine.hpp"
#include "engine/margin_book.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

namespace {

const std::filesystem::path source_dir = MARGINSIM_SOURCE_DIR;

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
