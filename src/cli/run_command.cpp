// `marginsim run FILE`: simulate a scenario, print the table, write JSON/CSV files.

#include <algorithm>
#include <charconv>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "commands.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::cli {
namespace {

RunOptions run_options(const RunArguments& arguments) {
    RunOptions options;
    if (arguments.paths_option->count() > 0) options.paths = arguments.paths;
    if (arguments.seed_option->count() > 0) options.seed = arguments.seed;
    if (arguments.threads_option->count() > 0) options.threads = arguments.threads;
    return options;
}

// Warnings the run added to those of the scenario, already printed on loading.
void print_new_warnings(const Scenario& scenario, const Report& report) {
    for (const std::string& warning : report.warnings) {
        if (std::find(scenario.warnings.begin(), scenario.warnings.end(), warning) ==
            scenario.warnings.end()) {
            std::cerr << "warning: " << warning << '\n';
        }
    }
}

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

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "run", "Simulate a scenario and report liquidation risk in every margin mode");
    command->add_option("FILE", arguments.scenario, "Scenario file (TOML)")->required();
    arguments.paths_option =
        command->add_option("--paths", arguments.paths, "Override [simulation] paths (> 0)")
            ->check(integer_at_least<std::uint64_t>(1, "POSITIVE"));
    arguments.seed_option =
        command->add_option("--seed", arguments.seed, "Override [simulation] seed")
            ->check(integer_at_least<std::uint64_t>(0, "NONNEGATIVE"));
    arguments.threads_option =
        command->add_option("--threads", arguments.threads,
                            "Override [simulation] threads (0 = all cores; results do not "
                            "depend on it)")
            ->check(integer_at_least<int>(0, "NONNEGATIVE"));
    command->add_option("--json", arguments.json, "Write the JSON report (SPEC 4) to this file");
    command->add_option("--csv", arguments.csv, "Write the report as CSV to this file");
    command->add_flag("-q,--quiet", arguments.quiet, "Do not print the table on stdout");
    add_tiers_dir_option(*command, arguments.tiers_dir);
    return command;
}

int run_command(const RunArguments& arguments) {
    const Scenario scenario = load_scenario(arguments.scenario, LoadOptions{arguments.tiers_dir});
    print_warnings(scenario.warnings);
    const Report report = simulate(scenario, run_options(arguments));
    print_new_warnings(scenario, report);

    // Everything is rendered before anything is written: a failure leaves no partial output.
    const std::optional<std::string> json =
        arguments.json.empty() ? std::nullopt : std::optional(to_json(report));
    const std::optional<std::string> csv =
        arguments.csv.empty() ? std::nullopt : std::optional(to_csv(report));
    if (!arguments.quiet) {
        write_text(std::cout, report);
        std::cout.flush();
    }
    if (json) write_file_atomically(arguments.json, *json);
    if (csv) write_file_atomically(arguments.csv, *csv);
    return exit_ok;
}

}  // namespace marginsim::cli
