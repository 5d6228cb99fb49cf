#pragma once
// Block statistics (engine internal): what a block of paths contributes, merged in block
// order so that every sum is the same for any thread count, then finished into the summary
// numbers of summary.hpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/margin_book.hpp"
#include "marginsim/summary.hpp"

namespace marginsim {

// What a set of paths contributes to one mode. The per-path samples are the only storage
// that grows with the path count: one double (loss) and one float (drawdown) per path.
struct ModeSample {
    std::vector<double> loss;     // one per path, in path order (empty when written to a RunSamples)
    std::vector<float> drawdown;  // one per path
    // When paths were first liquidated, in time bins (BlockStats::bin_days; the steps under
    // discrete monitoring): a block lists the bin of each liquidated path (sparse, small);
    // merging folds the lists into counts per bin, [k] = paths first liquidated in bin k, so
    // that a merged run holds bins + 1 counts, not a list.
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

// Mean, std, VaR, ES and max of a loss sample (docs/model.md#statistics). Reorders `losses` in
// place: the tail from the 0.95 order statistic up ends sorted (the rest is in no particular
// order).
LossSummary summarize_losses(std::vector<double>& losses);

// Finishes merged statistics (reorders the samples in place) over the paths that did not
// overflow, the modes side by side on the threads of the calling TBB arena; throws
// std::runtime_error when every path overflowed.
Summary summarize(BlockStats& merged);

// Times to liquidation (days) of a mode from its counts per step: p05, median and p95 as
// order statistics of the liquidated paths' times; empty when none liquidated.
std::optional<TimeSummary> liquidation_time_summary(const std::vector<std::uint64_t>& liquidations_by_step,
                                                    double bin_days);

}  // namespace marginsim
