#pragma once
// The block runner shared by simulate() and run_detailed(): every block of a run (or those
// not yet stopped or restored from a checkpoint), merged into one BlockStats whose numbers
// do not depend on the thread count or on stops and resumes.

#include <chrono>
#include <cstdint>

#include "marginsim/accumulators.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::detail {

// The scenario with the options' paths and seed applied.
Scenario with_options(const Scenario& scenario, const RunOptions& options);
int resolve_threads(const Scenario& scenario, const RunOptions& options);

// The completed blocks merged: counts, funding summed in block order, and the per-path
// samples of the completed blocks in block order (not yet summarized). When the control's
// stop flag ended the run early, fills control.checkpoint (when given) with the completed
// blocks, before any sample is reordered; throws RunInterrupted when no block completed.
BlockStats run_blocks(const Engine& engine, const Scenario& scenario, int threads, const RunControl& control);

// The report of a run's merged blocks (summarize() reorders their samples); when the run was
// stopped, fills control.checkpoint's key and the elapsed time of all sessions so far.
Report finish_run(const Scenario& scenario, const Engine& engine, int threads, BlockStats& total,
                  std::chrono::steady_clock::time_point start, const RunControl& control);

// paths, steps, seed, threads, elapsed, model of the run (paths: those requested).
SimulationInfo simulation_info(const Scenario& scenario, int threads, double elapsed_s);

}  // namespace marginsim::detail
