// Where the program's outputs go: never over what a path names unless it is a regular file,
// never over an input, the checkpoint or another output, stdout as '-', every path checked
// before the run and every write (stdout's too) checked. Runs the built program.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;
using marginsim::testing::CliResult;
using marginsim::testing::read_all;
using marginsim::testing::shell_quoted;
using marginsim::testing::small_scenario;
using marginsim::testing::TempDir;

// Runs a shell command line as given (its own redirections); returns the exit code.
int shell(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string program() { return shell_quoted(MARGINSIM_CLI); }

bool is_character_device(const fs::path& path) {
    struct stat status {};
    return ::lstat(path.c_str(), &status) == 0 && S_ISCHR(status.st_mode);
}

// A character device to write to that a broken program cannot destroy: as root (who could
// replace /dev/null) a node of our own in `dir`, else the system's (only root may replace it).
fs::path device(const TempDir& dir, const char* system_path, unsigned minor) {
    if (::geteuid() != 0) return system_path;
    const fs::path own = dir / fs::path(system_path).filename().string();
    REQUIRE(::mknod(own.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0);
    return own;
}

struct Workspace {
    TempDir dir{"marginsim_test_outputs"};
    fs::path scenario = dir.write("s.toml", small_scenario(0.8, 1000));
    std::string scenario_text = read_all(scenario);

    CliResult run(const std::string& arguments) const { return dir.run(arguments); }
    std::string path(const std::string& name) const { return shell_quoted(dir / name); }
};

}  // namespace

TEST_CASE("an output through a symbolic link writes the target and keeps the link") {
    const Workspace w;
    const fs::path target = w.dir.write("target.json", "old");
    fs::create_symlink("target.json", w.dir / "link.json");
    const CliResult result = w.run("run " + w.path("s.toml") + " -q --json " + w.path("link.json"));
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(fs::is_symlink(w.dir / "link.json"));
    CHECK(nlohmann::json::parse(read_all(target))["schema"] == "marginsim.report/1");
}

TEST_CASE("a FIFO output is written in place to its reader or refused without a reader") {
    const Workspace w;
    const fs::path fifo = w.dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    SECTION("no reader: refused, not waited on, the FIFO left") {
        const CliResult result = w.run("run " + w.path("s.toml") + " -q --json " + w.path("pipe"));
        CHECK(result.code == 1);
        CHECK_THAT(result.err, Catch::Contains("no process is reading"));
    }
    SECTION("a reader gets the report") {
        // The test holds the read end open before the program starts, so the program always
        // finds a reader (a reader process started alongside may come too late on a busy
        // machine). Nothing blocks: the report (a few KB) fits in the pipe's 64 KiB buffer.
        const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
        REQUIRE(reader >= 0);
        const CliResult result = w.run("run " + w.path("s.toml") + " -q --json " + w.path("pipe"));
        std::string got;
        char buffer[4096];
        for (ssize_t n = 0; (n = ::read(reader, buffer, sizeof buffer)) > 0;) got.append(buffer, static_cast<std::size_t>(n));
        ::close(reader);
        INFO(result.err);
        CHECK(result.code == 0);
        CHECK(nlohmann::json::parse(got)["schema"] == "marginsim.report/1");
    }
    struct stat status {};
    REQUIRE(::lstat(fifo.c_str(), &status) == 0);
    CHECK(S_ISFIFO(status.st_mode));
}

TEST_CASE("a character device output is written in place and its failure reported") {
    const Workspace w;
    const fs::path null = device(w.dir, "/dev/null", 3);
    const CliResult written = w.run("run " + w.path("s.toml") + " -q --json " + shell_quoted(null));
    INFO(written.err);
    CHECK(written.code == 0);
    CHECK(is_character_device(null));

    const fs::path full = device(w.dir, "/dev/full", 7);
    const CliResult failed = w.run("liq " + w.path("s.toml") + " --json " + shell_quoted(full));
    CHECK(failed.code == 1);
    CHECK_THAT(failed.err, Catch::Contains("No space left on device"));
    CHECK(is_character_device(full));
}

TEST_CASE("an output name of 255 bytes is written because the temporary name is short") {
    const Workspace w;
    const std::string name(255, 'a');
    const CliResult result = w.run("run " + w.path("s.toml") + " -q --csv " + w.path(name));
    INFO(result.err);
    CHECK(result.code == 0);
    CHECK_THAT(read_all(w.dir / name), Catch::StartsWith("section,mode,key,value"));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(w.dir.path())) ++entries;
    CHECK(entries == 4);  // s.toml, the CSV, stdout, stderr: no temporary left
}

TEST_CASE("the path - is stdout once and takes the place of the table") {
    const Workspace w;
    const CliResult json = w.run("run " + w.path("s.toml") + " --json -");
    INFO(json.err);
    REQUIRE(json.code == 0);
    CHECK(nlohmann::json::parse(json.out)["schema"] == "marginsim.report/1");  // JSON only, no table
    // Run in the workspace, where a file named '-' would land.
    const std::string in_workspace = "cd " + shell_quoted(w.dir.path()) + " && " + program();
    CHECK(shell(in_workspace + " run s.toml --paths 200 --json - >/dev/null 2>&1") == 0);
    CHECK_FALSE(fs::exists(w.dir / "-"));

    const CliResult liq = w.run("liq " + w.path("s.toml") + " --json -");
    CHECK(liq.code == 0);
    CHECK(nlohmann::json::parse(liq.out)["schema"] == "marginsim.liq/1");

    const CliResult two = w.run("run " + w.path("s.toml") + " --json - --csv -");
    CHECK(two.code == 2);
    CHECK_THAT(two.err, Catch::Contains("--json") && Catch::Contains("--csv") && Catch::Contains("stdout"));
    CHECK(two.out.empty());

    const CliResult with_format = w.run("sweep " + w.path("s.toml") + " --leverage 1,2 --html - --format csv");
    CHECK(with_format.code == 2);
    CHECK_THAT(with_format.err, Catch::Contains("--html") && Catch::Contains("--format"));
}

TEST_CASE("calibrate --out - writes the snippet on stdout and the summary on stderr") {
    const Workspace w;
    std::string closes = "date,close\n";
    for (int day = 1; day <= 28; ++day) {
        closes += "2024-02-" + std::string(day < 10 ? "0" : "") + std::to_string(day) + "," +
                  std::to_string(100 + (day * 7) % 11) + "\n";
    }
    w.dir.write("p.csv", closes);
    const CliResult result = w.run("calibrate " + w.path("p.csv") + " --out -");
    INFO(result.err);
    CHECK(result.code == 0);
    CHECK_THAT(result.out, Catch::Contains("[[assets]]"));
    CHECK_THAT(result.err, Catch::Contains("calibration of 1 asset"));
    // Run in the workspace, where a file named '-' would land.
    const std::string in_workspace = "cd " + shell_quoted(w.dir.path()) + " && " + program();
    CHECK(shell(in_workspace + " calibrate p.csv --out - >/dev/null 2>&1") == 0);
    CHECK_FALSE(fs::exists(w.dir / "-"));
}

TEST_CASE("an output equal to an input or the checkpoint or another output is refused") {
    const Workspace w;
    const std::string s = w.path("s.toml");
    struct Case {
        std::string arguments;
        std::string first, second;  // the options the message names
    };
    const fs::path prices = w.dir.write("a.csv", "date,close\n2024-01-01,1\n");
    const std::vector<Case> cases{
        {"run " + s + " --json " + s, "--json", "FILE"},
        {"run " + s + " --csv " + w.path("./s.toml"), "--csv", "FILE"},
        {"liq " + s + " --json " + s, "--json", "FILE"},
        {"sweep " + s + " --leverage 1,2 --html " + s, "--html", "FILE"},
        {"calibrate " + w.path("a.csv") + " --out " + w.path("a.csv"), "--out", "PRICES"},
        {"run " + s + " --checkpoint " + s, "--checkpoint", "FILE"},
        {"run " + s + " --checkpoint " + w.path("F") + " --json " + w.path("F"), "--json", "--checkpoint"},
        {"run " + s + " --json " + w.path("r") + " --csv " + shell_quoted(w.dir.path() / "." / "r"), "--csv", "--json"},
    };
    for (const Case& c : cases) {
        INFO(c.arguments);
        const CliResult result = w.run(c.arguments);
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains(c.first) && Catch::Contains(c.second));
        CHECK(read_all(w.scenario) == w.scenario_text);
        CHECK(read_all(prices) == "date,close\n2024-01-01,1\n");
        CHECK_FALSE(fs::exists(w.dir / "F"));
        CHECK_FALSE(fs::exists(w.dir / "r"));
    }
}

TEST_CASE("every output path is checked before the run") {
    const Workspace w;
    const std::string run = "run " + w.path("s.toml") + " -q --paths 4000000 --force ";  // minutes if it ran
    SECTION("a missing directory") {
        const CliResult result = w.run(run + "--json " + w.path("ok.json") + " --csv " + w.path("missing/x.csv"));
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains("--csv") && Catch::Contains("missing"));
        CHECK_FALSE(fs::exists(w.dir / "ok.json"));  // nothing half-written
    }
    SECTION("a directory") {
        fs::create_directory(w.dir / "taken");
        const CliResult result = w.run(run + "--html " + w.path("taken"));
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains("--html") && Catch::Contains("directory"));
        CHECK(fs::is_empty(w.dir / "taken"));
    }
    SECTION("a file under a file") {
        const CliResult result = w.run("sweep " + w.path("s.toml") + " --leverage 1,2 --paths 4000000 --force -q --json " +
                                       w.path("s.toml/x.json"));
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains("--json"));
    }
}

TEST_CASE("a failed write to stdout exits 1 with a message") {
    const Workspace w;
    const std::string s = w.path("s.toml");
    const std::string err = " 2>" + w.path("err");
    for (const std::string& command : {program() + " run " + s + " --format json >/dev/full" + err,
                                       program() + " liq " + s + " >/dev/full" + err,
                                       program() + " validate " + s + " >/dev/full" + err,
                                       program() + " run " + s + " >&-" + err,
                                       program() + " run " + s + " --csv - >&-" + err}) {
        INFO(command);
        CHECK(shell(command) == 1);
        CHECK_THAT(read_all(w.dir / "err"), Catch::Contains("cannot write to stdout"));
    }
    // A closed stdout is not taken over by an output file.
    CHECK(shell(program() + " run " + s + " --json " + w.path("r.json") + " >&-" + err) == 1);
    CHECK(nlohmann::json::parse(read_all(w.dir / "r.json"))["schema"] == "marginsim.report/1");
}

TEST_CASE("quiet and format exclude each other") {
    const Workspace w;
    for (const std::string& command : {std::string("run"), std::string("sweep")}) {
        const std::string extra = command == "sweep" ? " --leverage 1,2" : "";
        const CliResult result = w.run(command + " " + w.path("s.toml") + extra + " -q --format json");
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains("--quiet") && Catch::Contains("--format"));
    }
    const CliResult quiet = w.run("run " + w.path("s.toml") + " -q --json -");  // an output named '-' still prints
    CHECK(quiet.code == 0);
    CHECK(nlohmann::json::parse(quiet.out)["schema"] == "marginsim.report/1");
}

TEST_CASE("an empty path is refused naming its option, not taken as the option left out") {
    const Workspace w;
    w.dir.write("stress.toml", "matrix = [[1.0, 0.5], [0.5, 1.0]]\n");
    const std::string scenario = w.path("s.toml");
    // Each would otherwise run without the output, with the default checkpoint or tier lookup,
    // or a plain correlation sweep instead of the stress blend, and exit 0.
    const std::vector<std::pair<std::string, std::string>> cases{
        {"run " + scenario + " -q --json ''", "--json"},
        {"run " + scenario + " -q --csv ''", "--csv"},
        {"run " + scenario + " -q --html ''", "--html"},
        {"run " + scenario + " -q --checkpoint ''", "--checkpoint"},
        {"run " + scenario + " -q --tiers-dir ''", "--tiers-dir"},
        {"run ''", "FILE"},
        {"liq " + scenario + " --json ''", "--json"},
        {"sweep " + scenario + " --correlation 0,1 -q --stress ''", "--stress"},
        {"batch " + scenario + " --out ''", "--out"},
        {"batch " + scenario + " '' --out " + w.path("out"), "INPUTS"},
        {"calibrate " + w.path("prices.csv") + " --out ''", "--out"},
        {"calibrate ''", "PRICES"},
    };
    for (const auto& [arguments, option] : cases) {
        INFO(arguments);
        const CliResult result = w.run(arguments);
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::StartsWith("error: " + option + ": an empty path (expected a path)"));
        CHECK(result.out.empty());
    }
    CHECK_FALSE(fs::exists(w.dir / "out"));
    CHECK_FALSE(fs::exists(w.dir / "s.toml.checkpoint"));
}

TEST_CASE("a --tiers-dir that is not a directory is refused before the scenario is read") {
    const Workspace w;
    for (const std::string command : {"run", "validate", "liq", "batch"}) {
        INFO(command);
        const std::string out = command == "batch" ? " --out " + w.path("out") : "";
        const CliResult missing = w.run(command + " " + w.path("s.toml") + out + " --tiers-dir " + w.path("absent"));
        CHECK(missing.code == 2);
        CHECK_THAT(missing.err, Catch::StartsWith("error: --tiers-dir: Directory does not exist: " +
                                                  (w.dir / "absent").string()));
        const CliResult file = w.run(command + " " + w.path("s.toml") + out + " --tiers-dir " + w.path("s.toml"));
        CHECK(file.code == 2);
        CHECK_THAT(file.err, Catch::StartsWith("error: --tiers-dir:"));
    }
    CHECK_FALSE(fs::exists(w.dir / "out"));
}

TEST_CASE("the help of every subcommand names its options and the output rules") {
    const TempDir dir("marginsim_test_outputs");
    struct Help {
        std::string command;
        std::vector<std::string> options;
    };
    const std::vector<Help> helps{
        {"run", {"--paths", "--seed", "--threads", "--json", "--csv", "--html", "--format", "--quiet", "--progress",
                 "--resume", "--checkpoint", "--tiers-dir", "--force", "Outputs: PATH '-' is stdout"}},
        {"sweep", {"--correlation", "--leverage", "--vol-scale", "--horizon", "--blend", "--stress", "--bisect",
                   "--paths", "--json", "--csv", "--html", "--format", "--quiet", "--tiers-dir", "--force",
                   "Outputs: PATH '-' is stdout"}},
        {"liq", {"--json", "--tiers-dir", "Outputs: PATH '-' is stdout"}},
        {"validate", {"FILE", "--tiers-dir"}},
        {"calibrate", {"--window", "--method", "--lambda", "--symbols", "--out", "Outputs: PATH '-' is stdout"}},
        {"batch", {"--out", "--force", "--jobs", "--paths", "--quiet", "--progress", "--resume", "--tiers-dir"}},
    };
    for (const Help& help : helps) {
        INFO(help.command);
        const CliResult result = dir.run(help.command + " --help");
        CHECK(result.code == 0);
        for (const std::string& option : help.options) CHECK_THAT(result.out, Catch::Contains(option));
        // What each value is: a path, a directory, sweep values; no bare TEXT.
        CHECK_THAT(result.out, !Catch::Contains(" TEXT ") && !Catch::Contains(" TEXT\n"));
    }
    CHECK_THAT(dir.run("run --help").out, Catch::Contains("--checkpoint PATH") && Catch::Contains("--tiers-dir DIR "));
    CHECK_THAT(dir.run("sweep --help").out, Catch::Contains("--horizon VALUES") && Catch::Contains("--stress PATH"));
    CHECK_THAT(dir.run("batch --help").out, Catch::Contains("--out DIR") && Catch::Contains("INPUTS PATH"));
}
