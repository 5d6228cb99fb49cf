#pragma once
// The block runner shared by simulate() and run_detailed(): every block of a run (or those
// not yet stopped or restored from a checkpoint), merged into one BlockStats whose numbers
// do not depend on the thread count or on stops and resumes, then summarized into a Report.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "engine/block_stats.hpp"
#include "engine/engine.hpp"
#include "engine/margin_book.hpp"
#include "numerics/exact_sum.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/summary.hpp"

namespace marginsim::detail {

// The scenario with the options' paths and seed applied.
Scenario with_options(const Scenario& scenario, const RunOptions& options);
int resolve_threads(const Scenario& scenario, const RunOptions& options);

// A block's funding per mode (summed over its paths in path order).
using BlockFunding = std::array<double, mode_count>;

// The blocks [first, last) of a run that one rank runs (all of them for one process).
struct BlockShare {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};
std::uint64_t block_count_of(std::uint64_t paths);
// Rank `rank` of `ranks`: contiguous shares in rank order, their sizes apart by one at most.
BlockShare share_of(std::uint64_t block_count, int rank, int ranks);
std::uint64_t paths_of(BlockShare share, std::uint64_t paths);

// What a share of a run completed: its counts merged, the samples of its completed blocks in
// block order, and per block of the share whether it completed and its funding.
struct ShareRun {
    BlockShare share;
    BlockStats total;  // funding_paid: funding_sum's values
    std::vector<std::uint8_t> done;
    std::vector<BlockFunding> funding;
    std::array<ExactSum, mode_count> funding_sum;  // over the completed blocks
    bool complete = false;
};
// Runs the share's blocks (those not restored from control.resume, whose blocks must lie in
// the share); stops when control.stop is set. Progress counts the share's paths.
// `on_allocated`, when given, is called once the share's samples are allocated, before any block.
ShareRun run_share(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control,
                   BlockShare share, const std::function<void()>& on_allocated = {});
// The funding of the blocks marked done (every block when `done` is shorter), summed exactly.
std::array<ExactSum, mode_count> funding_sums(const std::vector<BlockFunding>& funding,
                                              const std::vector<std::uint8_t>& done);

// The completed blocks merged: counts, funding summed in block order, and the per-path
// samples of the completed blocks in block order (not yet summarized). When the control's
// stop flag ended the run early, fills control.checkpoint (when given) with the completed
// blocks, before any sample is reordered; throws RunInterrupted when no block completed.
BlockStats run_blocks(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control);

// The likelihood ratios of a run block's paths when the run is weighted, else empty.
inline std::span<const double> weights_of(const Engine& engine, const PathBlock& paths) {
    return engine.weighted() ? paths.weights() : std::span<const double>{};
}

// The counts a checkpoint keeps, as the engine's statistics (no samples, no funding), and back
// (of merged statistics, their liquidation bins folded).
BlockStats stats_of(const CheckpointCounts& counts);
CheckpointCounts counts_of(const BlockStats& stats);
// The checkpoint of a stopped run's merged blocks: done[i] marks block first_block + i merged,
// funding[i] its funding per mode (the key and elapsed time are left to finish_run).
RunCheckpoint checkpoint_of(const BlockStats& total, const std::vector<std::uint8_t>& done,
                            const std::vector<BlockFunding>& funding, std::uint64_t first_block = 0);

// The report of a run's merged blocks (summarize() reorders their samples); when the run was
// stopped, fills control.checkpoint's key (with the run's precision target) and the elapsed
// time of all sessions so far.
Report finish_run(const Scenario& scenario, const Engine& engine, int threads, BlockStats& total,
                  std::chrono::steady_clock::time_point start, const RunControl& control,
                  const std::optional<Precision>& precision = std::nullopt);

// Sees the applied scenario and a run's merged statistics before summarize() reorders them.
using Inspect = std::function<void(const Scenario&, const BlockStats&)>;

// The whole run of simulate(): the options applied, every block run, the report made;
// `inspect`, when given, sees the applied scenario and the merged statistics before
// summarize() reorders their samples (run_detailed reads its details there); whether it reads
// the loss samples (`inspect_losses`) matters to a run over ranks, which gathers them for it.
Report run_report(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                  const Inspect& inspect = {}, bool inspect_losses = true);

// paths, steps, seed, threads, elapsed, model of the run (paths: those requested).
SimulationInfo simulation_info(const Scenario& scenario, int threads, double elapsed_s);

// The report of already merged statistics (no simulation). info.paths is the paths
// requested; when the summary covers fewer, the report is partial.
Report make_report(const Scenario& scenario, const MarginBook& book, Summary summary,
                   const SimulationInfo& info);

}  // namespace marginsim::detail
