#pragma once
// Runs a scenario: market model -> margin book -> block statistics -> report, over fixed
// blocks of paths run in parallel; results depend only on (scenario, seed, paths), and with a
// precision target only on (scenario, seed, maximum paths, target).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>

#include "marginsim/checkpoint.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// Paths per block: fixed, so that the block seeds and the merge order never depend on
// the thread count.
inline constexpr std::size_t block_size = 1024;

struct RunOptions {
    std::optional<std::uint64_t> paths;  // override [simulation] paths
    std::optional<std::uint64_t> seed;   // override [simulation] seed
    std::optional<int> threads;          // override [simulation] threads; 0 = all cores
    // Stop at the first block (in block order) after which every mode's P(liquidation) 95%
    // interval meets this target; the paths (scenario or override) are then the maximum. The
    // report equals a plain run at the paths used, whatever the thread count.
    std::optional<Precision> precision{};
    // With precision: run on to at least these paths even when the target is met sooner (a
    // sweep's common path count); the report still says when it was met. Not with resume.
    std::uint64_t precision_min_paths = 0;
};

struct RunProgress {
    std::uint64_t paths_done = 0;     // completed paths, those restored from a checkpoint included
    std::uint64_t paths_total = 0;
    std::uint64_t paths_resumed = 0;  // of paths_done, those restored from a checkpoint
    double elapsed_s = 0.0;           // since this session's blocks started
};

// How a caller watches a run, stops it and resumes it. Stopping happens at block
// boundaries: a block that has started always completes.
struct RunControl {
    // Called after each completed block, from the thread that ran it, so possibly from several
    // threads at once: it must be thread-safe and quick (throttle any drawing yourself).
    std::function<void(const RunProgress&)> on_progress;
    // Read before each block: once true, no new block starts and the run returns a report of
    // the completed blocks, marked partial. Async-signal-safe to set when lock-free.
    const std::atomic<bool>* stop = nullptr;
    // Blocks of an earlier, stopped run to restore instead of running them again; its key must
    // be run_checkpoint_key of this run (read_checkpoint checks it).
    const RunCheckpoint* resume = nullptr;
    // When the run stops before its end, receives its completed blocks (resumed ones included).
    RunCheckpoint* checkpoint = nullptr;
    // Identifies the scenario in the checkpoint written: file_hash of its file.
    std::uint64_t scenario_hash = 0;
    // The MPI ranks that share the run (docs/distributed.md), every one calling with the same
    // scenario and options: each runs a contiguous share of the blocks and every rank returns
    // the report of the whole run, the single process's numbers bit for bit. Progress counts
    // this rank's share; resume and checkpoint are read and written on rank 0 alone. Not with a
    // precision target or importance sampling (std::invalid_argument). Null: this process alone.
    const Ranks* ranks = nullptr;
};

// Thrown when a run is stopped before any block completed: there is nothing to report.
class RunInterrupted : public std::runtime_error {
public:
    RunInterrupted() : std::runtime_error("interrupted before the first block of paths completed") {}
};

// Runs the whole scenario with the options applied and returns the report; with a control,
// reports progress, stops when asked (the report is then partial) and resumes a checkpoint.
// The numbers of a completed run never depend on the thread count or on stops and resumes.
Report simulate(const Scenario& scenario, const RunOptions& options = {}, const RunControl& control = {});

// The key a checkpoint of this run carries (the options applied to the scenario).
CheckpointKey run_checkpoint_key(const Scenario& scenario, const RunOptions& options, std::uint64_t scenario_hash);

}  // namespace marginsim
