// Sweeps over the monitoring grid: steps per day (whole numbers) and monitoring (words), each
// point the run of its value, and the step invariance of continuous monitoring against the
// exact first passage.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "first_passage.hpp"
#include "marginsim/error.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;
namespace fs = std::filesystem;

namespace {

double p_liquidation(const Report& report, MarginMode mode) {
    return report.modes[mode_index(mode)].summary.liquidation_probability.estimate;
}

// Two 10x longs on a 10,000 balance, cross, over a week at 24 steps a day.
Scenario two_longs() {
    return ScenarioBuilder(10000, 7.0, 24, 1000)
        .asset("AAA", 100.0, 0.8)
        .asset("BBB", 20.0, 0.8)
        .uniform_correlation(0.3)
        .position("AAA", Side::long_side, 2000, 10)
        .position("BBB", Side::long_side, 2000, 10)
        .build();
}

}  // namespace

TEST_CASE("a steps-per-day or monitoring sweep makes the scenario that file would load") {
    const Scenario base = two_longs();
    SweepSpec spec;
    spec.parameter = SweepParameter::steps_per_day;
    const Scenario fine = scenario_at(base, spec, 96);
    CHECK(fine.simulation.steps_per_day == 96);
    CHECK(fine.simulation.steps == 7 * 96);
    CHECK(fine.simulation.dt_years == 1.0 / (365.0 * 96));
    CHECK(fine.simulation.dt_days() * fine.simulation.steps == Approx(base.simulation.horizon_days));
    spec.parameter = SweepParameter::monitoring;
    CHECK(scenario_at(base, spec, 1.0).simulation.monitoring == Monitoring::discrete);
    CHECK(scenario_at(base, spec, 0.0).simulation.monitoring == Monitoring::continuous);
    CHECK(parse_monitoring_values(" discrete, continuous,discrete", "--monitoring") == std::vector<double>{0.0, 1.0});
    CHECK_THROWS_WITH(parse_monitoring_values("daily", "--monitoring"),
                      "--monitoring: 'daily' is not a monitoring (expected a list of continuous and discrete, such "
                      "as continuous,discrete)");
    spec.parameter = SweepParameter::steps_per_day;
    spec.option = "--steps-per-day";
    for (const auto& [bad, shown] : {std::pair{0.0, "0"}, std::pair{2.5, "2.5"}}) {
        spec.values = {4.0, bad};
        CHECK_THROWS_WITH(check_sweep(base, spec), Catch::StartsWith(std::string("--steps-per-day: value ") + shown +
                                                                     ": not a whole number of steps per day"));
    }
}

TEST_CASE("each point of a steps-per-day or monitoring sweep is the run of its value, named as a word") {
    using marginsim::testing::CliResult;
    using marginsim::testing::read_all;
    using marginsim::testing::shell_quoted;
    const marginsim::testing::TempDir dir("marginsim_test_sweep_cli");
    const std::string file = shell_quoted(dir.write("pair.toml", marginsim::testing::small_scenario(0.8, 3000)));
    const auto run_json = [&](const std::string& arguments) {
        const fs::path out = dir / "out.json";
        const CliResult result = dir.run(arguments + " -q --json " + shell_quoted(out));
        INFO(arguments << "\n" << result.err);
        REQUIRE(result.code == 0);
        return nlohmann::json::parse(read_all(out));
    };
    const auto same_numbers = [](const nlohmann::json& point, const nlohmann::json& report) {
        for (const char* mode : {"isolated", "cross", "as_configured"}) {
            INFO(mode);
            CHECK(point["modes"][mode]["liquidation_probability"] == report["modes"][mode]["liquidation_probability"]);
            CHECK(point["modes"][mode]["es"] == report["modes"][mode]["loss"]["es"]);
            CHECK(point["modes"][mode]["loss_mean"] == report["modes"][mode]["loss"]["mean"]);
        }
    };
    const nlohmann::json steps = run_json("sweep " + file + " --steps-per-day 2,6,48");
    CHECK(steps["parameter"] == "steps_per_day");
    REQUIRE(steps["points"].size() == 3);
    CHECK_FALSE(steps["simulation"].contains("steps_per_day"));
    for (const int value : {2, 6, 48}) {
        const nlohmann::json& point = *std::find_if(steps["points"].begin(), steps["points"].end(),
                                                    [value](const nlohmann::json& p) { return p["value"] == value; });
        same_numbers(point, run_json("run " + file + " --set simulation.steps_per_day=" + std::to_string(value)));
    }
    const nlohmann::json monitoring = run_json("sweep " + file + " --monitoring discrete,continuous");
    CHECK(monitoring["parameter"] == "monitoring");
    REQUIRE(monitoring["points"].size() == 2);
    CHECK(monitoring["points"][0]["value"] == "continuous");
    CHECK(monitoring["points"][1]["value"] == "discrete");
    same_numbers(monitoring["points"][1], run_json("run " + file + " --set simulation.monitoring=discrete"));
    // On the same paths, discrete monitoring sees a subset of the continuous liquidations.
    for (const char* mode : {"isolated", "cross", "as_configured"}) {
        CHECK(monitoring["points"][1]["modes"][mode]["liquidation_probability"]["estimate"].get<double>() <=
              monitoring["points"][0]["modes"][mode]["liquidation_probability"]["estimate"].get<double>());
    }
    // Words in the table and the CSV too.
    const CliResult text = dir.run("sweep " + file + " --monitoring continuous,discrete --csv " +
                                   shell_quoted(dir / "m.csv"));
    CHECK_THAT(text.out, Catch::Contains("\ncontinuous |") && Catch::Contains("\n  discrete |"));
    CHECK_THAT(text.out, Catch::Contains("\n24 steps/day\n"));
    CHECK_THAT(read_all(dir / "m.csv"), Catch::Contains("\nmonitoring,discrete,isolated,"));
}

TEST_CASE("under continuous monitoring P(liquidation) does not depend on the steps per day") {
    // An isolated long on one asset: its liquidation is a first passage of a Brownian motion,
    // found exactly between steps, so every grid estimates the same closed form.
    const double vol = 0.8;
    const double horizon_days = 3.0;
    const Scenario base = ScenarioBuilder(10000, horizon_days, 1, 20000)
                              .asset("AAA", 100.0, vol)
                              .position("AAA", Side::long_side, 1000, 10)
                              .build();
    const Report one = simulate(base, {});
    const double t = horizon_days / 365.0;
    const double liquidation_price = base.positions[0].entry_price * (1.0 - 1.0 / 10.0) / (1.0 - base.assets[0].tiers[0].rate);
    const double exact = marginsim::testing::first_passage_below(std::log(liquidation_price / 100.0), -0.5 * vol * vol, vol, t);
    SweepSpec spec;
    spec.parameter = SweepParameter::steps_per_day;
    spec.values = {1, 8, 96};
    const SweepResult sweep = run_sweep(base, spec);
    const double sd = std::sqrt(exact * (1 - exact) / 20000.0);
    for (const SweepPoint& point : sweep.points) {
        INFO(point.value);
        CHECK(std::abs(p_liquidation(point.report, MarginMode::isolated) - exact) < 4.0 * sd);
    }
    CHECK(p_liquidation(sweep.points.front().report, MarginMode::isolated) == p_liquidation(one, MarginMode::isolated));
}
