#pragma once
// What runs spread over MPI ranks share (rank_runner.cpp): failing together, the checkpoint to
// resume split among the ranks and a stopped run's gathered back to rank 0, and `inspect` over
// the ranks; and the run to a precision target over ranks (rank_precision.cpp). Every function
// is collective.

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/block_runner.hpp"
#include "engine/precision_runner.hpp"
#include "marginsim/ranks.hpp"

namespace marginsim::detail {

// What fail_together throws, on every rank alike.
class RanksFailed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws on every rank when `failure` is not empty on some rank (a rank's own error, which the
// others cannot know): rank 0's message names the first rank that failed and says why.
void fail_together(const std::string& failure, const Ranks& ranks);
// What a rank's own failure says, for fail_together.
std::string failure_of(std::exception_ptr error, std::uint64_t share_paths);

// How rank 0's checkpoint is split among the ranks: by the shares of the run's blocks that the
// ranks run (share_of), or, a precision run's prefix of blocks, into share_of's parts of it.
enum class CheckpointSplit { run_shares, prefix };

// This rank's part of the checkpoint that rank 0 resumes from, if it resumes one. `check`, on
// rank 0, throws std::invalid_argument for a checkpoint of another run: every rank then throws
// it. Rank 0's part holds the checkpoint's counts, the others' none (their paths aside).
std::optional<RunCheckpoint> scatter_checkpoint(const RunCheckpoint* resume, const Ranks& ranks, std::uint64_t paths,
                                                CheckpointSplit split,
                                                const std::function<void(const RunCheckpoint&)>& check);

// A stopped run's completed blocks, this rank's `part` (checkpoint_of its blocks, before the
// statistics reorder the samples), merged on rank 0 into control.checkpoint in block order.
void gather_checkpoint(RunCheckpoint part, const Scenario& scenario, const RunOptions& options,
                       const RunControl& control, const Ranks& ranks);

// `inspect` of the whole run's counts (`total`'s, already summed over the ranks), with every
// path's loss (and a weighted run's weights) gathered to rank 0 in path order when it reads
// them: `blocks` lists this rank's blocks, ascending, in the order of its samples. The other
// ranks' inspect sees no sample.
void inspect_over(const Scenario& scenario, const BlockStats& total, const std::vector<std::uint64_t>& blocks,
                  const Inspect& inspect, bool with_losses, const Ranks& ranks);

// run_report's plain run over control.ranks (more than one): this rank's share of the
// blocks, the checkpoint to resume scattered from rank 0 and a stopped run's gathered to it;
// `inspect` sees the whole run's counts, and with `inspect_losses` every path's loss on rank 0.
Report spread_report(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                     const Inspect& inspect, bool inspect_losses, const Engine& engine, int threads,
                     std::chrono::steady_clock::time_point start);

// run_blocks_to_precision over control.ranks, to the same blocks (rank_precision.cpp): rounds of
// blocks split among the ranks, after each of which every rank replays the target test over the
// round's blocks in block order from their counts, so that all stop at the single process's
// block. The result holds the whole prefix's counts and funding, this rank's samples, and its
// blocks (PrecisionBlocks::blocks).
PrecisionBlocks spread_blocks_to_precision(const Engine& engine, const Scenario& scenario, int threads,
                                           const RunControl& control, const RunOptions& options);

}  // namespace marginsim::detail
