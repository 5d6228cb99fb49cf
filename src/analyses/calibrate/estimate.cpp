// The estimators: sample and EWMA covariance, volatilities and correlations with their
// standard errors, and the Student-t dof by maximum likelihood.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <fmt/format.h>

#include "analyses/calibrate/calibrate_parts.hpp"
#include "marginsim/error.hpp"

namespace marginsim {

std::string_view to_string(CovarianceMethod method) noexcept {
    switch (method) {
        case CovarianceMethod::sample: return "sample";
        case CovarianceMethod::ewma: return "ewma";
    }
    return "unknown";
}

std::string_view to_string(CalibratedModel model) noexcept {
    switch (model) {
        case CalibratedModel::gaussian: return "gaussian";
        case CalibratedModel::student_t: return "student_t";
        case CalibratedModel::garch: return "garch";
        case CalibratedModel::regime: return "regime";
        case CalibratedModel::fhs: return "fhs";
        case CalibratedModel::jump: return "jump";
    }
    return "unknown";
}

std::optional<CalibratedModel> calibrated_model_from(std::string_view name) noexcept {
    for (const CalibratedModel model : all_calibrated_models) {
        if (name == to_string(model)) return model;
    }
    return std::nullopt;
}

namespace detail {

namespace {

// ln Gamma(x) for x > 0. Not std::lgamma: glibc's writes the global signgam, a data race when
// calibrations run in parallel (backtest); lgamma_r returns the sign instead.
double log_gamma(double x) noexcept {
    int sign = 0;
    return ::lgamma_r(x, &sign);
}

std::vector<double> means(const std::vector<std::vector<double>>& returns) {
    std::vector<double> result;
    for (const std::vector<double>& r : returns) {
        double sum = 0.0;
        for (double x : r) sum += x;
        result.push_back(sum / static_cast<double>(r.size()));
    }
    return result;
}

}  // namespace

std::vector<double> sample_covariance(const std::vector<std::vector<double>>& returns) {
    const std::size_t d = returns.size();
    const std::size_t n = returns[0].size();
    assert(n >= 2);
    const std::vector<double> mean = means(returns);
    std::vector<double> covariance(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double sum = 0.0;
            for (std::size_t k = 0; k < n; ++k) {
                sum += (returns[i][k] - mean[i]) * (returns[j][k] - mean[j]);
            }
            covariance[i * d + j] = covariance[j * d + i] = sum / static_cast<double>(n - 1);
        }
    }
    return covariance;
}

std::vector<double> ewma_covariance(const std::vector<std::vector<double>>& returns,
                                    double lambda) {
    assert(lambda > 0.0 && lambda < 1.0);
    const std::size_t d = returns.size();
    const std::size_t n = returns[0].size();
    // Weights lambda^(n-1-k), from the newest return back, normalised to sum to 1.
    std::vector<double> weight(n);
    double total = 0.0;
    double w = 1.0;
    for (std::size_t k = n; k-- > 0;) {
        weight[k] = w;
        total += w;
        w *= lambda;
    }
    std::vector<double> covariance(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double sum = 0.0;
            for (std::size_t k = 0; k < n; ++k) sum += weight[k] * returns[i][k] * returns[j][k];
            covariance[i * d + j] = covariance[j * d + i] = sum / total;
        }
    }
    return covariance;
}

double ewma_effective_count(std::size_t n, double lambda) {
    double sum = 0.0;
    double sum_sq = 0.0;
    double w = 1.0;
    for (std::size_t k = 0; k < n; ++k) {
        sum += w;
        sum_sq += w * w;
        w *= lambda;
    }
    return sum * sum / sum_sq;
}

double student_t_log_likelihood(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                                double dof, double scale) {
    assert(dof > 2.0 && scale > 0.0);
    const double d = static_cast<double>(dimension);
    const double n = static_cast<double>(mahalanobis_sq.size());
    // Unit variance: scale matrix R (dof - 2) / dof, so 1 + m / dof becomes 1 + m / (dof - 2).
    const double divisor = scale * (dof - 2.0);
    double tail = 0.0;
    for (double m : mahalanobis_sq) tail += std::log1p(m / divisor);
    return n * (log_gamma(0.5 * (dof + d)) - log_gamma(0.5 * dof) -
                0.5 * d * std::log(dof - 2.0) - 0.5 * d * std::log(scale)) -
           0.5 * (dof + d) * tail;
}

double student_t_scale(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                       double dof) {
    // The score equation in s, n d = (dof + d) sum q / (1 + q) with q = m / (s (dof - 2)),
    // solved by its fixed-point (EM) iteration from s = 1.
    const double d = static_cast<double>(dimension);
    const double n = static_cast<double>(mahalanobis_sq.size());
    double s = 1.0;
    for (int iteration = 0; iteration < 500; ++iteration) {
        double sum = 0.0;
        for (double m : mahalanobis_sq) sum += m / (dof - 2.0 + m / s);
        const double next = (dof + d) / (n * d) * sum;
        const bool done = std::abs(next - s) <= 1e-12 * s;
        s = next;
        if (done) break;
    }
    return s;
}

double student_t_profile_log_likelihood(const std::vector<double>& mahalanobis_sq,
                                        std::size_t dimension, double dof) {
    return student_t_log_likelihood(mahalanobis_sq, dimension, dof,
                                    student_t_scale(mahalanobis_sq, dimension, dof));
}

DofEstimate fit_student_t_dof(const std::vector<double>& mahalanobis_sq, std::size_t dimension) {
    // Search in u = log(dof - 2): the likelihood changes fastest near 2. A grid finds the
    // peak's bracket, golden-section search refines it.
    const auto loglik = [&](double u) {
        return student_t_profile_log_likelihood(mahalanobis_sq, dimension, 2.0 + std::exp(u));
    };
    const double lo = std::log(min_dof - 2.0);
    const double hi = std::log(max_dof - 2.0);
    constexpr int grid = 120;
    const auto grid_u = [&](int k) { return lo + (hi - lo) * k / grid; };
    int best = 0;
    double best_value = loglik(lo);
    for (int k = 1; k <= grid; ++k) {
        const double value = loglik(grid_u(k));
        if (value > best_value) {
            best = k;
            best_value = value;
        }
    }
    DofEstimate result;
    if (best == 0 || best == grid) {
        result.at_bound = true;
        result.estimate = {best == 0 ? min_dof : max_dof, std::numeric_limits<double>::quiet_NaN()};
        return result;
    }
    const double golden = 0.5 * (std::sqrt(5.0) - 1.0);
    double a = grid_u(best - 1);
    double b = grid_u(best + 1);
    double c = b - golden * (b - a);
    double e = a + golden * (b - a);
    double fc = loglik(c);
    double fe = loglik(e);
    while (b - a > 1e-10) {
        if (fc > fe) {
            b = e;
            e = c;
            fe = fc;
            c = b - golden * (b - a);
            fc = loglik(c);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + golden * (b - a);
            fe = loglik(e);
        }
    }
    const double dof = 2.0 + std::exp(0.5 * (a + b));
    // Observed information: minus the second derivative in dof, by central differences.
    const double h = 1e-2 * (dof - 2.0);
    const auto at = [&](double v) {
        return student_t_profile_log_likelihood(mahalanobis_sq, dimension, v);
    };
    const double curvature = (at(dof + h) - 2.0 * at(dof) + at(dof - h)) / (h * h);
    result.estimate = {dof, curvature < 0.0 ? 1.0 / std::sqrt(-curvature)
                                            : std::numeric_limits<double>::quiet_NaN()};
    return result;
}

}  // namespace detail

namespace {

constexpr double days_per_year = 365.0;

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> excess_kurtosis(const std::vector<std::vector<double>>& returns) {
    std::vector<double> result;
    for (const std::vector<double>& r : returns) {
        double mean = 0.0;
        for (double x : r) mean += x;
        mean /= static_cast<double>(r.size());
        double m2 = 0.0;
        double m4 = 0.0;
        for (double x : r) {
            const double s = (x - mean) * (x - mean);
            m2 += s;
            m4 += s * s;
        }
        m2 /= static_cast<double>(r.size());
        m4 /= static_cast<double>(r.size());
        result.push_back(m4 / (m2 * m2) - 3.0);
    }
    return result;
}

std::vector<double> correlation_of(const std::vector<double>& covariance, std::size_t d) {
    std::vector<double> correlation(d * d);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            correlation[i * d + j] =
                i == j ? 1.0
                       : covariance[i * d + j] /
                             std::sqrt(covariance[i * d + i] * covariance[j * d + j]);
        }
    }
    return correlation;
}

// Below this standard deviation of daily log returns a series moves no more than the rounding
// of its closes: a log close carries an error of some 1e-13 even at 1e300, while a market's
// smallest move, one tick, is about 1e-8 of the price or more.
constexpr double rounding_sd = 1e-10;

// A series whose returns do not vary has no volatility, and its correlations with the others
// are 0/0: with constant growth the sample's are correlations of rounding noise.
void check_moving(const AlignedReturns& data) {
    const std::size_t d = data.asset_count();
    const std::vector<double> covariance = detail::sample_covariance(data.returns);
    for (std::size_t i = 0; i < d; ++i) {
        if (std::sqrt(covariance[i * d + i]) > rounding_sd) continue;
        const std::vector<double>& r = data.returns[i];
        const double growth = std::accumulate(r.begin(), r.end(), 0.0) / static_cast<double>(r.size());
        const std::string period =
            fmt::format("{} .. {}", format_date(data.first_date), format_date(data.last_date));
        const std::string what =
            std::abs(growth) <= rounding_sd
                ? fmt::format("the closes of {} do not move in {}", data.series[i].symbol, period)
                : fmt::format("the daily log returns of {} are constant in {} ({:.6g} every day): "
                              "no variance",
                              data.series[i].symbol, period, growth);
        throw InputError(data.series[i].source, 0, 0, "close",
                         what + ": no volatility, and no correlation with the other assets",
                         "prices whose daily moves vary in the window: market closes, not a "
                         "constant or a formula");
    }
}

using Residuals = std::vector<std::vector<double>>;  // [asset][k]

// Squared Mahalanobis norms of standardised residuals under their own correlation; none when
// that matrix is singular.
std::optional<std::vector<double>> mahalanobis_norms(const Residuals& z,
                                                     const std::vector<double>& correlation) {
    const std::size_t d = z.size();
    const std::size_t n = z[0].size();
    const auto size = static_cast<Eigen::Index>(d);
    const Eigen::MatrixXd r = Eigen::Map<const RowMajorMatrix>(correlation.data(), size, size);
    const Eigen::LLT<Eigen::MatrixXd> llt(r);
    if (llt.info() != Eigen::Success) return std::nullopt;
    const Eigen::MatrixXd l = llt.matrixL();
    if (l.diagonal().minCoeff() < 1e-6 * l.diagonal().maxCoeff()) return std::nullopt;
    Eigen::MatrixXd x(size, static_cast<Eigen::Index>(n));
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t k = 0; k < n; ++k) {
            x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) = z[i][k];
        }
    }
    const Eigen::MatrixXd y = llt.matrixL().solve(x);  // m_k = |L^-1 x_k|^2
    std::vector<double> norms(n);
    for (std::size_t k = 0; k < n; ++k) {
        norms[k] = y.col(static_cast<Eigen::Index>(k)).squaredNorm();
    }
    return norms;
}

// The returns standardised as the snippet's model sees them: by the sample mean and
// volatility (sample method), or by each day's one-day-ahead EWMA volatility (ewma method:
// the engine then starts from today's EWMA volatility, so the tails it needs are those of the
// returns given their volatility, which clustering makes thinner).
Residuals standardised_returns(const AlignedReturns& data, const std::vector<double>& covariance,
                               const CalibrationOptions& options) {
    const std::size_t d = data.asset_count();
    Residuals z(d);
    for (std::size_t i = 0; i < d; ++i) {
        const std::vector<double>& r = data.returns[i];
        if (options.method == CovarianceMethod::ewma) {
            const std::vector<double> h = ewma_filtered_variance(r, options.lambda);
            for (std::size_t k = 0; k < r.size(); ++k) z[i].push_back(r[k] / std::sqrt(h[k]));
        } else {
            const double mean = std::accumulate(r.begin(), r.end(), 0.0) / static_cast<double>(r.size());
            const double sd = std::sqrt(covariance[i * d + i]);
            for (double x : r) z[i].push_back((x - mean) / sd);
        }
    }
    return z;
}

std::optional<DofEstimate> fit_dof(const Residuals& z, const std::vector<double>& correlation) {
    if (const auto norms = mahalanobis_norms(z, correlation)) {
        return detail::fit_student_t_dof(*norms, z.size());
    }
    return std::nullopt;
}

// Correlation estimates with normal-theory standard errors corrected for fat tails (see
// calibrate in calibrate.hpp).
std::vector<Estimate> correlation_estimates(const std::vector<double>& correlation,
                                            const std::vector<double>& g2, double n_eff) {
    const std::size_t d = g2.size();
    std::vector<Estimate> result;
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            const double r = correlation[i * d + j];
            const double elliptical = std::max(0.0, 1.0 + (g2[i] + g2[j]) / 6.0);
            result.push_back({r, (1.0 - r * r) * std::sqrt(elliptical / n_eff)});
        }
    }
    return result;
}

void fit_garch_model(Calibration& c) {
    const AlignedReturns& data = c.data;
    const std::size_t d = data.asset_count();
    for (const std::vector<double>& r : data.returns) c.garch.push_back(fit_garch(r));
    const Residuals z = detail::garch_residuals(data, c.garch);
    const std::vector<double> correlation = correlation_of(detail::sample_covariance(z), d);
    c.garch_correlation =
        correlation_estimates(correlation, excess_kurtosis(z), static_cast<double>(data.return_count()));
    c.garch_dof = fit_dof(z, correlation);
}

void add_jump_notes(Calibration& c) {
    const JumpEstimate& j = c.jumps;
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        if (j.robust_sigma[i] > 0.0) continue;
        c.notes.push_back(fmt::format("{}: more than half its daily returns are equal (median absolute deviation 0): "
                                      "no yardstick for jumps, none counted",
                                      c.data.series[i].symbol));
    }
    if (j.days.empty()) {
        c.notes.push_back(fmt::format(
            "no market-wide jump day in the window (every asset below -{} robust sigmas on one day): "
            "intensity 0, the jump model is the gaussian; such days are rare (a few a year in crypto), "
            "a longer --window counts them",
            j.threshold_sigmas));
        return;
    }
    if (j.days.size() == 1) {
        c.notes.push_back(fmt::format("one market-wide jump day ({}): the spread of the jump sizes is unknown, "
                                      "vol 0; a longer --window counts more",
                                      format_date(j.days.front())));
    }
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        if (!j.diffusion_at_robust_sigma[i]) continue;
        c.notes.push_back(fmt::format(
            "{}: the jumps alone carry more variance than the window's volatility {:.4f}: the diffusion "
            "volatility is the robust sigma, {:.4f}",
            c.data.series[i].symbol, c.volatility[i].value, j.diffusion_volatility[i]));
    }
}

void add_notes(Calibration& c) {
    if (c.model == CalibratedModel::jump) add_jump_notes(c);
    const AlignedReturns& data = c.data;
    if (data.window_truncated) {
        c.notes.push_back(fmt::format(
            "the files share only {} .. {}: shorter than the {} days requested",
            format_date(data.first_date), format_date(data.last_date), *data.window_days));
    }
    if (data.dropped_returns > 0) {
        c.notes.push_back(
            fmt::format("{} calendar days of the window are missing from some file: the {} returns "
                        "spanning them are left out (a return over two days is not a daily return)",
                        data.missing_days, data.dropped_returns));
    }
    if (c.method == CovarianceMethod::ewma) {
        c.notes.push_back(fmt::format(
            "ewma with lambda {}: the estimates weigh about the last {:.0f} returns; standard "
            "errors use that effective number",
            c.lambda, c.effective_returns));
    }
    if (!c.dof) {
        c.notes.push_back(
            "the correlation matrix is singular (assets moving in lockstep): no Student-t dof "
            "fitted");
    } else if (c.dof->at_bound) {
        c.notes.push_back(
            c.dof->estimate.value >= max_dof
                ? fmt::format("the Student-t likelihood keeps rising up to dof {}: the returns "
                              "show no fat tails, the gaussian model fits",
                              max_dof)
                : fmt::format("the Student-t likelihood keeps rising down to dof {}: tails "
                              "fatter than the student_t model can represent",
                              min_dof));
    }
}

}  // namespace

std::vector<std::vector<double>> detail::garch_residuals(const AlignedReturns& data,
                                                         const std::vector<GarchEstimate>& garch) {
    Residuals z(data.asset_count());
    for (std::size_t i = 0; i < data.asset_count(); ++i) {
        const std::vector<double>& r = data.returns[i];
        const std::vector<double> h = garch_filtered_variance(r, garch[i]);
        for (std::size_t k = 0; k < r.size(); ++k) {
            z[i].push_back((r[k] - garch[i].mean) / std::sqrt(h[k]));
        }
    }
    return z;
}

namespace {

// Calibration::uncertainty_returns.
double uncertainty_returns(double effective_returns, const std::vector<double>& excess_kurtosis) {
    double fewest = std::numeric_limits<double>::infinity();
    for (const double g2 : excess_kurtosis) fewest = std::min(fewest, 2.0 * effective_returns / (2.0 + std::max(g2, -1.0)));
    return std::max(fewest, ParameterUncertainty::fewest_returns(excess_kurtosis.size()));
}

}  // namespace

Calibration calibrate(AlignedReturns data, const CalibrationOptions& options) {
    assert(data.return_count() >= 2);
    check_moving(data);
    Calibration c;
    c.method = options.method;
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    const std::vector<double> covariance =
        options.method == CovarianceMethod::ewma
            ? detail::ewma_covariance(data.returns, options.lambda)
            : detail::sample_covariance(data.returns);
    if (options.method == CovarianceMethod::ewma) {
        c.lambda = options.lambda;
        c.effective_returns = detail::ewma_effective_count(n, options.lambda);
    } else {
        c.effective_returns = static_cast<double>(n);
    }
    c.excess_kurtosis = excess_kurtosis(data.returns);

    const double n_eff = c.effective_returns;
    const std::vector<double>& g2 = c.excess_kurtosis;
    for (std::size_t i = 0; i < d; ++i) {
        const double vol = std::sqrt(days_per_year * covariance[i * d + i]);
        c.volatility.push_back({vol, vol * std::sqrt((2.0 + g2[i]) / (4.0 * n_eff))});
    }
    c.uncertainty_returns = uncertainty_returns(n_eff, g2);
    const std::vector<double> correlation = correlation_of(covariance, d);
    c.correlation = correlation_estimates(correlation, g2, n_eff);
    const Residuals z = standardised_returns(data, covariance, options);
    // Under ewma the residuals' own correlation, as the engine's innovations are correlated.
    c.dof = fit_dof(z, options.method == CovarianceMethod::ewma
                           ? correlation_of(detail::sample_covariance(z), d)
                           : correlation);
    c.data = std::move(data);
    c.model = options.model;
    fit_garch_model(c);
    if (options.every_model || options.model == CalibratedModel::regime) {
        c.regimes = fit_regimes(c.data);
    }
    if (options.model == CalibratedModel::fhs) {
        c.fhs = options.fhs_filter == FhsFilter::garch ? fit_fhs_residuals(c.data, c.garch)
                                                       : fit_fhs_residuals(c.data, options.lambda);
    }
    c.jumps = fit_jumps(c.data, c.volatility);
    add_notes(c);
    detail::check_snippet_loads(c);
    return c;
}

void keep_until(PriceSeries& series, Date last) {
    const auto end = std::upper_bound(series.dates.begin(), series.dates.end(), last);
    const auto kept = static_cast<std::size_t>(end - series.dates.begin());
    if (kept == 0) {
        throw InputError(series.source, 0, 0, "--as-of",
                         fmt::format("no close on or before {}: the file starts on {}",
                                     format_date(last), format_date(series.dates.front())),
                         "a date within the price history");
    }
    series.dates.resize(kept);
    series.closes.resize(kept);
    for (std::vector<double>* column : {&series.opens, &series.highs, &series.lows}) {
        if (!column->empty()) column->resize(kept);
    }
    if (!series.lines.empty()) series.lines.resize(kept);
}

Calibration calibrate_files(const std::vector<std::filesystem::path>& files,
                            const std::vector<std::string>& symbols,
                            const CalibrationOptions& options) {
    assert(!files.empty());
    if (!symbols.empty() && symbols.size() != files.size()) {
        throw InputError("", 0, 0, "--symbols",
                         fmt::format("{} symbols for {} price files", symbols.size(), files.size()),
                         "one symbol per price file, in the order of the files");
    }
    std::vector<PriceSeries> series;
    for (std::size_t i = 0; i < files.size(); ++i) {
        series.push_back(read_price_csv(
            files[i], symbols.empty() ? std::nullopt : std::optional<std::string>(symbols[i])));
        if (options.as_of) keep_until(series.back(), *options.as_of);
    }
    Calibration c = calibrate(align_returns(series, options.window_days), options);
    c.as_of = options.as_of;
    return c;
}

}  // namespace marginsim
