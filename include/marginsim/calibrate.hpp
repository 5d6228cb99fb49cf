#pragma once
// Calibration from daily price history: annualised volatilities, the correlation matrix and
// the Student-t degrees of freedom of daily log returns, written as a scenario snippet.
// Pipeline: read_price_csv per file -> align_returns on the dates all files share ->
// calibrate -> to_toml_snippet.

#include <array>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim {

using Date = std::chrono::sys_days;

// "2026-03-30".
std::string format_date(Date date);
// "2026-03-30", optionally followed by a time (" 00:00:00", "T00:00Z"); none if not a date.
std::optional<Date> parse_iso_date(std::string_view text);

// One asset's daily bars, ascending by date, one per date: the closes, and the day's open,
// high and low when the file has those columns (else empty; highs and lows come together).
struct PriceSeries {
    std::string symbol;
    std::string source;  // file path, or a name for in-memory text
    std::vector<Date> dates;
    std::vector<double> closes;
    std::vector<std::size_t> lines;  // of each close in the source; empty for in-memory series
    std::vector<double> opens;       // empty without an Open column
    std::vector<double> highs;       // empty without both High and Low columns
    std::vector<double> lows;
    bool has_extremes() const noexcept { return !highs.empty(); }
};

// Reads a daily price CSV, in either format:
// - CryptoDataDownload/Binance: an optional first line (the publisher's URL), the header
//   `Unix,Date,Symbol,Open,High,Low,Close,...`, one row per day, newest first;
// - plain: the header `date,close`, one row per day.
// Columns are found by name (case-insensitive): `date` (YYYY-MM-DD, a time after it is
// ignored), `close` (> 0) and the optional `symbol`, `open`, `high` and `low` (> 0; highs and
// lows are read when both columns are there, with low <= high and the close, and the open
// when given, in [low, high] on every row). Rows may come in any order; a date given twice is
// an error. The symbol is `symbol` when given, else the Symbol column without its
// quote currency (BTCUSDT -> BTC), else symbol_from_file_name. Throws InputError naming the
// file, line and column.
PriceSeries read_price_csv(const std::filesystem::path& path,
                           const std::optional<std::string>& symbol = std::nullopt);
PriceSeries parse_price_csv(std::string_view text, std::string_view source_name,
                            const std::optional<std::string>& symbol = std::nullopt);

// BTCUSDT, BTC/USDT, BTC-USDT -> BTC (quotes USDT, USDC, BUSD, USD); anything else unchanged.
std::string strip_quote_currency(std::string_view pair);
// Binance_ADAUSDT_d.csv -> ADA: the first '_'-separated part of the file name that ends in a
// quote currency, without it; else the file name without its extension.
std::string symbol_from_file_name(const std::filesystem::path& path);

// Where one series came from, for the printed summary.
struct SeriesInfo {
    std::string symbol;
    std::string source;
    std::size_t days = 0;
    Date first_date;
    Date last_date;
};

// Where the two closes of a daily return stand in their price file (0 = unknown).
struct ReturnLines {
    std::size_t from = 0;
    std::size_t to = 0;
};

// Daily log returns of several series on the dates they all share.
struct AlignedReturns {
    std::vector<SeriesInfo> series;
    std::vector<double> last_close;            // per asset, at last_date
    Date first_date;                           // first close used
    Date last_date;                            // the last date all series share
    std::optional<int> window_days;            // as requested
    bool window_truncated = false;             // the common history is shorter than the window
    std::size_t common_dates = 0;              // dates in the window that every series has
    std::size_t missing_days = 0;              // calendar days in the window some series lacks
    std::size_t dropped_returns = 0;           // returns spanning a missing day: not used
    std::vector<Date> return_dates;            // the day each return ends on
    std::vector<std::vector<double>> returns;  // [asset][k]: ln(close_k / close_(k-1))
    // [asset][k]: the source lines of the two closes of return k (0 = unknown).
    std::vector<std::vector<ReturnLines>> return_lines;

    std::size_t asset_count() const noexcept { return series.size(); }
    std::size_t return_count() const noexcept { return return_dates.size(); }
};

inline constexpr std::size_t min_calibration_returns = 10;

// Aligns the series on the dates all of them have. With `window_days` = N, keeps the dates
// of the N calendar days up to the last common date (closes from last - N to last: N returns
// when no day is missing). Returns are taken only between common dates exactly one calendar
// day apart: a return spanning a missing day would mix two days' moves into one. Throws
// InputError when the series share no date, a symbol is repeated, or fewer than
// min_calibration_returns returns remain.
AlignedReturns align_returns(const std::vector<PriceSeries>& series,
                             std::optional<int> window_days = std::nullopt);

enum class CovarianceMethod { sample, ewma };
std::string_view to_string(CovarianceMethod method) noexcept;

// The price model a calibration's snippet sets up (`--model`): absent, the assets and the
// correlation with the fitted Student-t dof as a commented suggestion.
enum class CalibratedModel { gaussian, student_t, garch, regime, fhs, jump };
inline constexpr std::array<CalibratedModel, 6> all_calibrated_models = {
    CalibratedModel::gaussian, CalibratedModel::student_t, CalibratedModel::garch,
    CalibratedModel::regime,   CalibratedModel::fhs,       CalibratedModel::jump};
std::string_view to_string(CalibratedModel model) noexcept;
// "gaussian", "student_t", "garch", "regime", "fhs", "jump"; none for another name.
std::optional<CalibratedModel> calibrated_model_from(std::string_view name) noexcept;

struct CalibrationOptions {
    std::optional<int> window_days;  // calendar days up to the last common date; all if absent
    CovarianceMethod method = CovarianceMethod::sample;
    double lambda = 0.94;  // decay of the ewma method, in (0, 1)
    std::optional<CalibratedModel> model;
    // Use the closes up to this day only (a calibration as it could have been made then).
    std::optional<Date> as_of;
    // Fit every model (the regimes too, which cost an EM), not only the snippet's.
    bool every_model = false;
    FhsFilter fhs_filter = FhsFilter::ewma;  // of the fhs model's residual set (`--filter`)
};

// The variance filters `calibrate --model fhs --filter` offers, in the order of its help.
inline constexpr std::array<FhsFilter, 2> calibrated_fhs_filters{FhsFilter::ewma, FhsFilter::garch};

struct Estimate {
    double value = 0.0;
    double standard_error = 0.0;
};

// Student-t degrees of freedom by maximum likelihood over (2, max_dof].
inline constexpr double min_dof = 2.01;
inline constexpr double max_dof = 100.0;
struct DofEstimate {
    Estimate estimate;      // standard_error NaN when the maximum is at a bound
    bool at_bound = false;  // the likelihood keeps rising to min_dof or max_dof
};

// GARCH(1,1) of one asset's daily log returns r_t: e_t = r_t - mean, variance
// h_t = omega + alpha e_(t-1)^2 + beta h_(t-1), started at the sample variance of e, fitted by
// Gaussian quasi-maximum likelihood (docs/analyses.md#garch). Omega in squared daily
// log-return units. Standard errors are Bollerslev-Wooldridge's (robust to fat-tailed
// innovations); NaN for a parameter on its boundary (0), where they do not hold.
struct GarchEstimate {
    Estimate omega;
    Estimate alpha;
    Estimate beta;
    double mean = 0.0;             // of the returns, removed before the fit
    double first_variance = 0.0;   // h_1: the sample variance of e
    double start_variance = 0.0;   // h for the day after the last return: today's variance
    double log_likelihood = 0.0;   // Gaussian, at the estimate
    bool alpha_at_zero = false;    // no reaction to news: a constant volatility fits as well
    bool beta_at_zero = false;
    bool integrated = false;       // alpha + beta at 1: no finite long-run variance

    double persistence() const noexcept { return alpha.value + beta.value; }
    double long_run_variance() const noexcept;  // omega / (1 - alpha - beta)
};

GarchEstimate fit_garch(std::span<const double> returns);
// h_1 .. h_(n+1) of the fitted recursion over the n returns: h_t is the variance the model
// gave return t the day before; the last is the forecast for the day after the last return.
std::vector<double> garch_filtered_variance(std::span<const double> returns,
                                            const GarchEstimate& garch);
// RiskMetrics' one-day-ahead variances of zero-mean returns, h_(t+1) = lambda h_t +
// (1 - lambda) r_t^2, started at the mean square of the returns: n + 1 values as above.
std::vector<double> ewma_filtered_variance(std::span<const double> returns, double lambda);

// Two regimes, calm and stress, fitted by EM (docs/analyses.md#regimes): each day's return
// vector is zero-mean gaussian with its regime's covariance (after removing the sample means),
// the regime a Markov chain switching at most once a day. The intensities are per year as the
// engine's [regime] takes them, daily switch probability q -> -365 ln(1 - q). Stress is the
// regime of the larger variances. Standard errors: of the intensities from the observed
// information of the switch probabilities; of the volatilities and correlations, normal
// theory at the expected days in the regime (a lower bound: the regimes are not observed).
struct RegimeEstimate {
    Estimate calm_to_stress;
    Estimate stress_to_calm;
    std::array<std::vector<Estimate>, 2> volatility;   // [0] calm, [1] stress, per asset
    std::array<std::vector<Estimate>, 2> correlation;  // row-major per regime
    std::array<double, 2> expected_days{};             // days in each regime, expected
    double stress_probability_today = 0.0;             // filtered, on the last day
    double log_likelihood = 0.0;
    int iterations = 0;
};

RegimeEstimate fit_regimes(const AlignedReturns& data);

// The fhs model's residual set (docs/analyses.md#fhs-residuals): each asset's daily log return
// standardised by its one-day-ahead volatility sqrt(h_t) (h_t uses the returns before day t
// only), one vector of all assets per return date. Filter ewma: r_t / sqrt(h_t) of
// ewma_filtered_variance with `lambda`; filter garch: (r_t - mean) / sqrt(h_t) of the asset's
// fitted GARCH(1,1) (garch_filtered_variance), the innovation its recursion and the engine's
// take the square of.
struct FhsResidualSet {
    FhsFilter filter = FhsFilter::ewma;
    double lambda = 0.94;  // filter ewma only
    std::vector<Date> dates;                     // the day each return ends on
    std::vector<std::vector<double>> residuals;  // [asset][day]
    std::vector<double> start_variance;          // per asset: h for the day after the last date
    std::vector<Estimate> correlation;           // of the residuals, row-major
};
// Throws InputError naming the price files when the window holds fewer returns than the
// scenario's [fhs] needs (Fhs::min_days, 30).
FhsResidualSet fit_fhs_residuals(const AlignedReturns& data, double lambda);
// Filter garch, with each asset's fit (`garch`, in asset order; start_variance its forecast).
FhsResidualSet fit_fhs_residuals(const AlignedReturns& data, const std::vector<GarchEstimate>& garch);

// Market-wide jumps (docs/analyses.md#jumps): a jump day is one on which every asset's daily log
// return fell below -threshold robust daily sigmas (1.4826 x the median absolute deviation from
// the median: a yardstick the jumps themselves do not inflate). Over N jump days in a window of
// `years` (returns / 365): intensity N / years, standard error sqrt(N) / years (Poisson); per
// asset the mean log return on those days (standard error sd / sqrt(N)) and the spread of the
// jump itself, sqrt(sample variance - robust sigma^2), the day's diffusion taken out (standard
// error sqrt(2 / (N - 1)) variance / (2 vol), normal theory; NaN at 0 or below 2 days); the
// diffusion volatility that keeps each asset's total variance at `total_volatility`,
// sqrt(vol^2 - intensity (mean^2 + vol_J^2)), or the robust sigma (annualised) where the jumps
// alone exceed that total.
inline constexpr double jump_threshold_sigmas = 3.0;
struct JumpEstimate {
    double threshold_sigmas = jump_threshold_sigmas;
    double years = 0.0;
    std::vector<Date> days;                    // the jump days (the day each return ends on)
    Estimate intensity;                        // per year
    std::vector<double> robust_sigma;          // per asset, daily
    std::vector<Estimate> mean;                // per asset, log jump
    std::vector<Estimate> vol;                 // per asset, standard deviation of the log jump
    std::vector<double> diffusion_volatility;  // per asset, annualised
    std::vector<bool> diffusion_at_robust_sigma;  // the jumps alone exceed the total variance
};
JumpEstimate fit_jumps(const AlignedReturns& data, const std::vector<Estimate>& total_volatility,
                       double threshold_sigmas = jump_threshold_sigmas);

struct Calibration {
    AlignedReturns data;
    CovarianceMethod method = CovarianceMethod::sample;
    double lambda = 0.0;                  // ewma only
    double effective_returns = 0.0;       // n, or for ewma (sum w)^2 / sum w^2
    std::vector<Estimate> volatility;     // annualised, per asset
    std::vector<double> excess_kurtosis;  // of the daily returns, per asset
    // The returns of [uncertainty] (docs/model.md#parameter-uncertainty) that match the
    // volatilities' standard errors: a variance estimated from n returns of excess kurtosis g2
    // has relative variance (2 + g2) / n, that of chi^2_nu / nu at nu = 2 n / (2 + g2); the
    // smallest over the assets (g2 taken as at least -1), and at least what the scenario takes
    // (the number of assets + 1).
    double uncertainty_returns = 0.0;
    std::vector<Estimate> correlation;    // row-major, asset_count()^2
    std::optional<DofEstimate> dof;       // absent when the correlation matrix is singular
    std::optional<CalibratedModel> model;  // the snippet's (CalibrationOptions::model)
    std::optional<Date> as_of;             // as requested
    // GARCH(1,1) per asset; the correlation of the returns standardised by their GARCH
    // volatility (the garch model's constant correlation), row-major; the Student-t dof of
    // those residuals (its student_t innovations).
    std::vector<GarchEstimate> garch;
    std::vector<Estimate> garch_correlation;
    std::optional<DofEstimate> garch_dof;
    // Fitted when the snippet's model is regime, or every model is asked for.
    std::optional<RegimeEstimate> regimes;
    // Fitted when the snippet's model is fhs (CalibrationOptions::fhs_filter, lambda).
    std::optional<FhsResidualSet> fhs;
    // Market-wide jumps against the `volatility` above: always fitted (a pass over the returns).
    JumpEstimate jumps;
    std::vector<std::string> notes;       // what the user should know about the estimates

    std::size_t asset_count() const noexcept { return data.asset_count(); }
    const Estimate& correlation_at(std::size_t i, std::size_t j) const noexcept {
        return correlation[i * asset_count() + j];
    }
};

// Estimates from aligned returns:
// - sample: volatility sqrt(365) x the standard deviation (n - 1) of the daily returns,
//   Pearson correlation;
// - ewma (RiskMetrics): covariance sum_k w_k r_k r_k^T of zero-mean returns with weights
//   w_k proportional to lambda^(n-1-k), summing to 1 (the newest return weighs most);
//   volatility and correlation both from it.
// Standard errors, normal theory corrected for fat tails (n = effective_returns, g2_i the
// sample excess kurtosis of asset i over the window): volatility vol sqrt((2 + g2) / (4 n)),
// i.e. vol / sqrt(2 n) for normal returns; correlation (1 - r^2) sqrt((1 + k) / n) with
// k = (g2_i + g2_j) / 6, the elliptical kurtosis of the pair, i.e. (1 - r^2) / sqrt(n) for
// normal returns.
// dof: the multivariate Student-t of unit variance (the engine's student_t model) fitted by
// maximum likelihood to the returns standardised by the sample mean, volatility and
// correlation (ewma: each return by its one-day-ahead EWMA volatility, under the residuals'
// correlation), with a common scale factor profiled out (it absorbs the error of the sample
// variances, which fat tails make large); its standard error from the observed information
// of that profile likelihood, 1 / sqrt(-d^2 loglik / d dof^2).
// garch, garch_correlation, garch_dof: always fitted (fit_garch per asset; the residuals
// (r - mean) / sqrt(h) of each asset, their Pearson correlation and Student-t dof as above).
// Throws InputError naming the file of a series whose daily log returns do not vary
// (constant closes or constant growth: no volatility, correlations 0/0), and, since the
// snippet must load, the file and line of the suspect close when the scenario loader refuses
// a value of to_toml_snippet (e.g. a close of 1e300 making a volatility above its limit).
Calibration calibrate(AlignedReturns data, const CalibrationOptions& options = {});

// Drops the closes (and opens, highs, lows, lines) after `last`: the series as it stood that
// day. Throws InputError naming its file and `--as-of` when no close is left.
void keep_until(PriceSeries& series, Date last);

// read_price_csv of each file (with symbols[i] when `symbols` is not empty: one per file),
// the closes up to options.as_of, align_returns, calibrate.
Calibration calibrate_files(const std::vector<std::filesystem::path>& files,
                            const std::vector<std::string>& symbols,
                            const CalibrationOptions& options = {});

// A ready-to-paste scenario snippet: one [[assets]] block per asset (last close as price,
// the volatility, drift 0 and a placeholder maintenance_margin_rate), [correlation] matrix
// (with more decimals when 4 would not keep it positive semi-definite), and the fitted dof
// as a commented [simulation] model = "student_t" suggestion; estimates' standard errors in
// comments.
std::string to_toml_snippet(const Calibration& calibration);

// The calibration as JSON (schema "marginsim.calibration/1", docs/analyses.md#calibration-json):
// every estimate with its standard error (null where it does not hold), GARCH per asset
// (omega, alpha, beta, their std_error, today's and the long-run volatility), the correlation
// and Student-t dof of the returns and of the GARCH residuals, the window and the notes.
std::string to_json(const Calibration& calibration);

// The `matrix = [...]` lines of the [correlation] table (and `repair = "nearest"` when only
// 12 decimals keep it positive semi-definite), each correlation rounded to the fewest decimals,
// from 4, at which the rounded matrix stays positive semi-definite. Empty for one asset.
std::string correlation_matrix_toml(const Calibration& calibration);

// The snippet's model tables ([garch], or [regime] with its subtables), from their header on,
// without the comments before it; empty for the models without tables.
std::string model_tables_toml(const Calibration& calibration);

namespace detail {

// Row-major covariance matrix of returns [asset][k].
std::vector<double> sample_covariance(const std::vector<std::vector<double>>& returns);
std::vector<double> ewma_covariance(const std::vector<std::vector<double>>& returns, double lambda);
// (sum w)^2 / sum w^2 of the ewma weights of n returns.
double ewma_effective_count(std::size_t n, double lambda);

// Log-likelihood (up to a constant) of the multivariate Student-t of unit variance with
// `dof` degrees of freedom at the squared Mahalanobis norms m_t of d-dimensional points.
double student_t_log_likelihood(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                                double dof, double scale = 1.0);
double student_t_scale(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                       double dof);
double student_t_profile_log_likelihood(const std::vector<double>& mahalanobis_sq,
                                        std::size_t dimension, double dof);
DofEstimate fit_student_t_dof(const std::vector<double>& mahalanobis_sq, std::size_t dimension);

}  // namespace detail

}  // namespace marginsim
