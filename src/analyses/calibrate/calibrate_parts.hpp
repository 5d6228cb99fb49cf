#pragma once
// What the parts of the calibration share (private to src/analyses/calibrate).

#include <optional>
#include <string_view>

namespace marginsim::detail {

// The whole of `text` as a number (std::from_chars: no sign prefix '+', no spaces); none when
// it is not one.
std::optional<double> parse_number(std::string_view text);

}  // namespace marginsim::detail
