// `marginsim batch`: the reports of every scenario and the index, the bad scenarios listed and
// counted in the exit code, reruns that skip what is up to date (batch.manifest), and a batch killed mid-run
// that leaves complete files or none.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "marginsim/batch.hpp"

using namespace marginsim::testing;  // TempDir, CliResult, small_scenario, csv_rows...
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Line 3 holds a key the format does not know.
constexpr const char* bad_scenario = "[simulation]\npaths = 100\npathz = 10\n";

// A report's numbers, without what depends on the run rather than on (scenario, seed, paths).
json numbers_of(json report) {
    report.erase("scenario");
    report["simulation"].erase("elapsed_s");
    report["simulation"].erase("threads");
    return report;
}

// A report CSV without the rows that depend on the run rather than on (scenario, seed, paths).
std::string csv_numbers_of(const std::string& csv) {
    std::string kept;
    for (const auto& row : csv_rows(csv)) {
        if (row.size() > 2 && row[0] == "simulation" && (row[2] == "elapsed_s" || row[2] == "threads" || row[2] == "scenario"))
            continue;
        for (std::size_t k = 0; k < row.size(); ++k) kept += (k ? "," : "") + row[k];
        kept += '\n';
    }
    return kept;
}

// The summary.csv value of column `name` that the report JSON holds at `pointer`.
struct SummaryColumn {
    std::string name;
    json::json_pointer pointer;
};

std::vector<SummaryColumn> summary_columns() {
    std::vector<SummaryColumn> columns{{"paths", json::json_pointer("/simulation/paths")},
                                       {"seed", json::json_pointer("/simulation/seed")},
                                       {"balance", json::json_pointer("/account/balance")}};
    for (const std::string mode : {"isolated", "cross", "as_configured"}) {
        const std::string at = "/modes/" + mode;
        columns.push_back({mode + "_liquidation_probability", json::json_pointer(at + "/liquidation_probability/estimate")});
        columns.push_back({mode + "_ci95_lo", json::json_pointer(at + "/liquidation_probability/ci95/0")});
        columns.push_back({mode + "_ci95_hi", json::json_pointer(at + "/liquidation_probability/ci95/1")});
        columns.push_back({mode + "_loss_mean", json::json_pointer(at + "/loss/mean")});
        columns.push_back({mode + "_var_0.99", json::json_pointer(at + "/loss/var/0.99")});
        columns.push_back({mode + "_es_0.99", json::json_pointer(at + "/loss/es/0.99")});
        columns.push_back({mode + "_collateral_at_risk", json::json_pointer(at + "/collateral_at_risk")});
    }
    columns.push_back({"contagion_probability", json::json_pointer("/comparison/contagion_probability")});
    columns.push_back({"p_cross_loss_exceeds_isolated", json::json_pointer("/comparison/p_cross_loss_exceeds_isolated")});
    return columns;
}

fs::file_time_type mtime(const fs::path& path) { return fs::last_write_time(path); }

}  // namespace

TEST_CASE("batch writes every report and an index and counts the bad scenario") {
    const TempDir dir("marginsim_test_batch");
    dir.write("in/calm.toml", small_scenario(0.4));
    dir.write("in/wild.toml", small_scenario(1.2));
    dir.write("in/broken.toml", bad_scenario);
    dir.write("in/notes.txt", "not a scenario");
    const fs::path out = dir / "out";

    const CliResult batch = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(out));
    INFO(batch.err);
    CHECK(batch.code == 1);  // one scenario failed
    CHECK_THAT(batch.err, Catch::Contains("broken.toml:3"));
    CHECK_THAT(batch.err, Catch::Contains("3 scenarios: 2 ran, 0 skipped, 1 failed"));

    const auto summary = csv_rows(read_all(out / "summary.csv"));
    REQUIRE(summary.size() == 4);  // header and three scenarios, in name order
    const std::vector<std::string>& header = summary[0];
    const auto column = [&](const std::string& name) {
        const auto at = std::find(header.begin(), header.end(), name);
        REQUIRE(at != header.end());
        return static_cast<std::size_t>(at - header.begin());
    };
    CHECK(summary[1][0] == "broken");
    CHECK(summary[1][2] == "failed");
    CHECK_THAT(summary[1][3], Catch::Contains("pathz"));
    for (std::size_t c = 4; c < header.size(); ++c) CHECK(summary[1][c].empty());

    for (const std::size_t r : {std::size_t{2}, std::size_t{3}}) {
        const std::string name = summary[r][0];
        INFO(name);
        CHECK(summary[r][2] == "ran");
        // The same reports as `run` of the same scenario, seed and paths.
        const fs::path scenario = dir / "in" / (name + ".toml");
        const CliResult run = dir.run("run " + shell_quoted(scenario) + " -q --json " + shell_quoted(dir / "run.json") +
                                      " --csv " + shell_quoted(dir / "run.csv") + " --html " +
                                      shell_quoted(dir / "run.html"));
        REQUIRE(run.code == 0);
        const json from_batch = json::parse(read_all(out / (name + ".json")));
        CHECK(numbers_of(from_batch) == numbers_of(json::parse(read_all(dir / "run.json"))));
        CHECK(csv_numbers_of(read_all(out / (name + ".csv"))) == csv_numbers_of(read_all(dir / "run.csv")));
        CHECK(read_all(out / (name + ".html")) == read_all(dir / "run.html"));
        // Its CSV holds its JSON's numbers.
        std::size_t compared = 0;
        CHECK(marginsim::testing::report_csv_mismatches(read_all(out / (name + ".csv")), from_batch, compared).empty());
        CHECK(compared >= 3 * (3 + 8) + 2 * 3 * 5);  // probabilities, losses, two positions' numbers
        // Its summary row holds its JSON's numbers, as written (shortest round-trip text).
        for (const SummaryColumn& c : summary_columns()) {
            INFO(c.name);
            CHECK(std::stod(summary[r][column(c.name)]) == from_batch.at(c.pointer).get<double>());
        }
        CHECK(std::stod(summary[r][column("paths_requested")]) == 2000);
        CHECK(summary[r][column("steps_per_day")] == "24");
        CHECK(summary[r][column("monitoring")] == "continuous");
        CHECK(from_batch.at("simulation").at("monitoring") == "continuous");
    }
    CHECK(summary[2][0] == "calm");
    CHECK(summary[3][0] == "wild");
    // More volatility, more liquidations.
    CHECK(std::stod(summary[3][column("isolated_liquidation_probability")]) >
          std::stod(summary[2][column("isolated_liquidation_probability")]));
    CHECK_FALSE(fs::exists(out / "broken.json"));
    CHECK_FALSE(fs::exists(out / "notes.json"));

    const std::string index = read_all(out / "index.html");
    CHECK_THAT(index, Catch::Contains("href=\"calm.html\""));
    CHECK_THAT(index, Catch::Contains("href=\"wild.html\""));
    CHECK_THAT(index, Catch::Contains("broken.toml:3"));
    CHECK_THAT(index, Catch::Contains("1 failed"));
}

TEST_CASE("a rerun skips the reports that are up to date") {
    const TempDir dir("marginsim_test_batch");
    const fs::path a = dir.write("in/a.toml", small_scenario(0.5));
    dir.write("in/b.toml", small_scenario(0.7));
    const fs::path out = dir / "out";
    const std::string batch = "batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(out);
    REQUIRE(dir.run(batch).code == 0);
    const auto a_time = mtime(out / "a.json");
    const auto b_time = mtime(out / "b.json");
    const std::string first_summary = read_all(out / "summary.csv");

    const CliResult again = dir.run(batch);
    CHECK(again.code == 0);
    CHECK_THAT(again.err, Catch::Contains("0 ran, 2 skipped"));
    CHECK(mtime(out / "a.json") == a_time);
    // The index of a rerun reads the skipped reports back: the same numbers.
    const auto rows = csv_rows(read_all(out / "summary.csv"));
    const auto first_rows = csv_rows(first_summary);
    REQUIRE(rows.size() == 3);
    for (std::size_t r = 1; r < rows.size(); ++r) {
        CHECK(rows[r][2] == "skipped");
        for (std::size_t c = 4; c < rows[r].size(); ++c) CHECK(rows[r][c] == first_rows[r][c]);
    }

    SECTION("a scenario edited after its report runs again") {
        { std::ofstream(a, std::ios::app) << "# edited\n"; }
        const CliResult edited = dir.run(batch);
        CHECK_THAT(edited.err, Catch::Contains("1 ran, 1 skipped"));
        CHECK(mtime(out / "b.json") == b_time);
    }
    SECTION("a report changed since it was written runs again") {
        { std::ofstream(out / "a.csv", std::ios::app) << "x,,y,1\n"; }
        CHECK_THAT(dir.run(batch).err, Catch::Contains("1 ran, 1 skipped"));
        CHECK(read_all(out / "a.csv").find("x,,y,1") == std::string::npos);
    }
    SECTION("other paths or seed run again") {
        CHECK_THAT(dir.run(batch + " --paths 1500").err, Catch::Contains("2 ran, 0 skipped"));
        CHECK(json::parse(read_all(out / "a.json"))["simulation"]["paths"] == 1500);
        CHECK_THAT(dir.run(batch + " --paths 1500 --seed 9").err, Catch::Contains("2 ran, 0 skipped"));
    }
    SECTION("--rerun runs everything; --force alone only lifts the size guard") {
        CHECK_THAT(dir.run(batch + " --rerun --jobs 2").err, Catch::Contains("2 ran, 0 skipped"));
        CHECK_THAT(dir.run(batch + " --force").err, Catch::Contains("0 ran, 2 skipped"));
    }
    SECTION("a missing report runs again") {
        fs::remove(out / "b.html");
        CHECK_THAT(dir.run(batch).err, Catch::Contains("1 ran, 1 skipped"));
        CHECK(fs::exists(out / "b.html"));
    }
}

TEST_CASE("batch exits 0 when every scenario is fine, 1 when some failed, naming them, 2 on bad arguments") {
    const TempDir dir("marginsim_test_batch");
    dir.write("in/good.toml", small_scenario(0.5, 1000));
    const std::string out = " --out " + shell_quoted(dir / "out");
    const CliResult fine = dir.run("batch " + shell_quoted(dir / "in") + out + " -q");
    INFO(fine.err);
    CHECK(fine.code == 0);
    CHECK(fine.err.empty());
    CHECK(dir.run("batch " + shell_quoted(dir / "in") + out).code == 0);  // up to date: skipped, still fine

    // 2 and 3 failures both exit 1: the code tells failure, the last line which ones.
    for (int k = 0; k < 3; ++k) dir.write("in/bad" + std::to_string(k) + ".toml", bad_scenario);
    const CliResult some = dir.run("batch " + shell_quoted(dir / "in") + out + " -q");
    CHECK(some.code == 1);
    CHECK_THAT(some.err, Catch::Contains("4 scenarios: 0 ran, 1 skipped, 3 failed"));
    const std::string in = (dir / "in").string();
    CHECK_THAT(some.err, Catch::EndsWith("batch: failed: " + in + "/bad0.toml, " + in + "/bad1.toml, " + in +
                                         "/bad2.toml\n"));
    fs::remove(dir / "in" / "bad2.toml");
    CHECK(dir.run("batch " + shell_quoted(dir / "in") + out + " -q").code == 1);
    CHECK(csv_rows(read_all(dir / "out" / "summary.csv")).size() == 4);

    // The batch's own arguments: nothing runs.
    const std::string other = " --out " + shell_quoted(dir / "other");
    for (const std::string& arguments : {other + " --jobs 0", other + " --set nokey", other + " --paths -1",
                                         other + " --no-such-option", std::string(" --jobs 2")}) {
        INFO(arguments);
        const CliResult bad = dir.run("batch " + shell_quoted(dir / "in") + arguments);
        CHECK(bad.code == 2);
        CHECK_THAT(bad.err, Catch::StartsWith("error: "));
        CHECK_FALSE(fs::exists(dir / "other" / "good.json"));
    }
}

TEST_CASE("scenario names that would overwrite other reports fail alone") {
    const TempDir dir("marginsim_test_batch");
    dir.write("one/same.toml", small_scenario(0.5, 1000));
    dir.write("two/same.toml", small_scenario(0.6, 1000));
    dir.write("one/index.toml", small_scenario(0.6, 1000));
    const CliResult result = dir.run("batch " + shell_quoted(dir / "one") + " " + shell_quoted(dir / "two") +
                                     " " + shell_quoted(dir / "missing.toml") + " --out " + shell_quoted(dir / "out"));
    INFO(result.err);
    CHECK(result.code == 1);
    CHECK_THAT(result.err, Catch::Contains("reserved"));
    CHECK_THAT(result.err, Catch::Contains("same file name"));
    CHECK_THAT(result.err, Catch::Contains("no such scenario file"));
    CHECK(json::parse(read_all(dir / "out" / "same.json"))["scenario"] == (dir / "one" / "same.toml").string());
}

TEST_CASE("a killed batch leaves complete reports or none and the next run completes them") {
    const TempDir dir("marginsim_test_batch");
    for (int k = 0; k < 8; ++k) dir.write("in/s" + std::to_string(k) + ".toml", small_scenario(0.5 + 0.1 * k, 60000));
    const fs::path out = dir / "out";

    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        const std::string in = (dir / "in").string();
        const std::string out_dir = out.string();
        execl(MARGINSIM_CLI, MARGINSIM_CLI, "batch", in.c_str(), "--out", out_dir.c_str(), "--threads", "1",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    // Kill it once the first report is written, or after a while.
    const auto start = std::chrono::steady_clock::now();
    while (!fs::exists(out / "s0.json") && std::chrono::steady_clock::now() - start < std::chrono::seconds(20))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    REQUIRE(kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK_FALSE(fs::exists(out / "index.html"));  // killed before the end

    // Whatever is there is complete; anything else is a temporary file of the writer.
    int complete_json = 0;
    std::vector<fs::path> temporaries;
    for (const fs::directory_entry& item : fs::directory_iterator(out)) {
        const std::string name = item.path().filename().string();
        INFO(name);
        const std::string text = read_all(item.path());
        const fs::path extension = item.path().extension();
        if (name == "batch.manifest") {
            CHECK_NOTHROW(json::parse(text));
        } else if (extension == ".json") {
            CHECK_NOTHROW(json::parse(text));
            ++complete_json;
        } else if (extension == ".html") {
            CHECK_THAT(text, Catch::EndsWith("</html>\n"));
        } else if (extension == ".csv") {
            CHECK_THAT(text, Catch::EndsWith("\n"));
        } else {
            temporaries.push_back(item.path());
        }
    }
    CHECK(complete_json >= 1);
    CHECK(complete_json < 8);
    // The scenarios whose reports the manifest records are those a rerun skips.
    const std::size_t recorded =
        fs::exists(out / "batch.manifest") ? json::parse(read_all(out / "batch.manifest"))["reports"].size() : 0;
    CHECK(recorded <= static_cast<std::size_t>(complete_json));
    CHECK(recorded + 1 >= static_cast<std::size_t>(complete_json));
    // A temporary file of the dead process, as a kill mid-write leaves it.
    const fs::path stale = out / ("s7.json.tmp-" + std::to_string(child) + "-99");
    { std::ofstream(stale) << "{ \"truncated"; }
    temporaries.push_back(stale);

    const CliResult rerun = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(out));
    INFO(rerun.err);
    CHECK(rerun.code == 0);
    CHECK_THAT(rerun.err, Catch::Contains(std::to_string(recorded) + " skipped"));
    for (int k = 0; k < 8; ++k) {
        std::string name = "s";
        name += std::to_string(k);
        name += ".json";
        CHECK_NOTHROW(json::parse(read_all(out / name)));
    }
    // Batch cannot tell whose temporaries they are: it leaves them.
    for (const fs::path& temporary : temporaries) CHECK(fs::exists(temporary));
}

TEST_CASE("batch deletes no file it did not create, whatever its name") {
    const TempDir dir("marginsim_test_batch");
    dir.write("in/a.toml", small_scenario(0.5, 1000));
    const fs::path out = dir / "out";
    // pid_max is at most 2^22: no process runs with these ids.
    const std::vector<fs::path> foreign{
        dir.write("out/data.csv.tmp-4194305-0", "someone's data"),
        dir.write("out/x.json.tmp-99999999999999999999999-1", "a huge number"),
        dir.write("out/.ms-Ab12Cd", "another writer's temporary"),
        dir.write("out/notes.txt", "notes")};
    const CliResult result = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(out));
    INFO(result.err);
    CHECK(result.code == 0);
    CHECK(fs::exists(out / "a.json"));
    for (const fs::path& file : foreign) {
        INFO(file);
        CHECK(fs::exists(file));
    }
}

TEST_CASE("a changed tier table runs the scenario again, also through --tiers-dir") {
    const TempDir dir("marginsim_test_batch");
    std::string text = small_scenario(0.8, 1000);
    const std::string rate = "maintenance_margin_rate = 0.005";
    text.replace(text.find(rate), rate.size(), "tiers = \"ex/AAA\"");
    dir.write("in/a.toml", text);
    const auto table = [](double first_rate) {
        return "tiers = [ { notional_cap = 100000, rate = " + std::to_string(first_rate) +
               ", amount = 0 } ]\n";
    };
    const fs::path first = dir.write("t1/ex/AAA.toml", table(0.005));
    dir.write("t2/ex/AAA.toml", table(0.05));
    const fs::path out = dir / "out";
    const auto batch = [&](const std::string& tiers) {
        return dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(out) + " --tiers-dir " +
                       shell_quoted(dir / tiers));
    };
    const auto isolated_p = [&] {
        return json::parse(read_all(out / "a.json"))["modes"]["isolated"]["liquidation_probability"]["estimate"]
            .get<double>();
    };
    REQUIRE(batch("t1").code == 0);
    const double low_rate_p = isolated_p();
    CHECK_THAT(batch("t1").err, Catch::Contains("0 ran, 1 skipped"));

    // Another table: ten times the maintenance margin, liquidated more often.
    CHECK_THAT(batch("t2").err, Catch::Contains("1 ran, 0 skipped"));
    CHECK(isolated_p() > low_rate_p);
    // The same table edited in place.
    CHECK_THAT(batch("t1").err, Catch::Contains("1 ran, 0 skipped"));
    std::ofstream(first) << table(0.02);
    CHECK_THAT(batch("t1").err, Catch::Contains("1 ran, 0 skipped"));
    CHECK_THAT(batch("t1").err, Catch::Contains("0 ran, 1 skipped"));
}

TEST_CASE("batch refuses an --out that is not a directory, before anything runs") {
    const TempDir dir("marginsim_test_batch");
    dir.write("in/a.toml", small_scenario(0.5, 1000));
    const fs::path file = dir.write("report.txt", "mine");
    const CliResult result = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(file));
    CHECK(result.code == 2);
    CHECK(result.err == "error: " + file.string() +
                            ": --out: exists and is not a directory (expected a directory for the reports, "
                            "created if missing)\n");
    CHECK(read_all(file) == "mine");
    const CliResult below = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(file / "sub"));
    CHECK(below.code == 2);
    CHECK_THAT(below.err, Catch::StartsWith("error: " + (file / "sub").string() + ": --out: cannot create the directory"));
}

TEST_CASE("a scenario given twice runs once, with a note") {
    const TempDir dir("marginsim_test_batch");
    const fs::path a = dir.write("in/a.toml", small_scenario(0.5, 1000));
    fs::create_symlink(a, dir / "link.toml");
    const fs::path out = dir / "out";
    const CliResult result = dir.run("batch " + shell_quoted(a) + " " + shell_quoted(a) + " " +
                                     shell_quoted(dir / "in") + " " + shell_quoted(dir / "in/../in/a.toml") + " " +
                                     shell_quoted(dir / "link.toml") + " --out " + shell_quoted(out));
    INFO(result.err);
    CHECK(result.code == 0);
    CHECK_THAT(result.err, Catch::Contains("1 scenarios: 1 ran, 0 skipped, 0 failed"));
    CHECK(csv_rows(read_all(out / "summary.csv")).size() == 2);
    const std::string index = read_all(out / "index.html");
    CHECK_THAT(index, Catch::Contains(a.string() + ": given more than once (as " + a.string() + " before): run once"));
    CHECK_THAT(index, Catch::Contains((dir / "link.toml").string() + ": given more than once"));
}

TEST_CASE("a batch without scenarios says so and exits 2") {
    const TempDir dir("marginsim_test_batch");
    fs::create_directories(dir / "empty");
    dir.write("other/notes.txt", "not a scenario");
    for (const char* input : {"empty", "other"}) {
        INFO(input);
        const CliResult result = dir.run("batch " + shell_quoted(dir / input) + " --out " + shell_quoted(dir / "out"));
        CHECK(result.code == 2);
        CHECK(result.err == "error: " + (dir / input).string() +
                                ": no scenario files found, nothing to run (expected scenario files, or "
                                "directories holding *.toml scenario files)\n");
        CHECK_FALSE(fs::exists(dir / "out"));
    }
}

TEST_CASE("batch writes no report over one of its inputs") {
    const TempDir dir("marginsim_test_batch");
    const std::string text = small_scenario(0.5, 1000);
    // A scenario named like a report: its NAME.csv would be itself.
    const fs::path csv = dir.write("scen.csv", text);
    const fs::path other = dir.write("other.toml", text);
    const CliResult result = dir.run("batch " + shell_quoted(csv) + " " + shell_quoted(other) + " --out " +
                                     shell_quoted(dir.path()));
    INFO(result.err);
    CHECK(result.code == 1);
    CHECK_THAT(result.err, Catch::Contains("scen.csv: its report " + (dir.path() / "scen.csv").string() +
                                           " would overwrite an input of the batch; choose another --out"));
    CHECK(read_all(csv) == text);
    CHECK(fs::exists(dir / "other.json"));

    // The batch's own files: refused before anything runs.
    const fs::path summary = dir.write("in/summary.csv", text);
    const CliResult own = dir.run("batch " + shell_quoted(summary) + " " + shell_quoted(other) + " --out " +
                                  shell_quoted(dir / "in"));
    CHECK(own.code == 2);
    CHECK_THAT(own.err, Catch::Contains("--out: the batch writes its summary.csv there, which is one of its inputs"));
    CHECK(read_all(summary) == text);
    CHECK_FALSE(fs::exists(dir / "in" / "other.json"));
}
