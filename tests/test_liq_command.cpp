// marginsim liq: the panel on stdout, marginsim.liq/1 JSON, --tiers-dir and its errors.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "marginsim/liquidation.hpp"
#include "marginsim/scenario.hpp"
#include "cli_runner.hpp"
#include "scenario_text.hpp"

using namespace marginsim;
using namespace marginsim::testing;

namespace {

const fs::path source_dir = MARGINSIM_SOURCE_DIR;

}  // namespace

TEST_CASE("marginsim liq prints the panel and writes marginsim.liq/1 JSON", "[liquidation][cli]") {
    TempDir dir("marginsim_test_liq_command");
    const fs::path seed = source_dir / "configs" / "seed_example.toml";
    const fs::path json_file = dir.path() / "liq.json";
    const CliResult result = dir.run(std::string("liq ") + shell_quoted(seed) + " --json " + shell_quoted(json_file));
    REQUIRE(result.code == 0);
    CHECK(result.err.empty());
    CHECK_THAT(result.out, Catch::Contains("\nisolated\n"));
    CHECK_THAT(result.out, Catch::Contains("\ncross\n"));
    CHECK_THAT(result.out, Catch::Contains("\nas_configured\n"));
    CHECK_THAT(result.out, Catch::Contains("BTC: binance-usdm/BTCUSDT"));
    // BTC isolated at 10x, first bracket 0.4 %: 66,797.37 * 0.9 / 0.996 = 60,359.07.
    CHECK_THAT(result.out, Catch::Contains("60,359.07"));

    const nlohmann::json json = nlohmann::json::parse(read_all(json_file));
    CHECK(json["schema"] == "marginsim.liq/1");
    CHECK(json["scenario"] == seed.string());
    const nlohmann::json& btc = json["modes"]["isolated"][0];
    CHECK(btc["liquidation_price"].get<double>() == Approx(66797.37 * 0.9 / 0.996).epsilon(1e-14));
    CHECK(btc["margin_ratio"].get<double>() == Approx(80.0 / 2000.0));
    // Same numbers as the library's panel, and as the run report's positions.
    const LiquidationPanel panel = liquidation_panel(load_scenario(seed));
    for (MarginMode mode : all_modes) {
        for (std::size_t j = 0; j < 3; ++j) {
            INFO(to_string(mode) << " " << j);
            const LiquidationRow& row = panel.modes[mode_index(mode)].rows[j];
            const nlohmann::json& item = json["modes"][std::string(to_string(mode))][j];
            CHECK(item["symbol"] == row.symbol);
            CHECK(item["mode"] == std::string(to_string(row.mode)));
            CHECK(item["liquidation_price"].get<double>() == *row.liquidation_price);
        }
    }
}

TEST_CASE("marginsim liq --tiers-dir and its errors", "[liquidation][cli]") {
    TempDir dir("marginsim_test_liq_command");
    const fs::path scenario = dir.write("s.toml", one_position("\"mine/BTC\""));
    dir.write("tables/mine/BTC.toml", "tiers = [ { rate = 0.01 } ]\n");

    const CliResult missing = dir.run(std::string("liq ") + shell_quoted(scenario));
    CHECK(missing.code == 2);
    CHECK_THAT(missing.err, Catch::Contains("assets[0].tiers: tier table \"mine/BTC\" not found"));

    const CliResult found =
        dir.run(std::string("liq ") + shell_quoted(scenario) + " --tiers-dir " + shell_quoted(dir.path() / "tables"));
    CHECK(found.code == 0);
    // Isolated long, 10x, MMR 1 %: 60,000 * 0.9 / 0.99 = 54,545.45.
    CHECK_THAT(found.out, Catch::Contains("54,545.45"));

    const CliResult unwritable =
        dir.run(std::string("liq ") + shell_quoted(scenario) + " --tiers-dir " + shell_quoted(dir.path() / "tables") +
                         " --json " + shell_quoted(dir.path() / "no-such-dir" / "x.json"));
    CHECK(unwritable.code == 2);  // an unusable output path is bad usage
    CHECK_THAT(unwritable.err, Catch::StartsWith("error: "));
}
