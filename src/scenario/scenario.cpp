// The Scenario value's own functions: names of its enums, the cross wallet of a margin mode,
// and the tier lookup and maintenance margin the margin book uses.
#include "marginsim/scenario.hpp"

#include <cassert>
#include <cmath>

namespace marginsim {

std::string_view to_string(PriceModel model) noexcept {
    switch (model) {
        case PriceModel::gaussian: return "gaussian";
        case PriceModel::student_t: return "student_t";
        case PriceModel::jump: return "jump";
        case PriceModel::regime: return "regime";
    }
    return "unknown";
}

std::string_view to_string(StartRegime start) noexcept {
    switch (start) {
        case StartRegime::calm: return "calm";
        case StartRegime::stress: return "stress";
        case StartRegime::stationary: return "stationary";
    }
    return "unknown";
}

double JumpSize::kappa() const noexcept { return std::expm1(mean + 0.5 * vol * vol); }

std::string_view to_string(LiquidationPolicy policy) noexcept {
    switch (policy) {
        case LiquidationPolicy::full: return "full";
        case LiquidationPolicy::fee: return "fee";
    }
    return "unknown";
}

std::string_view to_string(Side side) noexcept {
    switch (side) {
        case Side::long_side: return "long";
        case Side::short_side: return "short";
    }
    return "unknown";
}

std::string_view to_string(MarginMode mode) noexcept {
    switch (mode) {
        case MarginMode::isolated: return "isolated";
        case MarginMode::cross: return "cross";
        case MarginMode::as_configured: return "as_configured";
    }
    return "unknown";
}

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
