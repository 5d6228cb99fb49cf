#pragma once
// simulate() plus what the charts and the sweep need beyond the summary numbers: every
// path's loss, when each path was first liquidated, and per mode the contagion from isolated.
// It runs simulate()'s own block runner and derives the details from the merged statistics
// before they are summarized, so its Report is identical to simulate()'s for the same
// scenario, seed and paths.

#include <array>
#include <cstdint>
#include <vector>

#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/summary.hpp"

namespace marginsim {

struct ModeDetail {
    // Every path's loss in quote currency, ascending (floats: for charts, not for statistics).
    std::vector<float> sorted_loss;
    // [k] = paths whose first liquidation happened at a step <= k, for k = 0..steps:
    // P(liquidation by day k * dt_days) = liquidated_by_step[k] / paths.
    std::vector<std::uint64_t> liquidated_by_step;
    // Importance-sampled runs (docs/model.md#importance-sampling); empty for plain runs: the
    // likelihood ratio of each path of sorted_loss, and liquidated_by_step's weights, so that
    // P(liquidation by day k * dt_days) = liquidated_weight_by_step[k] / paths.
    std::vector<float> sorted_weight;
    std::vector<double> liquidated_weight_by_step;
    // P(some position that survives the horizon in isolated is liquidated in this mode):
    // the contagion_probability of docs/model.md#comparison-of-cross-and-isolated for cross, 0 for
    // isolated itself.
    Proportion contagion;
};

struct DetailedRun {
    Report report;
    std::array<ModeDetail, mode_count> modes;
};

// What run_detailed derives beyond the report: everything, or the counts only (sorted_loss and
// sorted_weight left empty: no sort of the losses, and over MPI ranks no loss leaves its rank;
// over ranks, `every_loss` gathers every path's loss to rank 0, 8 bytes a path and mode).
enum class Details { every_loss, counts };

// Runs the whole scenario with the options applied, as simulate() does (the same control:
// progress, stop, resume; a stopped run's details cover its completed paths). Over MPI ranks
// (RunControl::ranks) every rank gets the counts and rank 0 alone the sorted losses.
DetailedRun run_detailed(const Scenario& scenario, const RunOptions& options = {}, const RunControl& control = {},
                         Details details = Details::every_loss);

// simulate() plus every path's loss per mode, for callers that compute their own statistics
// (the Python module's Result.losses): in path order, doubles as the statistics use them, NaN for
// a path left out as overflowed; with the likelihood ratios of an importance-sampled run (else
// empty). Its Report is simulate()'s for the same scenario, seed and paths.
struct RunWithLosses {
    Report report;
    std::array<std::vector<double>, mode_count> losses;
    std::vector<double> weights;
};
RunWithLosses run_with_losses(const Scenario& scenario, const RunOptions& options = {},
                              const RunControl& control = {});

// Probability of a first liquidation by each monitoring step (k = 0..steps) of a mode (the
// weighted estimate for importance-sampled runs).
std::vector<double> liquidation_probability_by_step(const ModeDetail& detail, std::uint64_t paths);

}  // namespace marginsim
