// `marginsim stress` end to end: a hand-made history whose outcome is worked out by hand (a 10x
// long whose liquidation price only the first day's low touches), the JSON, CSV and text it
// writes, --days and its default, the catalogue, and the errors (exit 2, no output file
// written).

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "skip.hpp"

namespace {

using marginsim::testing::CliResult;
using marginsim::testing::csv_rows;
using marginsim::testing::read_all;
using marginsim::testing::shell_quoted;
using marginsim::testing::TempDir;
using Catch::Matchers::Contains;

// A 10,000 account, one 10x long of 1,000 on AAA at 200 (flat 0.5% maintenance): isolated LP
// (10000 - 1000) / (50 * 0.995) = 180.905; the cross LP (10000 - 10000) / ... = 0: none.
const std::string book_toml = R"([simulation]
horizon_days = 2.5
[account]
balance = 10000
[[assets]]
symbol = "AAA"
price = 200
volatility = 0.5
maintenance_margin_rate = 0.005
[[positions]]
symbol = "AAA"
side = "long"
margin = 1000
leverage = 10
mode = "isolated"
)";

// From the close of 2024-01-01 (100): a low of 90 on 01-02 (180 in the book, below the LP),
// closes 95, 93, 96; the book's path is twice the file's.
const std::string history_csv =
    "https://www.CryptoDataDownload.com\n"
    "Unix,Date,Symbol,Open,High,Low,Close\n"
    "0,2024-01-04,AAAUSDT,93,97,92,96\n"
    "0,2024-01-03,AAAUSDT,95,96,92,93\n"
    "0,2024-01-02,AAAUSDT,100,101,90,95\n"
    "0,2024-01-01,AAAUSDT,99,101,98,100\n";

struct Fixture {
    TempDir dir{"stress_cli"};
    Fixture() {
        dir.write("book.toml", book_toml);
        dir.write("history/Binance_AAAUSDT_d.csv", history_csv);
    }
    CliResult stress(const std::string& arguments) const {
        return dir.run("stress " + shell_quoted(dir / "book.toml") + " --history " + shell_quoted(dir / "history") +
                       " " + arguments);
    }
};

}  // namespace

TEST_CASE("stress replays a hand-made history: liquidated at the low, not on the closes", "[stress_cli]") {
    const Fixture f;
    const CliResult result = f.stress("--replay 2024-01-02 --days 2 --json " + shell_quoted(f.dir / "out.json") +
                                      " --csv " + shell_quoted(f.dir / "out.csv"));
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK_THAT(result.out, Contains("isolated: 1 of 1 position liquidated, the first on 2024-01-02 at the lows, "
                                    "loss 1,000.00 (on the closes: no position liquidated, loss 700.00)"));
    CHECK_THAT(result.out, Contains("The true intraday outcome lies between the two"));

    const nlohmann::json json = nlohmann::json::parse(read_all(f.dir / "out.json"));
    CHECK(json["schema"] == "marginsim.stress/1");
    const nlohmann::json& replay = json["replays"].at(0);
    CHECK(replay["start"] == "2024-01-02");
    CHECK(replay["end"] == "2024-01-03");
    CHECK(replay["reference_date"] == "2024-01-01");
    const nlohmann::json& low = replay["outcomes"]["extremes"]["isolated"];
    CHECK(low["loss"].get<double>() == Approx(1000.0));
    CHECK(low["positions"][0]["day"] == 1);
    CHECK(low["positions"][0]["date"] == "2024-01-02");
    CHECK(low["positions"][0]["price"].get<double>() == Approx(9000.0 / (50 * 0.995)).epsilon(1e-12));
    const nlohmann::json& close = replay["outcomes"]["closes"]["isolated"];
    CHECK(close["positions"][0]["liquidated"] == false);
    CHECK(close["loss"].get<double>() == Approx(50 * (200 - 186.0)));  // marked at 2 x 93
    // Cross: the whole 10,000 behind one 10x long: no positive price liquidates it.
    CHECK(replay["outcomes"]["extremes"]["cross"]["positions"][0]["liquidation_price"].is_null());
    CHECK(replay["outcomes"]["extremes"]["cross"]["liquidated_positions"] == 0);

    // One row per basis, mode and position, after the header.
    const auto rows = csv_rows(read_all(f.dir / "out.csv"));
    REQUIRE(rows.size() >= 7);
    CHECK(rows[0][0] == "window");
    std::size_t data_rows = 0;
    for (std::size_t r = 1; r < rows.size(); ++r) data_rows += rows[r].size() == rows[0].size() ? 1 : 0;
    CHECK(data_rows == 2 * 3);
}

TEST_CASE("stress: --days defaults to the horizon rounded up, --format json, -q", "[stress_cli]") {
    const Fixture f;
    const CliResult json = f.stress("--replay 2024-01-02 --format json");
    INFO(json.err);
    REQUIRE(json.code == 0);
    CHECK(nlohmann::json::parse(json.out)["replays"][0]["days"] == 3);  // ceil(2.5)
    const CliResult quiet = f.stress("--replay 2024-01-02 -q");
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
}

TEST_CASE("stress --list prints the catalogue", "[stress_cli]") {
    const TempDir dir("stress_list");
    const CliResult result = dir.run("stress --list");
    REQUIRE(result.code == 0);
    for (const char* name : {"covid-2020-03-12", "may-2021", "luna-2022-05", "ftx-2022-11", "yen-carry-2024-08-05",
                             "2025-10-10"})
        CHECK_THAT(result.out, Contains(name));
}

TEST_CASE("stress errors exit 2 and leave the outputs alone", "[stress_cli]") {
    const Fixture f;
    f.dir.write("out.json", "old");
    const std::string json = " --json " + shell_quoted(f.dir / "out.json");
    struct Case {
        std::string arguments;
        std::string message;
    };
    const std::string history = (f.dir / "history").string();
    const std::vector<Case> cases{
        {"--replay 2024-01-04 --days 3", "AAA has no daily bar for 2024-01-05, after its history: 2024-01-01 .. 2024-01-04"},
        {"--replay 2024-01-01", "AAA has no daily bar for 2023-12-31, before its history"},
        {"--replay covid", "--replay covid: not a date YYYY-MM-DD nor the name of a window of the catalogue"},
        {"--replay all", "no window is covered by the history of every asset of the book"},
        {"", "stress needs --replay DATE|NAME|all"},
        {"--replay 2024-01-02 --days 0", "--days"},
    };
    for (const Case& c : cases) {
        INFO(c.arguments);
        const CliResult result = f.stress(c.arguments + json);
        CHECK(result.code == 2);
        CHECK_THAT(result.err, Contains(c.message));
        CHECK(read_all(f.dir / "out.json") == "old");
    }
    // An asset without a price file: named, with the directory.
    f.dir.write("two.toml", book_toml + "[[assets]]\nsymbol = \"ZZZ\"\nprice = 1\nvolatility = 0.5\n"
                                        "maintenance_margin_rate = 0.01\n[correlation]\nmatrix = [[1, 0], [0, 1]]\n");
    const CliResult missing = f.dir.run("stress " + shell_quoted(f.dir / "two.toml") + " --history " +
                                        shell_quoted(f.dir / "history") + " --replay 2024-01-02" + json);
    CHECK(missing.code == 2);
    CHECK_THAT(missing.err, Contains("no price file for the asset ZZZ in " + history));
    CHECK(read_all(f.dir / "out.json") == "old");
    // An output over a price file is refused.
    const CliResult over = f.stress("--replay 2024-01-02 --json " + shell_quoted(f.dir / "history" / "Binance_AAAUSDT_d.csv"));
    CHECK(over.code == 2);
    CHECK(read_all(f.dir / "history" / "Binance_AAAUSDT_d.csv") == history_csv);
    // --list with a scenario.
    CHECK(f.dir.run("stress --list " + shell_quoted(f.dir / "book.toml")).code == 2);
}

TEST_CASE("stress on the bundled history by default: the catalogue's 2025-10-10", "[stress_cli]") {
    const std::filesystem::path bundled = std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";
    if (!std::filesystem::exists(bundled / "Binance_BTCUSDT_d.csv")) {
        marginsim_skip("no bundled history in " + bundled.string());
        return;
    }
    const std::string seed = std::string(MARGINSIM_SOURCE_DIR) + "/configs/seed_example.toml";
    const TempDir dir("stress_bundled");
    const CliResult result = dir.run("stress " + shell_quoted(seed) + " --replay 2025-10-10 --format json");
    INFO(result.err);
    REQUIRE(result.code == 0);
    const nlohmann::json json = nlohmann::json::parse(result.out);
    const nlohmann::json& replay = json["replays"].at(0);
    CHECK(replay["days"] == 3);  // the catalogue's window, not the horizon
    CHECK(replay["reference_date"] == "2025-10-09");
    // Whatever happened, no mode lost more than it had.
    for (const char* basis : {"closes", "extremes"})
        for (const char* mode : {"isolated", "cross", "as_configured"}) {
            const nlohmann::json& m = replay["outcomes"][basis][mode];
            CHECK(m["loss"].get<double>() <= m["at_risk"].get<double>() + 1e-9);
        }
    // SOL's history starts 2020-08-11: the COVID window cannot be replayed with it.
    const CliResult covid = dir.run("stress " + shell_quoted(seed) + " --replay covid-2020-03-12");
    CHECK(covid.code == 2);
    CHECK_THAT(covid.err, Contains("SOL has no daily bar for 2020-03-11, before its history: 2020-08-11"));
}
