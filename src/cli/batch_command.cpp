// `marginsim batch FILES-or-DIRS... --out DIR`: every scenario's reports and an index.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "interrupt.hpp"
#include "marginsim/batch.hpp"
#include "program_ranks.hpp"
#include "progress.hpp"

namespace marginsim::cli {
namespace {

std::string outcome(const BatchEntry& entry) {
    switch (entry.status) {
        case BatchStatus::ran: return fmt::format("ran in {:.2f} s", entry.row->elapsed_s);
        case BatchStatus::skipped: return "skipped, its reports are up to date (--rerun runs it again)";
        case BatchStatus::failed: return "FAILED: " + entry.error;
        case BatchStatus::partial:
            return fmt::format("interrupted after {} of {} paths: partial reports and a checkpoint written",
                               entry.row->paths, entry.row->paths_requested);
        case BatchStatus::not_run: return "not run: interrupted before it started";
    }
    return {};
}

// The scenarios that failed, as given, for the last line of the batch.
std::string failed_scenarios(const BatchResult& result) {
    std::string text;
    for (const BatchEntry& entry : result.entries) {
        if (entry.status == BatchStatus::failed) text += (text.empty() ? "" : ", ") + entry.scenario.string();
    }
    return text;
}

}  // namespace

CLI::App* add_batch_command(CLI::App& app, BatchArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "batch",
        "Run many scenarios: NAME.json, NAME.csv and NAME.html per scenario, then summary.csv "
        "and index.html side by side. Exit code: 0 every scenario ran or was up to date, 1 some "
        "failed (listed at the end, the others ran), 2 the batch's own arguments are wrong (nothing "
        "ran), 130 interrupted by Ctrl-C and 143 by SIGTERM (partial reports, --resume continues)");
    command
        ->add_option("INPUTS", arguments.inputs,
                     "Scenario files, or directories whose *.toml files are scenarios")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->required();
    command->add_option("--out", arguments.out, "Directory of the reports (created if missing)")
        ->type_name("DIR")
        ->check(nonempty_path())
        ->required();
    add_force_flag(*command, arguments.force, "a scenario's run");
    command->add_flag("--rerun", arguments.rerun,
                      "Run every scenario again, also those whose reports are up to date (the same scenario "
                      "and tier tables, --set, paths and seed, the reports as written), which are otherwise "
                      "skipped");
    command
        ->add_option("--jobs", arguments.jobs,
                     "Scenarios run at once, each with (cores / jobs) threads unless --threads "
                     "is given")
        ->check(integer_at_least<int>(1, "POSITIVE"))
        ->capture_default_str();
    add_run_override_options(*command, arguments.overrides);
    CLI::Option* quiet =
        command->add_flag("-q,--quiet", arguments.quiet, "Report only the scenarios that fail; no progress bar");
    add_progress_flag(*command, arguments.progress, quiet);
    command->add_flag("--resume", arguments.resume,
                      "Continue the scenarios an interrupted batch left partial, from their checkpoints");
    add_tiers_dir_option(*command, arguments.tiers_dir);
    add_set_option(*command, arguments.sets);
    return command;
}

namespace {

int run_batch_command(const BatchArguments& arguments);

}  // namespace

// Every rank exits with rank 0's code (the other ranks hold no result to judge by).
int batch_command(const BatchArguments& arguments) {
    return roots_exit_code(run_batch_command(arguments));
}

namespace {

int run_batch_command(const BatchArguments& arguments) {
    ProgressBar bar(ProgressBar::style_for(arguments.progress, arguments.quiet));
    BatchOptions options;
    options.run = arguments.overrides.options();
    options.load = load_options(arguments.tiers_dir, arguments.sets);
    options.out_dir = arguments.out;
    options.force = arguments.force;
    options.rerun = arguments.rerun;
    options.jobs = arguments.jobs;
    options.resume = arguments.resume;
    options.stop = &InterruptGuard::flag();
    if (spread_over_ranks()) options.ranks = &program_ranks();
    if (bar.enabled()) {
        options.run_progress = [&bar](const BatchEntry& entry, const RunProgress& progress) {
            bar.update(entry.name + " ", progress);
        };
    }
    const std::vector<std::filesystem::path> inputs(arguments.inputs.begin(), arguments.inputs.end());

    const InterruptGuard guard;
    const bool quiet = arguments.quiet;
    const BatchResult result =
        run_batch(inputs, options, [quiet, &bar](const BatchEntry& entry, std::size_t done, std::size_t total) {
            if (quiet && entry.status != BatchStatus::failed) return;
            bar.message(fmt::format("batch: [{}/{}] {}: {}", done, total, entry.scenario.string(), outcome(entry)));
        });
    // About the inputs (a file given twice is run once), shown even with --quiet as warnings are.
    for (const std::string& note : result.notes) bar.message("batch: note: " + note);
    const std::size_t failed = result.count(BatchStatus::failed);
    if (!quiet || failed > 0 || result.interrupted) {
        fmt::print(stderr, "batch: {} scenarios: {} ran, {} skipped, {} failed", result.entries.size(),
                   result.count(BatchStatus::ran), result.count(BatchStatus::skipped), failed);
        if (result.interrupted) {
            fmt::print(stderr, ", {} partial, {} not run", result.count(BatchStatus::partial),
                       result.count(BatchStatus::not_run));
        }
        fmt::print(stderr, "; see {}\n", (std::filesystem::path(arguments.out) / "index.html").string());
    }
    if (failed > 0) fmt::print(stderr, "batch: failed: {}\n", failed_scenarios(result));
    if (result.interrupted) {
        fmt::print(stderr, "batch: interrupted; the same command with --resume continues the partial scenarios "
                           "from their checkpoints and runs the others\n");
        return InterruptGuard::exit_code();
    }
    return failed > 0 ? exit_failure : exit_ok;
}

}  // namespace

}  // namespace marginsim::cli
