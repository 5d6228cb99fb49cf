// `marginsim calibrate PRICES... --into SCENARIO`: the book's market updated in place from
// hand-made price files; everything else byte for byte; idempotent; refused cases leave the
// file untouched.

#include "calibrate_fixtures.hpp"
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

const std::filesystem::path source_dir(MARGINSIM_SOURCE_DIR);

// BTC, ETH and SOL (the seed book's assets) and ADA (not in it): 400 days of random walks.
void write_prices(const std::filesystem::path& dir) {
    const std::vector<std::pair<std::string, double>> assets{{"BTC", 0.03}, {"ETH", 0.04}, {"SOL", 0.05}, {"ADA", 0.045}};
    std::uint64_t seed = 11;
    for (const auto& [symbol, sd] : assets) {
        std::ofstream(dir / (symbol + ".csv")) << ordered_csv(random_walk(date(2024, 1, 1), 400, sd, seed++));
    }
}

std::string prices(const std::filesystem::path& dir, const std::vector<std::string>& symbols) {
    std::string out;
    for (const std::string& s : symbols) out += fmt::format(" {}", shell_quoted(dir / (s + ".csv")));
    return out;
}

CliResult calibrate_into(const std::filesystem::path& dir, const std::vector<std::string>& symbols,
                         const std::string& options) {
    return run_shell(std::string(MARGINSIM_CLI) + " calibrate" + prices(dir, symbols) + " --into " +
                         shell_quoted(dir / "book.toml") + " --tiers-dir " +
                         shell_quoted(source_dir / "configs" / "exchanges") + " " + options,
                     dir / "out", dir / "err");
}

// The text from `from` (included) up to `to` (excluded; the end when empty).
std::string between(const std::string& text, const std::string& from, const std::string& to) {
    const std::size_t begin = text.find(from);
    REQUIRE(begin != std::string::npos);
    const std::size_t end = to.empty() ? text.size() : text.find(to, begin + from.size());
    REQUIRE(end != std::string::npos);
    return text.substr(begin, end - begin);
}

double rounded(double value, int decimals) {
    const double scale = std::pow(10.0, decimals);
    return std::round(value * scale) / scale;
}

LoadOptions seed_tiers() { return LoadOptions{source_dir / "configs" / "exchanges"}; }

}  // namespace

TEST_CASE("calibrate --into updates the seed book's market in place and keeps every other byte", "[calibrate]") {
    TempDir dir("marginsim_calibrate_into");
    write_prices(dir.path());
    const std::string original = read_all(source_dir / "configs" / "seed_example.toml");
    std::ofstream(dir.path() / "book.toml") << original;

    const CliResult ok = calibrate_into(dir.path(), {"BTC", "ETH", "SOL", "ADA"},
                                        "--model garch --json " + shell_quoted(dir.path() / "cal.json"));
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    CHECK(ok.out.find("ignored (not in the book): ADA") != std::string::npos);
    CHECK(ok.out.find("model gaussian -> garch") != std::string::npos);
    const std::string updated = read_all(dir.path() / "book.toml");

    // The header comments, [account], [liquidation] and the tier comments, and the positions:
    // byte for byte.
    CHECK(between(updated, "", "[simulation]") == between(original, "", "[simulation]"));
    CHECK(between(updated, "[account]", "[[assets]]") == between(original, "[account]", "[[assets]]"));
    CHECK(updated.find(between(original, "[[positions]]", "")) != std::string::npos);

    // The volatilities: today's GARCH volatility of the JSON, as the snippet rounds it; the
    // GARCH parameters; the model; the result loads.
    const nlohmann::json json = nlohmann::json::parse(read_all(dir.path() / "cal.json"));
    REQUIRE(json["assets"].size() == 3);  // calibrated on the book's assets only
    const Scenario book = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(book.simulation.model == PriceModel::garch);
    REQUIRE(book.assets.size() == 3);
    REQUIRE(book.garch.assets.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const nlohmann::json& asset = json["assets"][i];
        INFO(asset["symbol"]);
        CHECK(asset["symbol"] == book.assets[i].symbol);
        CHECK(book.assets[i].volatility == rounded(asset["garch"]["start_volatility"].get<double>(), 4));
        CHECK(book.garch.assets[i].omega == Approx(asset["garch"]["omega"].get<double>()).epsilon(1e-5));
        CHECK(book.garch.assets[i].alpha == Approx(asset["garch"]["alpha"].get<double>()).margin(5e-5));
    }
    // The position set is the original's.
    const Scenario before = parse_scenario(original, (source_dir / "configs" / "seed_example.toml").string());
    REQUIRE(book.positions.size() == before.positions.size());
    for (std::size_t j = 0; j < book.positions.size(); ++j) CHECK(book.positions[j].margin == before.positions[j].margin);

    // A second --into with the same prices changes nothing.
    const CliResult again = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model garch");
    REQUIRE(again.code == 0);
    CHECK(read_all(dir.path() / "book.toml") == updated);

    // Back to the sample estimates: the sample volatilities of the JSON, [garch] and dof gone.
    const CliResult gaussian = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model gaussian");
    REQUIRE(gaussian.code == 0);
    const Scenario plain = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(plain.simulation.model == PriceModel::gaussian);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(plain.assets[i].volatility == rounded(json["assets"][i]["volatility"]["estimate"].get<double>(), 4));
    }
    const std::string reverted = read_all(dir.path() / "book.toml");
    CHECK(reverted.find("[garch]") == std::string::npos);
    CHECK(reverted.find("dof =") == std::string::npos);
}

TEST_CASE("calibrate --into keeps the comments of a book with a [garch] table and replaces the table",
          "[calibrate]") {
    TempDir dir("marginsim_calibrate_into_garch");
    write_prices(dir.path());
    const std::string original = R"(# A two-asset book with comments everywhere.
[simulation]  # the run
horizon_days = 3
model = "garch"  # clustering
dof = 6.5        # fat tails
seed = 7

# The account.
[account]
balance = 5000

[[assets]]
symbol = "BTC"   # bitcoin
price = 100
volatility = 0.5  # old guess
maintenance_margin_rate = 0.005

[[assets]]
symbol = "ETH"
price = 100
volatility = 0.7
maintenance_margin_rate = 0.005

# Guessed parameters, to be calibrated.
[garch]
innovations = "student_t"
BTC = { omega = 0.0001, alpha = 0.1, beta = 0.8 }
ETH = { omega = 0.0002, alpha = 0.1, beta = 0.8 }
# after the garch table

[correlation]
matrix = [[1.0, 0.5], [0.5, 1.0]]

[[positions]]  # the only position
symbol = "BTC"
side = "long"
margin = 100
leverage = 5
)";
    std::ofstream(dir.path() / "book.toml") << original;
    // No --model: the book's own (garch).
    const CliResult ok = calibrate_into(dir.path(), {"ETH", "BTC"}, "");
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    const std::string updated = read_all(dir.path() / "book.toml");
    for (const std::string& kept : std::vector<std::string>{"# A two-asset book with comments everywhere.\n[simulation]  # the run\n",
                                   "model = \"garch\"  # clustering\n", "# The account.\n[account]\nbalance = 5000\n",
                                   "symbol = \"BTC\"   # bitcoin\n", "volatility = 0.", "# Guessed parameters, to be calibrated.\n",
                                   "# after the garch table\n", between(original, "[[positions]]", "")}) {
        INFO(kept);
        CHECK(updated.find(kept) != std::string::npos);
    }
    CHECK(updated.find("omega = 0.0001,") == std::string::npos);  // the guessed table is replaced
    CHECK(updated.find("dof = 6.5") == std::string::npos);
    const Scenario book = load_scenario(dir.path() / "book.toml");
    CHECK(book.simulation.model == PriceModel::garch);
    CHECK(book.garch.assets.size() == 2);
    CHECK(book.assets[0].volatility != 0.5);
    // In the book's order (BTC, ETH) although the files came ETH, BTC.
    CHECK(book.assets[0].symbol == "BTC");
    const CliResult again = calibrate_into(dir.path(), {"BTC", "ETH"}, "");
    REQUIRE(again.code == 0);
    CHECK(read_all(dir.path() / "book.toml") == updated);
}

TEST_CASE("calibrate --into refuses a book asset without a price file and leaves the file untouched",
          "[calibrate]") {
    TempDir dir("marginsim_calibrate_into_missing");
    write_prices(dir.path());
    const std::string original = read_all(source_dir / "configs" / "seed_example.toml");
    std::ofstream(dir.path() / "book.toml") << original;
    const CliResult missing = calibrate_into(dir.path(), {"BTC", "ETH"}, "--model garch");
    CHECK(missing.code == 2);
    CHECK(missing.err.find("asset SOL has no price file") != std::string::npos);
    CHECK(missing.err.find("book.toml") != std::string::npos);
    CHECK(read_all(dir.path() / "book.toml") == original);

}

TEST_CASE("calibrate --into keeps a book's jumps on top of the calibrated diffusion", "[calibrate]") {
    // The jumps are not calibrated: model = "jump" (gaussian with jumps) becomes the new model
    // with jumps = true, and [jumps] stays byte for byte.
    TempDir dir("marginsim_calibrate_into_jumps");
    write_prices(dir.path());
    const std::string original = read_all(source_dir / "configs" / "seed_example_jump.toml");
    std::ofstream(dir.path() / "book.toml") << original;
    const CliResult ok = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model gaussian");
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    CHECK(ok.out.find("kept [jumps]") != std::string::npos);
    const std::string updated = read_all(dir.path() / "book.toml");
    CHECK(between(updated, "[jumps]", "\n[") == between(original, "[jumps]", "\n["));
    const Scenario book = load_scenario(dir.path() / "book.toml", seed_tiers());
    const Scenario before = load_scenario(source_dir / "configs" / "seed_example_jump.toml", seed_tiers());
    CHECK(book.simulation.model == PriceModel::gaussian);
    CHECK(book.simulation.jumps);
    CHECK(book.jumps.intensity == before.jumps.intensity);
    // A second run changes nothing; a book with jumps = true keeps them the same way.
    REQUIRE(calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model gaussian").code == 0);
    CHECK(read_all(dir.path() / "book.toml") == updated);
    REQUIRE(calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model garch").code == 0);
    const Scenario garch = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(garch.simulation.model == PriceModel::garch);
    CHECK(garch.simulation.jumps);
}

TEST_CASE("calibrate --into --model jump calibrates a book's [jumps] and keeps its idiosyncratic jumps",
          "[calibrate][jumps]") {
    TempDir dir("marginsim_calibrate_into_jump_fit");
    for (const std::string symbol : {"BTC", "ETH", "SOL"}) {
        std::filesystem::copy_file(source_dir / "data" / "binance_daily" / ("Binance_" + symbol + "USDT_d.csv"),
                                   dir.path() / (symbol + ".csv"));
    }
    const std::string idiosyncratic = "\n[jumps.idiosyncratic.SOL]\nintensity = 2.0\nmean = -0.08\nvol = 0.05\n";
    std::ofstream(dir.path() / "book.toml") << read_all(source_dir / "configs" / "seed_example_jump.toml")
                                            << idiosyncratic;
    const CliResult ok =
        calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model jump --json " + shell_quoted(dir.path() / "cal.json"));
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    CHECK(ok.out.find("kept [jumps]") == std::string::npos);
    const std::string updated = read_all(dir.path() / "book.toml");
    CHECK(updated.find(idiosyncratic) != std::string::npos);
    const nlohmann::json json = nlohmann::json::parse(read_all(dir.path() / "cal.json"));
    const nlohmann::json& jumps = json["jumps"];
    const Scenario book = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(book.simulation.model == PriceModel::jump);
    CHECK(book.jumps.intensity == rounded(jumps["intensity"]["estimate"].get<double>(), 2));
    for (std::size_t i = 0; i < 3; ++i) {
        const nlohmann::json& asset = jumps["assets"][book.assets[i].symbol];
        CHECK(book.jumps.market[i].mean == rounded(asset["mean"]["estimate"].get<double>(), 4));
        CHECK(book.jumps.market[i].vol == rounded(asset["vol"]["estimate"].get<double>(), 4));
        CHECK(book.assets[i].volatility == rounded(asset["diffusion_volatility"].get<double>(), 4));
    }
    CHECK(book.jumps.idiosyncratic_intensity[2] == 2.0);
    CHECK(book.jumps.idiosyncratic[2].mean == -0.08);
    // The book's model, jump, is what a second run without --model calibrates: nothing changes.
    REQUIRE(calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "").code == 0);
    CHECK(read_all(dir.path() / "book.toml") == updated);

    // Written inline in [jumps] instead, the idiosyncratic jumps are kept too, as written.
    const std::string original = read_all(source_dir / "configs" / "seed_example_jump.toml");
    const std::size_t jumps_header = original.find("\n[jumps]\n");
    REQUIRE(jumps_header != std::string::npos);
    const std::string inline_line = "idiosyncratic = { SOL = { intensity = 2.0, mean = -0.08, vol = 0.05 } }  # SOL's own\n";
    std::string inline_book = original;
    inline_book.insert(jumps_header + std::string("\n[jumps]\n").size(), inline_line);
    std::ofstream(dir.path() / "book.toml") << inline_book;
    REQUIRE(parse_scenario(inline_book, (source_dir / "configs" / "book.toml").string()).jumps.idiosyncratic_intensity[2] == 2.0);
    const CliResult inline_ok = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model jump");
    INFO(inline_ok.err);
    REQUIRE(inline_ok.code == 0);
    CHECK(read_all(dir.path() / "book.toml").find(inline_line) != std::string::npos);
    const Scenario inline_after = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(inline_after.jumps.idiosyncratic_intensity[2] == 2.0);
    CHECK(inline_after.jumps.idiosyncratic[2].vol == 0.05);
    CHECK(inline_after.jumps.intensity == book.jumps.intensity);
}

TEST_CASE("calibrate --into refuses a model table whose subtables lie apart, and leaves the file untouched",
          "[calibrate]") {
    // [regime.stress] after the [[positions]]: valid TOML, but replacing [regime] with its
    // subtables in one piece would take the positions with it.
    TempDir dir("marginsim_calibrate_into_apart");
    write_prices(dir.path());
    const std::string regime = read_all(source_dir / "configs" / "seed_example_regime.toml");
    const std::size_t stress = regime.find("[regime.stress]");
    const std::size_t positions = regime.find("[[positions]]");
    REQUIRE(stress != std::string::npos);
    REQUIRE(positions > stress);
    const std::string book =
        regime.substr(0, stress) + regime.substr(positions) + "\n" + regime.substr(stress, positions - stress);
    std::ofstream(dir.path() / "book.toml") << book;
    REQUIRE_NOTHROW(load_scenario(dir.path() / "book.toml", seed_tiers()));
    for (const std::string model : {"regime", "gaussian"}) {
        const CliResult refused = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model " + model);
        INFO(refused.err);
        CHECK(refused.code == 2);
        CHECK(refused.err.find("[regime] and its subtables are apart") != std::string::npos);
        CHECK(refused.err.find("book.toml") != std::string::npos);
        CHECK(read_all(dir.path() / "book.toml") == book);
    }
}

TEST_CASE("calibrate --into an fhs book with --filter garch writes [fhs] filter = \"garch\" and the [garch] recursions",
          "[calibrate]") {
    TempDir dir("marginsim_calibrate_into_fhs");
    write_prices(dir.path());
    std::filesystem::copy_file(source_dir / "configs" / "seed_example_fhs_residuals.csv",
                               dir.path() / "seed_example_fhs_residuals.csv");
    std::ofstream(dir.path() / "book.toml") << read_all(source_dir / "configs" / "seed_example_fhs.toml");
    // No --model: the book's own (fhs), under the garch filter.
    const CliResult ok = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"},
                                        "--filter garch --json " + shell_quoted(dir.path() / "cal.json"));
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    const std::string updated = read_all(dir.path() / "book.toml");
    const nlohmann::json json = nlohmann::json::parse(read_all(dir.path() / "cal.json"));
    REQUIRE(json["fhs"]["filter"] == "garch");
    const toml::table table = toml::parse(updated);
    CHECK(table["fhs"]["filter"].value_or(std::string()) == "garch");
    CHECK_FALSE(table["fhs"]["lambda"]);
    CHECK(table["fhs"]["residuals"].is_table());  // the calibrated set, embedded
    const Scenario book = load_scenario(dir.path() / "book.toml", seed_tiers());
    REQUIRE(book.simulation.model == PriceModel::fhs);
    CHECK(book.fhs.filter == FhsFilter::garch);
    REQUIRE(book.fhs.days() == json["fhs"]["days"].get<std::size_t>());
    for (std::size_t i = 0; i < 3; ++i) {
        const nlohmann::json& g = json["assets"][i]["garch"];
        const std::string symbol = book.assets[i].symbol;
        REQUIRE(json["assets"][i]["symbol"] == symbol);
        CHECK(book.fhs.assets[i].omega == Approx(g["omega"].get<double>()).epsilon(1e-5));
        CHECK(book.fhs.assets[i].alpha == Approx(g["alpha"].get<double>()).margin(5e-5));
        CHECK(book.fhs.assets[i].beta == Approx(g["beta"].get<double>()).margin(5e-5));
        CHECK(book.assets[i].volatility == rounded(json["fhs"]["start_volatility"][symbol].get<double>(), 4));
        CHECK(book.fhs.residuals[i] == Approx(json["fhs"]["residuals"][symbol][0].get<double>()).epsilon(1e-7));
    }
    // Again without --filter: the book's filter is kept, nothing changes.
    REQUIRE(calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "").code == 0);
    CHECK(read_all(dir.path() / "book.toml") == updated);
    // Back to the EWMA filter: [garch] goes (fhs with filter ewma refuses it), lambda comes.
    const CliResult ewma = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model fhs --filter ewma");
    REQUIRE(ewma.code == 0);
    CHECK(ewma.out.find("removed [garch]") != std::string::npos);
    const Scenario ewma_book = load_scenario(dir.path() / "book.toml", seed_tiers());
    CHECK(ewma_book.fhs.filter == FhsFilter::ewma);
    CHECK(ewma_book.fhs.lambda == 0.94);
    CHECK(read_all(dir.path() / "book.toml").find("[garch]") == std::string::npos);
    // To the garch model: [fhs] goes, [garch] comes with its innovations.
    const CliResult garch = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model garch");
    REQUIRE(garch.code == 0);
    CHECK(garch.out.find("removed [fhs]") != std::string::npos);
    CHECK(load_scenario(dir.path() / "book.toml", seed_tiers()).simulation.model == PriceModel::garch);
    // --filter with a book, or a --model, other than fhs is refused, the book untouched.
    const std::string before = read_all(dir.path() / "book.toml");
    const CliResult refused = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--filter garch");
    CHECK(refused.code == 2);
    CHECK(refused.err.find("--filter is only used with --model fhs") != std::string::npos);
    CHECK(read_all(dir.path() / "book.toml") == before);
}

TEST_CASE("calibrate --into updates the returns of a book's uncertainty table and takes the table out under the "
          "regime model",
          "[calibrate]") {
    TempDir dir("marginsim_calibrate_into_uncertainty");
    write_prices(dir.path());
    const std::string original = read_all(source_dir / "configs" / "seed_example.toml") +
                                 "\n[uncertainty]\nreturns = 1000  # as if from 1000 returns\n";
    std::ofstream(dir.path() / "book.toml") << original;
    const CliResult ok =
        calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--json " + shell_quoted(dir.path() / "cal.json"));
    INFO(ok.err);
    REQUIRE(ok.code == 0);
    const nlohmann::json json = nlohmann::json::parse(read_all(dir.path() / "cal.json"));
    const double returns = rounded(json["uncertainty_returns"].get<double>(), 1);
    CHECK(returns < 1000.0);
    CHECK(ok.out.find(fmt::format("uncertainty returns 1000 -> {:g}", returns)) != std::string::npos);
    const std::string updated = read_all(dir.path() / "book.toml");
    CHECK(updated.find(fmt::format("returns = {:.1f}  # as if from 1000 returns\n", returns)) != std::string::npos);
    CHECK(load_scenario(dir.path() / "book.toml", seed_tiers()).uncertainty.returns == returns);

    const CliResult regime = calibrate_into(dir.path(), {"BTC", "ETH", "SOL"}, "--model regime");
    INFO(regime.err);
    REQUIRE(regime.code == 0);
    CHECK(regime.out.find("removed [uncertainty]") != std::string::npos);
    CHECK(read_all(dir.path() / "book.toml").find("[uncertainty]") == std::string::npos);
    CHECK(!load_scenario(dir.path() / "book.toml", seed_tiers()).uncertainty.on());
}
