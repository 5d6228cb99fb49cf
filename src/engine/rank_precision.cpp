// A run to a precision target spread over MPI ranks (docs/distributed.md): the blocks go in
// rounds, each round's blocks split among the ranks (share_of), run on each rank's threads.
// After a round every rank has the counts that the target test reads of each of the round's
// blocks (summed over the ranks, each block's written by the rank that ran it) and replays the
// single process's test block by block, in block order: all ranks stop at the block where one
// process stops, and keep the samples of their blocks up to it. A round's blocks past that
// block are the only work lost (at most a round, about 1/16 of the blocks merged so far).

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/rank_runner.hpp"
#include "engine/rank_statistics.hpp"

namespace marginsim::detail {
namespace {

// The counts of a block that the target test reads (every_mode_meets), as words the ranks sum:
// completed (0 or 1), paths, overflowed paths, then per mode the paths liquidated and those
// liquidated at time 0, and in a weighted run the liquidated paths' weights (WeightedCount: the
// words of its sum, then of its squares).
class BlockTally {
public:
    explicit BlockTally(bool weighted) : weighted_(weighted) {}
    std::size_t words() const noexcept { return 3 + mode_count * (weighted_ ? 2 + 8 : 2); }

    // A completed block's counts into its slot (folds the block's liquidation bins).
    void write(BlockStats& block, std::span<std::uint64_t> slot) const {
        auto next = slot.begin();
        *next++ = 1;
        *next++ = block.paths;
        *next++ = block.overflowed_paths;
        for (ModeSample& mode : block.modes) {
            fold_steps(mode);
            *next++ = mode.liquidated_paths;
            *next++ = mode.liquidations_by_step.empty() ? 0 : mode.liquidations_by_step[0];
            if (!weighted_) continue;
            next = std::copy(mode.liquidated_weight.sum.words().begin(), mode.liquidated_weight.sum.words().end(), next);
            next = std::copy(mode.liquidated_weight.squares.words().begin(), mode.liquidated_weight.squares.words().end(),
                             next);
        }
    }

    static bool completed(std::span<const std::uint64_t> slot) noexcept { return slot[0] != 0; }

    // The slot's counts as statistics that every_mode_meets reads.
    BlockStats read(std::span<const std::uint64_t> slot) const {
        BlockStats block;
        block.weighted = weighted_;
        auto next = slot.begin() + 1;
        block.paths = *next++;
        block.overflowed_paths = *next++;
        for (ModeSample& mode : block.modes) {
            mode.liquidated_paths = *next++;
            mode.liquidations_by_step.assign(1, *next++);
            if (!weighted_) continue;
            mode.liquidated_weight.sum = WeightSum::from_words(words_at(next));
            mode.liquidated_weight.squares = WeightSum::from_words(words_at(next));
        }
        return block;
    }

private:
    static std::array<std::uint64_t, 4> words_at(std::span<const std::uint64_t>::iterator& next) {
        std::array<std::uint64_t, 4> words{};
        for (std::uint64_t& word : words) word = *next++;
        return words;
    }
    bool weighted_;
};

// The smallest round a run takes, in blocks per thread of every rank: enough work between two
// exchanges of counts to keep the threads busy.
constexpr std::uint64_t blocks_per_thread = 4;
// Rounds grow with the blocks merged (by 1/16 of them) so that long runs take few rounds, and
// the blocks a round runs past the stopping block stay a small part of the run.
constexpr std::uint64_t round_growth = 16;

// What one rank holds of the merged prefix: its blocks, ascending, their samples and counts in
// `total`, their funding.
struct RankPrefix {
    BlockStats total;
    std::vector<std::uint64_t> blocks;
    std::vector<BlockFunding> funding;

    void add(std::uint64_t block, BlockStats& stats) {
        BlockFunding f{};
        for (std::size_t m = 0; m < mode_count; ++m) f[m] = stats.modes[m].funding_paid;
        funding.push_back(f);
        blocks.push_back(block);
        total.merge(stats);
    }
};

// This rank's part of rank 0's checkpoint (a prefix of blocks), and the whole prefix's counts
// that the target test reads, on every rank.
void restore(const RunCheckpoint& part, bool weighted, RankPrefix& mine, BlockStats& prefix, const Ranks& ranks) {
    mine.total = stats_of(part.counts);  // the whole checkpoint's on rank 0, none on the others
    for (std::size_t m = 0; m < mode_count; ++m) {
        mine.total.modes[m].loss = part.loss[m];
        mine.total.modes[m].drawdown = part.drawdown[m];
    }
    mine.total.weight = part.weight;
    mine.total.weighted = weighted;
    mine.blocks = part.blocks;
    mine.funding = part.funding;
    prefix = stats_of(part.counts);
    prefix.weighted = weighted;
    sum_counts_over(prefix, ranks);
}

}  // namespace

PrecisionBlocks spread_blocks_to_precision(const Engine& engine, const Scenario& scenario, int threads,
                                           const RunControl& control, const RunOptions& options) {
    const Ranks& ranks = *control.ranks;
    const Precision& precision = *options.precision;
    const std::uint64_t min_paths = options.precision_min_paths;
    const std::uint64_t paths = scenario.simulation.paths;
    const std::uint64_t block_count = block_count_of(paths);
    const bool weighted = engine.weighted();
    const BlockTally tally(weighted);

    RankPrefix mine;
    mine.total.weighted = weighted;
    BlockStats prefix;  // the counts of the merged prefix that the target test reads (every rank's)
    prefix.weighted = weighted;
    const std::optional<RunCheckpoint> part =
        scatter_checkpoint(control.resume, ranks, paths, CheckpointSplit::prefix, [&](const RunCheckpoint& resume) {
            check_precision_checkpoint(resume, paths, min_paths);
        });
    if (part) restore(*part, weighted, mine, prefix, ranks);
    std::uint64_t next = sum_over(static_cast<std::uint64_t>(mine.blocks.size()), ranks);  // the next block
    const std::uint64_t resumed = prefix.paths;

    struct Workspace {
        PathBlock paths;
        BookState state;
    };
    tbb::enumerable_thread_specific<Workspace> workspaces(
        [&] { return Workspace{PathBlock(engine.model().asset_count(), block_size), BookState(engine.book(), block_size)}; });
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    const auto start = std::chrono::steady_clock::now();
    const auto stop_requested = [&] { return control.stop != nullptr && control.stop->load(std::memory_order_relaxed); };

    std::optional<std::uint64_t> paths_needed;
    bool finished = next >= block_count;
    bool stopped = false;
    // Every rank must cut the same rounds: their sizes come from the most threads any rank has.
    std::array<double, 1> most_threads{static_cast<double>(threads)};
    ranks.max(most_threads);
    const std::uint64_t smallest_round =
        static_cast<std::uint64_t>(ranks.size()) * static_cast<std::uint64_t>(most_threads[0]) * blocks_per_thread;
    while (!finished && !stopped) {
        const std::uint64_t round = std::min(std::max(smallest_round, next / round_growth), block_count - next);
        const BlockShare share = share_of(round, ranks.rank(), ranks.size());
        std::vector<std::optional<BlockStats>> results(share.last - share.first);
        std::vector<std::uint64_t> slots(round * tally.words(), 0);
        std::string failure;
        try {
            std::atomic<std::uint64_t> paths_done{prefix.paths};
            arena.execute([&] {
                tbb::parallel_for(
                    std::uint64_t{0}, share.last - share.first,
                    [&](std::uint64_t i) {
                        if (stop_requested()) return;
                        Workspace& work = workspaces.local();
                        const std::uint64_t b = next + share.first + i;
                        const std::uint64_t n = paths_of(BlockShare{b, b + 1}, paths);
                        engine.run_block(scenario.simulation.seed, b, static_cast<std::size_t>(n), work.paths, work.state);
                        BlockStats block = BlockStats::from_state(work.state, engine.book(), scenario.balance,
                                                                  weights_of(engine, work.paths));
                        tally.write(block, std::span(slots).subspan((share.first + i) * tally.words(), tally.words()));
                        results[i].emplace(std::move(block));
                        const std::uint64_t now_done = paths_done.fetch_add(n, std::memory_order_relaxed) + n;
                        if (control.on_progress) {
                            const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
                            control.on_progress(RunProgress{now_done, paths, resumed, elapsed.count()});
                        }
                    },
                    tbb::simple_partitioner());
            });
        } catch (...) {
            failure = failure_of(std::current_exception(), paths_of(share, paths));
        }
        fail_together(failure, ranks);
        ranks.sum(slots);

        // The single process's test, block by block: the round ends at the block where the
        // target is met, or before the first block that a stop left undone.
        std::uint64_t end = round;
        for (std::uint64_t j = 0; j < round; ++j) {
            const std::span<const std::uint64_t> slot = std::span<const std::uint64_t>(slots).subspan(j * tally.words(), tally.words());
            if (!BlockTally::completed(slot)) {
                end = j;
                stopped = true;
                break;
            }
            prefix.merge(tally.read(slot));
            if (!paths_needed && every_mode_meets(prefix, precision)) paths_needed = prefix.paths;
            if (paths_needed && prefix.paths >= min_paths) {
                end = j + 1;
                finished = true;
                break;
            }
        }
        for (std::uint64_t i = 0; i < results.size(); ++i) {
            const std::uint64_t j = share.first + i;
            if (j < end) mine.add(next + j, *results[i]);
        }
        next += end;
        finished = finished || next >= block_count;
    }

    mine.total.bin_days = engine.book().tick_days();
    mine.total.ticks_per_step = engine.book().ticks_per_step();
    mine.total.weighted = weighted;
    if (stopped) {
        if (prefix.paths == 0) throw RunInterrupted();
        RunCheckpoint checkpoint = checkpoint_of(mine.total, std::vector<std::uint8_t>(mine.blocks.size(), 1), mine.funding);
        checkpoint.blocks = mine.blocks;
        gather_checkpoint(std::move(checkpoint), scenario, options, control, ranks);
    }
    const std::array<ExactSum, mode_count> funding = funding_sums(mine.funding, {});
    for (std::size_t m = 0; m < mode_count; ++m) mine.total.modes[m].funding_paid = sum_over(funding[m], ranks).value();
    sum_counts_over(mine.total, ranks);

    PrecisionBlocks out;
    out.total = std::move(mine.total);
    out.paths_needed = paths_needed;
    out.stopped = stopped;
    out.blocks = std::move(mine.blocks);
    return out;
}

}  // namespace marginsim::detail
