// `marginsim liq FILE`: the liquidation price of every position in every margin mode, with
// its distance from the current price and the margin ratio of its pool; no simulation.

#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/output.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim::cli {

CLI::App* add_liq_command(CLI::App& app, LiqArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "liq", "Liquidation prices, distances and margin ratios of every position in every "
               "margin mode, as an exchange's position panel shows them (no simulation)");
    command->add_option("FILE", arguments.scenario, "Scenario file (TOML)")->required();
    command->add_option("--json", arguments.json,
                        "Write the panel as JSON (schema marginsim.liq/1) to this file");
    add_tiers_dir_option(*command, arguments.tiers_dir);
    return command;
}

int liq_command(const LiqArguments& arguments) {
    const Scenario scenario = load_scenario(arguments.scenario, LoadOptions{arguments.tiers_dir});
    print_warnings(scenario.warnings);
    const LiquidationPanel panel = liquidation_panel(scenario);
    // Rendered before anything is written: a failure leaves no partial output.
    const std::optional<std::string> json =
        arguments.json.empty() ? std::nullopt : std::optional(to_json(panel));
    write_text(std::cout, panel);
    std::cout.flush();
    if (json) write_file_atomically(arguments.json, *json);
    return exit_ok;
}

}  // namespace marginsim::cli
