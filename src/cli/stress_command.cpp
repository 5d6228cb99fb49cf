// `marginsim stress FILE --replay DATE|NAME|all [--days N] [--history DIR]`: the book through
// daily bars that really happened, per margin mode (docs/stress.md); `marginsim stress --list`
// prints the catalogue of named windows.

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/stress.hpp"
#include "outputs.hpp"

namespace marginsim::cli {

CLI::App* add_stress_command(CLI::App& app, StressArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "stress", "Replay the book through daily prices that really happened (a named crash or a date): "
                  "per margin mode, who is liquidated, on which day, and the loss");
    command->add_option("FILE", arguments.scenario, "Scenario file (TOML)")->type_name("PATH")->check(nonempty_path());
    add_tiers_dir_option(*command, arguments.tiers_dir);
    add_set_option(*command, arguments.sets);
    command
        ->add_option("--replay", arguments.replays,
                     "The window to replay: a date YYYY-MM-DD (its own move counts: the book starts at the close "
                     "of the day before), a name of the catalogue (--list), or all (repeatable)")
        ->type_name("DATE|NAME")
        ->allow_extra_args(false);
    arguments.days_option = command
                                ->add_option("--days", arguments.days,
                                             "Days to replay (1 to 3650); default: the scenario's horizon_days "
                                             "rounded up for a date, the catalogue's days for a name")
                                ->type_name("N")
                                ->check(integer_at_least<int>(1, "POSITIVE"))
                                ->check(CLI::Range(1, 3650).description(""));
    add_history_option(*command, arguments.history);
    command->add_flag("--list", arguments.list, "Print the catalogue of named windows and exit");
    add_output_options(*command, arguments.outputs,
                       {.json = "Write the replays as JSON (schema marginsim.stress/1) to PATH ('-': stdout)",
                        .csv = "Write one row per window, outcome, mode and position to PATH ('-': stdout)",
                        .stdout_format = true});
    return command;
}

int stress_command(const StressArguments& arguments) {
    if (arguments.list) {
        if (!arguments.scenario.empty() || !arguments.replays.empty())
            throw UsageError("--list prints the catalogue only: give it without FILE and --replay");
        write_stdout(catalogue_text());
        return exit_ok;
    }
    if (arguments.scenario.empty()) throw UsageError("stress needs a scenario FILE (or --list)");
    if (arguments.replays.empty())
        throw UsageError("stress needs --replay DATE|NAME|all (the names: marginsim stress --list)");

    // Outputs checked before anything is read; again below against the price files found.
    (void)OutputPlan(output_paths(arguments.outputs), {{"FILE", arguments.scenario}}, std::nullopt,
                     format_given(arguments.outputs));
    const Scenario scenario = load_scenario(arguments.scenario, load_options(arguments.tiers_dir, arguments.sets));
    print_warnings(scenario.warnings);
    const std::optional<int> days =
        arguments.days_option->count() > 0 ? std::optional(arguments.days) : std::nullopt;
    const int default_days = static_cast<int>(std::ceil(scenario.simulation.horizon_days));
    const std::vector<ReplayWindow> windows = replay_windows(arguments.replays, days, default_days);
    const std::vector<PriceSeries> series = read_book_history(scenario, arguments.history);

    std::vector<NamedPath> inputs{{"FILE", arguments.scenario}};
    for (const PriceSeries& s : series) inputs.push_back({"a price file", s.source});
    const OutputPlan plan(output_paths(arguments.outputs), inputs, std::nullopt, format_given(arguments.outputs));

    const bool whole_catalogue =
        std::find(arguments.replays.begin(), arguments.replays.end(), "all") != arguments.replays.end();
    StressReport report = stress_test(scenario, series, windows, whole_catalogue);
    report.history = arguments.history.empty() ? bundled_history().string() : arguments.history;
    Renderers render;
    render.json = [&report] { return to_json(report); };
    render.csv = [&report] { return to_csv(report); };
    render.text = [&report] {
        std::ostringstream text;
        write_text(text, report);
        return text.str();
    };
    write_reports(arguments.outputs, plan, render);
    return exit_ok;
}

}  // namespace marginsim::cli
