#include "render/format.hpp"

#include <cmath>

#include <fmt/format.h>

namespace marginsim::detail {

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + '"';
}

std::string group_thousands(std::string digits) {
    const std::size_t first = (!digits.empty() && digits[0] == '-') ? 1 : 0;
    const std::size_t point = digits.find('.');
    std::size_t end = point == std::string::npos ? digits.size() : point;
    while (end > first + 3) {
        end -= 3;
        digits.insert(end, 1, ',');
    }
    return digits;
}

std::string grouped(double value, int decimals) {
    if (!std::isfinite(value)) return fmt::format("{}", value);
    const double unit = std::pow(10.0, -decimals);
    if (std::abs(value) < 0.5 * unit) value = 0.0;  // no "-0"
    return group_thousands(fmt::format("{:.{}f}", value, decimals));
}

std::string money(double value) { return grouped(value, 2); }

std::string percent_text(double probability, int decimals) {
    const double smallest = 0.5 * std::pow(10.0, -decimals) / 100.0;
    if (probability > 0.0 && probability < smallest) {
        return fmt::format("<{:.{}f}%", 100.0 * 2.0 * smallest, decimals);
    }
    return fmt::format("{:.{}f}%", 100.0 * probability, decimals);
}

std::string percent_plain(double probability) { return fmt::format("{:.2f}%", 100.0 * probability); }

}  // namespace marginsim::detail
