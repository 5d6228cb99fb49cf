#pragma once
// What every scenario that parse_scenario() accepts must satisfy: past loading the engine
// trusts its values (scenario.hpp), so an input that passes validation and breaks one of
// these is a validation bug. Shared by the fuzz target and the regression tests.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "marginsim/error.hpp"
#include "numerics/correlation.hpp"
#include "marginsim/run_estimate.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim::testing {

namespace detail_invariants {

inline bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }

inline std::string check_simulation(const Simulation& sim) {
    if (sim.paths < 1) return "paths < 1";
    if (!finite_positive(sim.horizon_days)) return "horizon_days not finite and > 0";
    if (sim.steps_per_day < 1) return "steps_per_day < 1";
    if (sim.steps < 1) return "steps < 1";
    if (static_cast<double>(sim.steps) != std::round(sim.horizon_days * sim.steps_per_day))
        return "steps is not round(horizon_days * steps_per_day)";
    if (!finite_positive(sim.dt_years)) return "dt_years not finite and > 0";
    if (sim.threads < 0) return "threads < 0";
    if (sim.model == PriceModel::student_t && !(std::isfinite(sim.dof) && sim.dof > 2.0))
        return "student_t dof not finite and > 2";
    return {};
}

inline bool clean_symbol(const std::string& symbol) {
    if (symbol.empty() || symbol.front() == ' ' || symbol.back() == ' ') return false;
    for (const char c : symbol) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) return false;
    }
    return true;
}

inline std::string check_tiers(const std::vector<Tier>& tiers) {
    if (tiers.empty()) return "empty tier table";
    for (std::size_t k = 0; k < tiers.size(); ++k) {
        const Tier& tier = tiers[k];
        if (!(tier.rate >= 0.0 && tier.rate < 1.0)) return fmt::format("tier {} rate", k);
        if (!(std::isfinite(tier.amount) && tier.amount >= 0.0))
            return fmt::format("tier {} amount", k);
        if (!(tier.notional_cap > 0.0)) return fmt::format("tier {} cap", k);
        if (k + 1 < tiers.size() && !std::isfinite(tier.notional_cap))
            return fmt::format("tier {} has no cap but is not the last", k);
        if (k > 0 && !(tier.notional_cap > tiers[k - 1].notional_cap))
            return fmt::format("tier {} cap not increasing", k);
        if (k > 0 && tier.rate < tiers[k - 1].rate) return fmt::format("tier {} rate decreasing", k);
        if (tier.max_leverage && !(std::isfinite(*tier.max_leverage) && *tier.max_leverage >= 1.0))
            return fmt::format("tier {} max_leverage", k);
        // The maintenance margin at the tier's ends (a notional the tier holds): never negative,
        // or a liquidated position would lose more than its collateral (issue 20).
        const auto negative_at = [&](double notional) {
            return notional * tier.rate - tier.amount < -1e-9 * std::max(1.0, tier.amount);
        };
        if (k > 0 && negative_at(tiers[k - 1].notional_cap))
            return fmt::format("tier {} maintenance margin negative at its lower bound", k);
        if (std::isfinite(tier.notional_cap) && negative_at(tier.notional_cap))
            return fmt::format("tier {} maintenance margin negative at its cap", k);
    }
    return {};
}

inline std::string check_assets(const Scenario& s) {
    if (s.assets.empty() || s.assets.size() > 1000) return "asset count outside [1, 1000]";
    for (std::size_t i = 0; i < s.assets.size(); ++i) {
        const Asset& a = s.assets[i];
        if (!clean_symbol(a.symbol)) return fmt::format("assets[{}] symbol not clean", i);
        for (std::size_t j = 0; j < i; ++j) {
            if (s.assets[j].symbol == a.symbol) return fmt::format("assets[{}] duplicate", i);
        }
        if (!finite_positive(a.price)) return fmt::format("assets[{}] price", i);
        if (!(a.volatility >= 0.0 && a.volatility < 10.0))
            return fmt::format("assets[{}] volatility", i);
        if (!std::isfinite(a.drift)) return fmt::format("assets[{}] drift", i);
        if (!(std::abs(a.funding_rate) < 1.0)) return fmt::format("assets[{}] funding", i);
        if (std::string e = check_tiers(a.tiers); !e.empty())
            return fmt::format("assets[{}]: {}", i, e);
    }
    return {};
}

inline std::string check_correlation(const Scenario& s) {
    const std::size_t n = s.assets.size();
    if (s.correlation.size() != n * n) return "correlation is not n x n";
    for (std::size_t i = 0; i < n; ++i) {
        if (s.correlation_at(i, i) != 1.0 && std::abs(s.correlation_at(i, i) - 1.0) > 1e-9)
            return fmt::format("correlation[{0}][{0}] is not 1", i);
        for (std::size_t j = 0; j < n; ++j) {
            const double c = s.correlation_at(i, j);
            if (!(std::abs(c) <= 1.0 + 1e-12)) return fmt::format("correlation[{}][{}]", i, j);
            if (std::abs(c - s.correlation_at(j, i)) > 1e-9)
                return fmt::format("correlation[{}][{}] not symmetric", i, j);
        }
    }
    if (marginsim::detail::smallest_eigenvalue(s.correlation, n) < -1e-8)
        return "correlation not positive semi-definite";
    // The factor the market model draws with must reproduce the matrix.
    const std::vector<double> lower = marginsim::detail::cholesky_lower(s.correlation, n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double product = 0.0;
            for (std::size_t k = 0; k <= j; ++k) product += lower[i * n + k] * lower[j * n + k];
            if (!(std::abs(product - s.correlation_at(i, j)) <= 1e-6))
                return fmt::format("Cholesky factor misses correlation[{}][{}]", i, j);
        }
    }
    return {};
}

// The jump and regime parameters the engine reads: sized per asset, in range, a PSD stress matrix.
inline std::string check_model_tables(const Scenario& s) {
    const std::size_t n = s.assets.size();
    const auto intensity_ok = [](double v) { return v >= 0.0 && v <= 1000.0; };
    const auto size_ok = [](const JumpSize& j) {
        return j.mean >= -5.0 && j.mean <= 5.0 && j.vol >= 0.0 && j.vol <= 2.0;
    };
    if (s.simulation.model == PriceModel::jump && !s.simulation.jumps) return "model jump without jumps on";
    if (s.simulation.jumps) {
        const Jumps& j = s.jumps;
        if (!intensity_ok(j.intensity)) return "jumps intensity";
        if (j.market.size() != n || j.idiosyncratic.size() != n || j.idiosyncratic_intensity.size() != n)
            return "jumps not sized per asset";
        for (std::size_t i = 0; i < n; ++i) {
            if (!size_ok(j.market[i]) || !size_ok(j.idiosyncratic[i])) return fmt::format("jumps of asset {}", i);
            if (!intensity_ok(j.idiosyncratic_intensity[i])) return fmt::format("idiosyncratic intensity {}", i);
        }
    }
    if (s.simulation.model == PriceModel::regime) {
        const Regimes& r = s.regimes;
        if (!(r.calm_to_stress >= 0.0 && r.stress_to_calm >= 0.0 && std::isfinite(r.calm_to_stress + r.stress_to_calm)))
            return "regime intensities";
        if (r.start == StartRegime::stationary && !(r.calm_to_stress + r.stress_to_calm > 0.0))
            return "stationary start without switching";
        if (r.stress_volatility.size() != n || r.stress_correlation.size() != n * n) return "regime not sized per asset";
        for (const double v : r.stress_volatility)
            if (!(v >= 0.0 && v < 10.0)) return "stress volatility";
        if (marginsim::detail::smallest_eigenvalue(r.stress_correlation, n) < -1e-8)
            return "stress correlation not positive semi-definite";
        for (const RegimeState& state : r.states) {
            if (state.innovations == Innovations::student_t && !(std::isfinite(state.dof) && state.dof > 2.0))
                return "regime student_t dof";
            if (state.jumps && !s.simulation.jumps) return "regime jumps without jumps on";
        }
    }
    // [uncertainty]: Bartlett's chi-squares of returns - c degrees of freedom, c < n, all >= 2.
    if (s.uncertainty.on()) {
        if (!(std::isfinite(s.uncertainty.returns) && s.uncertainty.returns >= static_cast<double>(n) + 1.0))
            return "uncertainty returns";
        if (s.simulation.model == PriceModel::regime) return "uncertainty under the regime model";
    }
    return {};
}

inline std::string check_positions(const Scenario& s) {
    if (s.positions.empty()) return "no positions";
    double margins = 0.0;
    for (std::size_t j = 0; j < s.positions.size(); ++j) {
        const Position& p = s.positions[j];
        const std::string at = fmt::format("positions[{}]", j);
        if (p.asset >= s.assets.size() || s.assets[p.asset].symbol != p.symbol)
            return at + " asset index";
        if (!finite_positive(p.margin)) return at + " margin";
        if (!finite_positive(p.quantity)) return at + " quantity";
        if (!finite_positive(p.entry_price)) return at + " entry_price";
        if (!(std::isfinite(p.leverage) && p.leverage >= 1.0 - 1e-12)) return at + " leverage";
        if (!std::isfinite(p.notional_at_entry())) return at + " notional";
        if (std::abs(p.notional_at_entry() / p.margin - p.leverage) > 1e-9 * p.leverage)
            return at + " leverage is not notional / margin";
        if (p.mode != MarginMode::isolated && p.mode != MarginMode::cross) return at + " mode";
        margins += p.margin;
    }
    if (!(margins <= s.balance)) return "margins above the balance";
    for (const MarginMode mode : {MarginMode::isolated, MarginMode::cross, MarginMode::as_configured}) {
        const double wallet = s.cross_wallet(mode);
        if (!(std::isfinite(wallet) && wallet >= 0.0)) return "negative or infinite cross wallet";
    }
    return {};
}

}  // namespace detail_invariants

// Empty when every invariant holds, else the first one broken.
inline std::string invariant_violation(const Scenario& s) {
    using namespace detail_invariants;
    if (std::string e = check_simulation(s.simulation); !e.empty()) return e;
    if (!finite_positive(s.balance)) return "balance not finite and > 0";
    if (!(s.fee_rate >= 0.0 && s.fee_rate < 1.0)) return "fee_rate outside [0, 1)";
    if (std::string e = check_assets(s); !e.empty()) return e;
    if (std::string e = check_correlation(s); !e.empty()) return e;
    if (std::string e = check_model_tables(s); !e.empty()) return e;
    if (std::string e = check_positions(s); !e.empty()) return e;
    const RunEstimate estimate = estimate_run(s);
    if (!(std::isfinite(estimate.seconds) && estimate.seconds > 0.0)) return "run time estimate";
    if (!(std::isfinite(estimate.memory_bytes) && estimate.memory_bytes > 0.0))
        return "run memory estimate";
    return {};
}

// The fuzz targets' one check: `text` is either refused with a located message (InputError),
// what bad input should get, or accepted as a scenario that holds every invariant above.
// Anything else aborts, naming the broken invariant and `what` was fuzzed: a finding.
inline void check_parse(std::string_view text, const LoadOptions& options, const char* what) {
    try {
        const Scenario scenario = parse_scenario(text, "fuzz", options);
        const std::string broken = invariant_violation(scenario);
        if (!broken.empty()) {
            std::fprintf(stderr, "accepted %s breaks an invariant: %s\n", what, broken.c_str());
            std::abort();
        }
    } catch (const InputError&) {
        // Refused with a located message: what bad input should get.
    }
}

}  // namespace marginsim::testing
