#pragma once
// Runs many scenarios and writes their reports side by side. Per scenario NAME (the file's
// stem): NAME.json (SPEC 4), NAME.csv (report CSV: loss quantiles and per-position rows) and
// NAME.html; then summary.csv and index.html comparing them all. A scenario that fails is
// listed with its error and the others go on. Every file is written through a temporary
// file and a rename, so an interrupted batch leaves complete files or none.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim {

struct BatchEntry;

struct BatchOptions {
    RunOptions run;                // paths, seed and threads overrides for every scenario
    LoadOptions load;
    std::filesystem::path out_dir;
    // Rerun scenarios whose reports are up to date, and run those above the run-size limit
    // (check_run_size), which otherwise fail alone with the estimate.
    bool force = false;
    // Scenarios run at once. Each run then gets (cores / jobs) threads unless run.threads
    // says otherwise; results do not depend on it.
    int jobs = 1;
    // Continue the scenarios that an interrupted batch left partial from their checkpoints
    // (out_dir/NAME.checkpoint); the others run as usual.
    bool resume = false;
    // Once true, no scenario starts and those in flight stop at a block boundary: their
    // reports are written partial, with a checkpoint, and the index lists them.
    const std::atomic<bool>* stop = nullptr;
    // Progress of the scenario runs, per completed block (see RunControl::on_progress).
    std::function<void(const BatchEntry& entry, const RunProgress& progress)> run_progress;
};

// partial: stopped mid-run, its reports cover the completed paths; not_run: the batch was
// stopped before it started.
enum class BatchStatus { ran, skipped, failed, partial, not_run };
std::string_view to_string(BatchStatus status) noexcept;

// What summary.csv and index.html show of one scenario, read back from its NAME.json.
struct BatchModeRow {
    Proportion liquidation_probability;
    double loss_mean = 0.0;
    double var_99 = 0.0;
    double es_99 = 0.0;
    double collateral_at_risk = 0.0;
};
struct BatchRow {
    std::uint64_t paths = 0;  // those the numbers cover
    std::uint64_t paths_requested = 0;
    bool partial = false;
    std::uint64_t seed = 0;
    double balance = 0.0;
    double elapsed_s = 0.0;
    std::array<BatchModeRow, mode_count> modes;
    Proportion contagion_probability;
    Proportion p_cross_loss_exceeds_isolated;
};

struct BatchEntry {
    std::filesystem::path scenario;
    std::string name;  // output file stem
    BatchStatus status = BatchStatus::failed;
    std::string error;  // why it failed
    std::optional<BatchRow> row;  // when it ran or was skipped
};

struct BatchResult {
    std::vector<BatchEntry> entries;  // in input order
    bool interrupted = false;         // the stop flag ended it early
    std::size_t count(BatchStatus status) const noexcept;
};

// Called as each scenario finishes (from the thread that ran it, one call at a time).
using BatchProgress = std::function<void(const BatchEntry& entry, std::size_t done, std::size_t total)>;

// The scenario files of the inputs: a file as given, a directory's *.toml files (not its
// subdirectories), sorted by name. A missing input is kept, to fail as an entry.
std::vector<std::filesystem::path> collect_scenarios(const std::vector<std::filesystem::path>& inputs);

// Runs the batch: removes stale temporaries in out_dir, runs or skips every scenario,
// writes its reports, then summary.csv and index.html. A scenario is skipped (unless
// `force`) when its three reports are complete (not partial), newer than its file and were
// made with the same paths and seed. A scenario that completes removes its checkpoint.
BatchResult run_batch(const std::vector<std::filesystem::path>& inputs, const BatchOptions& options,
                      const BatchProgress& progress = {});

// One row per scenario, in input order; empty numbers for a failed one.
std::string batch_summary_csv(const BatchResult& result);
// The index page: charts and a table comparing the scenarios, the failed ones with their error.
std::string batch_index_html(const BatchResult& result);

// Deletes the temporary files write_file_atomically left in `dir` when its process was killed
// (NAME.tmp-PID-N of a process that no longer runs). Returns how many it deleted.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace marginsim
