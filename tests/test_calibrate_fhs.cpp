// `calibrate --model fhs --filter garch`: the residual set standardised by each asset's fitted
// GARCH(1,1), recomputed here from the fitted omega, alpha, beta and the returns of the files;
// the snippet's [fhs] and [garch] load and run, its recursions the JSON's; --filter is refused
// without --model fhs.

#include "marginsim/calibrate.hpp"
#include "marginsim/scenario.hpp"
#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"
#include "sample_moments.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

// Two clustered series with a drift (so that removing the mean matters) and a common shock
// (a correlation of about 0.6): daily log returns of GARCH(1,1)s with omega 2e-5, alpha 0.12,
// beta 0.83 and a daily mean of 0.4%, 0.3%.
struct TwoAssets {
    std::vector<Closes> closes;
    std::vector<std::vector<double>> returns;  // [asset][k], as the files hold them
};

TwoAssets clustered_history(int count, std::uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> normal;
    const double mean[2] = {0.004, 0.003};
    double h[2] = {4e-4, 4e-4};
    std::vector<double> x[2] = {{std::log(100.0)}, {std::log(20.0)}};
    for (int k = 0; k < count; ++k) {
        const double common = normal(engine);
        for (std::size_t i = 0; i < 2; ++i) {
            const double e = std::sqrt(h[i]) * (0.77 * common + 0.64 * normal(engine));
            x[i].push_back(x[i].back() + mean[i] + e);
            h[i] = 2e-5 + 0.12 * e * e + 0.83 * h[i];
        }
    }
    TwoAssets out;
    out.returns.resize(2);
    for (std::size_t i = 0; i < 2; ++i) {
        out.closes.push_back(log_prices(date(2024, 1, 1), x[i]));
        const std::vector<double>& c = out.closes[i].closes;
        for (std::size_t k = 1; k < c.size(); ++k) out.returns[i].push_back(std::log(c[k] / c[k - 1]));
    }
    return out;
}

// The standardised residuals of a GARCH(1,1) on r: e_t = r_t - mean, h_1 the mean square of e,
// h_(t+1) = omega + alpha e_t^2 + beta h_t; z_t = e_t / sqrt(h_t). `next` gets h_(n+1).
std::vector<double> garch_standardised(const std::vector<double>& r, double omega, double alpha, double beta,
                                       double& next) {
    const double mean = sample_moments::mean(r);
    double h = 0.0;
    for (const double v : r) h += (v - mean) * (v - mean) / static_cast<double>(r.size());
    std::vector<double> z;
    for (const double v : r) {
        const double e = v - mean;
        z.push_back(e / std::sqrt(h));
        h = omega + alpha * e * e + beta * h;
    }
    next = h;
    return z;
}

}  // namespace

TEST_CASE("calibrate --model fhs --filter garch: the residuals are (r_t - mean) / sqrt(h_t) of each asset's GARCH fit",
          "[calibrate]") {
    const int count = 400;
    const TwoAssets history = clustered_history(count, 7);
    CalibrationOptions options;
    options.model = CalibratedModel::fhs;
    options.fhs_filter = FhsFilter::garch;
    const Calibration c =
        calibrate(align_returns({series_of("BTC", history.closes[0]), series_of("ETH", history.closes[1])}), options);
    REQUIRE(c.fhs.has_value());
    CHECK(c.fhs->filter == FhsFilter::garch);
    REQUIRE(c.fhs->dates.size() == static_cast<std::size_t>(count));
    std::vector<std::vector<double>> z(2);
    std::vector<double> next(2);
    for (std::size_t i = 0; i < 2; ++i) {
        const GarchEstimate& g = c.garch[i];
        // A real recursion: both the news and the memory terms are fitted away from 0.
        CHECK(g.alpha.value > 0.03);
        CHECK(g.beta.value > 0.3);
        z[i] = garch_standardised(history.returns[i], g.omega.value, g.alpha.value, g.beta.value, next[i]);
        REQUIRE(c.fhs->residuals[i].size() == z[i].size());
        for (std::size_t t = 0; t < z[i].size(); ++t) CHECK(c.fhs->residuals[i][t] == Approx(z[i][t]).epsilon(1e-12));
        CHECK(c.fhs->start_variance[i] == Approx(next[i]).epsilon(1e-12));
        // The mean is off: the residuals average about 0, which the drift of 0.1 sd a day would not.
        CHECK(std::abs(sample_moments::mean(c.fhs->residuals[i])) < 0.03);
    }
    CHECK(c.fhs->correlation[1].value == Approx(sample_moments::correlation(z[0], z[1])).epsilon(1e-12));

    // The snippet loads with filter = "garch", the [garch] recursions and today's GARCH volatility.
    const std::string frame = "[simulation]\nhorizon_days = 7\nmodel = \"fhs\"\n[account]\nbalance = 10000\n";
    const Scenario s = parse_scenario(frame + to_toml_snippet(c) + with_position("BTC"), "snippet.toml");
    REQUIRE(s.simulation.model == PriceModel::fhs);
    CHECK(s.fhs.filter == FhsFilter::garch);
    REQUIRE(s.fhs.days() == static_cast<std::size_t>(count));
    REQUIRE(s.fhs.assets.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(s.fhs.assets[i].omega == Approx(c.garch[i].omega.value).epsilon(1e-5));
        CHECK(s.fhs.assets[i].alpha == Approx(c.garch[i].alpha.value).margin(5e-5));
        CHECK(s.fhs.assets[i].beta == Approx(c.garch[i].beta.value).margin(5e-5));
        CHECK(s.assets[i].volatility == Approx(std::sqrt(365.0 * next[i])).margin(5e-5));
        for (std::size_t t = 0; t < static_cast<std::size_t>(count); ++t)
            CHECK(s.fhs.residuals[t * 2 + i] == Approx(z[i][t]).epsilon(1e-7).margin(1e-9));
    }

    // --json names the filter, has no lambda, and holds the same residuals.
    const nlohmann::json json = nlohmann::json::parse(to_json(c));
    CHECK(json["fhs"]["filter"] == "garch");
    CHECK_FALSE(json["fhs"].contains("lambda"));
    for (std::size_t t = 0; t < static_cast<std::size_t>(count); ++t)
        CHECK(json["fhs"]["residuals"]["ETH"][t].get<double>() == Approx(z[1][t]).epsilon(1e-12));
    CHECK(json["fhs"]["start_volatility"]["BTC"].get<double>() == Approx(std::sqrt(365.0 * next[0])).epsilon(1e-12));
}

TEST_CASE("marginsim calibrate --model fhs --filter garch writes a snippet that runs, its [garch] the JSON's",
          "[calibrate]") {
    TempDir dir("marginsim_calibrate_fhs");
    const TwoAssets history = clustered_history(200, 11);
    dir.write("BTC.csv", ordered_csv(history.closes[0]));
    dir.write("ETH.csv", ordered_csv(history.closes[1]));
    const std::string files = shell_quoted(dir / "BTC.csv") + " " + shell_quoted(dir / "ETH.csv");

    const CliResult fit = dir.run("calibrate " + files + " --model fhs --filter garch --out " +
                                  shell_quoted(dir / "snippet.toml") + " --json " + shell_quoted(dir / "cal.json"));
    INFO(fit.err);
    REQUIRE(fit.code == 0);
    const std::string snippet = read_all(dir / "snippet.toml");
    const nlohmann::json json = nlohmann::json::parse(read_all(dir / "cal.json"));
    CHECK(json["fhs"]["filter"] == "garch");
    const toml::table table = toml::parse(snippet);
    CHECK(table["fhs"]["filter"].value_or(std::string()) == "garch");
    CHECK_FALSE(table["fhs"]["lambda"]);
    CHECK_FALSE(table["garch"]["innovations"]);
    for (std::size_t i = 0; i < 2; ++i) {
        const std::string symbol = i == 0 ? "BTC" : "ETH";
        const nlohmann::json& g = json["assets"][i]["garch"];
        REQUIRE(json["assets"][i]["symbol"] == symbol);
        CHECK(table["garch"][symbol]["omega"].value_or(0.0) == Approx(g["omega"].get<double>()).epsilon(1e-5));
        CHECK(table["garch"][symbol]["alpha"].value_or(-1.0) == Approx(g["alpha"].get<double>()).margin(5e-5));
        CHECK(table["garch"][symbol]["beta"].value_or(-1.0) == Approx(g["beta"].get<double>()).margin(5e-5));
        CHECK(json["fhs"]["start_volatility"][symbol].get<double>() == Approx(g["start_volatility"].get<double>()));
    }

    // A short run of the snippet in a book.
    dir.write("book.toml", "[simulation]\nhorizon_days = 3\npaths = 2000\nseed = 5\nmodel = \"fhs\"\n"
                           "[account]\nbalance = 10000\n" + snippet + with_position("ETH"));
    const CliResult run = dir.run("run " + shell_quoted(dir / "book.toml") + " --format json");
    INFO(run.err);
    REQUIRE(run.code == 0);
    const nlohmann::json report = nlohmann::json::parse(run.out);
    CHECK(report["simulation"]["model"] == "fhs");
    CHECK(report["simulation"]["fhs"]["filter"] == "garch");
    CHECK(report["simulation"]["fhs"]["residuals"]["days"] == 200);
    CHECK(report["simulation"]["fhs"]["assets"][1]["alpha"].get<double>() ==
          Approx(json["assets"][1]["garch"]["alpha"].get<double>()).margin(5e-5));
    CHECK(report["paths_done"] == 2000);

    // --filter belongs to --model fhs: refused otherwise, and nothing is written.
    for (const std::string model : {"", " --model garch", " --model student_t"}) {
        const CliResult refused =
            dir.run("calibrate " + files + model + " --filter garch --out " + shell_quoted(dir / "refused.toml"));
        CHECK(refused.code == 2);
        CHECK(refused.err == "error: --filter is only used with --model fhs\n");
        CHECK_FALSE(std::filesystem::exists(dir / "refused.toml"));
    }
    CHECK(dir.run("calibrate " + files + " --model fhs --filter gjr").code == 2);
    const CliResult lambda = dir.run("calibrate " + files + " --model fhs --filter garch --lambda 0.9");
    CHECK(lambda.code == 2);
    CHECK(lambda.err.find("--lambda is the decay of --filter ewma") != std::string::npos);
}
