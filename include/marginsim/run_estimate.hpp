#pragma once
// What a run will cost, estimated before it starts: its wall time on this machine and its
// peak memory. A run beyond the limits (an hour, or 75% of the physical memory) is refused
// unless forced, with the estimate in the message, instead of running for days or being
// killed by the kernel after it has eaten the machine.

#include <cstddef>
#include <cstdint>
#include <string>

#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim {

// Cost model of the engine, one core, Release build (-O3, g++ 12). The time of a path-step
// is base + per_asset * assets + per_position * positions, fitted by least squares on the
// user CPU time of `marginsim run --threads 1` over 40,000 paths x 168 steps (discrete
// monitoring; continuous_factor below for continuous) of synthetic
// books of 1 to 40 assets and 1 to 40 positions (commit d81fbd8, best of 3 runs each; within
// 20% of every point, within 3% from 10 assets or positions up). Check: configs/seed_example.toml
// (100,000 paths x 168 steps, 3 assets, 3 positions) takes 0.30 s of CPU, 18 ns per
// path-step; the model says 20. Re-measure when the hot loop changes (test_bad_inputs checks
// the model against a real run within a factor of 3): it is meant to tell an hour from a
// minute, not to the second. The jump and regime models cost about the same (seed example
// under each, configs/seed_example_{jump,regime}.toml, on commit a4acac4: 0.21 s gaussian,
// 0.25 s jump, 0.28 s regime of user CPU, best of 3), so the model is not a term.
struct CostModel {
    double base_ns = 2.0;
    double per_asset_ns = 4.0;
    double per_position_ns = 2.0;
    // Continuous monitoring's bridges multiply a path-step's cost (measured: 2.3 on the seed
    // book at 4 steps a day, 1 thread).
    double continuous_factor = 2.5;
    // importance_sampling = "selloff" multiplies it again (measured: 1.9 on the seed book and
    // 1.4 on the rare book at 1 step a day, 1 thread).
    double importance_factor = 2.0;
    // std::sort of the loss and drawdown samples of each mode after the run (serial).
    double sort_ns_per_element_log2 = 3.5;
};

struct RunEstimate {
    std::uint64_t paths = 0;
    int steps = 0;
    std::size_t assets = 0;
    std::size_t positions = 0;
    int threads = 0;      // as the run resolves them (0 = all cores)
    int parallelism = 0;  // threads working at once: min(threads, cores)
    double seconds = 0.0;       // wall time
    double memory_bytes = 0.0;  // peak resident memory
};

struct RunLimits {
    double max_seconds = 3600.0;
    double max_memory_bytes = 0.0;       // <= 0: no memory limit
    double physical_memory_bytes = 0.0;  // 0 when unknown
    double memory_fraction = 0.75;       // of the physical memory, for the message
};

// The run of `scenario` with `options` applied (paths and threads overrides).
RunEstimate estimate_run(const Scenario& scenario, const RunOptions& options = {},
                         const CostModel& cost = {});

// One hour, and 75% of this machine's physical memory.
RunLimits machine_run_limits();

// "about 2.4 s on 2 threads and 38 MiB of memory".
std::string describe(const RunEstimate& estimate);
// "2.4 s", "35 min", "6.4 h", "13.2 days", "1.5e+04 years".
std::string format_duration(double seconds);
// "512 B", "38 MiB", "17.7 GiB" (binary units, 3 significant digits).
std::string format_bytes(double bytes);

// Throws InputError when the run would exceed a limit: the message gives the estimated time
// and memory and points at the key that sizes the run most (paths, horizon_days or
// steps_per_day; "--paths" when the override set the path count).
// `runs`: how many runs of this size the command makes (a sweep: one per point and per
// bisection step); the time limit applies to all of them together.
// `ranks`: the MPI processes that share each run (docs/distributed.md), each on a machine like
// this one: the limits apply to one rank's share of the paths.
void check_run_size(const Scenario& scenario, const RunOptions& options,
                    const RunLimits& limits = machine_run_limits(), std::uint64_t runs = 1, int ranks = 1);

}  // namespace marginsim
