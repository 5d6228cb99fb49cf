// The report's renderings from hand-built Report values: the keys and types of
// docs/model.md#report-keys in the JSON, the CSV long format, the text table, and the atomic file
// write.

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "marginsim/output.hpp"
#include "marginsim/report.hpp"
#include "render/format.hpp"
#include "cli_runner.hpp"

namespace {

using marginsim::MarginMode;
using nlohmann::json;

marginsim::ModeReport make_mode(MarginMode mode, double scale, bool liquidated) {
    marginsim::ModeReport out;
    out.mode = mode;
    out.cross_wallet = mode == MarginMode::isolated ? 0.0 : 7000.0 * scale;
    out.collateral_at_risk = 10000.0;
    auto& s = out.summary;
    s.liquidation_probability = {0.125 * scale, {0.11 * scale, 0.14 * scale}};
    s.position_liquidation_probability = {0.1 * scale, 0.05 * scale};
    s.loss.mean = 1.0 / 3.0 * scale;  // not a short decimal: checks the round trip
    s.loss.std = 1234.5;
    s.loss.var = {100.0 * scale, 2000.0 * scale, 3000.0 * scale};
    s.loss.es = {1500.0 * scale, 2500.0 * scale, 3500.25 * scale};
    s.loss.max = 9999.0;
    if (liquidated) s.time_to_liquidation_days = marginsim::TimeSummary{0.5, 2.25, 6.75};
    s.drawdown = {300.0, 2100.0, 4000.0};
    s.funding_paid_mean = -1.5;

    // Symbol, side, configured mode, margin, notional, entry price, liquidation probability and
    // price (none for ETH: no positive price liquidates it).
    out.positions = {
        {"BTC", marginsim::Side::long_side, MarginMode::cross, 2000.0, 20000.0, 66800.0, 0.1 * scale, 60456.789},
        {"ETH", marginsim::Side::short_side, MarginMode::isolated, 1000.0, 3000.0, 3100.0, 0.05 * scale, std::nullopt},
    };
    return out;
}

marginsim::Report make_report() {
    marginsim::Report report;
    report.scenario = "configs/example.toml";
    report.simulation.paths = 100000;
    report.simulation.steps = 168;
    report.simulation.seed = 42;
    report.simulation.threads = 4;
    report.simulation.elapsed_s = 1.25;
    report.simulation.model = marginsim::PriceModel::student_t;
    report.simulation.dof = 4.0;
    report.simulation.horizon_days = 7.0;
    report.simulation.steps_per_day = 24;
    report.simulation.block_size = 1024;
    report.balance = 1234567.891;
    report.policy = marginsim::LiquidationPolicy::fee;
    report.fee_rate = 0.005;
    report.modes = {make_mode(MarginMode::isolated, 1.0, true),
                    make_mode(MarginMode::cross, 2.0, false),
                    make_mode(MarginMode::as_configured, 1.5, true)};
    report.p_cross_loss_exceeds_isolated = {0.3, {0.29, 0.31}};
    report.contagion_probability = {0.02, {0.019, 0.021}};
    report.warnings = {"assets[0].tiers[1].amount: breaks continuity, \"given\" 10",
                       "correlation repaired"};
    return report;
}

void require_interval(const json& value) {
    REQUIRE(value.is_array());
    REQUIRE(value.size() == 2);
    CHECK(value[0].is_number());
    CHECK(value[1].is_number());
    CHECK(value[0].get<double>() <= value[1].get<double>());
}

void require_levels(const json& value) {
    REQUIRE(value.is_object());
    CHECK(value.size() == 3);
    for (const char* level : {"0.95", "0.99", "0.999"}) {
        REQUIRE(value.contains(level));
        CHECK(value[level].is_number());
    }
}

void require_mode(const json& mode) {
    REQUIRE(mode.is_object());
    CHECK(mode.at("liquidation_probability").at("estimate").is_number());
    require_interval(mode.at("liquidation_probability").at("ci95"));
    const json& loss = mode.at("loss");
    CHECK(loss.at("mean").is_number());
    CHECK(loss.at("std").is_number());
    CHECK(loss.at("max").is_number());
    require_levels(loss.at("var"));
    require_levels(loss.at("es"));
    REQUIRE(mode.at("positions").is_array());
    for (const json& position : mode.at("positions")) {
        CHECK(position.at("symbol").is_string());
        CHECK((position.at("side") == "long" || position.at("side") == "short"));
        CHECK((position.at("mode") == "cross" || position.at("mode") == "isolated"));
        CHECK(position.at("margin").is_number());
        CHECK(position.at("notional").is_number());
        CHECK(position.at("entry_price").is_number());
        CHECK(position.at("liquidation_probability").is_number());
        CHECK((position.at("liquidation_price").is_number() ||
               position.at("liquidation_price").is_null()));
    }
    const json& time = mode.at("time_to_liquidation_days");
    if (!time.is_null()) {
        CHECK(time.at("p05").is_number());
        CHECK(time.at("median").is_number());
        CHECK(time.at("p95").is_number());
    }
    CHECK(mode.at("drawdown").at("mean").is_number());
    CHECK(mode.at("drawdown").at("p95").is_number());
    CHECK(mode.at("drawdown").at("p99").is_number());
    CHECK(mode.at("funding_paid").at("mean").is_number());
    CHECK(mode.at("cross_wallet").is_number());
    CHECK(mode.at("collateral_at_risk").is_number());
}

// Minimal RFC 4180 reader: fields split on commas, quoted fields may hold commas and "".
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
        } else if (c == '\n') {
            row.push_back(field);
            field.clear();
            rows.push_back(row);
            row.clear();
        } else {
            field += c;
        }
    }
    REQUIRE_FALSE(quoted);
    REQUIRE(field.empty());  // the last row ends with a newline
    return rows;
}

}  // namespace

TEST_CASE("JSON has every report key with the right type") {
    const marginsim::Report report = make_report();
    const json doc = json::parse(marginsim::to_json(report));

    CHECK(doc.at("schema") == "marginsim.report/1");
    CHECK(doc.at("scenario") == "configs/example.toml");

    const json& sim = doc.at("simulation");
    CHECK(sim.at("paths").is_number_integer());
    CHECK(sim.at("paths") == 100000);
    CHECK(sim.at("steps") == 168);
    CHECK(sim.at("seed") == 42);
    CHECK(sim.at("threads") == 4);
    CHECK(sim.at("elapsed_s").is_number());
    CHECK(sim.at("model") == "student_t");
    CHECK(sim.at("dof") == 4.0);
    CHECK(sim.at("horizon_days") == 7.0);
    CHECK(sim.at("steps_per_day") == 24);
    CHECK(sim.at("monitoring") == "continuous");
    CHECK(sim.at("importance_sampling") == "none");
    CHECK(sim.at("block_size") == 1024);

    const json& account = doc.at("account");
    CHECK(account.at("balance") == 1234567.891);
    CHECK(account.at("policy") == "fee");
    CHECK(account.at("fee_rate") == 0.005);

    const json& modes = doc.at("modes");
    REQUIRE(modes.is_object());
    CHECK(modes.size() == 3);
    for (const char* mode : {"isolated", "cross", "as_configured"}) {
        INFO(mode);
        REQUIRE(modes.contains(mode));
        require_mode(modes.at(mode));
        CHECK(modes.at(mode).at("positions").size() == 2);
    }

    const json& comparison = doc.at("comparison");
    CHECK(comparison.at("p_cross_loss_exceeds_isolated") == 0.3);
    require_interval(comparison.at("p_cross_loss_exceeds_isolated_ci95"));
    CHECK(comparison.at("contagion_probability") == 0.02);
    require_interval(comparison.at("contagion_probability_ci95"));

    REQUIRE(doc.at("warnings").is_array());
    CHECK(doc.at("warnings").size() == 2);
    CHECK(doc.at("warnings")[0] == report.warnings[0]);
}

TEST_CASE("JSON numbers round-trip and land under the right keys") {
    const marginsim::Report report = make_report();
    const json doc = json::parse(marginsim::to_json(report));
    const json& cross = doc.at("modes").at("cross");
    CHECK(cross.at("loss").at("mean").get<double>() == report.modes[1].summary.loss.mean);
    CHECK(cross.at("loss").at("var").at("0.99").get<double>() == 4000.0);
    CHECK(cross.at("loss").at("es").at("0.999").get<double>() == 7000.5);
    CHECK(cross.at("liquidation_probability").at("ci95")[1].get<double>() ==
          report.modes[1].summary.liquidation_probability.ci95.hi);
    CHECK(cross.at("cross_wallet") == 14000.0);
    CHECK(doc.at("modes").at("isolated").at("time_to_liquidation_days").at("median") == 2.25);
    CHECK(cross.at("funding_paid").at("mean") == -1.5);
}

TEST_CASE("JSON writes empty optionals as null") {
    const json doc = json::parse(marginsim::to_json(make_report()));
    const json& cross = doc.at("modes").at("cross");
    CHECK(cross.at("time_to_liquidation_days").is_null());
    CHECK(cross.at("positions")[0].at("liquidation_price") == 60456.789);
    CHECK(cross.at("positions")[1].contains("liquidation_price"));
    CHECK(cross.at("positions")[1].at("liquidation_price").is_null());
    CHECK(cross.at("positions")[1].at("side") == "short");
    CHECK(cross.at("positions")[1].at("mode") == "isolated");
}

TEST_CASE("JSON of a gaussian run has no dof") {
    marginsim::Report report = make_report();
    report.simulation.model = marginsim::PriceModel::gaussian;
    const json doc = json::parse(marginsim::to_json(report));
    CHECK(doc.at("simulation").at("model") == "gaussian");
    CHECK_FALSE(doc.at("simulation").contains("dof"));
}

TEST_CASE("JSON, CSV and text name the monitoring and the steps a day, for both values") {
    marginsim::Report report = make_report();
    report.simulation.steps_per_day = 4;
    report.simulation.steps = 28;
    for (const auto& [monitoring, name] : {std::pair{marginsim::Monitoring::continuous, "continuous"},
                                           std::pair{marginsim::Monitoring::discrete, "discrete"}}) {
        INFO(name);
        report.simulation.monitoring = monitoring;
        const json sim = json::parse(marginsim::to_json(report)).at("simulation");
        CHECK(sim.at("monitoring") == name);
        CHECK(sim.at("steps_per_day") == 4);

        std::map<std::string, std::string> value_of;
        for (const auto& row : parse_csv(marginsim::to_csv(report))) value_of[row[0] + "," + row[2]] = row[3];
        CHECK(value_of.at("simulation,monitoring") == name);
        CHECK(value_of.at("simulation,steps_per_day") == "4");

        std::ostringstream text;
        marginsim::write_text(text, report);
        CHECK_THAT(text.str(), Catch::Contains("\n4 steps/day, " + std::string(name) + " monitoring ("));
    }
}

TEST_CASE("a non-finite number is refused naming its key") {
    marginsim::Report report = make_report();
    SECTION("NaN in a tail level") {
        report.modes[1].summary.loss.es[2] = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_WITH(marginsim::to_json(report), Catch::Contains("modes.cross.loss.es.0.999"));
        CHECK_THROWS_AS(marginsim::to_csv(report), std::logic_error);
    }
    SECTION("infinity in a position") {
        report.modes[2].positions[0].liquidation_price = std::numeric_limits<double>::infinity();
        CHECK_THROWS_WITH(marginsim::to_json(report),
                          Catch::Contains("as_configured.positions[0].liquidation_price"));
        CHECK_THROWS_AS(marginsim::to_csv(report), std::logic_error);
    }
    SECTION("NaN in a confidence interval") {
        report.contagion_probability.ci95.lo = std::nan("");
        CHECK_THROWS_WITH(marginsim::to_json(report),
                          Catch::Contains("comparison.contagion_probability_ci95[0]"));
    }
}

TEST_CASE("modes out of order are refused") {
    marginsim::Report report = make_report();
    std::swap(report.modes[0], report.modes[1]);
    CHECK_THROWS_AS(marginsim::to_json(report), std::logic_error);
}

TEST_CASE("CSV is a long table of four fields") {
    const marginsim::Report report = make_report();
    const auto rows = parse_csv(marginsim::to_csv(report));
    REQUIRE_FALSE(rows.empty());
    CHECK(rows[0] == std::vector<std::string>{"section", "mode", "key", "value"});

    // Counted from the format documented in report.cpp: 18 simulation rows (with dof),
    // 3 account rows, per mode 3 + 9 + 3 + 3 + 1 + 2 rows and 5 per position,
    // 6 comparison rows, one per warning.
    const std::size_t positions = report.modes[0].positions.size();
    const std::size_t expected = 1 + 18 + 3 + 3 * (21 + 5 * positions) + 6 + report.warnings.size();
    CHECK(rows.size() == expected);

    std::map<std::string, std::string> value_of;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == 4);
        const std::string key = rows[i][0] + "," + rows[i][1] + "," + rows[i][2];
        CHECK(value_of.count(key) == 0);  // unambiguous: every key once
        value_of[key] = rows[i][3];
    }
    CHECK(std::stod(value_of.at("loss,cross,var_0.99")) == 4000.0);
    CHECK(std::stod(value_of.at("loss,isolated,mean")) == report.modes[0].summary.loss.mean);
    CHECK(std::stod(value_of.at("liquidation_probability,as_configured,estimate")) ==
          report.modes[2].summary.liquidation_probability.estimate);
    CHECK(value_of.at("time_to_liquidation_days,cross,median").empty());
    CHECK(std::stod(value_of.at("time_to_liquidation_days,isolated,p95")) == 6.75);
    CHECK(std::stod(value_of.at("position,cross,0 BTC long cross liquidation_price")) == 60456.789);
    CHECK(value_of.at("position,cross,1 ETH short isolated liquidation_price").empty());
    CHECK(std::stod(value_of.at("comparison,,contagion_probability_ci95_hi")) == 0.021);
    CHECK(value_of.at("warning,,0") == report.warnings[0]);  // quoted: holds a comma and quotes
    CHECK(value_of.at("simulation,,model") == "student_t");
}

TEST_CASE("the shared formatting rules") {
    using namespace marginsim::detail;
    // RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
    CHECK(csv_field("plain text") == "plain text");
    CHECK(csv_field("a,b") == "\"a,b\"");
    CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(group_thousands("-1234567.891") == "-1,234,567.891");
    CHECK(group_thousands("123") == "123");
    CHECK(group_thousands("-123456") == "-123,456");
    CHECK(money(1234567.891) == "1,234,567.89");
    CHECK(money(-0.004) == "0.00");  // no "-0.00"
    CHECK(money(-0.005) == "-0.01");
    CHECK(money(std::numeric_limits<double>::infinity()) == "inf");
    CHECK(grouped(999.5) == "1,000");
    CHECK(percent_text(0.4532) == "45.3%");
    CHECK(percent_text(0.00004, 2) == "<0.01%");  // rare, but not never
    CHECK(percent_text(0.0, 2) == "0.00%");
    CHECK(percent_text(0.004, 2) == "0.40%");
    CHECK(percent_plain(0.00004) == "0.00%");
}

TEST_CASE("text table shows the modes side by side") {
    const marginsim::Report report = make_report();
    std::ostringstream out;
    marginsim::write_text(out, report);
    const std::string text = out.str();

    CHECK_THAT(text, Catch::Contains("configs/example.toml"));
    CHECK_THAT(text, Catch::Contains("1,234,567.89"));  // balance, thousands separators
    CHECK_THAT(text, Catch::Contains("60,456.79"));     // BTC liquidation price
    CHECK_THAT(text, Catch::Contains("none"));          // ETH: no liquidation price
    CHECK_THAT(text, Catch::Contains("12.50%"));        // isolated P(any liquidation)
    CHECK_THAT(text, Catch::Contains("VaR 99.9%"));
    CHECK_THAT(text, Catch::Contains("ES 99%"));
    CHECK_THAT(text, Catch::Contains("30.00%"));  // P(cross loss > isolated loss)
    CHECK_THAT(text, Catch::Contains("correlation repaired"));

    std::istringstream lines(text);
    std::string line;
    bool saw_modes = false;
    while (std::getline(lines, line)) {
        INFO(line);
        CHECK(line.size() <= 100);
        if (line.find("isolated") != std::string::npos && line.find("cross") != std::string::npos &&
            line.find("as_configured") != std::string::npos) {
            saw_modes = true;
            CHECK(line.find("isolated") < line.find("cross"));
            CHECK(line.find("cross") < line.find("as_configured"));
        }
        if (line.rfind("First liquidation, median", 0) == 0) {
            // isolated and as_configured liquidated (median 2.25 days), cross did not.
            CHECK_THAT(line, Catch::Contains("2.25"));
            CHECK_THAT(line, Catch::Contains(" - "));
        }
    }
    CHECK(saw_modes);
}

TEST_CASE("write_file_atomically replaces a file whole") {
    const marginsim::testing::TempDir temp("marginsim_test_report");
    const auto& dir = temp.path();
    const auto path = dir / "report.json";
    marginsim::write_file_atomically(path, std::string(10000, 'x'));
    CHECK(marginsim::testing::read_all(path) == std::string(10000, 'x'));
    marginsim::write_file_atomically(path, "short\n");
    CHECK(marginsim::testing::read_all(path) == "short\n");  // no tail of the longer old file

    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    CHECK(names == std::vector<std::string>{"report.json"});  // no temp file left
}

TEST_CASE("write_file_atomically fails cleanly") {
    const marginsim::testing::TempDir temp("marginsim_test_report");
    const auto& dir = temp.path();
    SECTION("directory does not exist") {
        const auto path = dir / "missing" / "report.json";
        CHECK_THROWS_AS(marginsim::write_file_atomically(path, "x"), std::runtime_error);
        CHECK_THROWS_WITH(marginsim::write_file_atomically(path, "x"),
                          Catch::Contains(path.string()) &&
                              Catch::Contains("No such file or directory"));
        CHECK_FALSE(std::filesystem::exists(dir / "missing"));
    }
    SECTION("target is a directory: the old content stays, no temp is left") {
        const auto path = dir / "taken";
        std::filesystem::create_directories(path);
        { std::ofstream(path / "old.txt") << "old"; }
        CHECK_THROWS_AS(marginsim::write_file_atomically(path, "new"), std::runtime_error);
        CHECK(marginsim::testing::read_all(path / "old.txt") == "old");
        std::size_t entries = 0;
        for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) {
            ++entries;
        }
        CHECK(entries == 1);
    }
}
