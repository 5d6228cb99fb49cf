#include "marginsim/simulate.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "thread_annotations.hpp"

namespace marginsim {

Engine::Engine(const Scenario& scenario) : model_(scenario), book_(scenario) {}

void Engine::run_block(std::uint64_t seed, std::uint64_t block, std::size_t n, PathBlock& paths,
                       BookState& state) const {
    RandomStream rng(seed, block);
    paths.reset(model_.start_log_price(), n);
    state.reset(n);
    for (int step = 1; step <= book_.steps(); ++step) {
        model_.step(paths, rng);
        state.update(paths, step);
        // Once every pool of every mode is closed on every path, nothing can change.
        if (state.all_settled()) break;
    }
}

namespace {

int resolve_threads(int requested) {
    return requested > 0 ? requested : tbb::info::default_concurrency();
}

// The statistics of a whole run. Each block writes its losses and drawdowns into its slice of
// the preallocated samples and adds its counts to its thread's tally (integer counts add in
// any order); the only floating-point sums, funding, are kept per block and added in block
// order. Nothing grows with the path count but the samples, and nothing is copied.
BlockStats run_blocks(const Engine& engine, std::uint64_t paths, std::uint64_t seed, double balance,
                      int threads) {
    // Written so that it cannot wrap for path counts near 2^64.
    const std::uint64_t block_count = paths / block_size + (paths % block_size != 0 ? 1 : 0);
    RunSamples samples(paths);
    std::vector<std::array<double, mode_count>> funding(block_count);
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
    const int fork = 0;
    detail::publish(&fork);
    arena.execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<std::uint64_t>(0, block_count, 1),
            [&](const tbb::blocked_range<std::uint64_t>& range) {
                detail::observe(&fork);
                Workspace& work = workspaces.local();
                PathBlock& block_paths = work.paths;
                BookState& state = work.state;
                BlockStats& tally = work.tally;
                for (std::uint64_t b = range.begin(); b != range.end(); ++b) {
                    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block_size, paths - b * block_size));
                    engine.run_block(seed, b, n, block_paths, state);
                    BlockStats block = BlockStats::from_state(state, engine.book(), balance, samples, b * block_size);
                    for (std::size_t m = 0; m < mode_count; ++m) {
                        funding[b][m] = block.modes[m].funding_paid;
                        block.modes[m].funding_paid = 0.0;
                    }
                    tally.merge(block);
                }
                detail::publish(&tally);
            },
            tbb::simple_partitioner());
    });
    BlockStats total;
    for (const Workspace& work : workspaces) {
        detail::observe(&work.tally);
        total.merge(work.tally);
    }
    for (const auto& block : funding)  // block order: the same sums whatever the thread count
        for (std::size_t m = 0; m < mode_count; ++m) total.modes[m].funding_paid += block[m];
    samples.move_into(total.modes);
    return total;
}

}  // namespace

Report simulate(const Scenario& input, const RunOptions& options) {
    Scenario scenario = input;
    if (options.paths) set_paths(scenario, *options.paths);
    if (options.seed) scenario.simulation.seed = *options.seed;
    const int threads = resolve_threads(options.threads.value_or(scenario.simulation.threads));

    const auto start = std::chrono::steady_clock::now();
    const Engine engine(scenario);
    BlockStats total =
        run_blocks(engine, scenario.simulation.paths, scenario.simulation.seed, scenario.balance, threads);
    Summary summary = summarize(total);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

    SimulationInfo info;
    info.paths = scenario.simulation.paths;
    info.steps = scenario.simulation.steps;
    info.seed = scenario.simulation.seed;
    info.threads = threads;
    info.elapsed_s = elapsed.count();
    info.model = scenario.simulation.model;
    info.dof = scenario.simulation.dof;
    info.horizon_days = scenario.simulation.horizon_days;
    info.steps_per_day = scenario.simulation.steps_per_day;
    info.block_size = block_size;
    return make_report(scenario, engine.book(), std::move(summary), info);
}

Report make_report(const Scenario& scenario, const MarginBook& book, Summary summary,
                   const SimulationInfo& info) {
    Report report;
    report.scenario = scenario.source;
    report.simulation = info;
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

}  // namespace marginsim
