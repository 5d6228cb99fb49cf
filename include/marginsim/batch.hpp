#pragma once
// Runs many scenarios and writes their reports side by side. Per scenario NAME (the file's
// stem): NAME.json (docs/model.md#report-keys), NAME.csv (report CSV: loss quantiles and
// per-position rows) and NAME.html; then summary.csv and index.html comparing them all. A scenario
// that fails is listed with its error and the others go on. Every file is written through a
// temporary file and a rename, so an interrupted batch leaves complete files or none.

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
    // Run the scenarios above the run-size limit (check_run_size), which otherwise fail alone
    // with the estimate.
    bool force = false;
    // Rerun the scenarios whose reports are up to date, which are otherwise skipped.
    bool rerun = false;
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
    // The MPI ranks that share the batch (docs/distributed.md), every one calling run_batch
    // alike: rank 0 reads and checks every scenario, the scenarios to run are dealt out to the
    // ranks in turn (each runs its own on its threads, `jobs` ignored), and rank 0 writes every
    // report; the other ranks' result is empty. Null: this process alone.
    const Ranks* ranks = nullptr;
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
    int steps_per_day = 0;
    Monitoring monitoring = Monitoring::continuous;
    ImportanceSampling importance_sampling = ImportanceSampling::none;
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
    std::vector<std::string> notes;   // about the inputs: files given more than once
    std::size_t count(BatchStatus status) const noexcept;
};

// Called as each scenario finishes (from the thread that ran it, one call at a time).
using BatchProgress = std::function<void(const BatchEntry& entry, std::size_t done, std::size_t total)>;

// The scenario files of the inputs: a file as given, a directory's *.toml files (not its
// subdirectories), sorted by name. A missing input is kept, to fail as an entry. A file
// reached twice (given twice, given and in a given directory, through a link) is kept once,
// with a note.
struct ScenarioFiles {
    std::vector<std::filesystem::path> files;
    std::vector<std::string> notes;
};
ScenarioFiles collect_scenarios(const std::vector<std::filesystem::path>& inputs);

// Runs the batch: runs or skips every scenario, writes its reports, then summary.csv and
// index.html. Throws InputError, before anything is written, when the inputs hold no scenario
// file or out_dir is not a usable directory (an existing file, not creatable, not writable).
// It deletes nothing but the checkpoints of the scenarios it completes, and replaces only
// its own files: NAME.json, NAME.csv, NAME.html, NAME.checkpoint, summary.csv, index.html
// and batch.manifest.
//
// batch.manifest records, per scenario, what its reports were made from (the scenario file's
// hash, the hash of the scenario as loaded with its tier tables, paths and seed) and a hash of
// each report (format in src/batch/batch_manifest.hpp). A scenario is skipped (unless `rerun`)
// when all of that still holds and its reports are complete (not partial): a changed scenario
// or tier table (also through --tiers-dir), other paths or seed, or a report changed since
// runs it again. A scenario that completes removes its checkpoint.
BatchResult run_batch(const std::vector<std::filesystem::path>& inputs, const BatchOptions& options,
                      const BatchProgress& progress = {});

// One row per scenario, in input order; empty numbers for a failed one.
std::string batch_summary_csv(const BatchResult& result);
// The index page: charts and a table comparing the scenarios, the failed ones with their error.
std::string batch_index_html(const BatchResult& result);

}  // namespace marginsim
