// The mergeable statistics: the run's preallocated samples and per-step counts give exactly
// what per-block copies and lists of times give, and the summaries are order statistics.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/block_stats.hpp"
#include "engine/engine.hpp"
#include "marginsim/simulate.hpp"
#include "same_numbers.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::require_same;
using marginsim::testing::ScenarioBuilder;

namespace {

Scenario liquidating_book() {
    const std::vector<double> rho{1.0, 0.8, 0.7, 0.8, 1.0, 0.75, 0.7, 0.75, 1.0};
    return ScenarioBuilder(10000, 7, 24)
        .asset("BTC", 66800, 0.6, 0.0, 0.004, 0.0002)
        .asset("ETH", 2000, 0.8, 0.0, 0.005)
        .asset("SOL", 80, 0.9, 0.0, 0.005, -0.0001)
        .correlation(rho)
        .position("BTC", Side::long_side, 2000, 15)
        .position("ETH", Side::short_side, 2000, 10, MarginMode::isolated)
        .position("SOL", Side::long_side, 2000, 20)
        .policy(LiquidationPolicy::fee, 0.01)
        .build();
}


}  // namespace

TEST_CASE("samples written to the run's slices and tallied in any order equal per-block copies") {
    const Scenario s = liquidating_book();
    const Engine engine(s);
    const std::size_t blocks = 12;
    const std::size_t last = 300;  // a short last block, as when paths is not a multiple
    const std::uint64_t paths = (blocks - 1) * block_size + last;
    PathBlock path_block(s.asset_count(), block_size);
    BookState state(engine.book(), block_size);

    BlockStats copied;      // the reference: each block owns its samples, merged in block order
    RunSamples samples(paths);
    std::vector<BlockStats> counted(blocks);
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t n = b + 1 == blocks ? last : block_size;
        engine.run_block(s.simulation.seed, b, n, path_block, state);
        copied.merge(BlockStats::from_state(state, engine.book(), s.balance));
        counted[b] = BlockStats::from_state(state, engine.book(), s.balance, {}, samples, b * block_size);
        REQUIRE(counted[b].modes[0].loss.empty());
    }
    // Counts merged in reverse and in two halves (as threads would), funding in block order.
    BlockStats front, back;
    for (std::size_t b = blocks; b-- > blocks / 2;) back.merge(counted[b]);
    for (std::size_t b = blocks / 2; b-- > 0;) front.merge(counted[b]);
    BlockStats total;
    total.merge(back);
    total.merge(front);
    for (std::size_t m = 0; m < mode_count; ++m) {
        double funding = 0.0;
        for (const BlockStats& b : counted) funding += b.modes[m].funding_paid;
        total.modes[m].funding_paid = funding;
    }
    samples.move_into(total.modes, total.weight);
    REQUIRE(total.paths == paths);

    std::size_t liquidated = 0;
    for (const ModeSample& m : copied.modes) liquidated += m.liquidated_paths;
    CHECK(liquidated > 100);  // the times to liquidation were exercised
    require_same(summarize(copied), summarize(total));
}

TEST_CASE("times to liquidation from counts per step are the order statistics of the times") {
    std::mt19937_64 random(11);
    for (int trial = 0; trial < 50; ++trial) {
        const int steps = 1 + static_cast<int>(random() % 3000);
        const double dt_days = 1.0 / static_cast<double>(1 + random() % 300);
        std::vector<std::uint64_t> counts(static_cast<std::size_t>(steps) + 1, 0);
        std::vector<float> times;
        const std::size_t liquidated = 1 + random() % 500;
        for (std::size_t i = 0; i < liquidated; ++i) {
            const int step = 1 + static_cast<int>(random() % static_cast<std::uint64_t>(steps));
            ++counts[static_cast<std::size_t>(step)];
            times.push_back(static_cast<float>(step * dt_days));
        }
        std::sort(times.begin(), times.end());
        const auto summary = liquidation_time_summary(counts, dt_days);
        REQUIRE(summary.has_value());
        CHECK(summary->p05 == order_statistic(times, 0.05));
        CHECK(summary->median == order_statistic(times, 0.5));
        CHECK(summary->p95 == order_statistic(times, 0.95));
    }
    CHECK_FALSE(liquidation_time_summary(std::vector<std::uint64_t>(10, 0), 0.5).has_value());
}

TEST_CASE("merging folds the steps of liquidated paths into counts per step") {
    ModeSample a, b;
    a.first_liquidation_steps = {3, 1, 3};
    a.liquidated_paths = 3;
    b.first_liquidation_steps = {7};
    b.liquidations_by_step = {0, 2};
    b.liquidated_paths = 3;
    ModeSample total;
    total.merge(a);
    total.merge(b);
    CHECK(total.first_liquidation_steps.empty());
    CHECK(total.liquidations_by_step == std::vector<std::uint64_t>{0, 3, 0, 2, 0, 0, 0, 1});
    CHECK(total.liquidated_paths == 6);
}

TEST_CASE("loss and drawdown summaries by selection equal those of a fully sorted sample") {
    std::mt19937_64 random(5);
    for (std::size_t n : {1, 2, 19, 20, 1000, 99999}) {
        std::vector<double> losses(n);
        std::vector<float> drawdowns(n);
        std::normal_distribution<double> normal(0.0, 1000.0);
        for (std::size_t k = 0; k < n; ++k) {
            losses[k] = k % 7 == 0 ? 2000.0 : std::round(normal(random));  // ties, like capped losses
            drawdowns[k] = static_cast<float>(std::abs(normal(random)));
        }
        std::vector<double> sorted = losses;
        std::sort(sorted.begin(), sorted.end());
        BlockStats stats;
        stats.paths = n;
        stats.modes[0].loss = losses;
        stats.modes[0].drawdown = drawdowns;
        for (std::size_t m = 1; m < mode_count; ++m) {
            stats.modes[m].loss.assign(n, 0.0);
            stats.modes[m].drawdown.assign(n, 0.0f);
        }
        const ModeSummary out = summarize(stats).modes[0];
        INFO("n = " << n);
        for (std::size_t l = 0; l < tail_levels.size(); ++l) {
            const std::size_t index = order_index(n, tail_levels[l]);
            CHECK(out.loss.var[l] == sorted[index]);
            double tail = 0.0;
            for (std::size_t k = index; k < n; ++k) tail += sorted[k];
            CHECK(out.loss.es[l] == Approx(tail / static_cast<double>(n - index)).epsilon(1e-14));
        }
        CHECK(out.loss.max == sorted.back());
        double sum = 0.0;
        for (double x : losses) sum += x;
        CHECK(out.loss.mean == Approx(sum / static_cast<double>(n)).epsilon(1e-13).margin(1e-9));
        std::sort(drawdowns.begin(), drawdowns.end());
        CHECK(out.drawdown.p95 == order_statistic(drawdowns, 0.95));
        CHECK(out.drawdown.p99 == order_statistic(drawdowns, 0.99));
    }
}

TEST_CASE("Wilson intervals reproduce Newcombe's published examples") {
    // Newcombe (1998) Statistics in Medicine 17:857-872 Table I method 3 (score interval
    // without continuity correction), to the 4 decimals printed there.
    struct Case {
        std::uint64_t hits, n;
        double lo, hi;
    };
    for (const Case& c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605},
                          Case{0, 20, 0.0, 0.1611}, Case{1, 29, 0.0061, 0.1718}}) {
        const Proportion p = wilson_proportion(c.hits, c.n);
        CHECK(p.estimate == Approx(static_cast<double>(c.hits) / static_cast<double>(c.n)));
        CHECK(p.ci95.lo == Approx(c.lo).margin(5e-5));
        CHECK(p.ci95.hi == Approx(c.hi).margin(5e-5));
    }
}

TEST_CASE("Wilson intervals end exactly at 0 with no hits and at 1 with all hits") {
    for (std::uint64_t n : {1u, 7u, 1000u, 1000003u}) {
        CHECK(wilson_proportion(0, n).ci95.lo == 0.0);
        CHECK(wilson_proportion(n, n).ci95.hi == 1.0);
        CHECK(wilson_proportion(0, n).ci95.hi < 1.0);
        CHECK(wilson_proportion(n, n).ci95.lo > 0.0);
    }
}
