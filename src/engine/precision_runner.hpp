#pragma once
// The block runner of a run with a precision target (RunOptions::precision): blocks are handed
// out in block order and merged in block order as they complete, the target tested after each
// merged block; no block starts past the first at which it is met. The merged blocks are
// exactly those of a plain run at the paths used, whatever the thread count.

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/block_stats.hpp"
#include "engine/engine.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/summary.hpp"

namespace marginsim::detail {

struct PrecisionBlocks {
    BlockStats total;  // blocks 0..k merged in block order (not yet summarized)
    // The paths after which every mode's interval first met the target; empty: not met.
    std::optional<std::uint64_t> paths_needed;
    // The control's stop flag ended the run before the target and the maximum paths: `total`
    // is then a prefix on none of whose blocks the target was met (what its checkpoint keeps).
    bool stopped = false;
    // Over ranks (spread_blocks_to_precision): this rank's blocks, ascending, whose samples
    // `total` holds in that order.
    std::vector<std::uint64_t> blocks;
};

// Whether every mode's P(liquidation) interval, as summarize() computes it, meets the target.
bool every_mode_meets(const BlockStats& total, const Precision& precision);

// Throws std::invalid_argument unless `checkpoint` is one that a run to a precision target of
// `paths` at most, with no minimum, stopped at: a prefix of its blocks.
void check_precision_checkpoint(const RunCheckpoint& checkpoint, std::uint64_t paths, std::uint64_t min_paths);

// Runs the scenario's blocks (its paths are the maximum) until the target is met after block k
// and at least `min_paths` are merged, or the maximum is reached, or the control stops it
// (then fills control.checkpoint, when given, with the merged prefix; throws RunInterrupted
// when it is empty). A resumed checkpoint must be one such prefix (of the same target).
PrecisionBlocks run_blocks_to_precision(const Engine& engine, const Scenario& scenario, int threads,
                                        const RunControl& control, const Precision& precision,
                                        std::uint64_t min_paths);

}  // namespace marginsim::detail
