#pragma once
// What the parts of the calibration share (private to src/analyses/calibrate).

#include <optional>

#include "marginsim/calibrate.hpp"
#include <string_view>

namespace marginsim::detail {

// The whole of `text` as a number (std::from_chars: no sign prefix '+', no spaces); none when
// it is not one.
std::optional<double> parse_number(std::string_view text);

// The snippet of `calibration` loads as a scenario (through the scenario loader itself, with a
// [simulation], an [account] and one small position around it); else throws InputError naming
// the price file, and the line of the close behind the estimate the loader refuses.
void check_snippet_loads(const Calibration& calibration);

}  // namespace marginsim::detail
