// Continuous monitoring (docs/model.md#monitoring): between two steps each asset's log price is a
// Brownian bridge, and a pool whose surplus S = collateral + upnl - maintenance touches zero
// inside the step is liquidated there, at its liquidation price.
//
// A pool's surplus is treated as locally Brownian in its log-equivalent distance: with
// G = dS/d(ln P) summed over the pool's positions, a uniform move of every price by the factor
// 1 - S/G brings S to zero (to first order; exactly for one asset and one tier), so
// d = |ln(1 - S/G)| is the distance to the liquidation prices and sqrt(g' Sigma g) / |G| its
// volatility. For one asset this is the exact crossing law of a Brownian bridge,
// exp(-2 d0 d1 / (s^2 dt)). For a hedged pool (exposures of both signs), or where 1 - S/G is
// not positive at an end, the plain Brownian surplus exp(-2 S0 S1 / (g' Sigma g)) is used. A
// pool crosses when the normal CDF of its projection of the step's bridge normals onto its
// exposures falls below that probability, so that pools on correlated assets cross together;
// the time of the crossing inside the step is drawn from the bridge's first-passage law with
// the same uniform.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include "engine/margin_book.hpp"
#include "numerics/vector_math.hpp"

namespace marginsim {
namespace {

// exp(-25) ~ 1e-11: a crossing less likely than this is never drawn (over 10^9 path-steps,
// about 0.01 crossing missed).
constexpr double far_exponent = 25.0;

double normal_cdf(double x) noexcept { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

// ln Phi(-y), y >= 0, without underflow in the far tail (Mills' ratio there).
double log_normal_tail(double y) noexcept {
    if (y < 30.0) return std::log(normal_cdf(-y));
    const double y2 = y * y;
    return -0.5 * y2 - std::log(y) - 0.5 * std::log(2.0 * std::numbers::pi) + std::log1p(-1.0 / y2);
}

// P(s' <= s) for s' inverse Gaussian of mean mu and shape lambda.
double inverse_gaussian_cdf(double s, double mu, double lambda) noexcept {
    const double root = std::sqrt(lambda / s);
    const double first = normal_cdf(root * (s / mu - 1.0));
    const double tilt = 2.0 * lambda / mu;
    const double y = root * (s / mu + 1.0);
    // exp(tilt) Phi(-y) directly while exp(tilt) is finite (it is below 1e300 for any crossing
    // drawn, tilt being the crossing exponent), in logs beyond.
    const double second = tilt < 690.0 ? std::exp(tilt) * normal_cdf(-y) : std::exp(tilt + log_normal_tail(y));
    return std::min(1.0, first + second);
}

// surplus += upnl - mm, gamma += delta, spread += |delta| sd: one position's terms of its pool.
[[MARGINSIM_HOT_KERNEL]] void add_position_terms(double* __restrict surplus, double* __restrict gamma,
                                                 double* __restrict spread, const double* __restrict upnl,
                                                 const double* __restrict mm, const double* __restrict delta,
                                                 double sd, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        surplus[k] += upnl[k] - mm[k];
        gamma[k] += delta[k];
        spread[k] += std::abs(delta[k]) * sd;
    }
}

// add_position_terms with the asset's step sd scaled per path (garch: sqrt(h / h_0)).
[[MARGINSIM_HOT_KERNEL]] void add_scaled_position_terms(double* __restrict surplus, double* __restrict gamma,
                                                        double* __restrict spread, const double* __restrict upnl,
                                                        const double* __restrict mm, const double* __restrict delta,
                                                        double sd, const double* __restrict scale, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        surplus[k] += upnl[k] - mm[k];
        gamma[k] += delta[k];
        spread[k] += std::abs(delta[k]) * sd * scale[k];
    }
}

// out[k] (+)= a (x[k] sx[k]) (y[k] sy[k]): add_regime_product of the garch model, whose paths
// have one regime and per-asset scales of the step sd.
[[MARGINSIM_HOT_KERNEL]] void add_scaled_product(double* __restrict out, const double* __restrict x,
                                                 const double* __restrict sx, const double* __restrict y,
                                                 const double* __restrict sy, double a, bool add, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        const double term = a * (x[k] * sx[k]) * (y[k] * sy[k]);
        out[k] = add ? out[k] + term : term;
    }
}

// out[k] (+)= a (x[k] sx[k]) z[k].
[[MARGINSIM_HOT_KERNEL]] void add_scaled_projection(double* __restrict out, const double* __restrict x,
                                                    const double* __restrict sx, const double* __restrict z, double a,
                                                    bool add, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        const double term = a * (x[k] * sx[k]) * z[k];
        out[k] = add ? out[k] + term : term;
    }
}

// hit[k]'s top bit: open path k ended at or below zero, or the lower bound
// x = 2 S0 S1 min(1, |G1 / G0|) / (V (1 + |S0 / G0|) (1 + |S1 / G1|)) of its crossing exponent
// (Cauchy-Schwarz on V, d >= r / (1 + r) for r = |S / G|) is below far_exponent; multiplied
// out, without a division. A pool without exposure (0 < 0) is no candidate unless it ended at 0.
// With OneAsset, z[k] the asset's bridge normal: the pool's own normal is sign(G1) z[k], and a
// path is settled here too when x >= 6 and that normal is above -sqrt(x) (see settle_bridge).
template <bool OneAsset>
[[MARGINSIM_HOT_KERNEL]] void flag_bridge_candidates(const double* __restrict s0, const double* __restrict g0,
                                                     const double* __restrict s1, const double* __restrict g1,
                                                     const double* __restrict spread, const double* __restrict scale,
                                                     const double* __restrict collateral, const double* __restrict z,
                                                     std::uint64_t* __restrict hit, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        const double a0 = std::abs(g0[k]), a1 = std::abs(g1[k]);
        const double variance = spread[k] * spread[k] * scale[k] * scale[k];
        const double numerator = 2.0 * s0[k] * s1[k] * std::min(a0, a1) * a1;
        const double denominator = variance * (a0 + std::abs(s0[k])) * (a1 + std::abs(s1[k]));
        std::uint64_t near = detail::at_most_bits(numerator, far_exponent * denominator);
        if constexpr (OneAsset) {
            // x >= 6 and (normal >= 0 or normal^2 < x): settled, with x = numerator / denominator.
            const double normal = g1[k] > 0.0 ? z[k] : -z[k];
            const std::uint64_t settled = ~detail::at_most_bits(numerator, 6.0 * denominator) &
                                          (~detail::at_most_bits(normal, 0.0) |
                                           ~detail::at_most_bits(numerator, normal * normal * denominator));
            near &= ~settled;
        }
        hit[k] = (detail::at_most_bits(s1[k], 0.0) | near) & detail::finite_bits(collateral[k]);
    }
}

// out[k] (+)= a_r x[k] y[k], a_r the coefficient of the path's regime r (0 or 1).
[[MARGINSIM_HOT_KERNEL]] void add_regime_product(double* __restrict out, const double* __restrict x,
                                                 const double* __restrict y, const std::uint8_t* __restrict regime,
                                                 double calm, double stress, bool add, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        const double term = (regime[k] != 0 ? stress : calm) * x[k] * y[k];
        out[k] = add ? out[k] + term : term;
    }
}

// flag_bridge_candidates for a pool of several assets, each held by one position, with the
// step's exact variance V = g' Sigma g and projection P = sum g_i s_i e_i of the bridge normals
// per path: settled also when x >= 6 and its normal P / sqrt(V) is above -sqrt(x), multiplied
// out (x is a lower bound of the crossing exponent with V in place of its bound).
[[MARGINSIM_HOT_KERNEL]] void flag_pool_candidates(const double* __restrict s0, const double* __restrict g0,
                                                   const double* __restrict s1, const double* __restrict g1,
                                                   const double* __restrict variance,
                                                   const double* __restrict projection,
                                                   const double* __restrict scale,
                                                   const double* __restrict collateral,
                                                   std::uint64_t* __restrict hit, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        const double a0 = std::abs(g0[k]), a1 = std::abs(g1[k]);
        const double numerator = 2.0 * s0[k] * s1[k] * std::min(a0, a1) * a1;
        const double denominator = variance[k] * scale[k] * scale[k] * (a0 + std::abs(s0[k])) * (a1 + std::abs(s1[k]));
        const double p = projection[k];
        const std::uint64_t settled =
            ~detail::at_most_bits(numerator, 6.0 * denominator) &
            (~detail::at_most_bits(p, 0.0) | ~detail::at_most_bits(numerator * variance[k], p * p * denominator));
        const std::uint64_t near = detail::at_most_bits(numerator, far_exponent * denominator) & ~settled;
        hit[k] = (detail::at_most_bits(s1[k], 0.0) | near) & detail::finite_bits(collateral[k]);
    }
}

}  // namespace

namespace detail {

// The time bin, 1 to bins, in which a Brownian bridge over the part [from, to] of the step, of
// variance v, from distance a > 0 above a barrier to distance b (> 0: it touched the barrier
// inside; <= 0: it ended beyond it), first reaches the barrier, at the w-quantile of that time's
// law. By the time
// change t = s / (1 + s) of the bridge into a Brownian motion with drift, s is inverse Gaussian
// of mean a / |b| and shape a^2 / v (reflection makes the law the same for b and -b); the bin
// is found by bisection over the bins' ends (none for a single bin).
int first_passage_bin(double a, double b, double v, double w, int bins, double from, double to) noexcept {
    const double mu = a / std::max(std::abs(b), std::numeric_limits<double>::min());
    const double lambda = a * a / v;
    // The first bin whose end has probability >= w, among those the bridge spans.
    int lo = std::min(bins, static_cast<int>(from * bins) + 1);
    int hi = std::clamp(static_cast<int>(std::ceil(to * bins)), lo, bins);
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        const double t = (static_cast<double>(mid) / bins - from) / (to - from);  // of the bridge
        if (t < 1.0 && inverse_gaussian_cdf(t / (1.0 - t), mu, lambda) < w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

}  // namespace detail

void BookState::monitor_bridges(const PathBlock& paths, std::size_t begin, std::size_t count, int step) {
    for (std::size_t g = 0; g < pools_.size(); ++g) {
        bridge_candidates(paths, g, begin, count);
        detail::visit_top_bits<chunk_>(bridge_hit_.data(), count,
                                       [&](std::size_t k) { settle_bridge(paths, g, begin, k, step); });
        // The step's end is the next bridge's start.
        const std::size_t row = g * stride_ + begin;
        std::copy_n(bridge_surplus_.data(), count, surplus_prev_.data() + row);
        std::copy_n(bridge_gamma_.data(), count, gamma_prev_.data() + row);
    }
}

// Pool g's surplus and log-price derivative at the step's end, and the paths on which it is
// open and may have crossed (flag_bridge_candidates).
void BookState::bridge_candidates(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t count) {
    const std::size_t row = g * stride_ + begin;
    const double* collateral = collateral_.data() + row;
    std::copy_n(collateral, count, bridge_surplus_.data());
    std::fill_n(bridge_gamma_.data(), count, 0.0);
    std::fill_n(bridge_spread_.data(), count, 0.0);
    const bool scaled = paths.garch();  // each path's own step sd per asset
    for (std::size_t j : pools_[g].positions) {
        const std::size_t asset = positions_[j].asset;
        if (scaled)
            add_scaled_position_terms(bridge_surplus_.data(), bridge_gamma_.data(), bridge_spread_.data(),
                                      position_upnl_.data() + j * chunk_, position_maintenance_.data() + j * chunk_,
                                      position_delta_.data() + j * chunk_, max_step_sd_[asset],
                                      paths.variance_scale(asset) + begin, count);
        else
            add_position_terms(bridge_surplus_.data(), bridge_gamma_.data(), bridge_spread_.data(),
                               position_upnl_.data() + j * chunk_, position_maintenance_.data() + j * chunk_,
                               position_delta_.data() + j * chunk_, max_step_sd_[asset], count);
    }
    const PoolTerms& pool = pools_[g];
    const auto flag = [&](auto one_asset, const double* z) {
        flag_bridge_candidates<decltype(one_asset)::value>(
            surplus_prev_.data() + row, gamma_prev_.data() + row, bridge_surplus_.data(), bridge_gamma_.data(),
            bridge_spread_.data(), paths.mixing_scale() + begin, collateral, z, bridge_hit_.data(), count);
    };
    // More than a quarter of the chunk's paths are candidates by the bound alone.
    const auto dense_candidates = [&](std::size_t n) {
        std::size_t candidates = 0;
        for (std::size_t k = 0; k < n; ++k) candidates += bridge_hit_[k] >> 63;
        return 4 * candidates > n;
    };
    if (pool.assets.size() == 1)
        flag(std::true_type{}, paths.bridge_normals(pool.assets[0]) + begin);
    else
        flag(std::false_type{}, nullptr);
    if (pool.assets.size() > 1 && pool.assets.size() == pool.positions.size() && dense_candidates(count)) {
        // One position per asset: its delta row is the asset's exposure, so the step's exact
        // variance and projection take a few vector passes, worth it when the bound of
        // flag_bridge_candidates leaves many candidates (coarse steps; the decisions are the
        // same either way).
        const std::size_t n = book_->asset_count();
        const std::array<std::vector<double>, 2>& covariance = book_->step_covariance();
        const std::uint8_t* regime = paths.step_regime() + begin;
        double* variance = bridge_variance_.data();
        double* projection = bridge_projection_.data();
        const std::vector<std::size_t>& held = pool.positions;
        for (std::size_t x = 0; x < held.size(); ++x) {
            const std::size_t i = positions_[held[x]].asset;
            const double* dx = position_delta_.data() + held[x] * chunk_;
            for (std::size_t y = 0; y <= x; ++y) {
                const std::size_t l = positions_[held[y]].asset;
                const double twice = y == x ? 1.0 : 2.0;
                const double* dy = position_delta_.data() + held[y] * chunk_;
                if (scaled)
                    add_scaled_product(variance, dx, paths.variance_scale(i) + begin, dy,
                                       paths.variance_scale(l) + begin, twice * covariance[0][i * n + l], x + y > 0,
                                       count);
                else
                    add_regime_product(variance, dx, dy, regime, twice * covariance[0][i * n + l],
                                       twice * covariance[1][i * n + l], x + y > 0, count);
            }
            if (scaled)
                add_scaled_projection(projection, dx, paths.variance_scale(i) + begin,
                                      paths.bridge_normals(i) + begin, std::sqrt(covariance[0][i * n + i]), x > 0,
                                      count);
            else
                add_regime_product(projection, dx, paths.bridge_normals(i) + begin, regime,
                                   std::sqrt(covariance[0][i * n + i]), std::sqrt(covariance[1][i * n + i]), x > 0,
                                   count);
        }
        flag_pool_candidates(surplus_prev_.data() + row, gamma_prev_.data() + row, bridge_surplus_.data(),
                             bridge_gamma_.data(), variance, projection, paths.mixing_scale() + begin, collateral,
                             bridge_hit_.data(), count);
    }
    // A step with jumps is no bridge from end to end: its open paths are settled one by one.
    const std::uint32_t* jumped = paths.jump_paths();
    for (std::size_t s = 0; s < paths.jump_count(); ++s) {
        const std::size_t p = jumped[s];
        if (p >= begin && p < begin + count && std::isfinite(collateral[p - begin]))
            bridge_hit_[p - begin] = ~std::uint64_t{0};
    }
}

namespace {

// The crossing law of one bridge of a pool's surplus, from (S0, G0) to (S1, G1) with variance v
// of the surplus over it (see the file's comment): P(touching zero inside) and the distances
// and variance the first-passage time needs; factor moves the end's prices to the liquidation
// prices.
struct Bridge {
    double probability = 0.0;
    double a = 0.0, b = 0.0, v = 0.0;
    double factor = 1.0;
};

Bridge bridge_of(double s0, double gamma0, double s1, double gamma1, double variance, bool one_direction) {
    // Log-equivalent distances for a pool whose exposures all point one way (a uniform move of
    // the prices is then what liquidates it) where both ends allow them; else the surplus itself
    // (a hedged pool's surplus moves with the spread between its assets, not with their level).
    const double f0 = 1.0 - s0 / gamma0, f1 = 1.0 - s1 / gamma1;
    const bool log_form = one_direction && f0 > 0.0 && f1 > 0.0 && (gamma0 > 0.0) == (gamma1 > 0.0) &&
                          std::isfinite(f0) && std::isfinite(f1);
    Bridge out;
    const double sign = gamma1 > 0.0 ? 1.0 : -1.0;
    out.a = log_form ? -sign * std::log(f0) : s0;
    out.b = log_form ? -sign * std::log(f1) : s1;
    out.v = log_form ? variance / (gamma1 * gamma1) : variance;
    out.factor = log_form ? f1 : 1.0;
    out.probability = s1 <= 0.0 ? 1.0 : std::exp(-2.0 * out.a * out.b / out.v);
    return out;
}

// The time bin of a crossing drawn with the conditional uniform w, for a bridge over the part
// [lo, hi] of the step.
int crossing_bin(const Bridge& bridge, double w, double lo, double hi, int bins) {
    return detail::first_passage_bin(bridge.a, bridge.b, bridge.v, w, bins, lo, hi);
}

}  // namespace

// The pool's surplus, its log-price derivative and its exposure per asset (into exposure_) at
// the given log prices of every asset: off the hot loop, for the prices around a jump.
BookState::PoolPoint BookState::pool_at(std::size_t g, const double* log_price) {
    PoolPoint out;
    const PoolTerms& pool = pools_[g];
    for (std::size_t i : pool.assets) exposure_[i] = 0.0;
    for (std::size_t j : pool.positions) {
        const PositionTerms& t = positions_[j];
        const double price = std::exp(log_price[t.asset]);
        const double notional = t.quantity * price;
        const std::vector<Tier>& tiers = book_->tiers_of_position(j);
        const Tier& tier = tiers[tier_index(tiers, notional)];
        const double upnl = t.signed_quantity * price - t.signed_entry;
        const double delta = t.signed_quantity * price - notional * tier.rate;
        out.surplus += upnl - (notional * tier.rate - tier.amount);
        out.gamma += delta;
        out.upnl += upnl;
        out.entry += t.signed_entry;
        out.notional += notional;
        exposure_[t.asset] += delta;
    }
    return out;
}

// Rare: pool g on path begin + k may have crossed inside the step. Decides with the step's
// bridge normals, and liquidates it at its liquidation prices at the drawn time if it did.
void BookState::settle_bridge(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t k, int step) {
    const PoolTerms& pool = pools_[g];
    const std::size_t p = begin + k;
    const std::size_t at = g * stride_ + p;
    const double s0 = surplus_prev_[at], gamma0 = gamma_prev_[at];
    const double s1 = bridge_surplus_[k], gamma1 = bridge_gamma_[k];
    const std::int32_t jump = paths.jump_slot(p);
    if (jump < 0) {
        for (std::size_t i : pool.assets) exposure_[i] = 0.0;
        for (std::size_t j : pool.positions) exposure_[positions_[j].asset] += position_delta_[j * chunk_ + k];
    } else {
        // The exposures just before the jump (the uniform's direction is that of the first part).
        pool_at(g, paths.pre_jump_log_price(static_cast<std::size_t>(jump)));
    }
    // garch: each asset's step sd is the path's own, so its exposure to the scenario's covariance
    // is scaled by sqrt(h / h_0) (the signs, and so one_direction, are unchanged).
    if (paths.garch())
        for (std::size_t i : pool.assets) exposure_[i] *= paths.variance_scale(i)[p];
    const std::size_t n = book_->asset_count();
    const std::vector<double>& covariance = book_->step_covariance()[paths.step_regime()[p]];
    double variance = 0.0;    // g' Sigma g of the step
    double projection = 0.0;  // sum g_i s_i e_i: of variance g' Sigma g
    bool one_direction = true;  // every exposure of one sign: no asset hedges another
    for (std::size_t i : pool.assets) {
        one_direction = one_direction && (exposure_[i] > 0.0) == (gamma1 > 0.0);
        for (std::size_t l : pool.assets) variance += exposure_[i] * exposure_[l] * covariance[i * n + l];
        projection += exposure_[i] * std::sqrt(covariance[i * n + i]) * paths.bridge_normals(i)[p];
    }
    const int ticks = book_->ticks_per_step();
    if (!(variance > 0.0)) {  // nothing moves the surplus inside the step: the end decides
        if (s1 <= 0.0) liquidate_at_step_prices(paths, g, p, 1.0, step, step * ticks);
        return;
    }
    const double z = projection / std::sqrt(variance);
    const double scale = paths.mixing_scale()[p];
    if (s1 > 0.0 && jump < 0) {
        // Most candidates are settled here, without a transcendental function: the crossing
        // probability is at most exp(-bound) (flag_bridge_candidates' bound), and for bound >= 6
        // Phi(z) >= exp(-bound) whenever z > -sqrt(bound) (Mills' ratio).
        const double spread = bridge_spread_[k] * scale;
        const double a0 = std::abs(gamma0), a1 = std::abs(gamma1);
        const double bound = 2.0 * s0 * s1 * std::min(a0, a1) * a1 /
                             (spread * spread * (a0 + std::abs(s0)) * (a1 + std::abs(s1)));
        if (bound >= 6.0 && (z >= 0.0 || z * z < bound)) return;
    }
    const double u = normal_cdf(z);
    variance *= scale * scale;
    if (jump >= 0) {
        settle_jump_step(paths, g, p, k, step, static_cast<std::size_t>(jump), u, variance, one_direction);
        return;
    }
    const Bridge bridge = bridge_of(s0, gamma0, s1, gamma1, variance, one_direction);
    if (!(u < bridge.probability)) return;
    const double w = u / bridge.probability;  // uniform on (0, 1) given the crossing
    const int tick = time_matters(g, p, step) ? (step - 1) * ticks + crossing_bin(bridge, w, 0.0, 1.0, ticks)
                                              : step * ticks;
    liquidate_at_step_prices(paths, g, p, bridge.factor, step, tick);
}

// Closes pool g on path p at the liquidation prices: the step's prices of its assets moved by
// the factor that brings its surplus to 0 (1: the step's prices themselves).
void BookState::liquidate_at_step_prices(const PathBlock& paths, std::size_t g, std::size_t p, double factor,
                                         int step, int tick) {
    double upnl = 0.0, notional = 0.0;
    for (std::size_t j : pools_[g].positions) {
        const PositionTerms& t = positions_[j];
        const double price = paths.price(t.asset)[p] * factor;
        upnl += t.signed_quantity * price - t.signed_entry;
        notional += t.quantity * price;
    }
    liquidate(g, p, upnl, notional, step, tick);
}

// Whether the time inside the step of pool g's liquidation on path p can be the time of some
// mode's first liquidation (the only use of times inside steps): not when every mode holding
// the pool liquidated at an earlier step. Saves drawing most times of later liquidations.
bool BookState::time_matters(std::size_t g, std::size_t p, int step) const noexcept {
    for (std::size_t m = 0; m < mode_count; ++m) {
        if (!pools_[g].in_mode[m]) continue;
        bool earlier = false;
        for (std::size_t other : mode_pools_[m]) {
            const std::int32_t at = liquidated_at_[other * stride_ + p];
            earlier = earlier || (at != 0 && at < step);
        }
        if (!earlier) return true;
    }
    return false;
}

// A step in which the path's jumps arrive at time t: the bridge up to t, the jump itself (a
// surplus that the jump takes to zero or below liquidates at the prices after it), then the
// bridge from t to the step's end; one uniform decides, the second part given the first passed.
void BookState::settle_jump_step(const PathBlock& paths, std::size_t g, std::size_t p, std::size_t k, int step,
                                 std::size_t slot, double u, double variance, bool one_direction) {
    const std::size_t at = g * stride_ + p;
    const double collateral = collateral_[at];
    const int ticks = book_->ticks_per_step();
    const double t = paths.jump_time(slot);
    const double* before = paths.pre_jump_log_price(slot);
    const PoolPoint pre = pool_at(g, before);
    std::vector<double>& after = jump_scratch_;
    const std::size_t n = book_->asset_count();
    for (std::size_t i = 0; i < n; ++i) after[i] = before[i] + paths.jump_sizes(slot)[i];
    const PoolPoint post = pool_at(g, after.data());
    const double s_pre = collateral + pre.surplus, s_post = collateral + post.surplus;
    const auto liquidate_at = [&](const PoolPoint& point, double factor, int tick) {
        // At the point's prices moved by factor (1 at a jump's own prices).
        const double upnl = (point.upnl + point.entry) * factor - point.entry;
        liquidate(g, p, upnl, point.notional * factor, step, tick);
    };
    const Bridge first = bridge_of(surplus_prev_[at], gamma_prev_[at], s_pre, pre.gamma, variance * t, one_direction);
    if (u < first.probability) {
        liquidate_at(pre, first.factor, (step - 1) * ticks + crossing_bin(first, u / first.probability, 0.0, t, ticks));
        return;
    }
    const int jump_tick = (step - 1) * ticks + std::min(ticks, static_cast<int>(t * ticks) + 1);
    if (s_post <= 0.0) {  // gapped through the liquidation prices: closed at the prices after the jump
        liquidate_at(post, 1.0, jump_tick);
        return;
    }
    const double rest = (u - first.probability) / (1.0 - first.probability);  // uniform, given no crossing
    const double s1 = bridge_surplus_[k], gamma1 = bridge_gamma_[k];
    const Bridge second = bridge_of(s_post, post.gamma, s1, gamma1, variance * (1.0 - t), one_direction);
    if (!(rest < second.probability)) return;
    const int tick = (step - 1) * ticks + crossing_bin(second, rest / second.probability, t, 1.0, ticks);
    liquidate_at_step_prices(paths, g, p, second.factor, step, tick);
}

}  // namespace marginsim
