// Books that start liquidated in some mode (docs/model.md#books-that-start-liquidated): the pool
// is liquidated at time 0 on every path, its loss realised, and every other pool and mode is
// simulated as usual. Checked against the same book without the dead position (a shift of
// every isolated loss by the dead pool's equity), against the same book with the dead pool
// funded (the other modes unchanged, path for path), and by hand where every mode starts dead.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"

using namespace marginsim;

namespace {

constexpr double rate = 0.005;  // flat maintenance rate of both assets

// Balance 10,000; X at 100 and Y at 50. Position 0 is X long 40 from `entry` with `margin`,
// configured `mode`; position 1 is Y long 100 at 50 with margin 1,000, isolated; position 2 Y
// short 40 at 50 with margin 800, cross. `with_first` false leaves position 0 out.
std::string book(double entry, double margin, const std::string& mode, bool with_first = true,
                 const std::string& extra = "") {
    std::ostringstream text;
    text.precision(17);
    text << "[simulation]\npaths = 20000\nhorizon_days = 5\nsteps_per_day = 4\nseed = 11\nthreads = 2\n" << extra
         << "[account]\nbalance = 10000\n"
         << "[[assets]]\nsymbol = \"X\"\nprice = 100\nvolatility = 0.8\nmaintenance_margin_rate = " << rate << "\n"
         << "[[assets]]\nsymbol = \"Y\"\nprice = 50\nvolatility = 0.9\nmaintenance_margin_rate = " << rate << "\n"
         << "[correlation]\nmatrix = [[1, 0.6], [0.6, 1]]\n";
    if (with_first) {
        text << "[[positions]]\nsymbol = \"X\"\nside = \"long\"\nquantity = 40\nentry_price = " << entry
             << "\nmargin = " << margin << "\nmode = \"" << mode << "\"\n";
    }
    text << "[[positions]]\nsymbol = \"Y\"\nside = \"long\"\nquantity = 100\nmargin = 1000\nmode = \"isolated\"\n"
         << "[[positions]]\nsymbol = \"Y\"\nside = \"short\"\nquantity = 40\nmargin = 800\nmode = \"cross\"\n";
    return text.str();
}

const ModeReport& mode_of(const Report& report, MarginMode mode) { return report.modes[mode_index(mode)]; }

void same_mode(const ModeReport& a, const ModeReport& b) {
    INFO(to_string(a.mode));
    CHECK(a.summary.liquidation_probability.estimate == b.summary.liquidation_probability.estimate);
    CHECK(a.summary.loss.mean == b.summary.loss.mean);
    CHECK(a.summary.loss.var == b.summary.loss.var);
    CHECK(a.summary.loss.es == b.summary.loss.es);
    CHECK(a.summary.drawdown.p99 == b.summary.drawdown.p99);
}

}  // namespace

TEST_CASE("an isolated position that starts liquidated: P = 1 at time 0, the rest as without it",
          "[start_liquidation]") {
    // X long 40 from 117 with margin 700: upnl -680, equity 20, maintenance 40 x 100 x 0.5% = 20:
    // at its maintenance margin, so liquidated at the start; the full policy loses the 20.
    const double entry = 117.0;
    const double equity = 700.0 - 40.0 * (entry - 100.0);
    const Scenario dead = parse_scenario(book(entry, 700, "isolated"), "dead.toml");
    const Scenario without = parse_scenario(book(entry, 700, "isolated", false), "without.toml");
    REQUIRE(dead.warnings.size() == 1);
    CHECK_THAT(dead.warnings[0], Catch::Contains("AS CONFIGURED, THIS POSITION STARTS LIQUIDATED") &&
                                     Catch::Contains("reported as liquidated at time 0 in isolated mode"));

    const Report with_dead = simulate(dead);
    const Report reference = simulate(without);
    for (MarginMode mode : {MarginMode::isolated, MarginMode::as_configured}) {
        INFO(to_string(mode));
        const ModeReport& m = mode_of(with_dead, mode);
        const ModeReport& r = mode_of(reference, mode);
        CHECK(m.starts_liquidated());
        CHECK(m.summary.liquidation_probability.estimate == 1.0);
        CHECK(m.summary.liquidation_probability.ci95.lo == 1.0);
        REQUIRE(m.summary.time_to_liquidation_days.has_value());
        CHECK(m.summary.time_to_liquidation_days->p95 == 0.0);
        CHECK(m.positions[0].liquidated_at_start);
        CHECK(m.positions[0].liquidation_probability == 1.0);
        CHECK_FALSE(m.positions[1].liquidated_at_start);
        // The other positions are the reference's, and every loss is shifted by the dead equity.
        CHECK(m.positions[1].liquidation_probability == r.positions[0].liquidation_probability);
        CHECK(m.summary.loss.mean == Approx(r.summary.loss.mean + equity).margin(1e-9));
        if (mode == MarginMode::isolated)  // as configured, the cross wallet also shrinks by the margin
            CHECK(m.collateral_at_risk == Approx(r.collateral_at_risk + equity).margin(1e-9));
        CHECK(m.summary.loss.std == Approx(r.summary.loss.std).margin(1e-9));
        for (std::size_t i = 0; i < m.summary.loss.var.size(); ++i) {
            CHECK(m.summary.loss.var[i] == Approx(r.summary.loss.var[i] + equity).margin(1e-9));
            CHECK(m.summary.loss.es[i] == Approx(r.summary.loss.es[i] + equity).margin(1e-9));
        }
    }
    // In cross the position stands on the whole balance: not liquidated at the start.
    const ModeReport& cross = mode_of(with_dead, MarginMode::cross);
    CHECK_FALSE(cross.starts_liquidated());
    CHECK(cross.summary.liquidation_probability.estimate < 1.0);

    // One cent more margin and the position can start: P(isolated) < 1, a liquidation price.
    const Report alive = simulate(parse_scenario(book(entry, 700.01, "isolated"), "alive.toml"));
    CHECK_FALSE(mode_of(alive, MarginMode::isolated).starts_liquidated());
    CHECK(mode_of(alive, MarginMode::isolated).positions[0].liquidation_price.has_value());
}

TEST_CASE("a cross position that cannot stand alone: isolated mode dead, cross and as configured unchanged",
          "[start_liquidation]") {
    // Configured cross, its margin only counts in the hypothetical isolated mode: starving it
    // kills that mode's pool and changes nothing in the others, path for path.
    const Report starved = simulate(parse_scenario(book(130, 500, "cross"), "starved.toml"));
    const Report funded = simulate(parse_scenario(book(130, 2000, "cross"), "funded.toml"));
    CHECK(mode_of(starved, MarginMode::isolated).positions[0].liquidated_at_start);
    CHECK_FALSE(mode_of(funded, MarginMode::isolated).positions[0].liquidated_at_start);
    same_mode(mode_of(starved, MarginMode::cross), mode_of(funded, MarginMode::cross));
    same_mode(mode_of(starved, MarginMode::as_configured), mode_of(funded, MarginMode::as_configured));
    CHECK(mode_of(starved, MarginMode::isolated).summary.liquidation_probability.estimate == 1.0);

    const LiquidationPanel panel = liquidation_panel(parse_scenario(book(130, 500, "cross"), "starved.toml"));
    CHECK(panel.modes[mode_index(MarginMode::isolated)].rows[0].liquidated_at_start);
    CHECK_FALSE(panel.modes[mode_index(MarginMode::cross)].rows[0].liquidated_at_start);
    CHECK(panel.modes[mode_index(MarginMode::cross)].rows[0].reason.find("at the start") == std::string::npos);
}

TEST_CASE("every mode starts liquidated: the realised loss on every path, by hand", "[start_liquidation]") {
    // One X long 40 from 140, margin 1,000, balance 1,000: upnl -1,600. Every pool is dead at
    // the start: isolated and cross equity max(0, 1,000 - 1,600) = 0 under full policy.
    const std::string one =
        "[simulation]\npaths = 4096\nhorizon_days = 3\nsteps_per_day = 4\nseed = 5\n[account]\nbalance = 1000\n"
        "[[assets]]\nsymbol = \"X\"\nprice = 100\nvolatility = 0.8\nmaintenance_margin_rate = 0.005\n"
        "[[positions]]\nsymbol = \"X\"\nside = \"long\"\nquantity = 40\nentry_price = ENTRY\nmargin = 1000\n"
        "mode = \"isolated\"\n";
    const auto with_entry = [&](double entry, const std::string& policy) {
        std::string text = one;
        text.replace(text.find("ENTRY"), 5, fmt::format("{}", entry));
        return parse_scenario(text + policy, "one.toml");
    };
    SECTION("bankrupt at the start: a loss of 0 (the deficit is the exchange's)") {
        const Report report = simulate(with_entry(140, ""));
        for (const ModeReport& mode : report.modes) {
            CHECK(mode.summary.liquidation_probability.estimate == 1.0);
            CHECK(mode.summary.loss.max == 0.0);
            CHECK(mode.summary.loss.mean == 0.0);
        }
    }
    SECTION("at the maintenance margin under the fee policy: the fee is the loss, on every path") {
        // From 124.5: equity 1,000 - 40 x 24.5 = 20 <= maintenance 20. Fee 0.1% of notional 4,000 = 4:
        // the loss is 20 - (20 - 4) = 4 on every path, with std 0.
        const Report report = simulate(with_entry(124.5, "[liquidation]\npolicy = \"fee\"\nfee_rate = 0.001\n"));
        for (const ModeReport& mode : report.modes) {
            INFO(to_string(mode.mode));
            CHECK(mode.summary.liquidation_probability.estimate == 1.0);
            CHECK(mode.summary.loss.mean == Approx(4.0).margin(1e-9));
            CHECK(mode.summary.loss.std == Approx(0.0).margin(1e-9));
            CHECK(mode.summary.loss.max == Approx(4.0).margin(1e-9));
            CHECK(mode.summary.loss.var[2] == Approx(4.0).margin(1e-9));
            CHECK(mode.summary.time_to_liquidation_days->median == 0.0);
        }
    }
}

TEST_CASE("importance sampling and discrete monitoring keep P = 1 exactly for a mode dead at the start",
          "[start_liquidation]") {
    for (const std::string extra : {"importance_sampling = \"selloff\"\n", "monitoring = \"discrete\"\n"}) {
        INFO(extra);
        const Report report = simulate(parse_scenario(book(117, 700, "isolated", true, extra), "dead.toml"));
        const ModeReport& isolated = mode_of(report, MarginMode::isolated);
        CHECK(isolated.summary.liquidation_probability.estimate == 1.0);
        CHECK(isolated.positions[0].liquidation_probability == 1.0);
        CHECK(mode_of(report, MarginMode::cross).summary.liquidation_probability.estimate < 1.0);
    }
}

TEST_CASE("the command line answers a book that starts liquidated, flagged in every output",
          "[start_liquidation][cli]") {
    using testing::TempDir;
    const TempDir dir("start_liquidation");
    const std::string scenario =
        testing::read_all(std::filesystem::path(MARGINSIM_SOURCE_DIR) / "tests/scenarios/start_liquidated/isolated_start_liquidated.toml");
    dir.write("book.toml", scenario);
    const auto at = [&](const std::string& name) { return testing::shell_quoted(dir / name); };
    const testing::CliResult run = dir.run("run " + at("book.toml") + " --paths 4096 --json " + at("r.json") +
                                           " --csv " + at("r.csv") + " --html " + at("r.html"));
    INFO(run.err);
    REQUIRE(run.code == 0);
    CHECK_THAT(run.err, Catch::Contains("positions[0]: AS CONFIGURED, THIS POSITION STARTS LIQUIDATED"));
    CHECK_THAT(run.out, Catch::Contains("STARTS LIQUIDATED in isolated (BTC), as_configured (BTC)"));
    CHECK_THAT(run.out, Catch::Contains("LIQUIDATED AT TIME 0"));
    const nlohmann::json json = nlohmann::json::parse(testing::read_all(dir / "r.json"));
    CHECK(json["modes"]["isolated"]["liquidated_at_start"] == nlohmann::json::array({0}));
    CHECK(json["modes"]["as_configured"]["liquidated_at_start"] == nlohmann::json::array({0}));
    CHECK_FALSE(json["modes"]["cross"].contains("liquidated_at_start"));
    CHECK(json["modes"]["isolated"]["positions"][0]["liquidated_at_start"] == true);
    CHECK(json["modes"]["isolated"]["liquidation_probability"]["estimate"] == 1.0);
    CHECK_FALSE(json["modes"]["isolated"]["positions"][1].contains("liquidated_at_start"));
    const std::string csv = testing::read_all(dir / "r.csv");
    CHECK_THAT(csv, Catch::Contains("liquidation_probability,isolated,liquidated_at_start,true"));
    CHECK_THAT(csv, Catch::Contains("position,isolated,0 BTC long isolated liquidated_at_start,true"));
    CHECK_THAT(testing::read_all(dir / "r.html"), Catch::Contains("<strong>Starts liquidated:</strong>"));

    const testing::CliResult liq = dir.run("liq " + at("book.toml") + " --json " + at("liq.json"));
    REQUIRE(liq.code == 0);
    CHECK_THAT(liq.out, Catch::Contains("AT START"));
    const nlohmann::json panel = nlohmann::json::parse(testing::read_all(dir / "liq.json"));
    CHECK(panel["modes"]["isolated"][0]["liquidated_at_start"] == true);
    CHECK(panel["modes"]["isolated"][0]["liquidation_price"].is_null());
    CHECK(panel["modes"]["cross"][0]["liquidation_price"].is_number());

    // The as-configured cross wallet starved by an isolated margin: that pool dies, loudly.
    dir.write("starved.toml", testing::read_all(std::filesystem::path(MARGINSIM_SOURCE_DIR) /
                                                "tests/scenarios/start_liquidated/isolated_margins_starve_cross_wallet.toml"));
    const testing::CliResult starved = dir.run("run " + at("starved.toml") + " --paths 2048 --json " + at("s.json"));
    REQUIRE(starved.code == 0);
    CHECK_THAT(starved.err, Catch::Contains("THE BOOK AS CONFIGURED STARTS LIQUIDATED"));
    const nlohmann::json s = nlohmann::json::parse(testing::read_all(dir / "s.json"));
    CHECK(s["modes"]["as_configured"]["liquidated_at_start"] == nlohmann::json::array({1}));
    CHECK(s["modes"]["isolated"]["liquidated_at_start"] == nlohmann::json::array({1}));  // on its own 500
    CHECK_FALSE(s["modes"]["cross"].contains("liquidated_at_start"));  // the whole balance carries it
}

TEST_CASE("a sweep whose larger leverages start a position liquidated says so at those values",
          "[start_liquidation][sweep]") {
    // X long 40 from 117 with margin 700 (equity 20 = maintenance 20). Scaling the leverage by
    // 0.5 doubles the margin to 1,400 (equity 720): alive; at 1 and 2 it starts liquidated.
    Scenario base = parse_scenario(book(117, 700, "isolated"), "dead.toml");
    base.simulation.paths = 2048;
    SweepSpec spec;
    spec.parameter = SweepParameter::leverage_scale;
    spec.values = {0.5, 1.0, 2.0};
    const SweepResult sweep = run_sweep(base, spec);
    CHECK_FALSE(sweep.points[0].report.modes[mode_index(MarginMode::isolated)].starts_liquidated());
    CHECK(sweep.points[1].report.modes[mode_index(MarginMode::isolated)].starts_liquidated());
    CHECK(sweep.points[2].report.modes[mode_index(MarginMode::isolated)].summary.liquidation_probability.estimate == 1.0);
    const nlohmann::json json = nlohmann::json::parse(to_json(sweep));
    CHECK_FALSE(json["points"][0]["modes"]["isolated"].contains("liquidated_at_start"));
    CHECK(json["points"][1]["modes"]["isolated"]["liquidated_at_start"] == nlohmann::json::array({0}));
    std::ostringstream text;
    write_text(text, sweep);
    CHECK_THAT(text.str(), Catch::Contains("STARTS LIQUIDATED (P = 1 at time 0") &&
                               Catch::Contains("isolated at 1, 2; as_configured at 1, 2"));
}
