#pragma once
// A run stopped at a block boundary once some paths completed, with the checkpoint it leaves,
// and its resume: for the tests that a resumed run equals the whole run.

#include <atomic>
#include <cstdint>

#include "marginsim/checkpoint.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::testing {

// The scenario hash the stopped runs put in their checkpoint's key, for tests that read it back.
inline constexpr std::uint64_t stopped_run_scenario_hash = 42;

struct StoppedRun {
    Report report;
    RunCheckpoint checkpoint;
};

inline RunOptions with_threads(int threads) {
    RunOptions options;
    options.threads = threads;
    return options;
}

// Runs (from `resume` when given) with a control that stops the run once `stop_after` paths completed.
inline StoppedRun run_and_stop(const Scenario& scenario, int threads, std::uint64_t stop_after,
                               const RunCheckpoint* resume = nullptr) {
    std::atomic<bool> stop{false};
    StoppedRun out;
    RunControl control;
    control.stop = &stop;
    control.resume = resume;
    control.checkpoint = &out.checkpoint;
    control.scenario_hash = stopped_run_scenario_hash;
    control.on_progress = [&stop, stop_after](const RunProgress& progress) {
        if (progress.paths_done >= stop_after) stop.store(true);
    };
    out.report = simulate(scenario, with_threads(threads), control);
    return out;
}

inline Report resume_from(const Scenario& scenario, int threads, const RunCheckpoint& checkpoint) {
    RunControl control;
    control.resume = &checkpoint;
    return simulate(scenario, with_threads(threads), control);
}

}  // namespace marginsim::testing
