#pragma once
// The formatting rules every rendering shares (text, CSV, HTML, batch summaries): CSV quoting,
// thousands grouping, money and percentages. One copy of each, so that a report, a sweep table
// and a batch summary print the same number the same way.

#include <string>
#include <string_view>

namespace marginsim::detail {

// A CSV field, quoted (with doubled quotes) when it holds a comma, a quote or a line break.
std::string csv_field(std::string_view text);

// Commas between groups of three digits of a formatted number: "-1234567.89" -> "-1,234,567.89".
std::string group_thousands(std::string digits);
// 1234567.891 -> "1,234,568" (whole units) or with `decimals` digits; no "-0" for values that
// round to zero; non-finite values as "inf", "nan".
std::string grouped(double value, int decimals = 0);
// An amount of money with cents: grouped(value, 2).
std::string money(double value);

// A probability as a percentage with `decimals` digits: "45.3%", and "<0.01%" (for 2 digits)
// for values too small to show but not zero, so that "rarely" stays apart from "never".
std::string percent_text(double probability, int decimals = 1);
// A probability as a percentage with 2 digits, tiny values as "0.00%".
std::string percent_plain(double probability);

}  // namespace marginsim::detail
