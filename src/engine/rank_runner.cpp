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

#include "engine/rank_runner.hpp"
#include "engine/rank_statistics.hpp"

namespace marginsim::detail {
namespace {

std::uint64_t paths_in(std::uint64_t block, std::uint64_t paths) { return paths_of(BlockShare{block, block + 1}, paths); }

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
        const std::uint64_t n = paths_in(b, paths);
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


// Where each block's values lie among the ranks' parts: part `part`, from `offset`, `count` of
// them; listed in block order.
struct Placed {
    std::uint64_t block = 0;
    std::size_t part = 0;
    std::uint64_t offset = 0;
    std::uint64_t count = 0;
};
std::vector<Placed> block_order(const std::vector<std::vector<std::uint64_t>>& blocks, std::uint64_t paths) {
    std::vector<Placed> order;
    for (std::size_t r = 0; r < blocks.size(); ++r) {
        std::uint64_t offset = 0;
        for (const std::uint64_t b : blocks[r]) {
            order.push_back({b, r, offset, paths_in(b, paths)});
            offset += paths_in(b, paths);
        }
    }
    std::sort(order.begin(), order.end(), [](const Placed& a, const Placed& b) { return a.block < b.block; });
    return order;
}
// The parts' per-path values, in block order.
template <class T>
std::vector<T> arrange(const std::vector<Placed>& order, const std::vector<std::vector<T>>& parts) {
    std::vector<T> out;
    for (const Placed& at : order) {
        const auto from = parts[at.part].begin() + static_cast<std::ptrdiff_t>(at.offset);
        out.insert(out.end(), from, from + static_cast<std::ptrdiff_t>(at.count));
    }
    return out;
}

// Every rank's per-path values of its blocks, on rank 0 in block order (empty elsewhere).
template <class T>
std::vector<T> gather_in_block_order(const std::vector<T>& local, const std::vector<std::vector<std::uint64_t>>& blocks,
                                     std::uint64_t paths, const Ranks& ranks) {
    std::vector<std::vector<T>> parts;
    for (const std::string& part : ranks.gather(bytes_of(local))) parts.push_back(values_of<T>(part));
    return ranks.is_root() ? arrange(block_order(blocks, paths), parts) : std::vector<T>{};
}

// The ranks' checkpoints as one, its blocks in order.
RunCheckpoint merge_checkpoints(const std::vector<std::string>& parts) {
    std::vector<RunCheckpoint> parsed;
    for (std::size_t r = 0; r < parts.size(); ++r)
        parsed.push_back(parse_checkpoint(parts[r], "the checkpoint part of rank " + std::to_string(r)));
    std::vector<std::vector<std::uint64_t>> blocks;
    BlockStats counts;
    for (const RunCheckpoint& part : parsed) {
        blocks.push_back(part.blocks);
        counts.merge(stats_of(part.counts));
    }
    RunCheckpoint merged;
    merged.key = parsed.front().key;
    merged.counts = counts_of(counts);
    const std::vector<Placed> order = block_order(blocks, merged.key.paths);
    const auto arranged = [&](auto field) {
        std::vector<std::decay_t<decltype(field(parsed.front()))>> values;
        for (const RunCheckpoint& part : parsed) values.push_back(field(part));
        return arrange(order, values);
    };
    for (std::size_t m = 0; m < mode_count; ++m) {
        merged.loss[m] = arranged([m](const RunCheckpoint& part) { return part.loss[m]; });
        merged.drawdown[m] = arranged([m](const RunCheckpoint& part) { return part.drawdown[m]; });
    }
    if (merged.counts.weighted.size() != 0)  // an importance-sampled run's
        merged.weight = arranged([](const RunCheckpoint& part) { return part.weight; });
    std::vector<std::uint64_t> index(parsed.size(), 0);  // of each part's next block
    for (const Placed& at : order) {
        merged.blocks.push_back(at.block);
        merged.funding.push_back(parsed[at.part].funding[index[at.part]++]);
    }
    return merged;
}

}  // namespace

void fail_together(const std::string& failure, const Ranks& ranks) {
    if (sum_over(failure.empty() ? 0u : 1u, ranks) == 0) return;
    const std::vector<std::string> failures = ranks.gather(failure);
    for (std::size_t r = 0; r < failures.size(); ++r)
        if (!failures[r].empty()) throw RanksFailed(fmt::format("rank {}: {}", r, failures[r]));
    throw RanksFailed(failure.empty() ? "another rank failed" : failure);
}

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

std::optional<RunCheckpoint> scatter_checkpoint(const RunCheckpoint* resume, const Ranks& ranks, std::uint64_t paths,
                                                CheckpointSplit split,
                                                const std::function<void(const RunCheckpoint&)>& check) {
    std::string resuming = ranks.is_root() && resume != nullptr ? "1" : "0";
    if (resuming == "1") {
        try {
            check(*resume);
        } catch (const std::invalid_argument& error) {
            resuming = error.what();
        }
    }
    ranks.broadcast(resuming);
    if (resuming == "0") return std::nullopt;
    if (resuming != "1") throw std::invalid_argument(resuming);
    std::vector<std::string> parts;
    if (ranks.is_root()) {
        const std::uint64_t blocks = split == CheckpointSplit::prefix ? resume->blocks.size() : block_count_of(paths);
        for (int r = 0; r < ranks.size(); ++r)
            parts.push_back(checkpoint_bytes(part_of(*resume, share_of(blocks, r, ranks.size()), paths, r == 0)));
    }
    return parse_checkpoint(ranks.scatter(parts), "the checkpoint part sent by rank 0");
}

void gather_checkpoint(RunCheckpoint part, const Scenario& scenario, const RunOptions& options,
                       const RunControl& control, const Ranks& ranks) {
    part.key = run_checkpoint_key(scenario, options, control.scenario_hash);
    for (CheckpointModeCounts& mode : part.counts.modes)  // a rank that completed no block has none
        mode.position_liquidations.resize(scenario.positions.size(), 0);
    const std::vector<std::string> parts = ranks.gather(checkpoint_bytes(part));
    if (ranks.is_root() && control.checkpoint != nullptr) *control.checkpoint = merge_checkpoints(parts);
}

void inspect_over(const Scenario& scenario, const BlockStats& total, const std::vector<std::uint64_t>& blocks,
                  const Inspect& inspect, bool with_losses, const Ranks& ranks) {
    BlockStats view = stats_of(counts_of(total));
    view.bin_days = total.bin_days;
    view.ticks_per_step = total.ticks_per_step;
    for (std::size_t m = 0; m < mode_count; ++m) view.modes[m].funding_paid = total.modes[m].funding_paid;
    if (with_losses) {
        std::vector<std::vector<std::uint64_t>> all_blocks;
        for (const std::string& part : ranks.gather(bytes_of(blocks))) all_blocks.push_back(values_of<std::uint64_t>(part));
        const std::uint64_t paths = scenario.simulation.paths;
        for (std::size_t m = 0; m < mode_count; ++m)
            view.modes[m].loss = gather_in_block_order(total.modes[m].loss, all_blocks, paths, ranks);
        if (total.weighted) view.weight = gather_in_block_order(total.weight, all_blocks, paths, ranks);
    }
    inspect(scenario, view);
}

namespace {

// This rank's completed blocks of its share, ascending.
std::vector<std::uint64_t> done_blocks(const ShareRun& run) {
    std::vector<std::uint64_t> blocks;
    for (std::uint64_t i = 0; i < run.done.size(); ++i)
        if (run.done[i] != 0) blocks.push_back(run.share.first + i);
    return blocks;
}

}  // namespace

Report spread_report(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                     const Inspect& inspect, bool inspect_losses, const Engine& engine, int threads,
                     std::chrono::steady_clock::time_point start) {
    const Ranks& ranks = *control.ranks;
    const std::uint64_t paths = scenario.simulation.paths;
    const BlockShare share = share_of(block_count_of(paths), ranks.rank(), ranks.size());
    const std::optional<RunCheckpoint> part =
        scatter_checkpoint(control.resume, ranks, paths, CheckpointSplit::run_shares, [&](const RunCheckpoint& resume) {
            if (resume.key.paths != paths || resume.key.block_size != block_size)
                throw std::invalid_argument("simulate: the checkpoint to resume belongs to another run");
        });
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
    if (done < paths)
        gather_checkpoint(checkpoint_of(run.total, run.done, run.funding, run.share.first), scenario, options, control, ranks);
    for (std::size_t m = 0; m < mode_count; ++m) run.total.modes[m].funding_paid = sum_over(run.funding_sum[m], ranks).value();
    sum_counts_over(run.total, ranks);
    if (inspect) inspect_over(scenario, run.total, done_blocks(run), inspect, inspect_losses, ranks);
    Report report = finish_run(scenario, engine, threads, run.total, start, control);
    report.simulation.ranks = ranks.size();
    return report;
}

}  // namespace marginsim::detail
