// Models combined (docs/model.md#one-model-family): jumps on top of the student_t, garch and
// regime diffusions, and regimes carrying their own innovations and jump switch, against
// closed forms (Merton's cumulants plus the Student-t days' kurtosis, the GARCH(1,1) variance
// forecast, the compensated mean E[S_T] = S_0 e^(mu T)); continuous monitoring that does not
// depend on the steps per day with jumps on any diffusion; determinism; the keys and errors.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/market_model.hpp"
#include "marginsim/simulate.hpp"
#include "model_cumulants.hpp"
#include "same_numbers.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using namespace marginsim::testing::model_moments;
using marginsim::testing::ScenarioBuilder;
using marginsim::testing::error_of;
using marginsim::testing::replaced;

namespace {

constexpr double days_per_year = 365.0;

// A unit-variance Student-t day has excess kurtosis 6 / (dof - 4): the horizon's independent
// days add days x 6 / (dof - 4) x h^2 to the fourth cumulant, h = vol^2 / 365 the day's variance.
Cumulants with_student_t_days(Cumulants c, double vol, double dof, int days) {
    const double h = vol * vol / days_per_year;
    c.k4 += days * 6.0 / (dof - 4.0) * h * h;
    return c;
}

void check_cumulant(const char* name, double estimate, double error, double truth) {
    INFO(name << " " << estimate << " vs " << truth << " +- " << error);
    CHECK(std::abs(estimate - truth) < 4.0 * error);
}

void check_all(const Estimate& e, const Cumulants& truth) {
    check_cumulant("k1", e.value.k1, e.error.k1, truth.k1);
    check_cumulant("k2", e.value.k2, e.error.k2, truth.k2);
    check_cumulant("k3", e.value.k3, e.error.k3, truth.k3);
    check_cumulant("k4", e.value.k4, e.error.k4, truth.k4);
}

// E[S_T / S_0] = e^(mu T): the jumps' drift compensation, within 4 standard errors.
void check_compensated_mean(const std::vector<double>& x, double mu, double t) {
    double sum = 0.0, sum_sq = 0.0;
    for (const double r : x) {
        sum += std::exp(r);
        sum_sq += std::exp(2.0 * r);
    }
    const auto n = static_cast<double>(x.size());
    const double mean = sum / n;
    const double error = std::sqrt((sum_sq / n - mean * mean) / n);
    INFO("E[S_T/S_0] " << mean << " vs " << std::exp(mu * t) << " +- " << error);
    CHECK(std::abs(mean - std::exp(mu * t)) < 4.0 * error);
}

const JumpSize crash{-0.05, 0.08};

ScenarioBuilder two_assets(int days, int steps_per_day) {
    ScenarioBuilder b(10000, days, steps_per_day);
    b.asset("BTC", 66800, 0.5, 0.1).asset("ETH", 2000, 0.7, -0.2).uniform_correlation(0.7);
    return b;
}

}  // namespace

TEST_CASE("student_t with jumps: the horizon log return has Merton's cumulants plus the t days' kurtosis") {
    const int days = 30;
    const double t = days / days_per_year;
    SECTION("jumps dominate: every cumulant and the compensated mean") {
        const Scenario s = two_assets(days, 4).student_t(12.0).jumps(20.0, crash.mean, crash.vol).build();
        REQUIRE(s.simulation.model == PriceModel::student_t);
        REQUIRE(s.simulation.jumps);
        const auto x = horizon_log_returns(s, 196);
        for (std::size_t i = 0; i < 2; ++i) {
            const Asset& a = s.assets[i];
            INFO(a.symbol);
            const Cumulants truth =
                with_student_t_days(merton_cumulants(a.drift, a.volatility, t, {{20.0, crash}}), a.volatility, 12.0, days);
            const Estimate e = estimate_cumulants(x[i], 49);
            check_all(e, truth);
            CHECK(std::abs(truth.k3) > 8.0 * e.error.k3);  // the jumps are there
            check_compensated_mean(x[i], a.drift, t);
        }
    }
    SECTION("t days dominate the fourth cumulant: the mixing is kept under jumps") {
        // Three days: the days' excess kurtosis (1 / 3 of a day's 6 / (dof - 4)) is far from 0.
        const int short_days = 3;
        const JumpSize small{-0.02, 0.01};
        const Scenario s = two_assets(short_days, 4).student_t(10.0).jumps(2.0, small.mean, small.vol).build();
        const auto x = horizon_log_returns(s, 196);
        const Asset& a = s.assets[1];
        const Cumulants merton = merton_cumulants(a.drift, a.volatility, short_days / days_per_year, {{2.0, small}});
        const Cumulants truth = with_student_t_days(merton, a.volatility, 10.0, short_days);
        const Estimate e = estimate_cumulants(x[1], 49);
        check_all(e, truth);
        // Without the daily t scale the fourth cumulant would be Merton's alone, many errors away.
        CHECK(std::abs(truth.k4 - merton.k4) > 8.0 * e.error.k4);
    }
}

TEST_CASE("garch with jumps: the variance forecast plus the jumps' cumulants, and the compensated mean") {
    // Jumps move the price, not the GARCH innovation: E[x_T] = sum_d (mu / 365 - E[h_d] / 2) +
    // lambda T (m - kappa), Var = sum_d E[h_d] + lambda T (m^2 + s^2), with E[h_d] the forecast.
    const int days = 30;
    const double t = days / days_per_year;
    Scenario s = two_assets(days, 4).jumps(20.0, crash.mean, crash.vol).build();
    s.simulation.model = PriceModel::garch;
    for (const Asset& a : s.assets) {
        const double h0 = a.volatility * a.volatility / days_per_year;
        const double long_run = 0.5 * h0;  // today twice the long-run variance
        s.garch.assets.push_back({long_run * (1.0 - 0.95), 0.10, 0.85});
    }
    const auto x = horizon_log_returns(s, 196);
    for (std::size_t i = 0; i < 2; ++i) {
        const Asset& a = s.assets[i];
        INFO(a.symbol);
        const GarchParameters& g = s.garch.assets[i];
        const double h0 = a.volatility * a.volatility / days_per_year;
        double forecast = 0.0;
        for (int d = 0; d < days; ++d)
            forecast += g.long_run_variance() + std::pow(g.persistence(), d) * (h0 - g.long_run_variance());
        const double m = crash.mean, v = crash.vol * crash.vol;
        const double k1 = a.drift * t - 0.5 * forecast + 20.0 * t * (m - crash.kappa());
        const double k2 = forecast + 20.0 * t * (m * m + v);
        const double k3 = 20.0 * t * (m * m * m + 3.0 * m * v);
        const Estimate e = estimate_cumulants(x[i], 49);
        check_cumulant("k1", e.value.k1, e.error.k1, k1);
        check_cumulant("k2", e.value.k2, e.error.k2, k2);
        check_cumulant("k3", e.value.k3, e.error.k3, k3);
        CHECK(std::abs(k3) > 8.0 * e.error.k3);
        check_compensated_mean(x[i], a.drift, t);
    }
}

TEST_CASE("regimes carry their own innovations and jump switch") {
    // Without switching, each regime is its own model: stress = Student-t at the stress
    // volatilities with jumps (compensated there), calm = the plain gaussian, no jumps and no
    // compensation.
    const int days = 30;
    const double t = days / days_per_year;
    const double stress_scale = 1.6;
    const auto regime_scenario = [&](StartRegime start) {
        Scenario s = two_assets(days, 4)
                         .jumps(20.0, crash.mean, crash.vol)
                         .regimes(0.0, 0.0, stress_scale, {1.0, 0.85, 0.85, 1.0}, start)
                         .build();
        s.regimes.states[0] = RegimeState{Innovations::gaussian, 0.0, false};
        s.regimes.states[1] = RegimeState{Innovations::student_t, 12.0, true};
        return s;
    };
    SECTION("a path in stress throughout: Student-t with jumps at the stress volatility") {
        const Scenario s = regime_scenario(StartRegime::stress);
        const auto x = horizon_log_returns(s, 196);
        for (std::size_t i = 0; i < 2; ++i) {
            const Asset& a = s.assets[i];
            const double vol = stress_scale * a.volatility;
            INFO(a.symbol);
            const Cumulants truth = with_student_t_days(merton_cumulants(a.drift, vol, t, {{20.0, crash}}), vol, 12.0, days);
            check_all(estimate_cumulants(x[i], 49), truth);
            check_compensated_mean(x[i], a.drift, t);
        }
    }
    SECTION("a path calm throughout: the gaussian diffusion, no jumps, no compensation") {
        const Scenario s = regime_scenario(StartRegime::calm);
        const auto x = horizon_log_returns(s, 196);
        for (std::size_t i = 0; i < 2; ++i) {
            const Asset& a = s.assets[i];
            INFO(a.symbol);
            check_all(estimate_cumulants(x[i], 49), merton_cumulants(a.drift, a.volatility, t, {}));
            check_compensated_mean(x[i], a.drift, t);
        }
    }
}

TEST_CASE("continuous monitoring with jumps on any diffusion gives the same P(liquidation) at 1 and 24 steps a day") {
    // The bridge to a jump's arrival takes the path's own step sd (its t scale, garch variance
    // or regime): an answer that depended on the step size would show it here.
    const auto book = [](int spd) {
        return ScenarioBuilder(3000, 10, spd, 60000)
            .asset("BTC", 60000, 0.6, 0.0, 0.005)
            .asset("ETH", 3000, 0.8, 0.0, 0.005)
            .uniform_correlation(0.7)
            .position("BTC", Side::long_side, 1000, 8, MarginMode::isolated)
            .position("ETH", Side::long_side, 1000, 8);
    };
    const auto student_t = [&](int spd) { return book(spd).student_t(4.0).jumps(15.0, crash.mean, crash.vol).build(); };
    const auto garch = [&](int spd) {
        Scenario s = book(spd).jumps(15.0, crash.mean, crash.vol).build();
        s.simulation.model = PriceModel::garch;
        for (const Asset& a : s.assets) {
            const double V = a.volatility * a.volatility / days_per_year;
            s.garch.assets.push_back({V * 0.3, 0.25, 0.7});  // long-run 6 times today's
        }
        return s;
    };
    const auto regime = [&](int spd) {
        Scenario s = book(spd).jumps(15.0, crash.mean, crash.vol).regimes(20.0, 40.0, 1.8, {1.0, 0.9, 0.9, 1.0}).build();
        s.regimes.states[0] = RegimeState{Innovations::gaussian, 0.0, false};
        s.regimes.states[1] = RegimeState{Innovations::student_t, 4.0, true};
        return s;
    };
    const auto half = [](const Proportion& x) { return (x.ci95.hi - x.ci95.lo) / 2.0; };
    const std::vector<std::pair<const char*, std::function<Scenario(int)>>> models = {
        {"student_t + jumps", student_t}, {"garch + jumps", garch}, {"regime (t and jumps in stress)", regime}};
    for (const auto& [name, make] : models) {
        const Report daily = simulate(make(1), RunOptions{std::nullopt, 5, 2});
        const Report hourly = simulate(make(24), RunOptions{std::nullopt, 6, 2});
        for (std::size_t m = 0; m < mode_count; ++m) {
            const Proportion a = daily.modes[m].summary.liquidation_probability;
            const Proportion b = hourly.modes[m].summary.liquidation_probability;
            INFO(name << ", mode " << m << ": " << a.estimate << " at 1 step a day, " << b.estimate << " at 24");
            CHECK(a.estimate > 0.05);
            CHECK(std::abs(a.estimate - b.estimate) < 2.0 * std::hypot(half(a), half(b)));
        }
    }
}

namespace {

// The bridge to a jump's arrival: given the step's ends, the diffusion at time t of the step is
// x0 + t D + sqrt(t (1 - t)) s e (D the step's move without the jump, s the path's step sd), so
// r = (x(t-) - x0 - t D) / sqrt(t (1 - t)) has the step's variance. Collected over the hit paths
// of step `step` (1-based) of `blocks` blocks, for asset i.
std::vector<double> bridge_residuals_at_jumps(const Scenario& scenario, std::size_t asset, std::size_t blocks,
                                              int step = 1) {
    const MarketModel model(scenario);  // continuous monitoring: the bridge is drawn
    const std::size_t n = block_size;
    PathBlock paths(scenario.asset_count(), n);
    std::vector<double> r;
    std::vector<double> x0(n);
    for (std::size_t b = 0; b < blocks; ++b) {
        RandomStream rng(scenario.simulation.seed, b);
        model.start(paths, n, rng);
        for (int k = 1; k < step; ++k) model.step(paths, rng);
        std::copy_n(paths.log_price(asset), n, x0.begin());
        model.step(paths, rng);
        for (std::size_t slot = 0; slot < paths.jump_count(); ++slot) {
            const std::size_t p = paths.jump_paths()[slot];
            const double t = paths.jump_time(slot);
            const double move = paths.log_price(asset)[p] - x0[p] - paths.jump_sizes(slot)[asset];
            const double before = paths.pre_jump_log_price(slot)[asset];
            if (t > 0.01 && t < 0.99) r.push_back((before - x0[p] - t * move) / std::sqrt(t * (1.0 - t)));
        }
    }
    return r;
}

}  // namespace

TEST_CASE("the bridge to a jump's arrival has the path's own step variance under every diffusion") {
    // One step a day, frequent small jumps: most paths are hit on the first step.
    const auto book = [] {
        return two_assets(1, 1).jumps(1500.0, 0.0, 0.01);
    };
    const double vol = 0.7, step_variance = vol * vol / days_per_year;  // ETH, one step = one day
    const auto mean_square = [](const std::vector<double>& r) {
        double sum = 0.0;
        for (const double x : r) sum += x * x;
        return sum / static_cast<double>(r.size());
    };
    const auto check_variance = [&](const std::vector<double>& r, double expected) {
        const double v = mean_square(r);
        double ss = 0.0;
        for (const double x : r) ss += (x * x - v) * (x * x - v);
        const double error = std::sqrt(ss / static_cast<double>(r.size())) / std::sqrt(static_cast<double>(r.size()));
        INFO("E[r^2] " << v << " vs " << expected << " +- " << error << " over " << r.size() << " jumps");
        CHECK(r.size() > 20000);
        CHECK(std::abs(v - expected) < 4.0 * error);
    };
    SECTION("regime: the stress volatility of a path in stress") {
        Scenario s = book().regimes(0.0, 0.0, 3.0, {1.0, 0.8, 0.8, 1.0}, StartRegime::stress).build();
        check_variance(bridge_residuals_at_jumps(s, 1, 48), 9.0 * step_variance);
    }
    SECTION("garch: the path's variance of the day, E[h_1] = omega + (alpha + beta) h_0 on the second day") {
        Scenario s = two_assets(2, 1).jumps(1500.0, 0.0, 0.01).build();
        s.simulation.model = PriceModel::garch;
        const GarchParameters g{1e-3, 0.3, 0.65};
        s.garch.assets.assign(s.asset_count(), g);
        check_variance(bridge_residuals_at_jumps(s, 1, 48, 2), g.omega + g.persistence() * step_variance);
    }
    SECTION("fhs: the path's filtered variance of the day, E[h_1] = omega + (alpha + beta) h_0 with E[z^2] = 1") {
        Scenario s = two_assets(2, 1).jumps(1500.0, 0.0, 0.01).build();
        s.simulation.model = PriceModel::fhs;
        s.fhs.filter = FhsFilter::garch;
        const GarchParameters g{1e-3, 0.3, 0.65};
        s.fhs.assets.assign(s.asset_count(), g);
        // 32 days of the four sign pairs (+-1, +-1): every residual squared is 1.
        for (std::size_t d = 0; d < 32; ++d) {
            s.fhs.dates.push_back(fmt::format("2024-01-{:02}", d + 1));
            s.fhs.residuals.push_back(d % 2 == 0 ? 1.0 : -1.0);
            s.fhs.residuals.push_back((d / 2) % 2 == 0 ? 1.0 : -1.0);
        }
        check_variance(bridge_residuals_at_jumps(s, 1, 48, 2), g.omega + g.persistence() * step_variance);
    }
    SECTION("student_t: the day's t scale, seen in the residuals' kurtosis 3 (dof - 2) / (dof - 4)") {
        const double dof = 7.0;
        Scenario s = book().student_t(dof).build();
        const std::vector<double> r = bridge_residuals_at_jumps(s, 1, 48);
        check_variance(r, step_variance);
        std::vector<double> fourth;
        for (const double x : r) fourth.push_back(x * x * x * x / (step_variance * step_variance));
        double mean = 0.0, ss = 0.0;
        for (const double x : fourth) mean += x / static_cast<double>(fourth.size());
        for (const double x : fourth) ss += (x - mean) * (x - mean);
        const double error = std::sqrt(ss / static_cast<double>(fourth.size() * fourth.size()));
        const double expected = 3.0 * (dof - 2.0) / (dof - 4.0);
        INFO("E[r^4] / s^4 " << mean << " vs " << expected << " +- " << error);
        CHECK(std::abs(mean - expected) < 4.0 * error);
        CHECK(std::abs(3.0 - expected) > 8.0 * error);  // a gaussian bridge would give 3
    }
}

TEST_CASE("combined models depend only on the scenario and the seed and not on the thread count") {
    Scenario s = ScenarioBuilder(3000, 5, 4)
                     .asset("BTC", 60000, 0.6, 0.0, 0.005)
                     .asset("ETH", 3000, 0.8, 0.0, 0.005)
                     .uniform_correlation(0.7)
                     .position("BTC", Side::long_side, 1000, 8, MarginMode::isolated)
                     .position("ETH", Side::long_side, 1000, 8)
                     .jumps(15.0, crash.mean, crash.vol)
                     .regimes(20.0, 40.0, 1.8, {1.0, 0.9, 0.9, 1.0})
                     .build();
    s.regimes.states[1] = RegimeState{Innovations::student_t, 4.0, true};
    const Report a = simulate(s, RunOptions{8000, 3, 1});
    const Report b = simulate(s, RunOptions{8000, 3, 2});
    marginsim::testing::require_same(a, b);
    CHECK(a.modes[0].summary.liquidation_probability.estimate > 0.0);
}

namespace {

const std::string combined_toml = marginsim::testing::two_asset_book("horizon_days = 7\nmodel = \"regime\"\njumps = true\n") + R"([jumps]
intensity = 6
mean = -0.08
vol = 0.05
[regime]
calm_to_stress = 6.75
stress_to_calm = 20.3
[regime.calm]
jumps = false
[regime.stress]
volatility_scale = 1.6
innovations = "student_t"
dof = 4
)";


}  // namespace

TEST_CASE("model family: jumps = true and the regimes' own models are read, and --set reaches them") {
    const Scenario s = parse_scenario(combined_toml, "case.toml");
    CHECK(s.simulation.model == PriceModel::regime);
    CHECK(s.simulation.jumps);
    CHECK(s.jumps.intensity == 6.0);
    CHECK(s.regimes.states[0].innovations == Innovations::gaussian);
    CHECK_FALSE(s.regimes.states[0].jumps);
    CHECK(s.regimes.states[1].innovations == Innovations::student_t);
    CHECK(s.regimes.states[1].dof == 4.0);
    CHECK(s.regimes.states[1].jumps);

    LoadOptions options;
    options.overrides = {parse_override("regime.calm.jumps=true"), parse_override("regime.stress.dof=6")};
    const Scenario t = parse_scenario(combined_toml, "case.toml", options);
    CHECK(t.regimes.states[0].jumps);
    CHECK(t.regimes.states[1].dof == 6.0);

    // Jumps on other diffusions; model = "jump" stays gaussian with jumps on.
    std::string student = combined_toml.substr(0, combined_toml.find("[regime]"));
    student = replaced(student, "model = \"regime\"", "model = \"student_t\"\ndof = 5");
    const Scenario u = parse_scenario(student, "case.toml");
    CHECK(u.simulation.model == PriceModel::student_t);
    CHECK(u.simulation.jumps);
    const Scenario v = parse_scenario(replaced(student, "model = \"student_t\"\ndof = 5\njumps = true", "model = \"jump\""),
                                      "case.toml");
    CHECK(v.simulation.model == PriceModel::jump);
    CHECK(v.simulation.jumps);
}

TEST_CASE("model family: malformed switches and regime models name the file, line, column and key") {
    struct Case {
        std::string from, to, error;
    };
    const std::vector<Case> cases = {
        {"jumps = true\n", "",
         "case.toml:21:1: jumps: [jumps] is only used with jumps on, but they are off (expected jumps = true in "
         "[simulation] (jumps on top of the model), or no [jumps] table)"},
        {"jumps = true", "jumps = 1",
         "case.toml:4:9: simulation.jumps: wrong type: found the integer 1 (expected true or false: [jumps] on top of the "
         "model's diffusion)"},
        {"[jumps]\nintensity = 6\nmean = -0.08\nvol = 0.05\n", "",
         "case.toml:4:9: jumps: missing required table (expected a [jumps] table with intensity, mean and vol for "
         "jumps = true)"},
        {"model = \"regime\"\njumps = true", "model = \"jump\"\njumps = false",
         "case.toml:4:9: simulation.jumps: model = \"jump\" is the gaussian model with jumps on (expected model = "
         "\"gaussian\" for no jumps, or no jumps key)"},
        {"dof = 4\n", "",
         "case.toml:31:1: regime.stress.dof: missing required key (expected degrees of freedom for innovations = "
         "\"student_t\": a number > 2)"},
        {"innovations = \"student_t\"\n", "",
         "case.toml:33:7: regime.stress.dof: dof is only used with innovations = \"student_t\", but they are "
         "gaussian (expected no dof, or innovations = \"student_t\")"},
        {"innovations = \"student_t\"", "innovations = \"laplace\"",
         "case.toml:33:15: regime.stress.innovations: unknown value \"laplace\" (expected one of \"gaussian\", "
         "\"student_t\")"},
        {"dof = 4", "dof = 2",
         "case.toml:34:7: regime.stress.dof: out of range: found 2 (expected a number > 2: the variance is infinite "
         "for dof <= 2)"},
        {"[regime.calm]\njumps = false", "[regime.calm]\nvolatility = 0.3",
         "case.toml:30:1: regime.calm.volatility: unknown key (expected one of innovations, dof, jumps)"},
    };
    for (const Case& c : cases) {
        INFO(c.from << " -> " << c.to);
        CHECK(error_of(replaced(combined_toml, c.from, c.to)) == c.error);
    }
    // A regime's jump switch without jumps in the scenario.
    std::string no_jumps = replaced(combined_toml, "jumps = true\n", "");
    no_jumps = replaced(no_jumps, "[jumps]\nintensity = 6\nmean = -0.08\nvol = 0.05\n", "");
    CHECK(error_of(no_jumps) ==
          "case.toml:25:9: regime.calm.jumps: the scenario has no jumps (expected jumps = true in [simulation] with a "
          "[jumps] table, or no jumps key here)");
}

