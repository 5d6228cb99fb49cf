// --precision: the target for the 95% intervals of the liquidation probabilities, its
// command-line form and the test of an interval against it.
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "marginsim/error.hpp"
#include "marginsim/summary.hpp"

namespace marginsim {
namespace {

constexpr const char* precision_expected =
    "a half-width > 0 such as 0.002, or a percent of the estimate in (0, 100) such as 10%";

[[noreturn]] void fail_precision(const std::string& message) {
    throw InputError("--precision", 0, 0, "", message, precision_expected);
}

double parse_number(std::string_view text, std::string_view whole) {
    double value = 0.0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || stop != end || !std::isfinite(value))
        fail_precision(fmt::format("'{}' is not a number or a percent", whole));
    return value;
}

}  // namespace

Precision parse_precision(std::string_view text) {
    const bool relative = !text.empty() && text.back() == '%';
    const double value = parse_number(relative ? text.substr(0, text.size() - 1) : text, text);
    if (relative) {
        if (!(value > 0.0 && value < 100.0)) fail_precision(fmt::format("'{}' is not a percent in (0, 100)", text));
        return {value / 100.0, true};
    }
    if (!(value > 0.0)) fail_precision(fmt::format("'{}' is not a half-width > 0", text));
    return {value, false};
}

std::string to_string(const Precision& precision) {
    return precision.relative ? fmt::format("{:.12g}%", precision.target * 100.0)
                              : fmt::format("{:.12g}", precision.target);
}

bool meets_precision(const Proportion& proportion, const Precision& precision) noexcept {
    const double half_width = 0.5 * (proportion.ci95.hi - proportion.ci95.lo);
    if (!precision.relative) return half_width <= precision.target;
    return proportion.estimate > 0.0 && half_width <= precision.target * proportion.estimate;
}

}  // namespace marginsim
