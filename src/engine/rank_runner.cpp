// A run spread over MPI ranks (docs/distributed.md): each rank runs the contiguous share of the
// blocks share_of() gives it, on its own threads, with the streams of those blocks, so that
// every path is the single process's path; the statistics are combined without moving any
// sample (rank_statistics.hpp). A checkpoint to resume is split by rank 0 among the ranks that
// own its blocks, and a stopped run's blocks are gathered back to rank 0 into one checkpoint,
// the file a single process writes, so a run may be resumed on any number of ranks.

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <new>

#include <fmt/format.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/block_runner.hpp"
#include "engine/rank_statistics.hpp"

namespace marginsim::detail {
namespace {

// The part of a checkpoint in blocks [share.first, share.last): its blocks, funding and samples;
// the counts of the whole checkpoint when `with_counts` (rank 0's part), else none but the
// paths, which go with the samples.
RunCheckpoint part_of(const RunCheckpoint& whole, BlockShare share, std::uint64_t paths, bool with_counts) {
    RunCheckpoint part;
    part.key = whole.key;
    part.elapsed_s = whole.elapsed_s;
    std::uint64_t offset = 0;  // of the block's first path among the checkpoint's samples
    std::uint64_t from = 0;
    std::uint64_t count = 0;
    for (std::size_t i = 0; i < whole.blocks.size(); ++i) {
        const std::uint64_t b = whole.blocks[i];
        const std::uint64_t n = std::min<std::uint64_t>(block_size, paths - b * block_size);
        if (b >= share.first && b < share.last) {
            if (part.blocks.empty()) from = offset;
            part.blocks.push_back(b);
            part.funding.push_back(whole.funding[i]);
            count += n;
        }
        offset += n;
    }
    part.counts = whole.counts;
    if (!with_counts) {
        part.counts = CheckpointCounts{};
        for (std::size_t m = 0; m < mode_count; ++m)
            part.counts.modes[m].position_liquidations.assign(whole.counts.modes[m].position_liquidations.size(), 0);
    }
    part.counts.paths = count;
    const auto slice = [&](const auto& values) {
        using Vector = std::decay_t<decltype(values)>;
        const auto begin = values.begin() + static_cast<std::ptrdiff_t>(from);
        return Vector(begin, begin + static_cast<std::ptrdiff_t>(count));
    };
    for (std::size_t m = 0; m < mode_count; ++m) {
        part.loss[m] = slice(whole.loss[m]);
        part.drawdown[m] = slice(whole.drawdown[m]);
    }
    if (!whole.weight.empty()) part.weight = slice(whole.weight);
    return part;
}

// What fail_together throws, on every rank alike.
class RanksFailed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws on every rank when `failure` is not empty on some rank (a rank's own error, which the
// others cannot know): rank 0's message names the first rank that failed and says why.
void fail_together(const std::string& failure, const Ranks& ranks) {
    if (sum_over(failure.empty() ? 0u : 1u, ranks) == 0) return;
    const std::vector<std::string> failures = ranks.gather(failure);
    for (std::size_t r = 0; r < failures.size(); ++r)
        if (!failures[r].empty()) throw RanksFailed(fmt::format("rank {}: {}", r, failures[r]));
    throw RanksFailed(failure.empty() ? "another rank failed" : failure);
}

// What a rank's own failure says, for fail_together.
std::string failure_of(std::exception_ptr error, std::uint64_t share_paths) {
    try {
        std::rethrow_exception(error);
    } catch (const std::bad_alloc&) {
        return fmt::format("not enough memory for its share of the run ({} paths, about {} bytes a path)", share_paths,
                           mode_count * (sizeof(double) + sizeof(float)));
    } catch (const std::exception& other) {
        return other.what();
    } catch (...) {
        return "unknown failure";
    }
}

// This rank's part of the checkpoint that rank 0 resumes from, if it resumes one.
std::optional<RunCheckpoint> scatter_checkpoint(const RunCheckpoint* resume, const Ranks& ranks, std::uint64_t paths) {
    std::string resuming = ranks.is_root() && resume != nullptr ? "1" : "0";
    if (resuming == "1" && (resume->key.paths != paths || resume->key.block_size != block_size))
        resuming = "simulate: the checkpoint to resume belongs to another run";
    ranks.broadcast(resuming);
    if (resuming == "0") return std::nullopt;
    if (resuming != "1") throw std::invalid_argument(resuming);
    std::vector<std::string> parts;
    if (ranks.is_root()) {
        const std::uint64_t blocks = block_count_of(paths);
        for (int r = 0; r < ranks.size(); ++r)
            parts.push_back(checkpoint_bytes(part_of(*resume, share_of(blocks, r, ranks.size()), paths, r == 0)));
    }
    return parse_checkpoint(ranks.scatter(parts), "the checkpoint part sent by rank 0");
}

// The ranks' checkpoints, in rank order (so in block order), as one.
RunCheckpoint merge_checkpoints(const std::vector<std::string>& parts) {
    RunCheckpoint merged;
    BlockStats counts;
    for (std::size_t r = 0; r < parts.size(); ++r) {
        RunCheckpoint part = parse_checkpoint(parts[r], "the checkpoint part of rank " + std::to_string(r));
        merged.key = part.key;
        merged.blocks.insert(merged.blocks.end(), part.blocks.begin(), part.blocks.end());
        merged.funding.insert(merged.funding.end(), part.funding.begin(), part.funding.end());
        counts.merge(stats_of(part.counts));
        for (std::size_t m = 0; m < mode_count; ++m) {
            merged.loss[m].insert(merged.loss[m].end(), part.loss[m].begin(), part.loss[m].end());
            merged.drawdown[m].insert(merged.drawdown[m].end(), part.drawdown[m].begin(), part.drawdown[m].end());
        }
        merged.weight.insert(merged.weight.end(), part.weight.begin(), part.weight.end());
    }
    merged.counts = counts_of(counts);
    return merged;
}

// A stopped run's completed blocks, from every rank to rank 0's `checkpoint` (before the
// statistics reorder the samples).
void gather_checkpoint(const ShareRun& run, const Scenario& scenario, const RunOptions& options,
                       const RunControl& control, const Ranks& ranks) {
    RunCheckpoint part = checkpoint_of(run.total, run.done, run.funding, run.share.first);
    part.key = run_checkpoint_key(scenario, options, control.scenario_hash);
    for (CheckpointModeCounts& mode : part.counts.modes)  // a rank that completed no block has none
        mode.position_liquidations.resize(scenario.positions.size(), 0);
    const std::vector<std::string> parts = ranks.gather(checkpoint_bytes(part));
    if (ranks.is_root() && control.checkpoint != nullptr) *control.checkpoint = merge_checkpoints(parts);
}

// `inspect` of the whole run's counts, with every path's loss (and a weighted run's weights)
// gathered to rank 0 in path order when it reads them (the other ranks' inspect sees no sample).
void inspect_over(const Scenario& scenario, const BlockStats& total, const Inspect& inspect, bool with_losses,
                  const Ranks& ranks) {
    BlockStats view = stats_of(counts_of(total));
    view.bin_days = total.bin_days;
    view.ticks_per_step = total.ticks_per_step;
    for (std::size_t m = 0; m < mode_count; ++m) {
        view.modes[m].funding_paid = total.modes[m].funding_paid;
        if (!with_losses) continue;
        for (const std::string& part : ranks.gather(bytes_of(total.modes[m].loss))) {
            const std::vector<double> losses = values_of<double>(part);
            view.modes[m].loss.insert(view.modes[m].loss.end(), losses.begin(), losses.end());
        }
    }
    if (with_losses && total.weighted) {
        for (const std::string& part : ranks.gather(bytes_of(total.weight))) {
            const std::vector<double> weights = values_of<double>(part);
            view.weight.insert(view.weight.end(), weights.begin(), weights.end());
        }
    }
    inspect(scenario, view);
}

}  // namespace

Report spread_report(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                     const Inspect& inspect, bool inspect_losses, const Engine& engine, int threads,
                     std::chrono::steady_clock::time_point start) {
    const Ranks& ranks = *control.ranks;
    if (options.precision)
        throw std::invalid_argument("simulate: a run with a precision target is not spread over ranks");
    const std::uint64_t paths = scenario.simulation.paths;
    const BlockShare share = share_of(block_count_of(paths), ranks.rank(), ranks.size());
    const std::optional<RunCheckpoint> part = scatter_checkpoint(control.resume, ranks, paths);
    RunControl local = control;
    local.resume = part ? &*part : nullptr;
    // The ranks agree twice that none failed: once every share's samples are allocated (a rank
    // short of memory stops the others before they run), and after the blocks.
    ShareRun run;
    std::string failure;
    bool allocated = false;
    try {
        run = run_share(engine, scenario, threads, local, share, [&] {
            allocated = true;
            fail_together({}, ranks);
        });
    } catch (const RanksFailed&) {
        throw;
    } catch (...) {
        failure = failure_of(std::current_exception(), paths_of(share, paths));
    }
    if (!allocated) fail_together(failure, ranks);
    fail_together(failure, ranks);

    const std::uint64_t done = sum_over(run.total.paths, ranks);
    if (done == 0) throw RunInterrupted();
    if (done < paths) gather_checkpoint(run, scenario, options, control, ranks);
    for (std::size_t m = 0; m < mode_count; ++m) run.total.modes[m].funding_paid = sum_over(run.funding_sum[m], ranks).value();
    sum_counts_over(run.total, ranks);
    if (inspect) inspect_over(scenario, run.total, inspect, inspect_losses, ranks);
    Report report = finish_run(scenario, engine, threads, run.total, start, control);
    report.simulation.ranks = ranks.size();
    return report;
}

}  // namespace marginsim::detail
