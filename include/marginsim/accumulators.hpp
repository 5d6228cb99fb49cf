#pragma once
// Mergeable statistics: what a block of paths contributes, merged in block order so that
// every sum is the same for any thread count, then finished into summary numbers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "marginsim/margin_book.hpp"

namespace marginsim {

// What one block of paths contributes to one mode.
struct ModeSample {
    std::vector<double> loss;                   // one per path, in path order
    std::vector<float> drawdown;                // one per path
    std::vector<float> liquidation_time_days;   // one per liquidated path
    std::vector<std::uint64_t> position_liquidations;  // per position
    std::uint64_t liquidated_paths = 0;
    double funding_paid = 0.0;                  // summed over paths

    void merge(const ModeSample& other);
};

struct BlockStats {
    std::uint64_t paths = 0;
    std::array<ModeSample, mode_count> modes;
    std::uint64_t cross_loss_exceeds_isolated = 0;
    std::uint64_t contagion = 0;  // some position survives in isolated, liquidated in cross

    // Reads the outcome of every path of a finished block.
    static BlockStats from_state(const BookState& state, const MarginBook& book, double balance);
    void merge(const BlockStats& other);
};

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
    std::uint64_t paths = 0;
    std::array<ModeSummary, mode_count> modes;
    Proportion p_cross_loss_exceeds_isolated;
    Proportion contagion_probability;
};

// Index of the a-quantile in a sorted sample of n (SPEC 4): ceil(a n) - 1, at least 0.
std::size_t order_index(std::size_t n, double a);
// The a-quantile of a sorted, non-empty sample: sorted[order_index(n, a)].
template <class T>
double order_statistic(const std::vector<T>& sorted, double a) {
    return static_cast<double>(sorted[order_index(sorted.size(), a)]);
}
// Mean, std, VaR, ES and max of a loss sample (SPEC 4); sorts `losses` in place.
LossSummary summarize_losses(std::vector<double>& losses);

// Finishes merged statistics (sorts the samples in place).
Summary summarize(BlockStats& merged);

}  // namespace marginsim
