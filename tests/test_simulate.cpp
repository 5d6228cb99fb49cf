// The whole engine against closed forms, pathwise invariants and determinism.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <numeric>

#include "engine/engine.hpp"
#include "marginsim/simulate.hpp"
#include "same_numbers.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::require_same;
using marginsim::testing::ScenarioBuilder;

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// P(min over [0, T] of a Brownian motion with drift nu and volatility sigma <= b), b < 0.
double first_passage_below(double b, double nu, double sigma, double t) {
    const double s = sigma * std::sqrt(t);
    return normal_cdf((b - nu * t) / s) + std::exp(2.0 * nu * b / (sigma * sigma)) * normal_cdf((b + nu * t) / s);
}

const ModeSummary& mode_of(const Report& report, MarginMode mode) {
    return report.modes[mode_index(mode)].summary;
}

// Visits every path of the first `blocks` blocks of a scenario.
void for_each_path(const Scenario& s, std::uint64_t blocks,
                   const std::function<void(const BookState&, std::size_t)>& check) {
    const Engine engine(s);
    PathBlock paths(s.asset_count(), block_size);
    BookState state(engine.book(), block_size);
    for (std::uint64_t b = 0; b < blocks; ++b) {
        engine.run_block(s.simulation.seed, b, block_size, paths, state);
        for (std::size_t p = 0; p < state.size(); ++p) check(state, p);
    }
}

}  // namespace

TEST_CASE("P(liquidation) of one long under GBM matches the first-passage formula") {
    const double p0 = 100.0, vol = 0.8, lev = 10.0, r = 0.005, days = 7.0;
    const double t = days / 365.0;
    const double barrier = p0 * (1 - 1 / lev) / (1 - r);  // isolated liquidation price
    const double b = std::log(barrier / p0), nu = -0.5 * vol * vol;
    const double continuous = first_passage_below(b, nu, vol, t);
    const std::uint64_t paths = 40000;

    auto liquidation_probability = [&](int steps_per_day, Monitoring monitoring) {
        Scenario s = ScenarioBuilder(1000, days, steps_per_day, paths)
                         .asset("SOL", p0, vol, 0.0, r)
                         .position("SOL", Side::long_side, 1000, lev, MarginMode::isolated)
                         .build();
        s.simulation.monitoring = monitoring;
        return mode_of(simulate(s), MarginMode::isolated).liquidation_probability;
    };
    const double se = std::sqrt(continuous * (1 - continuous) / static_cast<double>(paths));

    SECTION("continuous monitoring at one step a day: the first-passage law itself") {
        const Proportion p = liquidation_probability(1, Monitoring::continuous);
        INFO("MC " << p.estimate << " continuous " << continuous);
        CHECK(std::abs(p.estimate - continuous) < 4.0 * se);
    }
    SECTION("fine discrete monitoring: within the confidence interval of the discretely monitored barrier") {
        const int spd = 288;  // 5-minute steps
        // Broadie-Glasserman: discrete monitoring acts like a barrier moved away by
        // exp(-0.5826 vol sqrt(dt)).
        const double shifted = b - 0.5826 * vol * std::sqrt(1.0 / (365.0 * spd));
        const double expected = first_passage_below(shifted, nu, vol, t);
        const Proportion p = liquidation_probability(spd, Monitoring::discrete);
        INFO("MC " << p.estimate << " continuous " << continuous << " discrete " << expected);
        CHECK(std::abs(p.estimate - expected) < 4.0 * se);
        CHECK(std::abs(p.estimate - continuous) < 0.02);
        CHECK(p.ci95.lo < p.estimate);
        CHECK(p.estimate < p.ci95.hi);
    }
    SECTION("coarse discrete monitoring misses crossings between steps: biased low") {
        const Proportion p = liquidation_probability(1, Monitoring::discrete);
        INFO("MC " << p.estimate << " continuous " << continuous);
        CHECK(p.estimate < continuous - 4.0 * se);
    }
}

TEST_CASE("continuous monitoring at one step a day: times to liquidation follow the first-passage law") {
    // The hitting time tau of the liquidation price has P(tau <= t) = F(t), the first-passage
    // formula at horizon t, so the a-quantile of the liquidated paths' times solves
    // F(t) = a F(T). With one step a day the times come from the bridge's first-passage law
    // inside each day, reported as the end of their hour; a report at the end of the day (the
    // step) would put each quantile up to 24 hours late.
    const double p0 = 100.0, vol = 0.8, lev = 10.0, r = 0.005, days = 7.0;
    const double barrier = p0 * (1 - 1 / lev) / (1 - r);
    const double b = std::log(barrier / p0), nu = -0.5 * vol * vol;
    const std::uint64_t paths = 100000;
    Scenario s = ScenarioBuilder(1000, days, 1, paths)
                     .asset("SOL", p0, vol, 0.0, r)
                     .position("SOL", Side::long_side, 1000, lev, MarginMode::isolated)
                     .build();
    s.simulation.monitoring = Monitoring::continuous;
    const Report report = simulate(s);
    const ModeSummary& iso = mode_of(report, MarginMode::isolated);
    REQUIRE(iso.time_to_liquidation_days.has_value());
    const auto share_by = [&](double t_days) {  // F(t) / F(T): the law of the times reported
        return first_passage_below(b, nu, vol, t_days / 365.0) / first_passage_below(b, nu, vol, days / 365.0);
    };
    const double liquidated = iso.liquidation_probability.estimate * static_cast<double>(paths);
    const double hour = 1.0 / 24.0;
    const TimeSummary& times = *iso.time_to_liquidation_days;
    for (const auto& [a, t] : {std::pair{0.05, times.p05}, std::pair{0.5, times.median}, std::pair{0.95, times.p95}}) {
        const double tolerance = 4.0 * std::sqrt(a * (1.0 - a) / liquidated);
        INFO("quantile " << a << ": reported " << t << " days, F(t)/F(T) " << share_by(t) << ", an hour earlier "
                         << share_by(t - hour) << ", tolerance " << tolerance);
        // The reported bin [t - 1 h, t] holds the sample quantile.
        CHECK(share_by(t) >= a - tolerance);
        CHECK(share_by(t - hour) <= a + tolerance);
    }
}

TEST_CASE("without liquidation the horizon loss has the lognormal mean and variance") {
    // 1x longs and a short far from its liquidation price: no path can liquidate.
    const double t_days = 30.0, t = t_days / 365.0;
    const std::vector<double> rho{1.0, 0.8, 0.3, 0.8, 1.0, 0.5, 0.3, 0.5, 1.0};
    Scenario s = ScenarioBuilder(100000, t_days, 2, 64 * block_size)
                     .asset("BTC", 60000, 0.45, 0.3)
                     .asset("ETH", 2000, 0.6, -0.2)
                     .asset("SOL", 100, 0.3, 0.1)
                     .correlation(rho)
                     .position("BTC", Side::long_side, 10000, 1)
                     .position("ETH", Side::long_side, 10000, 1)
                     .position("SOL", Side::short_side, 20000, 1)
                     .build();
    // Closed form: loss = -sum s_j q_j (P_i(T) - P_i(0)), P lognormal with E = P0 e^{mu T}
    // and Cov(P_i, P_k) = P0_i P0_k e^{(mu_i + mu_k) T} (e^{rho_ik vol_i vol_k T} - 1).
    const std::size_t n = s.asset_count();
    std::vector<double> exposure(n, 0.0);  // sum of s q per asset
    for (const Position& p : s.positions) exposure[p.asset] += sign(p.side) * p.quantity;
    double mean = 0.0, variance = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const Asset& a = s.assets[i];
        mean -= exposure[i] * a.price * (std::exp(a.drift * t) - 1.0);
        for (std::size_t k = 0; k < n; ++k) {
            const Asset& c = s.assets[k];
            variance += exposure[i] * exposure[k] * a.price * c.price * std::exp((a.drift + c.drift) * t) *
                        (std::exp(rho[i * n + k] * a.volatility * c.volatility * t) - 1.0);
        }
    }
    std::vector<double> losses;
    for_each_path(s, 64, [&](const BookState& state, std::size_t p) {
        REQUIRE(state.first_liquidation_step(MarginMode::cross, p) == 0);
        REQUIRE(state.first_liquidation_step(MarginMode::isolated, p) == 0);
        losses.push_back(state.loss(MarginMode::cross, p));
        REQUIRE(state.loss(MarginMode::isolated, p) == Approx(losses.back()).margin(1e-6));
    });
    const double count = static_cast<double>(losses.size());
    const double m = std::accumulate(losses.begin(), losses.end(), 0.0) / count;
    double m2 = 0.0, m4 = 0.0;
    for (double x : losses) {
        m2 += (x - m) * (x - m);
        m4 += std::pow(x - m, 4);
    }
    m2 /= count - 1;
    m4 /= count;
    INFO("mean " << m << " vs " << mean << "; variance " << m2 << " vs " << variance);
    CHECK(std::abs(m - mean) < 4.0 * std::sqrt(variance / count));
    CHECK(std::abs(m2 - variance) < 4.0 * std::sqrt((m4 - m2 * m2) / count));
}

namespace {

struct NamedScenario {
    const char* name;
    Scenario scenario;
};

std::vector<NamedScenario> invariant_scenarios() {
    const std::vector<double> rho{1.0, 0.81, 0.74, 0.81, 1.0, 0.72, 0.74, 0.72, 1.0};
    auto three_longs = [&](MarginMode sol_mode) {
        return ScenarioBuilder(10000, 7, 24)
            .asset("BTC", 66800, 0.47, 0.0, 0.004)
            .asset("ETH", 2000, 0.65, 0.0, 0.005)
            .asset("SOL", 80, 0.85, 0.0, 0.005)
            .correlation(rho)
            .position("BTC", Side::long_side, 2000, 10)
            .position("ETH", Side::long_side, 2000, 10)
            .position("SOL", Side::long_side, 2000, 10, sol_mode);
    };
    std::vector<NamedScenario> out;
    out.push_back({"three cross longs", three_longs(MarginMode::cross).build()});
    out.push_back({"mixed, fee policy", three_longs(MarginMode::isolated).policy(LiquidationPolicy::fee, 0.01).build()});
    out.push_back({"student_t", three_longs(MarginMode::isolated).student_t(3.5).build()});
    out.push_back({"jump", three_longs(MarginMode::isolated).jumps(20.0, -0.08, 0.05).idiosyncratic_jumps(2, 10.0, -0.05, 0.05).build()});
    out.push_back({"regime", three_longs(MarginMode::cross).regimes(10.0, 30.0, 2.0, std::vector<double>{1.0, 0.95, 0.9, 0.95, 1.0, 0.92, 0.9, 0.92, 1.0}).build()});
    out.push_back({"hedged pair, tiers, funding",
                   ScenarioBuilder(3000, 14, 24)
                       .asset("BTC", 66800, 0.47, 0.0, 0.004, 0.0003)
                       .tiers({{50000, 0.004, 0, {}}, {250000, 0.005, 50, {}}, {no_cap, 0.01, 1300, {}}})
                       .asset("ETH", 2000, 0.65, 0.0, 0.005, -0.0002)
                       .uniform_correlation(0.85)
                       .position("BTC", Side::long_side, 1000, 25, MarginMode::isolated)
                       .position("ETH", Side::short_side, 1000, 25, MarginMode::cross)
                       .build()});
    out.push_back({"open positions with entry prices",
                   ScenarioBuilder(10000, 7, 24)
                       .asset("BTC", 66800, 0.6, 0.0, 0.004)
                       .asset("ETH", 2000, 0.8, 0.0, 0.005)
                       .uniform_correlation(0.8)
                       .position("BTC", Side::long_side, 2000, 10, MarginMode::cross, 65000)
                       .position("ETH", Side::short_side, 2000, 10, MarginMode::isolated, 2050)
                       .build()});
    return out;
}

}  // namespace

TEST_CASE("pathwise invariants hold on every path") {
    for (const NamedScenario& named : invariant_scenarios()) {
        const Scenario& s = named.scenario;
        const MarginBook book(s);
        double isolated_cap = 0.0;  // the most the isolated account can lose
        for (const MarginPool& pool : book.layout(MarginMode::isolated).pools) isolated_cap += pool.start_equity;
        const double cross_cap = book.layout(MarginMode::cross).pools.front().start_equity;
        double margins = 0.0;
        for (const Position& p : s.positions) margins += p.margin;
        INFO(named.name);
        REQUIRE(s.balance >= margins);
        std::size_t liquidated = 0;
        for_each_path(s, 8, [&](const BookState& state, std::size_t p) {
            const double tol = 1e-9 * s.balance;
            REQUIRE(state.loss(MarginMode::isolated, p) <= isolated_cap + tol);
            REQUIRE(state.loss(MarginMode::cross, p) <= cross_cap + tol);
            // Balance covers all isolated margins: cross cannot liquidate first.
            const int cross_step = state.first_liquidation_step(MarginMode::cross, p);
            const int isolated_step = state.first_liquidation_step(MarginMode::isolated, p);
            if (cross_step != 0) REQUIRE((isolated_step != 0 && isolated_step <= cross_step));
            for (MarginMode mode : all_modes) {
                REQUIRE(state.drawdown(mode, p) >= -tol);
                REQUIRE(state.drawdown(mode, p) >= state.loss(mode, p) - tol);
                REQUIRE(std::isfinite(state.loss(mode, p)));
            }
            if (isolated_step == 0 && cross_step == 0 &&
                state.first_liquidation_step(MarginMode::as_configured, p) == 0) {
                REQUIRE(state.loss(MarginMode::cross, p) == Approx(state.loss(MarginMode::isolated, p)).margin(tol));
                REQUIRE(state.loss(MarginMode::as_configured, p) ==
                        Approx(state.loss(MarginMode::isolated, p)).margin(tol));
            }
            liquidated += isolated_step != 0;
        });
        CHECK(liquidated > 0);  // the invariants were exercised on liquidating paths
    }
}

TEST_CASE("one position in cross with the balance equal to its margin is isolated") {
    for (const LiquidationPolicy policy : {LiquidationPolicy::full, LiquidationPolicy::fee}) {
        const Scenario s = ScenarioBuilder(1500, 7, 24)
                               .asset("SOL", 80, 0.9, 0.0, 0.005, 0.0005)
                               .position("SOL", Side::short_side, 1500, 15)
                               .policy(policy)
                               .build();
        std::size_t liquidated = 0;
        for_each_path(s, 4, [&](const BookState& state, std::size_t p) {
            REQUIRE(state.first_liquidation_step(MarginMode::cross, p) ==
                    state.first_liquidation_step(MarginMode::isolated, p));
            REQUIRE(state.loss(MarginMode::cross, p) == state.loss(MarginMode::isolated, p));
            liquidated += state.first_liquidation_step(MarginMode::cross, p) != 0;
        });
        CHECK(liquidated > 100);
    }
}

TEST_CASE("results depend only on the scenario and the seed and not on the thread count") {
    const Scenario s = invariant_scenarios()[1].scenario;
    RunOptions one{20000, 99, 1};
    RunOptions two{20000, 99, 2};
    const Report a = simulate(s, one);
    const Report b = simulate(s, two);
    const Report c = simulate(s, two);
    CHECK(a.simulation.threads == 1);
    CHECK(b.simulation.threads == 2);
    require_same(a, b);
    require_same(b, c);
    RunOptions other_seed{20000, 100, 2};
    CHECK(simulate(s, other_seed).modes[0].summary.loss.mean != a.modes[0].summary.loss.mean);
}

TEST_CASE("stacked longs: cross liquidates less often than isolated but loses more in the tail") {
    // The seed article's claim, on the engine: cross delays liquidation, spreads losses.
    const Report r = simulate(invariant_scenarios()[0].scenario, RunOptions{20000, 5, 0});
    const ModeSummary& iso = mode_of(r, MarginMode::isolated);
    const ModeSummary& cross = mode_of(r, MarginMode::cross);
    CHECK(cross.liquidation_probability.ci95.hi < iso.liquidation_probability.ci95.lo);
    CHECK(cross.loss.max > iso.loss.max);
    CHECK(cross.loss.max <= 10000.0 + 1e-6);
    CHECK(iso.loss.max <= 6000.0 + 1e-6);
}
