#include "engine/importance.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>

namespace marginsim {
namespace {

constexpr double days_per_year = 365.0;

// A pool's margin balance less its maintenance margin at these prices: <= 0 is liquidated
// (MarginBook::is_liquidated).
double surplus(const MarginBook& book, const MarginPool& pool, std::span<const double> price) {
    double surplus = pool.collateral;
    for (const std::size_t k : pool.positions) {
        const double p = price[book.asset_of(k)];
        surplus += book.upnl(k, p) - book.maintenance(k, p);
    }
    return surplus;
}

double cross_surplus(const MarginBook& book, std::span<const double> price) {
    return surplus(book, book.layout(MarginMode::cross).pools.front(), price);
}

// Per asset, dS/dln P_i at the start prices (central differences: tiers included).
std::vector<double> exposures(const MarginBook& book, std::span<const double> start) {
    constexpr double h = 1e-5;
    std::vector<double> g(start.size());
    std::vector<double> price(start.begin(), start.end());
    for (std::size_t i = 0; i < start.size(); ++i) {
        price[i] = start[i] * std::exp(h);
        const double up = cross_surplus(book, price);
        price[i] = start[i] * std::exp(-h);
        const double down = cross_surplus(book, price);
        price[i] = start[i];
        g[i] = (up - down) / (2.0 * h);
    }
    return g;
}

// The smallest move s in (0, 12 sd] along the direction at which `pool` liquidates: the first
// quarter-sd step that does, then bisection inside it; empty when none does or the pool
// already liquidates at s = 0.
template <class Liquidates>
std::optional<double> first_liquidating_move(const MarginPool& pool, double sd, const Liquidates& liquidates) {
    if (liquidates(pool, 0.0)) return std::nullopt;
    double lo = 0.0;
    double hi = 0.0;
    for (int k = 1; k <= 48 && hi == 0.0; ++k) {
        const double s = 0.25 * k * sd;
        (liquidates(pool, s) ? hi : lo) = s;
    }
    if (hi == 0.0) return std::nullopt;
    for (int k = 0; k < 60; ++k) {
        const double mid = 0.5 * (lo + hi);
        (liquidates(pool, mid) ? hi : lo) = mid;
    }
    return hi;
}

// A mode's target joins one at the same move (within 5%), or is added in order of depth.
void add_target(SelloffTilt& tilt, MarginMode mode, double s, double sd, std::vector<double> log_return) {
    for (SelloffTarget& target : tilt.targets) {
        if (std::abs(target.shift_sd * sd - s) <= 0.05 * s) {
            target.modes.push_back(mode);
            return;
        }
    }
    SelloffTarget target{{mode}, s / sd, std::move(log_return)};
    auto at = tilt.targets.begin();
    while (at != tilt.targets.end() && at->shift_sd < target.shift_sd) ++at;
    tilt.targets.insert(at, std::move(target));
}

}  // namespace

SelloffTilt selloff_tilt(const Scenario& scenario, const MarginBook& book, const MarketModel& model) {
    SelloffTilt out;
    const std::size_t n = scenario.asset_count();
    const double days = scenario.simulation.horizon_days;
    std::vector<double> start;
    std::vector<double> daily_vol;
    std::vector<double> mean_log_return;  // over the horizon
    for (const Asset& asset : scenario.assets) {
        start.push_back(asset.price);
        daily_vol.push_back(asset.volatility / std::sqrt(days_per_year));
        mean_log_return.push_back((asset.drift - 0.5 * asset.volatility * asset.volatility) * days / days_per_year);
    }
    if (book.layout(MarginMode::cross).pools.empty()) return out;
    // v = L' D g: the cross surplus's sensitivity to each normal's Brownian motion (per day^1/2).
    const std::vector<double> g = exposures(book, start);
    const std::span<const double> factor = model.correlation_factor();
    std::vector<double> direction(n, 0.0);
    double norm = 0.0;
    for (std::size_t c = 0; c < n; ++c) {
        for (std::size_t i = c; i < n; ++i) direction[c] -= factor[i * n + c] * daily_vol[i] * g[i];
        norm += direction[c] * direction[c];
    }
    norm = std::sqrt(norm);
    if (!(norm > 0.0)) return out;
    for (double& u : direction) u /= norm;
    // Log returns at the horizon when the normals' motion along `direction` has moved by s.
    const auto log_returns = [&](double s) {
        std::vector<double> r(n);
        for (std::size_t i = 0; i < n; ++i) {
            double along = 0.0;
            for (std::size_t c = 0; c <= i; ++c) along += factor[i * n + c] * direction[c];
            r[i] = mean_log_return[i] + daily_vol[i] * along * s;
        }
        return r;
    };
    std::vector<double> price(n);
    const auto liquidates = [&](const MarginPool& pool, double s) {
        const std::vector<double> r = log_returns(s);
        for (std::size_t i = 0; i < n; ++i) price[i] = start[i] * std::exp(r[i]);
        return surplus(book, pool, price) <= 0.0;
    };
    const double sd = std::sqrt(days);
    for (const MarginMode mode : all_modes) {
        std::optional<double> first;  // the mode's first liquidation along the direction
        for (const MarginPool& pool : book.layout(mode).pools) {
            if (auto s = first_liquidating_move(pool, sd, liquidates); s && (!first || *s < *first)) first = s;
        }
        if (!first || *first < 1.5 * sd) continue;  // none within 12 sd, or not rare
        add_target(out, mode, *first, sd, log_returns(*first));
    }
    if (out.targets.empty()) return out;
    out.tilt.direction = direction;
    for (const SelloffTarget& target : out.targets) out.tilt.drift_per_day.push_back(target.shift_sd * sd / days);
    return out;
}

}  // namespace marginsim
