// The backtest's HTML page, produced by the CLI on hand-made price files: well-formed markup,
// the JSON's scores in its table, one reliability dot per bin and model, and one mark per
// window whose realised flag fired in the chart of the mode that predicts it.

#include "backtest_fixtures.hpp"
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

// Every opened tag is closed, in order; self-closed and void tags stand alone. Returns the
// first problem, empty when none.
std::string tag_problem(const std::string& html) {
    static const std::set<std::string> void_tags{"meta", "br", "hr", "img", "input", "link"};
    static const std::regex tag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>)");
    std::vector<std::string> open;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator(); ++it) {
        const std::smatch& m = *it;
        const std::string name = m[2];
        if (m[1] == "/") {
            if (open.empty() || open.back() != name) {
                return fmt::format("</{}> at {} closes {}", name, m.position(0), open.empty() ? "nothing" : "<" + open.back() + ">");
            }
            open.pop_back();
        } else if (m[3] != "/" && void_tags.count(name) == 0) {
            open.push_back(name);
        }
    }
    return open.empty() ? std::string() : "<" + open.back() + "> is never closed";
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// The part of the page from `title`'s chart to the next chart's panel title.
std::string section(const std::string& html, const std::string& title) {
    const std::size_t begin = html.find(title);
    REQUIRE(begin != std::string::npos);
    const std::size_t end = html.find("</svg>", begin);
    REQUIRE(end != std::string::npos);
    return html.substr(begin, end - begin);
}

std::string number_cell(const std::string& text) { return "<td class=\"num\">" + text + "</td>"; }
std::string percent_cell(const nlohmann::json& p) {
    return p.is_null() ? number_cell("n/a") : number_cell(fmt::format("{:.2f}%", 100.0 * p.get<double>()));
}
std::string fixed_cell(const nlohmann::json& x, int decimals) {
    return x.is_null() ? number_cell("n/a") : number_cell(fmt::format("{:.{}f}", x.get<double>(), decimals));
}

}  // namespace

TEST_CASE("marginsim backtest --html writes a well-formed page with the scores and the realised windows",
          "[backtest]") {
    TempDir dir("marginsim_backtest_html");
    write_backtest_files(dir.path(), synthetic_backtest_history());
    const auto html_path = dir.path() / "bt.html";
    const auto json_path = dir.path() / "bt.json";
    const std::string base = std::string(MARGINSIM_CLI) + " backtest " + shell_quoted(dir.path() / "book.toml") +
                             " --history " + shell_quoted(dir.path()) +
                             " --paths 2000 --window 300 --every 30 --models gaussian,ewma -q";
    const CliResult ok = run_shell(base + " --from 2021-01-10 --to 2022-01-10 --html " + shell_quoted(html_path) +
                                       " --json " + shell_quoted(json_path),
                                   dir.path() / "out", dir.path() / "err");
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    const std::string html = read_all(html_path);
    const nlohmann::json json = nlohmann::json::parse(read_all(json_path));

    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(tag_problem(html).empty());
    INFO(tag_problem(html));
    CHECK(html.find("http") == html.find("http://www.w3.org/2000/svg"));  // no asset fetched: only the SVG namespace
    CHECK(count_of(html, "<svg") == 4 + 3);  // a reliability diagram per flag, a time series per mode

    // The scores table: each model and flag's row, its numbers as the JSON has them.
    for (const std::string model : {"gaussian", "ewma"}) {
        for (const auto& [flag, s] : json["scores"][model].items()) {
            INFO(model << " " << flag);
            const std::string mode = flag.rfind("isolated", 0) == 0 ? "isolated" : "cross";
            const std::string row = fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>", flag, mode, model) +
                                    number_cell(std::to_string(s["windows"].get<int>())) +
                                    percent_cell(s["mean_predicted"]) + percent_cell(s["realised_rate"]) +
                                    fixed_cell(s["brier"], 4) + fixed_cell(s["brier_skill"], 3) +
                                    fixed_cell(s["kupiec"]["p_value"], 3) +
                                    fixed_cell(s["christoffersen"]["p_value"], 3) + fixed_cell(s["auc"], 3) + "</tr>";
            CHECK(count_of(html, row) == 1);
        }
    }

    // A reliability dot per model and bin holding windows, each with its count.
    for (const std::string flag : {"isolated_any_low", "cross_close"}) {
        const std::string chart = section(html, "Reliability: " + flag + " against");
        std::size_t bins = 0;
        for (const std::string model : {"gaussian", "ewma"}) {
            for (const nlohmann::json& bin : json["scores"][model][flag]["reliability"]) {
                ++bins;
                CHECK(chart.find(fmt::format("{} windows, mean predicted", bin["windows"].get<int>())) != std::string::npos);
            }
        }
        CHECK(count_of(chart, "<circle") == bins);
    }

    // One mark per window whose paired flag fired, at that window, and none elsewhere.
    const std::string isolated = section(html, "P(liquidation) in isolated margin by start date");
    const std::string cross = section(html, "P(liquidation) in cross margin by start date");
    const std::string as_configured = section(html, "P(liquidation) in as configured margin by start date");
    std::size_t isolated_fired = 0;
    std::size_t calm = 0;
    for (const nlohmann::json& w : json["windows"]) {
        const std::string mark = fmt::format("window {} (realised)", w["start"].get<std::string>());
        const nlohmann::json& r = w["realised"];
        const bool isolated_any = r["isolated_any_low"].get<bool>() || r["isolated_any_close"].get<bool>();
        const bool cross_any = r["cross_low"].get<bool>() || r["cross_close"].get<bool>();
        INFO(mark);
        CHECK(count_of(isolated, mark) == (isolated_any ? 1u : 0u));
        CHECK(count_of(cross, mark) == (cross_any ? 1u : 0u));
        isolated_fired += isolated_any ? 1 : 0;
        calm += isolated_any ? 0 : 1;
    }
    CHECK(count_of(as_configured, "(realised)") == 0);  // no flag pairs with the as-configured mode
    // The hand-made history has both kinds of window, so the marks are tested both ways.
    CHECK(isolated_fired > 0);
    CHECK(calm > 0);
}

TEST_CASE("marginsim backtest --html leaves an existing page untouched when the backtest fails", "[backtest]") {
    TempDir dir("marginsim_backtest_html_error");
    write_backtest_files(dir.path(), synthetic_backtest_history());
    const auto html_path = dir.path() / "bt.html";
    std::ofstream(html_path) << "the previous page";
    const CliResult failed =
        run_shell(std::string(MARGINSIM_CLI) + " backtest " + shell_quoted(dir.path() / "book.toml") + " --history " +
                      shell_quoted(dir.path()) + " --from 2030-01-01 --to 2030-02-01 -q --html " + shell_quoted(html_path),
                  dir.path() / "out", dir.path() / "err");
    CHECK(failed.code == 2);
    CHECK(read_all(html_path) == "the previous page");
}
