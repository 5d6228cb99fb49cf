// The [[assets]] tables (symbol, price, volatility, drift, margin rule, funding) and the
// lookups of assets by symbol that messages and other tables use.
#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>
#include <cmath>

namespace marginsim::detail {

namespace {

// Symbols are shown in reports, CSV rows and messages: no control characters, and no
// surrounding spaces that would make "BTC " a different asset from "BTC".
bool clean_symbol(std::string_view symbol) {
    const bool control = std::any_of(symbol.begin(), symbol.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    return !control && symbol.front() != ' ' && symbol.back() != ' ';
}

// Code points that print as nothing or as a blank: the Unicode white space characters, the
// format characters (Cf: zero-width space and joiners, bidirectional marks, the byte order mark,
// tags), and the invisible fillers and variation selectors. "BTC" and "BTC\u200b" would print
// the same and be two assets. C0 and C1 controls are listed too (clean_symbol catches C0).
bool invisible(char32_t c) {
    static constexpr std::pair<char32_t, char32_t> ranges[] = {
        {0x0000, 0x0020}, {0x007f, 0x00a0}, {0x00ad, 0x00ad},   {0x034f, 0x034f},
        {0x0600, 0x0605}, {0x061c, 0x061c}, {0x06dd, 0x06dd},   {0x070f, 0x070f},
        {0x08e2, 0x08e2}, {0x115f, 0x1160}, {0x1680, 0x1680},   {0x17b4, 0x17b5},
        {0x180b, 0x180f}, {0x2000, 0x200f}, {0x2028, 0x202f},   {0x205f, 0x206f},
        {0x3000, 0x3000}, {0x3164, 0x3164}, {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},
        {0xffa0, 0xffa0}, {0xfff0, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
        {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff}};
    return std::any_of(std::begin(ranges), std::end(ranges),
                       [c](const auto& range) { return c >= range.first && c <= range.second; });
}

// The first invisible code point of a symbol (valid UTF-8: the TOML parser checked it).
std::optional<char32_t> first_invisible(std::string_view symbol) {
    for (std::size_t i = 0; i < symbol.size();) {
        const auto lead = static_cast<unsigned char>(symbol[i]);
        const std::size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        char32_t c = length == 1 ? lead : lead & (0x7fu >> length);
        for (std::size_t k = 1; k < length && i + k < symbol.size(); ++k)
            c = (c << 6) | (static_cast<unsigned char>(symbol[i + k]) & 0x3fu);
        if (invisible(c)) return c;
        i += length;
    }
    return std::nullopt;
}

// The correlation matrix and its factorisation grow with the square and the cube of the
// asset count: a thousand assets take seconds to check, a hundred thousand would not end.
constexpr std::size_t max_assets = 1000;

}  // namespace

std::vector<Asset> read_assets(const TableReader& root, const TierSearch& search) {
    const std::vector<TableReader> tables = root.required_tables("assets", "asset");
    if (tables.size() > max_assets) {
        tables[max_assets].fail_table(
            fmt::format("{} assets, more than the {} the engine takes", tables.size(), max_assets),
            fmt::format("at most {} [[assets]] tables: the correlation matrix grows with the "
                        "square of the count",
                        max_assets));
    }
    std::vector<Asset> assets;
    for (std::size_t i = 0; i < tables.size(); ++i) {
        const TableReader& a = tables[i];
        a.allow_only({"symbol", "price", "volatility", "drift", "maintenance_margin_rate", "tiers",
                      "funding_rate"});
        Asset asset;
        const std::string_view symbol_expected = "a non-empty symbol such as \"BTC\"";
        if (!a.has("symbol")) a.fail_missing("symbol", std::string(symbol_expected));
        asset.symbol = *a.text("symbol", symbol_expected);
        if (asset.symbol.empty())
            a.fail_value("symbol", "empty symbol", std::string(symbol_expected));
        if (!clean_symbol(asset.symbol)) {
            a.fail_value("symbol",
                         fmt::format("symbol \"{}\" has a control character or a leading or "
                                     "trailing space",
                                     asset.symbol),
                         "a symbol of printable characters without surrounding spaces, such as "
                         "\"BTC\"");
        }
        if (const auto c = first_invisible(asset.symbol)) {
            a.fail_value("symbol",
                         fmt::format("symbol \"{}\" holds U+{:04X}, a white-space, format or "
                                     "control character that prints as nothing or as a blank",
                                     asset.symbol, static_cast<std::uint32_t>(*c)),
                         "a symbol of visible characters only, such as \"BTC\": no space, no "
                         "zero-width or other invisible character");
        }
        for (std::size_t j = 0; j < assets.size(); ++j) {
            if (assets[j].symbol == asset.symbol) {
                a.fail_value("symbol",
                             fmt::format("duplicate symbol \"{}\", already used by assets[{}]",
                                         asset.symbol, j),
                             "a different symbol for each asset");
            }
        }
        asset.price = a.required_number("price", "a price > 0", positive);
        asset.volatility = a.required_number("volatility", "an annualised volatility in [0, 10)",
                                             [](double v) { return v >= 0.0 && v < 10.0; });
        asset.drift = a.number("drift", "a finite annualised drift", any_value).value_or(0.0);
        const bool has_rate = a.has("maintenance_margin_rate");
        const bool has_tiers = a.has("tiers");
        const std::string one_of = "exactly one of maintenance_margin_rate or tiers";
        if (has_rate && has_tiers)
            a.fail_table("both maintenance_margin_rate and tiers are given", one_of);
        if (!has_rate && !has_tiers)
            a.fail_table(
                "no maintenance margin: neither maintenance_margin_rate nor tiers is given",
                one_of);
        if (has_rate) {
            const double rate = *a.number("maintenance_margin_rate",
                                          "a maintenance margin rate in [0, 1)", unit_interval);
            asset.tiers.push_back(Tier{no_cap, rate, 0.0, std::nullopt});
        } else if (a.find("tiers")->is_string()) {
            asset.tiers = read_tier_reference(a, search, asset.symbol);
            asset.tier_table = *a.text("tiers", "");
        } else {
            asset.tiers = read_tiers(a, asset.symbol);
        }
        asset.funding_rate =
            a.number("funding_rate", "a funding rate per 8 hours in (-1, 1)", [](double v) {
                 return std::abs(v) < 1.0;
             }).value_or(0.0);
        assets.push_back(std::move(asset));
    }
    return assets;
}

std::optional<std::size_t> asset_index(const std::vector<Asset>& assets, std::string_view symbol) {
    for (std::size_t i = 0; i < assets.size(); ++i) {
        if (assets[i].symbol == symbol) return i;
    }
    return std::nullopt;
}

std::string quoted_symbols(const std::vector<Asset>& assets) {
    std::string text;
    for (const Asset& asset : assets) {
        text += fmt::format("{}\"{}\"", text.empty() ? "" : ", ", asset.symbol);
    }
    return text;
}

std::string known_symbols(const std::vector<Asset>& assets) {
    std::string text;
    for (const Asset& asset : assets) {
        text += text.empty() ? "one of the asset symbols \"" : ", \"";
        text += asset.symbol + '"';
    }
    return text;
}

// A symbol as a TOML key in messages: bare when TOML allows it, quoted otherwise.
std::string symbol_key(std::string_view symbol) {
    const bool bare = !symbol.empty() && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
    });
    return bare ? std::string(symbol) : fmt::format("\"{}\"", symbol);
}

}  // namespace marginsim::detail
