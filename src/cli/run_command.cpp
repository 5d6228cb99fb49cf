// `marginsim run FILE`: simulate a scenario, print the table (or JSON/CSV), write
// JSON/CSV/HTML files. SIGINT or SIGTERM stops it at a block boundary: the outputs are
// written for the completed paths, marked partial, with a checkpoint that --resume continues.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "interrupt.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/report.hpp"
#include "marginsim/run_estimate.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "outputs.hpp"
#include "program_ranks.hpp"
#include "progress.hpp"

namespace marginsim::cli {
namespace {

namespace fs = std::filesystem;

// Warnings the run added to those of the scenario, already printed on loading.
void print_new_warnings(const Scenario& scenario, const Report& report) {
    for (const std::string& warning : report.warnings) {
        if (std::find(scenario.warnings.begin(), scenario.warnings.end(), warning) ==
            scenario.warnings.end()) {
            std::cerr << "warning: " << warning << '\n';
        }
    }
}

fs::path checkpoint_path(const RunArguments& arguments) {
    if (!arguments.checkpoint.empty()) return arguments.checkpoint;
    fs::path path = arguments.scenario;
    path += ".checkpoint";
    return path;
}

struct RunOutcome {
    Report report;
    std::optional<DetailedRun> detailed;  // with --html: the charts need every path's outcome
};

RunOutcome run(const Scenario& scenario, const RunOptions& options, const RunControl& control, bool html) {
    RunOutcome outcome;
    if (html) {
        outcome.detailed = run_detailed(scenario, options, control);
        outcome.report = outcome.detailed->report;
    } else {
        outcome.report = simulate(scenario, options, control);
    }
    return outcome;
}

// The scenario, the checkpoint and every output are distinct and the outputs writable.
OutputPlan output_plan(const RunArguments& arguments) {
    const NamedPath checkpoint{arguments.checkpoint.empty() ? "the checkpoint (default FILE.checkpoint)" : "--checkpoint",
                               checkpoint_path(arguments).string()};
    OutputPlan plan(output_paths(arguments.outputs), {{"FILE", arguments.scenario}}, checkpoint,
                    format_given(arguments.outputs));
    // The default checkpoint, next to the scenario, is only written if the run is interrupted.
    if (!arguments.checkpoint.empty()) check_usable(checkpoint);
    return plan;
}

void write_outputs(const RunArguments& arguments, const OutputPlan& plan, const RunOutcome& outcome) {
    const Report& report = outcome.report;
    Renderers render = json_and_text(report);
    render.csv = [&report] { return to_csv(report); };
    if (outcome.detailed) render.html = [&outcome] { return to_html(*outcome.detailed); };
    write_reports(arguments.outputs, plan, render);
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "run", "Simulate a scenario and report liquidation risk in every margin mode");
    add_scenario_options(*command, arguments.scenario, arguments.tiers_dir);
    add_set_option(*command, arguments.sets);
    add_run_override_options(*command, arguments.overrides);
    CLI::Option* quiet = add_output_options(
        *command, arguments.outputs,
        {.json = "Write the JSON report (schema marginsim.report/1) to PATH", .csv = "Write the report as CSV to PATH",
         .html = "Write the self-contained HTML report (charts) to PATH", .stdout_format = true});
    add_progress_flag(*command, arguments.progress, quiet);
    command->add_flag("--resume", arguments.resume,
                      "Continue an interrupted run from its checkpoint, to the numbers of an uninterrupted run");
    command->add_option("--checkpoint", arguments.checkpoint,
                        "Where an interrupted run writes its checkpoint and --resume reads it "
                        "(default: FILE.checkpoint, next to the scenario)")
        ->type_name("PATH")
        ->check(nonempty_path());
    add_force_flag(*command, arguments.force, "the run");
    return command;
}

int run_command(const RunArguments& arguments) {
    const Ranks& ranks = program_ranks();
    std::optional<OutputPlan> plan;
    on_root([&] { plan.emplace(output_plan(arguments)); });
    std::optional<Scenario> loaded;
    load_everywhere([&] {
        loaded = load_scenario(arguments.scenario, load_options(arguments.tiers_dir, arguments.sets));
    });
    const Scenario& scenario = *loaded;
    const RunOptions options = arguments.overrides.options();
    print_warnings(scenario.warnings);
    const fs::path checkpoint = checkpoint_path(arguments);
    RunControl control;
    control.ranks = &ranks;
    std::optional<RunCheckpoint> resume;
    on_root([&] {
        if (!arguments.force) check_run_size(scenario, options, machine_run_limits(), 1, ranks.size());
        control.scenario_hash = file_hash(arguments.scenario);
        if (arguments.resume) {
            resume = read_checkpoint(checkpoint, run_checkpoint_key(scenario, options, control.scenario_hash));
            control.resume = &*resume;
        }
    });
    std::string hash = std::to_string(control.scenario_hash);  // in every rank's checkpoint part
    ranks.broadcast(hash);
    control.scenario_hash = std::stoull(hash);
    RunCheckpoint stopped_at;
    control.checkpoint = &stopped_at;
    control.stop = &InterruptGuard::flag();
    ProgressBar bar(ProgressBar::style_for(arguments.progress, arguments.outputs.quiet));
    if (bar.enabled()) control.on_progress = [&bar](const RunProgress& progress) { bar.update("", progress); };
    const InterruptGuard guard;
    const auto start = std::chrono::steady_clock::now();
    RunOutcome outcome;
    try {
        outcome = run(scenario, options, control, !arguments.outputs.html.empty());
    } catch (const RunInterrupted& stopped) {
        bar.message(fmt::format("marginsim: {}; nothing written", stopped.what()));
        return InterruptGuard::exit_code();
    }
    const Report& report = outcome.report;
    const std::chrono::duration<double> session = std::chrono::steady_clock::now() - start;
    const std::uint64_t resumed = resume ? resume->paths_done() : 0;
    bar.finish("", RunProgress{report.paths_done, report.paths_requested, resumed, session.count()});
    print_new_warnings(scenario, report);
    on_root([&] {
        if (report.partial) write_checkpoint(checkpoint, stopped_at);
        write_outputs(arguments, *plan, outcome);
    });
    if (report.partial) {
        std::cerr << fmt::format(
            "marginsim: interrupted after {} of {} paths: the reports written are partial (\"partial\": true) and "
            "the completed blocks are saved in {}.\nResume with the same command and --resume{}.\n",
            report.paths_done, report.paths_requested, checkpoint.string(),
            arguments.checkpoint.empty() ? "" : " (and the same --checkpoint)");
        return InterruptGuard::exit_code();
    }
    if (resume) {
        std::error_code ignored;
        fs::remove(checkpoint, ignored);  // spent: the run is complete
    }
    return exit_ok;
}

}  // namespace marginsim::cli
