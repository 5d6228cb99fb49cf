// `marginsim calibrate PRICES.csv...`: volatilities, correlations and the Student-t dof
// estimated from daily closes, printed with their standard errors, and a scenario snippet.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/calibrate_into.hpp"
#include "marginsim/output.hpp"
#include "marginsim/report.hpp"
#include "outputs.hpp"

namespace marginsim::cli {
namespace {

std::string with_error(const Estimate& estimate, int decimals = 4) {
    if (!std::isfinite(estimate.standard_error)) {
        return fmt::format("{:.{}f}", estimate.value, decimals);
    }
    return fmt::format("{:.{}f} ({:.{}f})", estimate.value, decimals, estimate.standard_error,
                       decimals);
}

std::string describe_window(const AlignedReturns& data) {
    std::string text =
        fmt::format("{} .. {}", format_date(data.first_date), format_date(data.last_date));
    if (!data.window_days) return text + ": every date the files share";
    if (data.window_truncated) {
        return text + fmt::format(": all the files share, shorter than the {} days requested",
                                  *data.window_days);
    }
    return text +
           fmt::format(": the {} calendar days up to the last common date", *data.window_days);
}

std::string or_na(double value, std::string_view format) {
    return std::isfinite(value) ? fmt::format(fmt::runtime(format), value) : std::string("n/a");
}

std::string dof_text(const std::optional<DofEstimate>& dof) {
    if (!dof) return "not fitted (singular correlation matrix)";
    if (dof->at_bound) {
        return fmt::format("{:.2f} (the likelihood is highest at the bound of the search)",
                           dof->estimate.value);
    }
    return with_error(dof->estimate, 2);
}

std::vector<std::string> calibrated_model_names() {
    std::vector<std::string> names;
    for (const CalibratedModel model : all_calibrated_models) names.emplace_back(to_string(model));
    return names;
}

std::string jump_summary(const Calibration& c) {
    const JumpEstimate& j = c.jumps;
    std::string out = fmt::format(
        "\nmarket-wide jumps: {} days in {:.2f} years with every asset below -{} robust sigmas; intensity {} a year\n",
        j.days.size(), j.years, j.threshold_sigmas, with_error(j.intensity, 2));
    if (j.days.empty()) return out;
    out += fmt::format("  {:<8} {:>12} {:>17} {:>17} {:>15}\n", "", "robust sigma", "mean jump", "jump vol",
                       "diffusion vol");
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        out += fmt::format("  {:<8} {:>11.2f}% {:>17} {:>17} {:>15.4f}\n", c.data.series[i].symbol,
                           100.0 * j.robust_sigma[i], with_error(j.mean[i]), with_error(j.vol[i]),
                           j.diffusion_volatility[i]);
    }
    return out;
}

std::string garch_summary(const Calibration& c) {
    std::string out = fmt::format(
        "\nGARCH(1,1), Gaussian QMLE (robust std errors)\n  {:<8} {:>22} {:>17} {:>17} {:>7} {:>9} {:>9}\n",
        "", "omega (daily var)", "alpha", "beta", "a+b", "vol now", "long-run");
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const GarchEstimate& g = c.garch[i];
        out += fmt::format("  {:<8} {:>22} {:>17} {:>17} {:>7.4f} {:>9.4f} {:>9}\n",
                           c.data.series[i].symbol,
                           fmt::format("{:.3e} ({})", g.omega.value, or_na(g.omega.standard_error, "{:.1e}")),
                           fmt::format("{:.4f} ({})", g.alpha.value, or_na(g.alpha.standard_error, "{:.4f}")),
                           fmt::format("{:.4f} ({})", g.beta.value, or_na(g.beta.standard_error, "{:.4f}")),
                           g.persistence(), std::sqrt(365.0 * g.start_variance),
                           or_na(std::sqrt(365.0 * g.long_run_variance()), "{:.4f}"));
    }
    out += "  student_t dof of the GARCH residuals  " + dof_text(c.garch_dof) + '\n';
    if (c.regimes) {
        const RegimeEstimate& r = *c.regimes;
        out += fmt::format(
            "\nregimes (EM): calm -> stress {} a year, stress -> calm {} a year; about {:.0f} days "
            "calm, {:.0f} in stress; P(stress) today {:.3f}\n  {:<8} {:>17} {:>17}\n",
            with_error(r.calm_to_stress, 2), with_error(r.stress_to_calm, 2), r.expected_days[0],
            r.expected_days[1], r.stress_probability_today, "", "calm vol", "stress vol");
        for (std::size_t i = 0; i < c.asset_count(); ++i) {
            out += fmt::format("  {:<8} {:>17} {:>17}\n", c.data.series[i].symbol,
                               with_error(r.volatility[0][i]), with_error(r.volatility[1][i]));
        }
    }
    out += jump_summary(c);
    if (c.fhs) {
        const FhsResidualSet& set = *c.fhs;
        out += fmt::format("\nfhs residual set: {} days {} .. {}, {}\n", set.dates.size(), format_date(set.dates.front()),
                           format_date(set.dates.back()),
                           set.filter == FhsFilter::garch
                               ? std::string("(returns - mean) / one-day-ahead GARCH(1,1) volatility")
                               : fmt::format("returns / one-day-ahead EWMA volatility (lambda {})", set.lambda));
        for (std::size_t i = 0; i < c.asset_count(); ++i)
            out += fmt::format("  {:<8} vol now {:.4f}\n", c.data.series[i].symbol, std::sqrt(365.0 * set.start_variance[i]));
    }
    return out;
}

std::string summary(const Calibration& c) {
    const AlignedReturns& data = c.data;
    std::string out = fmt::format("calibration of {} asset{} from daily closes\n", c.asset_count(),
                                  c.asset_count() == 1 ? "" : "s");
    for (const SeriesInfo& s : data.series) {
        out += fmt::format("  {:<8} {} days {} .. {}  {}\n", s.symbol, s.days,
                           format_date(s.first_date), format_date(s.last_date), s.source);
    }
    out += fmt::format("window   {}\n", describe_window(data));
    out += fmt::format("returns  {} daily log returns", data.return_count());
    if (data.missing_days > 0) {
        out += fmt::format(
            " ({} days of the window missing in some file, {} returns spanning "
            "them left out)",
            data.missing_days, data.dropped_returns);
    }
    out += '\n';
    if (c.method == CovarianceMethod::ewma) {
        out +=
            fmt::format("method   ewma (RiskMetrics), lambda {}: about {:.1f} effective returns\n",
                        c.lambda, c.effective_returns);
    } else {
        out += "method   sample: volatility sqrt(365) x standard deviation, Pearson correlation\n";
    }

    out += fmt::format("\n{:<24} {:>9} {:>10} {:>16}\n", "volatility (annualised)", "estimate",
                       "std error", "excess kurtosis");
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        out += fmt::format("  {:<22} {:>9.4f} {:>10.4f} {:>16.2f}\n", data.series[i].symbol,
                           c.volatility[i].value, c.volatility[i].standard_error,
                           c.excess_kurtosis[i]);
    }
    out += fmt::format("  as [uncertainty] returns = {:.1f}: each variance uncertain by {:.1f}% (one sd) at most\n",
                       c.uncertainty_returns,
                       100.0 * ParameterUncertainty{c.uncertainty_returns}.variance_relative_sd());
    if (c.asset_count() > 1) {
        out += "\ncorrelation (std error)\n  " + std::string(10, ' ');
        for (const SeriesInfo& s : data.series) out += fmt::format(" {:>17}", s.symbol);
        out += '\n';
        for (std::size_t i = 0; i < c.asset_count(); ++i) {
            out += fmt::format("  {:<10}", data.series[i].symbol);
            for (std::size_t j = 0; j < c.asset_count(); ++j) {
                out += fmt::format(" {:>17}",
                                   i == j ? std::string("1") : with_error(c.correlation_at(i, j)));
            }
            out += '\n';
        }
    }
    out += "\nstudent_t dof  ";
    if (!c.dof) {
        out += "not fitted (singular correlation matrix)\n";
    } else if (c.dof->at_bound) {
        out += fmt::format(
            "{:.2f}: the likelihood is highest at the bound of the search, "
            "see the notes\n",
            c.dof->estimate.value);
    } else {
        out += with_error(c.dof->estimate, 2) +
               ": maximum likelihood of the multivariate Student-t of unit variance\n";
    }
    out += garch_summary(c);
    if (!c.notes.empty()) {
        out += "\nnotes\n";
        for (const std::string& note : c.notes) out += "  - " + note + '\n';
    }
    return out;
}

// --into: the book's price files calibrated in its asset order and spliced into its text,
// which is replaced only when the result loads (calibrate_into.hpp).
int calibrate_into_command(const CalibrateArguments& arguments, const OutputPlan& plan,
                           const std::vector<std::filesystem::path>& files, const std::vector<std::string>& symbols,
                           CalibrationOptions options) {
    if (!arguments.out.empty()) throw UsageError("--out and --into: the calibration goes into the scenario, give one");
    const LoadOptions load = load_options(arguments.tiers_dir, {});
    (void)load_scenario(arguments.into, load);  // the book as it is must load: its own errors first
    std::ifstream in(arguments.into, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const BookPriceFiles book = book_price_files(text, arguments.into, files, symbols);
    if (!options.model) options.model = book_model(text);
    if (arguments.filter_option->count() > 0 && options.model != CalibratedModel::fhs)
        throw UsageError("--filter is only used with --model fhs (the book's model is not fhs)");
    if (arguments.filter_option->count() == 0) options.fhs_filter = book_fhs_filter(text);
    const Calibration calibration = calibrate_files(book.files, book.symbols, options);
    const CalibratedInto result = calibrate_into(text, arguments.into, calibration, load);
    if (plan.given("--json")) plan.write("--json", to_json(calibration));
    write_file_atomically(arguments.into, result.text);
    std::string said = summary(calibration) + '\n' + into_summary(result, arguments.into);
    for (const std::string& ignored : book.ignored) said += "  ignored (not in the book): " + ignored + '\n';
    if (plan.stdout_taken()) {
        std::cerr << said;
    } else {
        write_stdout(said);
    }
    return exit_ok;
}

}  // namespace

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "calibrate",
        "Estimate volatilities, correlations and the Student-t dof from daily price files and "
        "write a scenario snippet ([[assets]], [correlation], [simulation] model/dof)");
    command
        ->add_option("PRICES", arguments.files,
                     "Daily price CSV files, one asset each: CryptoDataDownload/Binance "
                     "(Unix,Date,Symbol,...,Close,...) or plain date,close")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->required();
    arguments.window_option =
        command
            ->add_option("--window", arguments.window,
                         "Use the DAYS calendar days (1 to 100000) up to the last date all files "
                         "share (default: all shared dates)")
            ->type_name("DAYS")
            ->check(CLI::Range(1, 100000).description(""));
    command->add_option("--method", arguments.method, "Covariance estimator: sample or ewma")
        ->check(CLI::IsMember({"sample", "ewma"}))
        ->capture_default_str();
    arguments.lambda_option =
        command->add_option("--lambda", arguments.lambda, "Decay of the ewma method, in (0, 1)")
            ->check(CLI::Validator(
                [](std::string& text) -> std::string {
                    try {
                        const double value = std::stod(text);
                        if (value > 0.0 && value < 1.0) return {};
                    } catch (const std::exception&) {
                    }
                    return "must be a number in (0, 1), not '" + text + "'";
                },
                "(0, 1)"))
            ->capture_default_str();
    command
        ->add_option("--symbols", arguments.symbols,
                     "Symbols of the files, in order, comma-separated (BTC,ETH); default: the Symbol column "
                     "(BTCUSDT -> BTC), else the file name (Binance_ADAUSDT_d.csv -> ADA)")
        ->type_name("SYMBOL")
        ->delimiter(',');
    command
        ->add_option("--out", arguments.out,
                     "Write the snippet to PATH and the summary to stdout; without --out, or with "
                     "'-', the snippet goes to stdout and the summary to stderr")
        ->type_name("PATH")
        ->check(nonempty_path());
    command
        ->add_option("--model", arguments.model,
                     "The price model the snippet sets up: gaussian, student_t (the fitted dof) or "
                     "garch (GARCH(1,1) per asset, today's volatility, the residuals' correlation "
                     "and dof) or regime (two regimes by EM) or fhs (filtered historical simulation: the window's "
                     "residuals embedded, standardised by the --filter's volatility) or jump (the gaussian with "
                     "market-wide jumps: the days every asset fell below -3 robust sigmas); default: the assets and "
                     "correlation, the dof as a suggestion")
        ->check(CLI::IsMember(calibrated_model_names()));
    std::vector<std::string> filters;
    for (const FhsFilter filter : calibrated_fhs_filters) filters.emplace_back(to_string(filter));
    arguments.filter_option =
        command
            ->add_option("--filter", arguments.filter,
                         "The variance filter of --model fhs's residuals: ewma (--lambda its decay) or garch (each "
                         "asset's fitted GARCH(1,1), written as the [garch] table)")
            ->check(CLI::IsMember(filters))
            ->capture_default_str();
    command
        ->add_option("--as-of", arguments.as_of,
                     "Use the closes up to DATE (YYYY-MM-DD) only: the calibration as it could "
                     "have been made that day")
        ->type_name("DATE")
        ->check(iso_date());
    command
        ->add_option("--json", arguments.json,
                     "Also write every fitted parameter with its standard error as JSON to PATH "
                     "('-': stdout)")
        ->type_name("PATH")
        ->check(nonempty_path());
    command
        ->add_option("--into", arguments.into,
                     "Update SCENARIO's market in place instead of writing a snippet: each asset's volatility, "
                     "[correlation], [simulation] model and dof, the model's tables (default model, and fhs filter: the book's)")
        ->type_name("SCENARIO")
        ->check(nonempty_path());
    add_tiers_dir_option(*command, arguments.tiers_dir);
    command->footer(output_rules);
    return command;
}

int calibrate_command(const CalibrateArguments& arguments) {
    std::vector<NamedPath> inputs;
    for (const std::string& file : arguments.files) inputs.push_back({"PRICES", file});
    const OutputPlan plan({{"--out", arguments.out}, {"--json", arguments.json}}, inputs);
    if (arguments.lambda_option->count() > 0 && arguments.method != "ewma" && arguments.model != "fhs") {
        std::cerr << "error: --lambda is only used with --method ewma or --model fhs\n";
        return exit_usage;
    }
    if (arguments.lambda_option->count() > 0 && arguments.method != "ewma" && arguments.filter == "garch") {
        std::cerr << "error: --lambda is the decay of --filter ewma: the garch filter's recursions are fitted\n";
        return exit_usage;
    }
    // With --into and no --model the model is the book's: checked once the book is read.
    const bool model_from_book = arguments.model.empty() && !arguments.into.empty();
    if (arguments.filter_option->count() > 0 && arguments.model != "fhs" && !model_from_book) {
        std::cerr << "error: --filter is only used with --model fhs\n";
        return exit_usage;
    }
    std::vector<std::string> symbols;
    for (const std::string& symbol : arguments.symbols) {
        const std::size_t begin = symbol.find_first_not_of(" \t");
        const std::size_t end = symbol.find_last_not_of(" \t");
        symbols.push_back(begin == std::string::npos ? std::string()
                                                     : symbol.substr(begin, end - begin + 1));
    }
    if (!symbols.empty() && symbols.size() != arguments.files.size()) {
        std::cerr << fmt::format(
            "error: --symbols: {} symbols for {} price files (expected one per file, in order)\n",
            symbols.size(), arguments.files.size());
        return exit_usage;
    }
    if (std::find(symbols.begin(), symbols.end(), std::string()) != symbols.end()) {
        std::cerr << "error: --symbols: an empty symbol (expected A,B,... one per file)\n";
        return exit_usage;
    }
    CalibrationOptions options;
    if (arguments.window_option->count() > 0) options.window_days = arguments.window;
    options.method = arguments.method == "ewma" ? CovarianceMethod::ewma : CovarianceMethod::sample;
    options.lambda = arguments.lambda;
    for (const FhsFilter filter : calibrated_fhs_filters)
        if (arguments.filter == to_string(filter)) options.fhs_filter = filter;
    if (!arguments.model.empty()) options.model = calibrated_model_from(arguments.model);
    if (!arguments.as_of.empty()) options.as_of = parse_iso_date(arguments.as_of);
    options.every_model = !arguments.json.empty();
    const std::vector<std::filesystem::path> files(arguments.files.begin(), arguments.files.end());
    if (!arguments.into.empty()) return calibrate_into_command(arguments, plan, files, symbols, options);
    const Calibration calibration = calibrate_files(files, symbols, options);
    const std::string snippet = to_toml_snippet(calibration);
    const std::string json = plan.given("--json") ? to_json(calibration) : std::string();
    // stdout carries one thing: the snippet, unless --out takes it to a file or --json is '-'.
    if (plan.given("--out") && arguments.out != "-") {
        plan.write("--out", snippet);
        if (plan.given("--json")) plan.write("--json", json);
        const std::string said =
            summary(calibration) + fmt::format("\nsnippet written to {}\n", arguments.out);
        if (plan.stdout_taken()) {
            std::cerr << said;
        } else {
            write_stdout(said);
        }
    } else {
        std::cerr << summary(calibration);
        if (plan.given("--json")) plan.write("--json", json);
        if (arguments.json != "-") write_stdout(snippet);
    }
    return exit_ok;
}

}  // namespace marginsim::cli
