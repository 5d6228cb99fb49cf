#include "marginsim/detailed_run.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <utility>

#include "thread_annotations.hpp"

namespace marginsim {
namespace {

// What one block adds to the details of each mode.
struct BlockDetail {
    std::array<std::vector<float>, mode_count> loss;
    std::array<std::vector<std::int32_t>, mode_count> first_liquidation_step;  // liquidated paths
    std::array<std::uint64_t, mode_count> contagion{};
};

bool has_contagion(const BookState& state, std::size_t positions, MarginMode mode, std::size_t p) {
    for (std::size_t j = 0; j < positions; ++j) {
        if (state.liquidation_step(MarginMode::isolated, j, p) == 0 &&
            state.liquidation_step(mode, j, p) != 0) {
            return true;
        }
    }
    return false;
}

BlockDetail detail_of(const BookState& state, const MarginBook& book) {
    BlockDetail detail;
    const std::size_t n = state.size();
    for (MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        detail.loss[m].reserve(n);
        for (std::size_t p = 0; p < n; ++p) {
            if (state.overflowed(p)) continue;  // left out, as in the statistics
            detail.loss[m].push_back(static_cast<float>(state.loss(mode, p)));
            const int first = state.first_liquidation_step(mode, p);
            if (first != 0) detail.first_liquidation_step[m].push_back(first);
            if (has_contagion(state, book.position_count(), mode, p)) ++detail.contagion[m];
        }
    }
    return detail;
}

struct BlockOutcome {
    BlockStats stats;
    BlockDetail detail;
};

int resolve_threads(int requested) {
    return requested > 0 ? requested : tbb::info::default_concurrency();
}

// The block runner of simulate(), keeping each block's details next to its statistics.
std::vector<BlockOutcome> run_blocks(const Engine& engine, std::uint64_t paths, std::uint64_t seed,
                                     double balance, int threads) {
    const std::uint64_t block_count = paths / block_size + (paths % block_size != 0 ? 1 : 0);
    std::vector<BlockOutcome> per_block(block_count);
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
                PathBlock block_paths(engine.model().asset_count(), block_size);
                BookState state(engine.book(), block_size);
                for (std::uint64_t b = range.begin(); b != range.end(); ++b) {
                    const auto n = static_cast<std::size_t>(
                        std::min<std::uint64_t>(block_size, paths - b * block_size));
                    engine.run_block(seed, b, n, block_paths, state);
                    per_block[b].stats = BlockStats::from_state(state, engine.book(), balance);
                    per_block[b].detail = detail_of(state, engine.book());
                    detail::publish(&per_block[b]);
                }
            },
            tbb::simple_partitioner());
    });
    for (const BlockOutcome& block : per_block) detail::observe(&block);
    return per_block;
}

ModeDetail merge_details(std::vector<BlockOutcome>& per_block, std::size_t m, int steps,
                         std::uint64_t paths) {
    ModeDetail out;
    out.sorted_loss.reserve(paths);
    out.liquidated_by_step.assign(static_cast<std::size_t>(steps) + 1, 0);
    std::uint64_t contagion = 0;
    for (BlockOutcome& block : per_block) {
        std::vector<float>& loss = block.detail.loss[m];
        out.sorted_loss.insert(out.sorted_loss.end(), loss.begin(), loss.end());
        std::vector<float>().swap(loss);
        for (const std::int32_t step : block.detail.first_liquidation_step[m]) {
            assert(step >= 1 && step <= steps);
            ++out.liquidated_by_step[static_cast<std::size_t>(step)];
        }
        contagion += block.detail.contagion[m];
    }
    std::sort(out.sorted_loss.begin(), out.sorted_loss.end());
    for (std::size_t k = 1; k < out.liquidated_by_step.size(); ++k)
        out.liquidated_by_step[k] += out.liquidated_by_step[k - 1];
    out.contagion = wilson_proportion(contagion, paths);
    return out;
}

}  // namespace

DetailedRun run_detailed(const Scenario& input, const RunOptions& options) {
    Scenario scenario = input;
    if (options.paths) set_paths(scenario, *options.paths);
    if (options.seed) scenario.simulation.seed = *options.seed;
    const int threads = resolve_threads(options.threads.value_or(scenario.simulation.threads));
    const std::uint64_t paths = scenario.simulation.paths;

    const auto start = std::chrono::steady_clock::now();
    const Engine engine(scenario);
    std::vector<BlockOutcome> per_block =
        run_blocks(engine, paths, scenario.simulation.seed, scenario.balance, threads);
    BlockStats total;
    for (BlockOutcome& block : per_block) {
        total.merge(block.stats);
        block.stats = BlockStats{};
    }
    Summary summary = summarize(total);
    DetailedRun run;
    for (std::size_t m = 0; m < mode_count; ++m)
        run.modes[m] = merge_details(per_block, m, scenario.simulation.steps, paths - summary.overflowed_paths);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

    SimulationInfo info;
    info.paths = paths;
    info.steps = scenario.simulation.steps;
    info.seed = scenario.simulation.seed;
    info.threads = threads;
    info.elapsed_s = elapsed.count();
    info.model = scenario.simulation.model;
    info.dof = scenario.simulation.dof;
    info.horizon_days = scenario.simulation.horizon_days;
    info.steps_per_day = scenario.simulation.steps_per_day;
    info.block_size = block_size;
    run.report = make_report(scenario, engine.book(), std::move(summary), info);
    return run;
}

std::vector<double> liquidation_probability_by_step(const ModeDetail& detail, std::uint64_t paths) {
    std::vector<double> out;
    out.reserve(detail.liquidated_by_step.size());
    for (const std::uint64_t hits : detail.liquidated_by_step)
        out.push_back(static_cast<double>(hits) / static_cast<double>(paths));
    return out;
}

}  // namespace marginsim
