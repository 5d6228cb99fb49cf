// marginsim_accuracy_bench: the time the engine takes to reach a stated precision of the cross
// mode's P(liquidation), continuous monitoring at a coarse step against today's discrete
// engine at 288 steps a day (issue 17, item 6), every figure taken in one run on one machine.
//
//   seed example  configs/seed_example.toml: time to a 95% half-width of 0.002 on cross P,
//                 discrete at 288 steps a day (the reference) against continuous at 1, 4 and 24,
//                 and continuous at 1 with importance sampling of a selloff
//                 ([simulation] importance_sampling = "selloff"); the estimates with their
//                 intervals, and the discrete ones at 72 and 288 a day extrapolated in sqrt(dt) to
//                 the continuous limit
//   rare book     the seed example at 3x over 40 days (bench_scenarios.hpp): time to a 10%
//                 relative half-width, continuous at 1 step a day, plainly and with the selloff;
//                 discrete at 288 a day is timed on a few blocks and its time to the target
//                 projected from its throughput
//
// Time to a half-width E = (seconds per path) x (variance per path) x (1.96 / E)^2, the variance
// per path read from the report's own 95% interval (n (half-width / 1.96)^2, p(1 - p) for the
// engine's proportions; for the selloff the weighted sample's own variance), so that an
// estimator with a smaller variance is credited with it.
// Each run has its own seed; a case's estimate and variance pool all its runs, its time per path
// is the median over the rounds, and each ratio is taken within a round (the two figures
// seconds apart), then the median over the rounds.
#include <oneapi/tbb/info.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench_scenarios.hpp"
#include "bench_timing.hpp"
#include "marginsim/simulate.hpp"

using namespace marginsim;

namespace {

constexpr double z95 = 1.959963984540054;
constexpr std::size_t cross = mode_index(MarginMode::cross);

struct Options {
    std::string scenario_path = bench::seed_example_path().string();
    int threads = 0;  // the "all threads" count; 0 = all cores
    int repeat = 3;
    bool quick = false;
    double seed_half_width = 0.002;
    double rare_relative_half_width = 0.10;
    std::string write_rare_book;
};

struct Case {
    std::string name;
    Scenario scenario;
    std::uint64_t paths = 0;  // per run
    bool one_thread = true;   // also run at 1 thread
};

struct Run {
    int threads = 0;
    int round = 0;
    bench::Timing timing;
    double n = 0.0;  // paths in the statistics
    double estimate = 0.0;
    double half_width = 0.0;  // of the report's 95% interval
};

// An estimate pooled over runs: the n-weighted mean and variance per path.
struct Pooled {
    double n = 0.0;
    double estimate = 0.0;
    double variance = 0.0;
    double standard_error() const { return std::sqrt(variance / n); }
};

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct CaseResult {
    const Case* spec = nullptr;
    std::vector<Run> runs;

    Pooled pooled() const {
        Pooled p;
        for (const Run& r : runs) {
            const double variance = r.n * (r.half_width / z95) * (r.half_width / z95);
            p.n += r.n;
            p.estimate += r.n * r.estimate;
            p.variance += r.n * variance;
        }
        p.estimate /= p.n;
        p.variance /= p.n;
        return p;
    }
    // Seconds per path (wall or CPU) of each round at `threads`.
    std::vector<double> seconds_per_path(int threads, bool cpu) const {
        std::vector<double> out;
        for (const Run& r : runs)
            if (r.threads == threads) out.push_back((cpu ? r.timing.cpu_s : r.timing.wall_s) / r.n);
        return out;
    }
};

Run run_once(const Case& c, int threads, int round, std::uint64_t seed) {
    Report report;
    const bench::Timing timing =
        bench::time_once([&] { report = simulate(c.scenario, RunOptions{c.paths, seed, threads}); });
    const Proportion& p = report.modes[cross].summary.liquidation_probability;
    const double n = static_cast<double>(report.simulation.paths - report.simulation.overflowed_paths);
    return Run{threads, round, timing, n, p.estimate, 0.5 * (p.ci95.hi - p.ci95.lo)};
}

// Every case once per round at each of its thread counts, each run with a seed of its own.
std::vector<CaseResult> measure(const std::vector<Case>& cases, const Options& options, int all_threads) {
    std::vector<CaseResult> results(cases.size());
    std::uint64_t next_seed = cases.front().scenario.simulation.seed;
    for (int round = 0; round < options.repeat; ++round) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            results[i].spec = &cases[i];
            if (cases[i].one_thread && all_threads != 1)
                results[i].runs.push_back(run_once(cases[i], 1, round, ++next_seed));
            results[i].runs.push_back(run_once(cases[i], all_threads, round, ++next_seed));
        }
        fmt::print(stderr, "round {} of {} done\n", round + 1, options.repeat);
    }
    return results;
}

// Time to a half-width `target` at `threads` in each round: seconds per path x paths needed.
std::vector<double> times_to_target(const CaseResult& c, const Pooled& law, double target, int threads, bool cpu) {
    std::vector<double> out = c.seconds_per_path(threads, cpu);
    const double paths_needed = law.variance * (z95 / target) * (z95 / target);
    for (double& t : out) t *= paths_needed;
    return out;
}

std::string percent(double p, int digits) { return fmt::format("{:.{}f}%", 100.0 * p, digits); }

std::string interval(const Pooled& p, int digits) {
    const double h = z95 * p.standard_error();
    return fmt::format("{} [{}, {}]", percent(p.estimate, digits), percent(p.estimate - h, digits),
                       percent(p.estimate + h, digits));
}

std::string duration(double seconds) {
    if (seconds < 120.0) return fmt::format("{:.2f} s", seconds);
    if (seconds < 7200.0) return fmt::format("{:.1f} min", seconds / 60.0);
    return fmt::format("{:.1f} h", seconds / 3600.0);
}

void print_header(double target_text_value, bool relative) {
    fmt::print("{:<25} {:>2} {:>10} {:>9} {:>9} {:>33} {:>10} {:>12} {:>11}\n", "case", "T", "paths/run", "us/path",
               "cpu us/p", "cross P, 95% (all runs pooled)", "var/path",
               relative ? fmt::format("paths {:.0f}%", 100 * target_text_value) : "paths to E", "time to E");
}

// One line per (case, thread count): medians over the rounds. `law`: the pooled estimate and
// variance the time to the target uses (the case's own unless it is only timed).
void print_case(const CaseResult& c, const Pooled& law, const Pooled& own, double target, int threads, int digits,
                bool own_estimate) {
    const double paths_needed = law.variance * (z95 / target) * (z95 / target);
    fmt::print("{:<25} {:>2} {:>10} {:>9.2f} {:>9.2f} {:>33} {:>10.3g} {:>12.3g} {:>11}\n", c.spec->name, threads,
               c.spec->paths, 1e6 * median(c.seconds_per_path(threads, false)),
               1e6 * median(c.seconds_per_path(threads, true)),
               own_estimate ? interval(own, digits) : "(timed only)", law.variance, paths_needed,
               duration(median(times_to_target(c, law, target, threads, false))));
}

// Reference time / case time within each round: median (range), wall and CPU.
void print_ratio(const std::string& what, const CaseResult& ref, const Pooled& ref_law, const CaseResult& c,
                 const Pooled& law, double target, int threads) {
    std::string text;
    for (const bool cpu : {false, true}) {
        const std::vector<double> a = times_to_target(ref, ref_law, target, threads, cpu);
        const std::vector<double> b = times_to_target(c, law, target, threads, cpu);
        std::vector<double> ratio;
        for (std::size_t r = 0; r < std::min(a.size(), b.size()); ++r) ratio.push_back(a[r] / b[r]);
        const auto [lo, hi] = std::minmax_element(ratio.begin(), ratio.end());
        text += fmt::format("  {} {:6.1f}x (rounds {:.1f}-{:.1f})", cpu ? "cpu" : "wall", median(ratio), *lo, *hi);
    }
    fmt::print("  {:<44} T={}{}\n", what, threads, text);
}

std::vector<int> thread_counts(const Case& c, int all_threads) {
    if (c.one_thread && all_threads != 1) return {1, all_threads};
    return {all_threads};
}

void report_seed(const std::vector<CaseResult>& r, const Options& options, int all_threads) {
    // r: discrete 288, discrete 72, continuous 1, 4, 24
    const double target = options.seed_half_width;
    fmt::print("\nseed example, cross P(liquidation): time to a 95% half-width E = {}\n", target);
    print_header(target, false);
    for (const CaseResult& c : r)
        for (int t : thread_counts(*c.spec, all_threads)) print_case(c, c.pooled(), c.pooled(), target, t, 2, true);

    const Pooled d288 = r[0].pooled(), d72 = r[1].pooled();
    // p(h) = p0 + c sqrt(h): with h72 = 4 h288, p0 = 2 p288 - p72.
    const Pooled limit{d288.n, 2.0 * d288.estimate - d72.estimate,
                       d288.n * (4.0 * d288.variance / d288.n + d72.variance / d72.n)};
    fmt::print("\n  discrete extrapolated in sqrt(dt) from 72 and 288 a day (2 p288 - p72): {}\n",
               interval(limit, 2));
    for (std::size_t i = 2; i < r.size(); ++i) {
        const Pooled p = r[i].pooled();
        const double se = std::hypot(p.standard_error(), limit.standard_error());
        fmt::print("  {:<25} - extrapolated: {:+.3f} points (z = {:+.2f})\n", r[i].spec->name,
                   100.0 * (p.estimate - limit.estimate), (p.estimate - limit.estimate) / se);
    }
    const double se = std::hypot(d288.standard_error(), limit.standard_error());
    fmt::print("  {:<25} - extrapolated: {:+.3f} points (z = {:+.2f})\n", r[0].spec->name,
               100.0 * (d288.estimate - limit.estimate), (d288.estimate - limit.estimate) / se);

    fmt::print("\n  time to E, reference (discrete 288 a day) / case, same thread count:\n");
    for (std::size_t i = 2; i < r.size(); ++i)
        for (int t : thread_counts(*r[i].spec, all_threads))
            print_ratio("discrete 288/day / " + r[i].spec->name, r[0], d288, r[i], r[i].pooled(), target, t);
    // r[2]: continuous 1/day, r[5]: the same with the selloff
    fmt::print("\n  time to E, plain / selloff, both continuous at 1 step a day:\n");
    for (int t : thread_counts(*r[5].spec, all_threads))
        print_ratio(r[2].spec->name + " / " + r[5].spec->name, r[2], r[2].pooled(), r[5], r[5].pooled(), target, t);
}

void report_rare(const std::vector<CaseResult>& r, const Options& options, int all_threads) {
    // r: continuous 1, discrete 288 (timed only: its variance taken from the continuous
    // estimate), continuous 1 with the selloff (its own estimate and variance)
    const Pooled law = r[0].pooled(), tilted = r[2].pooled();
    const double target = options.rare_relative_half_width * law.estimate;
    fmt::print("\nrare book ({}x leverage, {} days), cross P(liquidation): time to a 95% half-width of {:.0f}% "
               "of it (E = {:.3g})\n",
               bench::rare_book_leverage, bench::rare_book_horizon_days, 100.0 * options.rare_relative_half_width,
               target);
    print_header(options.rare_relative_half_width, true);
    for (int t : thread_counts(*r[0].spec, all_threads)) print_case(r[0], law, law, target, t, 4, true);
    for (int t : thread_counts(*r[1].spec, all_threads)) print_case(r[1], law, law, target, t, 4, false);
    for (int t : thread_counts(*r[2].spec, all_threads)) print_case(r[2], tilted, tilted, target, t, 4, true);
    const double se = std::hypot(law.standard_error(), tilted.standard_error());
    fmt::print("  selloff - plain: {:+.4f} points (z = {:+.2f}); the target E is {:.0f}% of the plain estimate\n",
               100.0 * (tilted.estimate - law.estimate), (tilted.estimate - law.estimate) / se,
               100.0 * options.rare_relative_half_width);
    fmt::print("  (discrete 288 a day: its time per path from {} paths a run, the variance of the continuous\n"
               "   estimate; its own P is a little lower, so it would need somewhat more paths than shown)\n",
               r[1].spec->paths);
    fmt::print("\n  time to E, discrete 288 a day / continuous 1 a day, same thread count:\n");
    for (int t : thread_counts(*r[0].spec, all_threads))
        print_ratio("discrete 288/day / continuous 1/day", r[1], law, r[0], law, target, t);
    fmt::print("\n  time to E, plain / selloff, both continuous at 1 step a day (and discrete 288 / selloff):\n");
    for (int t : thread_counts(*r[2].spec, all_threads)) {
        print_ratio(r[0].spec->name + " / " + r[2].spec->name, r[0], law, r[2], tilted, target, t);
        print_ratio("discrete 288/day / " + r[2].spec->name, r[1], law, r[2], tilted, target, t);
    }
}

// The scenario with [simulation] importance_sampling = "selloff" (bench_scenarios.hpp's edit).
Scenario with_selloff(std::string_view toml, const std::filesystem::path& source, int steps_per_day) {
    const std::string text = bench::with_key(toml, "[simulation]", "importance_sampling", "\"selloff\"");
    return bench::with_simulation(text, source, Monitoring::continuous, steps_per_day);
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"marginsim_accuracy_bench: time to a stated precision of cross P(liquidation), continuous "
                 "monitoring against discrete at 288 steps a day"};
    app.add_option("--scenario", options.scenario_path, "The seed book (its 3x variant is the rare book)")
        ->check(CLI::ExistingFile);
    app.add_option("--threads", options.threads, "The 'all threads' count (0 = all cores); 1 thread is run too")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--repeat", options.repeat, "Rounds; the figures are medians over them")->check(CLI::PositiveNumber);
    app.add_flag("--quick", options.quick, "About a sixth of the paths (a check that it runs, not a measurement)");
    app.add_option("--half-width", options.seed_half_width, "E on the seed book's cross P")->check(CLI::PositiveNumber);
    app.add_option("--relative-half-width", options.rare_relative_half_width, "E / P on the rare book")
        ->check(CLI::PositiveNumber);
    app.add_option("--write-rare-book", options.write_rare_book,
                   "Write the rare book as a scenario file and exit (its tiers resolve from an exchanges "
                   "directory next to it, or --tiers-dir)");
    CLI11_PARSE(app, argc, argv);

    const std::filesystem::path seed_path = options.scenario_path;
    const std::string seed_toml = bench::read_text(seed_path);
    const std::string rare_toml = bench::rare_book_toml(seed_toml);
    if (!options.write_rare_book.empty()) {
        std::ofstream(options.write_rare_book) << rare_toml;
        return 0;
    }
    const int all_threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
    const std::uint64_t scale = options.quick ? 6 : 1;
    const auto seed_case = [&](Monitoring monitoring, int steps_per_day, std::uint64_t paths, bool one_thread) {
        return Case{fmt::format("{} {}/day", to_string(monitoring), steps_per_day),
                    bench::with_simulation(seed_toml, seed_path, monitoring, steps_per_day), paths / scale,
                    one_thread};
    };
    const std::vector<Case> seed_cases{
        seed_case(Monitoring::discrete, 288, 100'000, true), seed_case(Monitoring::discrete, 72, 200'000, false),
        seed_case(Monitoring::continuous, 1, 400'000, true), seed_case(Monitoring::continuous, 4, 200'000, true),
        seed_case(Monitoring::continuous, 24, 100'000, true),
        Case{"continuous 1/day selloff", with_selloff(seed_toml, seed_path, 1), 400'000 / scale, true}};
    const std::vector<Case> rare_cases{
        Case{"continuous 1/day", bench::with_simulation(rare_toml, seed_path, Monitoring::continuous, 1),
             1'000'000 / scale, true},
        Case{"discrete 288/day", bench::with_simulation(rare_toml, seed_path, Monitoring::discrete, 288),
             4 * block_size, true},
        Case{"continuous 1/day selloff", with_selloff(rare_toml, seed_path, 1), 200'000 / scale, true}};

    fmt::print("marginsim_accuracy_bench: {}, threads 1 and {} ({} cores); {}, median of {} rounds\n", cpu_model(),
               all_threads, tbb::info::default_concurrency(), seed_path.filename().string(), options.repeat);
    std::fflush(stdout);
    const bench::Timing total = bench::time_once([&] {
        const std::vector<CaseResult> seed = measure(seed_cases, options, all_threads);
        const std::vector<CaseResult> rare = measure(rare_cases, options, all_threads);
        report_seed(seed, options, all_threads);
        report_rare(rare, options, all_threads);
    });
    fmt::print("\nbench wall time {:.0f} s (CPU {:.0f} s)\n", total.wall_s, total.cpu_s);
    return 0;
}
