// --set KEY=VALUE: a key set from the command line loads as the same key edited in a copy of
// the file, is checked with the same messages, and names the argument instead of a file line;
// run, sweep and batch apply it and say so, and batch reruns when it changes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_text.hpp"

namespace {

namespace fs = std::filesystem;
using namespace marginsim;
using namespace marginsim::testing;
using nlohmann::json;

Scenario with_sets(const std::string& text, const std::vector<std::string>& sets) {
    LoadOptions options;
    for (const std::string& set : sets) options.overrides.push_back(parse_override(set));
    return parse_scenario(text, "case.toml", options);
}

InputError set_error(const std::string& text, const std::vector<std::string>& sets) {
    try {
        with_sets(text, sets);
    } catch (const InputError& error) {
        return error;
    }
    FAIL("no error");
    throw std::logic_error("unreachable");
}

// Everything a run depends on, with the overrides left out: the scenario as the file gives it.
std::uint64_t content_without_overrides(Scenario scenario) {
    scenario.overrides.clear();
    return scenario_content_hash(scenario);
}

const std::string with_matrix = edited(base, {{"", "[correlation]\nmatrix = [[1, 0.5], [0.5, 1]]\n"}});
const std::string with_pairs = edited(base, {{"", "[correlation]\npairs = { \"ETH/BTC\" = 0.5 }\n"}});

}  // namespace

TEST_CASE("a key set by --set loads as the same key edited in the file") {
    struct Case {
        std::string text;
        std::vector<std::string> sets;
        std::string same_file;
    };
    const std::vector<Case> cases{
        {base, {"simulation.steps_per_day=288"}, edited(base, {{"horizon_days = 7\n", "horizon_days = 7\nsteps_per_day = 288\n"}})},
        {base, {"account.balance=2e4"}, edited(base, {{"balance = 10000", "balance = 20000.0"}})},
        {base, {"positions[1].margin=600"}, edited(base, {{"margin = 500", "margin = 600"}})},
        {base, {"assets.ETH.volatility=0.9"}, edited(base, {{"volatility = 0.6", "volatility = 0.9"}})},
        {base, {"positions.BTC.leverage=5", "assets[0].price=61000"},
         edited(base, {{"leverage = 10", "leverage = 5"}, {"price = 60000", "price = 61000"}})},
        // A bare word is a string; a key the file does not have is added, its table too.
        {base, {"simulation.monitoring=discrete", "liquidation.policy=fee"},
         edited(base, {{"horizon_days = 7\n", "horizon_days = 7\nmonitoring = \"discrete\"\n"},
                       {"", "[liquidation]\npolicy = \"fee\"\n"}})},
        {base, {"simulation.monitoring=\"discrete\""}, edited(base, {{"horizon_days = 7\n", "horizon_days = 7\nmonitoring = \"discrete\"\n"}})},
        // correlation.A/B in every form of [correlation]: both halves of a matrix, the pair the
        // file names in the other order, a new [correlation] table.
        {with_matrix, {"correlation.BTC/ETH=0.9"}, edited(base, {{"", "[correlation]\nmatrix = [[1, 0.9], [0.9, 1]]\n"}})},
        {with_pairs, {"correlation.BTC/ETH=0.9"}, edited(base, {{"", "[correlation]\npairs = { \"BTC/ETH\" = 0.9 }\n"}})},
        {base, {"correlation.ETH/BTC=-0.3"}, edited(base, {{"", "[correlation]\npairs = { \"BTC/ETH\" = -0.3 }\n"}})},
        // Later overrides win.
        {base, {"account.balance=1", "account.balance=12000"}, edited(base, {{"balance = 10000", "balance = 12000"}})},
    };
    for (const Case& c : cases) {
        INFO(c.sets.front());
        const Scenario overridden = with_sets(c.text, c.sets);
        const Scenario file = parse_scenario(c.same_file, "case.toml");
        CHECK(content_without_overrides(overridden) == scenario_content_hash(file));
        CHECK(overridden.overrides == c.sets);
        CHECK(overridden.simulation.steps_per_day == file.simulation.steps_per_day);
        CHECK(overridden.simulation.monitoring == file.simulation.monitoring);
        CHECK(overridden.correlation == file.correlation);
        CHECK(overridden.correlation_at(0, 1) == overridden.correlation_at(1, 0));
    }
    // The overrides count in the content hash: the same content set another way is another input.
    CHECK(scenario_content_hash(with_sets(base, {"account.balance=2e4"})) !=
          scenario_content_hash(parse_scenario(edited(base, {{"balance = 10000", "balance = 2e4"}}), "case.toml")));
    CHECK(scenario_content_hash(with_sets(base, {"account.balance=2e4"})) ==
          scenario_content_hash(with_sets(base, {"account.balance=2e4"})));
}

TEST_CASE("a value set by --set is checked like the file's, and the error names the argument") {
    struct Case {
        std::string set;
        Edit same_in_file;
    };
    const std::vector<Case> cases{
        {"simulation.steps_per_day=abc", {"horizon_days = 7\n", "horizon_days = 7\nsteps_per_day = \"abc\"\n"}},
        {"simulation.steps_per_day=2.5", {"horizon_days = 7\n", "horizon_days = 7\nsteps_per_day = 2.5\n"}},
        {"simulation.stepz=4", {"horizon_days = 7\n", "horizon_days = 7\nstepz = 4\n"}},
        {"assets[1].volatility=12", {"volatility = 0.6", "volatility = 12"}},
        {"simulation.monitoring=sometimes", {"horizon_days = 7\n", "horizon_days = 7\nmonitoring = \"sometimes\"\n"}},
        {"correlation.BTC/ETH=1.5", {"", "[correlation]\npairs = { \"BTC/ETH\" = 1.5 }\n"}},
    };
    for (const Case& c : cases) {
        INFO(c.set);
        const InputError by_set = set_error(base, {c.set});
        const std::optional<InputError> by_file = parse_failure(edited(base, {c.same_in_file}), "case.toml");
        REQUIRE(by_file);
        CHECK(by_set.file() == "--set " + c.set);
        CHECK(by_set.line() == 0);
        CHECK(by_set.key() == by_file->key());
        CHECK(by_set.message() == by_file->message());
        CHECK(by_set.expected() == by_file->expected());
    }
    CHECK(std::string(set_error(base, {"simulation.steps_per_day=abc"}).what()) ==
          "--set simulation.steps_per_day=abc: simulation.steps_per_day: wrong type: found the string \"abc\" "
          "(expected an integer > 0)");
    // A check across keys that points at a key set by --set (margins above the balance from
    // this position on) names the argument that set it.
    const InputError sum = set_error(base, {"positions[1].quantity=40", "positions[1].margin=9100"});
    const std::optional<InputError> sum_in_file =
        parse_failure(edited(base, {{"margin = 500", "margin = 9100"}, {"quantity = 2", "quantity = 40"}}), "case.toml");
    REQUIRE(sum_in_file);
    CHECK(sum.file() == "--set positions[1].margin=9100");
    CHECK(sum.key() == "positions[1].margin");
    CHECK(sum.message() == sum_in_file->message());
    // So does a check of the table a key was set in.
    const InputError both = set_error(base, {"assets.BTC.tiers=[{rate = 0.01}]"});
    CHECK(both.file() == "--set assets.BTC.tiers=[{rate = 0.01}]");
    CHECK(both.key() == "assets[0]");
    CHECK(both.message() == "both maintenance_margin_rate and tiers are given");
    // In a matrix, both halves are set: it stays symmetric, so the range is what is refused.
    CHECK(set_error(with_matrix, {"correlation.BTC/ETH=-2"}).message() == "out of range: found -2");
    // An error elsewhere in the file still points at the file.
    const InputError file_error = set_error(edited(base, {{"volatility = 0.5", "volatility = -1"}}), {"account.balance=1e4"});
    CHECK(file_error.file() == "case.toml");
    CHECK(file_error.line() == 8);
}

TEST_CASE("a key --set cannot place is refused naming the argument") {
    const auto what = [](const std::string& set) { return std::string(set_error(base, {set}).what()); };
    CHECK(what("assets.SOL.volatility=1") ==
          "--set assets.SOL.volatility=1: assets.SOL: no entry of assets has the symbol \"SOL\" (expected an index "
          "such as assets[0], or one of the symbols \"BTC\", \"ETH\")");
    CHECK(what("positions[3].margin=1") ==
          "--set positions[3].margin=1: positions[3]: index out of range: positions has 2 entries (expected an "
          "index below 2, or 2 to add one)");
    CHECK(what("correlation.BTC/SOL=0.5") ==
          "--set correlation.BTC/SOL=0.5: correlation.\"BTC/SOL\": \"BTC/SOL\" does not name two assets in exactly "
          "one way (expected a pair \"A/B\" of two asset symbols among \"BTC\", \"ETH\")");
    CHECK(what("correlation.BTC/BTC=0.5") ==
          "--set correlation.BTC/BTC=0.5: correlation.\"BTC/BTC\": a pair of \"BTC\" with itself: its correlation "
          "is 1 by definition (expected a pair of two different assets)");
    CHECK(what("simulation.horizon_days.x=1") ==
          "--set simulation.horizon_days.x=1: simulation.horizon_days: has no key x: found the integer 7 "
          "(expected a table)");
    CHECK(what("positions[x].margin=1") ==
          "--set positions[x].margin=1: positions[x].margin: not an index: [x] (expected an index [i], i = 0, 1, ...)");
    const auto argument_error = [](const std::string& argument) {
        try {
            parse_override(argument);
        } catch (const InputError& error) {
            return std::string(error.what());
        }
        return std::string("(no error)");
    };
    CHECK(argument_error("simulation.seed") ==
          "--set simulation.seed: no '=' between the key and the value (expected KEY=VALUE, such as "
          "simulation.steps_per_day=288)");
    CHECK(argument_error("=4") == "--set =4: no key before '=' (expected KEY=VALUE, such as simulation.steps_per_day=288)");
    CHECK(argument_error("simulation.seed=") ==
          "--set simulation.seed=: simulation.seed: no value after '=' (expected KEY=VALUE, such as "
          "simulation.steps_per_day=288)");
}

TEST_CASE("a position added by --set, entry by entry, loads like one written in the file") {
    const Scenario added = with_sets(base, {"positions[2].symbol=ETH", "positions[2].side=long", "positions[2].margin=100",
                                            "positions[2].leverage=3", "positions[2].mode=isolated"});
    const Scenario file = parse_scenario(
        base + "[[positions]]\nsymbol = \"ETH\"\nside = \"long\"\nmargin = 100\nleverage = 3\nmode = \"isolated\"\n",
        "case.toml");
    CHECK(content_without_overrides(added) == scenario_content_hash(file));
    CHECK(added.positions.size() == 3);
}

TEST_CASE("run --set reports the numbers of the edited file and names the overrides") {
    const TempDir dir("marginsim_test_overrides");
    const std::string text = small_scenario(0.5, 2000);
    dir.write("s.toml", text);
    dir.write("edited.toml", edited(text, {{"steps_per_day = 24", "steps_per_day = 6"},
                                           {"matrix = [[1.0, 0.7], [0.7, 1.0]]", "matrix = [[1.0, 0.2], [0.2, 1.0]]"},
                                           {"symbol = \"BBB\"\nprice = 20.0\nvolatility = 0.9", "symbol = \"BBB\"\nprice = 20.0\nvolatility = 0.6"}}));
    const auto run = [&dir](const std::string& file, const std::string& rest) {
        return dir.run("run " + shell_quoted(dir / file) + " -q " + rest);
    };
    const CliResult set = run("s.toml", "--json " + shell_quoted(dir / "set.json") +
                                            " --set simulation.steps_per_day=6 --set correlation.AAA/BBB=0.2"
                                            " --set assets.BBB.volatility=0.6");
    INFO(set.err);
    REQUIRE(set.code == 0);
    REQUIRE(run("edited.toml", "--json " + shell_quoted(dir / "edited.json")).code == 0);
    REQUIRE(run("s.toml", "--json " + shell_quoted(dir / "plain.json")).code == 0);
    json a = json::parse(read_all(dir / "set.json"));
    json b = json::parse(read_all(dir / "edited.json"));
    CHECK(a["overrides"] == json{"simulation.steps_per_day=6", "correlation.AAA/BBB=0.2", "assets.BBB.volatility=0.6"});
    CHECK_FALSE(json::parse(read_all(dir / "plain.json")).contains("overrides"));
    for (json* report : {&a, &b}) {
        report->erase("scenario");
        report->erase("overrides");
        (*report)["simulation"].erase("elapsed_s");
    }
    CHECK(a == b);
    CHECK(a["simulation"]["steps_per_day"] == 6);

    // The table says so under its first line.
    const CliResult table = dir.run("run " + shell_quoted(dir / "s.toml") + " --set simulation.steps_per_day=6");
    CHECK_THAT(table.out, Catch::StartsWith("marginsim report: " + (dir / "s.toml").string() +
                                            "\n  --set simulation.steps_per_day=6\n2,000 paths"));

    const CliResult bad = run("s.toml", "--set simulation.steps_per_day=abc");
    CHECK(bad.code == 2);
    CHECK(bad.err ==
          "error: --set simulation.steps_per_day=abc: simulation.steps_per_day: wrong type: found the string \"abc\" "
          "(expected an integer > 0)\n");
}

TEST_CASE("batch applies --set to every scenario and runs again when the overrides change") {
    const TempDir dir("marginsim_test_overrides");
    dir.write("in/a.toml", small_scenario(0.5, 1000));
    dir.write("in/b.toml", small_scenario(0.7, 1000));
    const std::string batch = "batch " + shell_quoted(dir / "in") + " --out " + shell_quoted(dir / "out");
    const CliResult first = dir.run(batch + " --set simulation.steps_per_day=6");
    INFO(first.err);
    REQUIRE(first.code == 0);
    for (const char* name : {"a.json", "b.json"}) {
        const json report = json::parse(read_all(dir / "out" / name));
        CHECK(report["simulation"]["steps_per_day"] == 6);
        CHECK(report["overrides"] == json{"simulation.steps_per_day=6"});
    }
    CHECK_THAT(dir.run(batch + " --set simulation.steps_per_day=6").err, Catch::Contains("0 ran, 2 skipped"));
    CHECK_THAT(dir.run(batch + " --set simulation.steps_per_day=8").err, Catch::Contains("2 ran, 0 skipped"));
    // Without --set the reports must lose their "overrides": they run again.
    CHECK_THAT(dir.run(batch).err, Catch::Contains("2 ran, 0 skipped"));
    CHECK_FALSE(json::parse(read_all(dir / "out" / "a.json")).contains("overrides"));
    // A key no scenario has fails each scenario, named by the argument.
    const CliResult unknown = dir.run(batch + " --set simulation.stepz=6");
    CHECK(unknown.code == 1);
    CHECK_THAT(unknown.err, Catch::Contains("FAILED: --set simulation.stepz=6: simulation.stepz: unknown key"));
}

TEST_CASE("sweep --set sweeps the edited scenario and names the overrides") {
    const TempDir dir("marginsim_test_overrides");
    const std::string text = small_scenario(0.5, 1500);
    const fs::path file = dir.write("s.toml", text);
    const fs::path copy = dir.write("edited.toml", edited(text, {{"balance = 3000", "balance = 4000"}}));
    const auto sweep = [&dir](const fs::path& scenario, const std::string& rest) {
        const CliResult result =
            dir.run("sweep " + shell_quoted(scenario) + " --leverage 0.5,1 -q --json " + shell_quoted(dir / "out.json") + rest);
        INFO(result.err);
        REQUIRE(result.code == 0);
        json out = json::parse(read_all(dir / "out.json"));
        out.erase("scenario");
        out["simulation"].erase("elapsed_s");
        return out;
    };
    json set = sweep(file, " --set account.balance=4000");
    CHECK(set["overrides"] == json{"account.balance=4000"});
    set.erase("overrides");
    CHECK(set == sweep(copy, ""));
    CHECK_FALSE(sweep(file, "").contains("overrides"));
}
