#pragma once
// Sweeps of one scenario parameter on common random numbers. Each block of paths draws its
// random numbers from (seed, block index) only, and the model draws the same standard normals
// z (and chi-square scales) whatever the correlation matrix, volatility or leverage (e = L z):
// every point of a sweep runs on the same random numbers, so the curves are smooth and the
// differences between points are real. A horizon sweep shares the first steps of every path.
//
// Also: the crossover, the value at which cross margin's ES 99% first exceeds isolated's,
// found by bisection on the same paths (on whole steps per day; none between the two
// monitorings, whose crossover is the grid's bracket).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim {

inline constexpr const char* sweep_schema = "marginsim.sweep/1";

enum class SweepParameter {
    correlation,        // the same correlation for every pair of assets
    correlation_blend,  // weight w of (1 - w) C + w T, T = 11ᵀ or a stress matrix
    leverage_scale,     // every position's size times s (margins unchanged)
    volatility_scale,   // every asset's volatility times s
    horizon_days,       // the horizon, at the scenario's steps per day
    steps_per_day,      // the monitoring grid, at the scenario's horizon (integer values)
    monitoring,         // continuous or discrete: the values are Monitoring's, 0 and 1
};
std::string_view to_string(SweepParameter parameter) noexcept;

// The word of a value of a parameter whose values are words ("discrete" for monitoring = 1);
// empty for a numeric parameter.
std::string_view sweep_value_word(SweepParameter parameter, double value) noexcept;

// Values of a sweep: "start:stop:step" (stop included when the steps land on it within
// rounding) or a comma-separated list "0.1,0.5,0.9". Returned ascending and distinct.
// Throws InputError naming `option` (the command-line flag) as its file.
std::vector<double> parse_sweep_values(std::string_view text, std::string_view option);
// Values of a monitoring sweep: a comma-separated list of "continuous" and "discrete", as
// Monitoring values (0, 1), ascending and distinct. Throws InputError naming `option`.
std::vector<double> parse_monitoring_values(std::string_view text, std::string_view option);

struct SweepSpec {
    SweepParameter parameter = SweepParameter::correlation;
    std::vector<double> values;
    // correlation_blend: the matrix blended toward (row-major, assets x assets);
    // empty = perfect co-movement, every entry 1.
    std::vector<double> blend_target;
    std::string blend_target_source;  // the stress matrix's file; empty for 11ᵀ
    // The command-line option that gave the values ("--horizon"): errors about a value name it;
    // empty: they name the parameter ("horizon_days").
    std::string option;
};

// A stress correlation matrix for the scenario's assets from a TOML file holding
// `matrix = [[...]]`, in [[assets]] order, or in the order of an optional
// `symbols = ["BTC", ...]` naming every asset once. Checked as docs/scenario-format.md#correlation
// checks a scenario's matrix: n x n, entries in [-1, 1], unit diagonal, symmetric, positive
// semi-definite. Throws InputError located in that file.
std::vector<double> load_stress_matrix(const std::filesystem::path& path, const Scenario& scenario);

// Checks that every value of the sweep makes a valid scenario (a parameter in its range, a
// positive semi-definite matrix, no position past its tier limits or liquidated at the
// start); throws InputError naming the value.
void check_sweep(const Scenario& scenario, const SweepSpec& spec);
// The scenario at one value of the swept parameter (no checks: see check_sweep).
Scenario scenario_at(const Scenario& base, const SweepSpec& spec, double value);

struct SweepPoint {
    double value = 0.0;
    Report report;
    // Per mode, P(some position that survives in isolated is liquidated in this mode).
    std::array<Proportion, mode_count> contagion{};
};

inline constexpr double crossover_level = 0.99;  // ES level compared

enum class CrossoverOutcome {
    found,                   // ES_99(cross) - ES_99(isolated) changes sign within the range
    cross_above_throughout,  // cross exceeds isolated at every value of the grid
    cross_never_above,       // cross never exceeds isolated at a value of the grid
};
std::string_view to_string(CrossoverOutcome outcome) noexcept;

// The first value of the grid's range where cross margin's ES 99% crosses isolated's.
struct Crossover {
    double value = 0.0;  // midpoint of the final bracket
    double lo = 0.0;     // bracket: the sign of ES_99(cross) - ES_99(isolated) differs at
    double hi = 0.0;     // lo and hi, on the same paths
    // True: cross exceeds isolated above the crossover (at hi); false: below it (at lo).
    bool cross_exceeds_above = true;
    std::array<double, 2> es_cross{};     // at lo, hi
    std::array<double, 2> es_isolated{};  // at lo, hi
    int bisection_steps = 0;
    int grid_sign_changes = 0;  // more than one: the curves cross again later in the range
};

struct SweepOptions {
    // With run.precision, every point runs on the same paths (common random numbers, monotone
    // curves): the most that any value of the grid needs to meet the target (each grid point's
    // report says what it needed); the bisection runs on those paths too.
    RunOptions run;
    int bisection_steps = 8;  // halvings of the grid interval that brackets the crossover
    // Read before each block of each run: once true, the sweep throws RunInterrupted.
    const std::atomic<bool>* stop = nullptr;
    // The MPI ranks that share every run of the sweep (RunControl::ranks); a run with a precision
    // target or importance sampling is not spread: every rank runs it whole.
    const Ranks* ranks = nullptr;
};

struct SweepResult {
    std::string scenario;
    std::vector<std::string> overrides;  // the scenario's --set overrides (Scenario::overrides)
    SweepSpec spec;
    std::uint64_t paths = 0;
    std::uint64_t seed = 0;
    // With a precision target: reached when every value of the grid met it; paths_needed is the
    // most any of them needed (then `paths`).
    std::optional<PrecisionOutcome> precision;
    std::vector<SweepPoint> points;  // one per value, ascending
    CrossoverOutcome crossover_outcome = CrossoverOutcome::cross_never_above;
    std::optional<Crossover> crossover;  // when found
    double elapsed_s = 0.0;
};

// Called before each run: runs done so far, runs planned (grows by the bisection), value.
using SweepProgress = std::function<void(std::size_t done, std::size_t planned, double value)>;

// Runs every point (check_sweep first) and the crossover bisection.
SweepResult run_sweep(const Scenario& scenario, const SweepSpec& spec,
                      const SweepOptions& options = {}, const SweepProgress& progress = {});

// JSON, schema "marginsim.sweep/1": { schema, scenario, overrides (with --set only), parameter,
// simulation (without the swept one of steps_per_day and monitoring; importance_sampling
// among its keys), points: [ { value (a number; a word for monitoring), overflowed_paths, importance (importance-sampled runs: the
// value's own, as a report's simulation.importance), modes: { <mode>: { liquidation_probability:
// {estimate, ci95}, var: {<level>: ..}, es: {<level>: ..}, loss_mean, contagion_probability:
// {estimate, ci95}[, liquidated_at_start: [position indices], only then] } }, comparison } ],
// crossover (null when there is none), crossover_outcome };
// pretty-printed.
std::string to_json(const SweepResult& sweep);
// One row per (value, mode).
std::string to_csv(const SweepResult& sweep);
// A table of the points and a sentence on the crossover.
void write_text(std::ostream& out, const SweepResult& sweep);

}  // namespace marginsim
