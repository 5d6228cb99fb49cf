// The scenario snippet of a calibration: [[assets]] blocks, the [correlation] matrix and the
// fitted dof as a commented suggestion, with the standard errors in comments.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "analyses/calibrate/calibrate_parts.hpp"
#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "numerics/correlation.hpp"

namespace marginsim {

namespace {

using detail::parse_number;

std::string file_name(std::string_view source) {
    return std::filesystem::path(source).filename().string();
}


std::string toml_string(std::string_view text) {
    std::string result = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            result += '\\';
            result += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            result +=
                fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
            result += c;
        }
    }
    return result + '"';
}

std::string fixed(double value, int decimals) {
    std::string text = fmt::format("{:.{}f}", value, decimals);
    if (text == fmt::format("-{:.{}f}", 0.0, decimals)) text.erase(0, 1);
    return text;
}

bool garch_snippet(const Calibration& c) { return c.model == CalibratedModel::garch; }
bool fhs_snippet(const Calibration& c) { return c.model == CalibratedModel::fhs && c.fhs.has_value(); }
bool jump_snippet(const Calibration& c) { return c.model == CalibratedModel::jump; }

// The snippet's correlation: of the returns, or under garch of the GARCH residuals.
bool regime_snippet(const Calibration& c) {
    return c.model == CalibratedModel::regime && c.regimes.has_value();
}

// The snippet's correlation: of the returns, under garch of the GARCH residuals, under regime
// the calm regime's.
const std::vector<Estimate>& snippet_correlation(const Calibration& c) {
    if (regime_snippet(c)) return c.regimes->correlation[0];
    if (fhs_snippet(c)) return c.fhs->correlation;
    return garch_snippet(c) ? c.garch_correlation : c.correlation;
}

// The Student-t dof the snippet's model uses, when the fit found fat tails.
std::optional<double> snippet_dof(const Calibration& c) {
    const std::optional<DofEstimate>& dof = garch_snippet(c) ? c.garch_dof : c.dof;
    if (!dof || (dof->at_bound && dof->estimate.value >= max_dof)) return std::nullopt;
    return *parse_number(fixed(dof->estimate.value, 2));
}

// The fewest decimals, from 4, at which the rounded matrix stays positive semi-definite.
int correlation_decimals(const std::vector<Estimate>& correlation, std::size_t d) {
    for (int decimals = 4; decimals < 12; ++decimals) {
        std::vector<double> rounded(d * d);
        for (std::size_t k = 0; k < d * d; ++k) {
            rounded[k] = *parse_number(fixed(correlation[k].value, decimals));
        }
        if (detail::smallest_eigenvalue(rounded, d) >= 0.0) return decimals;
    }
    return 12;
}

// The `matrix = [...]` lines of a d x d correlation (see correlation_matrix_toml).
std::string correlation_lines(const std::vector<Estimate>& correlation, std::size_t d) {
    if (d < 2) return {};
    const int decimals = correlation_decimals(correlation, d);
    std::string out = "matrix = [";
    for (std::size_t i = 0; i < d; ++i) {
        out += i == 0 ? "[" : ",\n          [";
        for (std::size_t j = 0; j < d; ++j) {
            out += j == 0 ? "" : ", ";
            out += i == j ? "1.0" : fixed(correlation[i * d + j].value, decimals);
        }
        out += ']';
    }
    out += "]\n";
    if (decimals == 12) out += "repair = \"nearest\"  # singular to rounding\n";
    return out;
}

std::string standard_error(double se, int decimals = 4) {
    return std::isfinite(se) ? fixed(se, decimals) : std::string("n/a");
}

void write_header(std::string& out, const Calibration& c) {
    const AlignedReturns& data = c.data;
    out += "# Calibrated by `marginsim calibrate` from daily closes:\n";
    for (const SeriesInfo& s : data.series) {
        out += fmt::format("#   {}: {}\n", s.symbol, file_name(s.source));
    }
    out += fmt::format("# Window: closes {} .. {}", format_date(data.first_date),
                       format_date(data.last_date));
    if (data.window_days) {
        out += fmt::format(" ({} calendar days up to the last common date)", *data.window_days);
    } else {
        out += " (all dates the files share)";
    }
    if (data.window_truncated) {
        out += fmt::format(";\n# SHORT HISTORY: the files share only {} days, fewer than the {} "
                           "requested: the estimates are the less certain",
                           (data.last_date - data.first_date).count(), *data.window_days);
    }
    out += fmt::format(";\n# {} daily log returns", data.return_count());
    if (data.dropped_returns > 0) {
        out += fmt::format(" ({} returns spanning a missing day left out)", data.dropped_returns);
    }
    out += ".\n";
    if (c.method == CovarianceMethod::ewma) {
        out += fmt::format(
            "# Method: ewma (RiskMetrics, lambda {}, zero-mean returns; about {:.0f} effective "
            "returns).\n",
            c.lambda, c.effective_returns);
    } else {
        out +=
            "# Method: sample (volatility sqrt(365) x standard deviation, Pearson correlation).\n";
    }
    if (c.as_of) {
        out += fmt::format("# As of {}: the closes after it are not used.\n", format_date(*c.as_of));
    }
    out += "# Standard errors (one sigma) are in the comments.\n";
}

void write_assets(std::string& out, const Calibration& c) {
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const SeriesInfo& s = c.data.series[i];
        out += "\n[[assets]]\n";
        out += fmt::format("symbol = {}\n", toml_string(s.symbol));
        out += fmt::format("price = {}  # last close, {}\n", c.data.last_close[i],
                           format_date(c.data.last_date));
        if (regime_snippet(c)) {
            const Estimate& calm = c.regimes->volatility[0][i];
            out += fmt::format("volatility = {}  # the calm regime's; standard error {}\n",
                               fixed(calm.value, 4), standard_error(calm.standard_error));
        } else if (fhs_snippet(c)) {
            out += fmt::format("volatility = {}  # under fhs today's: the {} forecast for {}\n",
                               fixed(std::sqrt(365.0 * c.fhs->start_variance[i]), 4),
                               c.fhs->filter == FhsFilter::garch ? "GARCH" : "EWMA",
                               format_date(c.data.last_date + std::chrono::days(1)));
        } else if (garch_snippet(c)) {
            const GarchEstimate& g = c.garch[i];
            out += fmt::format(
                "volatility = {}  # under garch today's: the GARCH forecast for {}; long-run {}\n",
                fixed(std::sqrt(365.0 * g.start_variance), 4),
                format_date(c.data.last_date + std::chrono::days(1)),
                g.integrated ? std::string("none (alpha + beta = 1)")
                             : fixed(std::sqrt(365.0 * g.long_run_variance()), 4));
        } else if (jump_snippet(c)) {
            out += fmt::format("volatility = {}  # the diffusion's: the window's {} without the jumps' variance{}\n",
                               fixed(c.jumps.diffusion_volatility[i], 4), fixed(c.volatility[i].value, 4),
                               c.jumps.diffusion_at_robust_sigma[i] ? " (exceeded by it: the robust sigma)" : "");
        } else {
            out += fmt::format("volatility = {}  # standard error {}\n",
                               fixed(c.volatility[i].value, 4),
                               standard_error(c.volatility[i].standard_error));
        }
        out += "drift = 0.0\n";
        out += fmt::format(
            "# Placeholder: replace with the exchange's maintenance margin rate, or with a tier\n"
            "# table reference instead of this line, e.g. tiers = \"binance-usdm/{}USDT\".\n",
            s.symbol);
        out += "maintenance_margin_rate = 0.005\n";
    }
}

void write_correlation(std::string& out, const Calibration& c) {
    const std::size_t d = c.asset_count();
    if (d < 2) return;
    out += garch_snippet(c)    ? "\n[correlation]\n# Of the returns divided by their GARCH volatility, "
                                 "in [[assets]] order:"
           : regime_snippet(c) ? "\n[correlation]\n# The calm regime's, in [[assets]] order:"
           : fhs_snippet(c)    ? "\n[correlation]\n# Of the fhs residuals (the intraday steps' correlation), in [[assets]] "
                                 "order:"
                               : "\n[correlation]\n# In [[assets]] order:";
    for (const SeriesInfo& s : c.data.series) out += ' ' + s.symbol;
    out += ". Standard errors:";
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = i + 1; j < d; ++j) {
            out += fmt::format("\n#   {}/{} {}", c.data.series[i].symbol, c.data.series[j].symbol,
                               standard_error(snippet_correlation(c)[i * d + j].standard_error));
        }
    }
    out += '\n' + correlation_matrix_toml(c);
}

void write_dof(std::string& out, const Calibration& c);

// A bare TOML key when the symbol is one, else quoted.
std::string toml_key(std::string_view symbol) {
    const bool bare = !symbol.empty() && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
    });
    return bare ? std::string(symbol) : toml_string(symbol);
}

// 6 significant digits: omega is a small number (about 1e-5 for a daily volatility of 3%).
std::string significant(double value) { return fmt::format("{:.6g}", value); }

// "# Standard errors:" and a comment line per asset of its GARCH fit (no line break at the end).
std::string garch_standard_errors(const Calibration& c) {
    std::string out = "# Standard errors:";
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const GarchEstimate& g = c.garch[i];
        out += fmt::format("\n#   {}: omega {}, alpha {}, beta {}", c.data.series[i].symbol,
                           std::isfinite(g.omega.standard_error) ? significant(g.omega.standard_error) : "n/a",
                           standard_error(g.alpha.standard_error),
                           standard_error(g.beta.standard_error));
    }
    return out;
}

// The [garch] table's recursion of each asset, `SYMBOL = { omega = ..., alpha = ..., beta = ... }`.
std::string garch_recursions(const Calibration& c) {
    std::string out;
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const GarchEstimate& g = c.garch[i];
        out += fmt::format("{} = {{ omega = {}, alpha = {}, beta = {} }}\n",
                           toml_key(c.data.series[i].symbol), significant(g.omega.value),
                           fixed(g.alpha.value, 4), fixed(g.beta.value, 4));
    }
    return out;
}

void write_garch(std::string& out, const Calibration& c) {
    const std::optional<double> dof = snippet_dof(c);
    out += fmt::format(
        "\n# GARCH(1,1) by Gaussian quasi-maximum likelihood; omega in squared daily log "
        "returns.\n# Set in [simulation]: model = \"garch\"{}\n",
        dof ? fmt::format(", dof = {} (Student-t of the GARCH residuals)", fixed(*dof, 2)) : "");
    out += garch_standard_errors(c);
    out += fmt::format("\n[garch]\ninnovations = \"{}\"\n", dof ? "student_t" : "gaussian");
    out += garch_recursions(c);
}

// `{ BTC = v, ETH = v }` of one value per asset, with `decimals`.
std::string per_asset(const Calibration& c, const std::vector<Estimate>& values, int decimals) {
    std::string out = "{";
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        out += fmt::format("{}{} = {}", i == 0 ? " " : ", ", toml_key(c.data.series[i].symbol),
                           fixed(values[i].value, decimals));
    }
    return out + " }";
}

void write_regime(std::string& out, const Calibration& c) {
    const RegimeEstimate& r = *c.regimes;
    const std::size_t d = c.asset_count();
    out += fmt::format(
        "\n# Two regimes by EM (Hamilton filter and smoother) on the daily returns: about {:.0f} "
        "days calm, {:.0f} in stress.\n# Set in [simulation]: model = \"regime\"\n",
        r.expected_days[0], r.expected_days[1]);
    out += fmt::format(
        "[regime]\ncalm_to_stress = {}  # switches per year; standard error {}\n"
        "stress_to_calm = {}  # standard error {}\n",
        fixed(r.calm_to_stress.value, 2), standard_error(r.calm_to_stress.standard_error, 2),
        fixed(r.stress_to_calm.value, 2), standard_error(r.stress_to_calm.standard_error, 2));
    out += fmt::format("start = \"{}\"  # today's regime: P(stress) = {} on {}\n",
                       r.stress_probability_today > 0.5 ? "stress" : "calm",
                       fixed(r.stress_probability_today, 3), format_date(c.data.last_date));
    out += "\n[regime.stress]\nvolatility = " + per_asset(c, r.volatility[1], 4) + "\n";
    if (d >= 2) out += "\n[regime.stress.correlation]\n" + correlation_lines(r.correlation[1], d);
}

// One TOML array of `values`, `per_line` to a line.
template <class Format>
std::string toml_array(std::size_t count, std::size_t per_line, Format format) {
    std::string out = "[";
    for (std::size_t k = 0; k < count; ++k) {
        out += k == 0 ? "" : (k % per_line == 0 ? ",\n  " : ", ");
        out += format(k);
    }
    return out + "]";
}

void write_fhs(std::string& out, const Calibration& c) {
    const FhsResidualSet& set = *c.fhs;
    const bool garch = set.filter == FhsFilter::garch;
    if (garch) {
        out += fmt::format(
            "\n# Filtered historical simulation: the residual set is each day's log returns less their mean,\n"
            "# divided by their one-day-ahead GARCH(1,1) volatility (the [garch] recursions below, no\n"
            "# look-ahead), {} days {} .. {}.\n"
            "# Set in [simulation]: model = \"fhs\"\n[fhs]\nfilter = \"garch\"\n",
            set.dates.size(), format_date(set.dates.front()), format_date(set.dates.back()));
    } else {
        out += fmt::format(
            "\n# Filtered historical simulation: the residual set is each day's log returns divided by their\n"
            "# one-day-ahead EWMA volatility (lambda {}, no look-ahead), {} days {} .. {}.\n"
            "# Set in [simulation]: model = \"fhs\"\n[fhs]\nfilter = \"ewma\"\nlambda = {}\n",
            set.lambda, set.dates.size(), format_date(set.dates.front()), format_date(set.dates.back()), set.lambda);
    }
    out += "\n[fhs.residuals]\ndates = " +
           toml_array(set.dates.size(), 6, [&](std::size_t k) { return toml_string(format_date(set.dates[k])); }) + '\n';
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const std::vector<double>& z = set.residuals[i];
        out += toml_key(c.data.series[i].symbol) + " = " +
               toml_array(z.size(), 8, [&](std::size_t k) { return fmt::format("{:.8g}", z[k]); }) + '\n';
    }
    if (!garch) return;
    out += fmt::format("\n# The filter of [fhs]: GARCH(1,1) by Gaussian quasi-maximum likelihood on the returns of\n"
                       "# {} .. {}; omega in squared daily log returns.\n",
                       format_date(set.dates.front()), format_date(set.dates.back()));
    out += garch_standard_errors(c) + "\n[garch]\n" + garch_recursions(c);
}

std::string per_asset_errors(const Calibration& c, const std::vector<Estimate>& values) {
    std::string out;
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        out += fmt::format("{}{} {}", i == 0 ? "" : ", ", c.data.series[i].symbol,
                           standard_error(values[i].standard_error));
    }
    return out;
}

void write_jumps(std::string& out, const Calibration& c) {
    const JumpEstimate& j = c.jumps;
    out += fmt::format("\n# Market-wide jumps: {} days in {:.2f} years on which every asset fell below -{} robust\n"
                       "# daily sigmas (1.4826 x median absolute deviation:",
                       j.days.size(), j.years, j.threshold_sigmas);
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        out += fmt::format("{} {} {:.2f}%", i == 0 ? "" : ",", c.data.series[i].symbol, 100.0 * j.robust_sigma[i]);
    }
    out += ")";
    for (std::size_t k = 0; k < j.days.size(); ++k) {
        out += (k % 8 == 0 ? "\n#   " : ", ") + format_date(j.days[k]);
    }
    out += "\n# Set in [simulation]: model = \"jump\" (the gaussian with them), or jumps = true on any model.\n";
    if (j.days.empty()) {
        out += "# None in the window: intensity 0 (a longer --window counts them).\n[jumps]\nintensity = 0.0\n";
        return;
    }
    out += fmt::format("# Standard errors: intensity {}; mean {}; vol {}.\n",
                       standard_error(j.intensity.standard_error, 2), per_asset_errors(c, j.mean),
                       per_asset_errors(c, j.vol));
    out += fmt::format("[jumps]\nintensity = {}  # per year\nmean = {}  # mean log jump\nvol = {}  # its standard deviation\n",
                       fixed(j.intensity.value, 2), per_asset(c, j.mean, 4), per_asset(c, j.vol, 4));
}

void write_model(std::string& out, const Calibration& c) {
    if (jump_snippet(c)) return write_jumps(out, c);
    if (!c.model || *c.model == CalibratedModel::student_t) return write_dof(out, c);
    if (*c.model == CalibratedModel::garch) return write_garch(out, c);
    if (regime_snippet(c)) return write_regime(out, c);
    if (fhs_snippet(c)) return write_fhs(out, c);
    out += "\n# Set in [simulation]: model = \"gaussian\"\n";
}

void write_dof(std::string& out, const Calibration& c) {
    out += '\n';
    if (!c.dof) {
        out += "# Student-t dof: not fitted, the correlation matrix is singular.\n";
        return;
    }
    const DofEstimate& dof = *c.dof;
    if (dof.at_bound && dof.estimate.value >= max_dof) {
        out += fmt::format(
            "# Student-t dof: the likelihood keeps rising up to {}: no fat tails, "
            "keep model = \"gaussian\".\n",
            max_dof);
        return;
    }
    out += fmt::format(
        "# Fat tails: Student-t degrees of freedom by maximum likelihood {} (standard error "
        "{}{}).\n"
        "# To simulate with them, set in [simulation]:\n"
        "# model = \"student_t\"\n"
        "# dof = {}\n",
        fixed(dof.estimate.value, 2), standard_error(dof.estimate.standard_error, 2),
        dof.at_bound ? ", at the lower bound of the search" : "", fixed(dof.estimate.value, 2));
}
// [uncertainty], commented out: the estimates' own uncertainty, for the user to switch on (not
// under the regime model, which has a volatility per regime).
void write_uncertainty(std::string& out, const Calibration& c) {
    if (regime_snippet(c)) return;
    std::size_t widest = 0;  // the asset of the least certain variance
    for (std::size_t i = 1; i < c.asset_count(); ++i)
        if (c.excess_kurtosis[i] > c.excess_kurtosis[widest]) widest = i;
    out += fmt::format(
        "\n# Parameter uncertainty (docs/model.md#parameter-uncertainty): the volatilities above are estimates\n"
        "# from {:.0f} {}returns; {}'s variance, the least certain, has a relative standard error of {:.3f}.\n"
        "# To draw each path's volatilities from their sampling distribution (a short history then\n"
        "# widens the answer), uncomment:\n"
        "# [uncertainty]\n"
        "# returns = {}\n",
        c.effective_returns, c.method == CovarianceMethod::ewma ? "effective " : "", c.data.series[widest].symbol,
        ParameterUncertainty{c.uncertainty_returns}.variance_relative_sd(), fixed(c.uncertainty_returns, 1));
}

// The close that most likely went wrong in asset i: of the two closes of its largest daily
// move, the one whose other move is large too (a spike out and back), else the one at the
// end of the series, else the later one (where a new level starts).
struct SuspectClose {
    std::size_t return_index = 0;
    bool later = true;  // the close the return ends on, else the one it starts from
};

SuspectClose suspect_close(const std::vector<double>& returns) {
    std::size_t k = 0;
    for (std::size_t m = 1; m < returns.size(); ++m) {
        if (std::abs(returns[m]) > std::abs(returns[k])) k = m;
    }
    const double half = 0.5 * std::abs(returns[k]);
    if (k + 1 < returns.size() && std::abs(returns[k + 1]) > half) return {k, true};
    if (k > 0 && std::abs(returns[k - 1]) > half) return {k, false};
    if (k + 1 == returns.size()) return {k, true};
    return {k, k != 0};
}

// `error`, from loading the snippet, as an error of the price file behind the value refused.
InputError snippet_error(const Calibration& c, const InputError& error) {
    const AlignedReturns& data = c.data;
    const std::string& key = error.key();
    std::size_t asset = data.asset_count();
    if (key.rfind("assets[", 0) == 0) {
        asset = static_cast<std::size_t>(std::strtoul(key.c_str() + 7, nullptr, 10));
    }
    const auto ends_with = [&key](std::string_view end) {
        return key.size() >= end.size() && key.compare(key.size() - end.size(), end.size(), end) == 0;
    };
    // Only the price and the volatility come from the closes; anything else (a symbol) is
    // blamed on the file as a whole.
    if (asset >= data.asset_count() || !(ends_with(".price") || ends_with(".volatility"))) {
        std::string sources;
        for (const SeriesInfo& s : data.series) sources += (sources.empty() ? "" : ", ") + s.source;
        return InputError(asset < data.asset_count() ? data.series[asset].source : sources, 0, 0, "",
                          std::string("the calibrated snippet does not load as a scenario: ") +
                              error.what(),
                          "price files whose estimates make a valid scenario");
    }
    const std::vector<double>& returns = data.returns[asset];
    const SuspectClose suspect = suspect_close(returns);
    const ReturnLines& lines = data.return_lines[asset][suspect.return_index];
    const Date to = data.return_dates[suspect.return_index];
    const Date from = to - std::chrono::days(1);
    const Date date = suspect.later ? to : from;
    return InputError(
        data.series[asset].source, suspect.later ? lines.to : lines.from, 0, "close",
        fmt::format("the close of {} on {} looks wrong: the snippet calibrated from this file "
                    "would not load, {}: {} (expected {}); its largest daily move is a log return "
                    "of {:.4g} from {} to {}",
                    data.series[asset].symbol, format_date(date), key, error.message(),
                    error.expected(), returns[suspect.return_index], format_date(from),
                    format_date(to)),
        "closes without a wrong price (a typo, a missing decimal point) that the scenario's "
        "limits refuse");
}

}  // namespace

namespace detail {

void check_snippet_loads(const Calibration& calibration) {
    // The smallest frame a user pastes the snippet into: one position of 1 USDT.
    std::string model;
    if (calibration.model && *calibration.model != CalibratedModel::gaussian) {
        const std::optional<double> dof = snippet_dof(calibration);
        model = fmt::format("model = \"{}\"\n", garch_snippet(calibration) || regime_snippet(calibration) ||
                                                         fhs_snippet(calibration) || jump_snippet(calibration) || dof
                                                     ? to_string(*calibration.model)
                                                     : "gaussian");
        if (dof && !regime_snippet(calibration) && !fhs_snippet(calibration) && !jump_snippet(calibration)) {
            model += fmt::format("dof = {}\n", *dof);
        }
    }
    const std::string frame =
        "[simulation]\nhorizon_days = 1\n" + model + "[account]\nbalance = 1000\n";
    const std::string position = fmt::format(
        "\n[[positions]]\nsymbol = {}\nside = \"long\"\nmargin = 1\nleverage = 1\n",
        toml_string(calibration.data.series.front().symbol));
    try {
        parse_scenario(frame + to_toml_snippet(calibration) + position, "calibrated snippet");
    } catch (const InputError& error) {
        throw snippet_error(calibration, error);
    }
}

}  // namespace detail

std::string correlation_matrix_toml(const Calibration& c) {
    return correlation_lines(snippet_correlation(c), c.asset_count());
}

std::string model_tables_toml(const Calibration& calibration) {
    std::string out;
    write_model(out, calibration);
    const std::size_t table = out.find("\n[");
    return table == std::string::npos ? std::string() : out.substr(table + 1);
}

std::string to_toml_snippet(const Calibration& calibration) {
    std::string out;
    write_header(out, calibration);
    write_assets(out, calibration);
    write_correlation(out, calibration);
    write_model(out, calibration);
    write_uncertainty(out, calibration);
    return out;
}

}  // namespace marginsim
