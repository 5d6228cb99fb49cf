// Market-wide jumps: the days on which every asset fell by more than a few robust sigmas, their
// rate and their sizes (docs/analyses.md#jumps).

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace marginsim {

namespace {

constexpr double days_per_year = 365.0;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
// The median absolute deviation times this is the standard deviation of a normal sample.
constexpr double mad_to_sigma = 1.4826;

double median(std::vector<double> x) {
    assert(!x.empty());
    const std::size_t half = x.size() / 2;
    std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(half), x.end());
    const double upper = x[half];
    if (x.size() % 2 == 1) return upper;
    return 0.5 * (upper + *std::max_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(half)));
}

double robust_sigma(const std::vector<double>& returns) {
    const double centre = median(returns);
    std::vector<double> deviation(returns.size());
    std::transform(returns.begin(), returns.end(), deviation.begin(),
                   [centre](double r) { return std::abs(r - centre); });
    return mad_to_sigma * median(std::move(deviation));
}

bool is_jump_day(const AlignedReturns& data, const std::vector<double>& sigma, double threshold,
                 std::size_t k) {
    for (std::size_t i = 0; i < data.asset_count(); ++i) {
        // A robust sigma of 0 (more than half the returns equal) is no yardstick: no jump day.
        if (!(sigma[i] > 0.0 && data.returns[i][k] < -threshold * sigma[i])) return false;
    }
    return true;
}

// Mean and spread of one asset's returns on the jump days.
struct JumpSizeEstimate {
    Estimate mean;
    Estimate vol;
};

JumpSizeEstimate jump_size(const std::vector<double>& x, double sigma) {
    const double n = static_cast<double>(x.size());
    if (x.empty()) return {{nan, nan}, {nan, nan}};
    const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
    if (x.size() < 2) return {{mean, nan}, {0.0, nan}};
    double squares = 0.0;
    for (double v : x) squares += (v - mean) * (v - mean);
    const double variance = squares / (n - 1.0);
    const double jump_variance = variance - sigma * sigma;
    const double vol = jump_variance > 0.0 ? std::sqrt(jump_variance) : 0.0;
    // Delta method on the sample variance's normal-theory error, sqrt(2 / (n - 1)) variance.
    const double vol_error = vol > 0.0 ? std::sqrt(2.0 / (n - 1.0)) * variance / (2.0 * vol) : nan;
    return {{mean, std::sqrt(variance / n)}, {vol, vol_error}};
}

}  // namespace

JumpEstimate fit_jumps(const AlignedReturns& data, const std::vector<Estimate>& total_volatility,
                       double threshold_sigmas) {
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    assert(total_volatility.size() == d && n > 0);
    JumpEstimate fit;
    fit.threshold_sigmas = threshold_sigmas;
    fit.years = static_cast<double>(n) / days_per_year;
    for (const std::vector<double>& r : data.returns) fit.robust_sigma.push_back(robust_sigma(r));

    std::vector<std::size_t> jump_days;
    for (std::size_t k = 0; k < n; ++k) {
        if (is_jump_day(data, fit.robust_sigma, threshold_sigmas, k)) jump_days.push_back(k);
    }
    for (std::size_t k : jump_days) fit.days.push_back(data.return_dates[k]);
    const double count = static_cast<double>(jump_days.size());
    fit.intensity = {count / fit.years, std::sqrt(count) / fit.years};

    for (std::size_t i = 0; i < d; ++i) {
        std::vector<double> x;
        for (std::size_t k : jump_days) x.push_back(data.returns[i][k]);
        const JumpSizeEstimate size = jump_size(x, fit.robust_sigma[i]);
        fit.mean.push_back(size.mean);
        fit.vol.push_back(size.vol);
        // The jump part of the annual variance is intensity x E[J^2]; none without jump days.
        const double jump_variance = x.empty() ? 0.0
                                               : fit.intensity.value * (size.mean.value * size.mean.value +
                                                                        size.vol.value * size.vol.value);
        const double total = total_volatility[i].value;
        const double diffusion_variance = total * total - jump_variance;
        // Jumps that alone exceed the total variance (an EWMA volatility after calm weeks): the
        // robust sigma is the diffusion's own yardstick.
        const bool jumps_exceed = !(diffusion_variance > 0.0);
        fit.diffusion_volatility.push_back(jumps_exceed ? fit.robust_sigma[i] * std::sqrt(days_per_year)
                                                        : std::sqrt(diffusion_variance));
        fit.diffusion_at_robust_sigma.push_back(jumps_exceed);
    }
    return fit;
}

}  // namespace marginsim
