#include "marginsim/run_estimate.hpp"

#include <oneapi/tbb/info.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "marginsim/error.hpp"

namespace marginsim {
namespace {

constexpr double bytes_per_double = 8.0;

// What the run keeps per path and mode until the report: loss (double), drawdown (float),
// time to liquidation (float, liquidated paths only: counted for every path, an upper bound).
constexpr double sample_bytes_per_path_and_mode = 8.0 + 4.0 + 4.0;
// The samples live in their blocks and in the merged copy at once while blocks are merged.
constexpr double sample_copies = 2.0;
// The program itself: code, libraries, the scenario (measured: 12 MiB resident).
constexpr double base_memory_bytes = 16.0 * 1024 * 1024;
// Importance sampling: each path's weight, its copy for the statistics, and while the modes are
// summarized side by side one (value, weight) pair per path and mode.
constexpr double weighted_bytes_per_path = 8.0 + 8.0 + 16.0 * static_cast<double>(mode_count);

// Doubles per path of one block's scratch, per thread: the path block (log price, price,
// normals and jump sizes per asset; chi-square, uniform, shock, regime and jump slot per
// path) and the book state (upnl, maintenance, notional per position; two
// doubles and a step per pool, at most 2 positions + 2 pools over the three modes; loss,
// running minimum, drawdown and funding per mode; one pool's scratch).
double scratch_doubles_per_path(std::size_t assets, std::size_t positions) {
    const auto a = static_cast<double>(assets);
    const auto p = static_cast<double>(positions);
    const double pools = 2.0 * p + 2.0;
    return 4.0 * a + 4.0 + 3.0 * p + 2.5 * pools + 4.0 * mode_count + 4.0;
}

int resolve_threads(int requested) {
    return requested > 0 ? requested : tbb::info::default_concurrency();
}

double physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return 0.0;
    return static_cast<double>(pages) * static_cast<double>(page_size);
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The key whose value is furthest above its default (100000 paths, 7 days, 4 steps a day):
// the one to point at when only the time is over its limit.
struct Blame {
    std::string key;
    SourcePosition at;
};

Blame blame(const Scenario& scenario, const RunOptions& options, bool memory_over) {
    const Simulation& sim = scenario.simulation;
    const Blame paths = options.paths ? Blame{"--paths", {}}
                                      : Blame{"simulation.paths", sim.paths_at};
    if (memory_over) return paths;
    const std::array<std::pair<double, Blame>, 3> ratios{{
        {static_cast<double>(options.paths.value_or(sim.paths)) / 100000.0, paths},
        {sim.horizon_days / 7.0, {"simulation.horizon_days", sim.horizon_days_at}},
        {sim.steps_per_day / 4.0, {"simulation.steps_per_day", sim.steps_per_day_at}},
    }};
    const auto largest = std::max_element(ratios.begin(), ratios.end(), [](const auto& a, const auto& b) {
        return a.first < b.first;
    });
    return largest->second;
}

}  // namespace

RunEstimate estimate_run(const Scenario& scenario, const RunOptions& options,
                         const CostModel& cost) {
    RunEstimate estimate;
    estimate.paths = options.paths.value_or(scenario.simulation.paths);
    estimate.steps = scenario.simulation.steps;
    estimate.assets = scenario.assets.size();
    estimate.positions = scenario.positions.size();
    estimate.threads = resolve_threads(options.threads.value_or(scenario.simulation.threads));
    estimate.parallelism = std::min(estimate.threads, tbb::info::default_concurrency());

    // In doubles throughout: 2^63 paths times anything must not wrap.
    const auto paths = static_cast<double>(estimate.paths);
    const auto assets = static_cast<double>(estimate.assets);
    const auto positions = static_cast<double>(estimate.positions);
    const double monitoring = scenario.simulation.monitoring == Monitoring::continuous ? cost.continuous_factor : 1.0;
    const double path_step_ns =
        (cost.base_ns + cost.per_asset_ns * assets + cost.per_position_ns * positions) * monitoring;
    const double simulate_seconds =
        paths * estimate.steps * path_step_ns * 1e-9 / estimate.parallelism;
    const double sort_seconds = 2.0 * mode_count * paths * std::log2(std::max(paths, 2.0)) *
                                cost.sort_ns_per_element_log2 * 1e-9;
    // A selloff path costs about twice a plain one (docs/performance.md: the tilted paths come
    // near their liquidation prices, where the bridge test is expensive).
    const bool weighted = scenario.simulation.importance_sampling != ImportanceSampling::none;
    estimate.seconds = simulate_seconds * (weighted ? cost.importance_factor : 1.0) + sort_seconds;

    const double blocks_at_once = std::min<double>(
        estimate.threads, std::ceil(paths / static_cast<double>(block_size)));
    const double scratch = blocks_at_once * static_cast<double>(block_size) *
                           scratch_doubles_per_path(estimate.assets, estimate.positions) *
                           bytes_per_double;
    const double samples = sample_copies * paths * mode_count * sample_bytes_per_path_and_mode;
    const double correlation = 2.0 * assets * assets * bytes_per_double;  // matrix and factor
    estimate.memory_bytes =
        base_memory_bytes + samples + scratch + correlation + (weighted ? weighted_bytes_per_path * paths : 0.0);
    return estimate;
}

RunLimits machine_run_limits() {
    RunLimits limits;
    limits.physical_memory_bytes = physical_memory_bytes();
    limits.max_memory_bytes = limits.memory_fraction * limits.physical_memory_bytes;
    return limits;
}

std::string format_duration(double seconds) {
    if (seconds < 60.0) return fmt::format("{:.2g} s", seconds);
    if (seconds < 3600.0) return fmt::format("{:.2g} min", seconds / 60.0);
    if (seconds < 48.0 * 3600.0) return fmt::format("{:.2g} h", seconds / 3600.0);
    const double days = seconds / 86400.0;
    if (days < 730.0) return fmt::format("{:.3g} days", days);
    return fmt::format("{:.3g} years", days / 365.0);
}

std::string format_bytes(double bytes) {
    constexpr std::array<std::string_view, 7> units{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    std::size_t unit = 0;
    while (bytes >= 1024.0 && unit + 1 < units.size()) {
        bytes /= 1024.0;
        ++unit;
    }
    return fmt::format("{:.3g} {}", bytes, units[unit]);
}

std::string describe(const RunEstimate& estimate) {
    return fmt::format("about {} on {} and {} of memory", format_duration(estimate.seconds),
                       plural(static_cast<std::uint64_t>(estimate.parallelism), "thread", "threads"),
                       format_bytes(estimate.memory_bytes));
}

void check_run_size(const Scenario& scenario, const RunOptions& options,
                    const RunLimits& limits, std::uint64_t runs, int ranks) {
    RunOptions share = options;
    const std::uint64_t paths = options.paths.value_or(scenario.simulation.paths);
    if (ranks > 1) share.paths = paths / static_cast<std::uint64_t>(ranks) + (paths % static_cast<std::uint64_t>(ranks) != 0 ? 1 : 0);
    RunEstimate estimate = estimate_run(scenario, share);
    estimate.seconds *= static_cast<double>(std::max<std::uint64_t>(runs, 1));
    const bool time_over = estimate.seconds > limits.max_seconds;
    const bool memory_over =
        limits.max_memory_bytes > 0.0 && estimate.memory_bytes > limits.max_memory_bytes;
    if (!time_over && !memory_over) return;

    std::string over;
    if (time_over) over = format_duration(limits.max_seconds);
    if (memory_over) {
        over += fmt::format("{}{} ({:g}% of the physical memory)", over.empty() ? "" : " and ",
                            format_bytes(limits.max_memory_bytes),
                            limits.memory_fraction * 100.0);
    }
    const Blame at = blame(scenario, options, memory_over);
    throw InputError(
        scenario.source, at.at.line, at.at.column, at.key,
        fmt::format("run too large: {}{}{} paths x {} steps with {} and {} would take {}, more than "
                    "the {} of {}",
                    runs > 1 ? fmt::format("{} runs of ", runs) : std::string(),
                    ranks > 1 ? fmt::format("a share (of {} ranks) of ", ranks) : std::string(), estimate.paths, estimate.steps,
                    plural(estimate.assets, "asset", "assets"),
                    plural(estimate.positions, "position", "positions"),
                    describe(estimate), time_over && memory_over ? "limits" : "limit", over),
        "fewer paths, a shorter horizon or fewer steps per day; or --force to run it anyway");
}

}  // namespace marginsim
