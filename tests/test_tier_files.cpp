// Bundled tier tables and tier references (docs/scenario-format.md): the published brackets,
// where a reference is looked up, and errors and warnings that point into the tier file.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "cli_runner.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using marginsim::testing::one_position;
using marginsim::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = MARGINSIM_SOURCE_DIR;
const fs::path bundled_tiers = source_dir / "configs" / "exchanges";

InputError load_error(const fs::path& file, const LoadOptions& options = {}) {
    try {
        load_scenario(file, options);
    } catch (const InputError& error) {
        return error;
    }
    FAIL("expected an InputError loading " << file);
    throw;  // unreachable
}

// Amounts continuous across tiers: amount_k = amount_(k-1) + cap_(k-1) (rate_k - rate_(k-1)).
void check_continuous(const std::vector<Tier>& tiers) {
    for (std::size_t k = 1; k < tiers.size(); ++k) {
        const double expected = tiers[k - 1].amount +
                                tiers[k - 1].notional_cap * (tiers[k].rate - tiers[k - 1].rate);
        CHECK(tiers[k].amount == Approx(expected).margin(1e-6));
    }
}

struct PublishedTier {
    double cap;
    double rate;
    double amount;
    double max_leverage;
};

}  // namespace

TEST_CASE("the bundled Binance tables hold the published brackets", "[liquidation][tiers]") {
    // First, second and last brackets of Binance's /fapi/v1/leverageBracket output as cited in
    // each file (notionalCap, maintMarginRatio, cum, initialLeverage).
    struct Expected {
        std::string reference;
        std::size_t count;
        std::vector<PublishedTier> picked;  // tiers 0, 1 and the last
    };
    const std::vector<Expected> tables{
        {"binance-usdm/BTCUSDT",
         12,
         {{300000, 0.004, 0, 150}, {800000, 0.005, 300, 100}, {1.8e9, 0.5, 421482000, 1}}},
        {"binance-usdm/ETHUSDT",
         12,
         {{300000, 0.004, 0, 150}, {800000, 0.005, 300, 100}, {1.2e9, 0.5, 280507000, 1}}},
        {"binance-usdm/SOLUSDT",
         10,
         {{50000, 0.005, 0, 100}, {400000, 0.0065, 75, 75}, {4e8, 0.5, 66731475, 1}}},
    };
    TempDir dir("marginsim_test_tier_files");
    for (const Expected& expected : tables) {
        INFO(expected.reference);
        const fs::path scenario =
            dir.write("s.toml", one_position("\"" + expected.reference + "\"", 100, 1000, 10));
        const Scenario s = load_scenario(scenario, LoadOptions{bundled_tiers});
        CHECK(s.warnings.empty());
        CHECK(s.assets[0].tier_table == expected.reference);
        const std::vector<Tier>& tiers = s.assets[0].tiers;
        REQUIRE(tiers.size() == expected.count);
        const std::vector<std::size_t> at{0, 1, tiers.size() - 1};
        for (std::size_t i = 0; i < at.size(); ++i) {
            const Tier& tier = tiers[at[i]];
            CHECK(tier.notional_cap == expected.picked[i].cap);
            CHECK(tier.rate == expected.picked[i].rate);
            CHECK(tier.amount == expected.picked[i].amount);
            REQUIRE(tier.max_leverage.has_value());
            CHECK(*tier.max_leverage == expected.picked[i].max_leverage);
        }
        // Binance's cum is the continuous maintenance amount: every given amount matches it.
        check_continuous(tiers);
    }
}

TEST_CASE("a tier reference is looked up in --tiers-dir then next to the scenario",
          "[liquidation][tiers]") {
    TempDir dir("marginsim_test_tier_files");
    const std::string table_a = "tiers = [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.01 } ]\n";
    const std::string table_b = "tiers = [ { rate = 0.02 } ]\n";
    const fs::path scenario = dir.write("run/s.toml", one_position("\"x/BTC\""));
    dir.write("run/exchanges/x/BTC.toml", table_b);
    dir.write("elsewhere/x/BTC.toml", table_a);

    // Without --tiers-dir: the exchanges directory next to the scenario.
    const Scenario beside = load_scenario(scenario);
    REQUIRE(beside.assets[0].tiers.size() == 1);
    CHECK(beside.assets[0].tiers[0].rate == 0.02);
    // --tiers-dir comes first.
    const Scenario first = load_scenario(scenario, LoadOptions{dir.path() / "elsewhere"});
    REQUIRE(first.assets[0].tiers.size() == 2);
    CHECK(first.assets[0].tiers[1].amount == Approx(50000 * (0.01 - 0.004)));  // derived
    // A --tiers-dir without the file falls back to the scenario's directory.
    const Scenario fallback = load_scenario(scenario, LoadOptions{dir.path() / "empty"});
    CHECK(fallback.assets[0].tiers[0].rate == 0.02);
    // parse_scenario resolves next to its source name.
    const Scenario parsed =
        parse_scenario(one_position("\"x/BTC\""), (dir.path() / "run" / "inline.toml").string());
    CHECK(parsed.assets[0].tiers[0].rate == 0.02);
}

TEST_CASE("a tier reference that is not found names the reference, the paths tried and the key",
          "[liquidation][tiers]") {
    TempDir dir("marginsim_test_tier_files");
    const fs::path scenario = dir.write("s.toml", one_position("\"binance-usdm/BTCUSDC\""));
    const InputError error = load_error(scenario, LoadOptions{dir.path() / "tiers"});
    CHECK(error.file() == scenario.string());
    CHECK(error.line() == 9);  // tiers = "..." in one_position()
    CHECK(error.column() == 9);
    CHECK(error.key() == "assets[0].tiers");
    const std::string tried_first = (dir.path() / "tiers/binance-usdm/BTCUSDC.toml").string();
    const std::string tried_second =
        (dir.path() / "exchanges/binance-usdm/BTCUSDC.toml").string();
    CHECK(error.message() == "tier table \"binance-usdm/BTCUSDC\" not found: tried " +
                                 tried_first + ", " + tried_second);
}

TEST_CASE("a tier reference may not leave its directories", "[liquidation][tiers]") {
    TempDir dir("marginsim_test_tier_files");
    for (const std::string bad : {"../BTC", "/etc/x", "a//b", "a/./b", "", "b c"}) {
        INFO(bad);
        const fs::path scenario = dir.write("s.toml", one_position("\"" + bad + "\""));
        const InputError error = load_error(scenario);
        CHECK(error.key() == "assets[0].tiers");
        CHECK(error.message() == "not a tier table reference: \"" + bad + "\"");
    }
}

TEST_CASE("errors and warnings of a tier file point into the tier file", "[liquidation][tiers]") {
    TempDir dir("marginsim_test_tier_files");
    const fs::path scenario = dir.write("s.toml", one_position("\"t/BTC\""));
    // Where a check is not made: no line, column or key.
    struct Expected {
        const char* name;
        const char* table;  // the tier file's text
        std::optional<std::size_t> line;
        std::optional<std::size_t> column;
        std::optional<std::string> key;
        std::string message;
        bool message_is_prefix = false;
    };
    const std::vector<Expected> cases{
        {"a rate below the previous one",
         "# comment\ntiers = [\n  { notional_cap = 50000, rate = 0.01 },\n"
         "  { notional_cap = 250000, rate = 0.005 },\n]\n",
         4, 35, "tiers[1].rate", "below the previous tier's rate: found 0.005, the previous rate is 0.01"},
        {"an unknown key", "tiers = [ { rate = 0.004 } ]\nsymbol = \"BTC\"\n", 2, {}, "symbol", "unknown key"},
        {"no tiers", "# nothing\n", {}, {}, "tiers", "missing required key"},
        {"a TOML syntax error", "tiers = [ { rate = } ]\n", 1, {}, {}, "TOML syntax error: ", true},
    };
    for (const Expected& c : cases) {
        INFO(c.name);
        const fs::path table = dir.write("exchanges/t/BTC.toml", c.table);
        const InputError error = load_error(scenario);
        CHECK(error.file() == table.string());
        if (c.line) CHECK(error.line() == *c.line);
        if (c.column) CHECK(error.column() == *c.column);
        if (c.key) CHECK(error.key() == *c.key);
        if (c.message_is_prefix) {
            CHECK(error.message().rfind(c.message, 0) == 0);
        } else {
            CHECK(error.message() == c.message);
        }
    }
    SECTION("an amount that breaks continuity is a warning located in the tier file") {
        const fs::path table = dir.write(
            "exchanges/t/BTC.toml",
            "tiers = [\n  { notional_cap = 50000, rate = 0.004 },\n"
            "  { notional_cap = 250000, rate = 0.005, amount = 60 },\n  { rate = 0.01 },\n]\n");
        const Scenario s = load_scenario(scenario);
        REQUIRE(s.warnings.size() == 1);
        CHECK(s.warnings[0] == table.string() +
                                   ":3:51: tiers[1].amount = 60 breaks continuity of the BTC "
                                   "maintenance margin: the continuous value is 50");
        CHECK(s.assets[0].tiers[1].amount == 60);
        CHECK(s.assets[0].tiers[2].amount == Approx(60 + 250000 * 0.005));  // from the given 60
    }
}

TEST_CASE("a position above the max_leverage of a referenced tier names the table and the tier",
          "[liquidation][tiers]") {
    TempDir dir("marginsim_test_tier_files");
    // 20,000 notional at 125x is in BTCUSDT's first bracket (150x): allowed. 420,000 at 120x
    // is in the second (100x): refused.
    const fs::path ok = dir.write("ok.toml", one_position("\"binance-usdm/BTCUSDT\"", 60000,
                                                          160, 125));
    CHECK_NOTHROW(load_scenario(ok, LoadOptions{bundled_tiers}));
    const fs::path bad =
        dir.write("bad.toml", one_position("\"binance-usdm/BTCUSDT\"", 60000, 3500, 120));
    const InputError error = load_error(bad, LoadOptions{bundled_tiers});
    CHECK(error.key() == "positions[0]");
    CHECK(error.message() ==
          "leverage 120 exceeds max_leverage 100 of tiers[1] of \"binance-usdm/BTCUSDT\" "
          "(assets[0].tiers), the BTC tier holding its notional at entry 420000");
}

TEST_CASE("the seed example uses the bundled tables and still loads without warnings",
          "[liquidation][tiers]") {
    const Scenario s = load_scenario(source_dir / "configs" / "seed_example.toml");
    CHECK(s.warnings.empty());
    REQUIRE(s.asset_count() == 3);
    CHECK(s.assets[0].tier_table == "binance-usdm/BTCUSDT");
    CHECK(s.assets[1].tier_table == "binance-usdm/ETHUSDT");
    CHECK(s.assets[2].tier_table == "binance-usdm/SOLUSDT");
    // 20,000 USDT notionals: first brackets.
    CHECK(maintenance_margin(s.assets[0].tiers, 20000) == Approx(80));
    CHECK(maintenance_margin(s.assets[1].tiers, 20000) == Approx(80));
    CHECK(maintenance_margin(s.assets[2].tiers, 20000) == Approx(100));
}
