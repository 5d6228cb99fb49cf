#include "engine/block_runner.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "engine/precision_runner.hpp"
#include "engine/rank_runner.hpp"

namespace marginsim::detail {

Scenario with_options(const Scenario& input, const RunOptions& options) {
    Scenario scenario = input;
    if (options.paths) set_paths(scenario, *options.paths);
    if (options.seed) scenario.simulation.seed = *options.seed;
    return scenario;
}

int resolve_threads(const Scenario& scenario, const RunOptions& options) {
    const int requested = options.threads.value_or(scenario.simulation.threads);
    return requested > 0 ? requested : tbb::info::default_concurrency();
}

SimulationInfo simulation_info(const Scenario& scenario, int threads, double elapsed_s) {
    SimulationInfo info;
    info.paths = scenario.simulation.paths;
    info.steps = scenario.simulation.steps;
    info.seed = scenario.simulation.seed;
    info.threads = threads;
    info.elapsed_s = elapsed_s;
    info.model = scenario.simulation.model;
    info.dof = scenario.simulation.dof;
    info.has_jumps = scenario.simulation.jumps;
    info.jumps = scenario.jumps;
    info.regimes = scenario.regimes;
    info.garch = scenario.garch;
    info.fhs = scenario.fhs;
    info.uncertainty = scenario.uncertainty;
    for (const Asset& asset : scenario.assets) info.symbols.push_back(asset.symbol);
    info.horizon_days = scenario.simulation.horizon_days;
    info.steps_per_day = scenario.simulation.steps_per_day;
    info.monitoring = scenario.simulation.monitoring;
    info.importance_sampling = scenario.simulation.importance_sampling;
    info.block_size = block_size;
    return info;
}

namespace {

std::uint64_t paths_in(std::uint64_t block, std::uint64_t paths) {
    return std::min<std::uint64_t>(block_size, paths - block * block_size);
}

}  // namespace

namespace {

// The weighted counts of an importance-sampled run as the 64-bit words a checkpoint keeps (four
// a sum): the paths' and the comparison's weights, then per mode the liquidated and contagion
// weights and the counted lists of weights per bin and per position.
class WeightWords {
public:
    explicit WeightWords(std::vector<std::uint64_t>& words) : words_(&words) {}
    void put(const WeightSum& sum) { words_->insert(words_->end(), sum.words().begin(), sum.words().end()); }
    void put(const WeightedCount& count) {
        put(count.sum);
        put(count.squares);
    }
    void put(const std::vector<WeightSum>& sums) {
        words_->push_back(sums.size());
        for (const WeightSum& sum : sums) put(sum);
    }

private:
    std::vector<std::uint64_t>* words_;
};

class WeightReader {
public:
    explicit WeightReader(const std::vector<std::uint64_t>& words) : words_(&words) {}
    WeightSum sum() {
        std::array<std::uint64_t, 4> words{};
        for (std::uint64_t& w : words) w = next();
        return WeightSum::from_words(words);
    }
    WeightedCount count() {
        WeightedCount out;
        out.sum = sum();
        out.squares = sum();
        return out;
    }
    std::vector<WeightSum> sums() {
        std::vector<WeightSum> out(next());
        for (WeightSum& s : out) s = sum();
        return out;
    }

private:
    std::uint64_t next() {
        if (at_ >= words_->size()) throw std::invalid_argument("simulate: the checkpoint's weighted counts are cut short");
        return (*words_)[at_++];
    }
    const std::vector<std::uint64_t>* words_;
    std::size_t at_ = 0;
};

std::vector<std::uint64_t> weight_words(const BlockStats& stats) {
    std::vector<std::uint64_t> words;
    if (!stats.weighted) return words;
    WeightWords out(words);
    out.put(stats.path_weight);
    out.put(stats.cross_loss_exceeds_isolated_weight);
    for (const ModeSample& mode : stats.modes) {
        out.put(mode.liquidated_weight);
        out.put(mode.contagion_weight);
        out.put(mode.weight_by_step);
        out.put(mode.position_weight);
    }
    return words;
}

void read_weight_words(const std::vector<std::uint64_t>& words, BlockStats& stats) {
    stats.weighted = !words.empty();
    if (!stats.weighted) return;
    WeightReader in(words);
    stats.path_weight = in.count();
    stats.cross_loss_exceeds_isolated_weight = in.count();
    for (ModeSample& mode : stats.modes) {
        mode.liquidated_weight = in.count();
        mode.contagion_weight = in.count();
        mode.weight_by_step = in.sums();
        mode.position_weight = in.sums();
    }
}

}  // namespace

namespace {

// The counts a checkpoint and the engine's statistics both hold (their fields have the same
// names), copied from one to the other.
template <class From, class To>
void copy_counts(const From& from, To& to) {
    to.paths = from.paths;
    to.cross_loss_exceeds_isolated = from.cross_loss_exceeds_isolated;
    to.contagion = from.contagion;
    to.overflowed_paths = from.overflowed_paths;
    for (std::size_t m = 0; m < mode_count; ++m) {
        to.modes[m].liquidations_by_step = from.modes[m].liquidations_by_step;
        to.modes[m].position_liquidations = from.modes[m].position_liquidations;
        to.modes[m].liquidated_paths = from.modes[m].liquidated_paths;
        to.modes[m].contagion = from.modes[m].contagion;
    }
}

}  // namespace

BlockStats stats_of(const CheckpointCounts& counts) {
    BlockStats stats;
    read_weight_words(counts.weighted, stats);
    copy_counts(counts, stats);
    return stats;
}

CheckpointCounts counts_of(const BlockStats& stats) {
    assert(std::all_of(stats.modes.begin(), stats.modes.end(),
                       [](const ModeSample& mode) { return mode.first_liquidation_steps.empty(); }));
    CheckpointCounts counts;
    copy_counts(stats, counts);
    counts.weighted = weight_words(stats);
    return counts;
}

namespace {

// The blocks of a checkpoint back into the share of the run: marked done, their funding and
// samples in place. Returns their merged counts.
BlockStats restore(const RunCheckpoint& checkpoint, std::uint64_t paths, BlockShare share, std::vector<std::uint8_t>& done,
                   std::vector<BlockFunding>& funding, RunSamples& samples) {
    if (checkpoint.key.paths != paths || checkpoint.key.block_size != block_size)
        throw std::invalid_argument("simulate: the checkpoint to resume belongs to another run");
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < checkpoint.blocks.size(); ++i) {
        const std::uint64_t b = checkpoint.blocks[i];
        if (b < share.first || b >= share.last)
            throw std::invalid_argument("simulate: the checkpoint's blocks lie outside this rank's share of the run");
        const std::uint64_t n = paths_in(b, paths);
        const std::uint64_t local = b - share.first;
        done[local] = 1;
        funding[local] = checkpoint.funding[i];
        const auto to = static_cast<std::ptrdiff_t>(local * block_size);
        const auto from = static_cast<std::ptrdiff_t>(offset);
        const auto count = static_cast<std::ptrdiff_t>(n);
        for (std::size_t m = 0; m < mode_count; ++m) {
            std::copy(checkpoint.loss[m].begin() + from, checkpoint.loss[m].begin() + from + count,
                      samples.loss(m).begin() + to);
            std::copy(checkpoint.drawdown[m].begin() + from, checkpoint.drawdown[m].begin() + from + count,
                      samples.drawdown(m).begin() + to);
        }
        if (!checkpoint.weight.empty())
            std::copy(checkpoint.weight.begin() + from, checkpoint.weight.begin() + from + count,
                      samples.weight().begin() + to);
        offset += n;
    }
    return stats_of(checkpoint.counts);
}

// The entries of the share's done blocks moved to the front, in block order, the rest dropped.
template <class T>
void keep_done(std::vector<T>& values, const std::vector<std::uint8_t>& done, std::uint64_t paths, BlockShare share) {
    std::size_t to = 0;
    for (std::uint64_t i = 0; i < done.size(); ++i) {
        if (!done[i]) continue;
        const auto from = static_cast<std::ptrdiff_t>(i * block_size);
        const auto n = static_cast<std::ptrdiff_t>(paths_in(share.first + i, paths));
        if (static_cast<std::ptrdiff_t>(to) != from)  // to < from: a forward copy is safe
            std::copy(values.begin() + from, values.begin() + from + n, values.begin() + static_cast<std::ptrdiff_t>(to));
        to += static_cast<std::size_t>(n);
    }
    values.resize(to);
}

// Moves the samples of the done blocks to the front, in block order, and drops the rest.
void keep_done_samples(BlockStats& total, const std::vector<std::uint8_t>& done, std::uint64_t paths, BlockShare share) {
    if (!total.weight.empty()) keep_done(total.weight, done, paths, share);
    for (ModeSample& mode : total.modes) {
        keep_done(mode.loss, done, paths, share);
        keep_done(mode.drawdown, done, paths, share);
    }
}

}  // namespace

RunCheckpoint checkpoint_of(const BlockStats& total, const std::vector<std::uint8_t>& done,
                            const std::vector<BlockFunding>& funding, std::uint64_t first_block) {
    RunCheckpoint checkpoint;
    for (std::uint64_t i = 0; i < done.size(); ++i) {
        if (!done[i]) continue;
        checkpoint.blocks.push_back(first_block + i);
        checkpoint.funding.push_back(funding[i]);
    }
    checkpoint.counts = counts_of(total);
    checkpoint.weight = total.weight;
    for (std::size_t m = 0; m < mode_count; ++m) {
        checkpoint.loss[m] = total.modes[m].loss;
        checkpoint.drawdown[m] = total.modes[m].drawdown;
    }
    return checkpoint;
}

BlockShare share_of(std::uint64_t block_count, int rank, int ranks) {
    assert(ranks > 0 && rank >= 0 && rank < ranks);
    const auto at = [&](int r) {
        return static_cast<std::uint64_t>(static_cast<uint128_t>(block_count) * static_cast<unsigned>(r) /
                                          static_cast<unsigned>(ranks));
    };
    return {at(rank), at(rank + 1)};
}

std::uint64_t block_count_of(std::uint64_t paths) {
    return paths / block_size + (paths % block_size != 0 ? 1 : 0);  // cannot wrap near 2^64
}

std::uint64_t paths_of(BlockShare share, std::uint64_t paths) {
    if (share.first == share.last) return 0;
    return std::min(paths, share.last * block_size) - share.first * block_size;
}

std::array<ExactSum, mode_count> funding_sums(const std::vector<BlockFunding>& funding,
                                              const std::vector<std::uint8_t>& done) {
    std::array<ExactSum, mode_count> sums;
    for (std::size_t i = 0; i < funding.size(); ++i)
        if (i >= done.size() || done[i] != 0)
            for (std::size_t m = 0; m < mode_count; ++m) sums[m].add(funding[i][m]);
    return sums;
}

// The statistics of a share of a run (the whole run for one process). Each block writes its
// losses and drawdowns into its slice of the preallocated samples and adds its counts to its
// thread's tally (integer counts add in any order); the only floating-point sums, funding, are
// kept per block and added exactly. So the blocks may complete in any order, in one session or
// across a stop and a resume, on any number of ranks, and still give the same numbers. Nothing
// grows with the path count but the samples (of the share's paths).
ShareRun run_share(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control,
                   BlockShare share, const std::function<void()>& on_allocated) {
    const std::uint64_t paths = scenario.simulation.paths;
    const std::uint64_t seed = scenario.simulation.seed;
    const double balance = scenario.balance;
    const std::uint64_t share_paths = paths_of(share, paths);
    RunSamples samples(share_paths);
    if (engine.weighted()) samples.allocate_weights();
    ShareRun run;
    run.share = share;
    run.funding.resize(share.last - share.first);
    run.done.assign(share.last - share.first, 0);  // each entry written by its block's task only
    if (control.resume) run.total = restore(*control.resume, paths, share, run.done, run.funding, samples);
    if (on_allocated) on_allocated();
    const std::uint64_t resumed = run.total.paths;
    std::atomic<std::uint64_t> paths_done{resumed};
    const auto start = std::chrono::steady_clock::now();
    // Per thread, allocated once for the run: the block's paths and margin state, its tally.
    struct Workspace {
        PathBlock paths;
        BookState state;
        BlockStats tally;
    };
    tbb::enumerable_thread_specific<Workspace> workspaces([&] {
        return Workspace{PathBlock(engine.model().asset_count(), block_size), BookState(engine.book(), block_size), {}};
    });
    // The global limit admits more threads than cores when asked, without TBB's warning.
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    arena.execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<std::uint64_t>(0, share.last - share.first, 1),
            [&](const tbb::blocked_range<std::uint64_t>& range) {
                Workspace& work = workspaces.local();
                for (std::uint64_t i = range.begin(); i != range.end(); ++i) {
                    if (run.done[i] != 0) continue;  // restored from the checkpoint
                    if (control.stop != nullptr && control.stop->load(std::memory_order_relaxed)) continue;
                    const std::uint64_t b = share.first + i;
                    const auto n = static_cast<std::size_t>(paths_in(b, paths));
                    engine.run_block(seed, b, n, work.paths, work.state);
                    BlockStats block = BlockStats::from_state(work.state, engine.book(), balance,
                                                              weights_of(engine, work.paths), samples, i * block_size);
                    for (std::size_t m = 0; m < mode_count; ++m) {
                        run.funding[i][m] = block.modes[m].funding_paid;
                        block.modes[m].funding_paid = 0.0;
                    }
                    work.tally.merge(block);
                    run.done[i] = 1;
                    const std::uint64_t now_done = paths_done.fetch_add(n, std::memory_order_relaxed) + n;
                    if (control.on_progress) {
                        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
                        control.on_progress(RunProgress{now_done, share_paths, resumed, elapsed.count()});
                    }
                }
            },
            tbb::simple_partitioner());
    });
    for (const Workspace& work : workspaces) run.total.merge(work.tally);
    run.total.bin_days = engine.book().tick_days();
    run.total.ticks_per_step = engine.book().ticks_per_step();
    run.funding_sum = funding_sums(run.funding, run.done);
    for (std::size_t m = 0; m < mode_count; ++m) run.total.modes[m].funding_paid = run.funding_sum[m].value();
    samples.move_into(run.total.modes, run.total.weight);
    run.total.weighted = engine.weighted();
    run.complete = run.total.paths == share_paths;
    if (!run.complete) keep_done_samples(run.total, run.done, paths, share);
    return run;
}

BlockStats run_blocks(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control) {
    const BlockShare whole{0, block_count_of(scenario.simulation.paths)};
    ShareRun run = run_share(engine, scenario, threads, control, whole);
    if (run.complete) return std::move(run.total);
    if (run.total.paths == 0) throw RunInterrupted();
    if (control.checkpoint != nullptr) *control.checkpoint = checkpoint_of(run.total, run.done, run.funding);
    return std::move(run.total);
}

namespace {

// What an importance-sampled run says of its sampling (the effective paths are the summary's).
void add_importance(Report& report, const SelloffTilt& selloff, double effective_paths) {
    ImportanceInfo& info = report.simulation.importance.emplace();
    info.tilted_fraction = selloff.tilt.active() ? selloff.tilt.tilted_fraction : 0.0;
    info.effective_paths = effective_paths;
    for (const SelloffTarget& target : selloff.targets)
        info.targets.push_back({target.modes, target.shift_sd, target.log_return});
    if (!info.targets.empty()) {
        info.shift_sd = info.targets.back().shift_sd;
        info.selloff_log_return = info.targets.back().selloff_log_return;
        return;
    }
    info.selloff_log_return.assign(report.simulation.symbols.size(), 0.0);
    report.warnings.push_back(
        "importance_sampling: no market-wide move between 1.5 and 12 standard deviations liquidates any "
        "mode (its liquidations are not rare, or out of reach); the paths were sampled plainly");
}

}  // namespace

Report finish_run(const Scenario& scenario, const Engine& engine, int threads, BlockStats& total,
                  std::chrono::steady_clock::time_point start, const RunControl& control,
                  const std::optional<Precision>& precision) {
    // At most one thread a core: a larger arena would need run_blocks' global limit (TBB warns).
    Summary summary;
    const Ranks& ranks = control.ranks != nullptr ? *control.ranks : single_process();
    tbb::task_arena(std::min(threads, tbb::info::default_concurrency())).execute([&] { summary = summarize(total, ranks); });
    const bool stopped = summary.paths < scenario.simulation.paths;  // of every rank
    const std::chrono::duration<double> session = std::chrono::steady_clock::now() - start;
    const double elapsed = session.count() + (control.resume ? control.resume->elapsed_s : 0.0);
    if (stopped && control.checkpoint != nullptr) {
        RunOptions key_options;
        key_options.precision = precision;
        control.checkpoint->key = run_checkpoint_key(scenario, key_options, control.scenario_hash);
        control.checkpoint->elapsed_s = elapsed;
    }
    const double effective_paths = summary.effective_paths.value_or(0.0);
    Report report = make_report(scenario, engine.book(), std::move(summary), simulation_info(scenario, threads, elapsed));
    if (engine.weighted()) add_importance(report, engine.selloff(), effective_paths);
    return report;
}

Report make_report(const Scenario& scenario, const MarginBook& book, Summary summary,
                   const SimulationInfo& info) {
    Report report;
    report.scenario = scenario.source;
    report.overrides = scenario.overrides;
    report.paths_done = summary.paths;
    report.paths_requested = info.paths;
    report.partial = summary.paths < info.paths;
    report.simulation = info;
    report.simulation.paths = summary.paths;
    report.balance = scenario.balance;
    report.policy = scenario.policy;
    report.fee_rate = scenario.fee_rate;
    report.warnings = scenario.warnings;
    std::vector<double> start_price;
    for (const Asset& asset : scenario.assets) start_price.push_back(asset.price);

    for (MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        ModeReport& out = report.modes[m];
        out.mode = mode;
        for (const MarginPool& pool : book.layout(mode).pools) {
            // A pool that starts bankrupt loses its equity of 0, the rest being the exchange's.
            out.collateral_at_risk += pool.liquidated_at_start() ? std::max(0.0, pool.start_equity) : pool.start_equity;
            if (pool.is_cross) out.cross_wallet = pool.collateral;
        }
        for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
            const Position& position = scenario.positions[j];
            PositionReport row;
            row.symbol = position.symbol;
            row.side = position.side;
            row.position_mode = position.mode;
            row.margin = position.margin;
            row.notional = position.notional_at_entry();
            row.entry_price = position.entry_price;
            row.liquidated_at_start = book.layout(mode).pools[book.layout(mode).pool_of_position[j]].liquidated_at_start();
            // Certain, not estimated (an importance-sampled estimate would be sum w / N).
            row.liquidation_probability =
                row.liquidated_at_start ? 1.0 : summary.modes[m].position_liquidation_probability[j];
            row.liquidation_price = book.liquidation_price(mode, j, start_price);
            out.positions.push_back(std::move(row));
        }
        out.summary = std::move(summary.modes[m]);
    }
    report.p_cross_loss_exceeds_isolated = summary.p_cross_loss_exceeds_isolated;
    report.contagion_probability = summary.contagion_probability;
    report.simulation.overflowed_paths = summary.overflowed_paths;
    if (summary.overflowed_paths != 0) {
        report.warnings.push_back(fmt::format(
            "{} of {} paths overflowed (a notional above {} or a price past the floating-point "
            "range) and are left out of every statistic; they are the most extreme paths, so "
            "the tails may be understated",
            summary.overflowed_paths, summary.paths, max_amount));
    }
    return report;
}

namespace {

// run_report with a precision target: the report of the paths used, as a plain run at those
// paths reports them, and how the target was met. `scenario`'s paths are the maximum.
Report precision_report(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                        const Inspect& inspect, bool inspect_losses, const Engine& engine, int threads,
                        std::chrono::steady_clock::time_point start) {
    const Precision& precision = *options.precision;
    const bool spread = control.ranks != nullptr && control.ranks->size() > 1;
    PrecisionBlocks run =
        spread ? spread_blocks_to_precision(engine, scenario, threads, control, options)
               : run_blocks_to_precision(engine, scenario, threads, control, precision, options.precision_min_paths);
    Scenario used = scenario;  // a stopped run keeps the maximum: its report is partial
    if (!run.stopped) set_paths(used, run.total.paths);
    if (inspect && spread) inspect_over(used, run.total, run.blocks, inspect, inspect_losses, *control.ranks);
    if (inspect && !spread) inspect(used, run.total);
    Report report = finish_run(used, engine, threads, run.total, start, control, precision);
    report.simulation.precision =
        PrecisionOutcome{precision, run.paths_needed.has_value(), run.paths_needed.value_or(0), scenario.simulation.paths};
    if (spread) report.simulation.ranks = control.ranks->size();
    return report;
}

}  // namespace

Report run_report(const Scenario& input, const RunOptions& options, const RunControl& control,
                  const Inspect& inspect, bool inspect_losses) {
    const Scenario scenario = with_options(input, options);
    const int threads = resolve_threads(scenario, options);

    const auto start = std::chrono::steady_clock::now();
    const Engine engine(scenario);
    if (options.precision)
        return precision_report(scenario, options, control, inspect, inspect_losses, engine, threads, start);
    if (control.ranks != nullptr && control.ranks->size() > 1)
        return spread_report(scenario, options, control, inspect, inspect_losses, engine, threads, start);
    BlockStats total = run_blocks(engine, scenario, threads, control);
    if (inspect) inspect(scenario, total);  // before finish_run: its summarize() reorders the samples
    return finish_run(scenario, engine, threads, total, start, control);
}

}  // namespace marginsim::detail
