// `marginsim liq FILE`: the liquidation price of every position in every margin mode, with
// its distance from the current price and the margin ratio of its pool; no simulation.

#include <iostream>
#include <string>

#include "commands.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "outputs.hpp"

namespace marginsim::cli {

CLI::App* add_liq_command(CLI::App& app, LiqArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "liq", "Liquidation prices, distances and margin ratios of every position in every "
               "margin mode, as an exchange's position panel shows them (no simulation)");
    add_scenario_options(*command, arguments.scenario, arguments.tiers_dir);
    add_output_options(*command, arguments.outputs,
                       {.json = "Write the panel as JSON (schema marginsim.liq/1) to PATH ('-': stdout, instead of the table)"});
    return command;
}

int liq_command(const LiqArguments& arguments) {
    const OutputPlan plan(output_paths(arguments.outputs), {{"FILE", arguments.scenario}});
    const Scenario scenario = load_scenario(arguments.scenario, LoadOptions{arguments.tiers_dir});
    print_warnings(scenario.warnings);
    const LiquidationPanel panel = liquidation_panel(scenario);
    write_reports(arguments.outputs, plan, json_and_text(panel));
    return exit_ok;
}

}  // namespace marginsim::cli
