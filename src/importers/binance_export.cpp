// Reads Binance USDⓈ-M API exports (JSON) into plain values. Binance sends most numbers as
// strings ("0.004"): a field takes a JSON number or a string holding exactly one decimal number.

#include "importers/binance_export.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "marginsim/error.hpp"

namespace marginsim::importers {

namespace {

using nlohmann::json;

// A JSON value and where it stands: the file and the path to it ("positions[3].entryPrice").
struct Node {
    const json& value;
    const std::string& file;
    std::string path;

    [[noreturn]] void fail(const std::string& message, const std::string& expected) const {
        throw InputError(file, 0, 0, path, message, expected);
    }
    std::string found() const {
        const std::string text = value.dump();
        return text.size() > 40 ? text.substr(0, 37) + "..." : text;
    }
    Node at(std::size_t i) const { return {value[i], file, fmt::format("{}[{}]", path, i)}; }
    bool has(const char* key) const { return value.contains(key) && !value[key].is_null(); }
    Node field(const char* key) const {
        const std::string child = path.empty() ? key : path + "." + key;
        if (!has(key)) throw InputError(file, 0, 0, child, "missing", "the field, as Binance exports it");
        return {value[key], file, child};
    }
};

const json& expect_object(const Node& node) {
    if (!node.value.is_object()) node.fail("found " + node.found(), "a JSON object");
    return node.value;
}

const json& expect_array(const Node& node) {
    if (!node.value.is_array()) node.fail("found " + node.found(), "a JSON array");
    return node.value;
}

double number(const Node& node) {
    if (node.value.is_number()) {
        const double value = node.value.get<double>();
        if (std::isfinite(value)) return value;
    } else if (node.value.is_string()) {
        const std::string& text = node.value.get_ref<const std::string&>();
        double value = 0.0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (!text.empty() && error == std::errc() && stop == end && std::isfinite(value)) return value;
    }
    node.fail("found " + node.found(), "a finite number, as a JSON number or a string such as \"0.004\"");
}

double number_at_least(const Node& node, double minimum, bool strict, const std::string& expected) {
    const double value = number(node);
    if (strict ? value > minimum : value >= minimum) return value;
    node.fail(fmt::format("found {}", node.found()), expected);
}

std::string text(const Node& node) {
    if (!node.value.is_string() || node.value.get_ref<const std::string&>().empty()) {
        node.fail("found " + node.found(), "a non-empty string");
    }
    return node.value.get<std::string>();
}

std::string lower(std::string value) {
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return value;
}

std::optional<long long> update_time(const Node& node) {
    if (!node.has("updateTime")) return std::nullopt;
    const double ms = number(node.field("updateTime"));
    if (ms <= 0.0) return std::nullopt;
    return static_cast<long long>(ms);
}

json parse_json(std::string_view text, const std::string& file) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& error) {
        // The byte offset of the error as a line and column.
        const std::size_t offset = std::min<std::size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
        const std::string_view before = text.substr(0, offset);
        const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
        const std::size_t last_newline = before.rfind('\n');
        const std::size_t column = offset - (last_newline == std::string_view::npos ? 0 : last_newline + 1) + 1;
        throw InputError(file, line, column, "", "not valid JSON", "the file as the Binance API returns it");
    }
}

PositionSide position_side(const Node& position) {
    if (!position.has("positionSide")) return PositionSide::both;
    const Node node = position.field("positionSide");
    const std::string side = text(node);
    if (side == "BOTH") return PositionSide::both;
    if (side == "LONG") return PositionSide::long_leg;
    if (side == "SHORT") return PositionSide::short_leg;
    node.fail("found " + node.found(), "\"BOTH\" (one-way mode), \"LONG\" or \"SHORT\" (hedge mode)");
}

BinancePosition read_position(const Node& node, std::size_t index) {
    expect_object(node);
    BinancePosition p;
    p.index = index;
    p.symbol = text(node.field("symbol"));
    p.amount = number(node.field("positionAmt"));
    p.side = position_side(node);
    const std::string margin_type = lower(text(node.field("marginType")));
    if (margin_type != "cross" && margin_type != "isolated") {
        node.field("marginType").fail("found " + node.field("marginType").found(), "\"cross\" or \"isolated\"");
    }
    p.isolated = margin_type == "isolated";
    p.update_time = update_time(node);
    if (p.amount == 0.0) return p;  // a closed position: its other fields are not used
    if ((p.side == PositionSide::long_leg && p.amount < 0.0) ||
        (p.side == PositionSide::short_leg && p.amount > 0.0)) {
        node.field("positionAmt").fail(
            fmt::format("{} with positionSide {}", node.field("positionAmt").found(),
                        p.side == PositionSide::long_leg ? "LONG" : "SHORT"),
            "a positive positionAmt on a LONG leg, a negative one on a SHORT leg");
    }
    p.entry_price = number_at_least(node.field("entryPrice"), 0.0, true, "a price above 0");
    p.mark_price = number_at_least(node.field("markPrice"), 0.0, true, "a price above 0");
    p.leverage = number_at_least(node.field("leverage"), 1.0, false, "a leverage of at least 1");
    if (p.isolated) {
        p.isolated_wallet = number_at_least(node.field("isolatedWallet"), 0.0, true,
                                            "the isolated wallet of an isolated position, above 0");
    }
    if (node.has("liquidationPrice")) {
        const double lp = number_at_least(node.field("liquidationPrice"), 0.0, false, "a price, 0 for none");
        if (lp > 0.0) p.liquidation_price = lp;
    }
    return p;
}

std::vector<BinanceBracket> read_brackets(const Node& node) {
    std::vector<BinanceBracket> out;
    const json& array = expect_array(node);
    if (array.empty()) node.fail("empty", "at least one bracket");
    for (std::size_t k = 0; k < array.size(); ++k) {
        const Node b = node.at(k);
        expect_object(b);
        BinanceBracket bracket;
        bracket.notional_floor = number_at_least(b.field("notionalFloor"), 0.0, false, "a notional of at least 0");
        bracket.notional_cap = number_at_least(b.field("notionalCap"), bracket.notional_floor, true,
                                               "a cap above the bracket's notionalFloor");
        bracket.maint_margin_ratio = number_at_least(b.field("maintMarginRatio"), 0.0, false, "a rate in [0, 1)");
        if (bracket.maint_margin_ratio >= 1.0) b.field("maintMarginRatio").fail("found " + b.field("maintMarginRatio").found(), "a rate in [0, 1)");
        bracket.cum = number_at_least(b.field("cum"), 0.0, false, "a maintenance amount of at least 0");
        bracket.initial_leverage = number_at_least(b.field("initialLeverage"), 1.0, false, "a leverage of at least 1");
        out.push_back(bracket);
    }
    std::stable_sort(out.begin(), out.end(), [](const BinanceBracket& a, const BinanceBracket& c) {
        return a.notional_floor < c.notional_floor;
    });
    if (out.front().notional_floor != 0.0) {
        node.fail(fmt::format("the lowest notionalFloor is {}", out.front().notional_floor),
                  "brackets starting at notionalFloor 0");
    }
    for (std::size_t k = 1; k < out.size(); ++k) {
        if (out[k].notional_floor != out[k - 1].notional_cap) {
            node.fail(fmt::format("a bracket from {} follows one capped at {}", out[k].notional_floor,
                                  out[k - 1].notional_cap),
                      "each bracket's notionalFloor equal to the previous bracket's notionalCap");
        }
    }
    return out;
}

}  // namespace

BinanceAccount parse_binance_account(std::string_view text_in, const std::string& file) {
    const json root = parse_json(text_in, file);
    const Node node{root, file, ""};
    expect_object(node);
    BinanceAccount account;
    account.total_wallet_balance = number_at_least(node.field("totalWalletBalance"), 0.0, true,
                                                   "the futures wallet balance in USDT, above 0");
    if (node.has("totalCrossWalletBalance")) {
        account.total_cross_wallet_balance = number(node.field("totalCrossWalletBalance"));
    }
    if (node.has("multiAssetsMargin")) {
        const Node flag = node.field("multiAssetsMargin");
        if (!flag.value.is_boolean()) flag.fail("found " + flag.found(), "true or false");
        account.multi_assets_margin = flag.value.get<bool>();
    }
    account.update_time = update_time(node);
    return account;
}

std::vector<BinancePosition> parse_binance_positions(std::string_view text_in, const std::string& file) {
    const json root = parse_json(text_in, file);
    const Node node{root, file, "positions"};
    const json& array = expect_array(node);
    std::vector<BinancePosition> out;
    for (std::size_t i = 0; i < array.size(); ++i) out.push_back(read_position(node.at(i), i));
    return out;
}

BinanceBrackets parse_binance_brackets(std::string_view text_in, const std::string& file) {
    const json root = parse_json(text_in, file);
    BinanceBrackets out;
    // With ?symbol=..., the API answers with the one object instead of an array of them.
    if (root.is_object() && root.contains("symbol")) {
        const Node entry{root, file, ""};
        out.emplace(text(entry.field("symbol")), read_brackets(entry.field("brackets")));
        return out;
    }
    const Node node{root, file, "brackets"};
    const json& array = expect_array(node);
    for (std::size_t i = 0; i < array.size(); ++i) {
        const Node entry = node.at(i);
        expect_object(entry);
        const std::string symbol = text(entry.field("symbol"));
        if (out.count(symbol) > 0) entry.field("symbol").fail("\"" + symbol + "\" given twice", "each symbol once");
        out.emplace(symbol, read_brackets(entry.field("brackets")));
    }
    return out;
}

std::string read_export_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path.string(), 0, 0, "", "cannot be read", "a readable JSON export");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw InputError(path.string(), 0, 0, "", "cannot be read", "a readable JSON export");
    return text.str();
}

}  // namespace marginsim::importers
