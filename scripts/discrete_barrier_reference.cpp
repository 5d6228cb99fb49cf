// The exact probability that a discretely monitored GBM touches a barrier, next to the
// continuous first-passage law and the Broadie-Glasserman-Kou corrected formula: how large
// BGK's own error is for the cases of tests/test_monitoring.cpp (the allowance the test adds to
// its 4 standard errors). A one-off computation, not part of the build:
//
//   g++ -O2 -std=c++20 scripts/discrete_barrier_reference.cpp -o /tmp/discrete_barrier_reference
//   /tmp/discrete_barrier_reference
//
// Method: the log price is a Gaussian random walk (drift nu dt, deviation s = vol sqrt(dt) per
// step). Its density on the paths that have not touched the barrier is propagated step by step
// on a grid (trapezoid rule on the transition density, the grid starting at the barrier), so
// that P(touched at a monitoring date) = 1 - the mass left after the last step. The grid is
// refined until the probability moves by less than 1e-5; both grids are printed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// P(min over [0, t] of a Brownian motion with drift nu and volatility vol <= b), b < 0.
double first_passage_below(double b, double nu, double vol, double t) {
    const double s = vol * std::sqrt(t);
    return normal_cdf((b - nu * t) / s) + std::exp(2.0 * nu * b / (vol * vol)) * normal_cdf((b + nu * t) / s);
}

// P(min over k = 1..m of a random walk with steps N(mu, s^2) <= b), b < 0, on a grid of
// `per_s` points per step deviation.
double discrete_passage_below(double b, double mu, double s, int m, int per_s) {
    const double h = s / per_s;
    const double top = std::max(0.0, mu * m) + 10.0 * s * std::sqrt(static_cast<double>(m)) + 10.0 * s;
    const auto n = static_cast<std::size_t>(std::ceil((top - b) / h)) + 1;
    const auto band = static_cast<std::ptrdiff_t>(std::ceil(10.0 * per_s)) + 1;
    std::vector<double> kernel(static_cast<std::size_t>(2 * band + 1));
    for (std::ptrdiff_t d = -band; d <= band; ++d) {
        const double z = (static_cast<double>(d) * h - mu) / s;
        kernel[static_cast<std::size_t>(d + band)] = std::exp(-0.5 * z * z) / (s * std::sqrt(2.0 * M_PI));
    }
    std::vector<double> f(n), g(n);
    for (std::size_t i = 0; i < n; ++i) {  // after the first step, from x = 0
        const double z = (b + static_cast<double>(i) * h - mu) / s;
        f[i] = std::exp(-0.5 * z * z) / (s * std::sqrt(2.0 * M_PI));
    }
    // The walk starts at 0, which need not be a grid point: the first step is exact, the others
    // map grid to grid (kernel indexed by the distance in grid points; the start's offset is
    // carried by the first step alone).
    for (int k = 1; k < m; ++k) {
        for (std::size_t j = 0; j < n; ++j) {
            double sum = 0.0;
            const auto lo = std::max<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(j) - band);
            const auto hi = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(n) - 1, static_cast<std::ptrdiff_t>(j) + band);
            for (std::ptrdiff_t i = lo; i <= hi; ++i) {
                const double w = (i == 0 || i == static_cast<std::ptrdiff_t>(n) - 1) ? 0.5 : 1.0;
                sum += w * f[static_cast<std::size_t>(i)] *
                       kernel[static_cast<std::size_t>(static_cast<std::ptrdiff_t>(j) - i + band)];
            }
            g[j] = sum * h;
        }
        std::swap(f, g);
    }
    double mass = 0.5 * (f.front() + f.back());
    for (std::size_t i = 1; i + 1 < n; ++i) mass += f[i];
    return 1.0 - mass * h;
}

struct Case {
    const char* name;
    int side;  // +1 long (barrier below), -1 short (barrier above)
    double vol, drift, leverage, rate, days;
    int steps_per_day;
};

}  // namespace

int main() {
    const double beta = 0.5826;  // -zeta(1/2) / sqrt(2 pi)
    const Case cases[] = {
        {"long, drift 0", +1, 0.8, 0.0, 5, 0.005, 14, 4},   {"long, drift 0", +1, 0.8, 0.0, 5, 0.005, 14, 24},
        {"long, drift -2", +1, 0.8, -2.0, 5, 0.005, 14, 4}, {"long, drift -2", +1, 0.8, -2.0, 5, 0.005, 14, 24},
        {"short, drift 1.5", -1, 0.8, 1.5, 5, 0.005, 14, 4}, {"short, drift 1.5", -1, 0.8, 1.5, 5, 0.005, 14, 24},
    };
    std::printf("%-18s %4s %10s %10s %10s %10s %10s %10s\n", "case", "spd", "contin.", "BGK", "exact", "exact/2",
                "BGK-exact", "rel");
    for (const Case& c : cases) {
        // Isolated liquidation price (flat rate): long P0 (1 - 1/L) / (1 - r), short P0 (1 + 1/L) / (1 + r).
        const double ratio = c.side > 0 ? (1.0 - 1.0 / c.leverage) / (1.0 - c.rate)
                                        : (1.0 + 1.0 / c.leverage) / (1.0 + c.rate);
        // A short's barrier above is a long's barrier below for the mirrored log price -x.
        const double barrier = c.side > 0 ? std::log(ratio) : -std::log(ratio);
        const double nu = c.side * (c.drift - 0.5 * c.vol * c.vol);
        const double t = c.days / 365.0, dt = 1.0 / (365.0 * c.steps_per_day);
        const int m = static_cast<int>(std::lround(c.days * c.steps_per_day));
        const double continuous = first_passage_below(barrier, nu, c.vol, t);
        const double bgk = first_passage_below(barrier - beta * c.vol * std::sqrt(dt), nu, c.vol, t);
        const double s = c.vol * std::sqrt(dt);
        const double exact = discrete_passage_below(barrier, nu * dt, s, m, 20);
        const double exact_fine = discrete_passage_below(barrier, nu * dt, s, m, 40);
        std::printf("%-18s %4d %10.6f %10.6f %10.6f %10.6f %10.6f %10.4f\n", c.name, c.steps_per_day, continuous, bgk,
                    exact, exact_fine, bgk - exact_fine, (bgk - exact_fine) / exact_fine);
    }
}
