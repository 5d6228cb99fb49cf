// Micro-benchmarks of the hot path, one stage at a time: the random numbers, the sampler
// step, the margin-book update, the accumulators. Rates are per asset-step, per path-step
// or per path ("items" in Google Benchmark's output: ns per item = 1e9 / items_per_second).
#include <benchmark/benchmark.h>

#include <boost/random/lagged_fibonacci.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/taus88.hpp>
#include <boost/random/ranlux.hpp>

#include <random>
#include <vector>

#include "bench_scenarios.hpp"
#include "engine/block_stats.hpp"
#include "engine/engine.hpp"
#include "engine/margin_book.hpp"
#include "engine/market_model.hpp"
#include "engine/rng.hpp"
#include "marginsim/simulate.hpp"

using namespace marginsim;

namespace {

constexpr std::size_t n_paths = block_size;

const Scenario& seed_example() {
    static const Scenario scenario = load_scenario(bench::seed_example_path());
    return scenario;
}
const Scenario& large() {
    static const Scenario scenario = bench::large_book(100000);
    return scenario;
}
const Scenario& scenario_of(const benchmark::State& state) {
    return state.range(0) == 0 ? seed_example() : large();
}
const char* name_of(const benchmark::State& state) {
    return state.range(0) == 0 ? "seed_example" : "large_book";
}

// --- Random numbers: Boost.Random engines under Boost's ziggurat normal, and the engine's own.

template <class Engine>
void BM_normals(benchmark::State& state) {
    Engine engine(42u);
    boost::random::normal_distribution<double> normal;
    std::vector<double> out(n_paths);
    for (auto _ : state) {
        for (double& z : out) z = normal(engine);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths));
}
BENCHMARK_TEMPLATE(BM_normals, boost::random::mt19937);
BENCHMARK_TEMPLATE(BM_normals, boost::random::mt19937_64);
BENCHMARK_TEMPLATE(BM_normals, boost::random::lagged_fibonacci607);
BENCHMARK_TEMPLATE(BM_normals, boost::random::taus88);
BENCHMARK_TEMPLATE(BM_normals, boost::random::ranlux64_3);
BENCHMARK_TEMPLATE(BM_normals, std::mt19937_64);
BENCHMARK_TEMPLATE(BM_normals, detail::Xoshiro256pp);

// The scalar form of the engine's ziggurat (rng.hpp: 512 layers, batched, used by the engine
// for its rare slow path) on a Boost engine and on xoshiro256++; the engine's own SIMD form
// is BM_random_stream_normals.
template <class Engine>
void BM_ziggurat_fill(benchmark::State& state) {
    Engine engine(42u);
    std::vector<double> out(n_paths);
    for (auto _ : state) {
        detail::ZigguratNormal::fill(engine, out.data(), out.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths));
}
BENCHMARK_TEMPLATE(BM_ziggurat_fill, boost::random::mt19937_64);
BENCHMARK_TEMPLATE(BM_ziggurat_fill, detail::Xoshiro256pp);

void BM_random_stream_normals(benchmark::State& state) {
    RandomStream rng(42, 0);
    std::vector<double> out(n_paths);
    for (auto _ : state) {
        rng.fill_normals(out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths));
}
BENCHMARK(BM_random_stream_normals);

// --- The sampler: draw + advance of a block, per asset-step.

void BM_sampler_step(benchmark::State& state) {
    const Scenario& scenario = scenario_of(state);
    const MarketModel model(scenario);
    PathBlock paths(model.asset_count(), n_paths);
    RandomStream rng(42, 0);
    std::int64_t steps = 0;
    for (auto _ : state) {
        // Restart now and then so that prices stay in a realistic range.
        if (steps % scenario.simulation.steps == 0) paths.reset(model.start_log_price(), n_paths);
        model.step(paths, rng);
        ++steps;
        benchmark::ClobberMemory();
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(steps * static_cast<std::int64_t>(n_paths * model.asset_count()));
}
BENCHMARK(BM_sampler_step)->Arg(0)->Arg(1);

// Only the arithmetic of a step (correlation, drift, exp), on normals already drawn.
void BM_sampler_advance(benchmark::State& state) {
    const Scenario& scenario = scenario_of(state);
    const MarketModel model(scenario);
    PathBlock paths(model.asset_count(), n_paths);
    paths.reset(model.start_log_price(), n_paths);
    RandomStream rng(42, 0);
    std::vector<double> z(model.asset_count() * n_paths);
    rng.fill_normals(z);
    std::int64_t steps = 0;
    for (auto _ : state) {
        // Antithetic: the same normals with alternating signs keep the prices in range.
        const double sign = steps % 2 == 0 ? 1.0 : -1.0;
        for (std::size_t i = 0; i < model.asset_count(); ++i)
            for (std::size_t p = 0; p < n_paths; ++p) paths.normals(i)[p] = sign * z[i * n_paths + p];
        model.advance(paths);
        ++steps;
        benchmark::ClobberMemory();
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(steps * static_cast<std::int64_t>(n_paths * model.asset_count()));
}
BENCHMARK(BM_sampler_advance)->Arg(0)->Arg(1);

// --- The margin book: one update of every mode, per path-step, on recorded prices.

// The first steps of a block's paths, cycled: few enough to stay in cache, as the prices of
// the step being booked are in the engine (all 168 steps would measure memory instead).
constexpr int recorded_steps = 12;

std::vector<PathBlock> record_prices(const Scenario& scenario) {
    const MarketModel model(scenario);
    std::vector<PathBlock> out;
    PathBlock paths(model.asset_count(), n_paths);
    paths.reset(model.start_log_price(), n_paths);
    RandomStream rng(scenario.simulation.seed, 0);
    for (int k = 0; k < recorded_steps; ++k) {
        model.step(paths, rng);
        out.push_back(paths);
    }
    return out;
}

void BM_book_update(benchmark::State& state) {
    const Scenario& scenario = scenario_of(state);
    const MarginBook book(scenario);
    const std::vector<PathBlock> prices = record_prices(scenario);
    BookState book_state(book, n_paths);
    const int steps = scenario.simulation.steps;
    std::int64_t done = 0;
    for (auto _ : state) {
        const int k = static_cast<int>(done % steps);
        if (k == 0) book_state.reset(n_paths);
        book_state.update(prices[static_cast<std::size_t>(k % recorded_steps)], k + 1);
        ++done;
        benchmark::ClobberMemory();
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(done * static_cast<std::int64_t>(n_paths));
}
BENCHMARK(BM_book_update)->Arg(0)->Arg(1);

// --- A whole block through the engine, per path-step.

// A scenario's engine with the path block and book state of one block, as simulate() holds them.
struct EngineBlock {
    const Scenario& scenario;
    const Engine engine;
    PathBlock paths;
    BookState book_state;

    explicit EngineBlock(const Scenario& s)
        : scenario(s), engine(s), paths(s.asset_count(), n_paths), book_state(engine.book(), n_paths) {}
    void run(std::uint64_t block) {
        engine.run_block(scenario.simulation.seed, block, n_paths, paths, book_state);
    }
    BlockStats stats() const { return BlockStats::from_state(book_state, engine.book(), scenario.balance); }
};

void BM_run_block(benchmark::State& state) {
    EngineBlock run(scenario_of(state));
    std::uint64_t block = 0;
    for (auto _ : state) {
        run.run(block++);
        benchmark::ClobberMemory();
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths) *
                            run.scenario.simulation.steps);
}
BENCHMARK(BM_run_block)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// --- The accumulators, per path.

void BM_accumulate_from_state(benchmark::State& state) {
    EngineBlock run(scenario_of(state));
    run.run(0);
    for (auto _ : state) {
        BlockStats stats = run.stats();
        benchmark::DoNotOptimize(stats);
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths));
}
BENCHMARK(BM_accumulate_from_state)->Arg(0)->Arg(1);

// As simulate() reads a block: losses and drawdowns into the run's preallocated samples.
void BM_accumulate_from_state_into_samples(benchmark::State& state) {
    EngineBlock run(scenario_of(state));
    run.run(0);
    RunSamples samples(n_paths);
    for (auto _ : state) {
        BlockStats stats =
            BlockStats::from_state(run.book_state, run.engine.book(), run.scenario.balance, {}, samples, 0);
        benchmark::DoNotOptimize(stats);
    }
    state.SetLabel(name_of(state));
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n_paths));
}
BENCHMARK(BM_accumulate_from_state_into_samples)->Arg(0)->Arg(1);

// Merging the blocks of a run of 256 blocks, then summarizing it.
std::vector<BlockStats> finished_blocks(const Scenario& scenario, std::size_t count) {
    EngineBlock run(scenario);
    std::vector<BlockStats> out;
    for (std::size_t b = 0; b < count; ++b) {
        run.run(b);
        out.push_back(run.stats());
    }
    return out;
}

constexpr std::size_t merged_blocks = 256;

void BM_accumulate_merge(benchmark::State& state) {
    const std::vector<BlockStats> blocks = finished_blocks(seed_example(), merged_blocks);
    for (auto _ : state) {
        BlockStats total;
        for (const BlockStats& b : blocks) total.merge(b);
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(merged_blocks * n_paths));
}
BENCHMARK(BM_accumulate_merge)->Unit(benchmark::kMicrosecond);

void BM_accumulate_summarize(benchmark::State& state) {
    const std::vector<BlockStats> blocks = finished_blocks(seed_example(), merged_blocks);
    BlockStats total;
    for (const BlockStats& b : blocks) total.merge(b);
    for (auto _ : state) {
        state.PauseTiming();
        BlockStats copy = total;
        state.ResumeTiming();
        Summary summary = summarize(copy);
        benchmark::DoNotOptimize(summary);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(merged_blocks * n_paths));
}
BENCHMARK(BM_accumulate_summarize)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
