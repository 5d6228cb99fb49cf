#pragma once
// What the writers of run reports and sweep reports share (private to src/render): the keys
// of the tail levels, the JSON of intervals and per-level values, and the order of the modes.

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "marginsim/report.hpp"

namespace marginsim::detail {

// Insertion-ordered, so that a file reads in the order the writer gives its keys.
using Json = nlohmann::ordered_json;

// The key of a tail level in JSON and CSV: 0.99 -> "0.99" (shortest round-trip text).
std::string level_key(double level);
// [lo, hi]
Json interval_json(const Interval& interval);
// {"0.95": v, "0.99": v, "0.999": v}
Json levels_json(const std::array<double, tail_levels.size()>& values);
// Throws std::logic_error unless the selloff has one return per asset (none without a selloff).
void check_importance_assets(const SimulationInfo& info, const ImportanceInfo& importance);
// simulation.importance_sampling ("none" or "selloff") and, when the engine applied it,
// simulation.importance (docs/model.md#importance-sampling).
void add_importance_json(Json& simulation, const SimulationInfo& info);
// Throws std::logic_error unless report.modes holds isolated, cross, as_configured in order.
void check_modes_in_order(const Report& report);

}  // namespace marginsim::detail
