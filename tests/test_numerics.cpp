// Numerical guards (docs/model.md#numerical-guards): no NaN or infinity reaches a report. The
// validator refuses scenarios whose prices or notionals overflow on a plausible path, at the
// boundary docs/model.md gives; a path that overflows anyway is counted and left out of the
// statistics, which then match the closed forms conditioned on staying in range; and every
// rendering of a report refuses a non-finite number, naming its key.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "marginsim/error.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"
#include "scenario_builder.hpp"

namespace {

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

const double log_max_double = std::log(std::numeric_limits<double>::max());

// The plausible rise of a log price over T years, as docs/model.md#numerical-guards states it:
// for every model max(0, (mu - vol^2/2) T) + 40 vol sqrt(T); for the gaussian model at most max(0, mu) T + 46.
double plausible_rise(double vol, double mu, double years, bool gaussian) {
    const double deviations = std::max(0.0, (mu - 0.5 * vol * vol) * years) + 40.0 * vol * std::sqrt(years);
    return gaussian ? std::min(deviations, std::max(0.0, mu) * years + 46.0) : deviations;
}

// One asset A (the one under test) and a small ordinary position on a second asset B, so that
// only A's own numbers decide.
std::string asset_scenario(double price, double vol, double drift, double horizon_days, const std::string& model) {
    return fmt::format(R"([simulation]
paths = 1000
horizon_days = {}
steps_per_day = 1
{}

[account]
balance = 1000.0

[[assets]]
symbol = "A"
price = {}
volatility = {}
drift = {}
maintenance_margin_rate = 0.005

[[assets]]
symbol = "B"
price = 100.0
volatility = 0.5
maintenance_margin_rate = 0.005

[[positions]]
symbol = "B"
side = "long"
margin = 100.0
leverage = 2.0
)",
                       horizon_days, model, price, vol, drift);
}

const std::string gaussian = "";
const std::string student_t = "model = \"student_t\"\ndof = 4.0";

// The InputError of parsing `text`, which must fail.
InputError refusal(const std::string& text) {
    try {
        parse_scenario(text, "numerics.toml");
    } catch (const InputError& error) {
        return error;
    }
    FAIL("the scenario was accepted:\n" << text);
    throw std::logic_error("unreachable");
}

// Line (1-based) of the first line of `text` that starts with `prefix`.
std::size_t line_of(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n)
        if (line.rfind(prefix, 0) == 0) return n;
    FAIL("no line starts with " << prefix);
    return 0;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

TEST_CASE("a price that overflows at the plausible top is refused at its key and one just below is not") {
    const double years = 30.0 / 365.0;
    const double vol = 2.0;
    for (const bool is_gaussian : {true, false}) {
        const double rise = plausible_rise(vol, 0.0, years, is_gaussian);
        const std::string& model = is_gaussian ? gaussian : student_t;
        INFO("gaussian: " << is_gaussian << ", rise " << rise);
        // Just below the largest double: accepted.
        CHECK_NOTHROW(parse_scenario(asset_scenario(std::exp(log_max_double - rise - 0.01), vol, 0.0, 30.0, model),
                                     "numerics.toml"));
        // Just above: refused, at assets[0].price (the price is what overflows here).
        const std::string text = asset_scenario(std::exp(log_max_double - rise + 0.01), vol, 0.0, 30.0, model);
        const InputError error = refusal(text);
        CHECK(error.key() == "assets[0].price");
        CHECK(error.line() == line_of(text, "price = ") );
        CHECK(error.column() == std::string("price = ").size() + 1);
        CHECK_THAT(error.message(), Catch::Contains("a plausible path overflows"));
    }
}

TEST_CASE("volatility over a long horizon overflows under student_t but not under the gaussian martingale bound") {
    // vol 5 for 10 years: 40 x 5 x sqrt(10) = 632 log units above a price of e^100.
    const double price = std::exp(100.0);
    const double years = 3650.0 / 365.0;
    REQUIRE(std::log(price) + plausible_rise(5.0, 0.0, years, false) > log_max_double);
    REQUIRE(std::log(price) + plausible_rise(5.0, 0.0, years, true) < log_max_double);
    const std::string t_text = asset_scenario(price, 5.0, 0.0, 3650.0, student_t);
    const InputError error = refusal(t_text);
    CHECK(error.key() == "assets[0].volatility");
    CHECK(error.line() == line_of(t_text, "volatility = 5"));
    // Gaussian: the price discounted at its drift is a martingale, so Doob's inequality bounds
    // its maximum; the same numbers are accepted.
    CHECK_NOTHROW(parse_scenario(asset_scenario(price, 5.0, 0.0, 3650.0, gaussian), "numerics.toml"));
}

TEST_CASE("a drift that compounds past the largest double is refused at the drift") {
    const std::string text = asset_scenario(100.0, 0.1, 100.0, 3650.0, gaussian);  // e^(100 x 10)
    const InputError error = refusal(text);
    CHECK(error.key() == "assets[0].drift");
    CHECK(error.line() == line_of(text, "drift = "));
}

TEST_CASE("the balance is at most the largest amount") {
    std::string text = asset_scenario(100.0, 0.5, 0.0, 7.0, gaussian);
    const std::string from = "balance = 1000.0";
    text.replace(text.find(from), from.size(), "balance = 1.5e30");
    const InputError error = refusal(text);
    CHECK(error.key() == "account.balance");
    CHECK_THAT(error.message(), Catch::Contains("too large"));
}

TEST_CASE("a notional that passes the largest amount at the plausible top price is refused") {
    // Position on B (vol 0.5, 7 days, gaussian): the top price is 100 e^rise.
    const double rise = plausible_rise(0.5, 0.0, 7.0 / 365.0, true);
    const double top_leverage = max_amount / (100.0 * std::exp(rise)) * 100.0 / 1e28;  // margin 1e28
    const auto text_at = [&](double leverage) {
        std::string text = asset_scenario(100.0, 0.5, 0.0, 7.0, gaussian);
        text.replace(text.find("balance = 1000.0"), 16, "balance = 1e29");
        text.replace(text.find("margin = 100.0"), 14, "margin = 1e28");
        text.replace(text.find("leverage = 2.0"), 14, fmt::format("leverage = {}", leverage));
        return text;
    };
    CHECK_NOTHROW(parse_scenario(text_at(0.99 * top_leverage), "numerics.toml"));
    const std::string text = text_at(1.01 * top_leverage);
    const InputError error = refusal(text);
    CHECK(error.key() == "positions[0]");
    CHECK(error.line() == line_of(text, "[[positions]]"));
    CHECK_THAT(error.message(), Catch::Contains("notional can overflow"));
}

TEST_CASE("a sweep point that overflows is refused before anything runs") {
    // A at 1e300 = e^690.8, vol 1 over 30 days: 40 standard deviations are 11.5 log units.
    const Scenario scenario = parse_scenario(asset_scenario(1e300, 1.0, 0.0, 30.0, student_t), "numerics.toml");
    CHECK_FALSE(find_overflow(scenario).has_value());
    SweepSpec spec;
    spec.parameter = SweepParameter::volatility_scale;
    spec.values = {1.0, 1.5};  // 690.8 + 1.5 x 11.5 = 708 < 709.78
    CHECK_NOTHROW(check_sweep(scenario, spec));
    spec.values = {1.0, 5.0};  // 690.8 + 5 x 11.5 = 748
    try {
        check_sweep(scenario, spec);
        FAIL("the sweep was accepted");
    } catch (const InputError& error) {
        CHECK(error.key() == "value 5");
        CHECK_THAT(error.message(), Catch::Contains("assets[0].volatility: a plausible path overflows"));
    }
    spec.parameter = SweepParameter::horizon_days;
    spec.values = {30.0, 30.0 * 25.0};  // the same 40 vol sqrt(T) by a longer horizon
    CHECK_THROWS_WITH(check_sweep(scenario, spec), Catch::Contains("assets[0].volatility: a plausible path overflows"));
}

namespace {

// One asset at price 1 moving one step of sd s = vol sqrt(dt): X = -s^2/2 + s z. A long of
// quantity q = 1e30 e^-a (leverage 1, never liquidated) overflows exactly when X > a; an
// isolated short at leverage 10 is liquidated when X >= l = log(1.1 / 1.005).
struct OneStep {
    double s = 0.25;
    double a = 0.5;
    double q = max_amount * std::exp(-0.5);
    double short_margin = 100.0;
    double mu() const { return -0.5 * s * s; }
    double z_of(double x) const { return (x - mu()) / s; }
    double liquidation_log_price() const { return std::log((1.0 + 1.0 / 10.0) / (1.0 + 0.005)); }

    // Watched at its one step only (discrete monitoring): the closed forms are of X alone.
    Scenario scenario(std::uint64_t paths) const {
        const double vol = s * std::sqrt(365.0);
        Scenario out = ScenarioBuilder(q + short_margin, 1.0, 1, paths)
                           .asset("A", 1.0, vol, 0.0, 0.005)
                           .position("A", Side::long_side, q, 1.0, MarginMode::isolated)
                           .position("A", Side::short_side, short_margin, 10.0, MarginMode::isolated)
                           .build();
        out.simulation.monitoring = Monitoring::discrete;
        return out;
    }
};

// One 10x long on one asset at 80% volatility, 1000 balance: every notional stays far in range.
Scenario long_in_range(double horizon_days, std::uint64_t paths) {
    return ScenarioBuilder(1000.0, horizon_days, 24, paths)
        .asset("A", 100.0, 0.8)
        .position("A", Side::long_side, 100.0, 10.0)
        .build();
}

}  // namespace

TEST_CASE("overflowed paths are counted and left out and the rest match the conditioned closed forms") {
    const OneStep model;
    const std::uint64_t paths = 40000;
    const Scenario scenario = model.scenario(paths);
    // The validator would refuse it: it overflows on a plausible path.
    REQUIRE(find_overflow(scenario).has_value());
    const Report report = simulate(scenario, RunOptions{std::nullopt, std::nullopt, 2});

    // Count: binomial with p = P(X > a), within 5 standard deviations.
    const double p_overflow = 1.0 - normal_cdf(model.z_of(model.a));
    const double n = static_cast<double>(paths);
    const double overflowed = static_cast<double>(report.simulation.overflowed_paths);
    INFO("overflowed " << overflowed << " of " << n << ", expected " << p_overflow * n);
    CHECK(std::abs(overflowed - p_overflow * n) < 5.0 * std::sqrt(n * p_overflow * (1 - p_overflow)));
    REQUIRE(overflowed > 0);

    // The statistics are over the kept paths, X <= a.
    const double kept = n - overflowed;
    const double p_kept = normal_cdf(model.z_of(model.a));
    const double p_liquidated = (p_kept - normal_cdf(model.z_of(model.liquidation_log_price()))) / p_kept;
    const ModeReport& isolated = report.modes[mode_index(MarginMode::isolated)];
    const double estimate = isolated.summary.liquidation_probability.estimate;
    CHECK(std::abs(estimate - p_liquidated) < 5.0 * std::sqrt(p_liquidated * (1 - p_liquidated) / kept));
    CHECK(isolated.positions[1].liquidation_probability == Approx(estimate));
    CHECK(isolated.positions[0].liquidation_probability == 0.0);

    // Mean loss of the isolated account, conditioned on X <= a: the long loses -q (e^X - 1);
    // the short loses its margin when liquidated (policy full), else q_s (e^X - 1).
    // E[e^X; X <= b] = e^(mu + s^2/2) Phi((b - mu - s^2) / s).
    const auto partial_exp = [&](double b) {
        return std::exp(model.mu() + 0.5 * model.s * model.s) * normal_cdf((b - model.mu() - model.s * model.s) / model.s);
    };
    const double l = model.liquidation_log_price();
    const double short_quantity = model.short_margin * 10.0;
    const double long_part = -model.q * (partial_exp(model.a) - p_kept);
    const double short_part = model.short_margin * (p_kept - normal_cdf(model.z_of(l))) +
                              short_quantity * (partial_exp(l) - normal_cdf(model.z_of(l)));
    const double mean = (long_part + short_part) / p_kept;
    const double std_error = isolated.summary.loss.std / std::sqrt(kept);
    INFO("mean " << isolated.summary.loss.mean << ", closed form " << mean << ", std error " << std_error);
    CHECK(std::abs(isolated.summary.loss.mean - mean) < 5.0 * std_error);
    CHECK(std::isfinite(isolated.summary.loss.std));
    CHECK(std::isfinite(isolated.summary.drawdown.p99));

    // Reported, in every rendering, and never depends on the thread count.
    const nlohmann::json json = nlohmann::json::parse(to_json(report));
    CHECK(json.at("simulation").at("overflowed_paths") == report.simulation.overflowed_paths);
    CHECK_THAT(json.at("warnings").back().get<std::string>(),
               Catch::Contains(fmt::format("{} of {} paths overflowed", report.simulation.overflowed_paths, paths)));
    std::ostringstream text;
    write_text(text, report);
    CHECK_THAT(text.str(), Catch::Contains("overflowed paths: "));
    CHECK_THAT(to_csv(report), Catch::Contains(fmt::format("simulation,,overflowed_paths,{}\n",
                                                           report.simulation.overflowed_paths)));
    const Report serial = simulate(scenario, RunOptions{std::nullopt, std::nullopt, 1});
    CHECK(serial.simulation.overflowed_paths == report.simulation.overflowed_paths);
    CHECK(serial.modes[0].summary.loss.mean == report.modes[0].summary.loss.mean);
}

TEST_CASE("a run in range reports zero overflowed paths and no warning") {
    const Scenario scenario = long_in_range(7.0, 2000);
    const Report report = simulate(scenario);
    CHECK(report.simulation.overflowed_paths == 0);
    CHECK(report.warnings.empty());
    std::ostringstream text;
    write_text(text, report);
    CHECK_THAT(text.str(), !Catch::Contains("overflowed"));
}

TEST_CASE("a run where every path overflows is an error and not a report") {
    OneStep model;
    model.a = -10.0;  // the long's notional is above the limit from the start
    model.q = max_amount * std::exp(10.0);
    CHECK_THROWS_WITH(simulate(model.scenario(3000)), Catch::Contains("every one of the 3000 paths overflowed"));
}

TEST_CASE("no rendering of a report prints NaN or infinity and each names the key") {
    const Scenario scenario = long_in_range(2.0, 1024);
    const Report clean = simulate(scenario);
    CHECK_NOTHROW(check_finite(clean));
    struct Poison {
        std::string key;
        void (*apply)(Report&);
    };
    const Poison poisons[] = {
        {"report.modes.cross.loss.std", [](Report& r) { r.modes[1].summary.loss.std = std::nan(""); }},
        {"report.modes.isolated.drawdown.p99",
         [](Report& r) { r.modes[0].summary.drawdown.p99 = std::numeric_limits<double>::infinity(); }},
        {"report.simulation.elapsed_s",
         [](Report& r) { r.simulation.elapsed_s = -std::numeric_limits<double>::infinity(); }},
        {"report.account.balance", [](Report& r) { r.balance = std::nan(""); }},
        {"report.modes.as_configured.positions[0].liquidation_probability",
         [](Report& r) { r.modes[2].positions[0].liquidation_probability = std::nan(""); }},
    };
    for (const Poison& poison : poisons) {
        INFO(poison.key);
        Report report = clean;
        poison.apply(report);
        CHECK_THROWS_WITH(check_finite(report), Catch::Contains("'" + poison.key + "'"));
        CHECK_THROWS_WITH(to_json(report), Catch::Contains("'" + poison.key + "'"));
        std::ostringstream text;
        CHECK_THROWS_WITH(write_text(text, report), Catch::Contains("'" + poison.key + "'"));
        CHECK(text.str().empty());  // nothing printed before the refusal
        CHECK_THROWS_AS(to_csv(report), std::logic_error);
    }
}
