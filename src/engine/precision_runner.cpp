#include "engine/precision_runner.hpp"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/block_runner.hpp"

namespace marginsim::detail {

bool every_mode_meets(const BlockStats& total, const Precision& precision) {
    if (total.overflowed_paths >= total.paths) return false;
    for (const ModeSample& mode : total.modes)
        if (!meets_precision(liquidation_proportion(total, mode), precision)) return false;
    return true;
}

namespace {

using Funding = BlockFunding;

// The blocks merged in block order as they complete, in any order, on any thread: a block
// waits in `pending_` until every block before it is merged. After each merged block the
// target is tested; once met (and min_paths merged), no later block is wanted.
class InOrderMerge {
public:
    InOrderMerge(std::uint64_t block_count, const Precision& precision, std::uint64_t min_paths)
        : end_(block_count), precision_(precision), min_paths_(min_paths) {}

    // The merged prefix of a stopped run, restored: on none of its blocks was the target met.
    void restore(const RunCheckpoint& checkpoint) {
        total_ = stats_of(checkpoint.counts);
        for (std::size_t m = 0; m < mode_count; ++m) {
            total_.modes[m].loss = checkpoint.loss[m];
            total_.modes[m].drawdown = checkpoint.drawdown[m];
        }
        total_.weight = checkpoint.weight;
        funding_ = checkpoint.funding;
        next_ = checkpoint.blocks.size();
    }

    std::uint64_t next() const noexcept { return next_; }
    bool wanted(std::uint64_t block) const noexcept { return block < end_.load(std::memory_order_relaxed); }

    void add(std::uint64_t block, BlockStats stats) {
        const std::lock_guard<std::mutex> hold(lock_);
        if (block >= end_.load(std::memory_order_relaxed)) return;  // past the block that met the target
        pending_.emplace(block, std::move(stats));
        while (!pending_.empty() && pending_.begin()->first == next_ && next_ < end_.load(std::memory_order_relaxed)) {
            merge(pending_.begin()->second);
            pending_.erase(pending_.begin());
        }
    }

    // After the workers: the merged prefix (a later block still pending follows a gap that a
    // stop left, and is dropped).
    PrecisionBlocks finish() {
        PrecisionBlocks out;
        out.stopped = next_ < end_.load(std::memory_order_relaxed);
        out.paths_needed = paths_needed_;
        out.total = std::move(total_);
        // Summed exactly, as a plain run sums them: the same numbers at the same paths.
        const auto sums = funding_sums(funding_, {});
        for (std::size_t m = 0; m < mode_count; ++m) out.total.modes[m].funding_paid = sums[m].value();
        pending_.clear();
        return out;
    }
    const std::vector<Funding>& funding() const noexcept { return funding_; }

private:
    void merge(BlockStats& block) {
        Funding funding{};
        for (std::size_t m = 0; m < mode_count; ++m) funding[m] = block.modes[m].funding_paid;
        funding_.push_back(funding);
        total_.merge(block);  // its funding is replaced by the exact sum of the blocks' at the end
        ++next_;
        if (!paths_needed_ && every_mode_meets(total_, precision_)) paths_needed_ = total_.paths;
        if (paths_needed_ && total_.paths >= min_paths_) end_.store(next_, std::memory_order_relaxed);
    }

    std::mutex lock_;
    std::map<std::uint64_t, BlockStats> pending_;
    std::uint64_t next_ = 0;              // the next block to merge
    std::atomic<std::uint64_t> end_;      // blocks from here on are not wanted
    BlockStats total_;
    std::vector<Funding> funding_;        // per merged block, for a checkpoint
    std::optional<std::uint64_t> paths_needed_;
    Precision precision_;
    std::uint64_t min_paths_;
};

}  // namespace

void check_precision_checkpoint(const RunCheckpoint& checkpoint, std::uint64_t paths, std::uint64_t min_paths) {
    if (min_paths != 0) throw std::invalid_argument("simulate: a run with precision_min_paths cannot be resumed");
    if (checkpoint.key.paths != paths || checkpoint.key.block_size != block_size)
        throw std::invalid_argument("simulate: the checkpoint to resume belongs to another run");
    for (std::size_t i = 0; i < checkpoint.blocks.size(); ++i) {
        if (checkpoint.blocks[i] != i)
            throw std::invalid_argument("simulate: the checkpoint to resume is not that of a run with a precision target");
    }
}

PrecisionBlocks run_blocks_to_precision(const Engine& engine, const Scenario& scenario, int threads,
                                        const RunControl& control, const Precision& precision,
                                        std::uint64_t min_paths) {
    const std::uint64_t paths = scenario.simulation.paths;
    const std::uint64_t seed = scenario.simulation.seed;
    const std::uint64_t block_count = paths / block_size + (paths % block_size != 0 ? 1 : 0);
    InOrderMerge merged(block_count, precision, min_paths);
    if (control.resume) {
        check_precision_checkpoint(*control.resume, paths, min_paths);
        merged.restore(*control.resume);
    }
    const std::uint64_t resumed = control.resume ? control.resume->paths_done() : 0;
    std::atomic<std::uint64_t> next_block{merged.next()};  // handed out in block order
    std::atomic<std::uint64_t> paths_done{resumed};
    const auto start = std::chrono::steady_clock::now();
    const auto stop_requested = [&] { return control.stop != nullptr && control.stop->load(std::memory_order_relaxed); };
    const auto work = [&](int) {
        PathBlock block_paths(engine.model().asset_count(), block_size);
        BookState state(engine.book(), block_size);
        while (!stop_requested()) {
            const std::uint64_t b = next_block.fetch_add(1, std::memory_order_relaxed);
            if (!merged.wanted(b)) return;
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block_size, paths - b * block_size));
            engine.run_block(seed, b, n, block_paths, state);
            merged.add(b, BlockStats::from_state(state, engine.book(), scenario.balance, weights_of(engine, block_paths)));
            const std::uint64_t now_done = paths_done.fetch_add(n, std::memory_order_relaxed) + n;
            if (control.on_progress) {
                const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
                control.on_progress(RunProgress{now_done, paths, resumed, elapsed.count()});
            }
        }
    };
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    arena.execute([&] { tbb::parallel_for(0, threads, work); });

    std::vector<std::uint8_t> done(merged.next(), 1);
    const std::vector<Funding> funding = merged.funding();
    PrecisionBlocks out = merged.finish();
    out.total.bin_days = engine.book().tick_days();
    out.total.ticks_per_step = engine.book().ticks_per_step();
    out.total.weighted = engine.weighted();
    if (!out.stopped) return out;
    if (out.total.paths == 0) throw RunInterrupted();
    if (control.checkpoint != nullptr) *control.checkpoint = checkpoint_of(out.total, done, funding);
    return out;
}

}  // namespace marginsim::detail
