#pragma once
// Keys of a scenario set from outside its file (--set KEY=VALUE): applied to the parsed TOML
// before the readers see it, so that a value set there is checked exactly like one written in
// the file. Each value is parsed with the source name "--set KEY=VALUE": errors at it name the
// argument (Context::fail), not a line of the file.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"

#include <toml++/toml.h>

#include <string>
#include <vector>

namespace marginsim::detail {

// One override as applied: its argument ("--set KEY=VALUE") and the keys it set, spelt as the
// readers name them in errors ("assets[0].volatility", "correlation.pairs.\"BTC/ETH\"").
struct AppliedOverride {
    std::string argument;
    std::vector<std::string> keys;
};

// Applies `overrides` in order to `document`; throws InputError naming the argument when a
// key cannot be placed (an index out of range, no asset of that symbol, a value that is not
// one).
std::vector<AppliedOverride> apply_overrides(toml::table& document,
                                             const std::vector<ScenarioOverride>& overrides);

// An error about a key an override set, or about the table it set a key in, located in the
// file (a check across keys that points at the file's table: "both maintenance_margin_rate and
// tiers are given"): the same error naming the argument instead. Any other error is returned as
// it is.
InputError located_in_override(const InputError& error, const std::string& file,
                               const std::vector<AppliedOverride>& applied);

}  // namespace marginsim::detail
