// The fhs model's residual set: the daily log returns standardised by their one-day-ahead EWMA
// volatility, one vector of all assets per day (docs/analyses.md#fhs-residuals).

#include "marginsim/calibrate.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

FhsResidualSet fit_fhs_residuals(const AlignedReturns& data, double lambda) {
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    if (n < Fhs::min_days) {
        std::string sources;
        for (const SeriesInfo& s : data.series) sources += (sources.empty() ? "" : ", ") + s.source;
        throw InputError(sources, 0, 0, "--model",
                         fmt::format("the window holds {} daily returns: too few for the fhs model's residual set", n),
                         fmt::format("at least {} daily returns all files share (a longer --window or history)",
                                     Fhs::min_days));
    }
    FhsResidualSet set;
    set.lambda = lambda;
    set.dates = data.return_dates;
    set.residuals.resize(d);
    for (std::size_t i = 0; i < d; ++i) {
        const std::vector<double>& r = data.returns[i];
        const std::vector<double> h = ewma_filtered_variance(r, lambda);  // h[t]: before return t
        for (std::size_t t = 0; t < n; ++t) set.residuals[i].push_back(r[t] / std::sqrt(h[t]));
        set.start_variance.push_back(h[n]);
    }
    // Pearson correlation of the residuals: the [correlation] of the intraday steps' bridge.
    const std::vector<double> covariance = detail::sample_covariance(set.residuals);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            const double r = i == j ? 1.0 : covariance[i * d + j] / std::sqrt(covariance[i * d + i] * covariance[j * d + j]);
            set.correlation.push_back({r, (1.0 - r * r) / std::sqrt(static_cast<double>(n))});
        }
    }
    return set;
}

}  // namespace marginsim
