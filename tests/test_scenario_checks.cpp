// Cross-key checks of a scenario (docs/scenario-format.md): the correlation input (matrix,
// pairs, repair), symbols of visible characters only, and jumps that keep the paths off 0.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "engine/market_model.hpp"
#include "marginsim/simulate.hpp"
#include "scenario_text.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

// The repair of the equicorrelation -0.6 of three assets (not_psd_matrix). By symmetry the
// nearest correlation matrix is again equicorrelated, at the PSD boundary r = -1/(n-1) = -0.5:
// it moved 6 off-diagonal entries by 0.1 each. `input` is where the warning places the input.
void check_repaired_equicorrelation(const Scenario& s, const std::string& input) {
    CHECK(s.correlation_repaired);
    CHECK(s.correlation_repair_distance == Approx(std::sqrt(6.0 * 0.01)).epsilon(1e-6));
    REQUIRE(s.correlation.size() == 9);
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(s.correlation_at(i, j) == Approx(i == j ? 1.0 : -0.5).margin(1e-6));
        }
    }
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0] ==
          input + " is not positive semi-definite (smallest eigenvalue -0.2): replaced by the nearest "
                  "correlation matrix, Frobenius distance 0.245: [[1, -0.5, -0.5], [-0.5, 1, -0.5], "
                  "[-0.5, -0.5, 1]]");
}

}  // namespace

TEST_CASE("a non-PSD correlation matrix is repaired on request and reported", "[scenario]") {
    const std::string text = edited(base, {add_sol, {"", not_psd_matrix + "repair = \"nearest\"\n"}});
    const Scenario s = parse_scenario(text, "case.toml");
    check_repaired_equicorrelation(s, "case.toml:31:10: correlation.matrix");

    // A valid matrix is kept as given, even with repair = "nearest".
    const std::string valid = "[correlation]\nmatrix = [[1, 0.3], [0.3, 1]]\nrepair = \"nearest\"\n";
    const Scenario t = parse_scenario(edited(base, {{"", valid}}), "case.toml");
    CHECK_FALSE(t.correlation_repaired);
    CHECK(t.correlation == std::vector<double>{1.0, 0.3, 0.3, 1.0});
    CHECK(t.warnings.empty());
}

TEST_CASE("correlation pairs fill the matrix and the default fills unnamed pairs", "[scenario]") {
    const std::string pairs =
        "[correlation]\npairs = { \"BTC/ETH\" = 0.8, \"SOL/BTC\" = 0.7 }\ndefault = 0.5\n";
    const Scenario s = parse_scenario(edited(base, {add_sol, {"", pairs}}), "case.toml");
    // Order BTC, ETH, SOL; SOL/BTC sets both [2][0] and [0][2]; ETH/SOL is unnamed.
    CHECK(s.correlation == std::vector<double>{1.0, 0.8, 0.7, 0.8, 1.0, 0.5, 0.7, 0.5, 1.0});
    CHECK_FALSE(s.correlation_repaired);
    CHECK(s.warnings.empty());

    // The same as the full matrix it stands for.
    const std::string matrix =
        "[correlation]\nmatrix = [[1, 0.8, 0.7], [0.8, 1, 0.5], [0.7, 0.5, 1]]\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", matrix}}), "case.toml").correlation ==
          s.correlation);

    // Without a default, unnamed pairs are uncorrelated; a [correlation.pairs] table works too.
    const std::string no_default = "[correlation.pairs]\n\"ETH/BTC\" = -0.25\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", no_default}}), "case.toml").correlation ==
          std::vector<double>{1.0, -0.25, 0.0, -0.25, 1.0, 0.0, 0.0, 0.0, 1.0});

    // No pairs at all: every pair takes the default.
    const std::string only_default = "[correlation]\npairs = {}\ndefault = 0.3\n";
    CHECK(parse_scenario(edited(base, {add_sol, {"", only_default}}), "case.toml").correlation ==
          std::vector<double>{1.0, 0.3, 0.3, 0.3, 1.0, 0.3, 0.3, 0.3, 1.0});
}

TEST_CASE("correlation pairs split at the slash that names two assets", "[scenario]") {
    // Symbols may hold a slash themselves: "A/B/C" is the pair (A/B, C) when A/B is an asset
    // and A is not.
    const std::string text = R"([simulation]
horizon_days = 1
[account]
balance = 1000
[[assets]]
symbol = "A/B"
price = 1
volatility = 0.5
maintenance_margin_rate = 0.01
[[assets]]
symbol = "C"
price = 1
volatility = 0.5
maintenance_margin_rate = 0.01
[correlation]
pairs = { "A/B/C" = 0.4 }
[[positions]]
symbol = "C"
side = "long"
margin = 100
leverage = 2
)";
    CHECK(parse_scenario(text, "case.toml").correlation ==
          std::vector<double>{1.0, 0.4, 0.4, 1.0});

    // With assets A, B/C, A/B and C, "A/B/C" names two pairs: an error rather than a guess.
    const std::string more = "[[assets]]\nsymbol = \"A\"\nprice = 1\nvolatility = 0.5\n"
                             "maintenance_margin_rate = 0.01\n[[assets]]\nsymbol = \"B/C\"\n"
                             "price = 1\nvolatility = 0.5\nmaintenance_margin_rate = 0.01\n";
    const std::string ambiguous = edited(text, {{"[correlation]\n", more + "[correlation]\n"}});
    CHECK(error_of(ambiguous) ==
          "case.toml:26:11: correlation.pairs.\"A/B/C\": ambiguous pair: more than one split "
          "names two assets (expected a pair \"A/B\" of two asset symbols among \"A/B\", \"C\", "
          "\"A\", \"B/C\")");
}

TEST_CASE("correlation pairs that cannot hold together are rejected or repaired", "[scenario]") {
    // Default -0.6 for three assets: the equicorrelation matrix of the repair test above.
    const std::string pairs = "[correlation]\npairs = {}\ndefault = -0.6\n";
    CHECK(error_of(edited(base, {add_sol, {"", pairs}})) ==
          "case.toml:31:9: correlation.pairs: the matrix of pairs and default is not positive "
          "semi-definite: smallest eigenvalue -0.2 (expected a positive semi-definite matrix, "
          "correlations that can hold together; or repair = \"nearest\" in [correlation] to use "
          "the nearest valid correlation matrix)");

    const std::string repaired = pairs + "repair = \"nearest\"\n";
    const Scenario s = parse_scenario(edited(base, {add_sol, {"", repaired}}), "case.toml");
    check_repaired_equicorrelation(s, "case.toml:31:9: correlation.pairs");
}

TEST_CASE("malformed correlation pairs are rejected with a precise message", "[scenario]") {
    struct Case {
        std::string correlation;  // appended at line 25
        std::string message;
    };
    const std::string among =
        "(expected a pair \"A/B\" of two asset symbols among \"BTC\", \"ETH\")";
    const std::vector<Case> cases{
        {"[correlation]\npairs = { \"BTC/DOGE\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTC/DOGE\": no asset named \"DOGE\" " + among},
        {"[correlation]\npairs = { \"DOGE/ETH\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"DOGE/ETH\": no asset named \"DOGE\" " + among},
        {"[correlation]\npairs = { \"BTCETH\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTCETH\": not a pair: no '/' between two symbols " +
             among},
        {"[correlation]\npairs = { \"BTC/BTC\" = 0.8 }\n",
         "case.toml:26:11: correlation.pairs.\"BTC/BTC\": a pair of \"BTC\" with itself: its "
         "correlation is 1 by definition (expected a pair of two different assets)"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8, \"ETH/BTC\" = 0.7 }\n",
         "case.toml:26:28: correlation.pairs.\"ETH/BTC\": the pair ETH/BTC is given twice: "
         "\"BTC/ETH\" at line 26 already sets it (expected each pair once, in either order)"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 1.5 }\n",
         "case.toml:26:23: correlation.pairs.\"BTC/ETH\": out of range: found 1.5 (expected a "
         "correlation in [-1, 1])"},
        {"[correlation]\npairs = { \"BTC/ETH\" = \"0.8\" }\n",
         "case.toml:26:23: correlation.pairs.\"BTC/ETH\": wrong type: found the string \"0.8\" "
         "(expected a correlation in [-1, 1])"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8 }\ndefault = -1.2\n",
         "case.toml:27:11: correlation.default: out of range: found -1.2 (expected a correlation "
         "in [-1, 1])"},
        {"[correlation]\npairs = [0.8]\n",
         "case.toml:26:9: correlation.pairs: wrong type: found an array (expected a table of "
         "pairs such as { \"BTC/ETH\" = 0.8 })"},
        {"[correlation]\ndefault = 0.5\n",
         "case.toml:26:11: correlation.default: default is only used with pairs, but no pairs are "
         "given (expected pairs = { \"A/B\" = ... } next to default, or no default)"},
        {"[correlation]\nmatrix = [[1, 0.5], [0.5, 1]]\npairs = { \"BTC/ETH\" = 0.5 }\n",
         "case.toml:25:1: correlation: both matrix and pairs are given (expected exactly one of "
         "matrix (the full matrix) or pairs (with an optional default))"},
        {"[correlation]\npairs = { \"BTC/ETH\" = 0.8 }\ndefualt = 0.5\n",
         "case.toml:27:1: correlation.defualt: unknown key (expected one of matrix, pairs, "
         "default, repair)"},
    };
    for (const Case& c : cases) {
        const std::string text = base + c.correlation;
        INFO(text);
        CHECK(error_of(text) == c.message);
    }
}

TEST_CASE("symbols holding invisible characters are refused", "[scenario]") {
    const auto with_symbol = [](const std::string& symbol) {
        return error_of(edited(base, {{"symbol = \"ETH\"\nprice", "symbol = \"" + symbol + "\"\nprice"}}));
    };
    // "BTC" and "BTC<zero-width space>" print the same: two assets that look like one.
    CHECK(with_symbol("ETH\\u200b") ==
          "case.toml:11:10: assets[1].symbol: symbol \"ETH\u200b\" holds U+200B, a white-space, "
          "format or control character that prints as nothing or as a blank (expected a symbol of "
          "visible characters only, such as \"BTC\": no space, no zero-width or other invisible "
          "character)");
    for (const char* hidden : {"ET H", "ETH\\u00a0X", "\\ufeffETH", "E\\u2060TH", "ETH\\u202e",
                               "ETH\\U000e0041", "ETH\\u00ad", "E\\u3000TH"}) {
        INFO(hidden);
        CHECK_THAT(with_symbol(hidden), Catch::Contains("assets[1].symbol: symbol \"") &&
                                            Catch::Contains("a white-space, format or control"));
    }
    // Visible non-ASCII symbols stay valid.
    CHECK_NOTHROW(parse_scenario(
        edited(base, {{"symbol = \"ETH\"\nprice", "symbol = \"ÉTH\"\nprice"},
                      {"symbol = \"ETH\"\nside", "symbol = \"ÉTH\"\nside"}}),
        "case.toml"));
}

TEST_CASE("jumps whose compensating drift would send the paths to 0 are refused", "[scenario]") {
    const auto with_jumps = [](double intensity, double mean, double vol) {
        return edited(base, {{"horizon_days = 7", "horizon_days = 7\nmodel = \"jump\""},
                             {"", "[jumps]\nintensity = " + std::to_string(intensity) +
                                      "\nmean = " + std::to_string(mean) + "\nvol = " +
                                      std::to_string(vol) + "\n"}});
    };
    // Within the documented per-key ranges, kappa = e^(5 + 2) - 1 = 1096: a drift of -21 over
    // 7 days on every path that meets no jump (98% of them).
    CHECK_THAT(error_of(with_jumps(1, 5, 2)),
               Catch::Contains("jumps.intensity: the jumps of BTC are too large or too frequent") &&
                   Catch::Contains("lowers the log price by 21.01 over 7 days"));
    // Frequent large crashes, too: 1000 a year of mean -5.
    CHECK_THAT(error_of(with_jumps(1000, -5, 0)), Catch::Contains("jumps.intensity"));

    // Upward jumps of mean 1 and vol 0.5 (kappa = e^1.125 - 1 = 2.08) at 33 a year over 7 days:
    // V = 33 x 7/365 x (e^2.5 - 2 e^1.125 + 1) = 4.44 <= ln(101). Accepted, and the simulated
    // mean matches Merton's E[S_T] = S_0 e^(mu T) (mu = 0 here), and the median path (one
    // without a jump: P(N = 0) = e^-0.63 = 0.53) falls by no more than the bound the check
    // argues, lambda kappa T <= V / kappa: the compensator no longer drives the paths to 0.
    const Scenario s = parse_scenario(with_jumps(33, 1, 0.5), "case.toml");
    const MarketModel model(s);
    PathBlock paths(s.asset_count(), block_size);
    std::vector<double> growth;  // S_T / S_0 of BTC
    for (std::uint64_t b = 0; b < 100; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, block_size, rng);
        for (int k = 0; k < s.simulation.steps; ++k) model.step(paths, rng);
        for (std::size_t p = 0; p < block_size; ++p)
            growth.push_back(std::exp(paths.log_price(0)[p] - model.start_log_price()[0]));
    }
    double sum = 0.0, sum_sq = 0.0;
    for (const double g : growth) {
        sum += g;
        sum_sq += g * g;
    }
    const auto n = static_cast<double>(growth.size());
    const double mean = sum / n;
    const double error = std::sqrt((sum_sq / n - mean * mean) / n);
    INFO("E[S_T/S_0] " << mean << " +- " << error);
    CHECK(std::abs(mean - 1.0) < 4.0 * error);
    CHECK(error < 0.05);
    std::nth_element(growth.begin(), growth.begin() + growth.size() / 2, growth.end());
    const double kappa = std::expm1(1.0 + 0.5 * 0.25);
    const double v = 33.0 * 7.0 / 365.0 * (std::exp(2.5) - 2.0 * std::exp(1.125) + 1.0);
    CHECK(v <= std::log(101.0));
    CHECK(growth[growth.size() / 2] > std::exp(-v / kappa));
}
