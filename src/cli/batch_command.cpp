// `marginsim batch FILES-or-DIRS... --out DIR`: every scenario's reports and an index.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "marginsim/batch.hpp"

namespace marginsim::cli {
namespace {

constexpr int max_exit_code = 125;  // above are the shell's own codes

std::string outcome(const BatchEntry& entry) {
    switch (entry.status) {
        case BatchStatus::ran: return fmt::format("ran in {:.2f} s", entry.row->elapsed_s);
        case BatchStatus::skipped: return "skipped, its reports are up to date (--force reruns it)";
        case BatchStatus::failed: return "FAILED: " + entry.error;
    }
    return {};
}

}  // namespace

CLI::App* add_batch_command(CLI::App& app, BatchArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "batch",
        "Run many scenarios: NAME.json, NAME.csv and NAME.html per scenario, then summary.csv "
        "and index.html side by side; the exit code is the number of scenarios that failed "
        "(at most 125)");
    command
        ->add_option("INPUTS", arguments.inputs,
                     "Scenario files, or directories whose *.toml files are scenarios")
        ->required();
    command->add_option("--out", arguments.out, "Directory of the reports (created if missing)")
        ->required();
    command->add_flag("--force", arguments.force,
                      "Rerun every scenario, also those whose reports are newer than the file");
    command
        ->add_option("--jobs", arguments.jobs,
                     "Scenarios run at once, each with (cores / jobs) threads unless --threads "
                     "is given")
        ->check(integer_at_least<int>(1, "POSITIVE"))
        ->capture_default_str();
    add_run_override_options(*command, arguments.overrides);
    command->add_flag("-q,--quiet", arguments.quiet, "Report only the scenarios that fail");
    add_tiers_dir_option(*command, arguments.tiers_dir);
    return command;
}

int batch_command(const BatchArguments& arguments) {
    BatchOptions options;
    options.run = arguments.overrides.options();
    options.load.tiers_dir = arguments.tiers_dir;
    options.out_dir = arguments.out;
    options.force = arguments.force;
    options.jobs = arguments.jobs;
    const std::vector<std::filesystem::path> inputs(arguments.inputs.begin(), arguments.inputs.end());

    const bool quiet = arguments.quiet;
    const BatchResult result =
        run_batch(inputs, options, [quiet](const BatchEntry& entry, std::size_t done, std::size_t total) {
            if (quiet && entry.status != BatchStatus::failed) return;
            fmt::print(stderr, "batch: [{}/{}] {}: {}\n", done, total, entry.scenario.string(),
                       outcome(entry));
        });
    const std::size_t failed = result.count(BatchStatus::failed);
    if (!quiet || failed > 0) {
        fmt::print(stderr, "batch: {} scenarios: {} ran, {} skipped, {} failed; see {}\n",
                   result.entries.size(), result.count(BatchStatus::ran),
                   result.count(BatchStatus::skipped), failed,
                   (std::filesystem::path(arguments.out) / "index.html").string());
    }
    return static_cast<int>(std::min<std::size_t>(failed, max_exit_code));
}

}  // namespace marginsim::cli
