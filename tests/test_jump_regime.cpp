// The jump and regime models against closed forms: Merton's cumulants of the horizon log
// return, simultaneity of market-wide jumps, the stationary law and sojourn times of the
// regime chain, the per-regime correlation; determinism; the [jumps] and [regime] keys.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "marginsim/error.hpp"
#include "engine/market_model.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"
#include "model_cumulants.hpp"
#include "same_numbers.hpp"
#include "sample_moments.hpp"
#include "scenario_builder.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;
using marginsim::testing::error_of;
using marginsim::testing::replaced;
using namespace marginsim::testing::model_moments;

namespace {

// Steps one block of 1024 paths `steps` times from the start, on stream (seed, stream) as the
// engine would, and after each step calls visit(paths, log_before, regime_before) with the
// log prices ([asset * 1024 + path]) and regimes the step started from.
template <class Visit>
void walk_block(const Scenario& scenario, std::uint64_t stream, int steps, Visit&& visit) {
    // The price model alone: discrete monitoring, which draws nothing for the bridges.
    Scenario s = scenario;
    s.simulation.monitoring = Monitoring::discrete;
    const MarketModel model(s);
    const std::size_t n = block_size, assets = s.asset_count();
    PathBlock paths(assets, n);
    RandomStream rng(s.simulation.seed, stream);
    model.start(paths, n, rng);
    std::vector<double> log_before(assets * n);
    std::vector<std::uint8_t> regime_before(n);
    for (int k = 0; k < steps; ++k) {
        for (std::size_t i = 0; i < assets; ++i)
            std::copy_n(paths.log_price(i), n, log_before.begin() + static_cast<std::ptrdiff_t>(i * n));
        std::copy_n(paths.regime(), n, regime_before.begin());
        model.step(paths, rng);
        visit(std::as_const(paths), std::as_const(log_before), std::as_const(regime_before));
    }
}

void check_cumulants(const Estimate& e, const Cumulants& truth) {
    INFO("k1 " << e.value.k1 << " vs " << truth.k1 << " +- " << e.error.k1);
    INFO("k2 " << e.value.k2 << " vs " << truth.k2 << " +- " << e.error.k2);
    INFO("k3 " << e.value.k3 << " vs " << truth.k3 << " +- " << e.error.k3);
    INFO("k4 " << e.value.k4 << " vs " << truth.k4 << " +- " << e.error.k4);
    CHECK(std::abs(e.value.k1 - truth.k1) < 4.0 * e.error.k1);
    CHECK(std::abs(e.value.k2 - truth.k2) < 4.0 * e.error.k2);
    CHECK(std::abs(e.value.k3 - truth.k3) < 4.0 * e.error.k3);
    CHECK(std::abs(e.value.k4 - truth.k4) < 4.0 * e.error.k4);
    // The jumps are visible: a gaussian would sit many errors away in the 3rd and 4th.
    CHECK(std::abs(truth.k3) > 8.0 * e.error.k3);
    CHECK(std::abs(truth.k4) > 8.0 * e.error.k4);
}

}  // namespace

TEST_CASE("jump model: cumulants of the horizon log return match Merton's closed form") {
    // 30 days at 4 steps a day; BTC market jumps only, ETH market and idiosyncratic jumps.
    const JumpSize market{-0.05, 0.08};
    const JumpSize own{0.03, 0.06};
    const Scenario s = ScenarioBuilder(10000, 30, 4)
                           .asset("BTC", 66800, 0.3, 0.1)
                           .asset("ETH", 2000, 0.4, -0.2)
                           .uniform_correlation(0.7)
                           .jumps(20.0, market.mean, market.vol)
                           .idiosyncratic_jumps(1, 15.0, own.mean, own.vol)
                           .build();
    const auto x = horizon_log_returns(s, 196);  // 200,704 paths
    const double t = 30.0 / 365.0;
    SECTION("market jumps alone") {
        check_cumulants(estimate_cumulants(x[0], 49), merton_cumulants(0.1, 0.3, t, {{20.0, market}}));
    }
    SECTION("market and idiosyncratic jumps") {
        check_cumulants(estimate_cumulants(x[1], 49),
                        merton_cumulants(-0.2, 0.4, t, {{20.0, market}, {15.0, own}}));
    }
    SECTION("compensated drift: E[S_T] = S_0 exp(mu T)") {
        for (std::size_t i = 0; i < 2; ++i) {
            const double mu = s.assets[i].drift;
            double sum = 0.0, sum_sq = 0.0;
            for (double r : x[i]) {
                sum += std::exp(r);
                sum_sq += std::exp(2.0 * r);
            }
            const auto n = static_cast<double>(x[i].size());
            const double mean = sum / n;
            const double error = std::sqrt((sum_sq / n - mean * mean) / n);
            INFO(s.assets[i].symbol << ": E[S_T/S_0] " << mean << " vs " << std::exp(mu * t) << " +- " << error);
            CHECK(std::abs(mean - std::exp(mu * t)) < 4.0 * error);
            // Without compensation the mean would be off by lambda kappa T: many errors.
            CHECK(std::abs(20.0 * market.kappa() * t) > 8.0 * error);
        }
    }
}

TEST_CASE("Poisson counts by inversion have the Poisson probabilities") {
    const double mean = 0.7;
    const MarketModel::PoissonStep source{std::exp(-mean), mean};
    double cdf = 0.0, p = std::exp(-mean);
    for (std::uint32_t k = 0; k < 8; ++k, p *= mean / k) {
        // Just below and at the CDF step: count k, then k + 1.
        CHECK(MarketModel::poisson_count(source, cdf + 0.5 * p) == k);
        cdf += p;
        CHECK(MarketModel::poisson_count(source, std::nextafter(cdf, 2.0)) == k + 1);
    }
    // Above the CDF as rounded: the count where it stops growing, not a runaway.
    CHECK(MarketModel::poisson_count(source, std::nextafter(1.0, 0.0)) < 30);
}

namespace {

// Per path and step, which assets moved by more than `threshold` in log price:
// counts of steps where all moved, where some but not all moved, and assets x steps moved.
struct JumpTally {
    std::size_t all = 0;
    std::size_t some = 0;
    std::size_t asset_moves = 0;
    std::size_t path_steps = 0;
};

JumpTally tally_jumps(const Scenario& s, int steps, double threshold) {
    const std::size_t n = block_size, assets = s.asset_count();
    JumpTally tally;
    walk_block(s, 0, steps, [&](const PathBlock& paths, const std::vector<double>& before, const auto&) {
        for (std::size_t p = 0; p < n; ++p) {
            std::size_t moved = 0;
            for (std::size_t i = 0; i < assets; ++i) moved += std::abs(paths.log_price(i)[p] - before[i * n + p]) > threshold;
            tally.all += moved == assets;
            tally.some += moved > 0 && moved < assets;
            tally.asset_moves += moved;
            ++tally.path_steps;
        }
    });
    return tally;
}

}  // namespace

TEST_CASE("market-wide jumps hit every asset at the same step and idiosyncratic ones do not") {
    // A diffusion of 1e-6 a year moves a log price by ~1e-8 a step; jumps of -0.1 +- 0.01
    // move it by more than 0.02 (8 standard deviations of the size) at every jump.
    const double lambda = 50.0;
    const int steps = 200;
    ScenarioBuilder base(10000, 10, 24);
    base.asset("BTC", 66800, 1e-6).asset("ETH", 2000, 1e-6).asset("SOL", 80, 1e-6).uniform_correlation(0.5);
    const double p = -std::expm1(-lambda * base.scenario.simulation.dt_years);  // P(a jump in a step)
    const double path_steps = 1024.0 * steps;

    SECTION("market jumps") {
        const JumpTally t = tally_jumps(ScenarioBuilder(base).jumps(lambda, -0.1, 0.01).build(), steps, 0.02);
        INFO("steps with all assets jumping " << t.all << ", with some " << t.some);
        CHECK(t.some == 0);
        const double expected = p * path_steps;
        CHECK(std::abs(static_cast<double>(t.all) - expected) < 4.0 * std::sqrt(expected));
    }
    SECTION("idiosyncratic jumps") {
        const Scenario s = ScenarioBuilder(base)
                               .jumps(0.0, 0.0, 0.0)
                               .idiosyncratic_jumps(0, lambda, -0.1, 0.01)
                               .idiosyncratic_jumps(1, lambda, -0.1, 0.01)
                               .idiosyncratic_jumps(2, lambda, -0.1, 0.01)
                               .build();
        const JumpTally t = tally_jumps(s, steps, 0.02);
        INFO("asset jumps " << t.asset_moves << ", steps with all three " << t.all);
        const double expected = 3.0 * p * path_steps;
        CHECK(std::abs(static_cast<double>(t.asset_moves) - expected) < 4.0 * std::sqrt(expected));
        // Independent: all three at one step has probability p^3, i.e. ~0.04 such steps here.
        CHECK(t.all == 0);
        CHECK(t.some > 0);
    }
}

namespace {

const std::vector<double> calm_rho{1.0, 0.2, 0.2, 1.0};
const std::vector<double> stress_rho{1.0, 0.8, 0.8, 1.0};

Scenario regime_scenario(StartRegime start, double horizon_days) {
    return ScenarioBuilder(10000, horizon_days, 24)
        .asset("BTC", 66800, 0.5, 0.05)
        .asset("ETH", 2000, 0.7)
        .correlation(calm_rho)
        .regimes(20.0, 60.0, 2.0, stress_rho, start)
        .build();
}

using sample_moments::correlation;

}  // namespace

TEST_CASE("regime model: share of time in stress and sojourn times match the switching intensities") {
    // 60 days of hourly steps on 2048 paths, from the stationary law.
    const Scenario s = regime_scenario(StartRegime::stationary, 60);
    const double dt = s.simulation.dt_years;
    const std::size_t n = block_size;
    std::vector<double> share;                  // per path: its share of steps in stress
    // Per regime: steps spent in it and exits from it. The chain is memoryless, so the mean
    // stay is time / exits (the exponential's estimate; stays cut by the horizon count as time).
    std::array<double, 2> time_in{}, exits{};
    std::size_t started_in_stress = 0;
    for (std::uint64_t b = 0; b < 2; ++b) {
        std::vector<int> in_stress(n, 0);
        int step = 0;
        walk_block(s, b, s.simulation.steps, [&](const PathBlock& paths, const auto&, const std::vector<std::uint8_t>& before) {
            for (std::size_t p = 0; p < n; ++p) {
                if (step == 0) started_in_stress += before[p];
                in_stress[p] += before[p];
                time_in[before[p]] += dt;
                exits[before[p]] += paths.regime()[p] != before[p];
            }
            ++step;
        });
        for (std::size_t p = 0; p < n; ++p) share.push_back(static_cast<double>(in_stress[p]) / s.simulation.steps);
    }
    // The chain runs on the model's daily clock: it switches after a day's last step with
    // probability p = 1 - exp(-lambda * 1 day), so stays are geometric in days, of mean
    // 1 day / p, and the stationary share in stress is p_in / (p_in + p_out).
    const double day = 1.0 / 365.0;
    const std::array<double, 2> lambda{s.regimes.calm_to_stress, s.regimes.stress_to_calm};
    const std::array<double, 2> switch_p{-std::expm1(-lambda[0] * day), -std::expm1(-lambda[1] * day)};
    const double pi = switch_p[0] / (switch_p[0] + switch_p[1]);  // about 0.26
    const auto mean_and_error = [](const std::vector<double>& v) {
        double m = 0.0, ss = 0.0;
        for (double x : v) m += x;
        m /= static_cast<double>(v.size());
        for (double x : v) ss += (x - m) * (x - m);
        return std::pair(m, std::sqrt(ss / static_cast<double>(v.size() - 1) / static_cast<double>(v.size())));
    };
    SECTION("stationary share") {
        const auto [m, error] = mean_and_error(share);  // paths are independent
        INFO("share in stress " << m << " +- " << error << " vs " << pi);
        CHECK(std::abs(m - pi) < 4.0 * error);
        CHECK(error < 0.01);
        // The start is drawn from the stationary law too.
        const double start = static_cast<double>(started_in_stress) / 2048.0;
        CHECK(std::abs(start - pi) < 4.0 * std::sqrt(pi * (1.0 - pi) / 2048.0));
    }
    SECTION("sojourn times") {
        for (std::size_t r = 0; r < 2; ++r) {
            const double stay = time_in[r] / exits[r];
            const double error = stay / std::sqrt(exits[r]);  // exits: about Poisson
            const double expected = day / switch_p[r];
            INFO((r == 0 ? "calm" : "stress") << " stay " << stay << " +- " << error << " years vs 1 day / p " << expected);
            CHECK(std::abs(stay - expected) < 4.0 * error);
            CHECK(error < 0.05 / lambda[r]);
        }
    }
}

TEST_CASE("regime model: per-regime volatility and correlation match the configured ones") {
    const Scenario s = regime_scenario(StartRegime::stationary, 30);
    const double dt = s.simulation.dt_years;
    const std::size_t n = block_size;
    std::vector<double> dx[2][2];  // [regime][asset]: log-price increments, by the regime they were taken in
    for (std::uint64_t b = 0; b < 2; ++b) {
        walk_block(s, 100 + b, s.simulation.steps,
                   [&](const PathBlock& paths, const std::vector<double>& before, const std::vector<std::uint8_t>& regime) {
                       for (std::size_t i = 0; i < 2; ++i)
                           for (std::size_t p = 0; p < n; ++p)
                               dx[regime[p]][i].push_back(paths.log_price(i)[p] - before[i * n + p]);
                   });
    }
    for (int r = 0; r < 2; ++r) {
        const std::vector<double>& rho = r == 0 ? calm_rho : stress_rho;
        const double count = static_cast<double>(dx[r][0].size());
        const double c = correlation(dx[r][0], dx[r][1]);
        INFO((r == 0 ? "calm" : "stress") << ": " << count << " steps, correlation " << c << " vs " << rho[1]);
        CHECK(std::abs(c - rho[1]) < 4.0 * (1.0 - rho[1] * rho[1]) / std::sqrt(count));
        for (std::size_t i = 0; i < 2; ++i) {
            const double vol = r == 0 ? s.assets[i].volatility : s.regimes.stress_volatility[i];
            const double drift = (s.assets[i].drift - 0.5 * vol * vol) * dt;
            double ss = 0.0;
            for (double v : dx[r][i]) ss += (v - drift) * (v - drift);
            const double realised = std::sqrt(ss / count / dt);
            // sd of a sample variance of normals: sqrt(2 / n) relative, halved for the vol.
            CHECK(std::abs(realised / vol - 1.0) < 4.0 * std::sqrt(0.5 / count));
        }
    }
}

namespace {

Scenario book_with(ScenarioBuilder builder) {
    return builder.position("BTC", Side::long_side, 2000, 10)
        .position("ETH", Side::long_side, 2000, 10, MarginMode::isolated)
        .build();
}

ScenarioBuilder two_assets() {
    ScenarioBuilder b(10000, 7, 24);
    b.asset("BTC", 66800, 0.47, 0.0, 0.004).asset("ETH", 2000, 0.65, 0.0, 0.005).uniform_correlation(0.8);
    return b;
}

Scenario jump_book() {
    return book_with(two_assets().jumps(10.0, -0.1, 0.05).idiosyncratic_jumps(1, 5.0, -0.05, 0.03));
}

Scenario regime_book() { return book_with(two_assets().regimes(10.0, 30.0, 2.0, {1.0, 0.95, 0.95, 1.0})); }

}  // namespace

TEST_CASE("jump and regime runs depend only on the scenario and the seed and not on the thread count") {
    const Scenario jump = jump_book();
    const Scenario regime = regime_book();
    for (const Scenario* s : {&jump, &regime}) {
        INFO(to_string(s->simulation.model));
        const Report a = simulate(*s, RunOptions{10000, 5, 1});
        const Report b = simulate(*s, RunOptions{10000, 5, 3});
        marginsim::testing::require_same(a, b);
        CHECK(a.modes[0].summary.liquidation_probability.estimate > 0.0);
        CHECK(simulate(*s, RunOptions{10000, 6, 3}).modes[0].summary.loss.mean != a.modes[0].summary.loss.mean);
    }
}

TEST_CASE("market-wide jumps raise the chance that the whole cross account is liquidated") {
    // Same total variance per asset: the diffusion gives up what the jumps add. The jumps
    // take every long down at once, which a correlated diffusion of that variance does less.
    const double lambda = 6.0, mean = -0.12, vol = 0.03;
    const double total = 0.6;
    const double diffusion = std::sqrt(total * total - lambda * (mean * mean + vol * vol));
    auto build = [&](double v) {
        ScenarioBuilder b(10000, 7, 24);
        b.asset("BTC", 66800, v, 0.0, 0.004).asset("ETH", 2000, v, 0.0, 0.005).uniform_correlation(0.8);
        return b;
    };
    const Report gaussian = simulate(book_with(build(total)), RunOptions{40000, 11, 0});
    const Report jump = simulate(book_with(build(diffusion).jumps(lambda, mean, vol)), RunOptions{40000, 11, 0});
    const auto& g = gaussian.modes[mode_index(MarginMode::cross)].summary.liquidation_probability;
    const auto& j = jump.modes[mode_index(MarginMode::cross)].summary.liquidation_probability;
    INFO("cross P(liquidation): gaussian " << g.estimate << ", jump " << j.estimate);
    CHECK(j.ci95.lo > g.ci95.hi);
}

TEST_CASE("the JSON and CSV reports carry the model parameters") {
    const Scenario jump = jump_book();
    const auto j = nlohmann::json::parse(to_json(simulate(jump, RunOptions{1024, 1, 1})));
    const auto& jumps = j.at("simulation").at("jumps");
    CHECK(j.at("simulation").at("model") == "jump");
    CHECK(jumps.at("intensity") == 10.0);
    CHECK(jumps.at("assets").at(0).at("symbol") == "BTC");
    CHECK(jumps.at("assets").at(0).at("market").at("kappa").get<double>() == Approx(std::expm1(-0.1 + 0.5 * 0.05 * 0.05)));
    CHECK_FALSE(jumps.at("assets").at(0).contains("idiosyncratic"));
    CHECK(jumps.at("assets").at(1).at("idiosyncratic").at("intensity") == 5.0);

    const Scenario regime = regime_book();
    const Report report = simulate(regime, RunOptions{1024, 1, 1});
    const auto r = nlohmann::json::parse(to_json(report)).at("simulation").at("regime");
    CHECK(r.at("calm_to_stress") == 10.0);
    CHECK(r.at("stationary_stress_share").get<double>() == Approx(0.25));
    CHECK(r.at("start") == "stationary");
    CHECK(r.at("stress_volatility").at("ETH").get<double>() == Approx(1.3));
    CHECK(r.at("stress_correlation").at(0).at(1) == 0.95);
    const std::string csv = to_csv(report);
    CHECK(csv.find("simulation,,calm_to_stress,10") != std::string::npos);
    CHECK(csv.find("simulation,,stress_to_calm,30") != std::string::npos);
}

TEST_CASE("a volatility scale sweep scales the diffusion volatilities of both regimes and not the jumps") {
    SweepSpec spec;
    spec.parameter = SweepParameter::volatility_scale;
    const Scenario regime = regime_book();
    const Scenario scaled_regime = scenario_at(regime, spec, 1.5);
    const Scenario jump = book_with(two_assets().jumps(10.0, -0.1, 0.05));
    const Scenario scaled_jump = scenario_at(jump, spec, 1.5);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(scaled_regime.assets[i].volatility == Approx(1.5 * regime.assets[i].volatility));
        CHECK(scaled_regime.regimes.stress_volatility[i] == Approx(1.5 * regime.regimes.stress_volatility[i]));
        CHECK(scaled_jump.assets[i].volatility == Approx(1.5 * jump.assets[i].volatility));
        CHECK(scaled_jump.jumps.market[i].vol == jump.jumps.market[i].vol);
        CHECK(scaled_jump.jumps.market[i].mean == jump.jumps.market[i].mean);
    }
    CHECK(scaled_jump.jumps.intensity == jump.jumps.intensity);
}

namespace {

// A two-asset case of `model` with its tables: the same text, line for line, in both models.
std::string two_asset_case(const std::string& model, const std::string& tables) {
    return R"([simulation]
horizon_days = 7
model = ")" + model + R"("
[account]
balance = 10000
[[assets]]
symbol = "BTC"
price = 66800
volatility = 0.4
maintenance_margin_rate = 0.004
[[assets]]
symbol = "ETH"
price = 2000
volatility = 0.7
maintenance_margin_rate = 0.005
)" + tables + R"([[positions]]
symbol = "BTC"
side = "long"
margin = 1000
leverage = 10
)";
}

const std::string jump_toml = two_asset_case("jump", R"([jumps]
intensity = 3
mean = { BTC = -0.1, ETH = -0.15 }
vol = 0.05
[jumps.idiosyncratic.ETH]
intensity = 2
mean = -0.08
vol = 0.04
)");

const std::string regime_toml = two_asset_case("regime", R"([correlation]
pairs = { "BTC/ETH" = 0.6 }
[regime]
calm_to_stress = 6
stress_to_calm = 18
start = "calm"
[regime.stress]
volatility_scale = 1.5
[regime.stress.correlation]
pairs = { "BTC/ETH" = 0.9 }
)");


}  // namespace

TEST_CASE("jumps and regime tables are read into the scenario") {
    const Scenario j = parse_scenario(jump_toml, "case.toml");
    CHECK(j.simulation.model == PriceModel::jump);
    CHECK(j.jumps.intensity == 3.0);
    CHECK(j.jumps.market[0].mean == -0.1);
    CHECK(j.jumps.market[1].mean == -0.15);
    CHECK(j.jumps.market[0].vol == 0.05);  // one number for every asset
    CHECK(j.jumps.market[1].vol == 0.05);
    CHECK(j.jumps.idiosyncratic_intensity == std::vector<double>{0.0, 2.0});
    CHECK(j.jumps.idiosyncratic[1].mean == -0.08);
    CHECK(j.jumps.idiosyncratic[1].vol == 0.04);
    CHECK(j.jumps.market[0].kappa() == Approx(std::exp(-0.1 + 0.5 * 0.05 * 0.05) - 1.0));

    const Scenario r = parse_scenario(regime_toml, "case.toml");
    CHECK(r.simulation.model == PriceModel::regime);
    CHECK(r.regimes.calm_to_stress == 6.0);
    CHECK(r.regimes.stress_to_calm == 18.0);
    CHECK(r.regimes.start == StartRegime::calm);
    CHECK(r.regimes.stationary_stress_share() == Approx(0.25));
    CHECK(r.regimes.stress_volatility[0] == Approx(0.6));
    CHECK(r.regimes.stress_volatility[1] == Approx(1.05));
    CHECK(r.correlation[1] == 0.6);
    CHECK(r.regimes.stress_correlation == std::vector<double>{1.0, 0.9, 0.9, 1.0});
    // Without its own correlation, stress uses the calm matrix.
    const Scenario same = parse_scenario(replaced(regime_toml, "[regime.stress.correlation]\npairs = { \"BTC/ETH\" = 0.9 }\n", ""), "case.toml");
    CHECK(same.regimes.stress_correlation == same.correlation);
    CHECK(to_string(PriceModel::jump) == "jump");
    CHECK(to_string(PriceModel::regime) == "regime");
    CHECK(to_string(StartRegime::stationary) == "stationary");
}

TEST_CASE("malformed jumps and regime keys name the file line column and key") {
    // The scenario, an edit of it (from, to) and the error it gives.
    struct Case {
        const std::string& scenario;
        const char* from;
        const char* to;
        const char* error;
    };
    const std::vector<Case> cases{
        {jump_toml, "mean = { BTC = -0.1, ETH = -0.15 }", "mean = { BTC = -0.1, ETH = -0.15, XRP = -0.2 }", "case.toml:18:35: jumps.mean.XRP: no asset named \"XRP\" (expected one of the asset symbols \"BTC\", \"ETH\")"},
        {jump_toml, "mean = { BTC = -0.1, ETH = -0.15 }", "mean = { BTC = -0.1 }", "case.toml:18:8: jumps.mean: no value for \"ETH\" (expected a value for every asset: \"BTC\", \"ETH\")"},
        {jump_toml, "vol = 0.05", "vol = -0.05", "case.toml:19:7: jumps.vol: out of range: found -0.05 (expected a standard deviation of the log jump in [0, 2])"},
        {jump_toml, "intensity = 3\n", "intensity = \"3\"\n", "case.toml:17:13: jumps.intensity: wrong type: found the string \"3\" (expected a number of events per year in [0, 1000])"},
        {jump_toml, "[jumps.idiosyncratic.ETH]", "[jumps.idiosyncratic.SOL]", "case.toml:20:22: jumps.idiosyncratic.SOL: no asset named \"SOL\" (expected one of the asset symbols \"BTC\", \"ETH\")"},
        {jump_toml, "model = \"jump\"", "model = \"gaussian\"", "case.toml:16:1: jumps: [jumps] is only used with jumps on, but they are off (expected jumps = true in [simulation] (jumps on top of the model), or no [jumps] table)"},
        {regime_toml, "start = \"calm\"", "start = \"panic\"", "case.toml:21:9: regime.start: unknown value \"panic\" (expected one of \"calm\", \"stress\", \"stationary\")"},
        {regime_toml, "volatility_scale = 1.5", "volatility_scale = 1.5\nvolatility = 1.0", "case.toml:22:1: regime.stress: both volatility_scale and volatility are given (expected exactly one of volatility_scale (a factor on the [[assets]] volatilities) or volatility (per asset))"},
        {regime_toml, "pairs = { \"BTC/ETH\" = 0.9 }", "pairs = { \"BTC/ETH\" = 1.5 }", "case.toml:25:23: regime.stress.correlation.pairs.\"BTC/ETH\": out of range: found 1.5 (expected a correlation in [-1, 1])"},
        {regime_toml, "stress_to_calm = 18", "stress_to_calm = -1", "case.toml:20:18: regime.stress_to_calm: out of range: found -1 (expected a switching intensity per year in [0, 10000])"},
    };
    for (const Case& c : cases) CHECK(error_of(replaced(c.scenario, c.from, c.to)) == c.error);
    CHECK(error_of(replaced(jump_toml, "[jumps]", "[jumpz]")).find("case.toml:16:2: jumpz: unknown key") == 0);
}
