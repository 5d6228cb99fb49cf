#pragma once
// What the pages of the HTML reports share (private to src/render): their words for modes,
// amounts and probabilities, a few pieces of markup, and the sweep's section, which a run's
// page includes when given a sweep.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/report.hpp"
#include "marginsim/sweep.hpp"

namespace marginsim::detail::html {

inline constexpr double chart_width = 1040.0;
inline constexpr std::size_t es_99 = 1;  // index of 0.99 in tail_levels
static_assert(tail_levels[es_99] == 0.99);

std::string mode_name(MarginMode mode);  // "as configured" with a space
std::string usdt(double value);          // "12,345 USDT", cents below 100
std::string pct(double probability);     // one decimal, two below 1%
std::string percent_tick(double value);
std::string money_tick(double value);
std::string scenario_name(const std::string& source);  // the file's stem
std::string panel_title(std::string_view text);
std::string td(const std::string& text);  // a right-aligned number cell
std::string reading_list(const std::vector<std::string>& sentences);

// Charts, table and reading of a sweep.
std::string sweep_section(const SweepResult& sweep);

}  // namespace marginsim::detail::html
