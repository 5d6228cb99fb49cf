#pragma once
// What the parts of the calibration share (private to src/analyses/calibrate).

#include <optional>
#include <string_view>
#include <vector>

#include "marginsim/calibrate.hpp"

namespace marginsim::detail {

// The whole of `text` as a number (std::from_chars: no sign prefix '+', no spaces); none when
// it is not one.
std::optional<double> parse_number(std::string_view text);

// The snippet of `calibration` loads as a scenario (through the scenario loader itself, with a
// [simulation], an [account] and one small position around it); else throws InputError naming
// the price file, and the line of the close behind the estimate the loader refuses.
void check_snippet_loads(const Calibration& calibration);

// Each asset's returns standardised by its GARCH(1,1) fit, (r_t - mean) / sqrt(h_t) with h_t
// of garch_filtered_variance: [asset][k].
std::vector<std::vector<double>> garch_residuals(const AlignedReturns& data, const std::vector<GarchEstimate>& garch);

}  // namespace marginsim::detail
