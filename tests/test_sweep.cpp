// Sweeps on common random numbers: value parsing, the scenario at each value, the random
// numbers shared by every point, closed forms at perfect correlation, monotone curves, the
// variance of neighbouring differences, the crossover bisection, and the detailed run the
// sweep and the charts stand on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "engine/market_model.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;
namespace fs = std::filesystem;

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// P(min over [0, t] of a Brownian motion with drift nu and volatility sigma <= b), b < 0.
double first_passage_below(double b, double nu, double sigma, double t) {
    const double s = sigma * std::sqrt(t);
    return normal_cdf((b - nu * t) / s) +
           std::exp(2.0 * nu * b / (sigma * sigma)) * normal_cdf((b + nu * t) / s);
}

// Broadie-Glasserman: monitoring every dt acts like a barrier moved away by 0.5826 vol sqrt(dt).
double discrete_first_passage_below(double b, double vol, double t_years, int steps_per_day) {
    const double dt = 1.0 / (365.0 * steps_per_day);
    return first_passage_below(b - 0.5826 * vol * std::sqrt(dt), -0.5 * vol * vol, vol, t_years);
}

const ModeSummary& summary_of(const Report& report, MarginMode mode) {
    return report.modes[mode_index(mode)].summary;
}

double p_liquidation(const Report& report, MarginMode mode) {
    return summary_of(report, mode).liquidation_probability.estimate;
}

double es_99(const Report& report, MarginMode mode) { return summary_of(report, mode).loss.es[1]; }

// Three 10x longs of 2,000 on a 10,000 balance, all cross: the article's stacked book, with
// equal volatilities.
Scenario stacked_longs(std::uint64_t paths, double rho = 0.5) {
    return ScenarioBuilder(10000, 7.0, 24, paths)
        .asset("AAA", 100.0, 0.8)
        .asset("BBB", 20.0, 0.8)
        .asset("CCC", 5.0, 0.8)
        .uniform_correlation(rho)
        .position("AAA", Side::long_side, 2000, 10)
        .position("BBB", Side::long_side, 2000, 10)
        .position("CCC", Side::long_side, 2000, 10)
        .build();
}

SweepSpec correlation_spec(std::vector<double> values) {
    SweepSpec spec;
    spec.parameter = SweepParameter::correlation;
    spec.values = std::move(values);
    return spec;
}


}  // namespace

// ---------------------------------------------------------------- values

TEST_CASE("a range includes its stop and gives values a user can type") {
    const std::vector<double> values = parse_sweep_values("0:0.95:0.05", "--correlation");
    REQUIRE(values.size() == 20);
    CHECK(values.front() == 0.0);
    CHECK(values[3] == 0.15);  // not 0.15000000000000002
    CHECK(values[7] == 0.35);
    CHECK(values.back() == 0.95);
    CHECK(parse_sweep_values("1:2:0.5", "--leverage") == std::vector<double>{1.0, 1.5, 2.0});
    CHECK(parse_sweep_values("0:1:0.3", "--x") == std::vector<double>{0.0, 0.3, 0.6, 0.9});
    CHECK(parse_sweep_values(" 3 ", "--x") == std::vector<double>{3.0});
}

TEST_CASE("a list is sorted and repeated values are dropped") {
    CHECK(parse_sweep_values("0.9, 0.1,0.5", "--correlation") == std::vector<double>{0.1, 0.5, 0.9});
    CHECK(parse_sweep_values("-0.2,0.4,0.4", "--correlation") == std::vector<double>{-0.2, 0.4});
}

TEST_CASE("malformed sweep values are input errors naming the option") {
    for (const char* bad : {"", "0:1", "0:1:0.1:2", "1:0:0.1", "0:1:0", "0:1:-0.1", "a,b", "0.1,,0.2",
                            "0.1;0.2", "nan", "inf,1", "0:1e9:1"}) {
        INFO("'" << bad << "'");
        try {
            parse_sweep_values(bad, "--correlation");
            FAIL("accepted");
        } catch (const InputError& error) {
            CHECK(error.file() == "--correlation");
            CHECK_THAT(std::string(error.what()), Catch::Contains("expected"));
        }
    }
}

// ---------------------------------------------------------------- the scenario at a value

TEST_CASE("each parameter changes only what it names") {
    const Scenario base = stacked_longs(1000, 0.3);
    SECTION("uniform correlation") {
        const Scenario s = scenario_at(base, correlation_spec({0.7}), 0.7);
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j) CHECK(s.correlation_at(i, j) == (i == j ? 1.0 : 0.7));
    }
    SECTION("blend toward perfect co-movement and toward a stress matrix") {
        SweepSpec spec;
        spec.parameter = SweepParameter::correlation_blend;
        spec.values = {0.0, 0.25, 1.0};
        CHECK(scenario_at(base, spec, 0.0).correlation == base.correlation);
        CHECK(scenario_at(base, spec, 0.25).correlation_at(0, 1) == Approx(0.75 * 0.3 + 0.25));
        CHECK(scenario_at(base, spec, 1.0).correlation == std::vector<double>(9, 1.0));
        spec.blend_target = {1, 0.9, 0.8, 0.9, 1, 0.7, 0.8, 0.7, 1};
        CHECK(scenario_at(base, spec, 1.0).correlation == spec.blend_target);
        CHECK(scenario_at(base, spec, 0.5).correlation_at(1, 2) == Approx(0.5 * 0.3 + 0.5 * 0.7));
    }
    SECTION("leverage scale sizes the positions, not their margins") {
        SweepSpec spec;
        spec.parameter = SweepParameter::leverage_scale;
        const Scenario s = scenario_at(base, spec, 1.5);
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(s.positions[j].margin == base.positions[j].margin);
            CHECK(s.positions[j].leverage == Approx(15.0));
            CHECK(s.positions[j].notional_at_entry() == Approx(30000.0));
        }
    }
    SECTION("volatility scale and horizon") {
        SweepSpec spec;
        spec.parameter = SweepParameter::volatility_scale;
        CHECK(scenario_at(base, spec, 0.5).assets[2].volatility == Approx(0.4));
        spec.parameter = SweepParameter::horizon_days;
        const Scenario s = scenario_at(base, spec, 2.5);
        CHECK(s.simulation.horizon_days == 2.5);
        CHECK(s.simulation.steps == 60);
        CHECK(s.correlation == base.correlation);
    }
}

TEST_CASE("values that make no valid scenario are refused before anything runs") {
    const Scenario base = stacked_longs(1000);
    const auto refuses = [&](SweepParameter parameter, double value, const std::string& words) {
        SweepSpec spec;
        spec.parameter = parameter;
        spec.values = {0.5, value};
        INFO(to_string(parameter) << " " << value);
        try {
            check_sweep(base, spec);
            FAIL("accepted");
        } catch (const InputError& error) {
            CHECK_THAT(std::string(error.what()), Catch::Contains(words));
        }
    };
    refuses(SweepParameter::correlation, -0.6, "[-1/(n-1), 1]");  // three assets: at least -0.5
    refuses(SweepParameter::correlation, 1.01, "[-1/(n-1), 1]");
    refuses(SweepParameter::correlation_blend, 1.2, "[0, 1]");
    refuses(SweepParameter::leverage_scale, 0.0, "> 0");
    refuses(SweepParameter::volatility_scale, -1.0, ">= 0");
    refuses(SweepParameter::horizon_days, 0.01, "too short for one monitoring step");
    // 1e9 days at 24 steps per day is 2.4e10 steps, past the int step counter: too long, not short.
    refuses(SweepParameter::horizon_days, 1e9, "too long: 1000000000 days at 24 steps per day");
    refuses(SweepParameter::horizon_days, 1e9, "at most 2147483647 steps");
    // 250x: margin 0.4% < maintenance 0.5%. The scaled book starts liquidated, which a sweep
    // answers as a run does (P = 1 at time 0, docs/model.md#books-that-start-liquidated).
    SweepSpec extreme;
    extreme.parameter = SweepParameter::leverage_scale;
    extreme.values = {0.5, 25.0};
    CHECK_NOTHROW(check_sweep(base, extreme));

    SweepSpec horizon;
    horizon.parameter = SweepParameter::horizon_days;
    horizon.values = {1e9};
    horizon.option = "--horizon";  // as the command line gives it: the error names the option
    try {
        check_sweep(base, horizon);
        FAIL("accepted");
    } catch (const InputError& error) {
        CHECK(error.file() == "--horizon");
        CHECK(error.key() == "value 1000000000");
    }

    SweepSpec fine = correlation_spec({-0.5, 0.0, 1.0});
    CHECK_NOTHROW(check_sweep(base, fine));
    const Scenario single = ScenarioBuilder(1000, 1.0, 24, 100)
                                .asset("AAA", 100.0, 0.5)
                                .position("AAA", Side::long_side, 100, 5)
                                .build();
    CHECK_THROWS_WITH(check_sweep(single, fine), Catch::Contains("single asset"));
}

TEST_CASE("a stress matrix file is read in its symbols' order and checked") {
    const marginsim::testing::TempDir dir("marginsim_test_sweep");
    const Scenario base = stacked_longs(1000);
    const fs::path good = dir.write("stress.toml",
                                    "symbols = [\"CCC\", \"AAA\", \"BBB\"]\n"
                                    "matrix = [[1.0, 0.9, 0.8],\n"
                                    "          [0.9, 1.0, 0.7],\n"
                                    "          [0.8, 0.7, 1.0]]\n");
    const std::vector<double> m = load_stress_matrix(good, base);
    // Rows of the file: CCC, AAA, BBB; the scenario's order: AAA, BBB, CCC.
    CHECK(m[0 * 3 + 1] == 0.7);  // AAA-BBB
    CHECK(m[0 * 3 + 2] == 0.9);  // AAA-CCC
    CHECK(m[1 * 3 + 2] == 0.8);  // BBB-CCC
    CHECK(m[2 * 3 + 0] == 0.9);
    CHECK(m[4] == 1.0);

    const auto fails_at = [&](const std::string& text, std::size_t line, const std::string& words) {
        INFO(text);
        try {
            load_stress_matrix(dir.write("bad.toml", text), base);
            FAIL("accepted");
        } catch (const InputError& error) {
            CHECK(error.line() == line);
            CHECK_THAT(std::string(error.what()), Catch::Contains(words));
        }
    };
    fails_at("matrix = [[1, 0.9, -0.9],\n[0.9, 1, 0.9],\n[-0.9, 0.9, 1]]\n", 1, "positive semi-definite");
    fails_at("matrix = [[1, 0.5], [0.5, 1]]\n", 1, "found 2 rows for 3 assets");
    fails_at("matrix = [[1, 0.5, 0],\n[0.4, 1, 0],\n[0, 0, 1]]\n", 2, "not symmetric");
    fails_at("matrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\nsymbol = [\"AAA\"]\n", 2, "unknown key");
    fails_at("symbols = [\"AAA\", \"AAA\", \"CCC\"]\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n", 1,
             "listed twice");
    fails_at("matrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]\n", 1, "TOML syntax error");
}

// ---------------------------------------------------------------- common random numbers

namespace {

// The standard normals z behind the first `steps` steps of one block, recovered from the
// log-price increments as L^-1 (dx - drift) / (vol sqrt(dt)). For student_t this is
// sqrt((dof - 2) / w) z, the same whatever the correlation matrix.
std::vector<double> recovered_normals(const Scenario& s, int steps) {
    const MarketModel model(s);
    const std::size_t n = s.asset_count();
    const std::size_t size = 300;
    PathBlock paths(n, size);
    RandomStream rng(s.simulation.seed, 3);
    paths.reset(model.start_log_price(), size);
    const auto& factor = model.correlation_factor();
    const double dt = s.simulation.dt_years;
    std::vector<double> out;
    for (int k = 0; k < steps; ++k) {
        std::vector<double> before(n * size);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t p = 0; p < size; ++p) before[i * size + p] = paths.log_price(i)[p];
        model.step(paths, rng);
        for (std::size_t p = 0; p < size; ++p) {
            std::vector<double> e(n), z(n);
            for (std::size_t i = 0; i < n; ++i) {
                const double vol = s.assets[i].volatility;
                const double drift = (s.assets[i].drift - 0.5 * vol * vol) * dt;
                e[i] = (paths.log_price(i)[p] - before[i * size + p] - drift) / (vol * std::sqrt(dt));
            }
            for (std::size_t i = 0; i < n; ++i) {  // forward substitution L z = e
                double sum = e[i];
                for (std::size_t c = 0; c < i; ++c) sum -= factor[i * n + c] * z[c];
                z[i] = sum / factor[i * n + i];
            }
            out.insert(out.end(), z.begin(), z.end());
        }
    }
    return out;
}

}  // namespace

TEST_CASE("every correlation draws the same random numbers: common random numbers by construction") {
    for (const bool fat_tails : {false, true}) {
        INFO((fat_tails ? "student_t" : "gaussian"));
        Scenario base = stacked_longs(300, 0.0);
        if (fat_tails) {
            base.simulation.model = PriceModel::student_t;
            base.simulation.dof = 4.0;
        }
        const std::vector<double> z0 = recovered_normals(base, 3);
        for (const double rho : {-0.4, 0.3, 0.95}) {
            const std::vector<double> z = recovered_normals(scenario_at(base, correlation_spec({rho}), rho), 3);
            REQUIRE(z.size() == z0.size());
            double worst = 0.0;
            for (std::size_t k = 0; k < z.size(); ++k) worst = std::max(worst, std::abs(z[k] - z0[k]));
            INFO("rho " << rho);
            CHECK(worst < 1e-6);
        }
        // Also at perfect correlation, where L is singular: every asset then moves with the
        // first one's z, and the first asset's path never depends on the matrix.
        const Scenario one = scenario_at(base, correlation_spec({1.0}), 1.0);
        const MarketModel m0(base);
        const MarketModel m1(one);
        PathBlock p0(3, 200), p1(3, 200);
        RandomStream r0(base.simulation.seed, 5), r1(base.simulation.seed, 5);
        p0.reset(m0.start_log_price(), 200);
        p1.reset(m1.start_log_price(), 200);
        for (int k = 0; k < 4; ++k) {
            m0.step(p0, r0);
            m1.step(p1, r1);
        }
        for (std::size_t p = 0; p < 200; ++p) {
            CHECK(p1.log_price(0)[p] == Approx(p0.log_price(0)[p]).epsilon(1e-12));
            // Equal volatilities: log returns identical across the three assets.
            CHECK(p1.log_price(2)[p] - std::log(5.0) == Approx(p1.log_price(0)[p] - std::log(100.0)).margin(1e-12));
        }
    }
}

// ---------------------------------------------------------------- closed forms and monotonicity

TEST_CASE("at uniform correlation 1 three equal-volatility longs behave as one position") {
    // One GBM exposure: the cross pool of notional N and wallet C liquidates when
    // C + N (S/S0 - 1) <= r N S/S0, at S/S0 = (1 - C/N) / (1 - r); each isolated 10x long at
    // (1 - 1/10) / (1 - r). Fine monitoring: Broadie-Glasserman's correction.
    const double vol = 0.8, r = 0.005, days = 3.0, t = days / 365.0;
    const int spd = 288;
    const std::uint64_t paths = 6000;
    const Scenario base = ScenarioBuilder(4500, days, spd, paths)
                              .asset("AAA", 100.0, vol, 0.0, r)
                              .asset("BBB", 20.0, vol, 0.0, r)
                              .asset("CCC", 5.0, vol, 0.0, r)
                              .uniform_correlation(0.3)
                              .position("AAA", Side::long_side, 1000, 10)
                              .position("BBB", Side::long_side, 1000, 10)
                              .position("CCC", Side::long_side, 1000, 10)
                              .build();
    const SweepResult sweep = run_sweep(base, correlation_spec({0.5, 1.0}));
    const Report& at_one = sweep.points[1].report;

    const double cross_barrier = std::log((1.0 - 4500.0 / 30000.0) / (1.0 - r));
    const double isolated_barrier = std::log((1.0 - 0.1) / (1.0 - r));
    const double expected_cross = discrete_first_passage_below(cross_barrier, vol, t, spd);
    const double expected_isolated = discrete_first_passage_below(isolated_barrier, vol, t, spd);
    const auto se = [&](double p) { return std::sqrt(p * (1.0 - p) / static_cast<double>(paths)); };
    const double cross = p_liquidation(at_one, MarginMode::cross);
    const double isolated = p_liquidation(at_one, MarginMode::isolated);
    INFO("cross MC " << cross << " closed form " << expected_cross);
    INFO("isolated MC " << isolated << " closed form " << expected_isolated);
    CHECK(std::abs(cross - expected_cross) < 4.0 * se(expected_cross));
    CHECK(std::abs(isolated - expected_isolated) < 4.0 * se(expected_isolated));
    // One exposure: when one isolated long is liquidated, all three are, at the same step.
    const auto& positions = at_one.modes[mode_index(MarginMode::isolated)].positions;
    for (const PositionReport& p : positions) CHECK(p.liquidation_probability == isolated);
    // Below correlation 1 the isolated book liquidates somewhere more often.
    CHECK(p_liquidation(sweep.points[0].report, MarginMode::isolated) > isolated + 4.0 * se(isolated));
}

TEST_CASE("P(cross liquidation) of a stacked long book rises with correlation on the same seed") {
    for (const std::uint64_t seed : {1u, 2u}) {
        Scenario base = stacked_longs(4000);
        base.simulation.seed = seed;
        const SweepResult sweep = run_sweep(base, correlation_spec(parse_sweep_values("0:1:0.1", "--correlation")));
        REQUIRE(sweep.points.size() == 11);
        for (std::size_t k = 0; k + 1 < sweep.points.size(); ++k) {
            INFO("seed " << seed << " rho " << sweep.points[k].value);
            CHECK(p_liquidation(sweep.points[k + 1].report, MarginMode::cross) >=
                  p_liquidation(sweep.points[k].report, MarginMode::cross));
        }
        const double low = p_liquidation(sweep.points.front().report, MarginMode::cross);
        const double high = p_liquidation(sweep.points.back().report, MarginMode::cross);
        CHECK(high > 5.0 * low);
        CHECK(sweep.crossover_outcome == CrossoverOutcome::cross_above_throughout);
        CHECK_FALSE(sweep.crossover);
    }
}

TEST_CASE("neighbouring sweep points differ far less than independent runs would") {
    // Independent runs of n paths: Var(p1 - p2) = p1 (1 - p1) / n + p2 (1 - p2) / n. On common
    // random numbers only the paths whose outcome the change of correlation flips contribute.
    const std::uint64_t paths = 2000;
    const int seeds = 16;
    std::vector<double> differences;
    double p_sum = 0.0;
    for (int s = 0; s < seeds; ++s) {
        Scenario base = stacked_longs(paths);
        base.simulation.seed = 100 + static_cast<std::uint64_t>(s);
        const SweepResult sweep = run_sweep(base, correlation_spec({0.5, 0.55}));
        const double p1 = p_liquidation(sweep.points[0].report, MarginMode::isolated);
        const double p2 = p_liquidation(sweep.points[1].report, MarginMode::isolated);
        differences.push_back(p2 - p1);
        p_sum += p1 + p2;
    }
    const double p = p_sum / (2.0 * seeds);
    const double independent = 2.0 * p * (1.0 - p) / static_cast<double>(paths);
    const double mean = std::accumulate(differences.begin(), differences.end(), 0.0) / seeds;
    double squares = 0.0;
    for (const double d : differences) squares += (d - mean) * (d - mean);
    const double common = squares / (seeds - 1);
    INFO("p " << p << " variance of the difference: common " << common << ", independent " << independent);
    CHECK(common < independent / 10.0);
    CHECK(mean < 0.0);  // more correlation, fewer 'any of three' liquidations in isolated
}

// ---------------------------------------------------------------- crossover

namespace {

// A hedged pair, long one asset and short the other, with free balance in the cross wallet:
// at low correlation both legs can lose together and the cross wallet goes whole; at high
// correlation the hedge holds in cross while isolated still loses a leg's margin.
Scenario hedged_pair(std::uint64_t paths) {
    return ScenarioBuilder(3000, 3.0, 24, paths)
        .asset("AAA", 100.0, 0.8)
        .asset("BBB", 50.0, 0.8)
        .uniform_correlation(0.5)
        .position("AAA", Side::long_side, 1000, 10)
        .position("BBB", Side::short_side, 1000, 10)
        .build();
}

}  // namespace

TEST_CASE("the crossover brackets the sign change of ES 99 on the same paths") {
    const Scenario base = hedged_pair(4000);
    SweepOptions options;
    options.bisection_steps = 6;
    const SweepResult sweep = run_sweep(base, correlation_spec({0.0, 0.25, 0.5, 0.75, 1.0}), options);
    REQUIRE(sweep.crossover_outcome == CrossoverOutcome::found);
    REQUIRE(sweep.crossover);
    const Crossover& c = *sweep.crossover;
    CHECK_FALSE(c.cross_exceeds_above);  // the hedge protects cross at high correlation
    CHECK(c.bisection_steps == 6);
    CHECK(c.hi - c.lo == Approx(0.25 / 64.0).margin(1e-9));
    CHECK(c.lo < c.value);
    CHECK(c.value < c.hi);
    // Independent runs at the bracket's ends, through simulate() itself.
    const SweepSpec spec = correlation_spec({c.lo, c.hi});
    const Report lo = simulate(scenario_at(base, spec, c.lo));
    const Report hi = simulate(scenario_at(base, spec, c.hi));
    CHECK(es_99(lo, MarginMode::cross) > es_99(lo, MarginMode::isolated));
    CHECK(es_99(hi, MarginMode::cross) <= es_99(hi, MarginMode::isolated));
    CHECK(c.es_cross[0] == es_99(lo, MarginMode::cross));
    CHECK(c.es_isolated[1] == es_99(hi, MarginMode::isolated));
}

TEST_CASE("no crossover when cross and isolated are the same account") {
    // One position whose margin is the whole balance: cross is isolated, the gap is 0.
    const Scenario one = ScenarioBuilder(1000, 2.0, 24, 2000)
                             .asset("AAA", 100.0, 0.9)
                             .asset("BBB", 10.0, 0.9)
                             .position("AAA", Side::long_side, 1000, 10)
                             .build();
    const SweepResult sweep = run_sweep(one, correlation_spec({0.0, 0.5, 1.0}));
    CHECK(sweep.crossover_outcome == CrossoverOutcome::cross_never_above);
    CHECK_FALSE(sweep.crossover);
    const nlohmann::json json = nlohmann::json::parse(to_json(sweep));
    CHECK(json.at("crossover").is_null());
    CHECK(json.at("crossover_outcome") == "cross_never_above");
}

TEST_CASE("the sweep JSON has the points and the per-mode keys of the issue") {
    const Scenario base = hedged_pair(2000);
    SweepOptions options;
    options.bisection_steps = 2;
    const SweepResult sweep = run_sweep(base, correlation_spec({0.0, 1.0}), options);
    const nlohmann::json json = nlohmann::json::parse(to_json(sweep));
    CHECK(json.at("schema") == sweep_schema);
    CHECK(json.at("parameter") == "correlation");
    CHECK(json.at("simulation").at("paths") == 2000);
    REQUIRE(json.at("points").size() == 2);
    for (const auto& point : json.at("points")) {
        for (const char* mode : {"isolated", "cross", "as_configured"}) {
            const auto& m = point.at("modes").at(mode);
            const auto& p = m.at("liquidation_probability");
            CHECK(p.at("ci95").at(0).get<double>() <= p.at("estimate").get<double>());
            CHECK(p.at("estimate").get<double>() <= p.at("ci95").at(1).get<double>());
            CHECK(m.at("var").at("0.99").get<double>() <= m.at("es").at("0.99").get<double>());
            CHECK(m.at("contagion_probability").at("estimate").is_number());
        }
        CHECK(point.at("modes").at("isolated").at("contagion_probability").at("estimate") == 0.0);
        CHECK(point.at("overflowed_paths") == 0);
    }
    REQUIRE_FALSE(json.at("crossover").is_null());
    CHECK(json.at("crossover").at("bracket").size() == 2);
    CHECK(json.at("crossover").at("cross_exceeds_isolated") == "below");
    // CSV: a header and one row per value and mode.
    const std::string csv = to_csv(sweep);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 2 * 3);
}

// ---------------------------------------------------------------- the detailed run

TEST_CASE("run_detailed reports exactly what simulate reports") {
    Scenario s = hedged_pair(3000);
    s.simulation.model = PriceModel::student_t;
    s.simulation.dof = 5.0;
    nlohmann::json a = nlohmann::json::parse(to_json(simulate(s)));
    const DetailedRun detailed = run_detailed(s);
    nlohmann::json b = nlohmann::json::parse(to_json(detailed.report));
    a["simulation"]["elapsed_s"] = 0.0;
    b["simulation"]["elapsed_s"] = 0.0;
    CHECK(a == b);
}

TEST_CASE("the details agree with the report and do not depend on the thread count") {
    const Scenario s = stacked_longs(5000);
    RunOptions one_thread, two_threads;
    one_thread.threads = 1;
    two_threads.threads = 2;
    const DetailedRun a = run_detailed(s, one_thread);
    const DetailedRun b = run_detailed(s, two_threads);
    for (const MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        const ModeDetail& d = a.modes[m];
        INFO(to_string(mode));
        CHECK(d.sorted_loss == b.modes[m].sorted_loss);
        CHECK(d.liquidated_by_step == b.modes[m].liquidated_by_step);
        REQUIRE(d.sorted_loss.size() == 5000);
        CHECK(std::is_sorted(d.sorted_loss.begin(), d.sorted_loss.end()));
        const ModeSummary& summary = summary_of(a.report, mode);
        CHECK(d.sorted_loss.back() == Approx(summary.loss.max));
        CHECK(d.sorted_loss[order_index(5000, 0.99)] == Approx(summary.loss.var[1]));
        REQUIRE(d.liquidated_by_step.size() == static_cast<std::size_t>(a.report.simulation.steps) + 1);
        CHECK(d.liquidated_by_step.front() == 0);
        CHECK(std::is_sorted(d.liquidated_by_step.begin(), d.liquidated_by_step.end()));
        const std::vector<double> by_step = liquidation_probability_by_step(d, 5000);
        CHECK(by_step.back() == summary.liquidation_probability.estimate);
    }
    CHECK(a.modes[mode_index(MarginMode::isolated)].contagion.estimate == 0.0);
    CHECK(a.modes[mode_index(MarginMode::cross)].contagion.estimate == a.report.contagion_probability.estimate);
    // The median first liquidation of the report sits where the cumulative count crosses half.
    const ModeDetail& cross = a.modes[mode_index(MarginMode::cross)];
    const auto& time = summary_of(a.report, MarginMode::cross).time_to_liquidation_days;
    REQUIRE(time);
    const std::uint64_t total = cross.liquidated_by_step.back();
    const auto median_step = static_cast<std::size_t>(std::llround(time->median * 24.0));
    CHECK(2 * cross.liquidated_by_step[median_step] >= total);
    CHECK(2 * cross.liquidated_by_step[median_step - 1] < total + 2);
}

// ---------------------------------------------------------------- the command

namespace {

std::string stress_file_text() {
    return "symbols = [\"BBB\", \"AAA\"]\nmatrix = [[1.0, 0.95], [0.95, 1.0]]\n";
}

}  // namespace

TEST_CASE("marginsim sweep writes the JSON CSV and HTML of a sweep") {
    using marginsim::testing::CliResult;
    using marginsim::testing::read_all;
    using marginsim::testing::shell_quoted;
    const marginsim::testing::TempDir dir("marginsim_test_sweep_cli");
    const fs::path scenario = dir.write("pair.toml", marginsim::testing::small_scenario(0.8, 1500));
    const fs::path stress = dir.write("stress.toml", stress_file_text());
    const std::string file = shell_quoted(scenario);

    const CliResult result = dir.run("sweep " + file + " --correlation 0:1:0.5 --json " +
                                     shell_quoted(dir / "s.json") + " --csv " + shell_quoted(dir / "s.csv") +
                                     " --html " + shell_quoted(dir / "s.html"));
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK_THAT(result.out, Catch::Contains("the same random numbers at every value"));
    CHECK_THAT(result.out, Catch::Contains("\n24 steps/day, continuous monitoring\n"));
    const nlohmann::json json = nlohmann::json::parse(read_all(dir / "s.json"));
    CHECK(json.at("parameter") == "correlation");
    CHECK(json.at("simulation").at("steps_per_day") == 24);
    CHECK(json.at("simulation").at("monitoring") == "continuous");
    REQUIRE(json.at("points").size() == 3);
    CHECK(json.at("points").at(2).at("value") == 1.0);
    CHECK(json.at("simulation").at("paths") == 1500);
    CHECK_THAT(read_all(dir / "s.csv"), Catch::StartsWith("parameter,value,mode,"));
    CHECK_THAT(read_all(dir / "s.html"), Catch::Contains("Sweep: correlation of every pair of assets"));

    // stdout formats, and the other parameters.
    const CliResult as_json = dir.run("sweep " + file + " --vol-scale 0.5,1 --paths 1000 --seed 3 --format json");
    REQUIRE(as_json.code == 0);
    const nlohmann::json vol = nlohmann::json::parse(as_json.out);
    CHECK(vol.at("parameter") == "volatility_scale");
    CHECK(vol.at("simulation").at("seed") == 3);
    const CliResult as_csv = dir.run("sweep " + file + " --horizon 1,2 --paths 1000 --format csv");
    REQUIRE(as_csv.code == 0);
    CHECK(std::count(as_csv.out.begin(), as_csv.out.end(), '\n') == 1 + 2 * 3);
    const CliResult blend = dir.run("sweep " + file + " --correlation 0,1 --stress " + shell_quoted(stress) +
                                    " --paths 1000 --format json");
    INFO(blend.err);
    REQUIRE(blend.code == 0);
    CHECK(nlohmann::json::parse(blend.out).at("parameter") == "correlation_blend");
    CHECK(dir.run("sweep " + file + " --leverage 1,2 --paths 1000 -q").code == 0);

    // A scenario that asks for discrete monitoring is reported so, in every format.
    std::string discrete_text = marginsim::testing::small_scenario(0.8, 1000);
    discrete_text.replace(discrete_text.find("seed = 5"), 8, "seed = 5\nmonitoring = \"discrete\"");
    const std::string discrete = shell_quoted(dir.write("discrete.toml", discrete_text));
    const CliResult discrete_json = dir.run("sweep " + discrete + " --vol-scale 0.5,1 --format json");
    REQUIRE(discrete_json.code == 0);
    CHECK(nlohmann::json::parse(discrete_json.out).at("simulation").at("monitoring") == "discrete");
    const CliResult discrete_table = dir.run("sweep " + discrete + " --vol-scale 0.5,1 --html " +
                                             shell_quoted(dir / "d.html"));
    REQUIRE(discrete_table.code == 0);
    CHECK_THAT(discrete_table.out, Catch::Contains("\n24 steps/day, discrete monitoring\n"));
    CHECK_THAT(read_all(dir / "d.html"), Catch::Contains("24 steps per day, discrete monitoring"));
}

TEST_CASE("marginsim sweep refuses a missing or doubled parameter and bad values") {
    using marginsim::testing::CliResult;
    using marginsim::testing::shell_quoted;
    const marginsim::testing::TempDir dir("marginsim_test_sweep_cli");
    const std::string file = shell_quoted(dir.write("pair.toml", marginsim::testing::small_scenario(0.8, 1000)));
    for (const std::string arguments :
         {"", " --correlation 0,1 --leverage 1,2", " --blend --leverage 1,2", " --correlation 0,1 --format xml",
          " --correlation 0,1 --bisect -1"}) {
        INFO(arguments);
        CHECK(dir.run("sweep " + file + arguments).code == 2);
    }
    const CliResult range = dir.run("sweep " + file + " --correlation 0:1");
    CHECK(range.code == 2);
    CHECK_THAT(range.err, Catch::Contains("--correlation"));
    const CliResult low = dir.run("sweep " + file + " --correlation -1.5,0");
    CHECK(low.code == 2);
    CHECK_THAT(low.err, Catch::Contains("value -1.5"));
    const CliResult stress = dir.run("sweep " + file + " --correlation 0,1 --stress " +
                                     shell_quoted(dir.write("bad.toml", "matrix = [[1, 2], [2, 1]]\n")));
    CHECK(stress.code == 2);
    CHECK_THAT(stress.err, Catch::Contains("bad.toml:1"));
}

TEST_CASE("marginsim sweep names the option given in every error about its values") {
    using marginsim::testing::CliResult;
    using marginsim::testing::shell_quoted;
    const marginsim::testing::TempDir dir("marginsim_test_sweep_cli");
    const std::string file = shell_quoted(dir.write("pair.toml", marginsim::testing::small_scenario(0.8, 1000)));
    // An empty value is the option given with nothing in it, not the next parameter's absence.
    for (const std::string option : {"--correlation", "--leverage", "--vol-scale", "--horizon"}) {
        INFO(option);
        const CliResult empty = dir.run("sweep " + file + " " + option + " ''");
        CHECK(empty.code == 2);
        CHECK_THAT(empty.err, Catch::StartsWith("error: " + option + ": no values (expected a range"));
    }
    // A value the scenario refuses names the option too, not the parameter's name in the report.
    // small_scenario has 24 steps per day: 1e9 days are 2.4e10 steps, past the int step counter.
    const CliResult long_horizon = dir.run("sweep " + file + " --horizon 1,1e9");
    CHECK(long_horizon.code == 2);
    CHECK_THAT(long_horizon.err, Catch::StartsWith("error: --horizon: value 1000000000: too long: 1000000000 days "
                                                   "at 24 steps per day"));
    CHECK_THAT(long_horizon.err, Catch::Contains("at most 2147483647 steps"));
    const CliResult leverage = dir.run("sweep " + file + " --leverage 1,0");
    CHECK(leverage.code == 2);
    CHECK_THAT(leverage.err, Catch::StartsWith("error: --leverage: value 0:"));
}

TEST_CASE("a sweep whose stop flag is set ends with RunInterrupted and no result") {
    const Scenario s = ScenarioBuilder(3000, 2, 4, 5000)
                           .asset("BTC", 60000, 0.6)
                           .asset("ETH", 3000, 0.8)
                           .position("BTC", Side::long_side, 1000, 10, MarginMode::isolated)
                           .position("ETH", Side::short_side, 1000, 8)
                           .build();
    SweepSpec spec;
    spec.values = {0.2, 0.5, 0.8};
    std::atomic<bool> stop{true};
    SweepOptions options;
    options.stop = &stop;
    CHECK_THROWS_AS(run_sweep(s, spec, options), RunInterrupted);
    // Set after the first point: the next point stops at its first block.
    stop = false;
    std::size_t runs = 0;
    CHECK_THROWS_AS(run_sweep(s, spec, options,
                              [&](std::size_t done, std::size_t, double) {
                                  runs = done + 1;
                                  if (done == 1) stop = true;
                              }),
                    RunInterrupted);
    CHECK(runs == 2);
    stop = false;
    CHECK(run_sweep(s, spec, options).points.size() == 3);
}
