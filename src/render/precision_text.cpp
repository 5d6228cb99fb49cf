// The sentence every rendering of a run with a precision target prints about how it ended.
#include <fmt/format.h>

#include "marginsim/report.hpp"
#include "render/format.hpp"

namespace marginsim {

std::string precision_sentence(const SimulationInfo& info) {
    if (!info.precision) return "";
    const PrecisionOutcome& precision = *info.precision;
    const auto paths = [](std::uint64_t n) { return detail::grouped(static_cast<double>(n)); };
    std::string text = fmt::format("precision +-{}{} on every mode's P(liquidation) 95% interval: ",
                                   to_string(precision.target), precision.target.relative ? " of the estimate" : "");
    if (!precision.reached)
        return text + fmt::format("not reached in {} of at most {} paths", paths(info.paths), paths(precision.paths_max));
    text += fmt::format("reached after {} paths", paths(precision.paths_needed));
    if (precision.paths_needed != info.paths) text += fmt::format(", {} run", paths(info.paths));
    return text + fmt::format(" (at most {})", paths(precision.paths_max));
}

}  // namespace marginsim
