// The garch model's paths (docs/model.md#garch11): each asset's daily variance h follows its
// GARCH(1,1) recursion on every path, on the model's daily clock. A day's steps all use the
// variance of the day, sd sqrt(h / steps_per_day) and log drift (mu / 365 - h / 2) /
// steps_per_day, so that the day's return has variance h whatever steps_per_day is; after the
// day's last step h <- omega + alpha eps^2 + beta h, eps the day's summed innovation. The roll is
// done when the next day's first step is taken, so that the margin book monitors every step
// with the variance it was taken with.
#include "engine/market_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "numerics/vector_math.hpp"

namespace marginsim {

namespace {

// e[k] *= a.
[[MARGINSIM_HOT_KERNEL]] void scale_normals(double* __restrict e, double a, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) e[k] *= a;
}

// e[k] += a z[k].
[[MARGINSIM_HOT_KERNEL]] void add_normals(double* __restrict e, const double* __restrict z, double a,
                                          std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) e[k] += a * z[k];
}

// x[k] += drift[k] + s[k], s[k] = sd[k] e[k] (times the day's t scale when Mixed), the day's
// innovation eps[k] += s[k]; then p[k] moves with x (detail::move_log_prices).
template <bool Mixed>
[[MARGINSIM_HOT_KERNEL]] void advance_garch_row(double* __restrict x, double* __restrict p,
                                                const double* __restrict e, const double* __restrict drift,
                                                const double* __restrict sd, const double* __restrict mixing,
                                                double* __restrict eps, bool compound, std::size_t n) {
    const auto shock = [&](std::size_t k) {
        double s = sd[k] * e[k];
        if constexpr (Mixed) s *= mixing[k];
        eps[k] += s;
        return drift[k] + s;
    };
    detail::move_log_prices(x, p, n, compound, shock);
}

// The step sd, log drift and relative scale of a day of variance h[k].
[[MARGINSIM_HOT_KERNEL]] void day_of_variance(const double* __restrict h, double* __restrict sd,
                                              double* __restrict drift, double* __restrict scale,
                                              double mu_dt, double per_step, double start_variance,
                                              std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        sd[k] = std::sqrt(h[k] * per_step);
        drift[k] = mu_dt - 0.5 * h[k] * per_step;
        scale[k] = std::sqrt(h[k] / start_variance);
    }
}

}  // namespace

void MarketModel::start_garch(PathBlock& paths, std::size_t n) const {
    paths.enable_garch();
    const double per_step = 1.0 / steps_per_day_;
    for (std::size_t i = 0; i < asset_count(); ++i) {
        double* h = paths.garch_variance(i);
        std::fill_n(h, n, garch_start_variance_[i]);
        std::fill_n(paths.garch_day_shock(i), n, 0.0);
        day_of_variance(h, paths.garch_step_sd(i), paths.garch_step_drift(i), paths.variance_scale(i),
                        drift_per_step_[i], per_step, garch_start_variance_[i], n);
    }
}

// Parameter uncertainty (docs/model.md#parameter-uncertainty): W = (L A)(L A)' ~ Wishart(R, nu)
// by Bartlett's decomposition, R = L L' the correlation and A lower triangular with
// A_cc = sqrt(chi^2 of nu - c degrees of freedom) and standard normals below the diagonal; each
// path's variance of today h_i is scaled by W_ii / nu = |row i of L A|^2 / nu.
void MarketModel::draw_variance_factors(PathBlock& paths, std::size_t n, RandomStream& rng) const {
    const std::size_t assets = asset_count();
    // The diagonal's chi-squares, a block at a time, in the normals' scratch (draw() refills it).
    for (std::size_t c = 0; c < assets; ++c)
        rng.fill_chi_square(uncertainty_returns_ - static_cast<double>(c), {paths.normals(c), n});
    const double per_step = 1.0 / steps_per_day_;
    std::vector<double> a(assets);  // one column of A (once per block, not per step)
    for (std::size_t k = 0; k < n; ++k) {
        // Column by column: (L A)_ij = sum_{c=j..i} L_ic A_cj, its square added to W_ii (kept in
        // the day's innovation, still unused). A's column j is drawn as it is used.
        for (std::size_t i = 0; i < assets; ++i) paths.garch_day_shock(i)[k] = 0.0;
        for (std::size_t j = 0; j < assets; ++j) {
            a[j] = std::sqrt(paths.normals(j)[k]);
            for (std::size_t c = j + 1; c < assets; ++c) a[c] = rng.normal();
            for (std::size_t i = j; i < assets; ++i) {
                double entry = 0.0;
                for (std::size_t c = j; c <= i; ++c) entry += factor_[i * assets + c] * a[c];
                paths.garch_day_shock(i)[k] += entry * entry;
            }
        }
    }
    for (std::size_t i = 0; i < assets; ++i) {
        double* h = paths.garch_variance(i);
        double* w = paths.garch_day_shock(i);
        for (std::size_t k = 0; k < n; ++k) {
            h[k] *= w[k] / uncertainty_returns_;
            w[k] = 0.0;  // the day's innovation starts at 0
        }
        day_of_variance(h, paths.garch_step_sd(i), paths.garch_step_drift(i), paths.variance_scale(i),
                        drift_per_step_[i], per_step, garch_start_variance_[i], n);
    }
}

// A new day: h <- omega + alpha eps^2 + beta h with yesterday's innovation eps, which restarts.
void MarketModel::roll_garch_variance(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const double per_step = 1.0 / steps_per_day_;
    for (std::size_t i = 0; i < asset_count(); ++i) {
        const GarchParameters& g = garch_[i];
        double* h = paths.garch_variance(i);
        double* eps = paths.garch_day_shock(i);
        for (std::size_t k = 0; k < n; ++k) {
            h[k] = g.omega + g.alpha * eps[k] * eps[k] + g.beta * h[k];
            eps[k] = 0.0;
        }
        day_of_variance(h, paths.garch_step_sd(i), paths.garch_step_drift(i), paths.variance_scale(i),
                        drift_per_step_[i], per_step, garch_start_variance_[i], n);
    }
}

// e = L z in place for row i: called for rows from the last, as row i needs z_0..z_i, its own
// term first.
void MarketModel::correlate_normals_row(PathBlock& paths, std::size_t i) const {
    const std::size_t n = paths.size();
    const std::size_t assets = asset_count();
    double* e = paths.normals(i);
    scale_normals(e, factor_[i * assets + i], n);
    for (std::size_t c = 0; c < i; ++c)
        if (factor_[i * assets + c] != 0.0) add_normals(e, paths.normals(c), factor_[i * assets + c], n);
}

// Asset i moves by its step of the day's variance: drift + sqrt(h / steps_per_day) e, e its
// normals(i) (times the day's t scale when `mixing` is given).
void MarketModel::move_garch_row(PathBlock& paths, std::size_t i, const double* mixing) const {
    const auto row = [&](auto mixed) {
        advance_garch_row<decltype(mixed)::value>(paths.log_price(i), paths.price(i), paths.normals(i),
                                                  paths.garch_step_drift(i), paths.garch_step_sd(i), mixing,
                                                  paths.garch_day_shock(i), compound_, paths.size());
    };
    if (mixing != nullptr)
        row(std::true_type{});
    else
        row(std::false_type{});
}

void MarketModel::advance_garch(PathBlock& paths) const {
    const int step = paths.steps_taken() + 1;
    if (step > 1 && day_starts(step)) roll_garch_variance(paths);
    const double* mixing = daily_mixing_ ? paths.mixing_scale() : nullptr;
    for (std::size_t i = asset_count(); i-- > 0;) {
        correlate_normals_row(paths, i);
        move_garch_row(paths, i, mixing);
    }
}

}  // namespace marginsim
