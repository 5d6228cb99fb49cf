#pragma once
// Self-contained HTML reports: one page, no scripts, no network; the charts are inline SVG
// drawn here. Amounts are in the quote currency (USDT), probabilities in percent.

#include <string>
#include <vector>

#include "marginsim/detailed_run.hpp"
#include "marginsim/report.hpp"
#include "marginsim/sweep.hpp"

namespace marginsim {

// The report of one run: a plain-language reading, the table of the modes, the loss
// distribution per mode (histogram, and the tail P(loss >= x) on a log scale),
// P(liquidation by day t) per mode, per-position liquidation probabilities, and the sweep
// curves when a sweep of the same scenario is given.
std::string to_html(const DetailedRun& run, const SweepResult* sweep = nullptr);
// The page of a sweep alone: its curves, the crossover and the table of the points.
std::string to_html(const SweepResult& sweep);

// Short sentences a trader reads first, e.g. "Cross margin lowers the chance of any
// liquidation from 45.0% to 3.1%, but its 1% worst outcomes lose the whole 10,000 USDT
// instead of 6,000 USDT."
std::vector<std::string> plain_reading(const Report& report);
std::vector<std::string> plain_reading(const SweepResult& sweep);

}  // namespace marginsim
