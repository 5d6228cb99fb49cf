// `marginsim run FILE`: simulate a scenario, print the table (or JSON/CSV), write
// JSON/CSV/HTML files.

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/report.hpp"
#include "marginsim/run_estimate.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::cli {
namespace {

// Warnings the run added to those of the scenario, already printed on loading.
void print_new_warnings(const Scenario& scenario, const Report& report) {
    for (const std::string& warning : report.warnings) {
        if (std::find(scenario.warnings.begin(), scenario.warnings.end(), warning) ==
            scenario.warnings.end()) {
            std::cerr << "warning: " << warning << '\n';
        }
    }
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "run", "Simulate a scenario and report liquidation risk in every margin mode");
    command->add_option("FILE", arguments.scenario, "Scenario file (TOML)")->required();
    add_run_override_options(*command, arguments.overrides);
    command->add_option("--json", arguments.json, "Write the JSON report (SPEC 4) to this file");
    command->add_option("--csv", arguments.csv, "Write the report as CSV to this file");
    command->add_option("--html", arguments.html,
                        "Write the self-contained HTML report (charts) to this file");
    add_format_option(*command, arguments.format);
    command->add_flag("-q,--quiet", arguments.quiet, "Print nothing on stdout");
    add_tiers_dir_option(*command, arguments.tiers_dir);
    command->add_flag("--force", arguments.force,
                      "Run even when the estimate is above an hour or 75% of the physical memory");
    return command;
}

int run_command(const RunArguments& arguments) {
    const Scenario scenario = load_scenario(arguments.scenario, LoadOptions{arguments.tiers_dir});
    print_warnings(scenario.warnings);
    if (!arguments.force) check_run_size(scenario, arguments.overrides.options());
    // The HTML charts need every path's outcome: run_detailed gives the same report.
    std::optional<DetailedRun> detailed;
    if (!arguments.html.empty()) detailed = run_detailed(scenario, arguments.overrides.options());
    const Report report =
        detailed ? detailed->report : simulate(scenario, arguments.overrides.options());
    print_new_warnings(scenario, report);

    // Everything is rendered before anything is written: a failure leaves no partial output.
    const std::optional<std::string> json =
        arguments.json.empty() ? std::nullopt : std::optional(to_json(report));
    const std::optional<std::string> csv =
        arguments.csv.empty() ? std::nullopt : std::optional(to_csv(report));
    const std::optional<std::string> html =
        detailed ? std::optional(to_html(*detailed)) : std::nullopt;
    if (!arguments.quiet) {
        if (arguments.format == "json") {
            std::cout << to_json(report);
        } else if (arguments.format == "csv") {
            std::cout << to_csv(report);
        } else {
            write_text(std::cout, report);
        }
        std::cout.flush();
    }
    if (json) write_file_atomically(arguments.json, *json);
    if (csv) write_file_atomically(arguments.csv, *csv);
    if (html) write_file_atomically(arguments.html, *html);
    return exit_ok;
}

}  // namespace marginsim::cli
