// What a user sees of importance sampling (docs/model.md#importance-sampling), from hand-built
// reports: the JSON keys, the CSV rows, the text and HTML lines, the sweep's renderings, and the
// batch's summary column and its reading of a report back.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "marginsim/batch.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/report.hpp"
#include "marginsim/sweep.hpp"
#include "batch/report_row.hpp"

namespace {

using marginsim::ImportanceInfo;
using marginsim::ImportanceSampling;
using marginsim::MarginMode;
using marginsim::Report;
using nlohmann::json;

marginsim::ModeReport make_mode(MarginMode mode, double p) {
    marginsim::ModeReport out;
    out.mode = mode;
    out.cross_wallet = mode == MarginMode::isolated ? 0.0 : 5000.0;
    out.collateral_at_risk = 5000.0;
    out.summary.liquidation_probability = {p, {0.5 * p, 2.0 * p}};
    out.summary.position_liquidation_probability = {p, p};
    out.summary.loss.mean = 10.0 * p;
    out.summary.loss.var = {1.0, 2.0, 3.0};
    out.summary.loss.es = {1.5, 2.5, 3.5};
    out.summary.loss.max = 5000.0;
    out.positions = {{"BTC", marginsim::Side::long_side, MarginMode::cross, 2500.0, 7500.0, 60000.0, p, 40000.0},
                     {"ETH", marginsim::Side::long_side, MarginMode::cross, 2500.0, 7500.0, 3000.0, p, 2000.0}};
    return out;
}

// A plain run of a 3x book on two assets.
Report plain_report() {
    Report report;
    report.scenario = "rare.toml";
    report.paths_done = report.paths_requested = 100000;
    auto& sim = report.simulation;
    sim.paths = 100000;
    sim.steps = 30;
    sim.seed = 7;
    sim.threads = 2;
    sim.horizon_days = 30.0;
    sim.steps_per_day = 1;
    sim.block_size = 1024;
    sim.symbols = {"BTC", "ETH"};
    report.balance = 5000.0;
    report.modes = {make_mode(MarginMode::isolated, 2e-4), make_mode(MarginMode::cross, 1e-4),
                    make_mode(MarginMode::as_configured, 1e-4)};
    report.p_cross_loss_exceeds_isolated = {0.25, {0.24, 0.26}};
    report.contagion_probability = {5e-5, {1e-5, 1e-4}};
    return report;
}

// The same run importance-sampled: half the paths drawn around BTC -31%, ETH -38% by the horizon.
Report selloff_report() {
    Report report = plain_report();
    report.simulation.importance_sampling = ImportanceSampling::selloff;
    ImportanceInfo importance;
    importance.selloff_log_return = {std::log(0.69), std::log(0.62)};
    importance.shift_sd = 3.75;
    importance.tilted_fraction = 0.5;
    importance.effective_paths = 41234.4;
    report.simulation.importance = importance;
    return report;
}

// section,mode,key -> value; the rows these tests read hold no quoted field.
std::map<std::string, std::string> csv_values(const std::string& csv) {
    std::map<std::string, std::string> out;
    std::istringstream lines(csv);
    std::string line;
    while (std::getline(lines, line)) {
        std::vector<std::string> fields;
        std::istringstream row(line);
        for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
        if (fields.size() == 3) fields.emplace_back();  // an empty last field
        if (fields.size() == 4 && line.find('"') == std::string::npos)
            out[fields[0] + "," + fields[1] + "," + fields[2]] = fields[3];
    }
    return out;
}

std::vector<std::string> split(const std::string& line, char separator) {
    std::vector<std::string> out(1);
    for (const char c : line) {
        if (c == separator) {
            out.emplace_back();
        } else {
            out.back() += c;
        }
    }
    return out;
}

std::string text_of(const Report& report) {
    std::ostringstream out;
    marginsim::write_text(out, report);
    return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

}  // namespace

TEST_CASE("a plain run names its sampling and reports nothing else of it") {
    const Report report = plain_report();
    const json sim = json::parse(marginsim::to_json(report)).at("simulation");
    CHECK(sim.at("importance_sampling") == "none");
    CHECK_FALSE(sim.contains("importance"));

    const auto csv = csv_values(marginsim::to_csv(report));
    CHECK(csv.at("simulation,,importance_sampling") == "none");
    for (const auto& [key, value] : csv) {
        INFO(key);
        CHECK((key.rfind("simulation,,importance_", 0) != 0 || key == "simulation,,importance_sampling"));
    }
    CHECK_THAT(text_of(report), !Catch::Contains("importance sampling"));
}

TEST_CASE("the JSON of an importance-sampled run holds its selloff, shift, tilted share and effective paths") {
    const json sim = json::parse(marginsim::to_json(selloff_report())).at("simulation");
    CHECK(sim.at("importance_sampling") == "selloff");
    const json& importance = sim.at("importance");
    const json& selloff = importance.at("selloff_log_return");
    REQUIRE(selloff.size() == 2);
    CHECK(selloff.at("BTC").get<double>() == std::log(0.69));
    CHECK(selloff.at("ETH").get<double>() == std::log(0.62));
    CHECK(importance.at("shift_sd") == 3.75);
    CHECK(importance.at("tilted_fraction") == 0.5);
    CHECK(importance.at("effective_paths") == 41234.4);
    // The key sits with the monitoring, before the block size (insertion order).
    std::vector<std::string> keys;
    const auto ordered = nlohmann::ordered_json::parse(marginsim::to_json(selloff_report())).at("simulation");
    for (const auto& item : ordered.items()) keys.push_back(item.key());
    const auto at = [&keys](const std::string& key) { return std::find(keys.begin(), keys.end(), key) - keys.begin(); };
    CHECK(at("importance_sampling") == at("monitoring") + 1);
    CHECK(at("importance") == at("monitoring") + 2);
}

TEST_CASE("the CSV of an importance-sampled run has the same keys as the JSON, prefixed") {
    const auto csv = csv_values(marginsim::to_csv(selloff_report()));
    CHECK(csv.at("simulation,,importance_sampling") == "selloff");
    CHECK(std::stod(csv.at("simulation,,importance_selloff_log_return_BTC")) == std::log(0.69));
    CHECK(std::stod(csv.at("simulation,,importance_selloff_log_return_ETH")) == std::log(0.62));
    CHECK(csv.at("simulation,,importance_shift_sd") == "3.75");
    CHECK(csv.at("simulation,,importance_tilted_fraction") == "0.5");
    CHECK(csv.at("simulation,,importance_effective_paths") == "41234.4");
}

TEST_CASE("the text says under the header how the paths were drawn, the moves as price changes in percent") {
    const std::vector<std::string> lines = lines_of(text_of(selloff_report()));
    const auto line = std::find_if(lines.begin(), lines.end(),
                                   [](const std::string& l) { return l.rfind("importance sampling:", 0) == 0; });
    REQUIRE(line != lines.end());
    // log(0.69) is a fall of 31%, log(0.62) one of 38%.
    CHECK(*line == "importance sampling: 50% of the paths drawn around a market-wide move to BTC -31%, ETH -38% "
                   "by the horizon; 41,234 effective paths, intervals from the weighted sample's variance");
    // Under the simulation header: after the seed line, before the account's.
    CHECK(std::prev(line)->rfind("seed 7, 2 threads", 0) == 0);
    CHECK(std::next(line)->rfind("balance ", 0) == 0);
    CHECK(std::count_if(lines.begin(), lines.end(),
                        [](const std::string& l) { return l.find("importance sampling") != std::string::npos; }) == 1);
}

TEST_CASE("small moves and rallies keep two digits and their sign") {
    Report report = selloff_report();
    report.simulation.importance->selloff_log_return = {std::log(0.95), std::log(1.5)};
    CHECK_THAT(marginsim::importance_sentence(report.simulation), Catch::Contains("move to BTC -5%, ETH +50% by"));
    report.simulation.importance->selloff_log_return = {std::log(0.9975), std::log(1.0)};
    CHECK_THAT(marginsim::importance_sentence(report.simulation), Catch::Contains("move to BTC -0.25%, ETH +0% by"));
}

TEST_CASE("a run whose account no market-wide move liquidates says it was sampled plainly") {
    Report report = selloff_report();
    report.simulation.importance = ImportanceInfo{};  // shift 0, no selloff
    CHECK(marginsim::importance_sentence(report.simulation) ==
          "importance sampling: no market-wide move makes a rare liquidation, so the paths were sampled plainly");
    const json importance = json::parse(marginsim::to_json(report)).at("simulation").at("importance");
    CHECK(importance.at("selloff_log_return").empty());
    CHECK(importance.at("shift_sd") == 0.0);
    CHECK_THAT(text_of(report), Catch::Contains("sampled plainly"));
    CHECK(marginsim::importance_sentence(plain_report().simulation).empty());
}

TEST_CASE("a selloff without one return per asset, or a non-finite effective count, is refused") {
    Report report = selloff_report();
    SECTION("one return for two assets") {
        report.simulation.importance->selloff_log_return.pop_back();
        CHECK_THROWS_WITH(marginsim::to_json(report), Catch::Contains("1 selloff returns for 2 assets"));
        CHECK_THROWS_AS(marginsim::to_csv(report), std::logic_error);
        CHECK_THROWS_AS(text_of(report), std::logic_error);
    }
    SECTION("NaN effective paths") {
        report.simulation.importance->effective_paths = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_WITH(marginsim::to_json(report), Catch::Contains("simulation.importance.effective_paths"));
        CHECK_THROWS_AS(marginsim::to_csv(report), std::logic_error);
    }
}

TEST_CASE("the batch reads the sampling back from the JSON report with every other number") {
    const Report report = selloff_report();
    const marginsim::BatchRow row = marginsim::detail::batch_row_from_report(marginsim::to_json(report));
    CHECK(row.importance_sampling == ImportanceSampling::selloff);
    CHECK(row.monitoring == report.simulation.monitoring);
    CHECK(row.paths == 100000);
    for (std::size_t m = 0; m < marginsim::mode_count; ++m) {
        CHECK(row.modes[m].liquidation_probability.estimate == report.modes[m].summary.liquidation_probability.estimate);
        CHECK(row.modes[m].liquidation_probability.ci95.hi == report.modes[m].summary.liquidation_probability.ci95.hi);
        CHECK(row.modes[m].es_99 == report.modes[m].summary.loss.es[1]);
    }
    CHECK(row.contagion_probability.ci95.hi == report.contagion_probability.ci95.hi);
    CHECK(row.p_cross_loss_exceeds_isolated.estimate == report.p_cross_loss_exceeds_isolated.estimate);

    json doc = json::parse(marginsim::to_json(report));
    doc["simulation"].erase("importance_sampling");  // a report from before the key: sampled plainly
    CHECK(marginsim::detail::batch_row_from_report(doc.dump()).importance_sampling == ImportanceSampling::none);
    doc["simulation"]["importance_sampling"] = "antithetic";
    CHECK_THROWS(marginsim::detail::batch_row_from_report(doc.dump()));
}

TEST_CASE("summary.csv has an importance_sampling column after monitoring, empty for a failed scenario") {
    marginsim::BatchResult result;
    marginsim::BatchEntry ran;
    ran.name = "rare";
    ran.scenario = "rare.toml";
    ran.status = marginsim::BatchStatus::ran;
    ran.row = marginsim::detail::batch_row_from_report(marginsim::to_json(selloff_report()));
    marginsim::BatchEntry plain = ran;
    plain.name = "plain";
    plain.row = marginsim::detail::batch_row_from_report(marginsim::to_json(plain_report()));
    marginsim::BatchEntry failed;
    failed.name = "broken";
    failed.scenario = "broken.toml";
    failed.error = "broken.toml:1: expected a table";
    result.entries = {ran, plain, failed};

    const std::vector<std::string> lines = lines_of(marginsim::batch_summary_csv(result));
    REQUIRE(lines.size() == 4);
    const std::vector<std::string> header = split(lines[0], ',');
    REQUIRE(header.size() >= 2);
    CHECK(header[header.size() - 2] == "monitoring");
    CHECK(header.back() == "importance_sampling");
    for (std::size_t i = 1; i < lines.size(); ++i) {
        INFO(lines[i]);
        CHECK(split(lines[i], ',').size() == header.size());
    }
    CHECK(split(lines[1], ',').back() == "selloff");
    CHECK(split(lines[2], ',').back() == "none");
    CHECK(split(lines[3], ',').back().empty());
}

TEST_CASE("a sweep names its sampling and gives each value's selloff") {
    marginsim::SweepResult sweep;
    sweep.scenario = "rare.toml";
    sweep.spec.parameter = marginsim::SweepParameter::leverage_scale;
    sweep.spec.values = {1.0, 2.0};
    sweep.paths = 100000;
    sweep.seed = 7;
    for (const double value : sweep.spec.values) {
        marginsim::SweepPoint point;
        point.value = value;
        point.report = selloff_report();
        point.report.simulation.importance->effective_paths = 20000.0 * value;
        sweep.points.push_back(point);
    }
    const json doc = json::parse(marginsim::to_json(sweep));
    CHECK(doc.at("simulation").at("importance_sampling") == "selloff");
    CHECK(doc.at("points")[1].at("importance").at("effective_paths") == 40000.0);
    CHECK(doc.at("points")[0].at("importance").at("selloff_log_return").at("ETH").get<double>() == std::log(0.62));

    std::ostringstream text;
    marginsim::write_text(text, sweep);
    CHECK_THAT(text.str(), Catch::Contains("\nimportance sampling: part of the paths drawn around each value's own "
                                           "market-wide move to its liquidation; 20,000 - 40,000 effective paths"));
    CHECK_THAT(marginsim::to_html(sweep), Catch::Contains("20,000 - 40,000 effective paths"));

    for (marginsim::SweepPoint& point : sweep.points) point.report = plain_report();
    const json plain = json::parse(marginsim::to_json(sweep));
    CHECK(plain.at("simulation").at("importance_sampling") == "none");
    CHECK_FALSE(plain.at("points")[0].contains("importance"));
    std::ostringstream plain_text;
    marginsim::write_text(plain_text, sweep);
    CHECK_THAT(plain_text.str(), !Catch::Contains("importance sampling"));
}

TEST_CASE("the HTML page says how the paths were drawn in its header and its method") {
    marginsim::DetailedRun run;
    run.report = selloff_report();
    for (marginsim::ModeDetail& mode : run.modes) {
        mode.sorted_loss = {-100.0f, 0.0f, 50.0f, 5000.0f};
        mode.liquidated_by_step.assign(static_cast<std::size_t>(run.report.simulation.steps) + 1, 0);
    }
    const std::string page = marginsim::to_html(run);
    CHECK_THAT(page, Catch::Contains("<p class=\"meta\">importance sampling: 50% of the paths drawn around a "
                                     "market-wide move to BTC -31%, ETH -38% by the horizon; 41,234 effective paths"));
    CHECK_THAT(page, Catch::Contains("<p class=\"note\">Importance sampling:"));
    run.report = plain_report();
    CHECK_THAT(marginsim::to_html(run), !Catch::Contains("mportance sampling"));
}
