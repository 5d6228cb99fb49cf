// Hostile input end to end: the malformed scenario corpus in tests/bad_scenarios/ through the
// built program, the run-size guard (estimate, refusal, --force), and the fuzzer's regression
// inputs in tests/fuzz/regressions/ through the parser.
//
// Corpus format: each tests/bad_scenarios/NAME.toml starts with one comment line giving the
// exact line the program prints on stderr, as seen when run from tests/bad_scenarios/:
//   # expect: error: NAME.toml:LINE:COL: key: message (expected ...)
//       `validate NAME.toml` and `run NAME.toml` both print it and exit with 2.
//   # expect run: error: ...
//       only `run` refuses it (a run too large for the machine); `validate` accepts it.
// `{memory_limit}` in the line stands for 75% of this machine's physical memory.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "fuzz/scenario_invariants.hpp"
#include "marginsim/error.hpp"
#include "marginsim/run_estimate.hpp"
#include "marginsim/scenario.hpp"
#include "skip.hpp"

namespace {

namespace fs = std::filesystem;
using namespace marginsim;

const fs::path source_dir = MARGINSIM_SOURCE_DIR;
const fs::path corpus_dir = source_dir / "tests" / "bad_scenarios";
const fs::path regressions_dir = source_dir / "tests" / "fuzz" / "regressions";

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

using marginsim::testing::read_all;
using marginsim::testing::TempDir;

struct Result {
    int code = -1;
    std::string out;
    std::string err;
    double user_seconds = 0.0;
    long max_rss_kib = 0;
};

// Runs the built program in `cwd` with a time limit, capturing stdout, stderr, the exit code
// and the child's own CPU time and peak resident memory.
Result run_cli(const fs::path& cwd, const std::vector<std::string>& arguments,
               const fs::path& scratch, int timeout_seconds = 60) {
    const fs::path out_file = scratch / "stdout.txt";
    const fs::path err_file = scratch / "stderr.txt";
    std::vector<std::string> argv_text{"timeout", std::to_string(timeout_seconds), MARGINSIM_CLI};
    argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || chdir(cwd.c_str()) != 0) _exit(127);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    REQUIRE(wait4(pid, &status, 0, &usage) == pid);
    Result result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_all(out_file);
    result.err = read_all(err_file);
    result.user_seconds = static_cast<double>(usage.ru_utime.tv_sec) +
                          static_cast<double>(usage.ru_utime.tv_usec) * 1e-6;
    result.max_rss_kib = usage.ru_maxrss;
    fs::remove(out_file);
    fs::remove(err_file);
    return result;
}

// 75% of MemTotal from /proc/meminfo, as the program words it ("17.7 GiB").
std::string memory_limit_text() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    double kib = 0.0;
    while (meminfo >> key) {
        if (key == "MemTotal:") {
            meminfo >> kib;
            break;
        }
        meminfo.ignore(1 << 12, '\n');
    }
    REQUIRE(kib > 0.0);
    double value = 0.75 * kib * 1024.0;
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int unit = 0;
    while (value >= 1024.0 && unit < 6) {
        value /= 1024.0;
        ++unit;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.3g %s", value, units[unit]);
    return text;
}

struct CorpusCase {
    std::string name;
    std::string expected;
    bool run_only = false;
};

std::vector<CorpusCase> load_corpus() {
    std::vector<CorpusCase> cases;
    const std::string memory_limit = memory_limit_text();
    for (const fs::directory_entry& entry : fs::directory_iterator(corpus_dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".toml") continue;
        const std::string text = read_all(entry.path());
        const std::string first = text.substr(0, text.find('\n'));
        CorpusCase c;
        c.name = entry.path().filename().string();
        const std::string both = "# expect: ";
        const std::string run_only = "# expect run: ";
        if (first.rfind(both, 0) == 0) {
            c.expected = first.substr(both.size());
        } else if (first.rfind(run_only, 0) == 0) {
            c.expected = first.substr(run_only.size());
            c.run_only = true;
        } else {
            FAIL(c.name << ": the first line is not '# expect: ...' or '# expect run: ...'");
        }
        if (const auto at = c.expected.find("{memory_limit}"); at != std::string::npos) {
            c.expected.replace(at, std::string("{memory_limit}").size(), memory_limit);
        }
        cases.push_back(c);
    }
    std::sort(cases.begin(), cases.end(),
              [](const CorpusCase& a, const CorpusCase& b) { return a.name < b.name; });
    return cases;
}

}  // namespace

TEST_CASE("every malformed scenario of the corpus is refused with its exact message", "[bad_inputs]") {
    const std::vector<CorpusCase> cases = load_corpus();
    REQUIRE(cases.size() >= 40);
    TempDir scratch("marginsim_bad_inputs");
    const fs::path outputs = scratch.path() / "outputs";
    fs::create_directory(outputs);
    for (const CorpusCase& c : cases) {
        INFO(c.name);
        const Result validate = run_cli(corpus_dir, {"validate", c.name}, scratch.path());
        if (c.run_only) {
            CHECK(validate.code == 0);
            CHECK(validate.out.find("OK") != std::string::npos);
        } else {
            CHECK(validate.code == 2);
            CHECK(validate.err == c.expected + "\n");
            CHECK(validate.out.empty());
        }
        const Result run = run_cli(corpus_dir,
                                   {"run", c.name, "--json", (outputs / "report.json").string(),
                                    "--csv", (outputs / "report.csv").string()},
                                   scratch.path());
        CHECK(run.code == 2);
        CHECK(run.err == c.expected + "\n");
        CHECK(run.out.empty());
        CHECK(fs::is_empty(outputs));  // no report, no temporary file left behind
    }
}

TEST_CASE("a path count override too large for the machine is refused and names --paths", "[bad_inputs]") {
    TempDir scratch("marginsim_bad_inputs");
    const Result run =
        run_cli(source_dir, {"run", "configs/seed_example.toml", "--paths", "1000000000000",
                             "--threads", "1", "--json", (scratch.path() / "r.json").string()},
                scratch.path());
    CHECK(run.code == 2);
    // No line or column: the size comes from the command line, not from the file.
    CHECK(run.err.rfind("error: configs/seed_example.toml: --paths: run too large: 1000000000000 "
                        "paths x 28 steps with 3 assets and 3 positions would take about ",
                        0) == 0);
    CHECK(run.err.find("or --force to run it anyway)") != std::string::npos);
    CHECK_FALSE(fs::exists(scratch.path() / "r.json"));
}

// 4.9 h by the estimate, but every path is liquidated at the first step (no volatility, a
// drift that takes 99.99% off the price in an hour), so the engine stops after one step.
constexpr const char* settles_at_once = R"([simulation]
paths = 1000000
horizon_days = 36500.0
steps_per_day = 24
seed = 3
threads = 1
[account]
balance = 10000.0
[[assets]]
symbol = "BTC"
price = 60000.0
volatility = 0.0
drift = -100000.0
maintenance_margin_rate = 0.004
[[assets]]
symbol = "ETH"
price = 3000.0
volatility = 0.0
maintenance_margin_rate = 0.005
[[assets]]
symbol = "SOL"
price = 80.0
volatility = 0.0
maintenance_margin_rate = 0.005
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000.0
leverage = 10.0
mode = "isolated"
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000.0
leverage = 10.0
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000.0
leverage = 10.0
)";

TEST_CASE("run with the force flag runs a scenario the estimate refuses", "[bad_inputs]") {
    TempDir scratch("marginsim_bad_inputs");
    const fs::path scenario = scratch.path() / "settles.toml";
    std::ofstream(scenario) << settles_at_once;
    const fs::path json = scratch.path() / "report.json";

    const Result refused = run_cli(scratch.path(), {"run", "settles.toml", "-q"}, scratch.path());
    CHECK(refused.code == 2);
    CHECK(refused.err ==
          "error: settles.toml:3:16: simulation.horizon_days: run too large: 1000000 paths x "
          "876000 steps with 3 assets and 3 positions would take about 12 h on 1 thread and 108 "
          "MiB of memory, more than the limit of 1 h (expected fewer paths, a shorter horizon or "
          "fewer steps per day; or --force to run it anyway)\n");

    const Result forced = run_cli(scratch.path(),
                                  {"run", "settles.toml", "-q", "--force", "--json", json.string()},
                                  scratch.path(), 300);
    REQUIRE(forced.code == 0);
    const nlohmann::json report = nlohmann::json::parse(read_all(json));
    CHECK(report["simulation"]["paths"] == 1000000);
    for (const char* mode : {"isolated", "cross", "as_configured"}) {
        CHECK(report["modes"][mode]["liquidation_probability"]["estimate"] == 1.0);
    }
}

TEST_CASE("sweep and batch apply the run-size check too", "[bad_inputs]") {
    TempDir scratch("marginsim_bad_inputs");
    std::ofstream(scratch.path() / "settles.toml") << settles_at_once;
    const fs::path batch_dir = scratch.path() / "scenarios";
    fs::create_directories(batch_dir);
    std::ofstream(batch_dir / "large.toml") << settles_at_once;
    fs::copy_file(source_dir / "configs" / "hedged_pair.toml", batch_dir / "small.toml");
    fs::copy(source_dir / "configs" / "exchanges", batch_dir / "exchanges", fs::copy_options::recursive);

    // Four sweep points and eight bisection steps: 12 runs of the refused size.
    const Result sweep = run_cli(scratch.path(), {"sweep", "settles.toml", "--correlation", "0,0.3,0.6,0.9", "-q"},
                                 scratch.path());
    CHECK(sweep.code == 2);
    CHECK_THAT(sweep.err, Catch::Contains("settles.toml:3:16: simulation.horizon_days: run too large: 12 runs of "
                                          "1000000 paths x 876000 steps") &&
                              Catch::Contains("--force"));

    // The large scenario fails alone with the estimate; the small one runs.
    const fs::path out = scratch.path() / "reports";
    const Result batch = run_cli(scratch.path(), {"batch", batch_dir.string(), "--out", out.string(), "-q"},
                                 scratch.path());
    CHECK(batch.code == 1);  // one scenario failed
    CHECK(fs::exists(out / "small.json"));
    CHECK_FALSE(fs::exists(out / "large.json"));
    CHECK_THAT(read_all(out / "summary.csv"), Catch::Contains("run too large"));
}

TEST_CASE("the run-size check of several runs adds their times", "[run_estimate]") {
    const Scenario seed = load_scenario(source_dir / "configs" / "seed_example.toml");
    const double one_run = estimate_run(seed).seconds;
    RunLimits limits;
    limits.max_seconds = 10.0 * one_run;
    CHECK_NOTHROW(check_run_size(seed, {}, limits, 9));
    CHECK_THROWS_WITH(check_run_size(seed, {}, limits, 11), Catch::Contains("run too large: 11 runs of 100000 paths"));
}

TEST_CASE("the run estimate follows the engine's cost in time and memory", "[bad_inputs][run_estimate]") {
    if (sanitized) {
        marginsim_skip("under sanitizers: they change both the time and the memory of a run");
        return;
    }
    TempDir scratch("marginsim_bad_inputs");
    const Scenario seed = load_scenario(source_dir / "configs" / "seed_example.toml");

    SECTION("time: within a factor of 3 of the CPU time of a single-thread run") {
        const std::uint64_t paths = 40000;
        const RunEstimate estimate = estimate_run(seed, RunOptions{paths, std::nullopt, 1});
        REQUIRE(estimate.parallelism == 1);
        const Result run = run_cli(source_dir, {"run", "configs/seed_example.toml", "-q", "--paths",
                                                std::to_string(paths), "--threads", "1"},
                                   scratch.path());
        REQUIRE(run.code == 0);
        INFO("estimate " << estimate.seconds << " s, measured " << run.user_seconds << " s");
        CHECK(estimate.seconds < 3.0 * run.user_seconds);
        CHECK(estimate.seconds > run.user_seconds / 3.0);
    }
    SECTION("memory: an upper bound of the peak, within a factor of 3") {
        // One step: the run is all samples, merging and sorting, where the memory goes.
        const std::string text = read_all(source_dir / "configs" / "seed_example.toml");
        const fs::path file = scratch.path() / "one_step.toml";
        std::string edited = text;
        edited.replace(edited.find("horizon_days = 7.0"), 18, "horizon_days = 1.0");
        edited.replace(edited.find("steps_per_day = 4"), 17, "steps_per_day = 1");
        std::ofstream(file) << edited;
        fs::copy(source_dir / "configs" / "exchanges", scratch.path() / "exchanges",
                 fs::copy_options::recursive);
        const std::uint64_t paths = 1000000;
        const Scenario scenario = load_scenario(file);
        const RunEstimate estimate = estimate_run(scenario, RunOptions{paths, std::nullopt, 1});
        const Result run = run_cli(scratch.path(), {"run", "one_step.toml", "-q", "--paths",
                                                    std::to_string(paths), "--threads", "1"},
                                   scratch.path());
        REQUIRE(run.code == 0);
        const double measured = static_cast<double>(run.max_rss_kib) * 1024.0;
        INFO("estimate " << estimate.memory_bytes << " B, measured " << measured << " B");
        CHECK(estimate.memory_bytes >= measured);
        CHECK(estimate.memory_bytes < 3.0 * measured);
        // And at least what the samples take by their layout: a double and a float per path
        // and mode.
        CHECK(estimate.memory_bytes > static_cast<double>(paths) * 3 * (8 + 4));
    }
}

TEST_CASE("the run estimate of an importance-sampled run follows its cost in time and memory",
          "[bad_inputs][run_estimate]") {
    if (sanitized) {
        marginsim_skip("under sanitizers: they change both the time and the memory of a run");
        return;
    }
    TempDir scratch("marginsim_bad_inputs");
    fs::copy(source_dir / "configs" / "exchanges", scratch.path() / "exchanges", fs::copy_options::recursive);
    std::string text = read_all(source_dir / "configs" / "seed_example.toml");
    text.replace(text.find("steps_per_day = 4"), 17, "steps_per_day = 4\nimportance_sampling = \"selloff\"");
    const auto measure = [&](const std::string& scenario_text, std::uint64_t paths) {
        std::ofstream(scratch.path() / "selloff.toml") << scenario_text;
        const Scenario scenario = load_scenario(scratch.path() / "selloff.toml");
        const RunEstimate estimate = estimate_run(scenario, RunOptions{paths, std::nullopt, 1});
        const Result run = run_cli(scratch.path(), {"run", "selloff.toml", "-q", "--paths", std::to_string(paths),
                                                    "--threads", "1"},
                                   scratch.path());
        REQUIRE(run.code == 0);
        return std::pair{estimate, run};
    };
    SECTION("time: within a factor of 3 of the CPU time of a single-thread run") {
        const auto [estimate, run] = measure(text, 100000);
        INFO("estimate " << estimate.seconds << " s, measured " << run.user_seconds << " s");
        CHECK(estimate.seconds < 3.0 * run.user_seconds);
        CHECK(estimate.seconds > run.user_seconds / 3.0);
    }
    SECTION("memory: an upper bound of the peak, within a factor of 3") {
        std::string one_step = text;
        one_step.replace(one_step.find("horizon_days = 7.0"), 18, "horizon_days = 1.0");
        const auto [estimate, run] = measure(one_step, 1000000);
        const double measured = static_cast<double>(run.max_rss_kib) * 1024.0;
        INFO("estimate " << estimate.memory_bytes << " B, measured " << measured << " B");
        CHECK(estimate.memory_bytes >= measured);
        CHECK(estimate.memory_bytes < 3.0 * measured);
    }
}

TEST_CASE("the run estimate scales with paths and steps and threads", "[run_estimate]") {
    const Scenario seed = load_scenario(source_dir / "configs" / "seed_example.toml");
    const RunEstimate base = estimate_run(seed, RunOptions{1000000, std::nullopt, 1});
    const RunEstimate twice = estimate_run(seed, RunOptions{2000000, std::nullopt, 1});
    CHECK(base.paths == 1000000);
    CHECK(base.steps == 28);
    CHECK(base.assets == 3);
    CHECK(base.positions == 3);
    CHECK(base.threads == 1);
    CHECK(base.parallelism == 1);
    // Linear in paths up to the n log n sort.
    CHECK(twice.seconds / base.seconds == Approx(2.0).epsilon(0.05));
    // Each further path keeps at least a double and a float per mode (loss and drawdown),
    // and at most two copies of a double and two floats per mode (blocks and merged copy).
    const double per_path = (twice.memory_bytes - base.memory_bytes) / 1e6;
    CHECK(per_path >= 3 * (8 + 4));
    CHECK(per_path <= 2 * 3 * (8 + 4 + 4));
    // 2^63 paths do not wrap.
    const RunEstimate huge = estimate_run(seed, RunOptions{std::uint64_t{1} << 63, std::nullopt, 1});
    CHECK(huge.seconds > 1e9);
    CHECK(huge.memory_bytes > 1e20);
    CHECK(std::isfinite(huge.seconds));
}

TEST_CASE("durations and sizes are worded for people", "[run_estimate]") {
    CHECK(format_duration(0.25) == "0.25 s");
    CHECK(format_duration(42.0) == "42 s");
    CHECK(format_duration(150.0) == "2.5 min");
    CHECK(format_duration(5400.0) == "1.5 h");
    CHECK(format_duration(3.0 * 86400.0) == "3 days");
    CHECK(format_duration(10.0 * 365.0 * 86400.0) == "10 years");
    CHECK(format_bytes(512.0) == "512 B");
    CHECK(format_bytes(1536.0) == "1.5 KiB");
    CHECK(format_bytes(3.0 * 1024 * 1024 * 1024) == "3 GiB");
    CHECK(format_bytes(1024.0 * 1024 * 1024 * 1024 * 1024 * 1024 * 2048) == "2.05e+03 EiB");
}

TEST_CASE("the run-size check points at the key furthest above its default", "[run_estimate]") {
    const Scenario seed = load_scenario(source_dir / "configs" / "seed_example.toml");
    RunLimits tight;
    tight.max_seconds = 1e-9;
    RunLimits loose;
    loose.max_seconds = 1e30;
    loose.max_memory_bytes = 1e30;
    CHECK_NOTHROW(check_run_size(seed, {}, loose));

    const auto key_of = [&](const Scenario& s, const RunOptions& options, const RunLimits& limits) {
        try {
            check_run_size(s, options, limits);
        } catch (const InputError& error) {
            return error.key() + "@" + std::to_string(error.line());
        }
        return std::string("none");
    };
    // seed_example: paths on line 28, horizon_days 29, steps_per_day 30.
    Scenario more_paths = seed;
    more_paths.simulation.paths = 10000000;
    CHECK(key_of(more_paths, {}, tight) == "simulation.paths@28");
    CHECK(key_of(seed, RunOptions{std::uint64_t{10000000}, std::nullopt, std::nullopt}, tight) ==
          "--paths@0");
    Scenario finer = seed;
    finer.simulation.steps_per_day = 1440;
    CHECK(key_of(finer, {}, tight) == "simulation.steps_per_day@30");
    Scenario longer = seed;
    longer.simulation.horizon_days = 365.0;
    CHECK(key_of(longer, {}, tight) == "simulation.horizon_days@29");
    // Over the memory limit: the path count is what holds the memory.
    RunLimits small_memory = loose;
    small_memory.max_memory_bytes = 1.0;
    CHECK(key_of(longer, {}, small_memory) == "simulation.paths@28");
}

TEST_CASE("a scenario with more assets than the engine takes is refused before its matrix", "[bad_inputs]") {
    std::string text = "[simulation]\nhorizon_days = 1\n[account]\nbalance = 100\n";
    for (int i = 0; i < 1001; ++i) {
        text += "[[assets]]\nsymbol = \"A" + std::to_string(i) +
                "\"\nprice = 1\nvolatility = 0.1\nmaintenance_margin_rate = 0.01\n";
    }
    text += "[[positions]]\nsymbol = \"A0\"\nside = \"long\"\nmargin = 1\nleverage = 2\n";
    try {
        parse_scenario(text, "many.toml");
        FAIL("no error");
    } catch (const InputError& error) {
        // The 1001st [[assets]] table starts on line 5 + 1000 * 5.
        CHECK(std::string(error.what()) ==
              "many.toml:5005:1: assets[1000]: 1001 assets, more than the 1000 the engine takes "
              "(expected at most 1000 [[assets]] tables: the correlation matrix grows with the "
              "square of the count)");
    }
}

TEST_CASE("the corpus scenarios that load also satisfy the engine's invariants", "[bad_inputs]") {
    // The run-only cases load: what they load must still be sound.
    for (const CorpusCase& c : load_corpus()) {
        if (!c.run_only) continue;
        INFO(c.name);
        const Scenario scenario = load_scenario(corpus_dir / c.name);
        CHECK(testing::invariant_violation(scenario).empty());
    }
}

TEST_CASE("fuzzer findings stay fixed", "[bad_inputs][fuzz]") {
    // Each file is an input that once crashed the parser or passed it while breaking an
    // invariant; now it must be refused with an InputError that names the file, a line and the
    // key, or load soundly. Those whose refusal is known are checked to the letter.
    const std::map<std::string, std::string> refusals{
        // Once refused with a message saying "nan": now the balance itself is out of range.
        {"notional_overflow_nan_message.toml",
         "fuzz:4:11: account.balance: too large: found 1e+308 (expected a balance <= 1e+30, the largest amount "
         "the engine computes with)"},
        {"nul_in_symbol.toml",
         "fuzz:6:10: assets[0].symbol: symbol \"B\\u0000C\" has a control character or a leading or trailing "
         "space (expected a symbol of printable characters without surrounding spaces, such as \"BTC\")"},
    };
    REQUIRE(fs::is_directory(regressions_dir));
    std::size_t count = 0;
    std::size_t known = 0;
    for (const fs::directory_entry& entry : fs::directory_iterator(regressions_dir)) {
        if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
        ++count;
        const std::string name = entry.path().filename().string();
        INFO(name);
        const std::string text = read_all(entry.path());
        const LoadOptions options{source_dir / "configs" / "exchanges"};
        const auto refusal = refusals.find(name);
        try {
            const Scenario scenario = parse_scenario(text, "fuzz", options);
            CHECK(refusal == refusals.end());
            CHECK(testing::invariant_violation(scenario) == "");
        } catch (const InputError& error) {
            CHECK(error.file() == "fuzz");
            CHECK(error.line() > 0);
            CHECK_FALSE(error.key().empty());
            if (refusal != refusals.end()) {
                ++known;
                CHECK(std::string(error.what()) == refusal->second);
            }
        }
    }
    CHECK(count > 0);
    CHECK(known == refusals.size());
}

TEST_CASE("a notional that overflows is refused naming the position and its numbers, not nan", "[bad_inputs]") {
    // The overflow the fuzzer found behind notional_overflow_nan_message.toml, with a balance
    // the loader accepts, so that the notional check itself is reached.
    const std::string text =
        "[simulation]\nhorizon_days = 7\n[account]\nbalance = 1e6\n[[assets]]\nsymbol = \"BTC\"\n"
        "price = 60000\nvolatility = 0.5\nmaintenance_margin_rate = 0.004\n[[positions]]\nsymbol = \"BTC\"\n"
        "side = \"long\"\nmargin = 1000\nleverage = 1e308\n";
    try {
        parse_scenario(text, "overflow.toml");
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.key() == "positions[0]");
        CHECK(error.line() == 10);
        CHECK(error.message() ==
              "numbers too large: margin 1000, leverage 1e+308, quantity inf and entry price 60000 overflow");
        CHECK(error.expected() ==
              "amounts whose products and sums stay far below the largest floating-point number, 1.8e308");
    }
}
