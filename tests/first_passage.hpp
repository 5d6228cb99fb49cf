#pragma once
// The exact first-passage law of geometric Brownian motion, and the liquidation price of one
// isolated position with a flat maintenance rate (SPEC 3.1) in log price: the closed forms the
// monitoring and importance-sampling tests check the engine against.

#include <cmath>

#include "marginsim/scenario.hpp"

namespace marginsim::testing {

inline constexpr double days_per_year = 365.0;

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// P(min over [0, t] of a Brownian motion from 0 with drift nu and volatility vol <= b), b < 0:
// Phi((b - nu t) / (vol sqrt t)) + exp(2 nu b / vol^2) Phi((b + nu t) / (vol sqrt t)).
inline double first_passage_below(double b, double nu, double vol, double t) {
    const double s = vol * std::sqrt(t);
    return normal_cdf((b - nu * t) / s) + std::exp(2.0 * nu * b / (vol * vol)) * normal_cdf((b + nu * t) / s);
}

// P(max over [0, t] >= c), c > 0: the mirror -x has drift -nu and meets -c from above, so this
// is first_passage_below(-c, -nu, vol, t)
//   = Phi((nu t - c) / (vol sqrt t)) + exp(2 nu c / vol^2) Phi(-(c + nu t) / (vol sqrt t)).
inline double first_passage_above(double c, double nu, double vol, double t) {
    return first_passage_below(-c, -nu, vol, t);
}

// SPEC 3.1 with a flat rate r, quantity q = margin L / P0: margin + s q (H - P0) = q H r gives
// H = P0 (1 - s / L) / (1 - s r); in log price relative to the start, ln(H / P0).
inline double log_liquidation_distance(Side side, double leverage, double rate) {
    const double s = sign(side);
    return std::log((1.0 - s / leverage) / (1.0 - s * rate));
}

// P(the position's price path touches its liquidation price by t years) under continuous
// monitoring, the price a GBM with log drift mu - vol^2 / 2.
inline double continuous_liquidation(Side side, double volatility, double drift, double leverage, double rate,
                                     double years, double barrier_shift = 0.0) {
    const double nu = drift - 0.5 * volatility * volatility;
    const double distance = log_liquidation_distance(side, leverage, rate);
    // barrier_shift moves the barrier away from the start (BGK).
    return side == Side::long_side ? first_passage_below(distance - barrier_shift, nu, volatility, years)
                                   : first_passage_above(distance + barrier_shift, nu, volatility, years);
}

}  // namespace marginsim::testing
