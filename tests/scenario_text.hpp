#pragma once
// Scenario TOML texts for the parser's tests: a small valid scenario and edits of it, and the
// error a text raises, as the user reads it.

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim::testing {

inline const std::string scenario_dir = std::string(MARGINSIM_SOURCE_DIR) + "/tests/scenarios/";

// A two-asset book (BTC, ETH) with one 10x BTC long after [simulation] and its `keys` (each
// line ending in a newline); 17 lines after the keys. The line numbers of the parser tests'
// expected messages count from it.
inline std::string two_asset_book(const std::string& simulation_keys) {
    return "[simulation]\n" + simulation_keys + R"([account]
balance = 10000
[[assets]]
symbol = "BTC"
price = 60000
volatility = 0.5
maintenance_margin_rate = 0.004
[[assets]]
symbol = "ETH"
price = 3000
volatility = 0.6
maintenance_margin_rate = 0.005
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000
leverage = 10
)";
}

// A small valid scenario; the line numbers in the expected messages of the tests refer to it.
inline const std::string base = two_asset_book("horizon_days = 7\n") + R"([[positions]]
symbol = "ETH"
side = "short"
margin = 500
quantity = 2
)";
//  1 [simulation]           6 symbol = "BTC"     11 symbol = "ETH"      16 symbol = "BTC"     21
// symbol = "ETH"  2 horizon_days = 7       7 price = 60000      12 price = 3000        17 side =
// "long"      22 side = "short"  3 [account]              8 volatility = 0.5   13 volatility = 0.6
// 18 margin = 1000      23 margin = 500  4 balance = 10000        9 maintenance_...    14
// maintenance_...     19 leverage = 10      24 quantity = 2  5 [[assets]]            10 [[assets]]
// 15 [[positions]]       20 [[positions]]      25 (appended text)

struct Edit {
    std::string from;  // must occur exactly once in the text; empty: append `to`
    std::string to;
};

inline std::string edited(std::string text, const std::vector<Edit>& edits) {
    for (const Edit& edit : edits) {
        if (edit.from.empty()) {
            text += edit.to;
            continue;
        }
        const std::size_t at = text.find(edit.from);
        REQUIRE(at != std::string::npos);
        REQUIRE(text.find(edit.from, at + 1) == std::string::npos);
        text.replace(at, edit.from.size(), edit.to);
    }
    return text;
}

// A third asset, SOL (5 lines inserted after line 14: the positions start at line 20).
inline const Edit add_sol{"maintenance_margin_rate = 0.005\n",
                          "maintenance_margin_rate = 0.005\n[[assets]]\nsymbol = \"SOL\"\nprice = 150\n"
                          "volatility = 0.9\nmaintenance_margin_rate = 0.01\n"};

// Equicorrelation -0.6 of three assets: eigenvalues 1 + 2r = -0.2 and 1 - r = 1.6 (twice).
inline const std::string not_psd_matrix =
    "[correlation]\nmatrix = [[1, -0.6, -0.6], [-0.6, 1, -0.6], [-0.6, -0.6, 1]]\n";

// A one-asset, one-position scenario whose asset reads its tiers from `tiers` (TOML value).
inline std::string one_position(const std::string& tiers, double price = 60000, double margin = 1000,
                                double leverage = 10, const std::string& side = "long") {
    return "[simulation]\nhorizon_days = 1\n[account]\nbalance = 10000\n"
           "[[assets]]\nsymbol = \"BTC\"\nprice = " +
           std::to_string(price) + "\nvolatility = 0.5\ntiers = " + tiers +
           "\n[[positions]]\nsymbol = \"BTC\"\nside = \"" + side +
           "\"\nmode = \"isolated\"\nmargin = " + std::to_string(margin) +
           "\nleverage = " + std::to_string(leverage) + "\n";
}

// The InputError that parsing `text` as the file `file` raises; none when it parses.
inline std::optional<InputError> parse_failure(const std::string& text, const std::string& file) {
    try {
        parse_scenario(text, file);
    } catch (const InputError& error) {
        return error;
    }
    return std::nullopt;
}

// `text` with the first `from` replaced by `to` (which must be there).
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// The whole message "file:line:column: key: ... (expected ...)", or "(no error)".
inline std::string error_of(const std::string& text, const std::string& file = "case.toml") {
    const std::optional<InputError> error = parse_failure(text, file);
    return error ? std::string(error->what()) : "(no error)";
}

}  // namespace marginsim::testing
