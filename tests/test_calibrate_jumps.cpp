// Calibration of market-wide jumps (calibrate --model jump): the fit recovers the intensity and
// the jump sizes of a simulated jump-diffusion, its standard errors match the spread of repeated
// fits, it finds the crash days of the bundled Binance history, and its snippet loads.

#include "marginsim/calibrate.hpp"
#include "marginsim/scenario.hpp"
#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

constexpr std::size_t d = 3;

struct TrueJumps {
    std::array<double, d> sigma{0.02, 0.03, 0.045};  // daily diffusion
    double correlation = 0.5;
    double intensity = 4.0;  // per year
    // Jumps far below -3 sigmas (all but ~0.05% detected) and wider than the day's diffusion
    // (where the delta method's standard error of their spread holds).
    std::array<double, d> mean{-0.25, -0.30, -0.45};
    std::array<double, d> vol{0.04, 0.05, 0.08};
};

// Daily log returns of a Merton market: correlated gaussian diffusion, plus on a day with a jump
// (probability 1 - e^(-λ/365): at most one a day, as the fit counts them) one joint jump of
// every asset (independent sizes across assets).
AlignedReturns simulate(const TrueJumps& truth, int day_count, std::uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> normal;
    std::bernoulli_distribution jumps(1.0 - std::exp(-truth.intensity / 365.0));
    const double rho = truth.correlation;
    std::array<std::vector<double>, d> x;
    for (auto& path : x) path.push_back(std::log(100.0));
    for (int day = 0; day < day_count; ++day) {
        // Equicorrelated normals: sqrt(rho) common + sqrt(1 - rho) own.
        const double common = normal(engine);
        const bool jump = jumps(engine);
        for (std::size_t i = 0; i < d; ++i) {
            double r = truth.sigma[i] * (std::sqrt(rho) * common + std::sqrt(1.0 - rho) * normal(engine));
            if (jump) r += truth.mean[i] + truth.vol[i] * normal(engine);
            x[i].push_back(x[i].back() + r);
        }
    }
    std::vector<PriceSeries> series;
    const char* symbols[d] = {"BTC", "ETH", "SOL"};
    for (std::size_t i = 0; i < d; ++i) series.push_back(series_of(symbols[i], log_prices(date(2000, 1, 1), x[i])));
    return align_returns(series);
}

double median_of(std::vector<double> x) {
    std::sort(x.begin(), x.end());
    const std::size_t n = x.size();
    return n % 2 == 1 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

}  // namespace

TEST_CASE("the jump fit recovers the intensity, the jump sizes and the diffusion of a simulated "
          "jump-diffusion",
          "[calibrate][jumps]") {
    const TrueJumps truth;
    const Calibration c = calibrate(simulate(truth, 20 * 365, 7));
    const JumpEstimate& j = c.jumps;
    INFO("jump days " << j.days.size() << ", intensity " << j.intensity.value << " (" << j.intensity.standard_error
                      << ")");
    CHECK(within(j.intensity, truth.intensity, 3.0));
    CHECK(j.intensity.standard_error == Approx(std::sqrt(static_cast<double>(j.days.size())) / 20.0));
    for (std::size_t i = 0; i < d; ++i) {
        INFO("asset " << i << ": mean " << j.mean[i].value << " (" << j.mean[i].standard_error << "), vol "
                      << j.vol[i].value << " (" << j.vol[i].standard_error << "), robust sigma " << j.robust_sigma[i]
                      << ", diffusion " << j.diffusion_volatility[i]);
        CHECK(within(j.mean[i], truth.mean[i], 3.0));
        CHECK(within(j.vol[i], truth.vol[i], 3.0));
        // The median absolute deviation ignores the 1% of jump days: the diffusion's sigma.
        CHECK(j.robust_sigma[i] == Approx(truth.sigma[i]).epsilon(0.04));
        // Total variance minus the jumps' share: the diffusion's annual volatility.
        CHECK(j.diffusion_volatility[i] == Approx(truth.sigma[i] * std::sqrt(365.0)).epsilon(0.04));
        CHECK_FALSE(j.diffusion_at_robust_sigma[i]);
    }
}

TEST_CASE("the jump fit's standard errors match the spread of estimates over repeated histories",
          "[calibrate][jumps]") {
    const TrueJumps truth;
    constexpr int histories = 200;
    std::vector<double> intensity;
    std::array<std::vector<double>, d> mean;
    std::array<std::vector<double>, d> vol;
    double intensity_se = 0.0;
    std::array<double, d> mean_se{};
    std::array<double, d> vol_se{};
    int covered = 0;
    int checked = 0;
    for (int h = 0; h < histories; ++h) {
        // fit_jumps alone: calibrate would fit GARCH too, 200 times. The total volatility only
        // sets the diffusion's, not checked here.
        const AlignedReturns data = simulate(truth, 10 * 365, 1000 + static_cast<std::uint64_t>(h));
        const JumpEstimate j = fit_jumps(data, std::vector<Estimate>(d, Estimate{1.0, 0.0}));
        REQUIRE(j.days.size() >= 3);
        intensity.push_back(j.intensity.value);
        intensity_se += j.intensity.standard_error / histories;
        for (std::size_t i = 0; i < d; ++i) {
            mean[i].push_back(j.mean[i].value);
            vol[i].push_back(j.vol[i].value);
            mean_se[i] += j.mean[i].standard_error / histories;
            vol_se[i] += j.vol[i].standard_error / histories;
            covered += within(j.mean[i], truth.mean[i], 1.96) ? 1 : 0;
            ++checked;
        }
    }
    const auto spread = [](const std::vector<double>& x) {
        double m = 0.0;
        for (double v : x) m += v / static_cast<double>(x.size());
        double s = 0.0;
        for (double v : x) s += (v - m) * (v - m) / static_cast<double>(x.size() - 1);
        return std::sqrt(s);
    };
    INFO("intensity: spread " << spread(intensity) << ", mean standard error " << intensity_se);
    CHECK(spread(intensity) == Approx(intensity_se).epsilon(0.2));
    for (std::size_t i = 0; i < d; ++i) {
        INFO("asset " << i << ": mean spread " << spread(mean[i]) << " se " << mean_se[i] << "; vol spread "
                      << spread(vol[i]) << " se " << vol_se[i]);
        CHECK(spread(mean[i]) == Approx(mean_se[i]).epsilon(0.2));
        CHECK(spread(vol[i]) == Approx(vol_se[i]).epsilon(0.2));
    }
    // The means' 95% intervals cover the truth about 95% of the time.
    CHECK(static_cast<double>(covered) / checked == Approx(0.95).margin(0.04));
}

TEST_CASE("the jump fit of the bundled Binance history finds its market-wide crash days", "[calibrate][jumps]") {
    const std::filesystem::path dir = std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";
    const Calibration c = calibrate_files(
        {dir / "Binance_BTCUSDT_d.csv", dir / "Binance_ETHUSDT_d.csv", dir / "Binance_SOLUSDT_d.csv"}, {});
    const JumpEstimate& j = c.jumps;
    // The robust sigma, recomputed here: 1.4826 x the median absolute deviation from the median.
    for (std::size_t i = 0; i < d; ++i) {
        const std::vector<double>& r = c.data.returns[i];
        const double centre = median_of(r);
        std::vector<double> deviation;
        for (double v : r) deviation.push_back(std::abs(v - centre));
        CHECK(j.robust_sigma[i] == Approx(1.4826 * median_of(deviation)).epsilon(1e-12));
    }
    // Every jump day has all three returns below -3 robust sigmas, and no other day has.
    std::size_t count = 0;
    for (std::size_t k = 0; k < c.data.return_count(); ++k) {
        bool all = true;
        for (std::size_t i = 0; i < d; ++i) all = all && c.data.returns[i][k] < -3.0 * j.robust_sigma[i];
        if (!all) continue;
        ++count;
        CHECK(std::find(j.days.begin(), j.days.end(), c.data.return_dates[k]) != j.days.end());
    }
    CHECK(j.days.size() == count);
    // What the one-off Python computation behind configs/seed_example_jump.toml found (since
    // retired; statistics.median and statistics.mean on the same files): the robust sigmas,
    // 17 days in 2,047 returns, the means and the jump spreads to 4 decimals.
    const std::array<double, d> python_sigma{0.020677131633482962, 0.02932158600780223, 0.04507704765173639};
    const std::array<double, d> python_mean{-0.1068, -0.1515, -0.2290};
    const std::array<double, d> python_vol{0.0208, 0.0478, 0.1060};
    CHECK(c.data.return_count() == 2047);
    CHECK(j.days.size() == 17);
    CHECK(j.intensity.value == Approx(17.0 / (2047.0 / 365.0)));
    for (const Date crash : {date(2021, 5, 19), date(2022, 5, 9), date(2022, 11, 9), date(2025, 10, 10),
                             date(2026, 2, 5)}) {
        CHECK(std::find(j.days.begin(), j.days.end(), crash) != j.days.end());
    }
    for (std::size_t i = 0; i < d; ++i) {
        CHECK(j.robust_sigma[i] == Approx(python_sigma[i]).epsilon(1e-12));
        CHECK(j.mean[i].value == Approx(python_mean[i]).margin(0.00005));
        CHECK(j.vol[i].value == Approx(python_vol[i]).margin(0.00005));
    }
}

TEST_CASE("calibrate --model jump writes a [jumps] table that loads, equal to the JSON's estimates",
          "[calibrate][jumps]") {
    TempDir dir("marginsim_calibrate_jumps");
    const TrueJumps truth;
    const AlignedReturns data = simulate(truth, 6 * 365, 3);
    // Back to price files: closes from the aligned returns.
    const char* symbols[d] = {"BTC", "ETH", "SOL"};
    std::string files;
    for (std::size_t i = 0; i < d; ++i) {
        std::vector<double> x{std::log(100.0)};
        for (double r : data.returns[i]) x.push_back(x.back() + r);
        const std::filesystem::path file = dir.path() / (std::string(symbols[i]) + ".csv");
        std::ofstream(file) << ordered_csv(log_prices(date(2000, 1, 1), x));
        files += ' ';
        files += shell_quoted(file);
    }
    const CliResult result = run_shell(std::string(MARGINSIM_CLI) + " calibrate" + files + " --model jump --out " +
                                           shell_quoted(dir.path() / "snippet.toml") + " --json " +
                                           shell_quoted(dir.path() / "fit.json"),
                                       dir.path() / "out", dir.path() / "err");
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out.find("market-wide jumps:") != std::string::npos);
    const std::string snippet = read_all(dir.path() / "snippet.toml");
    const nlohmann::json fit = nlohmann::json::parse(read_all(dir.path() / "fit.json"));
    const Scenario scenario = parse_scenario("[simulation]\nhorizon_days = 7\nmodel = \"jump\"\n[account]\nbalance = "
                                             "10000\n" +
                                                 snippet + with_position("BTC"),
                                             "snippet");
    const nlohmann::json& jumps = fit["jumps"];
    CHECK(jumps["days"].size() >= 10);
    CHECK(scenario.jumps.intensity == Approx(jumps["intensity"]["estimate"].get<double>()).margin(0.005));
    for (std::size_t i = 0; i < d; ++i) {
        const nlohmann::json& asset = jumps["assets"][symbols[i]];
        CHECK(scenario.jumps.market[i].mean == Approx(asset["mean"]["estimate"].get<double>()).margin(5e-5));
        CHECK(scenario.jumps.market[i].vol == Approx(asset["vol"]["estimate"].get<double>()).margin(5e-5));
        CHECK(scenario.assets[i].volatility ==
              Approx(asset["diffusion_volatility"].get<double>()).margin(5e-5));
        // The diffusion volatility keeps the total annual variance.
        const double total = fit["assets"][i]["volatility"]["estimate"].get<double>();
        const double m = asset["mean"]["estimate"].get<double>();
        const double s = asset["vol"]["estimate"].get<double>();
        const double lambda = jumps["intensity"]["estimate"].get<double>();
        CHECK(asset["diffusion_volatility"].get<double>() ==
              Approx(std::sqrt(total * total - lambda * (m * m + s * s))).epsilon(1e-9));
    }
}

TEST_CASE("without a market-wide jump day in the window the jump model has intensity 0 and says so",
          "[calibrate][jumps]") {
    std::vector<PriceSeries> series;
    std::uint64_t seed = 21;
    for (const char* symbol : {"BTC", "ETH"}) {
        series.push_back(series_of(symbol, random_walk(date(2024, 1, 1), 200, 0.03, seed++)));
    }
    CalibrationOptions options;
    options.model = CalibratedModel::jump;
    const Calibration c = calibrate(align_returns(series), options);
    CHECK(c.jumps.days.empty());
    CHECK(c.jumps.intensity.value == 0.0);
    CHECK(c.jumps.diffusion_volatility[0] == Approx(c.volatility[0].value));
    const bool noted = std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& note) {
        return note.find("no market-wide jump day") != std::string::npos;
    });
    CHECK(noted);
    const Scenario scenario = parse_scenario("[simulation]\nhorizon_days = 7\nmodel = \"jump\"\n[account]\nbalance = "
                                             "10000\n" +
                                                 to_toml_snippet(c) + with_position("BTC"),
                                             "snippet");
    CHECK(scenario.jumps.intensity == 0.0);
}

TEST_CASE("a series whose closes mostly stand still has no yardstick for jumps: none counted, and said",
          "[calibrate][jumps]") {
    // Two thirds of the days unchanged: the median absolute deviation is 0, and -3 x 0 would
    // make every down day of both assets a "jump".
    std::mt19937_64 engine(5);
    std::normal_distribution<double> normal(0.0, 0.03);
    std::vector<double> still{std::log(100.0)};
    for (int day = 1; day < 300; ++day) still.push_back(still.back() + (day % 3 == 0 ? normal(engine) : 0.0));
    const std::vector<PriceSeries> series{series_of("AAA", log_prices(date(2024, 1, 1), still)),
                                          series_of("BBB", random_walk(date(2024, 1, 1), 300, 0.03, 9))};
    CalibrationOptions options;
    options.model = CalibratedModel::jump;
    const Calibration c = calibrate(align_returns(series), options);
    CHECK(c.jumps.robust_sigma[0] == 0.0);
    CHECK(c.jumps.days.empty());
    const bool noted = std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& note) {
        return note.find("AAA: more than half its daily returns are equal") != std::string::npos;
    });
    CHECK(noted);
}
