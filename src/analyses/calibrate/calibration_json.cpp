// The calibration as JSON: every fitted parameter with its standard error (`calibrate --json`).

#include "marginsim/calibrate.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace marginsim {

namespace {

using nlohmann::ordered_json;

// NaN (a standard error that does not hold) as null.
ordered_json number(double value) { return std::isfinite(value) ? ordered_json(value) : ordered_json(); }

ordered_json estimate(const Estimate& e) {
    return {{"estimate", number(e.value)}, {"std_error", number(e.standard_error)}};
}

ordered_json dof(const std::optional<DofEstimate>& fit) {
    if (!fit) return ordered_json();  // singular correlation: not fitted
    return {{"estimate", number(fit->estimate.value)},
            {"std_error", number(fit->estimate.standard_error)},
            {"at_bound", fit->at_bound}};
}

ordered_json matrix(const std::vector<Estimate>& entries, std::size_t d, bool errors) {
    ordered_json rows = ordered_json::array();
    for (std::size_t i = 0; i < d; ++i) {
        ordered_json row = ordered_json::array();
        for (std::size_t j = 0; j < d; ++j) {
            const Estimate& e = entries[i * d + j];
            row.push_back(i == j ? (errors ? ordered_json() : ordered_json(1.0))
                                 : number(errors ? e.standard_error : e.value));
        }
        rows.push_back(row);
    }
    return rows;
}

ordered_json garch(const GarchEstimate& g) {
    return {{"omega", g.omega.value},
            {"alpha", g.alpha.value},
            {"beta", g.beta.value},
            {"std_error",
             {{"omega", number(g.omega.standard_error)},
              {"alpha", number(g.alpha.standard_error)},
              {"beta", number(g.beta.standard_error)}}},
            {"persistence", g.persistence()},
            {"mean", g.mean},
            {"start_volatility", std::sqrt(365.0 * g.start_variance)},
            {"long_run_volatility", number(std::sqrt(365.0 * g.long_run_variance()))},
            {"log_likelihood", g.log_likelihood},
            {"alpha_at_zero", g.alpha_at_zero},
            {"integrated", g.integrated}};
}

ordered_json regimes(const std::optional<RegimeEstimate>& fit, std::size_t d) {
    if (!fit) return ordered_json();
    ordered_json out = {{"calm_to_stress", estimate(fit->calm_to_stress)},
                        {"stress_to_calm", estimate(fit->stress_to_calm)},
                        {"expected_days", {{"calm", fit->expected_days[0]}, {"stress", fit->expected_days[1]}}},
                        {"stress_probability_today", fit->stress_probability_today},
                        {"log_likelihood", fit->log_likelihood}};
    const char* names[2] = {"calm", "stress"};
    for (std::size_t r = 0; r < 2; ++r) {
        ordered_json volatility = ordered_json::array();
        for (const Estimate& e : fit->volatility[r]) volatility.push_back(estimate(e));
        out[names[r]] = {{"volatility", volatility},
                         {"correlation", matrix(fit->correlation[r], d, false)},
                         {"correlation_std_error", matrix(fit->correlation[r], d, true)}};
    }
    return out;
}

// {"filter": "ewma", "lambda": l, "dates": [D, ...], "residuals": {SYMBOL: [z, ...]},
// "start_volatility": {SYMBOL: v}, "correlation": [[...]]}: the residual set of the fhs model
// (filter "garch": no lambda, the recursions are each asset's "garch").
ordered_json fhs(const FhsResidualSet& set, const AlignedReturns& data) {
    const std::size_t d = data.asset_count();
    ordered_json dates = ordered_json::array();
    for (const Date date : set.dates) dates.push_back(format_date(date));
    ordered_json residuals = ordered_json::object();
    ordered_json start = ordered_json::object();
    for (std::size_t i = 0; i < d; ++i) {
        residuals[data.series[i].symbol] = set.residuals[i];
        start[data.series[i].symbol] = std::sqrt(365.0 * set.start_variance[i]);
    }
    ordered_json out = {{"filter", to_string(set.filter)}};
    if (set.filter == FhsFilter::ewma) out["lambda"] = set.lambda;
    out["days"] = set.dates.size();
    out["dates"] = std::move(dates);
    out["residuals"] = std::move(residuals);
    out["start_volatility"] = std::move(start);
    out["correlation"] = matrix(set.correlation, d, false);
    return out;
}

// {"threshold_sigmas": 3, "years": y, "days": [D, ...], "intensity": {...}, "assets":
// {SYMBOL: {"robust_sigma": s, "mean": {...}, "vol": {...}, "diffusion_volatility": v}}}.
ordered_json jumps(const JumpEstimate& fit, const AlignedReturns& data) {
    ordered_json days = ordered_json::array();
    for (const Date date : fit.days) days.push_back(format_date(date));
    ordered_json assets = ordered_json::object();
    for (std::size_t i = 0; i < data.asset_count(); ++i) {
        assets[data.series[i].symbol] = {{"robust_sigma", fit.robust_sigma[i]},
                                         {"mean", estimate(fit.mean[i])},
                                         {"vol", estimate(fit.vol[i])},
                                         {"diffusion_volatility", fit.diffusion_volatility[i]},
                                         {"diffusion_at_robust_sigma", static_cast<bool>(fit.diffusion_at_robust_sigma[i])}};
    }
    return {{"threshold_sigmas", fit.threshold_sigmas},
            {"years", fit.years},
            {"days", std::move(days)},
            {"intensity", estimate(fit.intensity)},
            {"assets", std::move(assets)}};
}

}  // namespace

std::string to_json(const Calibration& c) {
    const AlignedReturns& data = c.data;
    const std::size_t d = c.asset_count();
    ordered_json out;
    out["schema"] = "marginsim.calibration/1";
    out["as_of"] = c.as_of ? ordered_json(format_date(*c.as_of)) : ordered_json();
    out["window"] = {{"first_close", format_date(data.first_date)},
                     {"last_close", format_date(data.last_date)},
                     {"days_requested", data.window_days ? ordered_json(*data.window_days) : ordered_json()},
                     {"shorter_than_requested", data.window_truncated},
                     {"returns", data.return_count()},
                     {"returns_left_out", data.dropped_returns}};
    out["method"] = to_string(c.method);
    out["lambda"] = c.method == CovarianceMethod::ewma ? ordered_json(c.lambda) : ordered_json();
    out["effective_returns"] = c.effective_returns;
    out["uncertainty_returns"] = c.uncertainty_returns;
    out["model"] = c.model ? ordered_json(to_string(*c.model)) : ordered_json();
    ordered_json assets = ordered_json::array();
    for (std::size_t i = 0; i < d; ++i) {
        const SeriesInfo& s = data.series[i];
        assets.push_back({{"symbol", s.symbol},
                          {"source", s.source},
                          {"last_close", data.last_close[i]},
                          {"volatility", estimate(c.volatility[i])},
                          {"excess_kurtosis", c.excess_kurtosis[i]},
                          {"garch", garch(c.garch[i])}});
    }
    out["assets"] = assets;
    out["correlation"] = {{"matrix", matrix(c.correlation, d, false)},
                          {"std_error", matrix(c.correlation, d, true)}};
    out["student_t"] = {{"dof", dof(c.dof)}};
    out["garch_residuals"] = {{"correlation", matrix(c.garch_correlation, d, false)},
                              {"correlation_std_error", matrix(c.garch_correlation, d, true)},
                              {"dof", dof(c.garch_dof)}};
    out["regimes"] = regimes(c.regimes, d);  // null unless fitted (--model regime, --json)
    if (c.fhs) out["fhs"] = fhs(*c.fhs, data);  // --model fhs only
    out["jumps"] = jumps(c.jumps, data);
    out["notes"] = c.notes;
    return out.dump(2) + '\n';
}

}  // namespace marginsim
