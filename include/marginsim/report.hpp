#pragma once
// The report of a run (docs/model.md#report) and its renderings: JSON, a text table, CSV.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "marginsim/summary.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

inline constexpr const char* report_schema = "marginsim.report/1";

struct PositionReport {
    std::string symbol;
    Side side = Side::long_side;
    MarginMode position_mode = MarginMode::cross;  // its configured mode
    double margin = 0.0;
    double notional = 0.0;
    double entry_price = 0.0;
    double liquidation_probability = 0.0;
    std::optional<double> liquidation_price;
    // Its pool in this mode starts at or below its maintenance margin: liquidated at time 0 on
    // every path (docs/model.md#books-that-start-liquidated).
    bool liquidated_at_start = false;
};

struct ModeReport {
    MarginMode mode = MarginMode::isolated;
    double cross_wallet = 0.0;        // 0 when the mode has no cross pool
    double collateral_at_risk = 0.0;  // most the mode can lose: the collateral of its pools
    ModeSummary summary;
    std::vector<PositionReport> positions;
    // Some position of the mode is liquidated at time 0 (PositionReport::liquidated_at_start).
    bool starts_liquidated() const noexcept;
};

// How a run with a precision target (--precision) ended.
struct PrecisionOutcome {
    Precision target;
    bool reached = false;            // every mode's interval met it within the maximum paths
    std::uint64_t paths_needed = 0;  // the paths after which it was first met (0: not reached)
    std::uint64_t paths_max = 0;     // the maximum: [simulation] paths or --paths
};

// One selloff an importance-sampled run tilts towards: the drift along the direction that
// lowers the cross account's surplus fastest which brings the mean path to `modes`' first
// liquidation at the horizon.
struct ImportanceTarget {
    std::vector<MarginMode> modes;
    double shift_sd = 0.0;                   // the drift's size over the horizon, in sd
    std::vector<double> selloff_log_return;  // per asset (`symbols` order), the mean path's at the horizon
};

// How an importance-sampled run drew its paths (docs/model.md#importance-sampling).
struct ImportanceInfo {
    // The deepest target's (the market-wide selloff; 0 and the plain mean when no market-wide
    // move of up to 12 sd liquidates a mode rarely: the run was then sampled plainly).
    std::vector<double> selloff_log_return;
    double shift_sd = 0.0;
    std::vector<ImportanceTarget> targets;  // every tilt component, shallowest first
    double tilted_fraction = 0.0;  // of the paths, drawn under the tilts (in equal shares)
    // (sum w)^2 / sum w^2 over the reported paths, w the likelihood ratios: as many plain paths
    // would give about the same precision to a statistic of the whole distribution.
    double effective_paths = 0.0;
};

struct SimulationInfo {
    std::uint64_t paths = 0;
    int steps = 0;
    std::uint64_t seed = 0;
    int threads = 0;  // per rank
    int ranks = 1;    // MPI processes that shared the run (docs/distributed.md)
    double elapsed_s = 0.0;
    PriceModel model = PriceModel::gaussian;
    double dof = 0.0;
    bool has_jumps = false;            // [jumps] on top of the model (Simulation::jumps)
    Jumps jumps;                       // has_jumps only
    Regimes regimes;                   // model regime
    Garch garch;                       // model garch
    Fhs fhs;                           // model fhs
    ParameterUncertainty uncertainty;  // [uncertainty]: volatilities drawn per path
    std::vector<std::string> symbols;  // the assets, in the order of the per-asset parameters
    double horizon_days = 0.0;
    int steps_per_day = 0;
    Monitoring monitoring = Monitoring::continuous;
    ImportanceSampling importance_sampling = ImportanceSampling::none;
    std::optional<ImportanceInfo> importance;  // importance_sampling selloff only
    std::uint64_t block_size = 0;
    // Paths on which a notional passed max_amount or a price overflowed: left out of every
    // statistic of the report, which is over paths - overflowed_paths.
    std::uint64_t overflowed_paths = 0;
    // A run with a precision target: how it ended (`paths` are those used).
    std::optional<PrecisionOutcome> precision;
};

struct Report {
    std::string scenario;  // source file
    std::vector<std::string> overrides;  // "KEY=VALUE" of each --set applied to it (Scenario::overrides)
    // A run stopped before its end reports the paths it completed: simulation.paths ==
    // paths_done < paths_requested. Complete: partial false, the three counts equal.
    bool partial = false;
    std::uint64_t paths_done = 0;
    std::uint64_t paths_requested = 0;
    SimulationInfo simulation;
    double balance = 0.0;
    LiquidationPolicy policy = LiquidationPolicy::full;
    double fee_rate = 0.0;
    std::array<ModeReport, 3> modes;
    Proportion p_cross_loss_exceeds_isolated;
    Proportion contagion_probability;
    std::vector<std::string> warnings;
};

// The model's parameters in a few words for headers ("market-wide jumps 4/yr, ..."); empty for
// the gaussian and student_t models.
std::string model_parameters(const SimulationInfo& info);

// With a precision target: how it ended, in a sentence ("precision +-0.002 on every mode's
// P(liquidation) 95% interval: reached after 37,888 paths (at most 200,000)"); else empty.
std::string precision_sentence(const SimulationInfo& info);

// With importance sampling applied (info.importance): how, in a sentence ("importance sampling:
// 50% of the paths drawn around a market-wide move to BTC -31%, ETH -38% by the horizon; 41,234
// effective paths, intervals from the weighted sample's variance"); else empty.
std::string importance_sentence(const SimulationInfo& info);

// The JSON of docs/model.md#report-keys, schema "marginsim.report/1"; pretty-printed.
std::string to_json(const Report& report);
// The side-by-side table of the modes a trader reads first.
void write_text(std::ostream& out, const Report& report);
// Throws std::logic_error naming the key (as in the JSON) of the first NaN or infinity in the
// report: no rendering prints one. to_json and write_text call it; to_csv checks each number.
void check_finite(const Report& report);
// One row per (mode, statistic) and per (mode, position): `section,mode,key,value`.
std::string to_csv(const Report& report);

}  // namespace marginsim
