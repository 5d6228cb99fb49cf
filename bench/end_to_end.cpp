// marginsim_bench: the whole engine against the limit of its random-number generation, in one
// process and one run, so that the ratios compare figures taken on the same machine state.
//
//   limit   the engine's own RandomStream drawing the same count of standard normals as the
//           engine (paths x steps x assets), with the engine's block structure: stream seeded
//           from (seed, block), blocks spread over a TBB arena of T threads
//   Boost   the same count drawn the stock way, Boost.Random's normal_distribution (a
//           ziggurat) on a mt19937_64 per block, at all threads: the limit the engine would
//           have with Boost's generator (the "measure the Boost.Random choices")
//   sampler the engine's price paths alone (MarketModel: draw, correlate, advance) for every
//           step of every block, at all threads: the engine less its margin book, statistics
//           and report, so that engine / sampler is what the book adds on top of the prices
//   engine  simulate() on the scenario, report included (load_scenario + simulate)
// Each at 1 thread and at all threads, on the seed example and on a 10-asset, 20-position book.
#include <sys/resource.h>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <boost/random/chi_squared_distribution.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "bench_scenarios.hpp"
#include "bench_timing.hpp"
#include "engine/market_model.hpp"
#include "marginsim/simulate.hpp"

using namespace marginsim;

namespace {

struct Options {
    std::string scenario_path = bench::seed_example_path().string();
    std::uint64_t paths = 1000000;
    int steps_per_day = 0;  // 0: as in the scenario
    int threads = 0;        // 0: all cores
    int repeat = 1;
    bool single_thread = true;
    bool large_book = true;
    std::string write_large_book;  // write the large book's TOML here and exit
};

using bench::Timing;
using bench::time_once;

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

// The engine's own generator: one RandomStream per block, as the engine seeds them.
struct OwnNormals {
    RandomStream rng;
    OwnNormals(std::uint64_t seed, std::uint64_t block) : rng(seed, block) {}
    void normals(std::span<double> out) { rng.fill_normals(out); }
    void chi_square(double dof, std::span<double> out) { rng.fill_chi_square(dof, out); }
};

// Boost.Random as it comes: mt19937_64 seeded per block, Boost's normal and chi-square laws.
struct BoostNormals {
    boost::random::mt19937_64 engine;
    boost::random::normal_distribution<double> normal;
    BoostNormals(std::uint64_t seed, std::uint64_t block) : engine(seed * 0x9e3779b97f4a7c15ULL + block) {}
    void normals(std::span<double> out) {
        for (double& z : out) z = normal(engine);
    }
    void chi_square(double dof, std::span<double> out) {
        boost::random::chi_squared_distribution<double> law(dof);
        for (double& w : out) w = law(engine);
    }
};

// Runs every block of a run's paths on a TBB arena of `threads`, as the engine spreads them:
// run_block(workspace, block, paths in it) returns a checksum that keeps its work observable;
// each task makes its own workspace. Returns the checksums' sum.
template <class MakeWorkspace, class RunBlock>
double over_blocks(std::uint64_t paths, int threads, MakeWorkspace&& make_workspace, RunBlock&& run_block) {
    const std::uint64_t blocks = (paths + block_size - 1) / block_size;
    std::vector<double> checksum(blocks);
    tbb::task_arena arena(threads);
    arena.execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<std::uint64_t>(0, blocks, 1),
            [&](const tbb::blocked_range<std::uint64_t>& range) {
                auto workspace = make_workspace();
                for (std::uint64_t b = range.begin(); b != range.end(); ++b)
                    checksum[b] = run_block(workspace, b,
                                            static_cast<std::size_t>(std::min<std::uint64_t>(block_size, paths - b * block_size)));
            },
            tbb::simple_partitioner());
    });
    double total = 0.0;
    for (double c : checksum) total += c;
    return total;
}

// The limit: the normals (and chi-square draws) the engine consumes, nothing else.
template <class Source>
double generate_normals(const Scenario& scenario, int threads) {
    const std::size_t assets = scenario.asset_count();
    const bool student_t = scenario.simulation.model == PriceModel::student_t;
    struct Draws {
        std::vector<double> z, w;
    };
    return over_blocks(
        scenario.simulation.paths, threads,
        [&] { return Draws{std::vector<double>(assets * block_size), std::vector<double>(block_size)}; },
        [&](Draws& draws, std::uint64_t b, std::size_t n) {
            Source source(scenario.simulation.seed, b);
            double sum = 0.0;
            for (int k = 0; k < scenario.simulation.steps; ++k) {
                for (std::size_t i = 0; i < assets; ++i) source.normals({draws.z.data() + i * block_size, n});
                if (student_t) source.chi_square(scenario.simulation.dof, {draws.w.data(), n});
                sum += draws.z[0];
            }
            return sum;
        });
}

// The sampler alone: every block's paths started and stepped to the horizon, as the engine
// does it, with no book (so no early exit once every pool has settled).
double sample_prices(const Scenario& scenario, int threads) {
    const MarketModel model(scenario);
    return over_blocks(
        scenario.simulation.paths, threads, [&] { return PathBlock(model.asset_count(), block_size); },
        [&](PathBlock& paths, std::uint64_t b, std::size_t n) {
            RandomStream rng(scenario.simulation.seed, b);
            model.start(paths, n, rng);
            for (int k = 0; k < scenario.simulation.steps; ++k) model.step(paths, rng);
            return paths.price(0)[0];
        });
}

struct Row {
    std::string what;
    int threads = 0;
    Timing timing;
    double asset_steps = 0.0;
    double paths = 0.0;
    double rss_mib = 0.0;
};

void print_row(const Row& row) {
    const double ns = 1e9 * row.timing.wall_s / row.asset_steps;
    const double utilisation = row.timing.cpu_s / (row.timing.wall_s * row.threads);
    fmt::print("{:<34} {:>2} {:>9.3f} {:>9.2f} {:>12.0f} {:>6.0f}% {:>9.0f}\n", row.what, row.threads,
               row.timing.wall_s, ns, row.paths / row.timing.wall_s, 100.0 * utilisation, row.rss_mib);
    std::fflush(stdout);
}

// The measurements of a case, each taken once per round, the rounds one after another, so
// that a ratio can pair figures taken seconds apart (a shared machine's load comes in bursts
// longer than a round; the fastest of all rounds is the least disturbed figure of each).
enum Measure : std::size_t { limit_one, limit_all, boost_all, sampler_all, engine_one, engine_all, measure_count };

struct CaseResult {
    std::vector<std::array<Timing, measure_count>> rounds;

    Timing best(Measure m) const {
        Timing fastest;
        for (const auto& round : rounds)
            if (round[m].wall_s < fastest.wall_s) fastest = round[m];
        return fastest;
    }
    // The median over the rounds of f(round), and its smallest and largest values.
    template <class F>
    std::array<double, 3> spread(F&& f) const {
        std::vector<double> values;
        for (const auto& round : rounds) values.push_back(f(round));
        std::sort(values.begin(), values.end());
        const std::size_t n = values.size();
        const double median = n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
        return {median, values.front(), values.back()};
    }
};

CaseResult run_case(const std::string& name, const Scenario& scenario, const Options& options, int all_threads) {
    const auto& sim = scenario.simulation;
    const double paths = static_cast<double>(sim.paths);
    const double asset_steps = paths * sim.steps * static_cast<double>(scenario.asset_count());
    double sink = 0.0;
    CaseResult result;
    for (int r = 0; r < options.repeat; ++r) {
        std::array<Timing, measure_count> round{};
        if (options.single_thread)
            round[limit_one] = time_once([&] { sink += generate_normals<OwnNormals>(scenario, 1); });
        round[limit_all] = time_once([&] { sink += generate_normals<OwnNormals>(scenario, all_threads); });
        round[boost_all] = time_once([&] { sink += generate_normals<BoostNormals>(scenario, all_threads); });
        round[sampler_all] = time_once([&] { sink += sample_prices(scenario, all_threads); });
        if (options.single_thread) round[engine_one] = time_once([&] { simulate(scenario, RunOptions{{}, {}, 1}); });
        round[engine_all] = time_once([&] { simulate(scenario, RunOptions{{}, {}, all_threads}); });
        result.rounds.push_back(round);
    }
    if (sink == 42.0) fmt::print("");  // keeps the limit's work observable
    auto row = [&](const std::string& what, int threads, Measure m) {
        print_row(Row{name + " " + what, threads, result.best(m), asset_steps, paths, peak_rss_mib()});
    };
    if (options.single_thread) row("limit (normals)", 1, limit_one);
    row("limit (normals)", all_threads, limit_all);
    row("Boost.Random normals", all_threads, boost_all);
    row("sampler (prices only)", all_threads, sampler_all);
    if (options.single_thread) row("engine", 1, engine_one);
    row("engine", all_threads, engine_all);
    return result;
}

void print_ratio(const std::string& what, double best, const std::array<double, 3>& spread, bool percent) {
    const auto text = [percent](double x) {
        return percent ? fmt::format("{:.1f}%", 100.0 * x) : fmt::format("{:.2f}", x);
    };
    fmt::print("  {:<44} {:>7} (rounds: median {}, {} - {})\n", what, text(best), text(spread[0]), text(spread[1]),
               text(spread[2]));
}

// Each ratio from the fastest run of each measurement, then the median and range of the
// same ratio taken within each round.
void print_ratios(const std::string& name, const CaseResult& r, int all_threads, bool single_thread) {
    fmt::print("{}:\n", name);
    const auto ratio = [](Measure a, Measure b) {
        return [a, b](const std::array<Timing, measure_count>& round) { return round[a].wall_s / round[b].wall_s; };
    };
    print_ratio(fmt::format("engine / limit at {} threads", all_threads),
                r.best(engine_all).wall_s / r.best(limit_all).wall_s, r.spread(ratio(engine_all, limit_all)), false);
    print_ratio(fmt::format("engine / Boost.Random normals at {} threads", all_threads),
                r.best(engine_all).wall_s / r.best(boost_all).wall_s, r.spread(ratio(engine_all, boost_all)), false);
    print_ratio(fmt::format("sampler / limit at {} threads", all_threads),
                r.best(sampler_all).wall_s / r.best(limit_all).wall_s, r.spread(ratio(sampler_all, limit_all)), false);
    print_ratio(fmt::format("engine / sampler at {} threads", all_threads),
                r.best(engine_all).wall_s / r.best(sampler_all).wall_s, r.spread(ratio(engine_all, sampler_all)), false);
    if (!single_thread) return;
    print_ratio("engine / limit at 1 thread", r.best(engine_one).wall_s / r.best(limit_one).wall_s,
                r.spread(ratio(engine_one, limit_one)), false);
    const double t = all_threads;
    print_ratio(fmt::format("parallel efficiency T1 / ({} x T{})", all_threads, all_threads),
                r.best(engine_one).wall_s / (t * r.best(engine_all).wall_s),
                r.spread([t](const std::array<Timing, measure_count>& round) {
                    return round[engine_one].wall_s / (t * round[engine_all].wall_s);
                }),
                true);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"marginsim_bench: the engine against the limit of its random-number generation"};
    app.add_option("--scenario", options.scenario_path, "Scenario of the first case")->check(CLI::ExistingFile);
    app.add_option("--paths", options.paths, "Paths of every case")->check(CLI::PositiveNumber);
    app.add_option("--steps-per-day", options.steps_per_day, "Override steps_per_day (0 = as in the scenario)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--threads", options.threads, "The 'all threads' count (0 = all cores)")->check(CLI::NonNegativeNumber);
    app.add_option("--repeat", options.repeat, "Rounds: each measurement once per round; the fastest is kept")->check(CLI::PositiveNumber);
    app.add_flag("!--no-single-thread", options.single_thread, "Skip the 1-thread runs");
    app.add_flag("!--no-large-book", options.large_book, "Skip the 10-asset, 20-position book");
    app.add_option("--write-large-book", options.write_large_book,
                   "Write the 10-asset, 20-position book as a scenario file and exit");
    CLI11_PARSE(app, argc, argv);
    if (!options.write_large_book.empty()) {
        std::ofstream(options.write_large_book) << bench::large_book_toml(options.paths);
        return 0;
    }

    const int all_threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
    Scenario seed = load_scenario(options.scenario_path);
    set_paths(seed, options.paths);
    if (options.steps_per_day > 0) bench::set_steps_per_day(seed, options.steps_per_day);

    fmt::print("paths {}, steps {} ({} per day), threads 1 and {}, block {} paths, fastest of {} rounds\n",
               seed.simulation.paths, seed.simulation.steps, seed.simulation.steps_per_day, all_threads,
               block_size, options.repeat);
    fmt::print("{:<34} {:>2} {:>9} {:>9} {:>12} {:>7} {:>9}\n", "case", "T", "wall s", "ns/a-step", "paths/s",
               "cpu", "peak MiB");
    const CaseResult seed_result = run_case("seed_example", seed, options, all_threads);
    CaseResult large_result;
    if (options.large_book) {
        Scenario large = bench::large_book(options.paths);
        if (options.steps_per_day > 0) bench::set_steps_per_day(large, options.steps_per_day);
        large_result = run_case("large_book", large, options, all_threads);
    }
    fmt::print("\n");
    print_ratios("seed_example", seed_result, all_threads, options.single_thread);
    if (options.large_book) print_ratios("large_book", large_result, all_threads, options.single_thread);
    fmt::print("peak RSS of the process: {:.0f} MiB\n", peak_rss_mib());
    return 0;
}
