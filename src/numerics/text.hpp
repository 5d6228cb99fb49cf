#pragma once
// Small text helpers shared by the input readers (scenario files, price files, options).

#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace marginsim::detail {

// `text` without its leading and trailing blanks (spaces, tabs, carriage returns).
inline std::string trimmed(std::string_view text) {
    const std::size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string_view::npos) return {};
    const std::size_t end = text.find_last_not_of(" \t\r");
    return std::string(text.substr(begin, end - begin + 1));
}

// A day of the calendar written YYYY-MM-DD; with `time_allowed`, optionally followed by a time
// ("2026-03-30 00:00:00", "2026-03-30T00:00Z"), which is ignored.
inline std::optional<std::chrono::sys_days> parse_calendar_day(std::string_view text, bool time_allowed) {
    if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    if (text.size() > 10 && !(time_allowed && (text[10] == ' ' || text[10] == 'T'))) return std::nullopt;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
    }
    const auto number = [&](std::size_t at, std::size_t length) {
        unsigned value = 0;
        std::from_chars(text.data() + at, text.data() + at + length, value);
        return value;
    };
    const std::chrono::year_month_day day{std::chrono::year(static_cast<int>(number(0, 4))),
                                          std::chrono::month(number(5, 2)), std::chrono::day(number(8, 2))};
    if (!day.ok()) return std::nullopt;
    return std::chrono::sys_days(day);
}

}  // namespace marginsim::detail
