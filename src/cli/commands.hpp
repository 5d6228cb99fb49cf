#pragma once
// The subcommands of the marginsim program. Each one registers its arguments on the CLI11
// app, then runs once they are parsed and returns the exit code; errors are thrown and
// mapped to exit codes by main.

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "marginsim/calibrate.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::cli {

// A run stopped by SIGINT or SIGTERM exits with 128 + the signal (130, 143).
enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

// CLI11 reads "-3" into an unsigned as 2^64 - 3 and lets overflow pass: accept only plain
// decimal integers that fit the option's type and are at least `minimum`.
template <class Integer>
CLI::Validator integer_at_least(Integer minimum, std::string name) {
    return CLI::Validator(
        [minimum](std::string& text) -> std::string {
            Integer value{};
            const char* end = text.data() + text.size();
            const auto [stop, error] = std::from_chars(text.data(), end, value);
            if (text.empty() || text[0] == '-' || error != std::errc() || stop != end) {
                return fmt::format("must be an integer in [{}, {}], not '{}'", minimum,
                                   std::numeric_limits<Integer>::max(), text);
            }
            if (value < minimum) return fmt::format("must be at least {}, not {}", minimum, text);
            return std::string();
        },
        std::move(name));
}

// --paths, --seed and --threads of every command that simulates.
struct RunOverrides {
    std::uint64_t paths = 0;
    std::uint64_t seed = 0;
    int threads = 0;
    std::string precision;  // --precision as given: parse_precision reads it
    // Set after parsing: which overrides were given.
    const CLI::Option* paths_option = nullptr;
    const CLI::Option* seed_option = nullptr;
    const CLI::Option* threads_option = nullptr;
    const CLI::Option* precision_option = nullptr;

    // Throws InputError naming --precision when its value is not one.
    RunOptions options() const {
        RunOptions out;
        if (paths_option->count() > 0) out.paths = paths;
        if (seed_option->count() > 0) out.seed = seed;
        if (threads_option->count() > 0) out.threads = threads;
        if (precision_option->count() > 0) out.precision = parse_precision(precision);
        return out;
    }
};

inline void add_run_override_options(CLI::App& command, RunOverrides& overrides) {
    overrides.paths_option =
        command.add_option("--paths", overrides.paths, "Override [simulation] paths (> 0)")
            ->check(integer_at_least<std::uint64_t>(1, "POSITIVE"));
    overrides.seed_option =
        command.add_option("--seed", overrides.seed, "Override [simulation] seed")
            ->check(integer_at_least<std::uint64_t>(0, "NONNEGATIVE"));
    overrides.threads_option =
        command.add_option("--threads", overrides.threads,
                           "Override [simulation] threads (0 = all cores; results do not "
                           "depend on it)")
            ->check(integer_at_least<int>(0, "NONNEGATIVE"));
    overrides.precision_option =
        command.add_option("--precision", overrides.precision,
                           "Stop at the first block of paths after which every mode's P(liquidation) 95% "
                           "interval has half-width <= E (0.002), or <= a percent of the estimate (10%); "
                           "the paths are then the maximum")
            ->type_name("E");
}

// A bad command line found after parsing (two outputs on stdout, an output over an input, an
// unusable output path): main prints it and exits with exit_usage.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The outputs of a command that reports: files named by --json, --csv and --html ("-" for
// stdout) and what stdout shows (--format, --quiet).
struct OutputArguments {
    std::string json;
    std::string csv;
    std::string html;
    std::string format = "text";
    bool quiet = false;
    const CLI::Option* format_option = nullptr;  // set after parsing: was --format given
};

// The help of each output option of a command; nullptr: the command has no such option.
struct OutputHelp {
    const char* json = nullptr;
    const char* csv = nullptr;
    const char* html = nullptr;
    bool stdout_format = false;  // --format and -q,--quiet (the table, or its silence)
};

// The rules every output follows, appended to each command's help (its footer).
extern const char* const output_rules;

// Adds the output options `help` names; returns -q,--quiet (nullptr without it).
CLI::Option* add_output_options(CLI::App& command, OutputArguments& outputs, const OutputHelp& help);

// The value of an option or argument that names a file or directory: an empty one is refused
// (an empty --json would otherwise read as no --json at all, an empty --stress as no stress).
CLI::Validator nonempty_path();

// --set KEY=VALUE (repeatable) of every command that runs a scenario: keys of the scenario file
// set without editing it (docs/scenario-format.md#overriding-keys-from-the-command-line).
void add_set_option(CLI::App& command, std::vector<std::string>& sets);
// The scenario's load options: --tiers-dir and the --set overrides, in the order given. Throws
// InputError naming a --set argument that is not KEY=VALUE.
LoadOptions load_options(const std::string& tiers_dir, const std::vector<std::string>& sets);

// FILE and --tiers-dir of every command that loads one scenario.
void add_scenario_options(CLI::App& command, std::string& scenario, std::string& tiers_dir);

// --tiers-dir alone, for commands that load many scenarios.
CLI::Option* add_tiers_dir_option(CLI::App& command, std::string& tiers_dir);

// --progress: the bar also when stderr is not a terminal; excludes --quiet.
void add_progress_flag(CLI::App& command, bool& progress, CLI::Option* quiet);

// --force of the commands that check a run's size first; `what` names what is estimated.
void add_force_flag(CLI::App& command, bool& force, const std::string& what);

struct RunArguments {
    std::string scenario;
    std::string tiers_dir;
    std::vector<std::string> sets;  // --set KEY=VALUE, in order
    RunOverrides overrides;
    OutputArguments outputs;
    bool force = false;  // run even when the estimate is above the time or memory limit
    bool progress = false;  // the progress bar also when stderr is not a terminal
    bool resume = false;    // continue from the checkpoint of an interrupted run
    std::string checkpoint;  // where the checkpoint is written and read; default FILE.checkpoint
};

struct ValidateArguments {
    std::string scenario;
    std::string tiers_dir;
};

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments);
int run_command(const RunArguments& arguments);

CLI::App* add_validate_command(CLI::App& app, ValidateArguments& arguments);
int validate_command(const ValidateArguments& arguments);

struct LiqArguments {
    std::string scenario;
    std::string tiers_dir;
    OutputArguments outputs;  // --json only; stdout shows the panel as text
};

CLI::App* add_liq_command(CLI::App& app, LiqArguments& arguments);
int liq_command(const LiqArguments& arguments);

struct SweepArguments {
    std::string scenario;
    // Exactly one parameter: its values "start:stop:step" or "v1,v2,...".
    std::string correlation;
    std::string leverage;
    std::string volatility;
    std::string horizon;
    std::string steps_per_day;
    std::string monitoring;  // words: continuous,discrete
    bool blend = false;
    std::string stress;
    int bisect = 8;
    RunOverrides overrides;
    OutputArguments outputs;
    std::string tiers_dir;
    std::vector<std::string> sets;  // --set KEY=VALUE, in order
    bool force = false;  // skip the run-size check
    // Set after parsing: the option of each parameter, which tells the one given (also with an
    // empty value, which is refused naming it).
    const CLI::Option* correlation_option = nullptr;
    const CLI::Option* leverage_option = nullptr;
    const CLI::Option* volatility_option = nullptr;
    const CLI::Option* horizon_option = nullptr;
    const CLI::Option* steps_per_day_option = nullptr;
    const CLI::Option* monitoring_option = nullptr;
};

CLI::App* add_sweep_command(CLI::App& app, SweepArguments& arguments);
int sweep_command(const SweepArguments& arguments);

struct BatchArguments {
    std::vector<std::string> inputs;
    std::string out;
    bool force = false;  // run past the run-size guard
    bool rerun = false;  // run the scenarios whose reports are up to date too
    int jobs = 1;
    RunOverrides overrides;
    std::string tiers_dir;
    std::vector<std::string> sets;  // --set KEY=VALUE, in order, applied to every scenario
    bool quiet = false;
    bool progress = false;
    bool resume = false;
};

CLI::App* add_batch_command(CLI::App& app, BatchArguments& arguments);
// Exit code: 0 all scenarios fine, 1 some failed, 130/143 interrupted (2, bad arguments, is
// thrown: InputError or UsageError).
int batch_command(const BatchArguments& arguments);

// `marginsim html KIND ... --out PATH`: the HTML report of a run or a sweep, with the options of
// that command (registered by its own add_*_command) and --out for --html; `marginsim html`
// alone lists what it renders.
struct HtmlArguments {
    RunArguments run;
    SweepArguments sweep;
    // Set after parsing: the subcommands, to tell which one was given.
    const CLI::App* html = nullptr;
    const CLI::App* run_command = nullptr;
    const CLI::App* sweep_command = nullptr;
};

CLI::App* add_html_command(CLI::App& app, HtmlArguments& arguments);
int html_command(const HtmlArguments& arguments);

struct CalibrateArguments {
    std::vector<std::string> files;
    int window = 0;
    std::string method = "sample";
    double lambda = 0.94;
    std::vector<std::string> symbols;
    std::string out;
    std::string json;
    std::string model;
    std::string filter = "ewma";  // of --model fhs
    std::string as_of;
    std::string into;       // a scenario whose market section is updated in place
    std::string tiers_dir;  // of --into's scenario
    // Set after parsing: which options were given.
    const CLI::Option* window_option = nullptr;
    const CLI::Option* lambda_option = nullptr;
    const CLI::Option* filter_option = nullptr;
};

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArguments& arguments);
int calibrate_command(const CalibrateArguments& arguments);

struct ImportArguments {
    std::string account;
    std::string positions;
    std::string brackets;
    std::string history;  // empty: the bundled daily closes
    int window = 365;
    double horizon = 7.0;
    std::string out;
};

CLI::App* add_import_command(CLI::App& app, ImportArguments& arguments);
int import_command(const ImportArguments& arguments);

// The bundled daily price history (import's and stress's default): installed next to the
// program (<prefix>/share/marginsim/binance_daily), else in the source tree it was built from.
std::filesystem::path bundled_history();
// --history DIR of the commands on daily bars (stress, backtest): empty is the bundled history.
void add_history_option(CLI::App& command, std::string& history);
// The book's price files in --history's directory (read_history), or in the bundled one.
std::vector<PriceSeries> read_book_history(const Scenario& scenario, const std::string& history);
// A date YYYY-MM-DD (parse_iso_date).
CLI::Validator iso_date();

struct StressArguments {
    std::string scenario;
    std::string tiers_dir;
    std::vector<std::string> sets;     // --set KEY=VALUE, in order
    std::vector<std::string> replays;  // --replay DATE|NAME|all, in order
    int days = 0;
    std::string history;  // empty: the bundled daily bars
    bool list = false;
    OutputArguments outputs;
    const CLI::Option* days_option = nullptr;  // set after parsing: was --days given
};

CLI::App* add_stress_command(CLI::App& app, StressArguments& arguments);
int stress_command(const StressArguments& arguments);

struct BacktestArguments {
    std::string scenario;
    std::string tiers_dir;
    std::vector<std::string> sets;  // --set KEY=VALUE, in order
    std::string history;            // empty: the bundled daily bars
    std::string from;
    std::string to;
    int every = 7;
    int window = 365;
    std::vector<std::string> models;  // empty: the default four
    std::uint64_t paths = 20000;
    int threads = 0;
    bool uncertainty = false;  // --uncertainty
    OutputArguments outputs;
};

CLI::App* add_backtest_command(CLI::App& app, BacktestArguments& arguments);
int backtest_command(const BacktestArguments& arguments);

inline void print_warnings(const std::vector<std::string>& warnings) {
    for (const std::string& warning : warnings) std::cerr << "warning: " << warning << '\n';
}

}  // namespace marginsim::cli
