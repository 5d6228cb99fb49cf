#pragma once
// Block statistics (engine internal): what a block of paths contributes, merged in block
// order so that every sum is the same for any thread count, then finished into the summary
// numbers of summary.hpp.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "engine/margin_book.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/summary.hpp"

namespace marginsim {

// A sum of path weights (importance sampling's likelihood ratios, docs/model.md#importance-
// sampling) in 256-bit fixed point, units of 2^-190: exact, so that tallies added in any order
// (threads, resumed blocks) give the same number, down to weights of 1e-57 (a likelihood ratio
// of a path deep in a tilt can be 1e-20, its square 1e-40). Weights are at most 2 and their
// squares 4, so 2^64 terms fit. A weight of 1 is exactly 2^190 units.
class WeightSum {
public:
    static constexpr int fraction_bits = 190;
    // Adds w (>= 0 and below 2^64: a weight, its square, or a limit to compare sums against),
    // its bits below the unit dropped.
    void add(double w) noexcept;
    static WeightSum of(double w) noexcept {
        WeightSum sum;
        sum.add(w);
        return sum;
    }
    // Exact comparison, from the most significant word.
    friend bool operator<(const WeightSum& a, const WeightSum& b) noexcept {
        for (std::size_t k = a.words_.size(); k-- > 0;)
            if (a.words_[k] != b.words_[k]) return a.words_[k] < b.words_[k];
        return false;
    }
    WeightSum& operator+=(const WeightSum& other) noexcept;
    double value() const noexcept;
    // The four 64-bit words, least significant first (checkpoints), and back.
    const std::array<std::uint64_t, 4>& words() const noexcept { return words_; }
    static WeightSum from_words(const std::array<std::uint64_t, 4>& words) noexcept {
        WeightSum sum;
        sum.words_ = words;
        return sum;
    }

private:
    void add_at(std::size_t word, std::uint64_t value) noexcept;
    std::array<std::uint64_t, 4> words_{};
};
// The weights of some event's paths and their squares: an estimate and its own variance.
struct WeightedCount {
    WeightSum sum;
    WeightSum squares;
    void add(double w) noexcept {
        sum.add(w);
        squares.add(w * w);
    }
    WeightedCount& operator+=(const WeightedCount& other) noexcept {
        sum += other.sum;
        squares += other.squares;
        return *this;
    }
};

// What a set of paths contributes to one mode. The per-path samples are the only storage
// that grows with the path count: one double (loss) and one float (drawdown) per path.
struct ModeSample {
    std::vector<double> loss;     // one per path, in path order (empty when written to a RunSamples)
    std::vector<float> drawdown;  // one per path
    // When paths were first liquidated, in time bins (BlockStats::bin_days; the steps under
    // discrete monitoring): a block lists the bin of each liquidated path (sparse, small);
    // merging folds the lists into counts per bin, [k] = paths first liquidated in bin k, so
    // that a merged run holds bins + 1 counts, not a list. Bin 0 holds the liquidations at time
    // 0 of a pool that starts at or below its maintenance margin.
    std::vector<std::int32_t> first_liquidation_steps;
    std::vector<std::uint64_t> liquidations_by_step;
    std::vector<std::uint64_t> position_liquidations;  // per position
    std::uint64_t liquidated_paths = 0;
    // Paths on which some position that survives the horizon in isolated is liquidated in this
    // mode (0 in isolated itself; in cross, BlockStats::contagion).
    std::uint64_t contagion = 0;
    double funding_paid = 0.0;  // summed over paths (weighted runs: w * funding)

    // Weighted runs only (BlockStats::weighted): the weights of what is counted above.
    WeightedCount liquidated_weight;
    WeightedCount contagion_weight;
    std::vector<double> first_liquidation_weights;  // with first_liquidation_steps
    std::vector<WeightSum> weight_by_step;          // with liquidations_by_step
    std::vector<WeightSum> position_weight;         // with position_liquidations

    // Appends other's samples (after this one's) and adds its counts.
    void merge(const ModeSample& other);
};
// Folds the sample's list of first-liquidation bins (and their weights) into its counts per bin.
void fold_steps(ModeSample& sample);

// The per-path samples of a whole run, allocated once: each block writes its own slice, so
// nothing is copied or reallocated when blocks are merged.
class RunSamples {
public:
    explicit RunSamples(std::uint64_t paths);
    std::uint64_t paths() const noexcept { return paths_; }
    // One mode's samples, in path order: for restoring the blocks of a resumed run.
    std::span<double> loss(std::size_t mode) noexcept { return loss_[mode]; }
    std::span<float> drawdown(std::size_t mode) noexcept { return drawdown_[mode]; }
    // The paths' weights (weighted runs; else empty).
    std::span<double> weight() noexcept { return weight_; }
    void allocate_weights() { weight_.resize(paths_); }
    // Moves the samples into `into` and the weights into `weight` (no copy), leaving this empty.
    void move_into(std::array<ModeSample, mode_count>& into, std::vector<double>& weight);

private:
    friend struct BlockStats;
    std::uint64_t paths_;
    std::array<std::vector<double>, mode_count> loss_;
    std::array<std::vector<float>, mode_count> drawdown_;
    std::vector<double> weight_;
};

struct BlockStats {
    std::uint64_t paths = 0;
    // The time bins of first liquidations (ModeSample::liquidations_by_step is by bin): a step,
    // or under continuous monitoring 1 / ticks_per_step of one.
    double bin_days = 0.0;
    int ticks_per_step = 1;
    std::array<ModeSample, mode_count> modes;
    std::uint64_t cross_loss_exceeds_isolated = 0;
    std::uint64_t contagion = 0;  // some position survives in isolated, liquidated in cross
    // Paths whose amounts overflowed (BookState::overflowed): counted in `paths`, in no other
    // count or sum; their samples hold NaN, which summarize() drops.
    std::uint64_t overflowed_paths = 0;

    // Importance-sampled runs: every path's weight (in path order, like the samples; NaN for the
    // overflowed), the weights of the paths that did not overflow, and those of the comparison.
    bool weighted = false;
    std::vector<double> weight;
    WeightedCount path_weight;
    WeightedCount cross_loss_exceeds_isolated_weight;

    // Reads the outcome of every path of a finished block; `weights` (the paths' likelihood
    // ratios) only for a weighted run, else empty.
    static BlockStats from_state(const BookState& state, const MarginBook& book, double balance,
                                 std::span<const double> weights = {});
    // The same, but the block's losses and drawdowns are written to `samples` at paths
    // [first_path, first_path + state.size()) instead of into the result (which then holds
    // only counts and sums).
    static BlockStats from_state(const BookState& state, const MarginBook& book, double balance,
                                 std::span<const double> weights, RunSamples& samples, std::uint64_t first_path);
    // Adds other's paths after this one's. Counts add in any order; the floating-point sums
    // (funding) depend on the order, which callers keep fixed (block order).
    void merge(const BlockStats& other);
};

// The probability of a mode's liquidation with its 95% interval: Wilson's for plain runs, for
// weighted ones the normal interval of the weighted sample's own variance.
Proportion liquidation_proportion(const BlockStats& stats, const ModeSample& mode);
// The same for the mode's contagion from isolated (ModeSample::contagion).
Proportion contagion_proportion(const BlockStats& stats, const ModeSample& mode);

// Mean, std, VaR, ES and max of a loss sample (docs/model.md#statistics). Reorders `losses` in
// place: the tail from the 0.95 order statistic up ends sorted (the rest is in no particular
// order).
LossSummary summarize_losses(std::vector<double>& losses);

// The quantiles of drawdowns a summary reports (DrawdownSummary::p95, p99).
inline constexpr std::array<double, 2> drawdown_levels{0.95, 0.99};

// Importance-sampled statistics (docs/model.md#importance-sampling): a weighted a-quantile is
// where a walk down from the top of the sample sorted by (value, weight), adding weights exactly
// (WeightSum), first passes weighted_tail_limit(n, a); it stops on the same pair whatever the
// order of the terms, so one process (which sorts the upper part of its sample) and a selection
// over ranks (rank_statistics.hpp, which moves no sample) find the same numbers. The pairs
// above the quantile's weigh no more than the limit, and with the quantile's more.
WeightSum weighted_tail_limit(double n, double a);

// Finishes merged statistics (reorders the samples in place) over the paths that did not
// overflow, the modes side by side on the threads of the calling TBB arena; throws
// std::runtime_error when every path overflowed. Spread over ranks (collective), `merged` holds
// the counts, weights and funding of the whole run (sum_counts_over) and this rank's share of its
// samples, and every rank gets the Summary of the whole run (rank_statistics.hpp).
Summary summarize(BlockStats& merged, const Ranks& ranks = single_process());

// Times to liquidation (days) of a mode from its counts per step: p05, median and p95 as
// order statistics of the liquidated paths' times; empty when none liquidated.
std::optional<TimeSummary> liquidation_time_summary(const std::vector<std::uint64_t>& liquidations_by_step,
                                                    double bin_days);

}  // namespace marginsim
