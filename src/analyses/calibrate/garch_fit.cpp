// GARCH(1,1) by Gaussian quasi-maximum likelihood, with Bollerslev-Wooldridge robust standard
// errors, and the volatility filters (EWMA, GARCH) that standardise returns.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

#include <Eigen/Core>
#include <Eigen/LU>

namespace marginsim {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double log_two_pi = 1.8378770664093453;

double mean_of(std::span<const double> x) {
    return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double mean_square(std::span<const double> x) {
    double sum = 0.0;
    for (double v : x) sum += v * v;
    return sum / static_cast<double>(x.size());
}

// The optimiser works on unconstrained coordinates: omega = v exp(u0) (v the sample variance),
// persistence alpha + beta = logistic(u1), alpha's share of it = logistic(u2).
struct Parameters {
    double omega;
    double alpha;
    double beta;
};

double logistic(double u) { return 1.0 / (1.0 + std::exp(-u)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

// omega stays within [e^-40, e^10] times the sample variance: where the likelihood is flat in
// omega the simplex would otherwise walk u0 to -inf, and omega would underflow to 0.
constexpr double min_log_omega_ratio = -40.0;
constexpr double max_log_omega_ratio = 10.0;

Parameters from_coordinates(const std::array<double, 3>& u, double variance) {
    const double persistence = logistic(u[1]);
    const double share = logistic(u[2]);
    const double omega = variance * std::exp(std::clamp(u[0], min_log_omega_ratio, max_log_omega_ratio));
    const double alpha = persistence * share;
    double beta = persistence * (1.0 - share);
    // Rounded, alpha + beta can exceed the persistence (and 1) by an ulp.
    while (beta > 0.0 && alpha + beta > persistence) beta = std::nextafter(beta, 0.0);
    return {omega, alpha, beta};
}

// Gaussian log-likelihood of the residuals e under the recursion started at h_1 = start.
double log_likelihood(std::span<const double> e, const Parameters& p, double start) {
    double h = start;
    double sum = 0.0;
    for (std::size_t t = 0; t < e.size(); ++t) {
        if (t > 0) h = p.omega + p.alpha * e[t - 1] * e[t - 1] + p.beta * h;
        sum += std::log(h) + e[t] * e[t] / h;
    }
    const double value = -0.5 * (static_cast<double>(e.size()) * log_two_pi + sum);
    return std::isfinite(value) ? value : -std::numeric_limits<double>::infinity();
}

// Nelder-Mead on the negative log-likelihood in the unconstrained coordinates.
std::array<double, 3> nelder_mead(const auto& objective, std::array<double, 3> start,
                                  double step) {
    constexpr std::size_t n = 3;
    std::array<std::array<double, n>, n + 1> simplex;
    std::array<double, n + 1> value;
    for (std::size_t k = 0; k <= n; ++k) {
        simplex[k] = start;
        if (k > 0) simplex[k][k - 1] += step;
        value[k] = objective(simplex[k]);
    }
    for (int iteration = 0; iteration < 5000; ++iteration) {
        std::array<std::size_t, n + 1> order;
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return value[a] < value[b]; });
        const std::size_t best = order[0];
        const std::size_t worst = order[n];
        const std::size_t second = order[n - 1];
        double spread = 0.0;
        for (std::size_t k = 1; k <= n; ++k) {
            for (std::size_t i = 0; i < n; ++i) {
                spread = std::max(spread, std::abs(simplex[order[k]][i] - simplex[best][i]));
            }
        }
        if (std::abs(value[worst] - value[best]) <= 1e-11 * (1.0 + std::abs(value[best])) &&
            spread <= 1e-7) {
            break;
        }
        std::array<double, n> centroid{};
        for (std::size_t k = 0; k <= n; ++k) {
            if (k == worst) continue;
            for (std::size_t i = 0; i < n; ++i) centroid[i] += simplex[k][i] / n;
        }
        const auto along = [&](double t) {
            std::array<double, n> point;
            for (std::size_t i = 0; i < n; ++i) {
                point[i] = centroid[i] + t * (simplex[worst][i] - centroid[i]);
            }
            return point;
        };
        const std::array<double, n> reflected = along(-1.0);
        const double reflected_value = objective(reflected);
        if (reflected_value < value[best]) {
            const std::array<double, n> expanded = along(-2.0);
            const double expanded_value = objective(expanded);
            const bool expand = expanded_value < reflected_value;
            simplex[worst] = expand ? expanded : reflected;
            value[worst] = expand ? expanded_value : reflected_value;
        } else if (reflected_value < value[second]) {
            simplex[worst] = reflected;
            value[worst] = reflected_value;
        } else {
            const bool outside = reflected_value < value[worst];
            const std::array<double, n> contracted = along(outside ? -0.5 : 0.5);
            const double contracted_value = objective(contracted);
            if (contracted_value < std::min(value[worst], reflected_value)) {
                simplex[worst] = contracted;
                value[worst] = contracted_value;
            } else {
                for (std::size_t k = 0; k <= n; ++k) {
                    if (k == best) continue;
                    for (std::size_t i = 0; i < n; ++i) {
                        simplex[k][i] = simplex[best][i] + 0.5 * (simplex[k][i] - simplex[best][i]);
                    }
                    value[k] = objective(simplex[k]);
                }
            }
        }
    }
    return simplex[static_cast<std::size_t>(
        std::min_element(value.begin(), value.end()) - value.begin())];
}

// Bollerslev-Wooldridge: A^-1 B A^-1 with A = sum g g' / (2 h^2) (the expected Hessian of
// the Gaussian log-likelihood) and B = sum s s' (s = (e^2 / h - 1) g / (2 h), the scores),
// g = dh/d(omega, alpha, beta) by its own recursion. NaN where the matrix is singular.
std::array<double, 3> robust_standard_errors(std::span<const double> e, const Parameters& p,
                                             double start) {
    Eigen::Matrix3d a = Eigen::Matrix3d::Zero();
    Eigen::Matrix3d b = Eigen::Matrix3d::Zero();
    double h = start;
    Eigen::Vector3d g = Eigen::Vector3d::Zero();
    for (std::size_t t = 0; t < e.size(); ++t) {
        if (t > 0) {
            const double previous_square = e[t - 1] * e[t - 1];
            g = Eigen::Vector3d(1.0, previous_square, h) + p.beta * g;
            h = p.omega + p.alpha * previous_square + p.beta * h;
        }
        const Eigen::Vector3d score = 0.5 * (e[t] * e[t] / h - 1.0) / h * g;
        a += 0.5 / (h * h) * g * g.transpose();
        b += score * score.transpose();
    }
    const Eigen::FullPivLU<Eigen::Matrix3d> lu(a);
    if (!lu.isInvertible()) return {nan, nan, nan};
    const Eigen::Matrix3d inverse = lu.inverse();
    const Eigen::Matrix3d covariance = inverse * b * inverse;
    std::array<double, 3> se;
    for (int i = 0; i < 3; ++i) {
        se[static_cast<std::size_t>(i)] =
            covariance(i, i) > 0.0 ? std::sqrt(covariance(i, i)) : nan;
    }
    return se;
}

}  // namespace

double GarchEstimate::long_run_variance() const noexcept {
    const double persistence = alpha.value + beta.value;
    return persistence < 1.0 ? omega.value / (1.0 - persistence)
                             : std::numeric_limits<double>::infinity();
}

std::vector<double> garch_filtered_variance(std::span<const double> returns,
                                            const GarchEstimate& garch) {
    std::vector<double> h(returns.size() + 1);
    h[0] = garch.first_variance;
    for (std::size_t t = 0; t < returns.size(); ++t) {
        const double e = returns[t] - garch.mean;
        h[t + 1] = garch.omega.value + garch.alpha.value * e * e + garch.beta.value * h[t];
    }
    return h;
}

std::vector<double> ewma_filtered_variance(std::span<const double> returns, double lambda) {
    assert(lambda > 0.0 && lambda < 1.0);
    std::vector<double> h(returns.size() + 1);
    h[0] = mean_square(returns);
    for (std::size_t t = 0; t < returns.size(); ++t) {
        h[t + 1] = lambda * h[t] + (1.0 - lambda) * returns[t] * returns[t];
    }
    return h;
}

GarchEstimate fit_garch(std::span<const double> returns) {
    assert(returns.size() >= 3);
    GarchEstimate fit;
    fit.mean = mean_of(returns);
    std::vector<double> e(returns.begin(), returns.end());
    for (double& x : e) x -= fit.mean;
    const double variance = mean_square(e);
    fit.first_variance = variance;
    const auto objective = [&](const std::array<double, 3>& u) {
        return -log_likelihood(e, from_coordinates(u, variance), variance);
    };
    // Starts from slow to fast reaction; the likelihood of daily returns is often flat along
    // the ridge alpha + beta ~ 1, where one start alone can stop early.
    std::array<double, 3> best{};
    double best_value = std::numeric_limits<double>::infinity();
    for (const auto& [persistence, share] :
         {std::pair{0.95, 0.1}, std::pair{0.99, 0.05}, std::pair{0.8, 0.25}, std::pair{0.5, 0.5}}) {
        std::array<double, 3> start{std::log(1.0 - persistence), logit(persistence), logit(share)};
        for (int restart = 0; restart < 2; ++restart) start = nelder_mead(objective, start, 0.5);
        if (const double value = objective(start); value < best_value) {
            best_value = value;
            best = start;
        }
    }
    const Parameters p = from_coordinates(best, variance);
    fit.log_likelihood = -best_value;
    const std::array<double, 3> se = robust_standard_errors(e, p, variance);
    fit.omega = {p.omega, se[0]};
    fit.alpha = {p.alpha, se[1]};
    fit.beta = {p.beta, se[2]};
    // On a boundary the normal approximation behind a standard error does not hold.
    fit.alpha_at_zero = p.alpha < 1e-6;
    fit.beta_at_zero = p.beta < 1e-6;
    fit.integrated = p.alpha + p.beta > 1.0 - 1e-6;
    if (fit.alpha_at_zero) fit.alpha.standard_error = nan;
    if (fit.beta_at_zero) fit.beta.standard_error = nan;
    fit.start_variance = garch_filtered_variance(returns, fit).back();
    return fit;
}

}  // namespace marginsim
