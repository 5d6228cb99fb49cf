#include "marginsim/batch.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>
#include <mutex>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "marginsim/checkpoint.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/input_files.hpp"
#include "marginsim/output.hpp"
#include "marginsim/report.hpp"
#include "marginsim/run_estimate.hpp"
#include "batch/batch_manifest.hpp"
#include "batch/report_row.hpp"
#include "numerics/packed_parts.hpp"
#include "render/svg_chart.hpp"

namespace marginsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using detail::escape_html;
using detail::mode_colors;

constexpr std::array<const char*, 3> report_extensions{".csv", ".html", ".json"};  // json last

fs::path report_path(const fs::path& dir, const std::string& name, const char* extension) {
    return dir / (name + extension);
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Proportion proportion_from(const json& estimate, const json& ci95) {
    return {estimate.get<double>(), {ci95.at(0).get<double>(), ci95.at(1).get<double>()}};
}

// A report written before reports named their monitoring has no such key: at() throws, and the
// scenario runs again (with the engine of today, not the discrete one of then).
Monitoring monitoring_from(const std::string& name) {
    for (const Monitoring monitoring : {Monitoring::continuous, Monitoring::discrete})
        if (to_string(monitoring) == name) return monitoring;
    throw std::runtime_error("unknown monitoring " + name);
}

// A report written before reports named their sampling was sampled plainly.
ImportanceSampling importance_sampling_from(const json& simulation) {
    const std::string name = simulation.value("importance_sampling", std::string("none"));
    for (const ImportanceSampling sampling : {ImportanceSampling::none, ImportanceSampling::selloff})
        if (to_string(sampling) == name) return sampling;
    throw std::runtime_error("unknown importance_sampling " + name);
}

}  // namespace

BatchRow detail::batch_row_from_report(const std::string& text) {
    const json report = json::parse(text);
    if (report.at("schema") != report_schema) throw std::runtime_error("not a marginsim report");
    BatchRow row;
    row.paths = report.at("simulation").at("paths").get<std::uint64_t>();
    row.partial = report.value("partial", false);
    row.paths_requested = report.value("paths_requested", row.paths);
    row.seed = report.at("simulation").at("seed").get<std::uint64_t>();
    row.elapsed_s = report.at("simulation").at("elapsed_s").get<double>();
    row.steps_per_day = report.at("simulation").at("steps_per_day").get<int>();
    row.monitoring = monitoring_from(report.at("simulation").at("monitoring").get<std::string>());
    row.importance_sampling = importance_sampling_from(report.at("simulation"));
    row.balance = report.at("account").at("balance").get<double>();
    for (std::size_t m = 0; m < mode_count; ++m) {
        const json& mode = report.at("modes").at(std::string(to_string(all_modes[m])));
        BatchModeRow& out = row.modes[m];
        out.liquidation_probability = proportion_from(mode.at("liquidation_probability").at("estimate"),
                                                      mode.at("liquidation_probability").at("ci95"));
        out.loss_mean = mode.at("loss").at("mean").get<double>();
        out.var_99 = mode.at("loss").at("var").at("0.99").get<double>();
        out.es_99 = mode.at("loss").at("es").at("0.99").get<double>();
        out.collateral_at_risk = mode.at("collateral_at_risk").get<double>();
    }
    const json& comparison = report.at("comparison");
    row.contagion_probability = proportion_from(comparison.at("contagion_probability"),
                                                comparison.at("contagion_probability_ci95"));
    row.p_cross_loss_exceeds_isolated = proportion_from(comparison.at("p_cross_loss_exceeds_isolated"),
                                                        comparison.at("p_cross_loss_exceeds_isolated_ci95"));
    return row;
}

namespace {

// The batch's record of its reports, shared by the workers.
struct Ledger {
    std::mutex lock;
    detail::BatchManifest manifest;
};

// The row of `name` when its reports are those the manifest records for these inputs, and
// complete: hashed as they are now, so that an edited or replaced report runs again. With a
// precision target, inputs.paths is the maximum, of which the reports may cover fewer.
std::optional<BatchRow> up_to_date_row(const fs::path& dir, const std::string& name, const detail::BatchInputs& inputs,
                                       bool precision, Ledger& ledger) {
    std::array<std::uint64_t, 3> recorded{};
    {
        const std::lock_guard<std::mutex> hold(ledger.lock);
        const auto found = ledger.manifest.records.find(name);
        if (found == ledger.manifest.records.end() || !(found->second.inputs == inputs)) return std::nullopt;
        recorded = found->second.report_hashes;
    }
    std::string json_text;
    for (std::size_t k = 0; k < report_extensions.size(); ++k) {
        const fs::path path = report_path(dir, name, report_extensions[k]);
        std::error_code error;
        if (!fs::is_regular_file(path, error)) return std::nullopt;
        std::string text = read_text(path);
        if (fnv1a_hash(text) != recorded[k]) return std::nullopt;
        if (k + 1 == report_extensions.size()) json_text = std::move(text);
    }
    try {
        BatchRow row = detail::batch_row_from_report(json_text);
        const bool paths_match = precision ? row.paths <= inputs.paths : row.paths == inputs.paths;
        if (row.partial || !paths_match || row.seed != inputs.seed) return std::nullopt;
        return row;
    } catch (const std::exception&) {
        return std::nullopt;  // unreadable: run it again
    }
}

void record_reports(const fs::path& dir, const std::string& name, const detail::BatchInputs& inputs,
                    const std::array<std::string, 3>& contents, Ledger& ledger) {
    detail::BatchRecord record{inputs, {}};
    for (std::size_t k = 0; k < contents.size(); ++k) record.report_hashes[k] = fnv1a_hash(contents[k]);
    const std::lock_guard<std::mutex> hold(ledger.lock);
    ledger.manifest.records[name] = std::move(record);
    ledger.manifest.write(dir);
}

int threads_per_job(const BatchOptions& options) {
    if (options.run.threads) return *options.run.threads;
    if (options.jobs <= 1) return 0;  // the scenario's own setting
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(std::max(1u, cores / static_cast<unsigned>(options.jobs)));
}

bool stop_requested(const BatchOptions& options) {
    return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

// What running one scenario needs, once rank 0 (or the one process) has loaded and checked it.
struct EntryRun {
    Scenario scenario;
    RunOptions run;
    std::uint64_t scenario_hash = 0;
    std::optional<RunCheckpoint> resume;
};

// A scenario's reports, rendered, and a stopped run's checkpoint.
struct EntryOutcome {
    bool partial = false;
    std::array<std::string, 3> contents;  // as report_extensions: csv, html, json
    std::optional<RunCheckpoint> checkpoint;
};

RunOptions entry_run_options(const BatchOptions& options) {
    RunOptions run = options.run;
    if (const int threads = threads_per_job(options); threads > 0) run.threads = threads;
    return run;
}

// The scenario loaded and checked, with its inputs; nothing when its reports are up to date
// (the entry is then marked skipped). Throws what makes the entry fail.
std::optional<EntryRun> prepare_entry(BatchEntry& entry, const BatchOptions& options, Ledger& ledger,
                                      detail::BatchInputs& inputs) {
    EntryRun job{load_scenario(entry.scenario, options.load), entry_run_options(options), 0, std::nullopt};
    inputs.scenario = entry.scenario.string();
    inputs.file_hash = file_hash(entry.scenario);
    inputs.content_hash = scenario_content_hash(job.scenario);
    if (const std::optional<Precision>& precision = options.run.precision) {  // another target: another run
        inputs.content_hash = fnv1a_hash(fmt::format("{:016x} --precision {}", inputs.content_hash, to_string(*precision)));
    }
    inputs.paths = options.run.paths.value_or(job.scenario.simulation.paths);
    inputs.seed = options.run.seed.value_or(job.scenario.simulation.seed);
    if (!options.rerun) {
        if (std::optional<BatchRow> row = up_to_date_row(options.out_dir, entry.name, inputs, options.run.precision.has_value(), ledger)) {
            entry.status = BatchStatus::skipped;
            entry.row = std::move(row);
            return std::nullopt;
        }
    }
    // A scenario too large to run fails alone, with the estimate, like a malformed one.
    if (!options.force) check_run_size(job.scenario, job.run);
    job.scenario_hash = inputs.file_hash;
    const fs::path checkpoint_path = report_path(options.out_dir, entry.name, ".checkpoint");
    if (options.resume && fs::exists(checkpoint_path))
        job.resume = read_checkpoint(checkpoint_path, run_checkpoint_key(job.scenario, job.run, job.scenario_hash));
    return job;
}

// Runs the scenario and renders its reports (everything is rendered before anything is written).
EntryOutcome run_prepared(const BatchEntry& entry, const EntryRun& job, const BatchOptions& options) {
    RunControl control;
    control.stop = options.stop;
    control.scenario_hash = job.scenario_hash;
    if (job.resume) control.resume = &*job.resume;
    RunCheckpoint stopped_at;
    control.checkpoint = &stopped_at;
    if (options.run_progress) {
        control.on_progress = [&](const RunProgress& progress) { options.run_progress(entry, progress); };
    }
    const DetailedRun result = run_detailed(job.scenario, job.run, control);
    EntryOutcome outcome;
    outcome.partial = result.report.partial;
    outcome.contents = {to_csv(result.report), to_html(result), to_json(result.report)};
    if (outcome.partial) outcome.checkpoint = std::move(stopped_at);
    return outcome;
}

// Writes the scenario's reports (and a stopped run's checkpoint) and records them.
void commit_entry(BatchEntry& entry, const detail::BatchInputs& inputs, const EntryOutcome& outcome,
                  const BatchOptions& options, Ledger& ledger) {
    const fs::path checkpoint_path = report_path(options.out_dir, entry.name, ".checkpoint");
    if (outcome.checkpoint) write_checkpoint(checkpoint_path, *outcome.checkpoint);
    for (std::size_t k = 0; k < report_extensions.size(); ++k)
        write_file_atomically(report_path(options.out_dir, entry.name, report_extensions[k]), outcome.contents[k]);
    if (!outcome.partial) {
        std::error_code ignored;
        fs::remove(checkpoint_path, ignored);  // complete: any checkpoint of it is spent
        record_reports(options.out_dir, entry.name, inputs, outcome.contents, ledger);
    }
    entry.row = detail::batch_row_from_report(outcome.contents.back());
    entry.status = outcome.partial ? BatchStatus::partial : BatchStatus::ran;
}

void run_entry(BatchEntry& entry, const BatchOptions& options, Ledger& ledger) {
    try {
        detail::BatchInputs inputs;
        const std::optional<EntryRun> job = prepare_entry(entry, options, ledger, inputs);
        if (!job) return;  // skipped
        commit_entry(entry, inputs, run_prepared(entry, *job, options), options, ledger);
    } catch (const RunInterrupted&) {
        entry.status = BatchStatus::not_run;
        entry.row.reset();
    } catch (const std::exception& error) {
        entry.status = BatchStatus::failed;
        entry.error = error.what();
        entry.row.reset();
    }
}

// A file's identity: the same file reached by two names (a second argument, a directory
// holding it, a link) is one file.
using FileIdentity = std::pair<std::uint64_t, std::uint64_t>;

std::optional<FileIdentity> identity_of(const fs::path& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) return std::nullopt;
    return FileIdentity{status.st_dev, status.st_ino};
}

std::set<FileIdentity> identities_of(const std::vector<fs::path>& files) {
    std::set<FileIdentity> identities;
    for (const fs::path& file : files)
        if (const auto identity = identity_of(file)) identities.insert(*identity);
    return identities;
}

// The report of `name` that is one of the inputs (`--out` holding a scenario named NAME.csv).
std::optional<fs::path> report_over_input(const fs::path& dir, const std::string& name,
                                          const std::set<FileIdentity>& inputs) {
    for (const char* extension : {".json", ".csv", ".html", ".checkpoint"}) {
        const fs::path path = report_path(dir, name, extension);
        if (const auto identity = identity_of(path); identity && inputs.count(*identity) > 0) return path;
    }
    return std::nullopt;
}

// The batch's own files must not be inputs either: refused before anything is written.
void refuse_own_files_over_inputs(const fs::path& dir, const std::vector<fs::path>& files) {
    const std::set<FileIdentity> inputs = identities_of(files);
    for (const char* own : {"summary.csv", "index.html", detail::batch_manifest_name}) {
        if (const auto identity = identity_of(dir / own); identity && inputs.count(*identity) > 0) {
            throw InputError((dir / own).string(), 0, 0, "--out",
                             fmt::format("the batch writes its {} there, which is one of its inputs", own),
                             "an --out directory that holds none of the input files");
        }
    }
}

// Output names: the file stems, which must be distinct and not those of the batch's own files,
// nor name an input.
std::vector<BatchEntry> plan_entries(const std::vector<fs::path>& files, const fs::path& out_dir) {
    std::vector<BatchEntry> entries;
    std::set<std::string> taken{"index", "summary"};
    const std::set<FileIdentity> inputs = identities_of(files);
    for (const fs::path& file : files) {
        BatchEntry entry;
        entry.scenario = file;
        entry.name = file.stem().string();
        if (!fs::is_regular_file(file)) {
            entry.error = fmt::format("{}: no such scenario file", file.string());
        } else if (entry.name == "index" || entry.name == "summary") {
            entry.error = fmt::format("{}: the name '{}' is reserved for the batch's own {} files; rename the "
                                      "scenario file",
                                      file.string(), entry.name, entry.name);
        } else if (!taken.insert(entry.name).second) {
            entry.error = fmt::format("{}: another scenario of the batch has the same file name '{}': its "
                                      "reports would overwrite each other; rename one",
                                      file.string(), entry.name);
        } else if (const auto input = report_over_input(out_dir, entry.name, inputs)) {
            entry.error = fmt::format("{}: its report {} would overwrite an input of the batch; choose another "
                                      "--out",
                                      file.string(), input->string());
        }
        entries.push_back(std::move(entry));
    }
    return entries;
}

void add_once(ScenarioFiles& collected, std::map<FileIdentity, fs::path>& seen, const fs::path& file) {
    // A missing file has no identity: its spelling stands for it.
    const FileIdentity identity =
        identity_of(file).value_or(FileIdentity{0, std::hash<std::string>{}(file.lexically_normal().string())});
    const auto [at, inserted] = seen.emplace(identity, file);
    if (inserted) {
        collected.files.push_back(file);
        return;
    }
    collected.notes.push_back(
        fmt::format("{}: given more than once (as {} before): run once", file.string(), at->second.string()));
}

InputError no_scenarios_error(const std::vector<fs::path>& inputs) {
    std::string given;
    for (const fs::path& input : inputs) given += (given.empty() ? "" : ", ") + input.string();
    return InputError(given, 0, 0, "", "no scenario files found, nothing to run",
                      "scenario files, or directories holding *.toml scenario files");
}

// The output directory, created if missing; an unusable one is refused before any run.
void prepare_out_dir(const fs::path& dir) {
    const std::string expected = "a directory for the reports, created if missing";
    std::error_code error;
    const fs::file_status status = fs::status(dir, error);
    if (fs::exists(status) && !fs::is_directory(status))
        throw InputError(dir.string(), 0, 0, "--out", "exists and is not a directory", expected);
    fs::create_directories(dir, error);
    if (error)
        throw InputError(dir.string(), 0, 0, "--out", "cannot create the directory: " + error.message(), expected);
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw InputError(dir.string(), 0, 0, "--out",
                         "cannot write in the directory: " + std::string(std::strerror(errno)), expected);
}

// ---------------------------------------------------------------- summary.csv

using detail::csv_field;

std::string number(double value) { return fmt::format("{}", value); }

// ---------------------------------------------------------------- index.html

std::string mode_name(MarginMode mode) {
    return mode == MarginMode::as_configured ? std::string("as configured") : std::string(to_string(mode));
}

std::string pct(double p) { return detail::percent_text(p, p < 0.01 ? 2 : 1); }
std::string usdt(double v) { return detail::grouped(v, std::abs(v) >= 100.0 ? 0 : 2) + " USDT"; }
std::string percent_tick(double v) { return fmt::format("{:g}%", 100.0 * v); }

std::vector<const BatchEntry*> with_rows(const BatchResult& result) {
    std::vector<const BatchEntry*> rows;
    for (const BatchEntry& entry : result.entries)
        if (entry.row) rows.push_back(&entry);
    return rows;
}

// Grouped horizontal bars: one group per scenario, one bar per mode.
template <class Value>
std::string scenario_bars(const std::vector<const BatchEntry*>& rows, const std::string& title,
                          const std::string& x_label, Value value) {
    double top = 0.0;
    for (const BatchEntry* entry : rows)
        for (std::size_t m = 0; m < mode_count; ++m) top = std::max(top, value(*entry->row, m));
    const double x_hi = detail::nice_range(0.0, std::max(top * 1.15, 0.01), 5).second;
    const std::size_t count = rows.size();
    std::vector<std::pair<double, std::string>> ticks;
    for (std::size_t i = 0; i < count; ++i) ticks.emplace_back(static_cast<double>(count - i) - 0.5, rows[i]->name);
    detail::Axis x{0.0, x_hi, false, x_label, percent_tick, {}};
    detail::Axis y{0.0, static_cast<double>(count), false, "", {}, std::move(ticks)};
    detail::SvgPlot plot(1040.0, 100.0 + 58.0 * static_cast<double>(count), std::move(x), std::move(y), title,
                         detail::Margins{220.0, 60.0, 40.0, 56.0});
    constexpr double bar = 0.26;
    for (std::size_t i = 0; i < count; ++i) {
        const double center = static_cast<double>(count - i) - 0.5;
        for (std::size_t m = 0; m < mode_count; ++m) {
            const double v = value(*rows[i]->row, m);
            const double y0 = center + bar * (1.0 - static_cast<double>(m)) - bar / 2.0;
            plot.rect(0.0, v, y0, y0 + bar * 0.9, mode_colors[m],
                      fmt::format("{}, {}: {}", rows[i]->name, mode_name(all_modes[m]), pct(v)));
            plot.text(v, y0 + bar * 0.45, pct(v), "start", 4.0, 4.0);
        }
    }
    std::vector<std::pair<std::string, std::string>> legend;
    for (std::size_t m = 0; m < mode_count; ++m) legend.emplace_back(mode_name(all_modes[m]), mode_colors[m]);
    plot.legend(legend);
    return fmt::format("<h3>{}</h3>\n", escape_html(title)) + plot.str();
}

std::string td(const std::string& text) { return "<td class=\"num\">" + escape_html(text) + "</td>"; }

std::string index_table(const BatchResult& result) {
    std::string out = "<table>\n<tr><th>Scenario</th><th>Status</th><th>Paths</th><th>Balance</th>";
    for (const MarginMode mode : all_modes) out += "<th>" + escape_html(mode_name(mode)) + ": P(any liquidation)</th>";
    for (const MarginMode mode : all_modes) out += "<th>" + escape_html(mode_name(mode)) + ": ES 99%</th>";
    out += "<th>Contagion</th></tr>\n";
    for (const BatchEntry& entry : result.entries) {
        if (!entry.row) {
            const bool not_run = entry.status == BatchStatus::not_run;
            out += fmt::format("<tr class=\"{}\"><th>{}</th><td>{}</td><td colspan=\"9\">{}</td></tr>\n",
                               not_run ? "partial" : "failed",
                               escape_html(entry.name.empty() ? entry.scenario.string() : entry.name),
                               not_run ? "not run" : "failed",
                               not_run ? std::string("interrupted before it started") : escape_html(entry.error));
            continue;
        }
        const BatchRow& row = *entry.row;
        const std::string status =
            row.partial ? fmt::format("partial: {} of {} paths", detail::grouped(static_cast<double>(row.paths)),
                                      detail::grouped(static_cast<double>(row.paths_requested)))
                        : std::string(to_string(entry.status));
        out += fmt::format("<tr{0}><th><a href=\"{1}.html\">{2}</a></th><td>{3}</td>",
                           row.partial ? " class=\"partial\"" : "", escape_html(entry.name), escape_html(entry.name),
                           escape_html(status));
        out += td(detail::grouped(static_cast<double>(row.paths))) + td(usdt(row.balance));
        for (const BatchModeRow& mode : row.modes) out += td(pct(mode.liquidation_probability.estimate));
        for (const BatchModeRow& mode : row.modes) out += td(usdt(mode.es_99));
        out += td(pct(row.contagion_probability.estimate)) + "</tr>\n";
    }
    return out + "</table>\n";
}

}  // namespace

std::string_view to_string(BatchStatus status) noexcept {
    switch (status) {
        case BatchStatus::ran: return "ran";
        case BatchStatus::skipped: return "skipped";
        case BatchStatus::failed: return "failed";
        case BatchStatus::partial: return "partial";
        case BatchStatus::not_run: return "not_run";
    }
    return "unknown";
}

std::size_t BatchResult::count(BatchStatus status) const noexcept {
    return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(),
                                                  [status](const BatchEntry& e) { return e.status == status; }));
}

ScenarioFiles collect_scenarios(const std::vector<fs::path>& inputs) {
    ScenarioFiles collected;
    std::map<FileIdentity, fs::path> seen;
    for (const fs::path& input : inputs) {
        std::error_code error;
        if (!fs::is_directory(input, error)) {
            add_once(collected, seen, input);
            continue;
        }
        std::vector<fs::path> found;
        for (const fs::directory_entry& item : fs::directory_iterator(input, error)) {
            std::error_code ignored;
            if (item.path().extension() == ".toml" && item.is_regular_file(ignored)) found.push_back(item.path());
        }
        if (error) {
            collected.files.push_back(input);  // unreadable: fails as an entry, with the reason
            continue;
        }
        std::sort(found.begin(), found.end());
        for (const fs::path& file : found) add_once(collected, seen, file);
    }
    return collected;
}

namespace {

// ---------------------------------------------------------------- over MPI ranks

using detail::pack_parts;
using detail::unpack_parts;

// A scenario for a rank to run: its entry's index, file and name, the input files rank 0 read
// to load it, its file hash and the checkpoint to resume (empty: none).
struct RankTask {
    std::size_t index = 0;
    std::string scenario;
    std::string name;
    std::string files;
    std::uint64_t scenario_hash = 0;
    std::string resume;

    std::string bytes() const {
        return pack_parts({std::to_string(index), scenario, name, files, std::to_string(scenario_hash), resume});
    }
    static RankTask from(const std::string& bytes) {
        const std::vector<std::string> p = unpack_parts(bytes);
        if (p.size() != 6) throw std::invalid_argument("batch: a task from rank 0 is malformed");
        return {std::stoull(p[0]), p[1], p[2], p[3], std::stoull(p[4]), p[5]};
    }
};

// What a rank sends back of a task: status ("ran", "partial", "not_run", "failed"), error, the
// three reports and a stopped run's checkpoint.
std::string task_result(std::size_t index, std::string_view status, const std::string& error,
                        const EntryOutcome& outcome = {}) {
    return pack_parts({std::to_string(index), std::string(status), error, outcome.contents[0], outcome.contents[1],
                 outcome.contents[2], outcome.checkpoint ? checkpoint_bytes(*outcome.checkpoint) : std::string()});
}

// Runs a task on this rank, on its own threads, from the files rank 0 read.
std::string run_task(const RankTask& task, const BatchOptions& options) {
    if (stop_requested(options)) return task_result(task.index, "not_run", "");
    try {
        const InputFiles files = InputFiles::from_bytes(task.files);
        std::optional<Scenario> scenario;
        {
            const InputReplay replay(files);
            scenario = load_scenario(task.scenario, options.load);
        }
        EntryRun job{std::move(*scenario), entry_run_options(options), task.scenario_hash, std::nullopt};
        if (!task.resume.empty()) job.resume = parse_checkpoint(task.resume, task.name + ".checkpoint");
        BatchEntry entry;
        entry.scenario = task.scenario;
        entry.name = task.name;
        const EntryOutcome outcome = run_prepared(entry, job, options);
        return task_result(task.index, outcome.partial ? "partial" : "ran", "", outcome);
    } catch (const RunInterrupted&) {
        return task_result(task.index, "not_run", "");
    } catch (const std::exception& error) {
        return task_result(task.index, "failed", error.what());
    }
}

// Whether the batch was interrupted, and its summary.csv and index.html written.
void finish_batch(BatchResult& result, const BatchOptions& options) {
    result.interrupted = result.count(BatchStatus::partial) + result.count(BatchStatus::not_run) > 0;
    write_file_atomically(options.out_dir / "summary.csv", batch_summary_csv(result));
    write_file_atomically(options.out_dir / "index.html", batch_index_html(result));
}

// run_batch over ranks: rank 0 plans, loads and checks every scenario (the one process's
// skips and failures), deals the scenarios to run out to the ranks in turn, each rank runs its
// own one at a time on its threads, and rank 0 writes every report. The other ranks return an
// empty result.
BatchResult run_batch_over_ranks(const std::vector<fs::path>& inputs, const BatchOptions& options,
                                 const BatchProgress& progress) {
    const Ranks& ranks = *options.ranks;
    BatchResult result;
    Ledger ledger;
    std::vector<std::vector<std::string>> dealt(static_cast<std::size_t>(ranks.size()));
    std::map<std::size_t, detail::BatchInputs> inputs_of;
    marginsim::on_root(ranks, [&] {
        ScenarioFiles collected = collect_scenarios(inputs);
        if (collected.files.empty()) throw no_scenarios_error(inputs);
        prepare_out_dir(options.out_dir);
        refuse_own_files_over_inputs(options.out_dir, collected.files);
        result.entries = plan_entries(collected.files, options.out_dir);
        result.notes = std::move(collected.notes);
        ledger.manifest = detail::BatchManifest::read(options.out_dir);
        std::size_t next_rank = 0;
        for (std::size_t k = 0; k < result.entries.size(); ++k) {
            BatchEntry& entry = result.entries[k];
            entry.status = BatchStatus::failed;
            if (!entry.error.empty()) continue;
            try {
                InputFiles files;
                detail::BatchInputs entry_inputs;
                std::optional<EntryRun> job;
                {
                    const InputRecording recording(files);
                    job = prepare_entry(entry, options, ledger, entry_inputs);
                }
                if (!job) continue;  // skipped
                inputs_of[k] = entry_inputs;
                const RankTask task{k, entry.scenario.string(), entry.name, files.bytes(), job->scenario_hash,
                                    job->resume ? checkpoint_bytes(*job->resume) : std::string()};
                dealt[next_rank++ % dealt.size()].push_back(task.bytes());
            } catch (const std::exception& error) {
                entry.error = error.what();
            }
        }
    });
    std::vector<std::string> parts;
    for (const std::vector<std::string>& tasks : dealt) parts.push_back(pack_parts(tasks));
    std::vector<std::string> results;
    for (const std::string& task : unpack_parts(ranks.scatter(parts))) results.push_back(run_task(RankTask::from(task), options));
    const std::vector<std::string> gathered = ranks.gather(pack_parts(results));
    if (!ranks.is_root()) return result;

    for (const std::string& rank_results : gathered) {
        for (const std::string& bytes : unpack_parts(rank_results)) {
            const std::vector<std::string> r = unpack_parts(bytes);
            BatchEntry& entry = result.entries.at(std::stoull(r.at(0)));
            const std::string& status = r.at(1);
            if (status == "ran" || status == "partial") {
                EntryOutcome outcome;
                outcome.partial = status == "partial";
                outcome.contents = {r.at(3), r.at(4), r.at(5)};
                if (!r.at(6).empty()) outcome.checkpoint = parse_checkpoint(r.at(6), entry.name + ".checkpoint");
                try {
                    commit_entry(entry, inputs_of.at(std::stoull(r.at(0))), outcome, options, ledger);
                } catch (const std::exception& error) {
                    entry.status = BatchStatus::failed;
                    entry.error = error.what();
                    entry.row.reset();
                }
            } else {
                entry.status = status == "not_run" ? BatchStatus::not_run : BatchStatus::failed;
                entry.error = r.at(2);
            }
        }
    }
    for (std::size_t k = 0; k < result.entries.size(); ++k)
        if (progress) progress(result.entries[k], k + 1, result.entries.size());
    finish_batch(result, options);
    return result;
}

}  // namespace

BatchResult run_batch(const std::vector<fs::path>& inputs, const BatchOptions& options,
                      const BatchProgress& progress) {
    if (options.ranks != nullptr && options.ranks->size() > 1) return run_batch_over_ranks(inputs, options, progress);
    ScenarioFiles collected = collect_scenarios(inputs);
    if (collected.files.empty()) throw no_scenarios_error(inputs);
    prepare_out_dir(options.out_dir);
    refuse_own_files_over_inputs(options.out_dir, collected.files);
    BatchResult result;
    result.entries = plan_entries(collected.files, options.out_dir);
    result.notes = std::move(collected.notes);
    Ledger ledger;
    ledger.manifest = detail::BatchManifest::read(options.out_dir);

    std::atomic<std::size_t> next{0};
    std::size_t done = 0;
    std::mutex report_lock;
    const auto worker = [&] {
        for (std::size_t k = next++; k < result.entries.size(); k = next++) {
            BatchEntry& entry = result.entries[k];
            if (!entry.error.empty()) {
                entry.status = BatchStatus::failed;
            } else if (stop_requested(options)) {
                entry.status = BatchStatus::not_run;
            } else {
                run_entry(entry, options, ledger);
            }
            const std::lock_guard<std::mutex> lock(report_lock);
            ++done;
            if (progress) progress(entry, done, result.entries.size());
        }
    };
    const std::size_t jobs = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, options.jobs)), 1,
                                                     std::max<std::size_t>(1, result.entries.size()));
    std::vector<std::thread> workers;
    for (std::size_t j = 1; j < jobs; ++j) workers.emplace_back(worker);
    worker();
    for (std::thread& thread : workers) thread.join();
    finish_batch(result, options);
    return result;
}

std::string batch_summary_csv(const BatchResult& result) {
    std::string out = "name,scenario,status,error,paths,seed,balance";
    for (const MarginMode mode : all_modes) {
        const std::string m(to_string(mode));
        out += fmt::format(",{0}_liquidation_probability,{0}_ci95_lo,{0}_ci95_hi,{0}_loss_mean,{0}_var_0.99,"
                           "{0}_es_0.99,{0}_collateral_at_risk",
                           m);
    }
    out += ",contagion_probability,p_cross_loss_exceeds_isolated,paths_requested,steps_per_day,monitoring,"
           "importance_sampling\n";
    for (const BatchEntry& entry : result.entries) {
        out += fmt::format("{},{},{},{}", csv_field(entry.name), csv_field(entry.scenario.string()),
                           to_string(entry.status), csv_field(entry.error));
        if (!entry.row) {
            out += std::string(3 + 7 * mode_count + 6, ',') + "\n";
            continue;
        }
        const BatchRow& row = *entry.row;
        out += fmt::format(",{},{},{}", row.paths, row.seed, number(row.balance));
        for (const BatchModeRow& mode : row.modes) {
            out += fmt::format(",{},{},{},{},{},{},{}", number(mode.liquidation_probability.estimate),
                               number(mode.liquidation_probability.ci95.lo),
                               number(mode.liquidation_probability.ci95.hi), number(mode.loss_mean),
                               number(mode.var_99), number(mode.es_99), number(mode.collateral_at_risk));
        }
        out += fmt::format(",{},{},{},{},{},{}\n", number(row.contagion_probability.estimate),
                           number(row.p_cross_loss_exceeds_isolated.estimate), row.paths_requested,
                           row.steps_per_day, to_string(row.monitoring), to_string(row.importance_sampling));
    }
    return out;
}

std::string batch_index_html(const BatchResult& result) {
    std::string body = "<h1>marginsim batch</h1>\n";
    body += fmt::format("<p class=\"meta\">{} scenarios: {} ran, {} up to date (skipped), {} failed</p>\n",
                        result.entries.size(), result.count(BatchStatus::ran), result.count(BatchStatus::skipped),
                        result.count(BatchStatus::failed));
    if (result.interrupted) {
        body += fmt::format("<p class=\"partial\"><strong>Interrupted:</strong> {} scenario(s) stopped part-way "
                            "(partial reports of the paths completed) and {} not started. The same command with "
                            "<code>--resume</code> completes them.</p>\n",
                            result.count(BatchStatus::partial), result.count(BatchStatus::not_run));
    }
    const std::vector<const BatchEntry*> rows = with_rows(result);
    if (!rows.empty()) {
        body += "<h2>Scenarios side by side</h2>\n";
        body += scenario_bars(rows, "P(any liquidation by the horizon) per scenario and mode",
                              "P(any liquidation)", [](const BatchRow& row, std::size_t m) {
                                  return row.modes[m].liquidation_probability.estimate;
                              });
        body += scenario_bars(rows, "ES 99% per scenario and mode, as a share of the balance",
                              "ES 99% / account balance", [](const BatchRow& row, std::size_t m) {
                                  return row.balance > 0.0 ? row.modes[m].es_99 / row.balance : 0.0;
                              });
    }
    body += "<h2>All scenarios</h2>\n" + index_table(result);
    if (result.count(BatchStatus::failed) > 0) {
        body += "<h2>Failed</h2>\n<ul class=\"reading\">\n";
        for (const BatchEntry& entry : result.entries) {
            if (entry.status == BatchStatus::failed)
                body += "<li>" + escape_html(entry.error) + "</li>\n";
        }
        body += "</ul>\n";
    }
    if (!result.notes.empty()) {
        body += "<h2>Notes</h2>\n<ul class=\"reading\">\n";
        for (const std::string& note : result.notes) body += "<li>" + escape_html(note) + "</li>\n";
        body += "</ul>\n";
    }
    body += "<p class=\"note\">Amounts in USDT. ES 99% is the mean loss of the 1% worst paths over each "
            "scenario's horizon; the charts divide it by the account balance so that accounts of different "
            "sizes compare. Each scenario's page has its loss distributions, liquidation over time and "
            "positions.</p>\n";
    return detail::html_page("marginsim batch", body);
}

}  // namespace marginsim
