// The garch model against closed forms: the expected variance forecast of GARCH(1,1) and the
// horizon's log-return variance it implies (the same at 1 and 24 steps a day), the exact
// kurtosis of a day's return from its second-moment recursion, the correlation and the
// Student-t kurtosis of the standardised residuals (refiltered from the simulated returns by
// the test itself), the GBM first passage with constant variance, continuous monitoring that
// does not depend on the steps per day; determinism; the [garch] keys and their errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "engine/market_model.hpp"
#include "first_passage.hpp"
#include "marginsim/simulate.hpp"
#include "same_numbers.hpp"
#include "sample_moments.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;
using marginsim::testing::error_of;
using marginsim::testing::replaced;

namespace {

constexpr std::size_t paths_per_block = 1024;

// model = "garch" on every asset of the builder's scenario.
Scenario with_garch(Scenario s, const GarchParameters& g,
                    Innovations innovations = Innovations::gaussian, double dof = 0.0) {
    s.simulation.model = PriceModel::garch;
    s.simulation.dof = dof;
    s.garch.innovations = innovations;
    s.garch.assets.assign(s.asset_count(), g);
    return s;
}

// Daily log returns of the price model alone, [asset][day][path], over `blocks` blocks of 1024
// paths (stream = block index), the days of the scenario's horizon.
using DailyReturns = std::vector<std::vector<std::vector<double>>>;

DailyReturns daily_returns(const Scenario& scenario, std::size_t blocks) {
    Scenario s = scenario;
    s.simulation.monitoring = Monitoring::discrete;  // the price model alone: no bridge draws
    const MarketModel model(s);
    const std::size_t n = paths_per_block, assets = s.asset_count();
    const int spd = s.simulation.steps_per_day;
    const int days = s.simulation.steps / spd;
    DailyReturns out(assets, std::vector<std::vector<double>>(static_cast<std::size_t>(days)));
    PathBlock paths(assets, n);
    std::vector<double> previous(assets * n);
    for (std::size_t b = 0; b < blocks; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, n, rng);
        for (std::size_t i = 0; i < assets; ++i) std::copy_n(paths.log_price(i), n, previous.begin() + i * n);
        for (int d = 0; d < days; ++d) {
            for (int k = 0; k < spd; ++k) model.step(paths, rng);
            for (std::size_t i = 0; i < assets; ++i)
                for (std::size_t p = 0; p < n; ++p) {
                    out[i][static_cast<std::size_t>(d)].push_back(paths.log_price(i)[p] - previous[i * n + p]);
                    previous[i * n + p] = paths.log_price(i)[p];
                }
        }
    }
    return out;
}

// The standardised residuals z = eps / sqrt(h) of one asset, refiltered from its daily returns
// by the GARCH recursion (as a user's filter would): eps = r - (mu / 365 - h / 2) with mu = 0,
// h_0 = vol^2 / 365, h <- omega + alpha eps^2 + beta h. [day][path] flattened.
std::vector<double> standardised_residuals(const std::vector<std::vector<double>>& returns, double vol,
                                           const GarchParameters& g) {
    const std::size_t days = returns.size(), n = returns[0].size();
    std::vector<double> z;
    z.reserve(days * n);
    std::vector<double> h(n, vol * vol / 365.0);
    for (std::size_t d = 0; d < days; ++d)
        for (std::size_t p = 0; p < n; ++p) {
            const double eps = returns[d][p] + 0.5 * h[p];
            z.push_back(eps / std::sqrt(h[p]));
            h[p] = g.omega + g.alpha * eps * eps + g.beta * h[p];
        }
    return z;
}

// A statistic over independent batches of a sample: its value on the whole and its standard
// error (the spread of the batch values over sqrt(batches)).
template <class Statistic>
std::pair<double, double> with_error(const std::vector<double>& x, std::size_t batches, Statistic statistic) {
    const std::size_t size = x.size() / batches;
    std::vector<double> per;
    for (std::size_t b = 0; b < batches; ++b)
        per.push_back(statistic(std::vector<double>(x.begin() + static_cast<std::ptrdiff_t>(b * size),
                                                    x.begin() + static_cast<std::ptrdiff_t>((b + 1) * size))));
    const double mean = sample_moments::mean(per);
    double ss = 0.0;
    for (const double v : per) ss += (v - mean) * (v - mean);
    return {statistic(x), std::sqrt(ss / static_cast<double>(batches - 1) / static_cast<double>(batches))};
}

double kurtosis(const std::vector<double>& x) {
    const double m2 = sample_moments::central_moment(x, 2);
    return sample_moments::central_moment(x, 4) / (m2 * m2);
}

Scenario one_asset(double vol, int steps_per_day, double days) {
    return ScenarioBuilder(10000, days, steps_per_day).asset("BTC", 60000, vol).build();
}

}  // namespace

TEST_CASE("garch: the horizon log return has the variance of the GARCH(1,1) forecast at 1 and 24 steps a day") {
    // Today's variance twice the long-run one: E[h_d] = V + (a + b)^d (h_0 - V) decays over
    // the 30 days, between the constant-h_0 (60 V) and the constant-V (30 V) answers.
    const GarchParameters g{0.0, 0.10, 0.85};
    const double vol = 0.30, h0 = vol * vol / 365.0, V = h0 / 2.0;
    const GarchParameters garch{V * (1.0 - g.alpha - g.beta), g.alpha, g.beta};
    const int days = 30;
    double forecast = 0.0;
    for (int d = 0; d < days; ++d) forecast += V + std::pow(garch.persistence(), d) * (h0 - V);
    REQUIRE(forecast > 45.0 * V);
    REQUIRE(forecast < 46.0 * V);
    for (const int spd : {1, 24}) {
        INFO("steps_per_day " << spd);
        const DailyReturns r = daily_returns(with_garch(one_asset(vol, spd, days), garch), spd == 1 ? 200 : 60);
        std::vector<double> total(r[0][0].size(), 0.0);
        for (const auto& day : r[0])
            for (std::size_t p = 0; p < day.size(); ++p) total[p] += day[p];
        // ln(P_T / P_0) = sum_d (eps_d - h_d / 2): variance sum E[h_d] + Var(sum h_d) / 4 (the
        // eps_d are uncorrelated with every h), the second term below 1e-3 of the first here;
        // mean -sum E[h_d] / 2.
        const auto [variance, variance_error] = with_error(total, 20, [](const std::vector<double>& x) {
            return sample_moments::central_moment(x, 2);
        });
        CHECK(std::abs(variance - forecast) < 4.0 * variance_error + 1e-3 * forecast);
        const auto [mean, mean_error] = with_error(total, 20, sample_moments::mean);
        CHECK(std::abs(mean + 0.5 * forecast) < 4.0 * mean_error);
    }
}

TEST_CASE("garch: a day's return has the kurtosis of the GARCH(1,1) moment recursion, and squared returns cluster") {
    // From a fixed h_0: E[eps_d^4] = 3 E[h_d^2], with E[h_{d+1}] = w + (a + b) E[h_d] and
    // E[h_{d+1}^2] = w^2 + 2 w (a + b) E[h_d] + (3 a^2 + 2 a b + b^2) E[h_d^2].
    const double vol = 0.6, h0 = vol * vol / 365.0;
    const GarchParameters g{h0 * 0.05, 0.15, 0.80};
    const int days = 12;
    const DailyReturns r = daily_returns(with_garch(one_asset(vol, 2, days), g), 200);
    double m1 = h0, m2 = h0 * h0;
    for (int d = 0; d + 1 < days; ++d) {
        m2 = g.omega * g.omega + 2.0 * g.omega * g.persistence() * m1 +
             (3.0 * g.alpha * g.alpha + 2.0 * g.alpha * g.beta + g.beta * g.beta) * m2;
        m1 = g.omega + g.persistence() * m1;
    }
    const double exact = 3.0 * m2 / (m1 * m1);
    REQUIRE(exact > 4.0);  // far from the gaussian 3
    const auto [k, k_error] = with_error(r[0][days - 1], 20, kurtosis);
    CHECK(std::abs(k - exact) < 4.0 * k_error);
    // Squared returns of consecutive days are positively correlated (alpha > 0).
    std::vector<double> today, tomorrow;
    for (int d = 0; d + 1 < days; ++d)
        for (std::size_t p = 0; p < r[0][0].size(); ++p) {
            today.push_back(r[0][d][p] * r[0][d][p]);
            tomorrow.push_back(r[0][d + 1][p] * r[0][d + 1][p]);
        }
    CHECK(sample_moments::correlation(today, tomorrow) > 0.05);
}

TEST_CASE("garch: standardised residuals are unit-variance with the configured correlation") {
    const double rho = 0.6;
    const GarchParameters g{2e-5, 0.12, 0.83};
    const Scenario s = with_garch(ScenarioBuilder(10000, 10, 3)
                                      .asset("BTC", 60000, 0.5)
                                      .asset("ETH", 3000, 0.8)
                                      .uniform_correlation(rho)
                                      .build(),
                                  g);
    const DailyReturns r = daily_returns(s, 60);
    const std::vector<double> z0 = standardised_residuals(r[0], 0.5, g);
    const std::vector<double> z1 = standardised_residuals(r[1], 0.8, g);
    const double n = static_cast<double>(z0.size());
    CHECK(std::abs(sample_moments::correlation(z0, z1) - rho) < 4.0 * (1.0 - rho * rho) / std::sqrt(n));
    for (const auto* z : {&z0, &z1}) {
        CHECK(std::abs(sample_moments::central_moment(*z, 2) - 1.0) < 4.0 * std::sqrt(2.0 / n));
        CHECK(std::abs(kurtosis(*z) - 3.0) < 4.0 * std::sqrt(24.0 / n));
    }
}

TEST_CASE("garch: Student-t innovations give standardised residuals of kurtosis 3 (dof - 2) / (dof - 4)") {
    const double dof = 10.0;  // finite eighth moment: the sample kurtosis has a standard error
    const GarchParameters g{2e-5, 0.10, 0.85};
    const Scenario s = with_garch(ScenarioBuilder(10000, 10, 4)
                                      .asset("BTC", 60000, 0.5)
                                      .asset("ETH", 3000, 0.8)
                                      .uniform_correlation(0.5)
                                      .build(),
                                  g, Innovations::student_t, dof);
    const DailyReturns r = daily_returns(s, 100);
    const std::vector<double> z0 = standardised_residuals(r[0], 0.5, g);
    const std::vector<double> z1 = standardised_residuals(r[1], 0.8, g);
    const auto [k, k_error] = with_error(z0, 25, kurtosis);
    CHECK(std::abs(k - 3.0 * (dof - 2.0) / (dof - 4.0)) < 4.0 * k_error);
    const double n = static_cast<double>(z0.size());
    CHECK(std::abs(sample_moments::central_moment(z0, 2) - 1.0) < 4.0 * with_error(z0, 25, [](const auto& x) {
                                                                      return sample_moments::central_moment(x, 2);
                                                                  }).second);
    CHECK(std::abs(sample_moments::correlation(z0, z1) - 0.5) < 6.0 * 0.75 / std::sqrt(n));
}

TEST_CASE("garch: with alpha = 0 and today at the long-run variance it is the GBM: first passage and the gaussian model") {
    // One isolated long, flat maintenance rate, continuous monitoring: P(liquidation) is the
    // GBM first-passage probability to its liquidation price.
    const double vol = 0.8, rate = 0.005, leverage = 10.0, days = 3.0;
    const double V = vol * vol / 365.0;
    const GarchParameters g{V * (1.0 - 0.9), 0.0, 0.9};
    const double exact = marginsim::testing::continuous_liquidation(Side::long_side, vol, 0.0, leverage, rate,
                                                                    days / marginsim::testing::days_per_year);
    for (const int spd : {1, 4}) {
        INFO("steps_per_day " << spd);
        const Scenario gaussian = ScenarioBuilder(1000, days, spd, 100000)
                                      .asset("BTC", 60000, vol, 0.0, rate)
                                      .position("BTC", Side::long_side, 1000, leverage, MarginMode::isolated)
                                      .build();
        const Report garch_run = simulate(with_garch(gaussian, g), RunOptions{std::nullopt, 11, 2});
        const Proportion p = garch_run.modes[0].summary.liquidation_probability;
        CHECK(p.ci95.lo - 1e-3 < exact);
        CHECK(p.ci95.hi + 1e-3 > exact);
        // The same draws as the gaussian model of that volatility: the same paths to rounding.
        const Proportion q = simulate(gaussian, RunOptions{std::nullopt, 11, 2}).modes[0].summary.liquidation_probability;
        CHECK(std::abs(p.estimate - q.estimate) < 1e-4);
    }
}

TEST_CASE("garch: continuous monitoring gives the same P(liquidation) at 1 and 24 steps a day") {
    // Within a day the variance is constant, so the bridges are exact on either clock: a
    // bridge that took the scenario's volatility in place of the path's own would not be.
    const double vol = 0.6, V = vol * vol / 365.0;
    // Today calm: long-run variance 6 times today's, strong clustering.
    const GarchParameters g{V * 0.3, 0.25, 0.7};
    std::vector<std::vector<Proportion>> ps;
    for (const int spd : {1, 24}) {
        const Scenario s = ScenarioBuilder(3000, 10, spd, 60000)
                               .asset("BTC", 60000, vol, 0.0, 0.005)
                               .asset("ETH", 3000, vol * 1.3, 0.0, 0.005)
                               .uniform_correlation(0.7)
                               .position("BTC", Side::long_side, 1000, 8, MarginMode::isolated)
                               .position("ETH", Side::long_side, 1000, 8)
                               .build();
        const Report report = simulate(with_garch(s, g), RunOptions{std::nullopt, 5, 2});
        std::vector<Proportion> p;
        for (const ModeReport& mode : report.modes) p.push_back(mode.summary.liquidation_probability);
        ps.push_back(p);
    }
    const auto half = [](const Proportion& x) { return (x.ci95.hi - x.ci95.lo) / 2.0; };
    for (std::size_t m = 0; m < mode_count; ++m) {
        INFO("mode " << m << ": " << ps[0][m].estimate << " at 1 step a day, " << ps[1][m].estimate << " at 24");
        CHECK(ps[0][m].estimate > 0.1);
        CHECK(std::abs(ps[0][m].estimate - ps[1][m].estimate) < 2.0 * std::hypot(half(ps[0][m]), half(ps[1][m])));
    }
}

TEST_CASE("garch runs depend only on the scenario and the seed and not on the thread count") {
    const Scenario s = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example_garch.toml");
    Scenario t = s;
    t.garch.innovations = Innovations::student_t;
    t.simulation.dof = 5.0;
    for (const Scenario* x : {&s, static_cast<const Scenario*>(&t)}) {
        const Report a = simulate(*x, RunOptions{8000, 3, 1});
        const Report b = simulate(*x, RunOptions{8000, 3, 2});
        marginsim::testing::require_same(a, b);
        CHECK(a.modes[0].summary.liquidation_probability.estimate > 0.0);
    }
}

TEST_CASE("garch with importance sampling agrees with plain sampling") {
    // The likelihood ratio is that of the normals alone, whatever maps them to prices.
    Scenario s = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example_garch.toml");
    s.simulation.horizon_days = 2.0;
    s.simulation.steps = 8;
    const Report plain = simulate(s, RunOptions{100000, 9, 2});
    s.simulation.importance_sampling = ImportanceSampling::selloff;
    const Report weighted = simulate(s, RunOptions{100000, 9, 2});
    marginsim::testing::check_probabilities_agree(plain, weighted);
}

namespace {

const std::string garch_toml = marginsim::testing::two_asset_book("horizon_days = 7\nmodel = \"garch\"\n") + R"([garch]
innovations = "gaussian"
BTC = { omega = 1.9e-5, alpha = 0.07, beta = 0.91 }
ETH = { omega = 3.1e-5, alpha = 0.09, beta = 0.88 }
)";

}  // namespace

TEST_CASE("garch: the [garch] table is read, and --set reaches its keys") {
    const Scenario s = parse_scenario(garch_toml, "case.toml");
    REQUIRE(s.simulation.model == PriceModel::garch);
    REQUIRE(s.garch.assets.size() == 2);
    CHECK(s.garch.innovations == Innovations::gaussian);
    CHECK(s.garch.assets[0].omega == 1.9e-5);
    CHECK(s.garch.assets[1].alpha == 0.09);
    CHECK(s.garch.assets[1].beta == 0.88);
    LoadOptions options;
    options.overrides = {parse_override("garch.BTC.alpha=0.05"), parse_override("garch.innovations=student_t"),
                         parse_override("simulation.dof=6")};
    const Scenario t = parse_scenario(garch_toml, "case.toml", options);
    CHECK(t.garch.assets[0].alpha == 0.05);
    CHECK(t.garch.innovations == Innovations::student_t);
    CHECK(t.simulation.dof == 6.0);
}

TEST_CASE("garch: malformed [garch] keys name the file, line, column and key") {
    struct Case {
        std::string from, to, error;
    };
    const std::vector<Case> cases = {
        {"alpha = 0.07", "alpha = -0.1",
         "case.toml:23:33: garch.BTC.alpha: out of range: found -0.1 (expected a number alpha in [0, 1))"},
        {"beta = 0.91", "beta = 0.95",
         "case.toml:23:33: garch.BTC.alpha: alpha + beta = 0.07 + 0.95 = 1.02 is not below 1: the variance would "
         "have no long-run level and grow without bound (expected alpha + beta < 1)"},
        {"omega = 1.9e-5", "omega = 0",
         "case.toml:23:17: garch.BTC.omega: out of range: found 0 (expected a daily variance omega in (0, 1] "
         "(squared daily log-return units))"},
        {"omega = 3.1e-5, ", "",
         "case.toml:24:7: garch.ETH.omega: missing required key (expected a daily variance omega in (0, 1] "
         "(squared daily log-return units))"},
        {"BTC = { omega = 1.9e-5, alpha = 0.07, beta = 0.91 }\n", "",
         "case.toml:21:1: garch: no GARCH parameters for \"BTC\" (expected an entry BTC = { omega = ..., alpha = "
         "..., beta = ... } for every asset: \"BTC\", \"ETH\")"},
        {"ETH = {", "SOL = {",
         "case.toml:24:1: garch.SOL: unknown key: no asset named \"SOL\" (expected innovations, or one of the "
         "asset symbols \"BTC\", \"ETH\" = { omega = ..., alpha = ..., beta = ... })"},
        {"beta = 0.88 }", "beta = 0.88, gamma = 1 }",
         "case.toml:24:52: garch.ETH.gamma: unknown key (expected one of omega, alpha, beta)"},
        {"innovations = \"gaussian\"", "innovations = \"laplace\"",
         "case.toml:22:15: garch.innovations: unknown value \"laplace\" (expected one of \"gaussian\", \"student_t\")"},
        {"innovations = \"gaussian\"", "innovations = \"student_t\"",
         "case.toml:22:15: garch.innovations: innovations = \"student_t\" needs the degrees of freedom, but "
         "simulation.dof is not given (expected dof = a number > 2 in [simulation], or innovations = \"gaussian\")"},
        {"model = \"garch\"", "model = \"garch\"\ndof = 5",
         "case.toml:4:7: simulation.dof: dof is only used by the garch model with innovations = \"student_t\", but "
         "the innovations are \"gaussian\" (expected no dof, or innovations = \"student_t\" in [garch])"},
        {"model = \"garch\"", "model = \"gaussian\"",
         "case.toml:21:1: garch: [garch] is only used by model = \"garch\", but the model is \"gaussian\" "
         "(expected model = \"garch\" in [simulation], or no [garch] table)"},
    };
    for (const Case& c : cases) CHECK(error_of(replaced(garch_toml, c.from, c.to)) == c.error);
    const std::string no_table = garch_toml.substr(0, garch_toml.find("[garch]"));
    CHECK(error_of(no_table) ==
          "case.toml:3:9: garch: missing required table (expected a [garch] table with omega, alpha and beta for "
          "every asset for model = \"garch\")");
}
