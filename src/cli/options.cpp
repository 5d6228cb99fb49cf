// The flags several commands share, each defined once: outputs, scenario, progress, force.

#include <string>
#include <system_error>

#include "commands.hpp"
#include "marginsim/input_files.hpp"
#include "marginsim/replay.hpp"

#ifndef MARGINSIM_BUNDLED_HISTORY
#error "MARGINSIM_BUNDLED_HISTORY must be defined by the build"
#endif

namespace marginsim::cli {

std::filesystem::path bundled_history() {
    std::error_code error;
    const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) {
        const std::filesystem::path installed =
            program.parent_path().parent_path() / "share" / "marginsim" / "binance_daily";
        // As input_kind sees it: on MPI ranks, rank 0's choice (input_files.hpp).
        if (is_input_directory(installed)) return installed;
    }
    return MARGINSIM_BUNDLED_HISTORY;
}

void add_history_option(CLI::App& command, std::string& history) {
    command
        .add_option("--history", history,
                    "Directory of daily price CSV files, one per asset, named by symbol (Binance_BTCUSDT_d.csv, "
                    "BTC.csv); default: the bundled data/binance_daily")
        ->type_name("DIR")
        ->check(nonempty_path());
}

std::vector<PriceSeries> read_book_history(const Scenario& scenario, const std::string& history) {
    return read_history(scenario, history.empty() ? bundled_history() : std::filesystem::path(history));
}

CLI::Validator iso_date() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            return parse_iso_date(text) ? std::string() : "must be a date YYYY-MM-DD, not '" + text + "'";
        },
        "DATE");
}

const char* const output_rules =
    "Outputs: PATH '-' is stdout, and at most one output may go there; the table is then not printed\n"
    "(and an explicit --format refused). A regular file is replaced whole (a temporary file, then a\n"
    "rename); a symbolic link is followed and its target written; a character device or a FIFO is\n"
    "written in place (a FIFO with no reader is refused, not waited on); a directory is refused.\n"
    "An output may not be an input, the checkpoint or another output. Every output path is checked\n"
    "before the work starts (exit 2 when unusable); a failed write, to a file or stdout, exits 1.";

CLI::Validator nonempty_path() {
    return CLI::Validator(
        [](std::string& text) -> std::string { return text.empty() ? "an empty path (expected a path)" : ""; }, "");
}

CLI::Option* add_output_options(CLI::App& command, OutputArguments& outputs, const OutputHelp& help) {
    const auto add_path = [&command](const char* name, std::string& path, const char* text) {
        if (text != nullptr) command.add_option(name, path, text)->type_name("PATH")->check(nonempty_path());
    };
    add_path("--json", outputs.json, help.json);
    add_path("--csv", outputs.csv, help.csv);
    add_path("--html", outputs.html, help.html);
    command.footer(output_rules);
    if (!help.stdout_format) return nullptr;
    CLI::Option* format =
        command
            .add_option("--format", outputs.format,
                        "What to print on stdout: text (a table), json or csv; nothing when an output "
                        "goes to stdout ('-')")
            ->check(CLI::IsMember({"text", "json", "csv"}))
            ->capture_default_str();
    outputs.format_option = format;
    // --quiet with --format would print nothing and so contradict it: they exclude each other.
    return command
        .add_flag("-q,--quiet", outputs.quiet,
                  "Print nothing on stdout but an output named '-', and no progress (excludes --format)")
        ->excludes(format);
}

CLI::Option* add_tiers_dir_option(CLI::App& command, std::string& tiers_dir) {
    return command.add_option("--tiers-dir", tiers_dir,
                              "Look up tier table references (tiers = \"binance-usdm/BTCUSDT\") "
                              "here first, before the exchanges directory next to the scenario")
        ->type_name("DIR")
        ->check(nonempty_path())
        ->check(CLI::Validator(CLI::ExistingDirectory).description(""));
}

void add_set_option(CLI::App& command, std::vector<std::string>& sets) {
    command
        .add_option("--set", sets,
                    "Set a key of the scenario file without editing it, checked as if the file held it "
                    "(repeatable, applied in order): simulation.steps_per_day=288, positions[1].margin=500, "
                    "assets.BTC.volatility=0.6, correlation.BTC/ETH=0.9; VALUE is a TOML value, a bare word a string")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
}

LoadOptions load_options(const std::string& tiers_dir, const std::vector<std::string>& sets) {
    LoadOptions options{tiers_dir};
    for (const std::string& set : sets) options.overrides.push_back(parse_override(set));
    return options;
}

void add_scenario_options(CLI::App& command, std::string& scenario, std::string& tiers_dir) {
    command.add_option("FILE", scenario, "Scenario file (TOML)")->type_name("PATH")->check(nonempty_path())->required();
    add_tiers_dir_option(command, tiers_dir);
}

void add_progress_flag(CLI::App& command, bool& progress, CLI::Option* quiet) {
    command.add_flag("--progress", progress, "Show the progress bar on stderr even when it is not a terminal")
        ->excludes(quiet);
}

void add_force_flag(CLI::App& command, bool& force, const std::string& what) {
    command.add_flag("--force", force,
                     "Run even when the estimate of " + what + " is above an hour or 75% of the physical memory");
}

}  // namespace marginsim::cli
