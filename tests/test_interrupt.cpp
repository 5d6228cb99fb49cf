// Run control: a run stopped at a block boundary reports its completed paths as partial and
// resumes, from memory or from its checkpoint file, to the numbers of an uninterrupted run;
// SIGINT on `marginsim run` and `marginsim batch` end to end; the progress bar.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "stopped_run.hpp"

using marginsim::testing::CliResult;
using marginsim::testing::read_all;
using marginsim::testing::resume_from;
using marginsim::testing::run_and_stop;
using marginsim::testing::shell_quoted;
using marginsim::testing::StoppedRun;
using marginsim::testing::stopped_run_scenario_hash;
using marginsim::testing::TempDir;
using marginsim::testing::with_threads;
using nlohmann::json;
namespace fs = std::filesystem;
namespace ms = marginsim;

namespace {

// Two assets with funding (the one floating-point sum kept per block) and every mode liquidating.
std::string scenario_text(std::uint64_t paths, int steps_per_day = 24, double horizon_days = 3.0) {
    return "[simulation]\npaths = " + std::to_string(paths) + "\nhorizon_days = " + std::to_string(horizon_days) +
           "\nsteps_per_day = " + std::to_string(steps_per_day) +
           "\nseed = 11\n\n"
           "[account]\nbalance = 3000.0\n\n"
           "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 0.9\nmaintenance_margin_rate = 0.005\n"
           "funding_rate = 0.0004\n\n"
           "[[assets]]\nsymbol = \"BBB\"\nprice = 20.0\nvolatility = 1.1\nmaintenance_margin_rate = 0.01\n"
           "funding_rate = -0.0002\n\n"
           "[correlation]\nmatrix = [[1.0, 0.6], [0.6, 1.0]]\n\n"
           "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 800.0\nleverage = 12.0\nmode = \"cross\"\n\n"
           "[[positions]]\nsymbol = \"BBB\"\nside = \"short\"\nmargin = 700.0\nleverage = 9.0\nmode = \"isolated\"\n";
}

ms::Scenario library_scenario(std::uint64_t paths) {
    return ms::parse_scenario(scenario_text(paths), "interrupt.toml");
}

// A report's numbers, without what depends on the session rather than on (scenario, seed, paths).
json numbers_of(json report) {
    report["simulation"].erase("elapsed_s");
    report["simulation"].erase("threads");
    return report;
}
json numbers_of(const ms::Report& report) { return numbers_of(json::parse(ms::to_json(report))); }

// Every number of a JSON document is finite.
bool all_finite(const json& value) {
    if (value.is_number_float()) return std::isfinite(value.get<double>());
    if (value.is_structured()) {
        for (const auto& child : value) {
            if (!all_finite(child)) return false;
        }
    }
    return true;
}


}  // namespace

TEST_CASE("a run stopped at a block boundary and resumed equals the uninterrupted run") {
    const std::uint64_t paths = 40 * ms::block_size + 300;  // a short last block
    const ms::Scenario scenario = library_scenario(paths);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(1)));
    CHECK(uninterrupted["partial"] == false);
    CHECK(uninterrupted["paths_done"] == paths);

    for (const int threads : {1, 2}) {
        for (const std::uint64_t stop_after : {std::uint64_t{1}, 5 * ms::block_size, 33 * ms::block_size}) {
            INFO("threads " << threads << ", stop after " << stop_after << " paths");
            const StoppedRun stopped = run_and_stop(scenario, threads, stop_after);
            const ms::Report& partial = stopped.report;
            REQUIRE(partial.partial);
            CHECK(partial.paths_requested == paths);
            CHECK(partial.paths_done >= stop_after);
            CHECK(partial.paths_done < paths);
            CHECK(partial.simulation.paths == partial.paths_done);
            CHECK(stopped.checkpoint.paths_done() == partial.paths_done);
            CHECK(stopped.checkpoint.key.paths == paths);
            CHECK(stopped.checkpoint.key.scenario_hash == stopped_run_scenario_hash);
            const json partial_json = json::parse(ms::to_json(partial));
            CHECK(partial_json["partial"] == true);
            CHECK(all_finite(partial_json));

            // Resumed on the other thread count: the same numbers, bit for bit.
            const ms::Report resumed = resume_from(scenario, 3 - threads, stopped.checkpoint);
            CHECK_FALSE(resumed.partial);
            CHECK(numbers_of(resumed) == uninterrupted);
        }
    }
}

TEST_CASE("a run stopped twice and resumed twice equals the uninterrupted run") {
    const ms::Scenario scenario = library_scenario(30 * ms::block_size);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(2)));
    const StoppedRun first = run_and_stop(scenario, 2, 4 * ms::block_size);
    REQUIRE(first.report.partial);
    // The second session counts the restored paths as done from its start.
    const StoppedRun second = run_and_stop(scenario, 2, first.report.paths_done + 6 * ms::block_size, &first.checkpoint);
    REQUIRE(second.report.partial);
    CHECK(second.report.paths_done >= first.report.paths_done + 6 * ms::block_size);
    // Every block of the first session is in the second's checkpoint.
    const std::set<std::uint64_t> second_blocks(second.checkpoint.blocks.begin(), second.checkpoint.blocks.end());
    for (const std::uint64_t b : first.checkpoint.blocks) CHECK(second_blocks.count(b) == 1);
    CHECK(numbers_of(resume_from(scenario, 1, second.checkpoint)) == uninterrupted);
}

TEST_CASE("the partial report of the first k blocks is the report of a run of k blocks") {
    // One thread completes the blocks in order, so a stop leaves blocks 0..k-1: a run of
    // k * block_size paths with the same seed draws exactly those paths (seeded per block).
    const ms::Scenario scenario = library_scenario(20 * ms::block_size);
    const StoppedRun stopped = run_and_stop(scenario, 1, 7 * ms::block_size);
    REQUIRE(stopped.report.partial);
    const std::uint64_t k = stopped.checkpoint.blocks.size();
    for (std::uint64_t b = 0; b < k; ++b) REQUIRE(stopped.checkpoint.blocks[b] == b);
    ms::RunOptions prefix = with_threads(2);
    prefix.paths = k * ms::block_size;
    json expected = numbers_of(ms::simulate(scenario, prefix));
    json actual = numbers_of(stopped.report);
    CHECK(actual["partial"] == true);
    CHECK(actual["paths_done"] == k * ms::block_size);
    CHECK(actual["paths_requested"] == 20 * ms::block_size);
    for (const char* key : {"partial", "paths_requested"}) {
        expected.erase(key);
        actual.erase(key);
    }
    CHECK(actual == expected);
}

TEST_CASE("a detailed run stopped and resumed has the details of the uninterrupted run") {
    const ms::Scenario scenario = library_scenario(24 * ms::block_size);
    const ms::DetailedRun whole = ms::run_detailed(scenario, with_threads(2));
    std::atomic<bool> stop{false};
    ms::RunCheckpoint checkpoint;
    ms::RunControl control;
    control.stop = &stop;
    control.checkpoint = &checkpoint;
    control.on_progress = [&stop](const ms::RunProgress& p) {
        if (p.paths_done >= 9 * ms::block_size) stop.store(true);
    };
    const ms::DetailedRun partial = ms::run_detailed(scenario, with_threads(2), control);
    REQUIRE(partial.report.partial);
    for (const ms::ModeDetail& mode : partial.modes) {
        CHECK(mode.sorted_loss.size() == partial.report.paths_done);
        CHECK(mode.liquidated_by_step.back() <= partial.report.paths_done);
    }
    ms::RunControl resume;
    resume.resume = &checkpoint;
    const ms::DetailedRun resumed = ms::run_detailed(scenario, with_threads(1), resume);
    CHECK(numbers_of(resumed.report) == numbers_of(whole.report));
    for (std::size_t m = 0; m < ms::mode_count; ++m) {
        CHECK(resumed.modes[m].sorted_loss == whole.modes[m].sorted_loss);
        CHECK(resumed.modes[m].liquidated_by_step == whole.modes[m].liquidated_by_step);
        CHECK(resumed.modes[m].contagion.estimate == whole.modes[m].contagion.estimate);
    }
    // And it agrees with simulate() on the same checkpoint.
    CHECK(numbers_of(ms::simulate(scenario, with_threads(2), resume)) == numbers_of(whole.report));
}

TEST_CASE("a stop before the first block throws RunInterrupted") {
    const ms::Scenario scenario = library_scenario(8 * ms::block_size);
    const std::atomic<bool> stop{true};
    ms::RunControl control;
    control.stop = &stop;
    CHECK_THROWS_AS(ms::simulate(scenario, with_threads(2), control), ms::RunInterrupted);
}

TEST_CASE("progress is reported once per block up to the total") {
    const std::uint64_t paths = 12 * ms::block_size + 5;
    const ms::Scenario scenario = library_scenario(paths);
    std::mutex lock;
    std::vector<std::uint64_t> seen;
    ms::RunControl control;
    control.on_progress = [&](const ms::RunProgress& p) {
        const std::lock_guard<std::mutex> guard(lock);
        CHECK(p.paths_total == paths);
        CHECK(p.paths_resumed == 0);
        CHECK(p.elapsed_s >= 0.0);
        seen.push_back(p.paths_done);
    };
    ms::simulate(scenario, with_threads(2), control);
    std::sort(seen.begin(), seen.end());
    REQUIRE(seen.size() == 13);
    CHECK(seen.back() == paths);
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // every count once
}

TEST_CASE("a checkpoint file round-trips and a damaged or foreign one is refused") {
    const TempDir dir("marginsim_test_interrupt");
    const ms::Scenario scenario = library_scenario(16 * ms::block_size);
    const StoppedRun stopped = run_and_stop(scenario, 2, 5 * ms::block_size);
    REQUIRE(stopped.report.partial);
    const fs::path path = dir / "run.checkpoint";
    ms::write_checkpoint(path, stopped.checkpoint);
    const ms::CheckpointKey key = ms::run_checkpoint_key(scenario, {}, 42);
    const ms::RunCheckpoint read = ms::read_checkpoint(path, key);
    CHECK(read.blocks == stopped.checkpoint.blocks);
    CHECK(read.elapsed_s == stopped.checkpoint.elapsed_s);
    CHECK(numbers_of(resume_from(scenario, 2, read)) == numbers_of(ms::simulate(scenario, with_threads(1))));

    const auto message_of = [&](const fs::path& file, const ms::CheckpointKey& expected) {
        try {
            ms::read_checkpoint(file, expected);
        } catch (const ms::InputError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    ms::CheckpointKey other_seed = key;
    other_seed.seed = 12;
    CHECK_THAT(message_of(path, other_seed), Catch::Contains("seed 11, this run has 12"));
    ms::CheckpointKey other_paths = key;
    other_paths.paths = 100;
    CHECK_THAT(message_of(path, other_paths), Catch::Contains("paths"));
    ms::CheckpointKey other_file = key;
    other_file.scenario_hash = 43;
    CHECK_THAT(message_of(path, other_file), Catch::Contains("scenario file changed"));
    ms::CheckpointKey other_tiers = key;
    other_tiers.content_hash ^= 1;
    CHECK_THAT(message_of(path, other_tiers), Catch::Contains("a tier table it refers to"));
    CHECK_THAT(message_of(dir / "none.checkpoint", key), Catch::Contains("no checkpoint"));

    std::string bytes = read_all(path);
    std::string flipped = bytes;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x10);
    std::ofstream(dir / "flipped.checkpoint", std::ios::binary) << flipped;
    CHECK_THAT(message_of(dir / "flipped.checkpoint", key), Catch::Contains("checksum"));
    std::ofstream(dir / "short.checkpoint", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
    CHECK_THAT(message_of(dir / "short.checkpoint", key), Catch::Contains(dir.path().string()));
    std::ofstream(dir / "other.checkpoint", std::ios::binary) << "{\"not\": \"a checkpoint\"}";
    CHECK_THAT(message_of(dir / "other.checkpoint", key), Catch::Contains("not a marginsim checkpoint"));
}

// ---------------------------------------------------------------- the program

namespace {

struct Child {
    pid_t pid = -1;
    int code = -1;  // exit code, or -signal
};

// Starts the program with `arguments`, stdout and stderr to files in `dir`.
pid_t start_program(const TempDir& dir, const std::vector<std::string>& arguments) {
    const std::string out = (dir / "child.out").string();
    const std::string err = (dir / "child.err").string();
    std::vector<std::string> argv_text{MARGINSIM_CLI};
    argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
    const pid_t child = fork();
    if (child == 0) {
        const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        std::vector<char*> argv;
        for (std::string& a : argv_text) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(MARGINSIM_CLI, argv.data());
        _exit(127);
    }
    return child;
}

int wait_code(pid_t child) {
    int status = 0;
    if (waitpid(child, &status, 0) != child) return -1000;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Starts the program and sends `signal` once its progress bar shows a completed block (it is
// then mid-run). Returns the exit code; 0 means it finished before the signal.
int run_and_interrupt(const TempDir& dir, const std::vector<std::string>& arguments, int signal = SIGINT) {
    const pid_t child = start_program(dir, arguments);
    REQUIRE(child > 0);
    const auto start = std::chrono::steady_clock::now();
    while (read_all(dir / "child.err").find("paths/s") == std::string::npos &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == child) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(child, signal);
    return wait_code(child);
}

std::vector<std::string> run_arguments(const fs::path& scenario, const fs::path& json_out, std::uint64_t paths) {
    return {"run", scenario.string(), "--paths", std::to_string(paths), "--threads", "2", "--json", json_out.string(),
            "--csv", (json_out.string() + ".csv"), "--html", (json_out.string() + ".html"), "--progress"};
}

// "s<k><extension>", built step by step (GCC 12 warns, wrongly, on the one-expression form).
std::string scenario_file(int k, const char* extension) {
    std::string name = "s";
    name += std::to_string(k);
    name += extension;
    return name;
}

bool no_temporaries(const fs::path& dir) {
    for (const fs::directory_entry& item : fs::directory_iterator(dir))
        if (item.path().filename().string().find(".tmp-") != std::string::npos) return false;
    return true;
}

}  // namespace

TEST_CASE("run stopped by SIGINT writes partial reports and resumes to the uninterrupted numbers") {
    const TempDir dir("marginsim_test_interrupt");
    const fs::path scenario = dir.write("s.toml", scenario_text(1000, 48, 7.0));
    const fs::path partial = dir / "partial.json";
    // Enough paths that the signal lands mid-run; more if this machine was quicker.
    std::uint64_t paths = 100 * ms::block_size;
    int code = 0;
    for (int attempt = 0; attempt < 4 && code == 0; ++attempt, paths *= 4)
        code = run_and_interrupt(dir, run_arguments(scenario, partial, paths));
    paths /= 4;
    INFO(read_all(dir / "child.err"));
    REQUIRE(code == 130);
    CHECK_THAT(read_all(dir / "child.err"), Catch::Contains("--resume"));
    const fs::path checkpoint = dir / "s.toml.checkpoint";
    REQUIRE(fs::exists(checkpoint));

    const json report = json::parse(read_all(partial));
    CHECK(report["partial"] == true);
    CHECK(report["paths_requested"] == paths);
    CHECK(report["paths_done"].get<std::uint64_t>() > 0);
    CHECK(report["paths_done"].get<std::uint64_t>() < paths);
    CHECK(report["simulation"]["paths"] == report["paths_done"]);
    CHECK(all_finite(report));
    CHECK_THAT(read_all(partial.string() + ".csv"), Catch::Contains("simulation,,partial,true"));
    CHECK_THAT(read_all(partial.string() + ".html"), Catch::Contains("Partial report"));
    CHECK_THAT(read_all(dir / "child.out"), Catch::Contains("PARTIAL: interrupted after"));
    CHECK(no_temporaries(dir.path()));

    // A resume with another seed, or after the file changed, is refused and keeps the checkpoint.
    const std::string base = "run " + shell_quoted(scenario) + " --paths " + std::to_string(paths) + " -q";
    const CliResult other_seed = dir.run(base + " --seed 12 --resume");
    CHECK(other_seed.code == 2);
    CHECK_THAT(other_seed.err, Catch::Contains("seed 11, this run has 12"));
    const std::string original = read_all(scenario);
    dir.write("s.toml", original + "\n# edited\n");
    const CliResult edited = dir.run(base + " --resume");
    CHECK(edited.code == 2);
    CHECK_THAT(edited.err, Catch::Contains("scenario file changed"));
    dir.write("s.toml", original);
    REQUIRE(fs::exists(checkpoint));

    const CliResult resumed = dir.run(base + " --threads 1 --resume --json " + shell_quoted(dir / "resumed.json"));
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    CHECK_FALSE(fs::exists(checkpoint));  // spent
    const CliResult whole = dir.run(base + " --json " + shell_quoted(dir / "whole.json"));
    REQUIRE(whole.code == 0);
    const json resumed_report = json::parse(read_all(dir / "resumed.json"));
    CHECK(resumed_report["partial"] == false);
    CHECK(numbers_of(resumed_report) == numbers_of(json::parse(read_all(dir / "whole.json"))));

    const CliResult nothing = dir.run(base + " --resume");
    CHECK(nothing.code == 2);
    CHECK_THAT(nothing.err, Catch::Contains("no checkpoint"));
}

TEST_CASE("batch stopped by SIGINT lists the partial scenario and resumes to the uninterrupted reports") {
    const TempDir dir("marginsim_test_interrupt");
    std::uint64_t paths = 40 * ms::block_size;
    for (int k = 0; k < 3; ++k) dir.write("in/" + scenario_file(k, ".toml"), scenario_text(paths, 48, 7.0));
    const fs::path out = dir / "out";
    int code = 0;
    for (int attempt = 0; attempt < 4 && code == 0; ++attempt, paths *= 4) {
        fs::remove_all(out);
        code = run_and_interrupt(dir, {"batch", (dir / "in").string(), "--out", out.string(), "--threads", "2",
                                       "--paths", std::to_string(paths), "--progress"});
    }
    paths /= 4;
    INFO(read_all(dir / "child.err"));
    REQUIRE(code == 130);
    CHECK(no_temporaries(out));
    // The first scenario was in flight: partial, with its checkpoint; the last one never started.
    const json first = json::parse(read_all(out / "s0.json"));
    CHECK(first["partial"] == true);
    CHECK(first["paths_done"].get<std::uint64_t>() < paths);
    CHECK(fs::exists(out / "s0.checkpoint"));
    CHECK_FALSE(fs::exists(out / "s2.json"));
    const std::string summary = read_all(out / "summary.csv");
    CHECK_THAT(summary, Catch::Contains("s0,") && Catch::Contains(",partial,"));
    CHECK_THAT(summary, Catch::Contains(",not_run,"));
    CHECK_THAT(read_all(out / "index.html"), Catch::Contains("Interrupted"));

    const std::string inputs = shell_quoted(dir / "in") + " --paths " + std::to_string(paths);
    const CliResult resumed = dir.run("batch " + inputs + " --out " + shell_quoted(out) + " --resume");
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    CHECK_THAT(resumed.err, Catch::Contains("3 ran"));  // the partial one is not "up to date"
    const CliResult whole = dir.run("batch " + inputs + " --out " + shell_quoted(dir / "whole"));
    REQUIRE(whole.code == 0);
    for (int k = 0; k < 3; ++k) {
        const std::string name = scenario_file(k, ".json");
        json a = numbers_of(json::parse(read_all(out / name)));
        json b = numbers_of(json::parse(read_all(dir / "whole" / name)));
        CHECK(a["partial"] == false);
        CHECK(a == b);
        CHECK_FALSE(fs::exists(out / scenario_file(k, ".checkpoint")));
    }
    CHECK(no_temporaries(out));
    // Complete now: a rerun skips them all.
    const CliResult again = dir.run("batch " + inputs + " --out " + shell_quoted(out) + " --resume");
    CHECK_THAT(again.err, Catch::Contains("3 skipped"));
}

TEST_CASE("batch stopped by SIGTERM exits 143, as run does, with the scenario in flight partial") {
    const TempDir dir("marginsim_test_interrupt");
    std::uint64_t paths = 40 * ms::block_size;
    for (int k = 0; k < 2; ++k) dir.write("in/" + scenario_file(k, ".toml"), scenario_text(paths, 48, 7.0));
    const fs::path out = dir / "out";
    int code = 0;
    for (int attempt = 0; attempt < 4 && code == 0; ++attempt, paths *= 4) {
        fs::remove_all(out);
        code = run_and_interrupt(dir, {"batch", (dir / "in").string(), "--out", out.string(), "--threads", "2",
                                       "--paths", std::to_string(paths), "--progress"},
                                 SIGTERM);
    }
    INFO(read_all(dir / "child.err"));
    REQUIRE(code == 143);
    CHECK(json::parse(read_all(out / "s0.json"))["partial"] == true);
    CHECK(fs::exists(out / "s0.checkpoint"));
    CHECK_THAT(read_all(dir / "child.err"), Catch::Contains("--resume"));
}

TEST_CASE("the progress bar shows paths per second and ETA only when asked or on a terminal") {
    const TempDir dir("marginsim_test_interrupt");
    const fs::path scenario = dir.write("s.toml", scenario_text(5 * ms::block_size));
    const CliResult forced = dir.run("run " + shell_quoted(scenario) + " --progress");
    REQUIRE(forced.code == 0);
    CHECK_THAT(forced.err, Catch::Contains("paths/s") && Catch::Contains("ETA"));
    CHECK_THAT(forced.err, Catch::Contains("5,120/5,120 paths"));  // the last line: all done
    const CliResult plain = dir.run("run " + shell_quoted(scenario) + " -q");
    REQUIRE(plain.code == 0);
    CHECK(plain.err.empty());  // stderr is a file here, not a terminal
    const CliResult contradictory = dir.run("run " + shell_quoted(scenario) + " --quiet --progress");
    CHECK(contradictory.code == 2);
}

TEST_CASE("the checkpoint key changes with a tier table the scenario refers to, not with threads or its name") {
    const TempDir dir("marginsim_test_interrupt");
    const std::string tiers = "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.01, amount = 300 } ]\n";
    dir.write("exchange/AAA.toml", tiers);
    std::string text = scenario_text(4 * ms::block_size);
    const std::string inline_rate = "maintenance_margin_rate = 0.005\n";
    text.replace(text.find(inline_rate), inline_rate.size(), "tiers = \"exchange/AAA\"\n");
    const fs::path scenario_path = dir.write("s.toml", text);
    const ms::LoadOptions options{dir.path()};
    const ms::Scenario before = ms::load_scenario(scenario_path, options);
    const ms::CheckpointKey key = ms::run_checkpoint_key(before, {}, 42);

    CHECK(ms::run_checkpoint_key(ms::load_scenario(scenario_path, options), {{}, {}, 1}, 42) == key);
    ms::Scenario renamed = before;
    renamed.source = "elsewhere.toml";
    CHECK(ms::run_checkpoint_key(renamed, {}, 42) == key);

    dir.write("exchange/AAA.toml", "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.02, amount = 800 } ]\n");
    const ms::CheckpointKey edited = ms::run_checkpoint_key(ms::load_scenario(scenario_path, options), {}, 42);
    CHECK(edited.scenario_hash == key.scenario_hash);  // the scenario file itself is unchanged
    CHECK(edited.content_hash != key.content_hash);

    // The stopped run's checkpoint is refused against the edited table.
    const StoppedRun stopped = run_and_stop(before, 2, 2 * ms::block_size);
    REQUIRE(stopped.report.partial);
    ms::RunCheckpoint checkpoint = stopped.checkpoint;
    checkpoint.key = key;
    const fs::path path = dir / "run.checkpoint";
    ms::write_checkpoint(path, checkpoint);
    CHECK_NOTHROW(ms::read_checkpoint(path, key));
    CHECK_THROWS_WITH(ms::read_checkpoint(path, edited), Catch::Contains("a tier table it refers to"));
}
