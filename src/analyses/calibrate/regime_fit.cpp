// Two-state regime switching by EM (Baum-Welch: Hamilton's filter forward, the smoother
// backward) on the multivariate daily returns: each day calm or stress, a Markov chain between
// them, zero-mean gaussian returns with the regime's covariance.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/LU>

namespace marginsim {

namespace {

constexpr double days_per_year = 365.0;
constexpr double log_two_pi = 1.8378770664093453;

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

struct Emission {
    Eigen::LLT<Matrix> factor;
    double log_normaliser = 0.0;  // -(d ln 2 pi + ln det S) / 2
};

Emission emission_of(const Matrix& covariance) {
    Emission e{Eigen::LLT<Matrix>(covariance)};
    const double log_det = 2.0 * e.factor.matrixLLT().diagonal().array().log().sum();
    e.log_normaliser = -0.5 * (static_cast<double>(covariance.rows()) * log_two_pi + log_det);
    return e;
}

double log_density(const Emission& e, const Vector& x) {
    const Vector y = e.factor.matrixL().solve(x);
    return e.log_normaliser - 0.5 * y.squaredNorm();
}

// The weighted second moment sum_t w_t x_t x_t' / sum_t w_t, with a floor on the diagonal
// so that a regime that empties cannot collapse to a singular covariance.
Matrix weighted_covariance(const std::vector<Vector>& x, const std::vector<double>& w,
                           const Matrix& floor) {
    const auto d = x.front().size();
    Matrix s = Matrix::Zero(d, d);
    double total = 0.0;
    for (std::size_t t = 0; t < x.size(); ++t) {
        s += w[t] * x[t] * x[t].transpose();
        total += w[t];
    }
    s /= std::max(total, 1e-12);
    return s + floor;
}

std::vector<Vector> demeaned(const AlignedReturns& data) {
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    std::vector<Vector> x(n, Vector(static_cast<Eigen::Index>(d)));
    for (std::size_t i = 0; i < d; ++i) {
        const std::vector<double>& r = data.returns[i];
        const double mean = std::accumulate(r.begin(), r.end(), 0.0) / static_cast<double>(n);
        for (std::size_t t = 0; t < n; ++t) x[t](static_cast<Eigen::Index>(i)) = r[t] - mean;
    }
    return x;
}

struct Posterior {
    std::vector<std::array<double, 2>> state;          // P(regime s on day t | all data)
    std::array<std::array<double, 2>, 2> transitions;  // expected counts s -> s'
    std::array<double, 2> last_filtered;               // P(regime on the last day | data to it)
    double log_likelihood = 0.0;
};

// Forward (Hamilton's filter, normalised each day) and backward pass under the parameters.
Posterior smooth(const std::vector<Vector>& x, const std::array<Emission, 2>& emission,
                 const std::array<std::array<double, 2>, 2>& p) {
    const std::size_t n = x.size();
    const double stress_share = p[0][1] / (p[0][1] + p[1][0]);
    std::vector<std::array<double, 2>> filtered(n);
    std::vector<std::array<double, 2>> density(n);
    Posterior post;
    std::array<double, 2> prior{1.0 - stress_share, stress_share};
    for (std::size_t t = 0; t < n; ++t) {
        const std::array<double, 2> log_f{log_density(emission[0], x[t]), log_density(emission[1], x[t])};
        const double top = std::max(log_f[0], log_f[1]);
        double total = 0.0;
        for (int s = 0; s < 2; ++s) {
            density[t][s] = std::exp(log_f[s] - top);
            filtered[t][s] = prior[s] * density[t][s];
            total += filtered[t][s];
        }
        post.log_likelihood += top + std::log(total);
        for (int s = 0; s < 2; ++s) filtered[t][s] /= total;
        for (int s = 0; s < 2; ++s) prior[s] = filtered[t][0] * p[0][s] + filtered[t][1] * p[1][s];
    }
    post.last_filtered = filtered.back();
    post.state.assign(n, {0.0, 0.0});
    post.state[n - 1] = filtered[n - 1];
    post.transitions = {{{0.0, 0.0}, {0.0, 0.0}}};
    for (std::size_t t = n - 1; t-- > 0;) {
        // P(s_t = a, s_t+1 = b | all) = filtered_t(a) p_ab smoothed_t+1(b) / predicted_t+1(b).
        for (int b = 0; b < 2; ++b) {
            const double predicted = filtered[t][0] * p[0][b] + filtered[t][1] * p[1][b];
            for (int a = 0; a < 2; ++a) {
                const double joint = filtered[t][a] * p[a][b] * post.state[t + 1][b] / predicted;
                post.state[t][a] += joint;
                post.transitions[a][b] += joint;
            }
        }
    }
    return post;
}

// Standard errors of the two daily switch probabilities from the observed information of the
// likelihood in them (central differences), the covariances held at their estimates: the
// regimes being unobserved, far larger than the binomial error of the expected counts.
std::array<double, 2> switch_standard_errors(const std::vector<Vector>& x,
                                             const std::array<Matrix, 2>& covariance,
                                             const std::array<std::array<double, 2>, 2>& p) {
    const std::array<Emission, 2> emission{emission_of(covariance[0]), emission_of(covariance[1])};
    const std::array<double, 2> q{p[0][1], p[1][0]};
    const std::array<double, 2> h{0.02 * q[0], 0.02 * q[1]};
    const auto loglik = [&](double dq0, double dq1) {
        const double a = q[0] + dq0;
        const double b = q[1] + dq1;
        return smooth(x, emission, {{{1.0 - a, a}, {b, 1.0 - b}}}).log_likelihood;
    };
    const double centre = loglik(0.0, 0.0);
    Eigen::Matrix2d hessian;
    hessian(0, 0) = (loglik(h[0], 0.0) - 2.0 * centre + loglik(-h[0], 0.0)) / (h[0] * h[0]);
    hessian(1, 1) = (loglik(0.0, h[1]) - 2.0 * centre + loglik(0.0, -h[1])) / (h[1] * h[1]);
    hessian(0, 1) = hessian(1, 0) = (loglik(h[0], h[1]) - loglik(h[0], -h[1]) - loglik(-h[0], h[1]) +
                                     loglik(-h[0], -h[1])) / (4.0 * h[0] * h[1]);
    const Eigen::Matrix2d information = -hessian;
    const Eigen::LLT<Eigen::Matrix2d> positive(information);
    if (positive.info() != Eigen::Success) {
        return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    }
    const Eigen::Matrix2d covariance_q = information.inverse();
    return {std::sqrt(covariance_q(0, 0)), std::sqrt(covariance_q(1, 1))};
}

double per_year(double daily_probability) {
    return -days_per_year * std::log1p(-daily_probability);
}

}  // namespace

RegimeEstimate fit_regimes(const AlignedReturns& data) {
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    assert(n >= 3);
    const std::vector<Vector> x = demeaned(data);
    const auto size = static_cast<Eigen::Index>(d);
    // Start: the days whose return vector is largest (a quarter of them) as stress.
    const Matrix all = weighted_covariance(x, std::vector<double>(n, 1.0), Matrix::Zero(size, size));
    const Matrix floor = (1e-8 * all.diagonal()).asDiagonal();
    const Eigen::LLT<Matrix> all_factor(all + floor);
    std::vector<double> norm(n);
    for (std::size_t t = 0; t < n; ++t) norm[t] = all_factor.matrixL().solve(x[t]).squaredNorm();
    std::vector<double> sorted = norm;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(3 * n / 4), sorted.end());
    const double threshold = sorted[3 * n / 4];
    std::vector<double> stress_weight(n);
    std::vector<double> calm_weight(n);
    for (std::size_t t = 0; t < n; ++t) {
        stress_weight[t] = norm[t] > threshold ? 1.0 : 0.0;
        calm_weight[t] = 1.0 - stress_weight[t];
    }
    std::array<Matrix, 2> covariance{weighted_covariance(x, calm_weight, floor),
                                     weighted_covariance(x, stress_weight, floor)};
    std::array<std::array<double, 2>, 2> p{{{0.95, 0.05}, {0.15, 0.85}}};
    Posterior post;
    double previous = -std::numeric_limits<double>::infinity();
    int iteration = 0;
    for (; iteration < 1000; ++iteration) {
        post = smooth(x, {emission_of(covariance[0]), emission_of(covariance[1])}, p);
        for (int s = 0; s < 2; ++s) {
            std::vector<double> w(n);
            for (std::size_t t = 0; t < n; ++t) w[t] = post.state[t][s];
            covariance[s] = weighted_covariance(x, w, floor);
            const double leaving = post.transitions[s][0] + post.transitions[s][1];
            // Keep each switch probability inside (0, 1): a chain that never switches has no
            // finite intensity back.
            const double switch_probability =
                std::clamp(post.transitions[s][1 - s] / leaving, 1e-6, 1.0 - 1e-6);
            p[s][1 - s] = switch_probability;
            p[s][s] = 1.0 - switch_probability;
        }
        if (std::abs(post.log_likelihood - previous) <= 1e-10) break;
        previous = post.log_likelihood;
    }
    post = smooth(x, {emission_of(covariance[0]), emission_of(covariance[1])}, p);

    // Stress is the regime of the larger variance (the labels are otherwise arbitrary).
    const auto relative_variance = [&](const Matrix& c) {
        return (c.diagonal().array() / all.diagonal().array()).sum();
    };
    const int stress = relative_variance(covariance[1]) >= relative_variance(covariance[0]) ? 1 : 0;
    const int calm = 1 - stress;

    RegimeEstimate fit;
    fit.iterations = iteration;
    fit.log_likelihood = post.log_likelihood;
    std::array<double, 2> days{0.0, 0.0};
    for (const auto& state : post.state) {
        days[0] += state[calm];
        days[1] += state[stress];
    }
    fit.expected_days = days;
    fit.stress_probability_today = post.last_filtered[stress];
    const std::array<double, 2> switch_se = switch_standard_errors(x, covariance, p);
    const auto intensity = [&](int from) {
        const double q = p[from][1 - from];
        const auto index = static_cast<std::size_t>(from);
        return Estimate{per_year(q), days_per_year * switch_se[index] / (1.0 - q)};
    };
    fit.calm_to_stress = intensity(calm);
    fit.stress_to_calm = intensity(stress);
    for (int regime = 0; regime < 2; ++regime) {
        const Matrix& c = covariance[regime == 0 ? calm : stress];
        const double n_s = std::max(days[regime], 1.0);
        for (std::size_t i = 0; i < d; ++i) {
            const auto ii = static_cast<Eigen::Index>(i);
            const double vol = std::sqrt(days_per_year * c(ii, ii));
            fit.volatility[regime].push_back({vol, vol / std::sqrt(2.0 * n_s)});
        }
        for (std::size_t i = 0; i < d; ++i) {
            for (std::size_t j = 0; j < d; ++j) {
                const auto ii = static_cast<Eigen::Index>(i);
                const auto jj = static_cast<Eigen::Index>(j);
                const double r = i == j ? 1.0 : c(ii, jj) / std::sqrt(c(ii, ii) * c(jj, jj));
                fit.correlation[regime].push_back({r, i == j ? 0.0 : (1.0 - r * r) / std::sqrt(n_s)});
            }
        }
    }
    return fit;
}

}  // namespace marginsim
