// Maintenance-margin tier tables: inline `tiers = [...]` and references to bundled tables
// ("binance-usdm/BTCUSDT") looked up in --tiers-dir or configs/exchanges, checked alike.
#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <system_error>

namespace marginsim::detail {

namespace {

constexpr double continuity_tolerance = 1e-6;  // relative to the tier boundary's notional

// Reads one tier of `tiers`; `previous` is the tier before it (null for the first).
Tier read_tier(const TableReader& t, const Tier* previous, bool last, std::string_view symbol) {
    t.allow_only({"notional_cap", "rate", "amount", "max_leverage"});
    Tier tier;
    const auto cap =
        t.number("notional_cap",
                 "a notional > 0; omit notional_cap on the last tier for no upper bound", positive);
    if (!cap && !last) {
        t.fail_missing("notional_cap", "a notional cap > 0: only the last tier may omit it");
    }
    tier.notional_cap = cap.value_or(no_cap);
    if (cap && previous != nullptr && *cap <= previous->notional_cap) {
        t.fail_value(
            "notional_cap",
            fmt::format("not above the previous tier's cap: found {}, the previous cap is {}",
                        format_input(*cap), format_input(previous->notional_cap)),
            "notional caps strictly increasing from tier to tier");
    }
    tier.rate = t.required_number("rate", "a maintenance margin rate in [0, 1)", unit_interval);
    if (previous != nullptr && tier.rate < previous->rate) {
        t.fail_value(
            "rate",
            fmt::format("below the previous tier's rate: found {}, the previous rate is {}",
                        format_input(tier.rate), format_input(previous->rate)),
            "rates that do not decrease as the notional grows");
    }
    // Continuity at the lower boundary: the previous tier's formula and this one agree there.
    // The first tier has no lower boundary: a given amount there is kept without a check.
    const double continuous =
        previous == nullptr
            ? 0.0
            : previous->amount + previous->notional_cap * (tier.rate - previous->rate);
    if (const auto amount = t.number("amount", "a maintenance amount >= 0", non_negative)) {
        tier.amount = *amount;
        if (previous != nullptr &&
            std::abs(*amount - continuous) > continuity_tolerance * previous->notional_cap) {
            t.context().warn(t.find("amount")->source(),
                             fmt::format("{} = {} breaks continuity of the {} maintenance margin: "
                                         "the continuous value is {}",
                                         t.key("amount"), format_input(*amount), symbol,
                                         format_amount(continuous)));
        }
    } else {
        tier.amount = continuous;
    }
    // rate x notional - amount grows with the notional: it is >= 0 on the whole range
    // (lower, cap] when it is >= 0 at the lower bound (0 for the first tier). A negative
    // maintenance margin would let a pool's equity fall below zero before liquidation.
    const double lower = previous == nullptr ? 0.0 : previous->notional_cap;
    if (tier.rate * lower - tier.amount < 0.0 && t.has("amount")) {
        t.fail_value(
            "amount",
            fmt::format("negative maintenance margin: rate {} x notional {} - amount {} = {} at "
                        "the bottom of the tier's notional range",
                        format_input(tier.rate), format_input(lower), format_input(tier.amount),
                        format_amount(tier.rate * lower - tier.amount)),
            fmt::format("an amount <= rate x {} = {}, the tier's lower notional bound, so that "
                        "the maintenance margin rate x notional - amount is >= 0 on its range",
                        format_input(lower), format_amount(tier.rate * lower)));
    }
    tier.max_leverage = t.number("max_leverage", "a leverage >= 1", at_least_one);
    return tier;
}

// "binance-usdm/BTCUSDT": relative segments of letters, digits, '.', '_' and '-', never "..",
// so that a reference cannot leave the directories it is looked up in.
bool valid_tier_reference(std::string_view reference) {
    if (reference.empty()) return false;
    std::size_t begin = 0;
    while (begin <= reference.size()) {
        const std::size_t end = std::min(reference.find('/', begin), reference.size());
        const std::string_view segment = reference.substr(begin, end - begin);
        if (segment.empty() || segment == "." || segment == "..") return false;
        for (char c : segment) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            if (!ok) return false;
        }
        begin = end + 1;
    }
    return true;
}

}  // namespace

std::vector<Tier> read_tiers(const TableReader& asset, std::string_view symbol) {
    const std::vector<TableReader> rows = asset.tables(
        "tiers",
        "an array of tiers such as [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.005 } ]",
        "a tier: an inline table { notional_cap, rate, amount, max_leverage }");
    if (rows.empty()) {
        asset.fail_value("tiers", "empty tier table",
                         "at least one tier { notional_cap, rate, amount, max_leverage }");
    }
    std::vector<Tier> tiers;
    tiers.reserve(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
        tiers.push_back(
            read_tier(rows[k], k == 0 ? nullptr : &tiers.back(), k + 1 == rows.size(), symbol));
    }
    return tiers;
}

TierSearch tier_search(const LoadOptions& options, std::string_view source_name) {
    TierSearch search;
    if (!options.tiers_dir.empty()) search.dirs.push_back(options.tiers_dir);
    search.dirs.push_back(std::filesystem::path(source_name).parent_path() / "exchanges");
    return search;
}

// The tier table of `tiers = "binance-usdm/BTCUSDT"`: the file binance-usdm/BTCUSDT.toml in the
// first search directory holding it, read and validated like an inline table. Its errors and
// warnings point into that file.
std::vector<Tier> read_tier_reference(const TableReader& asset, const TierSearch& search,
                                      std::string_view symbol) {
    const std::string reference = *asset.text("tiers", "");
    const std::string expected =
        "a tier table: an array of tiers, or a reference such as \"binance-usdm/BTCUSDT\" to "
        "the file binance-usdm/BTCUSDT.toml in --tiers-dir or in the exchanges directory next "
        "to the scenario";
    if (!valid_tier_reference(reference)) {
        asset.fail_value("tiers", fmt::format("not a tier table reference: \"{}\"", reference),
                         expected);
    }
    std::string tried;
    for (const std::filesystem::path& dir : search.dirs) {
        const std::filesystem::path file = (dir / (reference + ".toml")).lexically_normal();
        if (detail::input_kind(file) != detail::InputKind::file) {
            tried += fmt::format("{}{}", tried.empty() ? "" : ", ", file.string());
            continue;
        }
        const std::optional<std::string> text = read_text_file(file);
        if (!text) {
            asset.fail_value("tiers",
                             fmt::format("tier table \"{}\": cannot read {}", reference,
                                         file.string()),
                             "a readable tier table file");
        }
        const toml::table document = parse_toml(*text, file.string());
        Context context{file.string()};
        const TableReader root(context, document, "");
        root.allow_only({"tiers"});
        if (!root.has("tiers")) {
            root.fail_missing("tiers", "tiers = [ { notional_cap, rate, amount, max_leverage }, "
                                       "... ]: the tier table of the file");
        }
        std::vector<Tier> tiers = read_tiers(root, symbol);
        asset.context().add_warnings(context.take_warnings());
        return tiers;
    }
    asset.fail_value("tiers",
                     fmt::format("tier table \"{}\" not found: tried {}", reference, tried),
                     expected);
}

// "assets[0].tiers[2]", or for a referenced table "tiers[2] of \"binance-usdm/BTCUSDT\"".
std::string tier_name(const Asset& asset, std::size_t asset_index, std::size_t k) {
    if (asset.tier_table.empty()) return fmt::format("assets[{}].tiers[{}]", asset_index, k);
    return fmt::format("tiers[{}] of \"{}\" (assets[{}].tiers)", k, asset.tier_table,
                       asset_index);
}

}  // namespace marginsim::detail
