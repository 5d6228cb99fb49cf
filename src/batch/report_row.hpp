#pragma once
// The batch's reading of a run's JSON report back into its summary row (private to src/batch;
// tests round-trip it through to_json).

#include <string>

#include "marginsim/batch.hpp"

namespace marginsim::detail {

// The row of a scenario from its JSON report (docs/model.md#report-keys); throws when the text is
// not one, or is one written before reports named their monitoring (the scenario then runs
// again). A report without simulation.importance_sampling was sampled plainly: none.
BatchRow batch_row_from_report(const std::string& text);

}  // namespace marginsim::detail
