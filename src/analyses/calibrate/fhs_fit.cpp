// The fhs model's residual set: the daily log returns standardised by their one-day-ahead
// volatility, EWMA or GARCH(1,1), one vector of all assets per day (docs/analyses.md#fhs-residuals).

#include "marginsim/calibrate.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "analyses/calibrate/calibrate_parts.hpp"
#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

namespace {

void check_enough_days(const AlignedReturns& data) {
    const std::size_t n = data.return_count();
    if (n >= Fhs::min_days) return;
    std::string sources;
    for (const SeriesInfo& s : data.series) sources += (sources.empty() ? "" : ", ") + s.source;
    throw InputError(sources, 0, 0, "--model",
                     fmt::format("the window holds {} daily returns: too few for the fhs model's residual set", n),
                     fmt::format("at least {} daily returns all files share (a longer --window or history)",
                                 Fhs::min_days));
}

// Pearson correlation of the residuals: the [correlation] of the intraday steps' bridge.
void add_correlation(FhsResidualSet& set) {
    const std::size_t d = set.residuals.size();
    const double n = static_cast<double>(set.dates.size());
    const std::vector<double> covariance = detail::sample_covariance(set.residuals);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            const double r = i == j ? 1.0 : covariance[i * d + j] / std::sqrt(covariance[i * d + i] * covariance[j * d + j]);
            set.correlation.push_back({r, (1.0 - r * r) / std::sqrt(n)});
        }
    }
}

}  // namespace

FhsResidualSet fit_fhs_residuals(const AlignedReturns& data, double lambda) {
    check_enough_days(data);
    const std::size_t n = data.return_count();
    FhsResidualSet set;
    set.filter = FhsFilter::ewma;
    set.lambda = lambda;
    set.dates = data.return_dates;
    set.residuals.resize(data.asset_count());
    for (std::size_t i = 0; i < data.asset_count(); ++i) {
        const std::vector<double>& r = data.returns[i];
        const std::vector<double> h = ewma_filtered_variance(r, lambda);  // h[t]: before return t
        for (std::size_t t = 0; t < n; ++t) set.residuals[i].push_back(r[t] / std::sqrt(h[t]));
        set.start_variance.push_back(h[n]);
    }
    add_correlation(set);
    return set;
}

FhsResidualSet fit_fhs_residuals(const AlignedReturns& data, const std::vector<GarchEstimate>& garch) {
    check_enough_days(data);
    FhsResidualSet set;
    set.filter = FhsFilter::garch;
    set.dates = data.return_dates;
    // The mean comes off as in the fit: the engine's recursion squares the day's shock, its
    // return less the drift, which the scenario's drift sets apart.
    set.residuals = detail::garch_residuals(data, garch);
    for (const GarchEstimate& g : garch) set.start_variance.push_back(g.start_variance);
    add_correlation(set);
    return set;
}

}  // namespace marginsim
