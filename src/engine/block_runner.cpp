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
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "engine/precision_runner.hpp"

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
    info.jumps = scenario.jumps;
    info.regimes = scenario.regimes;
    for (const Asset& asset : scenario.assets) info.symbols.push_back(asset.symbol);
    info.horizon_days = scenario.simulation.horizon_days;
    info.steps_per_day = scenario.simulation.steps_per_day;
    info.monitoring = scenario.simulation.monitoring;
    info.block_size = block_size;
    return info;
}

namespace {

std::uint64_t paths_in(std::uint64_t block, std::uint64_t paths) {
    return std::min<std::uint64_t>(block_size, paths - block * block_size);
}

}  // namespace

BlockStats stats_of(const CheckpointCounts& counts) {
    BlockStats stats;
    stats.paths = counts.paths;
    stats.cross_loss_exceeds_isolated = counts.cross_loss_exceeds_isolated;
    stats.contagion = counts.contagion;
    stats.overflowed_paths = counts.overflowed_paths;
    for (std::size_t m = 0; m < mode_count; ++m) {
        const CheckpointModeCounts& from = counts.modes[m];
        ModeSample& to = stats.modes[m];
        to.liquidations_by_step = from.liquidations_by_step;
        to.position_liquidations = from.position_liquidations;
        to.liquidated_paths = from.liquidated_paths;
        to.contagion = from.contagion;
    }
    return stats;
}

namespace {

// The blocks of a checkpoint back into the run: marked done, their funding and samples in
// place. Returns their merged counts.
BlockStats restore(const RunCheckpoint& checkpoint, std::uint64_t paths, std::vector<std::uint8_t>& done,
                   std::vector<std::array<double, mode_count>>& funding, RunSamples& samples) {
    if (checkpoint.key.paths != paths || checkpoint.key.block_size != block_size)
        throw std::invalid_argument("simulate: the checkpoint to resume belongs to another run");
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < checkpoint.blocks.size(); ++i) {
        const std::uint64_t b = checkpoint.blocks[i];
        const std::uint64_t n = paths_in(b, paths);
        done[b] = 1;
        funding[b] = checkpoint.funding[i];
        for (std::size_t m = 0; m < mode_count; ++m) {
            const auto from = static_cast<std::ptrdiff_t>(offset);
            const auto count = static_cast<std::ptrdiff_t>(n);
            std::copy(checkpoint.loss[m].begin() + from, checkpoint.loss[m].begin() + from + count,
                      samples.loss(m).begin() + static_cast<std::ptrdiff_t>(b * block_size));
            std::copy(checkpoint.drawdown[m].begin() + from, checkpoint.drawdown[m].begin() + from + count,
                      samples.drawdown(m).begin() + static_cast<std::ptrdiff_t>(b * block_size));
        }
        offset += n;
    }
    return stats_of(checkpoint.counts);
}

// Moves the samples of the done blocks to the front, in block order, and drops the rest.
void keep_done_samples(BlockStats& total, const std::vector<std::uint8_t>& done, std::uint64_t paths) {
    for (ModeSample& mode : total.modes) {
        std::size_t to = 0;
        for (std::uint64_t b = 0; b < done.size(); ++b) {
            if (!done[b]) continue;
            const auto from = static_cast<std::ptrdiff_t>(b * block_size);
            const auto n = static_cast<std::ptrdiff_t>(paths_in(b, paths));
            if (static_cast<std::ptrdiff_t>(to) != from) {  // to < from: a forward copy is safe
                std::copy(mode.loss.begin() + from, mode.loss.begin() + from + n,
                          mode.loss.begin() + static_cast<std::ptrdiff_t>(to));
                std::copy(mode.drawdown.begin() + from, mode.drawdown.begin() + from + n,
                          mode.drawdown.begin() + static_cast<std::ptrdiff_t>(to));
            }
            to += static_cast<std::size_t>(n);
        }
        mode.loss.resize(to);
        mode.drawdown.resize(to);
    }
}

}  // namespace

RunCheckpoint checkpoint_of(const BlockStats& total, const std::vector<std::uint8_t>& done,
                            const std::vector<std::array<double, mode_count>>& funding) {
    RunCheckpoint checkpoint;
    for (std::uint64_t b = 0; b < done.size(); ++b) {
        if (!done[b]) continue;
        checkpoint.blocks.push_back(b);
        checkpoint.funding.push_back(funding[b]);
    }
    checkpoint.counts.paths = total.paths;
    checkpoint.counts.cross_loss_exceeds_isolated = total.cross_loss_exceeds_isolated;
    checkpoint.counts.contagion = total.contagion;
    checkpoint.counts.overflowed_paths = total.overflowed_paths;
    for (std::size_t m = 0; m < mode_count; ++m) {
        const ModeSample& from = total.modes[m];
        CheckpointModeCounts& to = checkpoint.counts.modes[m];
        to.liquidations_by_step = from.liquidations_by_step;
        to.position_liquidations = from.position_liquidations;
        to.liquidated_paths = from.liquidated_paths;
        to.contagion = from.contagion;
        checkpoint.loss[m] = from.loss;
        checkpoint.drawdown[m] = from.drawdown;
    }
    return checkpoint;
}

// The statistics of a whole run. Each block writes its losses and drawdowns into its slice of
// the preallocated samples and adds its counts to its thread's tally (integer counts add in
// any order); the only floating-point sums, funding, are kept per block and added in block
// order. So the blocks may complete in any order, in one session or across a stop and a
// resume, and still give the same numbers. Nothing grows with the path count but the samples.
BlockStats run_blocks(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control) {
    const std::uint64_t paths = scenario.simulation.paths;
    const std::uint64_t seed = scenario.simulation.seed;
    const double balance = scenario.balance;
    // Written so that it cannot wrap for path counts near 2^64.
    const std::uint64_t block_count = paths / block_size + (paths % block_size != 0 ? 1 : 0);
    RunSamples samples(paths);
    std::vector<std::array<double, mode_count>> funding(block_count);
    std::vector<std::uint8_t> done(block_count, 0);  // each entry written by its block's task only
    BlockStats total =
        control.resume ? restore(*control.resume, paths, done, funding, samples) : BlockStats{};
    const std::uint64_t resumed = total.paths;
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
            tbb::blocked_range<std::uint64_t>(0, block_count, 1),
            [&](const tbb::blocked_range<std::uint64_t>& range) {
                Workspace& work = workspaces.local();
                for (std::uint64_t b = range.begin(); b != range.end(); ++b) {
                    if (done[b] != 0) continue;  // restored from the checkpoint
                    if (control.stop != nullptr && control.stop->load(std::memory_order_relaxed)) continue;
                    const auto n = static_cast<std::size_t>(paths_in(b, paths));
                    engine.run_block(seed, b, n, work.paths, work.state);
                    BlockStats block =
                        BlockStats::from_state(work.state, engine.book(), balance, samples, b * block_size);
                    for (std::size_t m = 0; m < mode_count; ++m) {
                        funding[b][m] = block.modes[m].funding_paid;
                        block.modes[m].funding_paid = 0.0;
                    }
                    work.tally.merge(block);
                    done[b] = 1;
                    const std::uint64_t now_done = paths_done.fetch_add(n, std::memory_order_relaxed) + n;
                    if (control.on_progress) {
                        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
                        control.on_progress(RunProgress{now_done, paths, resumed, elapsed.count()});
                    }
                }
            },
            tbb::simple_partitioner());
    });
    for (const Workspace& work : workspaces) total.merge(work.tally);
    total.bin_days = engine.book().tick_days();
    total.ticks_per_step = engine.book().ticks_per_step();
    for (std::uint64_t b = 0; b < block_count; ++b)  // block order: the same sums whatever the thread count
        if (done[b] != 0)
            for (std::size_t m = 0; m < mode_count; ++m) total.modes[m].funding_paid += funding[b][m];
    samples.move_into(total.modes);
    if (total.paths == paths) return total;

    keep_done_samples(total, done, paths);
    if (total.paths == 0) throw RunInterrupted();
    if (control.checkpoint != nullptr) *control.checkpoint = checkpoint_of(total, done, funding);
    return total;
}

Report finish_run(const Scenario& scenario, const Engine& engine, int threads, BlockStats& total,
                  std::chrono::steady_clock::time_point start, const RunControl& control,
                  const std::optional<Precision>& precision) {
    const bool stopped = total.paths < scenario.simulation.paths;
    // At most one thread a core: a larger arena would need run_blocks' global limit (TBB warns).
    Summary summary;
    tbb::task_arena(std::min(threads, tbb::info::default_concurrency())).execute([&] { summary = summarize(total); });
    const std::chrono::duration<double> session = std::chrono::steady_clock::now() - start;
    const double elapsed = session.count() + (control.resume ? control.resume->elapsed_s : 0.0);
    if (stopped && control.checkpoint != nullptr) {
        RunOptions key_options;
        key_options.precision = precision;
        control.checkpoint->key = run_checkpoint_key(scenario, key_options, control.scenario_hash);
        control.checkpoint->elapsed_s = elapsed;
    }
    return make_report(scenario, engine.book(), std::move(summary), simulation_info(scenario, threads, elapsed));
}

Report make_report(const Scenario& scenario, const MarginBook& book, Summary summary,
                   const SimulationInfo& info) {
    Report report;
    report.scenario = scenario.source;
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
            out.collateral_at_risk += pool.start_equity;
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
            row.liquidation_probability = summary.modes[m].position_liquidation_probability[j];
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
                        const std::function<void(const Scenario&, const BlockStats&)>& inspect,
                        const Engine& engine, int threads, std::chrono::steady_clock::time_point start) {
    const Precision& precision = *options.precision;
    PrecisionBlocks run =
        run_blocks_to_precision(engine, scenario, threads, control, precision, options.precision_min_paths);
    Scenario used = scenario;  // a stopped run keeps the maximum: its report is partial
    if (!run.stopped) set_paths(used, run.total.paths);
    if (inspect) inspect(used, run.total);
    Report report = finish_run(used, engine, threads, run.total, start, control, precision);
    report.simulation.precision =
        PrecisionOutcome{precision, run.paths_needed.has_value(), run.paths_needed.value_or(0), scenario.simulation.paths};
    return report;
}

}  // namespace

Report run_report(const Scenario& input, const RunOptions& options, const RunControl& control,
                  const std::function<void(const Scenario&, const BlockStats&)>& inspect) {
    const Scenario scenario = with_options(input, options);
    const int threads = resolve_threads(scenario, options);

    const auto start = std::chrono::steady_clock::now();
    const Engine engine(scenario);
    if (options.precision) return precision_report(scenario, options, control, inspect, engine, threads, start);
    BlockStats total = run_blocks(engine, scenario, threads, control);
    if (inspect) inspect(scenario, total);  // before finish_run: its summarize() reorders the samples
    return finish_run(scenario, engine, threads, total, start, control);
}

}  // namespace marginsim::detail
