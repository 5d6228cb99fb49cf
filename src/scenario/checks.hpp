#pragma once
// The checks that need the whole scenario (tier limits, fundable margins, a finite start, the
// pools liquidated at the start, no overflow, jumps), shared by load_scenario and the sweep's values.

#include "marginsim/scenario.hpp"
#include "scenario/toml_reader.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim::detail {

inline constexpr std::string_view overflow_expected =
    "amounts whose products and sums stay far below the largest floating-point number, 1.8e308";

// A rule the book breaks: the position whose table it points at, the key ("positions[1]",
// "positions[1].margin", or "positions" for the book as a whole), what happens, what is expected.
// The loader locates it in the file; a sweep names the value that made it.
struct BookProblem {
    std::size_t position = 0;
    std::string key;
    std::string message;
    std::string expected;
};

// A notional at entry past the last tier's cap, or a leverage past its tier's max_leverage.
std::optional<BookProblem> tier_limit_problem(const Scenario& scenario);
// Position margins adding up to more than the balance.
std::optional<BookProblem> margins_problem(const Scenario& scenario);
// A start state out of finite numbers: no mode can use the book.
std::optional<BookProblem> start_problem(const Scenario& scenario);
// The pools (cross, as configured, isolated) that start at or below their maintenance margin:
// not an error, each is reported as liquidated at time 0 in its mode
// (docs/model.md#books-that-start-liquidated). `expected` says what the report does with it.
std::vector<BookProblem> start_liquidations(const Scenario& scenario);

// A value the scenario refuses: the key within its table (empty: the table itself), what
// happens, and what is expected.
struct ValueProblem {
    std::string key;
    std::string message;
    std::string expected;
};
// A price or notional that overflows on a plausible path.
std::optional<ValueProblem> price_overflow(const Scenario& scenario, std::size_t i);
std::optional<ValueProblem> notional_overflow(const Scenario& scenario, std::size_t j);

// Jumps whose mean no run can carry (checks.cpp): key "intensity" of [jumps]; none for other
// models.
std::optional<ValueProblem> jump_problem(const Scenario& scenario);

// A horizon that rounds to no monitoring step, or to more than an int holds (settings.cpp).
std::optional<ValueProblem> horizon_steps_problem(double horizon_days, int steps_per_day);

}  // namespace marginsim::detail
