#pragma once
// The summary numbers of a run, per account mode: liquidation probabilities with their 95%
// intervals, loss mean/std/VaR/ES, times to liquidation, drawdowns, funding. What a Report
// carries; the engine fills them from the merged statistics of its blocks.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim {

struct Interval {
    double lo = 0.0;
    double hi = 0.0;
};
struct Proportion {
    double estimate = 0.0;
    Interval ci95;
};
// 95% Wilson score interval of `hits` out of `n`.
Proportion wilson_proportion(std::uint64_t hits, std::uint64_t n);

// A target for the 95% intervals of estimated probabilities (--precision): half-width (hi - lo) / 2
// at most `target`, or with `relative`, at most target * estimate (an estimate of 0 never meets
// a relative target).
struct Precision {
    double target = 0.0;  // > 0; relative: a fraction in (0, 1)
    bool relative = false;

    bool operator==(const Precision&) const = default;
};
// Parses the command-line form: a number > 0 ("0.002") or a percent in (0, 100) ("10%"). Throws
// InputError naming --precision and what was expected.
Precision parse_precision(std::string_view text);
// The command-line form back: "0.002", "10%".
std::string to_string(const Precision& precision);
// Whether the interval of `proportion` meets the target.
bool meets_precision(const Proportion& proportion, const Precision& precision) noexcept;

// The levels of LossSummary::var and ::es, in this order.
inline constexpr std::array<double, 3> tail_levels{0.95, 0.99, 0.999};

struct LossSummary {
    double mean = 0.0;
    double std = 0.0;  // sample standard deviation (n - 1)
    std::array<double, tail_levels.size()> var{};  // sorted loss at index ceil(a n) - 1
    std::array<double, tail_levels.size()> es{};   // mean of the losses from that index up
    double max = 0.0;
};
struct TimeSummary {
    double p05 = 0.0;
    double median = 0.0;
    double p95 = 0.0;
};
struct DrawdownSummary {
    double mean = 0.0;
    double p95 = 0.0;
    double p99 = 0.0;
};
struct ModeSummary {
    Proportion liquidation_probability;
    std::vector<double> position_liquidation_probability;
    LossSummary loss;
    std::optional<TimeSummary> time_to_liquidation_days;  // empty when no path liquidated
    DrawdownSummary drawdown;
    double funding_paid_mean = 0.0;
};
struct Summary {
    std::uint64_t paths = 0;             // simulated
    std::uint64_t overflowed_paths = 0;  // of which left out of every statistic below
    // Importance-sampled runs: every statistic is weighted by the paths' likelihood ratios and
    // its interval comes from the weighted sample's own variance; (sum w)^2 / sum w^2.
    std::optional<double> effective_paths;
    std::array<ModeSummary, mode_count> modes;
    Proportion p_cross_loss_exceeds_isolated;
    Proportion contagion_probability;
};

// Index of the a-quantile in a sorted sample of n (docs/model.md#statistics): ceil(a n) - 1, at
// least 0.
std::size_t order_index(std::size_t n, double a);
// The a-quantile of a sorted, non-empty sample: sorted[order_index(n, a)].
template <class T>
double order_statistic(const std::vector<T>& sorted, double a) {
    return static_cast<double>(sorted[order_index(sorted.size(), a)]);
}

}  // namespace marginsim
