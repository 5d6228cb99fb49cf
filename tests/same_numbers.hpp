#pragma once
// Exact equality of two runs' statistics, number by number: for the tests that a result does
// not depend on the thread count, on stops and resumes, or on how samples were merged; and
// agreement within confidence intervals of two runs of the same law.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>

#include "marginsim/summary.hpp"
#include "marginsim/report.hpp"

namespace marginsim::testing {

inline void require_same(const ModeSummary& x, const ModeSummary& y) {
    REQUIRE(x.liquidation_probability.estimate == y.liquidation_probability.estimate);
    REQUIRE(x.position_liquidation_probability == y.position_liquidation_probability);
    REQUIRE(x.loss.mean == y.loss.mean);
    REQUIRE(x.loss.std == y.loss.std);
    REQUIRE(x.loss.var == y.loss.var);
    REQUIRE(x.loss.es == y.loss.es);
    REQUIRE(x.loss.max == y.loss.max);
    REQUIRE(x.drawdown.mean == y.drawdown.mean);
    REQUIRE(x.drawdown.p95 == y.drawdown.p95);
    REQUIRE(x.drawdown.p99 == y.drawdown.p99);
    REQUIRE(x.funding_paid_mean == y.funding_paid_mean);
    REQUIRE(x.time_to_liquidation_days.has_value() == y.time_to_liquidation_days.has_value());
    if (x.time_to_liquidation_days) {
        REQUIRE(x.time_to_liquidation_days->p05 == y.time_to_liquidation_days->p05);
        REQUIRE(x.time_to_liquidation_days->median == y.time_to_liquidation_days->median);
        REQUIRE(x.time_to_liquidation_days->p95 == y.time_to_liquidation_days->p95);
    }
}

inline void require_same(const Summary& a, const Summary& b) {
    REQUIRE(a.paths == b.paths);
    for (std::size_t m = 0; m < mode_count; ++m) require_same(a.modes[m], b.modes[m]);
    REQUIRE(a.p_cross_loss_exceeds_isolated.estimate == b.p_cross_loss_exceeds_isolated.estimate);
    REQUIRE(a.contagion_probability.estimate == b.contagion_probability.estimate);
}

// The statistics of two reports (not their run time or thread count).
inline void require_same(const Report& a, const Report& b) {
    REQUIRE(a.paths_done == b.paths_done);
    for (std::size_t m = 0; m < mode_count; ++m) require_same(a.modes[m].summary, b.modes[m].summary);
    REQUIRE(a.p_cross_loss_exceeds_isolated.estimate == b.p_cross_loss_exceeds_isolated.estimate);
    REQUIRE(a.contagion_probability.estimate == b.contagion_probability.estimate);
}

// Two runs of the same law drawn from other random numbers (or with weights): every mode's
// P(liquidation) agrees within twice the two 95% half-widths combined (1e-5 for a rounding 0).
inline void check_probabilities_agree(const Report& a, const Report& b) {
    for (std::size_t m = 0; m < mode_count; ++m) {
        const Proportion x = a.modes[m].summary.liquidation_probability;
        const Proportion y = b.modes[m].summary.liquidation_probability;
        INFO("mode " << m << ": " << x.estimate << " vs " << y.estimate);
        CHECK(x.estimate > 0.0);
        const double half = std::hypot(x.ci95.hi - x.ci95.lo, y.ci95.hi - y.ci95.lo) / 2.0;
        CHECK(std::abs(x.estimate - y.estimate) < 2.0 * half + 1e-5);
    }
}

}  // namespace marginsim::testing
