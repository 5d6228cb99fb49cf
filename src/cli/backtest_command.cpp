// `marginsim backtest FILE --from DATE --to DATE [--every DAYS] [--window DAYS] [--models LIST]
// [--paths N] [--history DIR] [--json OUT] [--csv OUT] [--html OUT]`: each model's predicted
// P(liquidation) of the book, re-opened at each start date's close, against what the next
// days' bars did (docs/backtest.md).

#include <iostream>
#include <unistd.h>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "marginsim/backtest.hpp"
#include "marginsim/backtest_report.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/scenario.hpp"
#include "outputs.hpp"
#include "program_ranks.hpp"

namespace marginsim::cli {


CLI::App* add_backtest_command(CLI::App& app, BacktestArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "backtest", "Backtest the models' P(liquidation) of the book against what really happened: the book "
                    "re-opened at each start date's close, each model calibrated on the days before it");
    command->add_option("FILE", arguments.scenario, "Scenario file (TOML)")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->required();
    add_tiers_dir_option(*command, arguments.tiers_dir);
    add_set_option(*command, arguments.sets);
    add_history_option(*command, arguments.history);
    command->add_option("--from", arguments.from, "First start date")->type_name("DATE")->check(iso_date())->required();
    command->add_option("--to", arguments.to, "Last start date")->type_name("DATE")->check(iso_date())->required();
    command->add_option("--every", arguments.every, "Days between start dates (1 to 3650)")
        ->type_name("DAYS")
        ->check(CLI::Range(1, 3650).description(""))
        ->capture_default_str();
    command->add_option("--window", arguments.window, "Calendar days of history each calibration uses (30 to 100000)")
        ->type_name("DAYS")
        ->check(CLI::Range(30, 100000).description(""))
        ->capture_default_str();
    std::vector<std::string> model_names;
    for (const BacktestModel model : all_backtest_models) model_names.emplace_back(to_string(model));
    command
        ->add_option("--models", arguments.models,
                     fmt::format("Models, comma-separated: {} (default: the first four)", fmt::join(model_names, ", ")))
        ->type_name("LIST")
        ->delimiter(',')
        ->check(CLI::IsMember(model_names));
    command->add_option("--paths", arguments.paths, "Paths per window and model")
        ->type_name("N")
        ->check(integer_at_least<std::uint64_t>(1, "POSITIVE"))
        ->capture_default_str();
    command->add_option("--threads", arguments.threads, "Threads (0 = all cores)")
        ->type_name("T")
        ->check(integer_at_least<int>(0, "NONNEGATIVE"));
    command->add_flag("--uncertainty", arguments.uncertainty,
                      "Parameter uncertainty: every model but regime draws each path's volatilities from their "
                      "estimate's sampling distribution, as from the window's returns ([uncertainty])");
    add_output_options(*command, arguments.outputs,
                       {.json = "Write the windows and scores as JSON (schema marginsim.backtest/1) to PATH ('-': stdout)",
                        .csv = "Write one row per window and model to PATH ('-': stdout)",
                        .html = "Write the self-contained HTML report (scores, reliability diagrams, predictions over "
                                "time) to PATH",
                        .stdout_format = true});
    return command;
}

int backtest_command(const BacktestArguments& arguments) {
    on_root([&] {
        (void)OutputPlan(output_paths(arguments.outputs), {{"FILE", arguments.scenario}}, std::nullopt,
                         format_given(arguments.outputs));
    });
    BacktestOptions options;
    options.from = *parse_iso_date(arguments.from);
    options.to = *parse_iso_date(arguments.to);
    if (options.to < options.from) throw UsageError("--to is before --from");
    options.every_days = arguments.every;
    options.window_days = arguments.window;
    options.paths = arguments.paths;
    options.threads = arguments.threads;
    options.parameter_uncertainty = arguments.uncertainty;
    if (spread_over_ranks()) options.ranks = &program_ranks();
    if (!arguments.models.empty()) {
        options.models.clear();
        for (const std::string& name : arguments.models) {
            const BacktestModel model = *backtest_model_from(name);
            if (std::find(options.models.begin(), options.models.end(), model) == options.models.end()) {
                options.models.push_back(model);
            }
        }
    }
    std::optional<Scenario> loaded;
    std::vector<PriceSeries> series;
    load_everywhere([&] {  // the price history is an input too
        loaded = load_scenario(arguments.scenario, load_options(arguments.tiers_dir, arguments.sets));
        series = read_book_history(*loaded, arguments.history);
    });
    const Scenario& scenario = *loaded;
    print_warnings(scenario.warnings);
    std::optional<OutputPlan> plan;
    on_root([&] {
        std::vector<NamedPath> inputs{{"FILE", arguments.scenario}};
        for (const PriceSeries& s : series) inputs.push_back({"a price file", s.source});
        plan.emplace(output_paths(arguments.outputs), inputs, std::nullopt, format_given(arguments.outputs));
    });

    // A progress line on a terminal only (redrawn in place); nothing in a log.
    const bool show = !arguments.outputs.quiet && isatty(STDERR_FILENO) != 0;
    const BacktestResult result = run_backtest(scenario, series, options, [show](std::size_t done, std::size_t total) {
        if (show && (done == total || done % 20 == 0)) {
            std::cerr << fmt::format("\rbacktest: {} of {} window-model runs", done, total) << (done == total ? "\n" : "")
                      << std::flush;
        }
    });
    Renderers render;
    render.json = [&result] { return to_json(result); };
    render.csv = [&result] { return to_csv(result); };
    render.text = [&result] { return backtest_text(result); };
    render.html = [&result] { return to_html(result); };
    on_root([&] { write_reports(arguments.outputs, *plan, render); });
    return exit_ok;
}

}  // namespace marginsim::cli
