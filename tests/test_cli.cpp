// The marginsim program end to end: arguments, output files and exit codes
// (0 success, 2 bad input or usage, 1 other failures), run in a fresh temporary directory.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Two assets, one tier table whose given amount breaks continuity (a warning:
// docs/scenario-format.md#tier-tables), one isolated and one cross position.
constexpr const char* scenario_text = R"(
[simulation]
paths = 5000
horizon_days = 3.0
steps_per_day = 8
seed = 11
model = "student_t"
dof = 5.0
threads = 1

[account]
balance = 5000.0

[liquidation]
policy = "full"

[[assets]]
symbol = "AAA"
price = 100.0
volatility = 0.8
maintenance_margin_rate = 0.005

[[assets]]
symbol = "BBB"
price = 20.0
volatility = 1.0
tiers = [ { notional_cap = 10000, rate = 0.01, amount = 0 },
          { rate = 0.02, amount = 150 } ]

[correlation]
matrix = [[1.0, 0.6], [0.6, 1.0]]

[[positions]]
symbol = "AAA"
side = "long"
margin = 1000.0
leverage = 10.0
mode = "isolated"

[[positions]]
symbol = "BBB"
side = "short"
margin = 1000.0
leverage = 5.0
mode = "cross"
)";

// Line 3 holds a key the format does not know.
constexpr const char* bad_scenario_text = "[simulation]\npaths = 100\npathz = 10\n";

// Wilson's score interval of k successes in n trials at z standard errors.
std::pair<double, double> wilson_interval(double k, double n, double z) {
    const double p = k / n;
    const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
    const double half = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    return {centre - half, centre + half};
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// P(min over [0, t] of a Brownian motion with drift nu and volatility sigma <= b), b < 0.
double first_passage_below(double b, double nu, double sigma, double t) {
    const double s = sigma * std::sqrt(t);
    return normal_cdf((b - nu * t) / s) + std::exp(2.0 * nu * b / (sigma * sigma)) * normal_cdf((b + nu * t) / s);
}

using marginsim::testing::read_all;
using marginsim::testing::shell_quoted;
using marginsim::testing::TempDir;
using Result = marginsim::testing::CliResult;

}  // namespace

TEST_CASE("help of the program and of every subcommand exits 0") {
    const TempDir dir("marginsim_test_cli");
    for (const char* arguments : {"--help", "run --help", "validate --help"}) {
        INFO(arguments);
        const Result result = dir.run(arguments);
        CHECK(result.code == 0);
        CHECK_THAT(result.out, Catch::Contains("Usage"));
    }
    const Result run_help = dir.run("run --help");
    for (const char* option : {"--paths", "--seed", "--threads", "--json", "--quiet"}) {
        CHECK_THAT(run_help.out, Catch::Contains(option));
    }
}

TEST_CASE("the version flag prints the version") {
    const TempDir dir("marginsim_test_cli");
    const Result result = dir.run("--version");
    CHECK(result.code == 0);
    CHECK(std::regex_search(result.out, std::regex(R"(\d+\.\d+\.\d+)")));
}

TEST_CASE("a bad scenario exits 2 naming file line and column and writes nothing") {
    const TempDir dir("marginsim_test_cli");
    const fs::path bad = dir.write("bad.toml", bad_scenario_text);
    const fs::path out = dir / "out.json";
    SECTION("run") {
        const Result result = dir.run("run " + shell_quoted(bad) + " --json " + shell_quoted(out));
        CHECK(result.code == 2);
        CHECK(result.err.rfind("error: ", 0) == 0);
        CHECK(std::regex_search(result.err, std::regex(R"(bad\.toml:3:\d+)")));
        CHECK_THAT(result.err, Catch::Contains("pathz"));
        CHECK(result.out.empty());
        CHECK_FALSE(fs::exists(out));
    }
    SECTION("validate") {
        const Result result = dir.run("validate " + shell_quoted(bad));
        CHECK(result.code == 2);
        CHECK(std::regex_search(result.err, std::regex(R"(bad\.toml:3:\d+)")));
        CHECK_THAT(result.out, !Catch::Contains("OK"));
    }
    SECTION("missing file") {
        const Result result = dir.run("run " + shell_quoted(dir / "absent.toml"));
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Catch::Contains("absent.toml"));
    }
}

TEST_CASE("usage errors exit 2 and write nothing") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const fs::path out = dir / "out.json";
    for (const char* options : {"--paths 0", "--paths -5", "--paths 1.5", "--threads -1",
                                "--seed -1", "--frobnicate"}) {
        INFO(options);
        const Result result =
            dir.run("run " + shell_quoted(scenario) + " " + options + " --json " + shell_quoted(out));
        CHECK(result.code == 2);
        CHECK_FALSE(result.err.empty());
        CHECK_FALSE(fs::exists(out));
    }
    CHECK(dir.run("").code == 2);     // a subcommand is required
    CHECK(dir.run("run").code == 2);  // FILE is required
}

TEST_CASE("run writes the JSON report and prints the table") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const fs::path out = dir / "report.json";
    const Result result = dir.run("run " + shell_quoted(scenario) +
                                  " --paths 2000 --seed 7 --threads 2 --json " + shell_quoted(out));
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK_THAT(result.out, Catch::Contains("P(any liquidation)"));
    CHECK_THAT(result.out, Catch::Contains("as_configured"));
    CHECK_THAT(result.err, Catch::Contains("warning: "));  // the tier amount of BBB

    const json report = json::parse(read_all(out));
    CHECK(report.at("schema") == "marginsim.report/1");
    CHECK(report.at("simulation").at("paths") == 2000);  // the overrides are applied
    CHECK(report.at("simulation").at("seed") == 7);
    CHECK(report.at("simulation").at("model") == "student_t");
    CHECK(report.at("simulation").at("steps") == 24);  // round(3 days * 8 per day)
    CHECK(report.at("simulation").at("steps_per_day") == 8);
    CHECK(report.at("simulation").at("monitoring") == "continuous");  // the default
    CHECK_THAT(result.out, Catch::Contains("\n8 steps/day, continuous monitoring ("));
    CHECK(report.at("warnings").size() >= 1);
    const json& modes = report.at("modes");
    for (const char* mode : {"isolated", "cross", "as_configured"}) {
        INFO(mode);
        CHECK(modes.at(mode).at("positions").size() == 2);
        // A count of liquidated paths out of 2000, and its Wilson interval.
        const json& p = modes.at(mode).at("liquidation_probability");
        const double liquidated = p.at("estimate").get<double>() * 2000.0;
        CHECK(liquidated == Approx(std::round(liquidated)).margin(1e-9));
        const auto [lo, hi] = wilson_interval(std::round(liquidated), 2000.0, 1.959963984540054);
        CHECK(p.at("ci95").at(0).get<double>() == Approx(lo).margin(1e-12));
        CHECK(p.at("ci95").at(1).get<double>() == Approx(hi).margin(1e-12));
    }
    // Isolated: each position alone is liquidated at most as often as the account, which is
    // liquidated when either is (a union: at most the sum).
    const json& isolated = modes.at("isolated");
    const double any = isolated.at("liquidation_probability").at("estimate").get<double>();
    const double aaa = isolated.at("positions").at(0).at("liquidation_probability").get<double>();
    const double bbb = isolated.at("positions").at(1).at("liquidation_probability").get<double>();
    CHECK(any >= std::max(aaa, bbb));
    CHECK(any <= aaa + bbb + 1e-12);
    // Liquidation prices by hand: long P0 (1 - 1/L) / (1 - r), short P0 (1 + 1/L) / (1 + r)
    // (BBB's notional of 5000 is in its first tier: rate 0.01, amount 0).
    CHECK(isolated.at("positions").at(0).at("liquidation_price").get<double>() ==
          Approx(100.0 * 0.9 / 0.995).epsilon(1e-12));
    CHECK(isolated.at("positions").at(1).at("liquidation_price").get<double>() ==
          Approx(20.0 * 1.2 / 1.01).epsilon(1e-12));
    // docs/model.md#cross-margin: the cross wallet is the balance minus the isolated margins.
    CHECK(modes.at("cross").at("cross_wallet") == 5000.0);
    CHECK(modes.at("as_configured").at("cross_wallet") == 4000.0);

    // No temp file is left next to the report.
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
        ++files;
    }
    CHECK(files == 4);  // scenario.toml, report.json, stdout, stderr
}

TEST_CASE("run: P(liquidation) of one isolated long under GBM lies between the closed forms") {
    // One asset without drift, hourly steps for 7 days. Watched at the steps only (discrete
    // monitoring), the probability is at least that of ending below the liquidation price and
    // below that of touching it at any time (first passage of the log price, drift -vol^2/2);
    // watched continuously, it is that of touching it.
    const TempDir dir("marginsim_test_cli");
    const bool continuous_monitoring = GENERATE(false, true);
    const fs::path scenario = dir.write("gbm.toml", std::string(R"([simulation]
paths = 20000
horizon_days = 7.0
steps_per_day = 24
seed = 3
monitoring = ")") + (continuous_monitoring ? "continuous" : "discrete") + R"("

[account]
balance = 1000.0

[[assets]]
symbol = "SOL"
price = 100.0
volatility = 0.8
maintenance_margin_rate = 0.005

[[positions]]
symbol = "SOL"
side = "long"
margin = 1000.0
leverage = 10.0
mode = "isolated"
)");
    const Result run = dir.run("run " + shell_quoted(scenario) + " -q --json " + shell_quoted(dir / "gbm.json"));
    INFO(run.err);
    REQUIRE(run.code == 0);
    const json report = json::parse(read_all(dir / "gbm.json"));
    const double vol = 0.8, t = 7.0 / 365.0, nu = -0.5 * vol * vol;
    const double barrier = 100.0 * (1 - 1 / 10.0) / (1 - 0.005);
    const double b = std::log(barrier / 100.0);
    const double at_end = normal_cdf((b - nu * t) / (vol * std::sqrt(t)));
    const double continuous = first_passage_below(b, nu, vol, t);
    // Broadie-Glasserman-Kou: watching at steps acts like a barrier moved away by
    // exp(-0.5826 vol sqrt(dt)), an approximation good to a fraction of a point here.
    const double discrete = first_passage_below(b - 0.5826 * vol * std::sqrt(t / 168.0), nu, vol, t);
    for (const char* mode : {"isolated", "cross", "as_configured"}) {
        INFO(mode);
        const json& m = report.at("modes").at(mode);
        CHECK(m.at("positions").at(0).at("liquidation_price").get<double>() == Approx(barrier).epsilon(1e-12));
        const double p = m.at("liquidation_probability").at("estimate").get<double>();
        const auto [lo, hi] = wilson_interval(std::round(p * 20000.0), 20000.0, 3.2905);  // 99.9%
        INFO("P " << p << " in [" << lo << ", " << hi << "]; at the end " << at_end << ", discrete " << discrete
                  << ", continuous " << continuous);
        CHECK(lo > at_end);
        if (continuous_monitoring) {
            CHECK(lo < continuous);
            CHECK(continuous < hi);
        } else {
            CHECK(hi < continuous);
            CHECK(lo < discrete);
            CHECK(discrete < hi);
        }
    }
}

TEST_CASE("run results do not depend on the thread count") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const auto run_with = [&](int threads) {
        const fs::path out = dir / ("threads" + std::to_string(threads) + ".json");
        const Result result = dir.run("run " + shell_quoted(scenario) + " --quiet --paths 2000 --threads " +
                                      std::to_string(threads) + " --json " + shell_quoted(out));
        REQUIRE(result.code == 0);
        CHECK(result.out.empty());  // --quiet
        INFO(result.err);
        CHECK(result.err.find("TBB") == std::string::npos);  // no TBB warning with more threads than cores
        return json::parse(read_all(out));
    };
    const json one = run_with(1);
    const json two = run_with(2);
    CHECK(one.at("modes") == two.at("modes"));
    CHECK(one.at("comparison") == two.at("comparison"));
    CHECK(run_with(2 * static_cast<int>(std::thread::hardware_concurrency()) + 1).at("modes") == one.at("modes"));
}

TEST_CASE("run writes CSV and a failed write exits 1") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    SECTION("csv") {
        const fs::path out = dir / "report.csv";
        REQUIRE(dir.run("run " + shell_quoted(scenario) + " -q --paths 1000 --csv " + shell_quoted(out) + " --json " +
                        shell_quoted(dir / "report.json"))
                    .code == 0);
        // The CSV holds the JSON report's numbers.
        std::size_t compared = 0;
        CHECK(marginsim::testing::report_csv_mismatches(read_all(out), json::parse(read_all(dir / "report.json")),
                                                        compared)
                  .empty());
        CHECK(compared >= 3 * (3 + 8) + 2 * 3 * 5);  // probabilities, losses, two positions' numbers
    }
    SECTION("unwritable output") {
        const fs::path out = dir / "no_such_dir" / "report.json";
        const Result result =
            dir.run("run " + shell_quoted(scenario) + " -q --paths 1000 --json " + shell_quoted(out));
        CHECK(result.code == 2);  // an unusable output path is bad usage, found before the run
        CHECK_THAT(result.err, Catch::Contains("error: ") && Catch::Contains("no_such_dir"));
    }
}

TEST_CASE("run prints its report as text JSON or CSV and writes HTML") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const std::string run = "run " + shell_quoted(scenario) + " --paths 1500 --json " + shell_quoted(dir / "file.json");
    const Result as_json = dir.run(run + " --format json");
    REQUIRE(as_json.code == 0);
    // stdout holds the same report as the file.
    CHECK(json::parse(as_json.out).at("modes") == json::parse(read_all(dir / "file.json")).at("modes"));
    const Result as_csv = dir.run(run + " --format csv");
    REQUIRE(as_csv.code == 0);
    std::size_t compared = 0;
    CHECK(marginsim::testing::report_csv_mismatches(as_csv.out, json::parse(read_all(dir / "file.json")), compared)
              .empty());
    CHECK(compared >= 3 * (3 + 8));
    CHECK(dir.run(run + " --format text").out.find("P(any liquidation)") != std::string::npos);
    CHECK(dir.run(run + " --format yaml").code == 2);

    // --html: the charts, and the same numbers as without it.
    const Result with_html =
        dir.run(run + " -q --html " + shell_quoted(dir / "report.html") + " --csv " + shell_quoted(dir / "with.csv"));
    REQUIRE(with_html.code == 0);
    CHECK(with_html.out.empty());
    const std::string html = read_all(dir / "report.html");
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(html.find("<svg") != std::string::npos);
    json from_html_run = json::parse(read_all(dir / "file.json"));
    CHECK(from_html_run.at("modes") == json::parse(as_json.out).at("modes"));
}

TEST_CASE("validate prints the normalised scenario and OK") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const Result result = dir.run("validate " + shell_quoted(scenario));
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(result.out.size() >= 3);
    CHECK(result.out.substr(result.out.size() - 3) == "OK\n");
    CHECK_THAT(result.err, Catch::Contains("warning: "));
    for (const char* text : {"AAA", "BBB", "student_t", "isolated", "cross", "as_configured",
                             "steps_per_day  8\n", "monitoring     continuous\n"}) {
        CHECK_THAT(result.out, Catch::Contains(text));
    }
    // BBB short: notional 5 * 1000 at entry price 20 is a quantity of 250.
    CHECK_THAT(result.out, Catch::Contains("250"));
}

TEST_CASE("run and validate look up tier references in --tiers-dir") {
    const TempDir dir("marginsim_test_cli");
    // The seed example refers to the bundled tables; copied away from configs/ it finds them
    // only through --tiers-dir.
    const fs::path scenario =
        dir.write("seed_example.toml", read_all(fs::path(MARGINSIM_SOURCE_DIR) / "configs" / "seed_example.toml"));
    const std::string tiers = shell_quoted(fs::path(MARGINSIM_SOURCE_DIR) / "configs" / "exchanges");
    const Result missing = dir.run("validate " + shell_quoted(scenario));
    CHECK(missing.code == 2);
    CHECK_THAT(missing.err, Catch::Contains("tier table \"binance-usdm/BTCUSDT\" not found"));
    CHECK(dir.run("validate " + shell_quoted(scenario) + " --tiers-dir " + tiers).code == 0);
    const Result run = dir.run("run " + shell_quoted(scenario) + " --paths 1000 --quiet --tiers-dir " + tiers);
    INFO(run.err);
    CHECK(run.code == 0);
}

TEST_CASE("batch prints its notes about the inputs on lines of their own") {
    const TempDir dir("marginsim_test_cli");
    const fs::path scenario = dir.write("scenario.toml", scenario_text);
    const std::string twice = shell_quoted(scenario) + " " + shell_quoted(scenario);
    const std::string note =
        "batch: note: " + scenario.string() + ": given more than once (as " + scenario.string() + " before): run once\n";
    const auto lines_equal_to = [](const std::string& text, const std::string& line) {
        std::size_t count = 0;
        for (std::size_t at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) {
            if (at == 0 || text[at - 1] == '\n') ++count;
        }
        return count;
    };
    SECTION("after the scenarios' lines, before the summary") {
        const Result result = dir.run("batch " + twice + " --paths 1000 --out " + shell_quoted(dir / "out"));
        INFO(result.err);
        CHECK(result.code == 0);
        CHECK(lines_equal_to(result.err, note) == 1);
        const std::size_t summary = result.err.find("batch: 1 scenarios: 1 ran, 0 skipped, 0 failed");
        REQUIRE(summary != std::string::npos);
        CHECK(result.err.find(note) < summary);
        CHECK(result.err.find("batch: [1/1] " + scenario.string() + ": ran in ") < result.err.find(note));
    }
    SECTION("next to the progress bar's lines") {
        const Result result =
            dir.run("batch " + twice + " --paths 1000 --progress --out " + shell_quoted(dir / "out"));
        INFO(result.err);
        CHECK(result.code == 0);
        CHECK(lines_equal_to(result.err, note) == 1);
    }
    SECTION("with --quiet, as warnings are") {
        const Result result = dir.run("batch " + twice + " --paths 1000 -q --out " + shell_quoted(dir / "out"));
        CHECK(result.code == 0);
        CHECK(result.err == note);
    }
}

TEST_CASE("marginsim html alone lists what it renders, one line each, and exits 0") {
    const TempDir dir("marginsim_test_cli");
    const Result list = dir.run("html");
    CHECK(list.code == 0);
    CHECK(list.err.empty());
    const std::vector<std::string> kinds{"run", "sweep"};
    std::vector<std::string> lines;
    for (std::size_t begin = 0, end; begin < list.out.size(); begin = end + 1) {
        end = list.out.find('\n', begin);
        lines.push_back(list.out.substr(begin, end - begin));
    }
    REQUIRE(lines.size() == kinds.size());
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        CHECK_THAT(lines[k], Catch::StartsWith("marginsim html " + kinds[k] + " FILE "));
        CHECK_THAT(lines[k], Catch::Contains("--out OUT.html: "));
        // Each one listed is a subcommand with its help.
        const Result help = dir.run("html " + kinds[k] + " --help");
        CHECK(help.code == 0);
        CHECK_THAT(help.out, Catch::Contains("--out") && Catch::Contains("--set") && Catch::Contains("--paths"));
    }
    CHECK(dir.run("html nothing").code == 2);
}

TEST_CASE("html run and html sweep write the page run --html and sweep --html write, with their options") {
    const TempDir dir("marginsim_test_cli");
    const std::string file = shell_quoted(dir.write("s.toml", marginsim::testing::small_scenario(0.6, 1500)));
    const auto quoted = [&dir](const char* name) { return shell_quoted(dir / name); };
    for (const auto& [group, command] :
         {std::pair{"html run " + file + " --paths 1200 --set account.balance=4000 -q --out " + quoted("a.html"),
                    "run " + file + " --paths 1200 --set account.balance=4000 -q --html " + quoted("b.html")},
          std::pair{"html sweep " + file + " --monitoring continuous,discrete -q --out " + quoted("a.html"),
                    "sweep " + file + " --monitoring continuous,discrete -q --html " + quoted("b.html")}}) {
        INFO(group);
        const Result by_group = dir.run(group);
        INFO(by_group.err);
        REQUIRE(by_group.code == 0);
        REQUIRE(dir.run(command).code == 0);
        const std::string page = read_all(dir / "a.html");
        CHECK_THAT(page, Catch::StartsWith("<!DOCTYPE html>"));
        CHECK(page == read_all(dir / "b.html"));
    }
    // --out is its --html: required, and not both.
    CHECK(dir.run("html run " + file).code == 2);
    CHECK(dir.run("html run " + file + " --out " + quoted("x.html") + " --html " + quoted("y.html")).code == 2);
    CHECK_FALSE(fs::exists(dir / "x.html"));
}
