#pragma once
// The names of the scenario's enums, one table each: to_string prints them and the TOML reader
// accepts them (TableReader::choice), so a name is written once.

#include "marginsim/scenario.hpp"

#include <cstddef>
#include <string_view>

namespace marginsim::detail {

template <class Enum>
struct Named {
    Enum value;
    std::string_view name;
};

template <class Enum, std::size_t N>
constexpr std::string_view name_of(Enum value, const Named<Enum> (&names)[N]) noexcept {
    for (const Named<Enum>& named : names) {
        if (named.value == value) return named.name;
    }
    return "unknown";
}

inline constexpr Named<PriceModel> price_model_names[] = {{PriceModel::gaussian, "gaussian"},
                                                          {PriceModel::student_t, "student_t"},
                                                          {PriceModel::jump, "jump"},
                                                          {PriceModel::regime, "regime"},
                                                          {PriceModel::garch, "garch"},
                                                          {PriceModel::fhs, "fhs"}};
inline constexpr Named<Monitoring> monitoring_names[] = {{Monitoring::continuous, "continuous"},
                                                         {Monitoring::discrete, "discrete"}};
inline constexpr Named<ImportanceSampling> importance_sampling_names[] = {{ImportanceSampling::none, "none"},
                                                                          {ImportanceSampling::selloff, "selloff"}};
inline constexpr Named<StartRegime> start_regime_names[] = {{StartRegime::calm, "calm"},
                                                            {StartRegime::stress, "stress"},
                                                            {StartRegime::stationary, "stationary"}};
inline constexpr Named<Innovations> innovations_names[] = {{Innovations::gaussian, "gaussian"},
                                                                     {Innovations::student_t, "student_t"}};
inline constexpr Named<FhsFilter> fhs_filter_names[] = {{FhsFilter::ewma, "ewma"}, {FhsFilter::garch, "garch"}};
inline constexpr Named<LiquidationPolicy> policy_names[] = {{LiquidationPolicy::full, "full"},
                                                            {LiquidationPolicy::fee, "fee"}};
inline constexpr Named<Side> side_names[] = {{Side::long_side, "long"}, {Side::short_side, "short"}};
// A position's own mode: isolated or cross (as_configured is an account-level mode only).
inline constexpr Named<MarginMode> position_mode_names[] = {{MarginMode::cross, "cross"},
                                                            {MarginMode::isolated, "isolated"}};
inline constexpr Named<MarginMode> margin_mode_names[] = {{MarginMode::isolated, "isolated"},
                                                          {MarginMode::cross, "cross"},
                                                          {MarginMode::as_configured, "as_configured"}};

}  // namespace marginsim::detail
