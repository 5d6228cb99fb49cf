// HTML reports: self-contained pages whose charts are inline SVG, a plain-language reading
// that says what the numbers say, and (when Debian's chromium is installed) the pages
// rendered in headless Chromium without console errors, with a screenshot of each saved in
// the build directory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/sweep.hpp"
#include "render/svg_chart.hpp"
#include "skip.hpp"

using namespace marginsim;
using marginsim::testing::CliResult;
using marginsim::testing::read_all;
using marginsim::testing::run_shell;
using marginsim::testing::shell_quoted;
using marginsim::testing::small_scenario;
using marginsim::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t count = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

// Nothing is fetched: no scripts, style sheets, images or fonts from elsewhere.
void check_self_contained(const std::string& html) {
    CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>"));
    CHECK_THAT(html, Catch::EndsWith("</html>\n"));
    for (const char* banned : {"<script", "<link", "<img", "<iframe", "src=", "@import", "url(http"}) {
        INFO(banned);
        CHECK(html.find(banned) == std::string::npos);
    }
    // The only address is the SVG namespace, which is a name, not a download.
    CHECK(count_of(html, "http") == count_of(html, "http://www.w3.org/2000/svg"));
}

DetailedRun small_run(double volatility, std::uint64_t paths = 3000) {
    return run_detailed(parse_scenario(small_scenario(volatility, paths), "small.toml"));
}

Report report_with(double p_isolated, double p_cross, double es_isolated, double es_cross) {
    Report report;
    report.scenario = "made-up.toml";
    report.balance = 10000.0;
    report.simulation.horizon_days = 7.0;
    for (std::size_t m = 0; m < mode_count; ++m) report.modes[m].mode = all_modes[m];
    ModeReport& isolated = report.modes[mode_index(MarginMode::isolated)];
    ModeReport& cross = report.modes[mode_index(MarginMode::cross)];
    isolated.summary.liquidation_probability.estimate = p_isolated;
    isolated.summary.loss.es[1] = es_isolated;
    isolated.collateral_at_risk = 6000.0;
    cross.summary.liquidation_probability.estimate = p_cross;
    cross.summary.loss.es[1] = es_cross;
    cross.collateral_at_risk = 10000.0;
    return report;
}

}  // namespace

TEST_CASE("the reading says what cross margin trades for what") {
    SECTION("fewer liquidations, a worse tail") {
        const std::vector<std::string> reading = plain_reading(report_with(0.45, 0.03, 6000.0, 10000.0));
        REQUIRE_FALSE(reading.empty());
        CHECK(reading[0] ==
              "Over the 7-day horizon, cross margin lowers the chance of any liquidation from 45.0% "
              "(every position isolated) to 3.0%, but its 1% worst outcomes lose the whole "
              "10,000 USDT on average instead of the whole 6,000 USDT.");
    }
    SECTION("more liquidations, a milder tail") {
        const std::vector<std::string> reading = plain_reading(report_with(0.10, 0.20, 5000.0, 4321.0));
        CHECK_THAT(reading[0], Catch::Contains("raises the chance of any liquidation from 10.0%"));
        CHECK_THAT(reading[0], Catch::Contains("but its 1% worst outcomes lose less: 4,321 USDT on average "
                                               "instead of 5,000 USDT"));
    }
    SECTION("rare events keep their size") {
        const std::vector<std::string> reading = plain_reading(report_with(0.0004, 0.00001, 100.0, 50.0));
        CHECK_THAT(reading[0], Catch::Contains("from 0.04%"));
        CHECK_THAT(reading[0], Catch::Contains("to <0.01%"));
    }
}

TEST_CASE("a run's page has its charts and tables and nothing to fetch") {
    const DetailedRun run = small_run(0.9);
    const std::string html = to_html(run);
    check_self_contained(html);
    // Three loss histograms, the tail, liquidation over time, positions.
    CHECK(count_of(html, "<svg") == 6);
    CHECK(count_of(html, "</svg>") == 6);
    for (const char* label : {"loss over the horizon (USDT; negative = gain)", "P(loss &gt;= x), log scale",
                              "loss x (USDT)", "time (days)", "P(liquidated by day t)",
                              "P(position liquidated by the horizon)", "AAA long 10,000 USDT (cross)",
                              "What it says", "collateral at risk"}) {
        INFO(label);
        CHECK(html.find(label) != std::string::npos);
    }
    for (const std::string& sentence : plain_reading(run.report))
        CHECK(html.find(detail::escape_html(sentence)) != std::string::npos);
    // The same run renders to the same bytes.
    CHECK(to_html(run) == html);
}

TEST_CASE("a run's page says how often a day it looked and whether between the steps") {
    DetailedRun run = small_run(0.9, 500);
    const std::string continuous = to_html(run);
    CHECK_THAT(continuous, Catch::Contains("(2 days at 24 steps per day, continuous monitoring)"));
    CHECK_THAT(continuous, Catch::Contains("Continuous monitoring: a liquidation between two of the 24 steps"));
    CHECK_THAT(continuous, !Catch::Contains("Discrete monitoring"));
    run.report.simulation.monitoring = Monitoring::discrete;
    const std::string discrete = to_html(run);
    CHECK_THAT(discrete, Catch::Contains("(2 days at 24 steps per day, discrete monitoring)"));
    CHECK_THAT(discrete, Catch::Contains("Discrete monitoring: positions are checked only at the 24 steps"));
    CHECK_THAT(discrete, !Catch::Contains("Continuous monitoring"));
}

TEST_CASE("the histogram bars add up to every path") {
    const DetailedRun run = small_run(0.9);
    const std::string html = to_html(run);
    // Each bar's tooltip ends "...: <share> of paths"; per mode they sum to 100% within the
    // rounding of the shares shown (0.05 points at most each; "<0.01%" counts as 0).
    const std::regex bar(R"((isolated|cross|as configured): loss above [^<]* USDT: (&lt;)?([0-9.]+)% of paths)");
    std::array<double, 3> sum{};
    std::array<int, 3> bars{};
    for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it) {
        const std::string mode = (*it)[1];
        const std::size_t m = mode == "isolated" ? 0 : mode == "cross" ? 1 : 2;
        ++bars[m];
        if (!(*it)[2].matched) sum[m] += std::stod((*it)[3]);
    }
    for (std::size_t m = 0; m < 3; ++m) {
        INFO(m << ": " << bars[m] << " bars");
        CHECK(bars[m] > 5);
        CHECK(sum[m] == Approx(100.0).margin(0.05 * bars[m]));
    }
}

TEST_CASE("a sweep's page draws its curves and the crossover") {
    Scenario base = parse_scenario(small_scenario(0.8, 2000), "small.toml");
    SweepSpec spec;
    spec.parameter = SweepParameter::volatility_scale;
    spec.values = {0.5, 1.0, 1.5};
    SweepOptions options;
    options.bisection_steps = 2;
    const SweepResult sweep = run_sweep(base, spec, options);
    const std::string html = to_html(sweep);
    check_self_contained(html);
    CHECK(count_of(html, "<svg") == 3);
    CHECK_THAT(html, Catch::Contains("volatility scale (times the scenario&#39;s volatilities)"));
    CHECK_THAT(html, Catch::Contains("common random numbers"));
    CHECK_THAT(html, Catch::Contains("seed 5, 24 steps per day, continuous monitoring"));
    if (sweep.crossover) CHECK_THAT(html, Catch::Contains("crossover"));
    // A run's page with the sweep has both.
    const std::string both = to_html(run_detailed(base), &sweep);
    CHECK(count_of(both, "<svg") == 6 + 3);
}

TEST_CASE("chart helpers escape text and pick round ticks") {
    CHECK(detail::escape_html("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    CHECK(detail::grouped(1234567.891) == "1,234,568");
    CHECK(detail::grouped(-1234.5, 1) == "-1,234.5");
    CHECK(detail::grouped(-0.001) == "0");
    CHECK(detail::nice_ticks(0.0, 10000.0) == std::vector<double>{0, 2000, 4000, 6000, 8000, 10000});
    const std::vector<double> small = detail::nice_ticks(-0.013, 0.05, 6);  // step 0.0105 -> 0.02
    REQUIRE(small.size() == 3);
    CHECK(small[0] == 0.0);
    CHECK(small[2] == Approx(0.04));
    const std::vector<double> many = detail::nice_ticks(0.0, 1.0, 10);
    REQUIRE(many.size() == 11);
    CHECK(many.back() == 1.0);  // 10 * 0.1; ten additions of 0.1 make 0.9999999999999999
    const auto [lo, hi] = detail::nice_range(-23456.0, 9999.0, 10);
    CHECK(lo == -25000.0);
    CHECK(hi == 10000.0);
}

namespace {

constexpr const char* chromium = "/usr/bin/chromium";

struct Rendered {
    int code = -1;
    std::string dom;
    std::string log;
};

// One headless Chromium run with a fresh profile: the DOM after loading, or a screenshot.
Rendered chromium_run(const TempDir& dir, const fs::path& page, const std::string& what) {
    const fs::path profile = dir / ("profile-" + page.stem().string() + "-" + std::to_string(what.size()));
    const std::string command =
        std::string("timeout 120 ") + chromium +
        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
        " --disable-background-networking --disable-component-update --disable-sync"
        " --enable-logging=stderr --v=0 --user-data-dir=" +
        shell_quoted(profile) + " " + what + " " + shell_quoted("file://" + page.string());
    const CliResult result = run_shell(command, dir / "chromium.out", dir / "chromium.err");
    return Rendered{result.code, result.out, result.err};
}

// Lines of Chromium's log that report the page's own errors (console messages, exceptions).
std::vector<std::string> page_errors(const std::string& log) {
    std::vector<std::string> errors;
    std::size_t begin = 0;
    while (begin < log.size()) {
        const std::size_t end = std::min(log.find('\n', begin), log.size());
        const std::string line = log.substr(begin, end - begin);
        if (line.find("Uncaught") != std::string::npos || line.find(":CONSOLE(") != std::string::npos ||
            line.find("console error") != std::string::npos) {
            errors.push_back(line);
        }
        begin = end + 1;
    }
    return errors;
}

}  // namespace

TEST_CASE("the pages render in headless Chromium with their charts and no console errors") {
    if (!fs::exists(chromium)) {
        marginsim_skip(std::string(chromium) + " is not installed (scripts/setup.sh test installs Debian's "
                                               "chromium package): the pages were not rendered in a browser");
        return;
    }
    const TempDir dir("marginsim_test_html");
    dir.write("in/stacked.toml", small_scenario(0.9, 5000));
    dir.write("in/calm.toml", small_scenario(0.3, 5000));
    dir.write("in/broken.toml", "[simulation]\npaths = 0\n");
    const CliResult batch = dir.run("batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(dir / "out"));
    REQUIRE(batch.code == 1);
    const CliResult sweep = dir.run("sweep " + shell_quoted(dir / "in" / "stacked.toml") +
                                    " --correlation 0:1:0.25 --bisect 3 -q --html " +
                                    shell_quoted(dir / "out" / "sweep.html"));
    REQUIRE(sweep.code == 0);

    const fs::path build_dir = fs::path(MARGINSIM_CLI).parent_path();
    struct Page {
        fs::path file;
        std::size_t charts;
        std::vector<std::string> texts;
    };
    const std::vector<Page> pages{
        {dir / "out" / "index.html", 2, {"P(any liquidation)", "broken.toml", "href=\"stacked.html\""}},
        {dir / "out" / "stacked.html", 6, {"loss over the horizon (USDT; negative = gain)", "time (days)"}},
        {dir / "out" / "sweep.html", 6 + 3, {"correlation of every pair of assets", "ES 99% (USDT)"}},
    };
    for (const Page& page : pages) {
        INFO(page.file.filename().string());
        const Rendered dom = chromium_run(dir, page.file, "--dump-dom");
        INFO(dom.log);
        REQUIRE(dom.code == 0);
        CHECK(count_of(dom.dom, "<svg") == page.charts);
        CHECK(count_of(dom.dom, "<polyline") + count_of(dom.dom, "<rect") > 10 * page.charts);
        for (const std::string& text : page.texts) CHECK(dom.dom.find(text) != std::string::npos);
        CHECK(page_errors(dom.log).empty());

        const fs::path png = build_dir / ("html_" + page.file.stem().string() + ".png");
        std::error_code ignored;
        fs::remove(png, ignored);
        const Rendered shot =
            chromium_run(dir, page.file, "--window-size=1200,2000 --screenshot=" + shell_quoted(png));
        CHECK(shot.code == 0);
        CHECK(page_errors(shot.log).empty());
        REQUIRE(fs::exists(png));
        const std::string image = read_all(png);
        CHECK(image.substr(0, 8) == "\x89PNG\r\n\x1a\n");
        CHECK(image.size() > 20000);  // not a blank page
    }
}
