// The fhs model (filtered historical simulation) against its definition and closed forms: a
// day's standardised return vector is one day of the residual set, resampled whole (its joint
// moments and crash-day co-movement, which no gaussian sampler has); the intraday steps are a
// Brownian bridge to it (the day's total the same at 1 and 24 steps a day, the half-day point's
// variance and covariance of the bridge); the variance recursion refiltered from the simulated
// returns and the horizon variance of its closed-form forecast; EWMA as GARCH(0, 1 - lambda,
// lambda); determinism; the [fhs] keys and their errors; calibrate's residual set.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibrate_fixtures.hpp"
#include "engine/market_model.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/simulate.hpp"
#include "same_numbers.hpp"
#include "sample_moments.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::Closes;
using marginsim::testing::ScenarioBuilder;
using marginsim::testing::replaced;

namespace {

constexpr std::size_t paths_per_block = 1024;
using Rows = std::vector<std::vector<double>>;  // [day][asset]

std::vector<std::string> consecutive_dates(std::size_t count) {
    std::vector<std::string> dates;
    const Date first = marginsim::testing::date(2024, 1, 1);
    for (std::size_t d = 0; d < count; ++d) dates.push_back(format_date(first + std::chrono::days(static_cast<int>(d))));
    return dates;
}

// model = "fhs" over the residual set `rows`, every asset's recursion `g`.
Scenario with_fhs(Scenario s, const Rows& rows, const GarchParameters& g, FhsFilter filter = FhsFilter::garch) {
    s.simulation.model = PriceModel::fhs;
    s.fhs.filter = filter;
    s.fhs.assets.assign(s.asset_count(), g);
    s.fhs.dates = consecutive_dates(rows.size());
    s.fhs.residuals.clear();
    for (const std::vector<double>& row : rows) s.fhs.residuals.insert(s.fhs.residuals.end(), row.begin(), row.end());
    return s;
}

// 36 ordinary days and 4 crash days on which both assets fall 3.5 to 6 sd together: strongly
// skewed, with a joint lower tail no gaussian of the same covariance has.
Rows crash_set() {
    Rows rows;
    for (int k = 0; k < 36; ++k) {
        const double a = 0.9 * std::sin(1.3 * k + 0.2);
        rows.push_back({a, 0.5 * a + 0.7 * std::cos(2.1 * k)});
    }
    for (const auto& crash : {std::vector<double>{-5.0, -6.0}, {-4.0, -5.0}, {-6.0, -4.5}, {-3.5, -5.5}})
        rows.push_back(crash);
    return rows;
}

// Moments of the residual set itself (each day weighs 1 / days: the law resampling draws from).
std::vector<double> column(const Rows& rows, std::size_t i) {
    std::vector<double> x;
    for (const auto& row : rows) x.push_back(row[i]);
    return x;
}

double covariance(const std::vector<double>& x, const std::vector<double>& y) {
    const double mx = sample_moments::mean(x), my = sample_moments::mean(y);
    double s = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) s += (x[k] - mx) * (y[k] - my);
    return s / static_cast<double>(x.size());
}

double skewness(const std::vector<double>& x) {
    return sample_moments::central_moment(x, 3) / std::pow(sample_moments::central_moment(x, 2), 1.5);
}

double both_below(const std::vector<double>& x, const std::vector<double>& y, double level) {
    double count = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) count += x[k] < level && y[k] < level ? 1.0 : 0.0;
    return count / static_cast<double>(x.size());
}

// A statistic over independent batches: its value on the whole and its standard error.
template <class Statistic>
std::pair<double, double> with_error(const std::vector<std::vector<double>>& samples, std::size_t batches,
                                     Statistic statistic) {
    const std::size_t size = samples[0].size() / batches;
    std::vector<double> per;
    for (std::size_t b = 0; b < batches; ++b) {
        std::vector<std::vector<double>> part;
        for (const auto& x : samples)
            part.emplace_back(x.begin() + static_cast<std::ptrdiff_t>(b * size),
                              x.begin() + static_cast<std::ptrdiff_t>((b + 1) * size));
        per.push_back(statistic(part));
    }
    const double mean = sample_moments::mean(per);
    double ss = 0.0;
    for (const double v : per) ss += (v - mean) * (v - mean);
    return {statistic(samples), std::sqrt(ss / static_cast<double>(batches - 1) / static_cast<double>(batches))};
}

// Log prices minus the start, [asset][path], after each step of `record` (1-based), over
// `blocks` blocks of 1024 paths (stream = block index), the price model alone.
std::vector<std::vector<std::vector<double>>> log_moves(const Scenario& scenario, std::size_t blocks,
                                                        const std::vector<int>& record) {
    Scenario s = scenario;
    s.simulation.monitoring = Monitoring::discrete;
    const MarketModel model(s);
    const std::size_t assets = s.asset_count(), n = paths_per_block;
    std::vector<std::vector<std::vector<double>>> out(record.size(), std::vector<std::vector<double>>(assets));
    PathBlock paths(assets, n);
    for (std::size_t b = 0; b < blocks; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, n, rng);
        for (int step = 1; step <= record.back(); ++step) {
            model.step(paths, rng);
            const auto at = std::find(record.begin(), record.end(), step);
            if (at == record.end()) continue;
            for (std::size_t i = 0; i < assets; ++i)
                for (std::size_t p = 0; p < n; ++p)
                    (*(out.begin() + (at - record.begin())))[i].push_back(paths.log_price(i)[p] -
                                                                          std::log(s.assets[i].price));
        }
    }
    return out;
}

Scenario two_assets(int steps_per_day, double days, double rho = 0.3) {
    return ScenarioBuilder(10000, days, steps_per_day)
        .asset("BTC", 60000, 0.6)
        .asset("ETH", 3000, 0.8)
        .uniform_correlation(rho)
        .build();
}

// (x - drift) / sqrt(h_0) of a day's log moves at today's variance h_0 = vol^2 / 365, mu = 0.
std::vector<std::vector<double>> standardised(std::vector<std::vector<double>> moves, const Scenario& s) {
    for (std::size_t i = 0; i < moves.size(); ++i) {
        const double h0 = s.assets[i].volatility * s.assets[i].volatility / 365.0;
        for (double& x : moves[i]) x = (x + 0.5 * h0) / std::sqrt(h0);
    }
    return moves;
}

// The day of `rows` equal to (a, b) within `tolerance`; -1 if none.
int matching_day(const Rows& rows, double a, double b, double tolerance) {
    for (std::size_t d = 0; d < rows.size(); ++d)
        if (std::abs(rows[d][0] - a) < tolerance && std::abs(rows[d][1] - b) < tolerance) return static_cast<int>(d);
    return -1;
}

}  // namespace

TEST_CASE("fhs: a day's standardised returns have the residual set's joint moments and crash co-movement") {
    const Rows rows = crash_set();
    const std::vector<double> x = column(rows, 0), y = column(rows, 1);
    // What a gaussian sampler could not reproduce: strong skew and a joint tail of 4 days in 40.
    REQUIRE(skewness(x) < -1.5);
    REQUIRE(skewness(y) < -1.5);
    REQUIRE(both_below(x, y, -3.0) == 0.1);
    const Scenario s = with_fhs(two_assets(1, 1.0), rows, GarchParameters{1e-5, 0.1, 0.85});
    const auto z = standardised(log_moves(s, 200, {1})[0], s);
    const std::size_t batches = 20;
    for (std::size_t i = 0; i < 2; ++i) {
        INFO("asset " << i);
        const std::vector<double> truth = column(rows, i);
        const auto [mean, mean_error] = with_error({z[i]}, batches, [](const auto& v) { return sample_moments::mean(v[0]); });
        CHECK(std::abs(mean - sample_moments::mean(truth)) < 4.0 * mean_error);
        const auto [var, var_error] =
            with_error({z[i]}, batches, [](const auto& v) { return sample_moments::central_moment(v[0], 2); });
        CHECK(std::abs(var - sample_moments::central_moment(truth, 2)) < 4.0 * var_error);
        const auto [skew, skew_error] = with_error({z[i]}, batches, [](const auto& v) { return skewness(v[0]); });
        CHECK(std::abs(skew - skewness(truth)) < 4.0 * skew_error);
    }
    const auto [cov, cov_error] = with_error(z, batches, [](const auto& v) { return covariance(v[0], v[1]); });
    CHECK(std::abs(cov - covariance(x, y)) < 4.0 * cov_error);
    const auto [tail, tail_error] = with_error(z, batches, [](const auto& v) { return both_below(v[0], v[1], -3.0); });
    CHECK(std::abs(tail - 0.1) < 4.0 * tail_error);
    // Each simulated vector is one day of the set, both assets the same day.
    for (std::size_t p = 0; p < 1000; ++p) CHECK(matching_day(rows, z[0][p], z[1][p], 1e-9) >= 0);
}

TEST_CASE("fhs: at 24 steps a day the day's total is the resampled day exactly, the steps a Brownian bridge to it") {
    const Rows rows = crash_set();
    const double rho = 0.3;
    const Scenario s = with_fhs(two_assets(24, 1.0, rho), rows, GarchParameters{1e-5, 0.1, 0.85});
    const auto moves = log_moves(s, 100, {12, 24});
    const auto day = standardised(moves[1], s);
    for (std::size_t p = 0; p < day[0].size(); p += 7) {
        INFO("path " << p);
        REQUIRE(matching_day(rows, day[0][p], day[1][p], 1e-9) >= 0);
    }
    // Half-way, X = Z / 2 + the bridge's noise, variance 1/4 correlated rho: with the drift's
    // half removed, Var X_i = Var Z_i / 4 + 1/4, Cov = Cov(Z) / 4 + rho / 4, E X = E Z / 2.
    std::vector<std::vector<double>> half = moves[0];
    for (std::size_t i = 0; i < 2; ++i) {
        const double h0 = s.assets[i].volatility * s.assets[i].volatility / 365.0;
        for (double& v : half[i]) v = (v + 0.25 * h0) / std::sqrt(h0);
    }
    const std::size_t batches = 20;
    for (std::size_t i = 0; i < 2; ++i) {
        INFO("asset " << i);
        const std::vector<double> truth = column(rows, i);
        const auto [mean, mean_error] = with_error({half[i]}, batches, [](const auto& v) { return sample_moments::mean(v[0]); });
        CHECK(std::abs(mean - sample_moments::mean(truth) / 2.0) < 4.0 * mean_error);
        const auto [var, var_error] =
            with_error({half[i]}, batches, [](const auto& v) { return sample_moments::central_moment(v[0], 2); });
        CHECK(std::abs(var - (sample_moments::central_moment(truth, 2) / 4.0 + 0.25)) < 4.0 * var_error);
    }
    const auto [cov, cov_error] = with_error(half, batches, [](const auto& v) { return covariance(v[0], v[1]); });
    CHECK(std::abs(cov - (covariance(column(rows, 0), column(rows, 1)) / 4.0 + rho / 4.0)) < 4.0 * cov_error);
}

TEST_CASE("fhs: continuous monitoring gives the same P(liquidation) at 1 and 24 steps a day") {
    // The day's steps are the Brownian bridge to the resampled day that continuous monitoring
    // assumes between two steps: both clocks give the same law of the intraday path.
    std::vector<std::vector<double>> ps;  // P(isolated mode), P(BTC), P(ETH)
    const double paths = 60000;
    for (const int spd : {1, 24}) {
        const Scenario s = ScenarioBuilder(3000, 5, spd, 60000)
                               .asset("BTC", 60000, 0.6, 0.0, 0.005)
                               .asset("ETH", 3000, 0.8, 0.0, 0.005)
                               .uniform_correlation(0.5)
                               .position("BTC", Side::long_side, 1000, 10, MarginMode::isolated)
                               .position("ETH", Side::long_side, 1000, 10, MarginMode::isolated)
                               .build();
        const Report report = simulate(with_fhs(s, crash_set(), GarchParameters{0.0, 0.06, 0.94}, FhsFilter::ewma),
                                       RunOptions{std::nullopt, 5, 2});
        const ModeSummary& isolated = report.modes[0].summary;
        ps.push_back({isolated.liquidation_probability.estimate, isolated.position_liquidation_probability[0],
                      isolated.position_liquidation_probability[1]});
    }
    for (std::size_t k = 0; k < ps[0].size(); ++k) {
        INFO("statistic " << k << ": " << ps[0][k] << " at 1 step a day, " << ps[1][k] << " at 24");
        const double se = std::sqrt((ps[0][k] * (1.0 - ps[0][k]) + ps[1][k] * (1.0 - ps[1][k])) / paths);
        CHECK(ps[0][k] > 0.05);
        CHECK(std::abs(ps[0][k] - ps[1][k]) < 4.0 * se);
    }
}

namespace {

// A symmetric, fat-tailed residual set of population variance exactly 1 (mean 0, no skew: the
// day's innovation is uncorrelated with every later variance).
Rows symmetric_unit_set() {
    Rows rows;
    for (int k = 0; k < 20; ++k) {
        const double a = k % 5 == 0 ? 3.0 + 0.1 * k : 0.8 * std::sin(1.1 * k + 0.3);
        const double b = k % 5 == 0 ? 2.5 + 0.05 * k : 0.6 * std::cos(0.7 * k);
        rows.push_back({a, b});
        rows.push_back({-a, -b});
    }
    for (std::size_t i = 0; i < 2; ++i) {
        const double sd = std::sqrt(sample_moments::central_moment(column(rows, i), 2));
        for (auto& row : rows) row[i] /= sd;
    }
    return rows;
}

}  // namespace

TEST_CASE("fhs: the horizon log return has the variance of the filter's forecast, and refiltering finds the set") {
    const Rows rows = symmetric_unit_set();
    const double vol = 0.6, h0 = vol * vol / 365.0, V = h0 / 2.0;
    const GarchParameters g{V * (1.0 - 0.10 - 0.85), 0.10, 0.85};
    const int days = 30;
    double forecast = 0.0;  // E[h_d] = V + (a + b)^d (h_0 - V), E[Z^2] = 1
    for (int d = 0; d < days; ++d) forecast += V + std::pow(g.persistence(), d) * (h0 - V);
    for (const int spd : {1, 4}) {
        INFO("steps_per_day " << spd);
        Scenario base = two_assets(spd, days);
        base.assets[1].volatility = vol;
        base.assets[0].volatility = vol;
        const Scenario s = with_fhs(base, rows, g);
        const auto total = log_moves(s, spd == 1 ? 150 : 40, {days * spd})[0];
        const std::size_t batches = 20;
        for (std::size_t i = 0; i < 2; ++i) {
            const auto [variance, variance_error] =
                with_error({total[i]}, batches, [](const auto& v) { return sample_moments::central_moment(v[0], 2); });
            CHECK(std::abs(variance - forecast) < 4.0 * variance_error + 1e-3 * forecast);
            const auto [mean, mean_error] = with_error({total[i]}, batches, [](const auto& v) { return sample_moments::mean(v[0]); });
            CHECK(std::abs(mean + 0.5 * forecast) < 4.0 * mean_error);
        }
    }
    // EWMA, 1 step a day: refilter each path's daily returns as a user would (eps = r + h / 2,
    // z = eps / sqrt(h), h <- lambda h + (1 - lambda) eps^2): every day's z is a day of the set.
    const double lambda = 0.9;
    Scenario base = two_assets(1, 6);
    const Scenario ewma = with_fhs(base, rows, GarchParameters{0.0, 1.0 - lambda, lambda}, FhsFilter::ewma);
    std::vector<int> record{1, 2, 3, 4, 5, 6};
    const auto moves = log_moves(ewma, 1, record);
    for (std::size_t p = 0; p < paths_per_block; p += 13) {
        std::vector<double> h, previous(2, 0.0);
        for (const Asset& a : ewma.assets) h.push_back(a.volatility * a.volatility / 365.0);
        for (std::size_t d = 0; d < record.size(); ++d) {
            std::vector<double> z(2);
            for (std::size_t i = 0; i < 2; ++i) {
                const double eps = moves[d][i][p] - previous[i] + 0.5 * h[i];
                previous[i] = moves[d][i][p];
                z[i] = eps / std::sqrt(h[i]);
                h[i] = lambda * h[i] + (1.0 - lambda) * eps * eps;
            }
            INFO("path " << p << " day " << d);
            REQUIRE(matching_day(rows, z[0], z[1], 1e-7) >= 0);
        }
    }
}

namespace {

std::string number_text(double v) { return marginsim::testing::fmt_close(v); }

// [fhs.residuals]'s arrays for `rows`: dates from 2024-01-01, one array per symbol.
std::string residual_arrays(const Rows& rows, const std::vector<std::string>& symbols) {
    std::string text = "dates = [";
    const std::vector<std::string> dates = consecutive_dates(rows.size());
    for (std::size_t d = 0; d < dates.size(); ++d) {
        text += d ? ", \"" : "\"";
        text += dates[d];
        text += '"';
    }
    text += "]\n";
    for (const std::string& symbol : symbols) {
        const std::size_t i = symbol == "BTC" ? 0 : 1;
        text += symbol;
        text += " = [";
        for (std::size_t d = 0; d < rows.size(); ++d) {
            text += d ? ", " : "";
            text += number_text(rows[d][i]);
        }
        text += "]\n";
    }
    return text;
}

// The residual set as a CSV: date,<columns>; `rows` values by column name BTC (0), ETH (1).
std::string residual_csv(const Rows& rows, const std::vector<std::string>& columns) {
    std::string text = "date";
    for (const std::string& c : columns) {
        text += ',';
        text += c;
    }
    text += "\n";
    const std::vector<std::string> dates = consecutive_dates(rows.size());
    for (std::size_t d = 0; d < rows.size(); ++d) {
        text += dates[d];
        for (const std::string& c : columns) {
            text += ',';
            text += c == "BTC" ? number_text(rows[d][0]) : c == "ETH" ? number_text(rows[d][1]) : std::string("0.5");
        }
        text += "\n";
    }
    return text;
}

const std::string fhs_head =
    marginsim::testing::two_asset_book("horizon_days = 3\nsteps_per_day = 4\nmodel = \"fhs\"\n") + R"([[positions]]
symbol = "ETH"
side = "long"
margin = 500
leverage = 8
)";

// Lines 1-26 are fhs_head; [fhs] starts on line 27.
std::string embedded_toml(const Rows& rows = crash_set(), const std::string& fhs_keys = "filter = \"ewma\"\nlambda = 0.9\n") {
    return fhs_head + "[fhs]\n" + fhs_keys + "[fhs.residuals]\n" + residual_arrays(rows, {"BTC", "ETH"});
}


// A directory of its own for the files of one test.
std::filesystem::path fresh_dir(const std::string& name) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("marginsim_test_fhs_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string load_error(const std::filesystem::path& path, const LoadOptions& options = {}) {
    try {
        load_scenario(path, options);
    } catch (const InputError& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("fhs: EWMA is GARCH(1,1) with omega 0, alpha 1 - lambda, beta lambda: the same numbers") {
    const Scenario ewma = parse_scenario(embedded_toml(), "case.toml");
    REQUIRE(ewma.simulation.model == PriceModel::fhs);
    REQUIRE(ewma.fhs.filter == FhsFilter::ewma);
    REQUIRE(ewma.fhs.days() == 40);
    for (const GarchParameters& g : ewma.fhs.assets) {
        CHECK(g.omega == 0.0);
        CHECK(g.alpha == 1.0 - 0.9);
        CHECK(g.beta == 0.9);
    }
    Scenario garch = ewma;
    garch.fhs.filter = FhsFilter::garch;
    garch.fhs.assets.assign(2, GarchParameters{0.0, 1.0 - 0.9, 0.9});
    marginsim::testing::require_same(simulate(ewma, RunOptions{20000, 4, 2}), simulate(garch, RunOptions{20000, 4, 2}));
}

TEST_CASE("fhs runs depend only on the scenario and the seed and not on the thread count") {
    const Scenario s = load_scenario(std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example_fhs.toml");
    REQUIRE(s.simulation.model == PriceModel::fhs);
    const Report a = simulate(s, RunOptions{8000, 3, 1});
    const Report b = simulate(s, RunOptions{8000, 3, 2});
    marginsim::testing::require_same(a, b);
    CHECK(a.modes[0].summary.liquidation_probability.estimate > 0.0);
    // A residual set read from a CSV file equals the same set embedded.
    const std::filesystem::path dir = fresh_dir("csv");
    write(dir / "set.csv", residual_csv(crash_set(), {"ETH", "SOL", "BTC"}));
    write(dir / "case.toml", fhs_head + "[fhs]\nfilter = \"ewma\"\nlambda = 0.9\nresiduals = \"set.csv\"\n");
    const Scenario from_file = load_scenario(dir / "case.toml");
    const Scenario embedded = parse_scenario(embedded_toml(), "case.toml");
    CHECK(from_file.fhs.residuals == embedded.fhs.residuals);
    CHECK(from_file.fhs.dates == embedded.fhs.dates);
    CHECK(from_file.fhs.residuals_file == "set.csv");
}

TEST_CASE("fhs: the [fhs] table is read, and --set reaches its keys") {
    LoadOptions options;
    options.overrides = {parse_override("fhs.lambda=0.97")};
    const Scenario s = parse_scenario(embedded_toml(), "case.toml", options);
    CHECK(s.fhs.lambda == 0.97);
    CHECK(s.fhs.assets[1].beta == 0.97);
    const std::string garch_filter = embedded_toml(crash_set(), "filter = \"garch\"\n") +
                                     "[garch]\nBTC = { omega = 1e-5, alpha = 0.1, beta = 0.85 }\n"
                                     "ETH = { omega = 2e-5, alpha = 0.05, beta = 0.9 }\n";
    const Scenario g = parse_scenario(garch_filter, "case.toml");
    CHECK(g.fhs.filter == FhsFilter::garch);
    CHECK(g.fhs.assets[1].omega == 2e-5);
    CHECK(g.fhs.assets[0].beta == 0.85);
}

TEST_CASE("fhs: malformed [fhs] keys and residual sets name the file, line, column and key") {
    using marginsim::testing::error_of;
    const std::string good = embedded_toml();
    REQUIRE(error_of(good) == "(no error)");
    Rows few = crash_set();
    few.resize(29);
    const std::vector<std::string> dates = consecutive_dates(40);
    struct Case {
        std::string text, error;
    };
    const std::vector<Case> cases = {
        {replaced(good, "lambda = 0.9", "lambda = 1.0"),
         "case.toml:29:10: fhs.lambda: out of range: found 1.0 (expected a decay lambda in (0, 1), such as 0.94)"},
        {replaced(good, "lambda = 0.9", "lambda = 0"),
         "case.toml:29:10: fhs.lambda: out of range: found 0 (expected a decay lambda in (0, 1), such as 0.94)"},
        {replaced(good, "model = \"fhs\"", "model = \"gaussian\""),
         "case.toml:27:1: fhs: [fhs] is only used by model = \"fhs\", but the model is \"gaussian\" (expected model = "
         "\"fhs\" in [simulation], or no [fhs] table)"},
        {replaced(good, "model = \"fhs\"", "model = \"fhs\"\nimportance_sampling = \"selloff\""),
         "case.toml:5:23: simulation.importance_sampling: importance sampling tilts gaussian innovations: the fhs "
         "model resamples historical days, whose likelihood ratio it does not have (expected importance_sampling = "
         "\"none\" with model = \"fhs\")"},
        {replaced(good, "\"" + dates[7] + "\", \"" + dates[8] + "\"", "\"" + dates[8] + "\", \"" + dates[7] + "\""),
         "case.toml:31:" + std::to_string(10 + 14 * 8) + ": fhs.residuals.dates[8]: " + dates[7] + " does not come after " +
             dates[8] + ": the dates must be strictly increasing (expected an ISO date YYYY-MM-DD, later than the day before)"},
        {replaced(good, "\"" + dates[3] + "\"", "\"2024-02-30\""),
         "case.toml:31:" + std::to_string(10 + 14 * 3) + ": fhs.residuals.dates[3]: not an ISO date: \"2024-02-30\" "
         "(expected an ISO date YYYY-MM-DD, later than the day before)"},
        {replaced(good, "BTC = [" + number_text(crash_set()[0][0]), "BTC = [inf"),
         "case.toml:32:8: fhs.residuals.BTC[0]: not a finite number: found inf (expected a finite standardised residual)"},
        {replaced(good, "ETH = [", "SOL = ["),
         "case.toml:30:1: fhs.residuals.ETH: missing required key (expected an array of the standardised residuals of "
         "ETH, one per date)"},
        {embedded_toml(few),
         "case.toml:31:9: fhs.residuals.dates: 29 days of residuals: too few to resample from (expected at least 30 days)"},
        {replaced(good, "[fhs.residuals]", "[fhs.residualz]"),
         "case.toml:30:6: fhs.residualz: unknown key (expected one of filter, lambda, residuals)"},
        {replaced(good, "filter = \"ewma\"\nlambda = 0.9\n", "filter = \"garch\"\n"),
         "case.toml:28:10: fhs.filter: filter = \"garch\" needs the GARCH(1,1) parameters of every asset, but there is "
         "no [garch] table (expected a [garch] table with BTC = { omega = ..., alpha = ..., beta = ... } for every "
         "asset, or filter = \"ewma\")"},
        {good + "[garch]\ninnovations = \"gaussian\"\n",
         "case.toml:34:1: garch: [garch] is only used by model = \"fhs\" with filter = \"garch\", but the filter is "
         "\"ewma\" (expected filter = \"garch\" in [fhs], or no [garch] table)"},
        {replaced(good, "filter = \"ewma\"\nlambda = 0.9\n", "filter = \"garch\"\n") +
             "[garch]\ninnovations = \"gaussian\"\nBTC = { omega = 1e-5, alpha = 0.1, beta = 0.85 }\n"
             "ETH = { omega = 2e-5, alpha = 0.05, beta = 0.9 }\n",
         "case.toml:34:15: garch.innovations: the innovations of the fhs model are its residual set (expected no "
         "innovations key in [garch] under model = \"fhs\")"},
    };
    for (const Case& c : cases) CHECK(error_of(c.text) == c.error);
    const std::string no_table = fhs_head;
    CHECK(error_of(no_table) ==
          "case.toml:4:9: fhs: missing required table (expected a [fhs] table with residuals (a file or "
          "[fhs.residuals]) for model = \"fhs\")");
}

TEST_CASE("fhs: a bad residual CSV is named with its line, a missing one at the residuals key") {
    const std::filesystem::path dir = fresh_dir("errors");
    const std::string scenario = fhs_head + "[fhs]\nresiduals = \"set.csv\"\n";
    write(dir / "case.toml", scenario);
    const std::string csv = (dir / "set.csv").string();
    const std::string at = (dir / "case.toml").string();
    CHECK(load_error(dir / "case.toml") ==
          at + ":28:13: fhs.residuals: cannot read the residual file \"set.csv\" (looked for " + csv +
              ") (expected a CSV file of standardised residuals (date,SYMBOL,...), its path relative to the scenario "
              "file)");
    write(dir / "set.csv", residual_csv(crash_set(), {"ETH", "SOL"}));
    CHECK(load_error(dir / "case.toml") ==
          csv + ":1:1: no column for the asset \"BTC\" (expected a header date,\"BTC\", \"ETH\",... naming a column "
                "for every asset)");
    std::string text = residual_csv(crash_set(), {"BTC", "ETH"});
    const std::vector<std::string> dates = consecutive_dates(40);
    write(dir / "set.csv", replaced(text, dates[5] + ",", dates[3] + ","));
    CHECK(load_error(dir / "case.toml") ==
          csv + ":7:1: date: " + dates[3] + " does not come after " + dates[4] +
              ": the dates must be strictly increasing (expected an ISO date YYYY-MM-DD, later than the day before)");
    write(dir / "set.csv", replaced(text, dates[2] + ",", dates[2] + ",nan,"));
    CHECK(load_error(dir / "case.toml").substr(0, csv.size() + 60) ==
          (csv + ":4:1: 4 fields, the header has 3 (expected one field per header column)").substr(0, csv.size() + 60));
    const std::size_t comma = text.find(dates[2] + ",") + dates[2].size() + 1;
    write(dir / "set.csv", text.substr(0, comma) + "nan" + text.substr(text.find(',', comma)));
    CHECK(load_error(dir / "case.toml") ==
          csv + ":4:12: BTC: not a finite number: \"nan\" (expected a finite standardised residual)");
    Rows few = crash_set();
    few.resize(12);
    write(dir / "set.csv", residual_csv(few, {"BTC", "ETH"}));
    CHECK(load_error(dir / "case.toml") ==
          csv + ": 12 days of residuals: too few to resample from (expected at least 30 days)");
}

namespace {

// Log closes of two assets with clustered, jointly crashing moves: day k's returns known.
struct History {
    std::vector<std::vector<double>> returns;  // [asset][k]
    std::vector<Closes> closes;
};

History hand_made_history(int count) {
    History h;
    h.returns.resize(2);
    std::vector<double> x{std::log(100.0), std::log(20.0)};
    const Date start = marginsim::testing::date(2024, 3, 1);
    h.closes.resize(2);
    for (std::size_t i = 0; i < 2; ++i) {
        h.closes[i].dates.push_back(start);
        h.closes[i].closes.push_back(std::exp(x[i]));
    }
    for (int k = 1; k <= count; ++k) {
        const double calm = 0.02 * std::sin(0.9 * k) + 0.01 * std::cos(2.3 * k);
        const double crash = k % 17 == 0 ? -0.12 : 0.0;
        const double r[2] = {calm + crash, 1.3 * calm + 0.015 * std::sin(1.7 * k) + 1.4 * crash};
        for (std::size_t i = 0; i < 2; ++i) {
            x[i] += r[i];
            h.closes[i].dates.push_back(start + std::chrono::days(k));
            h.closes[i].closes.push_back(std::exp(x[i]));
        }
    }
    // The returns as the files hold them (closes rounded to doubles, logs of their ratios).
    for (std::size_t i = 0; i < 2; ++i)
        for (int k = 1; k <= count; ++k)
            h.returns[i].push_back(std::log(h.closes[i].closes[static_cast<std::size_t>(k)] /
                                            h.closes[i].closes[static_cast<std::size_t>(k - 1)]));
    return h;
}

}  // namespace

TEST_CASE("calibrate --model fhs: the residuals are r_t / sqrt(h_t) of the one-day-ahead EWMA, and the snippet loads") {
    using namespace marginsim::testing;
    const int count = 90;
    const History history = hand_made_history(count);
    const double lambda = 0.93;
    CalibrationOptions options;
    options.model = CalibratedModel::fhs;
    options.lambda = lambda;
    const Calibration c =
        calibrate(align_returns({series_of("BTC", history.closes[0]), series_of("ETH", history.closes[1])}), options);
    REQUIRE(c.fhs.has_value());
    REQUIRE(c.fhs->dates.size() == static_cast<std::size_t>(count));
    CHECK(c.fhs->dates.front() == date(2024, 3, 2));
    // Independently: h_1 the mean square of the returns, h_(t+1) = lambda h_t + (1 - lambda) r_t^2.
    std::vector<std::vector<double>> z(2);
    std::vector<double> next(2);
    for (std::size_t i = 0; i < 2; ++i) {
        const std::vector<double>& r = history.returns[i];
        double h = 0.0;
        for (const double v : r) h += v * v / count;
        for (const double v : r) {
            z[i].push_back(v / std::sqrt(h));
            h = lambda * h + (1.0 - lambda) * v * v;
        }
        next[i] = h;
        for (std::size_t t = 0; t < r.size(); ++t) CHECK(c.fhs->residuals[i][t] == Approx(z[i][t]).epsilon(1e-12));
        CHECK(c.fhs->start_variance[i] == Approx(next[i]).epsilon(1e-12));
    }
    // The crash days stand out jointly: both assets several filtered sd down on day 17.
    CHECK(z[0][16] < -2.5);
    CHECK(z[1][16] < -2.5);
    const std::string snippet = to_toml_snippet(c);
    const std::string frame = "[simulation]\nhorizon_days = 7\nmodel = \"fhs\"\n[account]\nbalance = 10000\n";
    const Scenario s = parse_scenario(frame + snippet + with_position("BTC"), "snippet.toml");
    REQUIRE(s.simulation.model == PriceModel::fhs);
    CHECK(s.fhs.lambda == lambda);
    REQUIRE(s.fhs.days() == static_cast<std::size_t>(count));
    CHECK(s.fhs.dates.front() == "2024-03-02");
    CHECK(s.fhs.dates.back() == format_date(date(2024, 3, 1) + std::chrono::days(count)));
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(s.assets[i].volatility == Approx(std::sqrt(365.0 * next[i])).margin(5e-5));
        for (std::size_t t = 0; t < static_cast<std::size_t>(count); ++t)
            CHECK(s.fhs.residuals[t * 2 + i] == Approx(z[i][t]).epsilon(1e-7).margin(1e-9));
    }
    // --json holds the residual set.
    const nlohmann::json json = nlohmann::json::parse(to_json(c));
    REQUIRE(json.contains("fhs"));
    CHECK(json["fhs"]["lambda"].get<double>() == lambda);
    CHECK(json["fhs"]["dates"].size() == static_cast<std::size_t>(count));
    CHECK(json["fhs"]["dates"][0].get<std::string>() == "2024-03-02");
    for (std::size_t t = 0; t < static_cast<std::size_t>(count); ++t) {
        CHECK(json["fhs"]["residuals"]["BTC"][t].get<double>() == Approx(z[0][t]).epsilon(1e-12));
        CHECK(json["fhs"]["residuals"]["ETH"][t].get<double>() == Approx(z[1][t]).epsilon(1e-12));
    }
    // Too short a window for a residual set is refused, naming the files.
    const Calibration plain = calibrate(align_returns({series_of("BTC", history.closes[0])}, 20));
    CHECK_FALSE(plain.fhs.has_value());
    CHECK_THROWS_AS(calibrate(align_returns({series_of("BTC", history.closes[0])}, 20), options), InputError);
}
