// The Scenario value's own functions: names of its enums, the cross wallet of a margin mode,
// and the tier lookup and maintenance margin the margin book uses.
#include "marginsim/scenario.hpp"

#include "scenario/names.hpp"

#include <cassert>
#include <cmath>

namespace marginsim {

std::string_view to_string(PriceModel model) noexcept {
    return detail::name_of(model, detail::price_model_names);
}

std::string_view to_string(Monitoring monitoring) noexcept {
    return detail::name_of(monitoring, detail::monitoring_names);
}

std::string_view to_string(ImportanceSampling sampling) noexcept {
    return detail::name_of(sampling, detail::importance_sampling_names);
}
std::string_view to_string(StartRegime start) noexcept {
    return detail::name_of(start, detail::start_regime_names);
}
std::string_view to_string(Innovations innovations) noexcept {
    return detail::name_of(innovations, detail::innovations_names);
}
std::string_view to_string(FhsFilter filter) noexcept {
    return detail::name_of(filter, detail::fhs_filter_names);
}
std::string_view to_string(LiquidationPolicy policy) noexcept {
    return detail::name_of(policy, detail::policy_names);
}
std::string_view to_string(Side side) noexcept { return detail::name_of(side, detail::side_names); }
std::string_view to_string(MarginMode mode) noexcept {
    return detail::name_of(mode, detail::margin_mode_names);
}

double JumpSize::kappa() const noexcept { return std::expm1(mean + 0.5 * vol * vol); }

double Scenario::cross_wallet(MarginMode mode) const noexcept {
    switch (mode) {
        case MarginMode::isolated: return 0.0;  // every position isolated: no cross pool
        case MarginMode::cross: return balance;
        case MarginMode::as_configured: break;
    }
    double wallet = balance;
    for (const Position& position : positions) {
        if (position.mode == MarginMode::isolated) wallet -= position.margin;
    }
    return wallet;
}

void set_paths(Scenario& scenario, std::uint64_t paths) {
    assert(paths > 0);
    scenario.simulation.paths = paths;
}

std::size_t tier_index(const std::vector<Tier>& tiers, double notional) noexcept {
    assert(!tiers.empty());
    const std::size_t last = tiers.size() - 1;
    for (std::size_t k = 0; k < last; ++k) {
        if (notional <= tiers[k].notional_cap) return k;
    }
    // Notionals above a capped last tier stay in the last tier: validation rejects positions
    // that start there, but prices may carry a position past it during a path.
    return last;
}

double maintenance_margin(const std::vector<Tier>& tiers, double notional) noexcept {
    const Tier& tier = tiers[tier_index(tiers, notional)];
    return notional * tier.rate - tier.amount;
}

}  // namespace marginsim
