// Backtests: the scores of probability forecasts against realised flags, checked against hand
// computations, brute-force definitions and the chi-square distribution's known quantiles.

#include "marginsim/backtest.hpp"
#include "marginsim/backtest_report.hpp"
#include "marginsim/error.hpp"
#include "marginsim/simulate.hpp"
#include "backtest_fixtures.hpp"
#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

// std::vector<bool> has no data(): the flags as a plain array.
struct Flags {
    std::unique_ptr<bool[]> values;
    std::size_t size;
    explicit Flags(const std::vector<int>& bits) : values(new bool[bits.size()]), size(bits.size()) {
        for (std::size_t k = 0; k < size; ++k) values[k] = bits[k] != 0;
    }
    std::span<const bool> span() const { return {values.get(), size}; }
};

ForecastScores score(const std::vector<double>& predicted, const std::vector<int>& realised) {
    const Flags flags(realised);
    return score_forecasts(predicted, flags.span());
}

}  // namespace

TEST_CASE("the chi-square(1) survival function gives the textbook critical values", "[backtest]") {
    CHECK(chi_square_1_survival(3.841459) == Approx(0.05).margin(1e-6));
    CHECK(chi_square_1_survival(6.634897) == Approx(0.01).margin(1e-6));
    CHECK(chi_square_1_survival(2.705543) == Approx(0.10).margin(1e-6));
    CHECK(chi_square_1_survival(0.0) == 1.0);
}

TEST_CASE("Brier score, skill and AUC of a small hand-made record", "[backtest]") {
    const ForecastScores s = score({0.1, 0.9, 0.5, 0.2}, {0, 1, 1, 0});
    CHECK(s.windows == 4);
    CHECK(s.mean_predicted == Approx(0.425));
    CHECK(s.realised_rate == 0.5);
    CHECK(s.brier == Approx((0.01 + 0.01 + 0.25 + 0.04) / 4));
    CHECK(s.brier_reference == Approx(0.25));
    CHECK(s.brier_skill == Approx(1.0 - 0.0775 / 0.25));
    CHECK(s.auc == 1.0);  // every event window predicted above every calm one

    // Ties count half: events at 0.3 and 0.1, calm windows at 0.3 and 0.2 -> (0.5 + 1) / 4.
    CHECK(score({0.3, 0.3, 0.1, 0.2}, {1, 0, 1, 0}).auc == Approx(0.375));
    // One outcome only: no discrimination to measure, no climatology to beat.
    const ForecastScores calm = score({0.1, 0.2}, {0, 0});
    CHECK(std::isnan(calm.auc));
    CHECK(std::isnan(calm.brier_skill));
}

TEST_CASE("the AUC equals the share of (event, calm) pairs ranked right, ties half",
          "[backtest]") {
    std::mt19937_64 engine(3);
    std::uniform_int_distribution<int> level(0, 20);  // coarse: many ties
    std::bernoulli_distribution coin(0.3);
    std::vector<double> predicted;
    std::vector<int> realised;
    for (int k = 0; k < 400; ++k) {
        predicted.push_back(level(engine) / 20.0);
        realised.push_back(coin(engine) ? 1 : 0);
    }
    double pairs = 0.0;
    double right = 0.0;
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        for (std::size_t j = 0; j < predicted.size(); ++j) {
            if (!realised[i] || realised[j]) continue;
            pairs += 1.0;
            right += predicted[i] > predicted[j] ? 1.0 : predicted[i] == predicted[j] ? 0.5 : 0.0;
        }
    }
    CHECK(score(predicted, realised).auc == Approx(right / pairs).epsilon(1e-12));
}

TEST_CASE("Kupiec's test: 5 events in 100 windows predicted at 2%", "[backtest]") {
    const std::vector<double> predicted(100, 0.02);
    std::vector<int> realised(100, 0);
    for (int k : {3, 17, 40, 41, 90}) realised[static_cast<std::size_t>(k)] = 1;
    const ForecastScores s = score(predicted, realised);
    CHECK(s.kupiec.events == 5);
    CHECK(s.kupiec.expected_events == Approx(2.0));
    // -2 [5 ln(0.02 / 0.05) + 95 ln(0.98 / 0.95)], computed by hand: 3.25570, p = 0.07118.
    CHECK(s.kupiec.statistic == Approx(3.25570).margin(1e-4));
    CHECK(s.kupiec.p_value == Approx(0.07118).margin(1e-4));
    // A forecast of 0 contradicted by an event is rejected outright.
    const ForecastScores never = score({0.0, 0.0, 0.0}, {0, 1, 0});
    CHECK(std::isinf(never.kupiec.statistic));
    CHECK(never.kupiec.p_value == 0.0);
    // Exactly as often as predicted: no evidence against.
    CHECK(score({0.5, 0.5}, {1, 0}).kupiec.statistic == Approx(0.0).margin(1e-12));
}

TEST_CASE("Christoffersen's test counts the transitions and measures clustering", "[backtest]") {
    const ForecastScores s = score(std::vector<double>(10, 0.4), {0, 0, 1, 1, 0, 0, 1, 1, 0, 0});
    CHECK(s.christoffersen.transitions[0][0] == 3);
    CHECK(s.christoffersen.transitions[0][1] == 2);
    CHECK(s.christoffersen.transitions[1][0] == 2);
    CHECK(s.christoffersen.transitions[1][1] == 2);
    // -2 [4 ln(4/9) + 5 ln(5/9) - 2 ln(2/5) - 3 ln(3/5) - 4 ln(1/2)], by hand: 0.090014.
    CHECK(s.christoffersen.statistic == Approx(0.090014).margin(1e-5));

    // Events in runs of ten after calm runs of forty: independence is rejected.
    std::vector<int> runs;
    for (int block = 0; block < 10; ++block) {
        runs.insert(runs.end(), 40, 0);
        runs.insert(runs.end(), 10, 1);
    }
    CHECK(score(std::vector<double>(runs.size(), 0.2), runs).christoffersen.p_value < 1e-6);

    // Independent events: the statistic is a chi-square(1) draw, below its 99.9% quantile here.
    std::mt19937_64 engine(8);
    std::bernoulli_distribution coin(0.1);
    std::vector<int> independent;
    for (int k = 0; k < 20000; ++k) independent.push_back(coin(engine) ? 1 : 0);
    CHECK(score(std::vector<double>(independent.size(), 0.1), independent).christoffersen.statistic <
          10.83);
}

TEST_CASE("the reliability table bins the windows by prediction", "[backtest]") {
    const ForecastScores s =
        score({0.005, 0.004, 0.015, 0.5, 0.69, 1.0, 0.7}, {0, 1, 0, 1, 0, 1, 1});
    REQUIRE(s.reliability.size() == 4);
    CHECK(s.reliability[0].low == 0.0);
    CHECK(s.reliability[0].windows == 2);
    CHECK(s.reliability[0].mean_predicted == Approx(0.0045));
    CHECK(s.reliability[0].realised_rate == 0.5);
    CHECK(s.reliability[1].low == 0.01);
    CHECK(s.reliability[1].windows == 1);
    CHECK(s.reliability[2].low == 0.5);
    CHECK(s.reliability[2].windows == 2);
    CHECK(s.reliability[2].realised_rate == 0.5);
    CHECK(s.reliability[3].low == 0.7);  // the last bin holds 1.0
    CHECK(s.reliability[3].windows == 2);
    CHECK(s.reliability[3].realised_rate == 1.0);
}

namespace {

const std::string& book_toml = backtest_book_toml;

std::vector<PriceSeries> synthetic_history() { return synthetic_backtest_history(); }

BacktestOptions small_options() {
    BacktestOptions options;
    options.from = date(2021, 1, 10);
    options.to = date(2022, 1, 10);
    options.every_days = 30;
    options.window_days = 300;
    options.models = {BacktestModel::gaussian, BacktestModel::garch, BacktestModel::fhs};
    options.paths = 3000;
    options.threads = 1;
    return options;
}

}  // namespace

TEST_CASE("the book is re-opened at the start date's close: same margin and leverage", "[backtest]") {
    const Scenario book = parse_scenario(book_toml, "book");
    const std::vector<double> close{80.0, 65.0};
    const Scenario reopened = reopened_book(book, close);
    CHECK(reopened.assets[0].price == 80.0);
    CHECK(reopened.positions[0].entry_price == 80.0);
    CHECK(reopened.positions[0].quantity == Approx(1000.0 * 10.0 / 80.0));
    CHECK(reopened.positions[0].margin == 1000.0);
    // Given by quantity: its leverage at load, 60 x 50 / 1000 = 3, kept.
    CHECK(reopened.positions[1].leverage == Approx(3.0));
    CHECK(reopened.positions[1].quantity == Approx(1000.0 * 3.0 / 65.0));
    CHECK(reopened.positions[1].mode == MarginMode::cross);
}

TEST_CASE("the backtest's realised isolated flag is the close crossing the liquidation price",
          "[backtest]") {
    const Scenario book = parse_scenario(book_toml, "book");
    const std::vector<PriceSeries> history = synthetic_history();
    const BacktestResult result = run_backtest(book, history, small_options());
    REQUIRE(result.windows.size() == 13);
    CHECK(result.skipped.empty());
    CHECK(result.horizon_days == 5);
    const PriceSeries& aaa = history[0];
    for (const BacktestWindow& w : result.windows) {
        INFO(format_date(w.start));
        const auto k = static_cast<std::size_t>(std::find(aaa.dates.begin(), aaa.dates.end(), w.start) - aaa.dates.begin());
        // An isolated long at leverage 10 under a flat rate 1%: margin + q (P - P0) = q P r at
        // P = P0 (1 - 1/10) / (1 - 0.01). The short of BBB is cross: only AAA can set the flag.
        const double liquidation = aaa.closes[k] * 0.9 / 0.99;
        bool crossed = false;
        for (std::size_t d = 1; d <= 5; ++d) crossed = crossed || aaa.closes[k + d] <= liquidation;
        CHECK(w.realised.isolated_any_close == crossed);
        // Without High/Low columns the extremes are the closes.
        CHECK(w.realised.isolated_any_low == crossed);
        REQUIRE(w.predicted.size() == 3);
        // gaussian and fhs predict every window; garch skips those whose fit is integrated.
        REQUIRE(w.predicted[0]);
        REQUIRE(w.predicted[2]);
        for (const auto& predicted : w.predicted)
            if (predicted)
                for (double p : *predicted) CHECK((p >= 0.0 && p <= 1.0));
    }
    // The scores count the windows each model predicted.
    CHECK(result.scores[0][0].windows == result.windows.size());
}

TEST_CASE("no look-ahead: changing the prices after a start date changes none of its predictions",
          "[backtest]") {
    const Scenario book = parse_scenario(book_toml, "book");
    const std::vector<PriceSeries> history = synthetic_history();
    std::vector<PriceSeries> changed = history;
    const Date cut = date(2021, 6, 9);  // the start of the 6th window
    std::mt19937_64 engine(9);
    std::lognormal_distribution<double> shock(0.0, 0.3);
    for (PriceSeries& s : changed) {
        for (std::size_t k = 0; k < s.dates.size(); ++k) {
            if (s.dates[k] > cut) s.closes[k] *= shock(engine);
        }
    }
    const BacktestResult original = run_backtest(book, history, small_options());
    const BacktestResult other = run_backtest(book, changed, small_options());
    REQUIRE(original.windows.size() == other.windows.size());
    std::size_t compared = 0;
    bool later_differs = false;
    for (std::size_t w = 0; w < original.windows.size(); ++w) {
        if (original.windows[w].start <= cut) {
            INFO(format_date(original.windows[w].start));
            for (std::size_t m = 0; m < 3; ++m) CHECK(original.windows[w].predicted[m] == other.windows[w].predicted[m]);
            ++compared;
        } else {
            later_differs = later_differs || original.windows[w].predicted[0] != other.windows[w].predicted[0];
        }
    }
    CHECK(compared == 6);
    CHECK(later_differs);  // the later windows do see the changed prices
}

TEST_CASE("the backtest's numbers do not depend on the thread count", "[backtest]") {
    const Scenario book = parse_scenario(book_toml, "book");
    BacktestOptions options = small_options();
    options.to = date(2021, 4, 10);
    const BacktestResult one = run_backtest(book, synthetic_history(), options);
    options.threads = 2;
    const BacktestResult two = run_backtest(book, synthetic_history(), options);
    REQUIRE(one.windows.size() == two.windows.size());
    for (std::size_t w = 0; w < one.windows.size(); ++w) CHECK(one.windows[w].predicted == two.windows[w].predicted);
}

TEST_CASE("marginsim backtest writes the windows and scores, and refuses bad requests", "[backtest]") {
    TempDir dir("marginsim_backtest");
    for (const PriceSeries& s : synthetic_history()) {
        std::ofstream(dir.path() / (s.symbol + ".csv")) << ordered_csv({s.dates, s.closes});
    }
    std::ofstream(dir.path() / "book.toml") << book_toml;
    const std::string base = std::string(MARGINSIM_CLI) + " backtest " + shell_quoted(dir.path() / "book.toml") +
                             " --history " + shell_quoted(dir.path()) + " --paths 2000 --window 300 -q";
    const auto json_path = dir.path() / "bt.json";
    const CliResult ok = run_shell(base + " --from 2021-01-10 --to 2021-03-11 --every 30 --models gaussian,ewma --json " +
                                       shell_quoted(json_path),
                                   dir.path() / "out", dir.path() / "err");
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    const nlohmann::json json = nlohmann::json::parse(read_all(json_path));
    CHECK(json["schema"] == "marginsim.backtest/1");
    REQUIRE(json["windows"].size() == 3);
    CHECK(json["windows"][0]["start"] == "2021-01-10");
    CHECK(json["windows"][0]["predicted"]["ewma"]["cross"].is_number());
    CHECK(json["windows"][0]["realised"].contains("cross_low"));
    CHECK(json["scores"]["gaussian"]["isolated_any_close"]["windows"] == 3);
    CHECK(json["options"]["parameter_uncertainty"] == false);
    CHECK(ok.out.empty());  // -q: no table
    // --uncertainty: said in the options; the draws change the predictions.
    const CliResult uncertain = run_shell(base + " --from 2021-01-10 --to 2021-03-11 --every 30 --models gaussian,ewma "
                                                 "--uncertainty --json " + shell_quoted(dir.path() / "bt_u.json"),
                                          dir.path() / "out", dir.path() / "err");
    REQUIRE(uncertain.code == 0);
    const nlohmann::json drawn = nlohmann::json::parse(read_all(dir.path() / "bt_u.json"));
    CHECK(drawn["options"]["parameter_uncertainty"] == true);
    CHECK(drawn["windows"][0]["predicted"]["ewma"]["isolated"] != json["windows"][0]["predicted"]["ewma"]["isolated"]);
    // Without -q the score table, one row per model under each flag.
    std::string loud = base;
    loud.erase(loud.rfind(" -q"));
    const CliResult table = run_shell(loud + " --from 2021-01-10 --to 2021-03-11 --every 30 --models gaussian,ewma",
                                      dir.path() / "out", dir.path() / "err");
    REQUIRE(table.code == 0);
    CHECK(table.out.find("cross_close (predicted by the cross mode)") != std::string::npos);
    CHECK(table.out.find("  ewma ") != std::string::npos);

    const CliResult reversed = run_shell(base + " --from 2021-03-10 --to 2021-01-10", dir.path() / "out", dir.path() / "err");
    CHECK(reversed.code == 2);
    const CliResult outside = run_shell(base + " --from 2030-01-01 --to 2030-02-01", dir.path() / "out", dir.path() / "err");
    CHECK(outside.code == 2);
    CHECK(outside.err.find("no start date") != std::string::npos);
    const CliResult model = run_shell(base + " --from 2021-01-10 --to 2021-02-10 --models gauss", dir.path() / "out",
                                      dir.path() / "err");
    CHECK(model.code == 2);
}

TEST_CASE("a crash day of the stress catalogue inside a window's horizon is listed with that window",
          "[backtest]") {
    const Scenario book = parse_scenario(book_toml, "book");
    std::vector<PriceSeries> history = synthetic_history();
    const Date crash = date(2021, 5, 19);  // may-2021 in the catalogue
    PriceSeries& aaa = history[0];
    for (std::size_t k = 0; k < aaa.dates.size(); ++k) {
        if (aaa.dates[k] >= crash) aaa.closes[k] *= 0.7;  // AAA falls 30% that day
    }
    BacktestOptions options = small_options();
    options.from = date(2021, 5, 13);
    options.to = date(2021, 5, 25);
    options.every_days = 3;
    const BacktestResult result = run_backtest(book, history, options);
    // Starts 05-13, 05-16, 05-19, 05-22, 05-25 with 5-day horizons: only 05-16's bars (05-17 ..
    // 05-21) hold 05-19; 05-13's end on 05-18, and 05-19's book opens at the crash's close.
    REQUIRE(result.windows.size() == 5);
    REQUIRE(result.windows[1].start == date(2021, 5, 16));
    REQUIRE(result.crash_windows.size() == 1);
    CHECK(result.crash_windows[0].name == "may-2021");
    CHECK(result.crash_windows[0].date == crash);
    CHECK(result.crash_windows[0].windows == std::vector<std::size_t>{1});
    // The isolated 10x long's liquidation price is the start's close x 0.9 / 0.99 (flat 1% rate).
    const auto k = static_cast<std::size_t>(std::find(aaa.dates.begin(), aaa.dates.end(), date(2021, 5, 16)) -
                                            aaa.dates.begin());
    bool crossed = false;
    for (std::size_t d = 1; d <= 5; ++d) crossed = crossed || aaa.closes[k + d] <= aaa.closes[k] * 0.9 / 0.99;
    REQUIRE(crossed);
    CHECK(result.windows[1].realised.isolated_any_close);

    // JSON: the covering window as the windows list has it; text, CSV and HTML name it too.
    const nlohmann::json json = nlohmann::json::parse(to_json(result));
    REQUIRE(json["crash_windows"].size() == 1);
    const nlohmann::json& entry = json["crash_windows"][0];
    CHECK(entry["name"] == "may-2021");
    CHECK(entry["date"] == "2021-05-19");
    REQUIRE(entry["windows"].size() == 1);
    CHECK(entry["windows"][0] == json["windows"][1]);
    CHECK(entry["windows"][0]["realised"]["isolated_any_close"] == true);
    CHECK(entry["windows"][0]["predicted"]["gaussian"]["isolated"] ==
          (*result.windows[1].predicted[0])[mode_index(MarginMode::isolated)]);
    CHECK(backtest_text(result).find("may-2021 (2021-05-19): window 2021-05-16, realised: isolated_any_low, "
                                     "isolated_any_close") != std::string::npos);
    std::istringstream csv(to_csv(result));
    std::string line;
    std::getline(csv, line);
    CHECK(line.ends_with(",crash_windows"));
    std::size_t named_rows = 0;
    while (std::getline(csv, line)) {
        INFO(line);
        const bool covering = line.starts_with("2021-05-16,");
        CHECK(line.ends_with(covering ? ",may-2021" : ","));
        named_rows += covering ? 1 : 0;
    }
    CHECK(named_rows == 3);  // one row per model
    CHECK(to_html(result).find("<tr><td>may-2021</td><td>2021-05-19</td><td>2021-05-16</td>") != std::string::npos);
}

TEST_CASE("the backtest's jump model is the window's jump fit on top of the diffusion that keeps "
          "the total variance",
          "[backtest]") {
    const std::filesystem::path source(MARGINSIM_SOURCE_DIR);
    const Scenario book = load_scenario(source / "configs" / "seed_example.toml",
                                        LoadOptions{source / "configs" / "exchanges"});
    const std::filesystem::path dir = source / "data" / "binance_daily";
    const std::vector<std::filesystem::path> files{dir / "Binance_BTCUSDT_d.csv", dir / "Binance_ETHUSDT_d.csv",
                                                   dir / "Binance_SOLUSDT_d.csv"};
    CalibrationOptions options;
    options.window_days = 730;
    options.as_of = date(2022, 11, 15);  // LUNA and FTX in the window
    const Calibration crashes = calibrate_files(files, {}, options);
    REQUIRE(crashes.jumps.days.size() >= 3);
    const std::optional<Scenario> jump = with_calibrated_model(book, BacktestModel::jump, crashes);
    REQUIRE(jump);
    CHECK(jump->simulation.model == PriceModel::gaussian);
    CHECK(jump->simulation.jumps);
    CHECK(jump->jumps.intensity == crashes.jumps.intensity.value);
    for (std::size_t i = 0; i < 3; ++i) {
        const JumpSize& size = jump->jumps.market[i];
        CHECK(size.mean == crashes.jumps.mean[i].value);
        CHECK(size.vol == crashes.jumps.vol[i].value);
        // Diffusion plus jumps: the window's total annual variance, as the gaussian model's.
        const double vol = jump->assets[i].volatility;
        CHECK(vol * vol + jump->jumps.intensity * (size.mean * size.mean + size.vol * size.vol) ==
              Approx(crashes.volatility[i].value * crashes.volatility[i].value));
        CHECK(jump->jumps.idiosyncratic_intensity[i] == 0.0);
    }
    RunOptions run;
    run.paths = 4000;
    CHECK(simulate(*jump, run).modes[0].summary.liquidation_probability.estimate > 0.0);

    // A calm half-year, 2023-04 .. 2023-10: no market-wide jump day, intensity 0 over the
    // sample volatilities.
    options.window_days = 180;
    options.as_of = date(2023, 10, 15);
    const Calibration calm = calibrate_files(files, {}, options);
    REQUIRE(calm.jumps.days.empty());
    const std::optional<Scenario> none = with_calibrated_model(book, BacktestModel::jump, calm);
    REQUIRE(none);
    CHECK(none->jumps.intensity == 0.0);
    for (std::size_t i = 0; i < 3; ++i) CHECK(none->assets[i].volatility == Approx(calm.volatility[i].value));
    CHECK(simulate(*none, run).modes[0].summary.liquidation_probability.estimate >= 0.0);
}

TEST_CASE("backtest --uncertainty: every model but regime draws its volatilities as from the window's returns and "
          "the book's own uncertainty table is not used",
          "[backtest]") {
    const std::filesystem::path source(MARGINSIM_SOURCE_DIR);
    Scenario book = load_scenario(source / "configs" / "seed_example.toml", LoadOptions{source / "configs" / "exchanges"});
    book.uncertainty.returns = 12.0;  // the book's: recalibrated, never passed on
    const std::filesystem::path dir = source / "data" / "binance_daily";
    const std::vector<std::filesystem::path> files{dir / "Binance_BTCUSDT_d.csv", dir / "Binance_ETHUSDT_d.csv",
                                                   dir / "Binance_SOLUSDT_d.csv"};
    CalibrationOptions options;
    options.window_days = 180;
    options.as_of = date(2024, 8, 1);
    options.every_model = true;
    const Calibration c = calibrate_files(files, {}, options);
    REQUIRE(c.uncertainty_returns > 3.0);
    REQUIRE(c.uncertainty_returns < 180.0);
    for (const BacktestModel model : {BacktestModel::gaussian, BacktestModel::garch, BacktestModel::regime}) {
        INFO(to_string(model));
        const std::optional<Scenario> plain = with_calibrated_model(book, model, c);
        const std::optional<Scenario> uncertain = with_calibrated_model(book, model, c, true);
        REQUIRE(plain);
        REQUIRE(uncertain);
        CHECK(!plain->uncertainty.on());
        CHECK(uncertain->uncertainty.returns == (model == BacktestModel::regime ? 0.0 : c.uncertainty_returns));
        RunOptions run;
        run.paths = 2000;
        CHECK(simulate(*uncertain, run).modes[0].summary.liquidation_probability.estimate >= 0.0);
    }
}
