// Calibration of the time-varying models: GARCH(1,1) by quasi-maximum likelihood recovers
// the parameters of simulated series, its standard errors match the spread of repeated fits,
// and the volatility filters (GARCH, EWMA) follow their recursions.

#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <random>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

struct TrueGarch {
    double omega;
    double alpha;
    double beta;
    double mean = 0.0;
};

// A GARCH(1,1) series started at its long-run variance; innovations standard normal, or
// Student-t of unit variance with `dof` degrees of freedom.
std::vector<double> simulate_garch(const TrueGarch& g, std::size_t n, std::uint64_t seed,
                                   double dof = 0.0) {
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> normal;
    std::chi_squared_distribution<double> chi_square(dof > 0.0 ? dof : 1.0);
    double h = g.omega / (1.0 - g.alpha - g.beta);
    std::vector<double> returns;
    for (std::size_t t = 0; t < n; ++t) {
        double z = normal(engine);
        if (dof > 0.0) z *= std::sqrt((dof - 2.0) / chi_square(engine));
        const double e = std::sqrt(h) * z;
        returns.push_back(g.mean + e);
        h = g.omega + g.alpha * e * e + g.beta * h;
    }
    return returns;
}

void check_within(const Estimate& estimate, double truth, double standard_errors) {
    INFO("estimate " << estimate.value << " (" << estimate.standard_error << "), truth " << truth);
    REQUIRE(std::isfinite(estimate.standard_error));
    REQUIRE(estimate.standard_error > 0.0);
    CHECK(std::abs(estimate.value - truth) <= standard_errors * estimate.standard_error);
}

}  // namespace

TEST_CASE("GARCH(1,1) quasi-maximum likelihood recovers the parameters of a simulated series",
          "[calibrate][garch]") {
    const TrueGarch truth{2e-5, 0.10, 0.85, 0.001};
    const double dof = GENERATE(0.0, 6.0);  // gaussian, then fat-tailed innovations
    INFO("innovation dof (0: gaussian) " << dof);
    const std::vector<double> returns = simulate_garch(truth, 6000, 11, dof);
    const GarchEstimate fit = fit_garch(returns);
    // 4 standard errors: each check fails by chance with probability 6e-5.
    check_within(fit.omega, truth.omega, 4.0);
    check_within(fit.alpha, truth.alpha, 4.0);
    check_within(fit.beta, truth.beta, 4.0);
    CHECK_FALSE(fit.integrated);
    CHECK_FALSE(fit.alpha_at_zero);
    CHECK(fit.long_run_variance() == Approx(truth.omega / (1.0 - truth.alpha - truth.beta)).epsilon(0.25));
}

TEST_CASE("the GARCH standard errors match the spread of estimates over repeated histories",
          "[calibrate][garch]") {
    const TrueGarch truth{3e-5, 0.08, 0.88};
    constexpr int histories = 60;
    std::vector<double> alpha;
    std::vector<double> beta;
    double alpha_se = 0.0;
    double beta_se = 0.0;
    for (int k = 0; k < histories; ++k) {
        const GarchEstimate fit = fit_garch(simulate_garch(truth, 3000, 100 + static_cast<std::uint64_t>(k)));
        alpha.push_back(fit.alpha.value);
        beta.push_back(fit.beta.value);
        alpha_se += fit.alpha.standard_error / histories;
        beta_se += fit.beta.standard_error / histories;
    }
    const auto spread = [](const std::vector<double>& x) {
        double mean = 0.0;
        for (double v : x) mean += v / static_cast<double>(x.size());
        double sum = 0.0;
        for (double v : x) sum += (v - mean) * (v - mean);
        return std::sqrt(sum / static_cast<double>(x.size() - 1));
    };
    // With 60 histories the sample standard deviation is within +-25% of the true one with
    // probability above 99%; the asymptotic standard error is itself approximate at n = 3000.
    INFO("alpha: spread " << spread(alpha) << ", mean standard error " << alpha_se);
    INFO("beta: spread " << spread(beta) << ", mean standard error " << beta_se);
    CHECK(spread(alpha) == Approx(alpha_se).epsilon(0.35));
    CHECK(spread(beta) == Approx(beta_se).epsilon(0.35));
}

TEST_CASE("on returns of constant volatility GARCH finds no clustering and fits no worse than it",
          "[calibrate][garch]") {
    std::mt19937_64 engine(5);
    std::normal_distribution<double> normal(0.0, 0.02);
    std::vector<double> returns(4000);
    for (double& r : returns) r = normal(engine);
    const GarchEstimate fit = fit_garch(returns);
    INFO("alpha " << fit.alpha.value << ", beta " << fit.beta.value);
    CHECK(fit.alpha.value < 0.02);
    // The constant-variance model is GARCH with alpha = beta = 0 and omega = the mean square
    // of the residuals: its Gaussian log-likelihood is the floor of the fit's.
    double mean = 0.0;
    for (double r : returns) mean += r / static_cast<double>(returns.size());
    double v = 0.0;
    for (double r : returns) v += (r - mean) * (r - mean) / static_cast<double>(returns.size());
    const double n = static_cast<double>(returns.size());
    const double constant = -0.5 * n * (std::log(2.0 * M_PI) + std::log(v) + 1.0);
    CHECK(fit.log_likelihood >= constant - 1e-6);
    // Without clustering the long-run volatility is the sample's.
    CHECK(std::sqrt(fit.long_run_variance()) == Approx(std::sqrt(v)).epsilon(0.05));
}

TEST_CASE("a GARCH fit of a short series keeps omega > 0 and alpha + beta <= 1",
          "[calibrate][garch]") {
    // Short series on which the likelihood is flat in omega: the simplex walked omega down to an
    // underflow, 0 (found by the price CSV fuzzer, then by a search over short random series).
    const std::vector<std::vector<double>> series = {
        {0.4, 0.0, 0.5, 0.1, 0.0, 0.6, 0.1, 0.0, 0.3, 0.6, 0.3, 0.3, 0.3, 0.3},
        {0.15507176714463755, 0.12825614470668251, -0.17380062373674809, -0.028653078140568035,
         -0.012870369002478583, -0.11355325038003559, 0.10742303198226688, 0.024283710084204574,
         -0.27870040535984436, -0.035391030038691748, -0.030814236620350488, -0.057202071366794116,
         -0.0027696174377257713, 0.051589352703515237, -0.057514197467400212, -0.10599957709716533,
         -0.13242685616016656, -0.051163887095652998, 0.10129438387545558, -0.022385590727951033,
         -0.066216094839376696, -0.11814549267184296, 0.014444733909488387, 0.089393814237924696,
         0.025620251776897886, 0.0041303164313380939, -0.064385455337958475, -0.041281220999784977,
         0.095077682151941567, -0.0077513601573510104, -0.0896780172158127, -0.023252392864247854,
         -0.038444366591015154, -0.052422104413272788, 0.015860916573510613, -0.11503249804678309,
         -0.073007706536525926, 0.0067431282202093995, -0.054589565043964131},
    };
    for (const std::vector<double>& returns : series) {
        const GarchEstimate fit = fit_garch(returns);
        INFO("omega " << fit.omega.value << ", alpha " << fit.alpha.value << ", beta " << fit.beta.value);
        CHECK(fit.omega.value > 0.0);
        CHECK(fit.alpha.value >= 0.0);
        CHECK(fit.beta.value >= 0.0);
        CHECK(fit.persistence() <= 1.0);
        CHECK(std::isfinite(fit.start_variance));
    }
}

TEST_CASE("the filtered variances follow the GARCH and RiskMetrics recursions",
          "[calibrate][garch]") {
    const std::vector<double> returns{0.01, -0.03, 0.02};
    GarchEstimate g;
    g.omega = {1e-5, 0.0};
    g.alpha = {0.1, 0.0};
    g.beta = {0.8, 0.0};
    g.mean = 0.001;
    g.first_variance = 4e-4;
    const std::vector<double> h = garch_filtered_variance(returns, g);
    REQUIRE(h.size() == 4);
    CHECK(h[0] == 4e-4);
    CHECK(h[1] == Approx(1e-5 + 0.1 * 0.009 * 0.009 + 0.8 * 4e-4).epsilon(1e-14));
    CHECK(h[2] == Approx(1e-5 + 0.1 * 0.031 * 0.031 + 0.8 * h[1]).epsilon(1e-14));
    CHECK(h[3] == Approx(1e-5 + 0.1 * 0.019 * 0.019 + 0.8 * h[2]).epsilon(1e-14));

    const std::vector<double> e = ewma_filtered_variance(returns, 0.94);
    REQUIRE(e.size() == 4);
    const double start = (1e-4 + 9e-4 + 4e-4) / 3.0;
    CHECK(e[0] == Approx(start).epsilon(1e-14));
    CHECK(e[1] == Approx(0.94 * start + 0.06 * 1e-4).epsilon(1e-14));
    CHECK(e[3] == Approx(0.94 * e[2] + 0.06 * 4e-4).epsilon(1e-14));
}

TEST_CASE("the fitted start variance is the recursion's forecast for the day after the data",
          "[calibrate][garch]") {
    const std::vector<double> returns = simulate_garch({2e-5, 0.12, 0.8}, 2000, 3);
    const GarchEstimate fit = fit_garch(returns);
    double h = fit.first_variance;
    for (double r : returns) {
        const double e = r - fit.mean;
        h = fit.omega.value + fit.alpha.value * e * e + fit.beta.value * h;
    }
    CHECK(fit.start_variance == Approx(h).epsilon(1e-12));
}

namespace {

// Two assets whose GARCH(1,1) returns share correlated gaussian innovations (rho 0.6): fat
// tails in the returns from clustering alone, none in the returns given their volatility.
std::vector<PriceSeries> clustered_pair(std::size_t n) {
    std::mt19937_64 engine(21);
    std::normal_distribution<double> normal;
    const TrueGarch g{1e-5, 0.12, 0.86};
    double h1 = g.omega / (1.0 - g.alpha - g.beta);
    double h2 = h1;
    std::vector<double> x1{std::log(100.0)};
    std::vector<double> x2{std::log(50.0)};
    for (std::size_t t = 1; t < n; ++t) {
        const double z1 = normal(engine);
        const double z2 = 0.6 * z1 + 0.8 * normal(engine);
        const double e1 = std::sqrt(h1) * z1;
        const double e2 = std::sqrt(h2) * z2;
        x1.push_back(x1.back() + e1);
        x2.push_back(x2.back() + e2);
        h1 = g.omega + g.alpha * e1 * e1 + g.beta * h1;
        h2 = g.omega + g.alpha * e2 * e2 + g.beta * h2;
    }
    const Date start = date(2015, 1, 1);
    return {series_of("AAA", log_prices(start, x1)), series_of("BBB", log_prices(start, x2))};
}

}  // namespace

TEST_CASE("the Student-t dof differs between sample- and volatility-standardised returns when "
          "volatility clusters",
          "[calibrate][garch]") {
    const AlignedReturns data = align_returns(clustered_pair(4000));
    CalibrationOptions sample;
    CalibrationOptions ewma;
    ewma.method = CovarianceMethod::ewma;
    const Calibration by_sample = calibrate(data, sample);
    const Calibration by_ewma = calibrate(data, ewma);
    REQUIRE(by_sample.dof);
    REQUIRE(by_ewma.dof);
    REQUIRE(by_sample.garch_dof);
    // Gaussian innovations: the returns given their volatility have thin tails (dof large or at
    // the upper bound), the returns as a whole fat ones (GARCH kurtosis 3 (1 - p^2) /
    // (1 - p^2 - 2 a^2) = 5.1 here, a Student-t of about 6.8 dof).
    INFO("sample " << by_sample.dof->estimate.value << ", ewma " << by_ewma.dof->estimate.value
                   << ", garch residuals " << by_sample.garch_dof->estimate.value);
    CHECK(by_sample.dof->estimate.value < 12.0);
    CHECK(by_ewma.dof->estimate.value > 2.0 * by_sample.dof->estimate.value);
    CHECK(by_sample.garch_dof->estimate.value > 30.0);
    // The residuals keep the innovations' correlation.
    CHECK(by_sample.garch_correlation[1].value ==
          Approx(0.6).margin(4.0 * by_sample.garch_correlation[1].standard_error));
}

TEST_CASE("a calibration as of a day (--as-of) uses the closes up to it only: later closes change nothing",
          "[calibrate][garch]") {
    const std::vector<PriceSeries> full = clustered_pair(1200);
    const Date as_of = date(2017, 6, 30);
    std::vector<PriceSeries> truncated = full;
    for (PriceSeries& s : truncated) {
        const auto end = std::upper_bound(s.dates.begin(), s.dates.end(), as_of);
        const auto kept = end - s.dates.begin();
        s.dates.resize(static_cast<std::size_t>(kept));
        s.closes.resize(static_cast<std::size_t>(kept));
    }
    TempDir dir("marginsim_as_of");
    std::vector<std::filesystem::path> full_files;
    std::vector<std::filesystem::path> truncated_files;
    for (std::size_t i = 0; i < full.size(); ++i) {
        std::filesystem::create_directories(dir.path() / "full");
        std::filesystem::create_directories(dir.path() / "cut");
        full_files.push_back(dir.path() / "full" / (full[i].symbol + ".csv"));
        truncated_files.push_back(dir.path() / "cut" / (full[i].symbol + ".csv"));
        std::ofstream(full_files.back()) << ordered_csv({full[i].dates, full[i].closes});
        std::ofstream(truncated_files.back()) << ordered_csv({truncated[i].dates, truncated[i].closes});
    }
    CalibrationOptions options;
    options.window_days = 365;
    options.model = CalibratedModel::student_t;
    const Calibration cut = calibrate_files(truncated_files, {"AAA", "BBB"}, options);
    options.as_of = as_of;
    const Calibration as_of_calibration = calibrate_files(full_files, {"AAA", "BBB"}, options);
    CHECK(as_of_calibration.data.last_date == as_of);
    CHECK(format_date(*as_of_calibration.as_of) == "2017-06-30");
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(as_of_calibration.volatility[i].value == cut.volatility[i].value);
        CHECK(as_of_calibration.garch[i].omega.value == cut.garch[i].omega.value);
        CHECK(as_of_calibration.garch[i].start_variance == cut.garch[i].start_variance);
    }
    CHECK(as_of_calibration.dof->estimate.value == cut.dof->estimate.value);
    // The snippets differ only by the line that says the date.
    std::string snippet = to_toml_snippet(as_of_calibration);
    const std::string said = "# As of 2017-06-30: the closes after it are not used.\n";
    const std::size_t at = snippet.find(said);
    REQUIRE(at != std::string::npos);
    CHECK(snippet.erase(at, said.size()) == to_toml_snippet(cut));

    options.as_of = date(2014, 12, 1);  // before the first close
    try {
        calibrate_files(full_files, {"AAA", "BBB"}, options);
        FAIL("a date before the history was accepted");
    } catch (const InputError& error) {
        CHECK(error.key() == "--as-of");
        CHECK(std::string(error.what()).find("2015-01-01") != std::string::npos);
    }
}

TEST_CASE("calibrate --json carries every fitted parameter with its standard error",
          "[calibrate][garch]") {
    const std::vector<PriceSeries> pair = clustered_pair(800);
    TempDir dir("marginsim_calibrate_json");
    std::string files;
    for (const PriceSeries& s : pair) {
        const auto path = dir.path() / (s.symbol + ".csv");
        std::ofstream(path) << ordered_csv({s.dates, s.closes});
        files += ' ' + shell_quoted(path);
    }
    const auto json_path = dir.path() / "calibration.json";
    const CliResult result =
        run_shell(std::string(MARGINSIM_CLI) + " calibrate" + files + " --symbols AAA,BBB --json " +
                      shell_quoted(json_path) + " --out " + shell_quoted(dir.path() / "snippet.toml"),
                  dir.path() / "out", dir.path() / "err");
    INFO(result.err);
    REQUIRE(result.code == 0);
    const nlohmann::json json = nlohmann::json::parse(read_all(json_path));
    CHECK(json["schema"] == "marginsim.calibration/1");
    // The library's own estimates, independently of the rendering.
    const Calibration c = calibrate(align_returns(pair));
    REQUIRE(json["assets"].size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const nlohmann::json& garch = json["assets"][i]["garch"];
        CHECK(json["assets"][i]["symbol"] == pair[i].symbol);
        CHECK(garch["omega"].get<double>() == c.garch[i].omega.value);
        CHECK(garch["alpha"].get<double>() == c.garch[i].alpha.value);
        CHECK(garch["beta"].get<double>() == c.garch[i].beta.value);
        CHECK(garch["std_error"]["alpha"].get<double>() == c.garch[i].alpha.standard_error);
        CHECK(json["assets"][i]["volatility"]["estimate"].get<double>() == c.volatility[i].value);
    }
    CHECK(json["correlation"]["matrix"][0][1].get<double>() == c.correlation_at(0, 1).value);
    CHECK(json["student_t"]["dof"]["estimate"].get<double>() == c.dof->estimate.value);
    CHECK(json["garch_residuals"]["dof"]["estimate"].get<double>() == c.garch_dof->estimate.value);
    // --json fits every model: the regimes too.
    const RegimeEstimate regimes = fit_regimes(c.data);
    CHECK(json["regimes"]["calm_to_stress"]["estimate"].get<double>() == regimes.calm_to_stress.value);
    CHECK(json["regimes"]["stress"]["volatility"][1]["estimate"].get<double>() ==
          regimes.volatility[1][1].value);
}

TEST_CASE("the regime EM recovers the switching intensities, volatilities and correlations of a "
          "simulated two-regime history",
          "[calibrate][regime]") {
    // Daily switch probabilities 0.02 (calm -> stress) and 0.06 (back): a quarter of the days
    // in stress; stress triples the volatilities (so that even a stay of a day or two shows) and lifts the correlation from 0.5 to 0.85.
    const double p_cs = 0.02;
    const double p_sc = 0.06;
    const std::array<std::array<double, 2>, 2> sd{{{0.02, 0.03}, {0.06, 0.09}}};
    const std::array<double, 2> rho{0.5, 0.85};
    std::mt19937_64 engine(17);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform;
    int regime = 0;
    std::vector<double> x1{std::log(100.0)};
    std::vector<double> x2{std::log(10.0)};
    constexpr int days = 6000;
    // What this history did: the days spent in each regime before a switch test, and switches.
    std::array<double, 2> stayed{0.0, 0.0};
    std::array<double, 2> switched{0.0, 0.0};
    for (int t = 1; t < days; ++t) {
        const double z1 = normal(engine);
        const double z2 = rho[regime] * z1 + std::sqrt(1.0 - rho[regime] * rho[regime]) * normal(engine);
        x1.push_back(x1.back() + sd[regime][0] * z1);
        x2.push_back(x2.back() + sd[regime][1] * z2);
        stayed[static_cast<std::size_t>(regime)] += 1.0;
        if (uniform(engine) < (regime == 0 ? p_cs : p_sc)) {
            switched[static_cast<std::size_t>(regime)] += 1.0;
            regime = 1 - regime;
        }
    }
    const Date start = date(2005, 1, 1);
    const AlignedReturns data =
        align_returns({series_of("AAA", log_prices(start, x1)), series_of("BBB", log_prices(start, x2))});
    const RegimeEstimate fit = fit_regimes(data);
    INFO("calm_to_stress " << fit.calm_to_stress.value << " (" << fit.calm_to_stress.standard_error
                           << "), stress_to_calm " << fit.stress_to_calm.value << " ("
                           << fit.stress_to_calm.standard_error << "), iterations " << fit.iterations);
    // The likelihood sees the regimes only through the returns: a stay of a day or two is
    // easily missed, so the intensities are uncertain well beyond the counts' binomial error.
    // Their standard errors (observed information) must cover the truth, and not by being huge.
    const auto truth = [](double q) { return -365.0 * std::log1p(-q); };  // 7.37 and 22.6 a year
    CHECK(std::abs(fit.calm_to_stress.value - truth(p_cs)) <= 3.0 * fit.calm_to_stress.standard_error);
    CHECK(std::abs(fit.stress_to_calm.value - truth(p_sc)) <= 3.0 * fit.stress_to_calm.standard_error);
    CHECK(fit.calm_to_stress.standard_error < 0.2 * truth(p_cs));
    CHECK(fit.stress_to_calm.standard_error < 0.2 * truth(p_sc));
    // The days spent in stress, as this history did.
    CHECK(fit.expected_days[1] == Approx(stayed[1]).epsilon(0.05));
    static_cast<void>(switched);

    // --model regime: the snippet sets up the regime model with these estimates.
    CalibrationOptions options;
    options.model = CalibratedModel::regime;
    const Calibration c = calibrate(data, options);
    REQUIRE(c.regimes);
    const Scenario scenario = parse_scenario(
        "[simulation]\nhorizon_days = 7\nmodel = \"regime\"\n[account]\nbalance = 10000\n" +
            to_toml_snippet(c) + with_position("AAA"),
        "regime snippet");
    CHECK(scenario.simulation.model == PriceModel::regime);
    CHECK(scenario.regimes.calm_to_stress == Approx(fit.calm_to_stress.value).margin(0.005));
    CHECK(scenario.regimes.stress_to_calm == Approx(fit.stress_to_calm.value).margin(0.005));
    CHECK(scenario.regimes.stress_volatility[1] == Approx(fit.volatility[1][1].value).margin(5e-5));
    CHECK(scenario.assets[0].volatility == Approx(fit.volatility[0][0].value).margin(5e-5));
    CHECK(scenario.correlation[1] == Approx(fit.correlation[0][1].value).margin(5e-5));
    CHECK(scenario.regimes.stress_correlation[1] == Approx(fit.correlation[1][1].value).margin(5e-5));
    CHECK(scenario.regimes.start == (regime == 1 ? StartRegime::stress : StartRegime::calm));
    for (int r = 0; r < 2; ++r) {
        for (std::size_t i = 0; i < 2; ++i) {
            INFO("regime " << r << " asset " << i);
            CHECK(fit.volatility[static_cast<std::size_t>(r)][i].value ==
                  Approx(sd[static_cast<std::size_t>(r)][i] * std::sqrt(365.0)).epsilon(0.06));
        }
        CHECK(fit.correlation[static_cast<std::size_t>(r)][1].value ==
              Approx(rho[static_cast<std::size_t>(r)]).margin(0.05));
    }
}

TEST_CASE("calibrate's GARCH fits of the bundled BTC, ETH and SOL agree with the independent fit "
          "behind configs/seed_example_garch.toml",
          "[calibrate][garch]") {
    // That config's parameters come from a separate one-off QMLE (zero mean, a return across a
    // missing day taken as one day's) on the same four years: the two fits differ in those
    // choices only, far less than a standard error.
    const std::filesystem::path dir = std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";
    const Scenario config = load_scenario(std::filesystem::path(MARGINSIM_SOURCE_DIR) / "configs" /
                                          "seed_example_garch.toml");
    CalibrationOptions options;
    options.window_days = 1461;  // 2022-03-30 .. 2026-03-30
    const Calibration c = calibrate_files({dir / "Binance_BTCUSDT_d.csv", dir / "Binance_ETHUSDT_d.csv",
                                           dir / "Binance_SOLUSDT_d.csv"},
                                          {}, options);
    REQUIRE(format_date(c.data.first_date) == "2022-03-30");
    for (std::size_t i = 0; i < 3; ++i) {
        INFO(c.data.series[i].symbol);
        const GarchParameters& independent = config.garch.assets[i];
        const GarchEstimate& fit = c.garch[i];
        CHECK(std::abs(fit.alpha.value - independent.alpha) < 0.5 * fit.alpha.standard_error);
        CHECK(std::abs(fit.beta.value - independent.beta) < 0.5 * fit.beta.standard_error);
        CHECK(std::abs(fit.omega.value - independent.omega) < 0.5 * fit.omega.standard_error);
        // Today's volatility: the same recursion's end.
        CHECK(std::sqrt(365.0 * fit.start_variance) == Approx(config.assets[i].volatility).epsilon(0.03));
    }
}
