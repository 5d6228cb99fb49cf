#pragma once
// The checks of a loaded book that need the whole scenario: tier limits, fundable margins,
// no pool liquidated at the start, no overflow on a plausible path.

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

// Cross-field checks need each position's table to point at it.
struct PositionSource {
    std::string key;
    toml::source_region region;
};

void check_tier_limits(const Context& context, const Scenario& scenario,
                       const std::vector<PositionSource>& sources);
void check_margins_fundable(const Context& context, const Scenario& scenario,
                            const std::vector<PositionSource>& sources);
// No pool may start liquidated (and the start state is in finite numbers).
void check_start_not_liquidated(const Context& context, const Scenario& scenario,
                                const std::vector<PositionSource>& sources);

// A value whose amounts overflow on a plausible path: the key within its [[assets]] or
// [[positions]] table (empty: the table itself), what happens, and what is expected.
struct Overflow {
    std::string key;
    std::string message;
    std::string expected;
};
std::optional<Overflow> price_overflow(const Scenario& scenario, std::size_t i);
std::optional<Overflow> notional_overflow(const Scenario& scenario, std::size_t j);

}  // namespace marginsim::detail
