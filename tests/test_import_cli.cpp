// marginsim import binance end to end: the scenario file written, `marginsim liq` on it giving
// Binance's liquidation prices to the cent, bad exports refused with exit 2 and no file.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "binance_books.hpp"

using namespace marginsim;
using namespace marginsim::testing;

namespace {

std::string import_arguments(const BinanceExportFiles& files, const fs::path& out) {
    return "import binance --account " + shell_quoted(files.account) + " --positions " +
           shell_quoted(files.positions) + " --brackets " + shell_quoted(files.brackets) + " --out " +
           shell_quoted(out);
}

}  // namespace

TEST_CASE("import binance writes a scenario on which liq gives Binance's prices", "[import][cli]") {
    TempDir dir("marginsim_test_import_cli");
    const TestAccount account = one_way_book();
    const BinanceExportFiles files = write_exports(dir, account);
    const fs::path out = dir / "account.toml";
    // The default history is the bundled data/binance_daily.
    const CliResult imported = dir.run(import_arguments(files, out));
    INFO(imported.err);
    REQUIRE(imported.code == 0);
    CHECK_THAT(imported.out, Catch::Contains("2 positions imported into"));
    CHECK_THAT(imported.out, Catch::Contains("not imported: positions[1] XRPUSDT"));
    CHECK_THAT(read_all(out), Catch::Contains("data/binance_daily"));

    const CliResult liq = dir.run("liq " + shell_quoted(out) + " --json -");
    REQUIRE(liq.code == 0);
    const nlohmann::json panel = nlohmann::json::parse(liq.out);
    const nlohmann::json& rows = panel["modes"]["as_configured"];
    REQUIRE(rows.size() == 2);
    const double btc = *binance_liquidation_price(account, 0);
    const double sol = *binance_liquidation_price(account, 2);
    CHECK(std::abs(rows[0]["liquidation_price"].get<double>() - btc) < 0.005);
    CHECK(std::abs(rows[1]["liquidation_price"].get<double>() - sol) < 0.005);
}

TEST_CASE("import binance: --history, and bad exports exit 2 leaving no file", "[import][cli][errors]") {
    TempDir dir("marginsim_test_import_cli");
    const TestAccount account = hedge_book();
    const BinanceExportFiles files = write_exports(dir, account);
    const fs::path out = dir / "account.toml";

    // A history directory holding ETH only: BTC has none.
    fs::create_directories(dir / "history");
    fs::copy_file(bundled_history / "Binance_ETHUSDT_d.csv", dir / "history" / "Binance_ETHUSDT_d.csv");
    CliResult result = dir.run(import_arguments(files, out) + " --history " + shell_quoted(dir / "history"));
    CHECK(result.code == 2);
    CHECK_THAT(result.err, Catch::Contains("no daily price history for BTC (BTCUSDT)"));
    CHECK_FALSE(fs::exists(out));
    fs::copy_file(bundled_history / "Binance_BTCUSDT_d.csv", dir / "history" / "Binance_BTCUSDT_d.csv");
    result = dir.run(import_arguments(files, out) + " --history " + shell_quoted(dir / "history") + " --window 90");
    CHECK(result.code == 0);
    CHECK_THAT(read_all(out), Catch::Contains("(90 calendar days up to the last common date)"));
    fs::remove(out);

    dir.write("positionRisk.json", "[{\"symbol\": \"ETHUSDT\", \"positionAmt\": \"1\"}]");
    result = dir.run(import_arguments(files, out));
    CHECK(result.code == 2);
    CHECK_THAT(result.err, Catch::Contains("positionRisk.json: positions[0].marginType: missing"));
    CHECK_FALSE(fs::exists(out));

    // An output over an input is refused before anything is read.
    result = dir.run(import_arguments(files, files.account));
    CHECK(result.code == 2);
    CHECK(result.err.find("--out") != std::string::npos);
}
