#pragma once
// Mergeable statistics: what a block of paths contributes, merged in block order so that
// every sum is the same for any thread count, then finished into summary numbers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "marginsim/margin_book.hpp"

namespace marginsim {

// What a set of paths contributes to one mode. The per-path samples are the only storage
// that grows with the path count: one double (loss) and one float (drawdown) per path.
struct ModeSample {
    std::vector<double> loss;     // one per path, in path order (empty when written to a RunSamples)
    std::vector<float> drawdown;  // one per path
    // When paths were first liquidated: a block lists the step of each liquidated path
    // (sparse, small); merging folds the lists into counts per step, [k] = paths first
    // liquidated at step k, so that a merged run holds steps + 1 counts, not a list.
    std::vector<std::int32_t> first_liquidation_steps;
    std::vector<std::uint64_t> liquidations_by_step;
    std::vector<std::uint64_t> position_liquidations;  // per position
    std::uint64_t liquidated_paths = 0;
    // Paths on which some position that survives the horizon in isolated is liquidated in this
    // mode (0 in isolated itself; in cross, BlockStats::contagion).
    std::uint64_t contagion = 0;
    double funding_paid = 0.0;  // summed over paths

    // Appends other's samples (after this one's) and adds its counts.
    void merge(const ModeSample& other);
};

// The per-path samples of a whole run, allocated once: each block writes its own slice, so
// nothing is copied or reallocated when blocks are merged.
class RunSamples {
public:
    explicit RunSamples(std::uint64_t paths);
    std::uint64_t paths() const noexcept { return paths_; }
    // One mode's samples, in path order: for restoring the blocks of a resumed run.
    std::span<double> loss(std::size_t mode) noexcept { return loss_[mode]; }
    std::span<float> drawdown(std::size_t mode) noexcept { return drawdown_[mode]; }
    // Moves the samples into `into` (no copy), leaving this empty.
    void move_into(std::array<ModeSample, mode_count>& into);

private:
    friend struct BlockStats;
    std::uint64_t paths_;
    std::array<std::vector<double>, mode_count> loss_;
    std::array<std::vector<float>, mode_count> drawdown_;
};

struct BlockStats {
    std::uint64_t paths = 0;
    double dt_days = 0.0;  // the length of a step, for times to liquidation
    std::array<ModeSample, mode_count> modes;
    std::uint64_t cross_loss_exceeds_isolated = 0;
    std::uint64_t contagion = 0;  // some position survives in isolated, liquidated in cross
    // Paths whose amounts overflowed (BookState::overflowed): counted in `paths`, in no other
    // count or sum; their samples hold NaN, which summarize() drops.
    std::uint64_t overflowed_paths = 0;

    // Reads the outcome of every path of a finished block.
    static BlockStats from_state(const BookState& state, const MarginBook& book, double balance);
    // The same, but the block's losses and drawdowns are written to `samples` at paths
    // [first_path, first_path + state.size()) instead of into the result (which then holds
    // only counts and sums).
    static BlockStats from_state(const BookState& state, const MarginBook& book, double balance,
                                 RunSamples& samples, std::uint64_t first_path);
    // Adds other's paths after this one's. Counts add in any order; the floating-point sums
    // (funding) depend on the order, which callers keep fixed (block order).
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
    std::uint64_t paths = 0;             // simulated
    std::uint64_t overflowed_paths = 0;  // of which left out of every statistic below
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
// Mean, std, VaR, ES and max of a loss sample (SPEC 4). Reorders `losses` in place: the
// tail from the 0.95 order statistic up ends sorted (the rest is in no particular order).
LossSummary summarize_losses(std::vector<double>& losses);

// Finishes merged statistics (reorders the samples in place) over the paths that did not
// overflow, the modes side by side on the threads of the calling TBB arena; throws
// std::runtime_error when every path overflowed.
Summary summarize(BlockStats& merged);

// Times to liquidation (days) of a mode from its counts per step: p05, median and p95 as
// order statistics of the liquidated paths' times; empty when none liquidated.
std::optional<TimeSummary> liquidation_time_summary(const std::vector<std::uint64_t>& liquidations_by_step,
                                                    double dt_days);

}  // namespace marginsim
