// Parameter uncertainty ([uncertainty], docs/model.md#parameter-uncertainty) against what must
// hold: each path's variance factors W_ii / nu have the Wishart's moments (mean 1, variance
// 2 / nu, correlation rho^2 between assets) under every model that takes them; one asset's
// P(liquidation) is the GBM first passage averaged over the chi-square law of its variance (a
// numerical integral, not the engine); a huge nu gives back the model without uncertainty;
// determinism; the table's keys, errors and report lines; calibrate's nu = 2 n / (2 + g2).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"
#include "engine/market_model.hpp"
#include "first_passage.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/report.hpp"
#include "marginsim/simulate.hpp"
#include "same_numbers.hpp"
#include "sample_moments.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

namespace {

// Three assets, correlations 0.8 (BTC-ETH), 0.5 and 0.3.
Scenario three_assets(double nu) {
    Scenario s = ScenarioBuilder(10000, 3, 4)
                     .asset("BTC", 60000, 0.5)
                     .asset("ETH", 3000, 0.7)
                     .asset("SOL", 150, 0.9)
                     .correlation({1.0, 0.8, 0.5, 0.8, 1.0, 0.3, 0.5, 0.3, 1.0})
                     .position("BTC", Side::long_side, 1000, 5)
                     .build();
    s.uncertainty.returns = nu;
    return s;
}

// W_ii / nu of every path as the model starts them, [asset][path]: the path's variance of today
// over the scenario's, (sd relative to the scenario's)^2.
std::vector<std::vector<double>> variance_factors(const Scenario& s, std::size_t blocks) {
    const MarketModel model(s);
    const std::size_t n = 4096, assets = s.asset_count();
    PathBlock paths(assets, n);
    std::vector<std::vector<double>> out(assets);
    for (std::size_t b = 0; b < blocks; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, n, rng);
        for (std::size_t i = 0; i < assets; ++i)
            for (std::size_t k = 0; k < n; ++k) out[i].push_back(paths.variance_scale(i)[k] * paths.variance_scale(i)[k]);
    }
    return out;
}

// E[f(x)] for x ~ chi-square of `dof` degrees of freedom, by the midpoint rule on a fine grid.
template <class F>
double chi_square_expectation(double dof, F f) {
    const double upper = dof + 60.0 * std::sqrt(2.0 * dof);
    const int cells = 400000;
    const double h = upper / cells;
    const double log_norm = -0.5 * dof * std::log(2.0) - std::lgamma(0.5 * dof);
    double sum = 0.0;
    for (int c = 0; c < cells; ++c) {
        const double x = (c + 0.5) * h;
        sum += std::exp(log_norm + (0.5 * dof - 1.0) * std::log(x) - 0.5 * x) * f(x);
    }
    return sum * h;
}

}  // namespace

TEST_CASE("uncertainty: each path's variance factor W_ii / nu has mean 1 and variance 2 / nu and correlation "
          "rho^2 across assets under gaussian and garch") {
    const std::vector<double> rho2 = {0.64, 0.25, 0.09};  // BTC-ETH, BTC-SOL, ETH-SOL
    // The least the scenario takes (Bartlett's chi-squares of 4, 3 and 2 dof), and a non-integer.
    for (const double nu : {4.0, 7.5}) {
        INFO("nu " << nu);
        Scenario gaussian = three_assets(nu);
        Scenario garch = gaussian;
        garch.simulation.model = PriceModel::garch;
        garch.garch.assets.assign(3, GarchParameters{1e-5, 0.1, 0.85});
        for (const Scenario* s : {&gaussian, &garch}) {
            INFO("model " << to_string(s->simulation.model));
            const auto w = variance_factors(*s, 25);
            const double n = static_cast<double>(w[0].size());
            for (std::size_t i = 0; i < 3; ++i) {
                INFO("asset " << i);
                // Var(chi^2_nu / nu) = 2 / nu; its sample mean's sd sqrt(2 / nu / n); the sample
                // variance's sd about sqrt((m4 - var^2) / n), m4 of chi^2_nu / nu = 12 (nu + 4) / nu^3
                // + 3 var^2 (cumulants), so sd = var sqrt((2 + 12 / nu) / n).
                const double var = 2.0 / nu;
                CHECK(std::abs(sample_moments::mean(w[i]) - 1.0) < 4.0 * std::sqrt(var / n));
                CHECK(std::abs(sample_moments::central_moment(w[i], 2) - var) < 4.0 * var * std::sqrt((2.0 + 12.0 / nu) / n));
            }
            // Cov(W_ii, W_jj) = 2 nu rho_ij^2: correlation rho^2. The sample correlation's sd is at
            // most about 2 / sqrt(n) for these skewed variables.
            CHECK(std::abs(sample_moments::correlation(w[0], w[1]) - rho2[0]) < 8.0 / std::sqrt(n));
            CHECK(std::abs(sample_moments::correlation(w[0], w[2]) - rho2[1]) < 8.0 / std::sqrt(n));
            CHECK(std::abs(sample_moments::correlation(w[1], w[2]) - rho2[2]) < 8.0 / std::sqrt(n));
            CHECK(sample_moments::correlation(w[0], w[1]) > sample_moments::correlation(w[0], w[2]) + 0.2);
        }
    }
}

TEST_CASE("uncertainty: one isolated long's P(liquidation) is the GBM first passage averaged over the chi-square law "
          "of its variance") {
    // Continuous monitoring, a flat rate: at a known volatility sigma the exact first passage
    // P(sigma); with the variance sigma_0^2 x / nu, x ~ chi^2_nu, the answer is E[P(sigma_0 sqrt(x / nu))],
    // integrated numerically here.
    const double vol = 0.4, rate = 0.005, leverage = 10.0, days = 3.0, nu = 8.0;
    const double years = days / marginsim::testing::days_per_year;
    const auto exact_at = [&](double v) {
        return marginsim::testing::continuous_liquidation(Side::long_side, v, 0.0, leverage, rate, years);
    };
    const double known = exact_at(vol);
    const double averaged = chi_square_expectation(nu, [&](double x) { return exact_at(vol * std::sqrt(x / nu)); });
    INFO("known volatility " << known << ", averaged over the estimate's law " << averaged);
    REQUIRE(averaged > 1.5 * known);  // a tail event: the uncertainty fattens it (about 0.6% -> 1.2%)
    for (const int spd : {1, 4}) {
        INFO("steps_per_day " << spd);
        Scenario s = ScenarioBuilder(1000, days, spd, 200000)
                         .asset("BTC", 60000, vol, 0.0, rate)
                         .position("BTC", Side::long_side, 1000, leverage, MarginMode::isolated)
                         .build();
        s.uncertainty.returns = nu;
        const Proportion p = simulate(s, RunOptions{std::nullopt, 17, 2}).modes[0].summary.liquidation_probability;
        INFO("engine " << p.estimate << " [" << p.ci95.lo << ", " << p.ci95.hi << "]");
        CHECK(p.ci95.lo - 1e-4 < averaged);
        CHECK(p.ci95.hi + 1e-4 > averaged);
        CHECK(p.ci95.lo > known);
    }
}

TEST_CASE("uncertainty: with nu huge every model is the one without it (student_t with jumps and garch)") {
    // W / nu -> 1: the same law, drawn from other random numbers (the Wishart takes its own).
    Scenario base = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example.toml");
    base.simulation.horizon_days = 3.0;
    base.simulation.steps = 3 * base.simulation.steps_per_day;
    Scenario student_t = base;
    student_t.simulation.model = PriceModel::student_t;
    student_t.simulation.dof = 4.0;
    student_t.simulation.jumps = true;
    student_t.jumps.intensity = 20.0;
    student_t.jumps.market.assign(base.asset_count(), JumpSize{-0.05, 0.03});
    student_t.jumps.idiosyncratic_intensity.assign(base.asset_count(), 0.0);
    student_t.jumps.idiosyncratic.assign(base.asset_count(), JumpSize{});
    Scenario garch = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example_garch.toml");
    garch.simulation.horizon_days = 3.0;
    garch.simulation.steps = 3 * garch.simulation.steps_per_day;
    for (const Scenario* s : {&student_t, &garch}) {
        INFO("model " << to_string(s->simulation.model));
        Scenario u = *s;
        u.uncertainty.returns = 1e9;
        const Report plain = simulate(*s, RunOptions{60000, 3, 2});
        const Report uncertain = simulate(u, RunOptions{60000, 3, 2});
        marginsim::testing::check_probabilities_agree(plain, uncertain);
    }
}

TEST_CASE("uncertainty: results depend only on the scenario and the seed and not on the thread count") {
    Scenario s = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example.toml");
    s.uncertainty.returns = 30.0;
    const Report a = simulate(s, RunOptions{20000, 5, 1});
    const Report b = simulate(s, RunOptions{20000, 5, 2});
    marginsim::testing::require_same(a, b);
}

TEST_CASE("uncertainty: the table is read and checked and reported and in the checkpoint's hash") {
    using marginsim::testing::base;
    using marginsim::testing::error_of;
    const Scenario s = parse_scenario(base + "[uncertainty]\nreturns = 90\n", "case.toml");
    CHECK(s.uncertainty.returns == 90.0);
    CHECK(parse_scenario(base, "case.toml").uncertainty.returns == 0.0);
    LoadOptions options;
    options.overrides = {parse_override("uncertainty.returns=45.5")};
    CHECK(parse_scenario(base + "[uncertainty]\nreturns = 90\n", "case.toml", options).uncertainty.returns == 45.5);
    CHECK(scenario_content_hash(s) != scenario_content_hash(parse_scenario(base, "case.toml")));

    CHECK(error_of(base + "[uncertainty]\nreturns = 1.5\n") ==
          "case.toml:26:11: uncertainty.returns: out of range: found 1.5 (expected a number of daily returns >= 3 (the "
          "number of assets + 1))");
    CHECK(error_of(base + "[uncertainty]\n") ==
          "case.toml:25:1: uncertainty.returns: missing required key (expected a number of daily returns >= 3 (the "
          "number of assets + 1))");
    CHECK(error_of(base + "[uncertainty]\nreturns = 90\nvolatility = 0.1\n") ==
          "case.toml:27:1: uncertainty.volatility: unknown key (expected one of returns)");
    const std::string regime = marginsim::testing::edited(
        base, {{"horizon_days = 7\n", "horizon_days = 7\nmodel = \"regime\"\n"},
               {"", "[regime]\ncalm_to_stress = 2\nstress_to_calm = 20\n[regime.stress]\nvolatility_scale = 2\n"
                    "[uncertainty]\nreturns = 90\n"}});
    CHECK(error_of(regime) ==
          "case.toml:31:1: uncertainty: [uncertainty] draws one volatility per asset and path, but the regime model "
          "has one per regime (expected no [uncertainty] table with model = \"regime\", or another model)");

    Scenario run = s;
    const Report report = simulate(run, RunOptions{2000, 1, 1});
    const nlohmann::json json = nlohmann::json::parse(to_json(report));
    CHECK(json["simulation"]["parameter_uncertainty"]["returns"] == 90.0);
    CHECK(std::abs(json["simulation"]["parameter_uncertainty"]["variance_relative_sd"].get<double>() -
                   std::sqrt(2.0 / 90.0)) < 1e-15);
    CHECK(to_csv(report).find("simulation,,uncertainty_returns,90\n") != std::string::npos);
    std::ostringstream text;
    write_text(text, report);
    CHECK(text.str().find("volatilities uncertain, as if estimated from 90 daily returns: variance sd 15%") !=
          std::string::npos);

    marginsim::testing::TempDir dir("marginsim_uncertainty");
    const auto path = dir.write("book.toml", base + "[uncertainty]\nreturns = 90\n");
    const marginsim::testing::CliResult validated = dir.run("validate " + marginsim::testing::shell_quoted(path));
    CHECK(validated.code == 0);
    CHECK(validated.out.find("uncertainty    volatilities drawn per path as estimated from 90 daily returns") !=
          std::string::npos);
}

TEST_CASE("uncertainty: calibrate's returns are 2 n / (2 + g2) of the least certain asset and written commented "
          "out in the snippet which loads once uncommented") {
    using namespace marginsim::testing;
    const Date start = date(2024, 1, 1);
    // A gaussian walk, and one with fat tails: each tenth day's move five times larger.
    Closes fat = random_walk(start, 366, 0.02, 3);
    std::vector<double> x{std::log(fat.closes[0])};
    for (std::size_t k = 1; k < fat.closes.size(); ++k)
        x.push_back(x.back() + std::log(fat.closes[k] / fat.closes[k - 1]) * (k % 10 == 0 ? 5.0 : 1.0));
    fat = log_prices(start, x);
    const std::vector<PriceSeries> series{series_of("BTC", random_walk(start, 366, 0.03, 2)), series_of("ETH", fat)};
    for (const CovarianceMethod method : {CovarianceMethod::sample, CovarianceMethod::ewma}) {
        INFO("method " << to_string(method));
        CalibrationOptions options;
        options.method = method;
        const Calibration c = calibrate(align_returns(series), options);
        // n: 365 returns, or the ewma weights' (sum w)^2 / sum w^2, computed here.
        double n = 365.0;
        if (method == CovarianceMethod::ewma) {
            double sum = 0.0, squares = 0.0;
            for (int k = 0; k < 365; ++k) {
                const double w = std::pow(0.94, k);
                sum += w;
                squares += w * w;
            }
            n = sum * sum / squares;
        }
        double nu = 1e300;
        for (const std::vector<double>& r : c.data.returns) {
            const double m2 = sample_moments::central_moment(r, 2);
            const double g2 = sample_moments::central_moment(r, 4) / (m2 * m2) - 3.0;
            nu = std::min(nu, 2.0 * n / (2.0 + g2));
        }
        CHECK(c.uncertainty_returns == Approx(nu).epsilon(0.02));
        CHECK(c.uncertainty_returns < 0.5 * n);  // ETH's fat tails rule
        const std::string snippet = to_toml_snippet(c);
        const std::string block = fmt::format("# [uncertainty]\n# returns = {:.1f}\n", c.uncertainty_returns);
        REQUIRE(snippet.find(block) != std::string::npos);
        std::string uncommented = snippet;
        uncommented.replace(uncommented.find(block), block.size(),
                            fmt::format("[uncertainty]\nreturns = {:.1f}\n", c.uncertainty_returns));
        const Scenario s = parse_scenario(snippet_frame + uncommented + with_position("ETH"), "snippet.toml");
        CHECK(s.uncertainty.returns == Approx(c.uncertainty_returns).margin(0.05));
    }
    // The regime model has no one volatility per asset to draw: no block.
    CalibrationOptions regime;
    regime.model = CalibratedModel::regime;
    CHECK(to_toml_snippet(calibrate(align_returns(series), regime)).find("[uncertainty]") == std::string::npos);
}

TEST_CASE("uncertainty: importance sampling agrees with plain sampling") {
    // The tilt's likelihood ratio is that of the step normals; the variance draws are not tilted.
    Scenario s = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example.toml");
    s.simulation.horizon_days = 2.0;
    s.simulation.steps = 2 * s.simulation.steps_per_day;
    s.uncertainty.returns = 20.0;
    const Report plain = simulate(s, RunOptions{100000, 9, 2});
    s.simulation.importance_sampling = ImportanceSampling::selloff;
    const Report weighted = simulate(s, RunOptions{100000, 9, 2});
    marginsim::testing::check_probabilities_agree(plain, weighted);
}
