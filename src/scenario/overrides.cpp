// --set KEY=VALUE: a key of the scenario file set on the parsed TOML before it is read
// (overrides.hpp). Keys are dotted paths with [i] indices; an entry of an array of tables may be
// named by its symbol, and a correlation pair by "A/B" whatever form [correlation] has.
#include "scenario/overrides.hpp"

#include "marginsim/error.hpp"
#include "scenario/toml_reader.hpp"
#include "numerics/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

namespace marginsim {

namespace {

using detail::trimmed;

constexpr std::string_view override_expected = "KEY=VALUE, such as simulation.steps_per_day=288";

}  // namespace

ScenarioOverride parse_override(std::string_view argument) {
    const std::string name = "--set " + std::string(argument);
    const std::size_t equals = argument.find('=');
    if (equals == std::string_view::npos)
        throw InputError(name, 0, 0, "", "no '=' between the key and the value", std::string(override_expected));
    ScenarioOverride result{trimmed(argument.substr(0, equals)), trimmed(argument.substr(equals + 1))};
    if (result.key.empty()) throw InputError(name, 0, 0, "", "no key before '='", std::string(override_expected));
    if (result.value.empty())
        throw InputError(name, 0, 0, result.key, "no value after '='", std::string(override_expected));
    return result;
}

namespace detail {

namespace {

constexpr std::string_view key_expected =
    "a dotted key of the scenario file, such as simulation.steps_per_day, positions[1].margin, "
    "assets.BTC.volatility or correlation.BTC/ETH";

[[noreturn]] void fail(const std::string& argument, const std::string& key, std::string message,
                       std::string expected) {
    throw InputError(argument, 0, 0, key, std::move(message), std::move(expected));
}

// One part of a key: a name (bare, or "quoted" when it holds a '.') and the indices after it.
struct Segment {
    std::string name;
    std::vector<std::size_t> indices;
};

std::size_t read_index(const std::string& key, std::size_t open, std::size_t& end, const std::string& argument) {
    const std::size_t close = key.find(']', open);
    std::size_t index = 0;
    const char* first = key.data() + open + 1;
    const char* last = key.data() + (close == std::string::npos ? key.size() : close);
    const auto [stop, error] = std::from_chars(first, last, index);
    if (close == std::string::npos || first == last || error != std::errc() || stop != last)
        fail(argument, key, "not an index: [" + std::string(first, last) + (close == std::string::npos ? "" : "]"),
             "an index [i], i = 0, 1, ...");
    end = close + 1;
    return index;
}

std::vector<Segment> parse_key(const std::string& key, const std::string& argument) {
    std::vector<Segment> segments;
    if (key.empty()) fail(argument, key, "no key", std::string(key_expected));
    std::size_t i = 0;
    while (true) {
        Segment segment;
        if (key[i] == '"') {
            const std::size_t close = key.find('"', i + 1);
            if (close == std::string::npos) fail(argument, key, "an unclosed quote in the key", std::string(key_expected));
            segment.name = key.substr(i + 1, close - i - 1);
            i = close + 1;
        } else {
            const std::size_t end = std::min(key.find_first_of(".[]\"", i), key.size());
            segment.name = key.substr(i, end - i);
            i = end;
        }
        if (segment.name.empty()) fail(argument, key, "an empty name in the key", std::string(key_expected));
        while (i < key.size() && key[i] == '[') segment.indices.push_back(read_index(key, i, i, argument));
        segments.push_back(std::move(segment));
        if (i == key.size()) return segments;
        if (key[i] != '.' || i + 1 == key.size())
            fail(argument, key, fmt::format("unexpected '{}' at position {} of the key", key[i], i + 1),
                 std::string(key_expected));
        ++i;
    }
}

// A TOML basic string holding `text`.
std::string toml_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(byte));
        } else {
            out += c;
        }
    }
    return out + '"';
}

// The value parsed as the only key `v` of a document named by the argument, so that errors at
// it name the argument; text that is not a TOML value (a bare word) is a string.
toml::table value_document(const std::string& value, const std::string& argument) {
    if (value.find_first_of("\r\n") == std::string::npos) {
        try {
            toml::table document = toml::parse(std::string_view("v = " + value), std::string_view(argument));
            if (document.size() == 1 && document.contains("v")) return document;
        } catch (const toml::parse_error&) {
            // not a TOML value: read as a string below
        }
    }
    return toml::parse(std::string_view("v = " + toml_string(value)), std::string_view(argument));
}

// Moves the value of `document` (value_document) into a place: fn(key source, node&&).
template <class Place>
void move_value(toml::table document, Place place) {
    toml::node& node = *document.get("v");
    const toml::source_region at = node.source();
    node.visit([&](auto& value) { place(at, std::move(value)); });
}

void set_in_table(toml::table& table, const std::string& name, toml::table document) {
    move_value(std::move(document),
               [&](const toml::source_region& at, auto&& value) { table.insert_or_assign(toml::key(name, at), std::move(value)); });
}

void set_in_array(toml::array& array, std::size_t index, toml::table document) {
    move_value(std::move(document), [&](const toml::source_region&, auto&& value) {
        if (index == array.size()) {
            array.push_back(std::move(value));
        } else {
            array.replace(array.cbegin() + static_cast<std::ptrdiff_t>(index), std::move(value));
        }
    });
}

std::string child_key(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : path + '.' + std::string(name);
}

std::optional<std::string_view> symbol_of(const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr) return std::nullopt;
    if (const auto* symbol = table->get_as<std::string>("symbol")) return std::string_view(symbol->get());
    return std::nullopt;
}

// The symbols of the file's [[assets]], as written.
std::vector<std::string> asset_symbols(const toml::table& root) {
    std::vector<std::string> symbols;
    if (const toml::array* assets = root.get_as<toml::array>("assets")) {
        for (const toml::node& asset : *assets) symbols.emplace_back(symbol_of(asset).value_or(""));
    }
    return symbols;
}

std::string quoted_list(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += fmt::format("{}\"{}\"", text.empty() ? "" : ", ", name);
    return text;
}

// What one override does to the document; `argument` names it in every error.
class Applier {
public:
    Applier(toml::table& root, const ScenarioOverride& given)
        : root_(root), given_(given), argument_("--set " + given.text()) {}

    AppliedOverride apply() {
        const std::vector<Segment> segments = parse_key(given_.key, argument_);
        toml::node* current = &root_;
        std::string path;
        for (std::size_t s = 0; s < segments.size(); ++s) {
            const Segment& segment = segments[s];
            const bool last = s + 1 == segments.size();
            if (toml::table* table = current->as_table()) {
                const std::string key = child_key(path, segment.name);
                if (last && segment.indices.empty()) {
                    if (is_correlation_table(path) && is_pair_name(segment.name)) return set_pair(*table, path, segment.name);
                    set_in_table(*table, segment.name, value());
                    return done({key});
                }
                current = table_child(*table, segment, key);
                path = key;
            } else if (toml::array* array = current->as_array()) {
                const std::size_t index = entry_by_symbol(*array, path, segment.name);
                path += fmt::format("[{}]", index);
                if (last && segment.indices.empty()) {
                    set_in_array(*array, index, value());
                    return done({path});
                }
                current = &(*array)[index];
            } else {
                fail(argument_, path,
                     fmt::format("has no key {}: found {}", segment.name, describe(*current)), "a table");
            }
            for (std::size_t k = 0; k < segment.indices.size(); ++k) {
                const bool final_index = last && k + 1 == segment.indices.size();
                current = indexed(*current, path, segment.indices[k], final_index);
                if (current == nullptr) return done({path});
            }
        }
        return done({path});  // not reached: the last segment sets the value
    }

private:
    toml::table value() const { return value_document(given_.value, argument_); }

    AppliedOverride done(std::vector<std::string> keys) const { return {argument_, std::move(keys)}; }

    // A table to hold keys the file does not have, located at the argument.
    toml::table new_table() const {
        toml::table document = toml::parse(std::string_view("v = {}"), std::string_view(argument_));
        return std::move(*document.get_as<toml::table>("v"));
    }

    // The child `segment.name` of `table`, created as an empty table when absent and a key
    // goes on after it.
    toml::node* table_child(toml::table& table, const Segment& segment, const std::string& key) {
        if (toml::node* child = table.get(segment.name)) return child;
        if (!segment.indices.empty())
            fail(argument_, key, "the file has no " + key + " to index", "an index into an array the file holds");
        const toml::source_region at = new_table().source();
        return &table.insert_or_assign(toml::key(segment.name, at), new_table()).first->second;
    }

    // The element `index` of the array at `node`; for the last index, the value is set there
    // and nullptr returned. One past the end of an array of tables adds an entry.
    toml::node* indexed(toml::node& node, std::string& path, std::size_t index, bool final_index) {
        toml::array* array = node.as_array();
        if (array == nullptr) fail(argument_, path, "wrong type: found " + describe(node), "an array, to index with [i]");
        const std::string array_path = path;
        path += fmt::format("[{}]", index);
        const bool of_tables = array->empty() || array->is_array_of_tables();
        const std::size_t size = array->size();
        if (index > size || (index == size && !of_tables)) {
            fail(argument_, path, fmt::format("index out of range: {} has {} entries", array_path, size),
                 fmt::format("an index below {}{}", size, of_tables ? fmt::format(", or {} to add one", size) : ""));
        }
        if (final_index) {
            set_in_array(*array, index, value());
            return nullptr;
        }
        if (index == size) array->push_back(new_table());
        return &(*array)[index];
    }

    // The entry of an array of tables whose symbol is `symbol` (assets.BTC, positions.ETH).
    std::size_t entry_by_symbol(const toml::array& array, const std::string& path, const std::string& symbol) const {
        std::vector<std::size_t> found;
        std::vector<std::string> symbols;
        for (std::size_t i = 0; i < array.size(); ++i) {
            const auto entry_symbol = symbol_of(array[i]);
            if (entry_symbol == symbol) found.push_back(i);
            if (entry_symbol) symbols.emplace_back(*entry_symbol);
        }
        const std::string key = child_key(path, symbol);
        if (found.empty()) {
            fail(argument_, key, fmt::format("no entry of {} has the symbol \"{}\"", path, symbol),
                 fmt::format("an index such as {}[0], or one of the symbols {}", path, quoted_list(symbols)));
        }
        if (found.size() > 1) {
            fail(argument_, key, fmt::format("{} entries of {} have the symbol \"{}\": {}[{}] and {}[{}]", found.size(), path,
                                             symbol, path, found[0], path, found[1]),
                 fmt::format("an index such as {}[{}]", path, found[0]));
        }
        return found.front();
    }

    static bool is_correlation_table(const std::string& path) {
        return path == "correlation" || path == "regime.stress.correlation";
    }
    static bool is_pair_name(const std::string& name) {
        return name.find('/') != std::string::npos && name != "matrix" && name != "pairs" && name != "default" &&
               name != "repair";
    }

    struct Pair {
        std::size_t first = 0;
        std::size_t second = 0;
    };

    // The two assets a name "A/B" names, at the one split where both sides are symbols.
    static std::optional<Pair> pair_of(std::string_view name, const std::vector<std::string>& symbols) {
        const auto index = [&symbols](std::string_view symbol) -> std::optional<std::size_t> {
            const auto found = std::find(symbols.begin(), symbols.end(), symbol);
            if (found == symbols.end()) return std::nullopt;
            return static_cast<std::size_t>(found - symbols.begin());
        };
        std::optional<Pair> pair;
        for (std::size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
            const auto a = index(name.substr(0, slash));
            const auto b = index(name.substr(slash + 1));
            if (a && b) {
                if (pair) return std::nullopt;  // ambiguous: named two ways
                pair = Pair{*a, *b};
            }
        }
        return pair;
    }

    // correlation.A/B: both halves of the matrix when the table gives one, else the pair among
    // the pairs (the one the file gives in either order, or a new one).
    AppliedOverride set_pair(toml::table& correlation, const std::string& path, const std::string& name) {
        const std::vector<std::string> symbols = asset_symbols(root_);
        const std::optional<Pair> pair = pair_of(name, symbols);
        const std::string pair_key = fmt::format("{}.\"{}\"", path, name);
        if (!pair) {
            fail(argument_, pair_key, fmt::format("\"{}\" does not name two assets in exactly one way", name),
                 "a pair \"A/B\" of two asset symbols among " + quoted_list(symbols));
        }
        if (pair->first == pair->second) {
            fail(argument_, pair_key,
                 fmt::format("a pair of \"{}\" with itself: its correlation is 1 by definition", symbols[pair->first]),
                 "a pair of two different assets");
        }
        if (toml::node* matrix = correlation.get("matrix")) return set_matrix_pair(*matrix, path + ".matrix", *pair);
        toml::node* pairs_node = correlation.get("pairs");
        if (pairs_node == nullptr) {
            pairs_node = &correlation.insert_or_assign(toml::key("pairs", new_table().source()), new_table()).first->second;
        }
        toml::table* pairs = pairs_node->as_table();
        if (pairs == nullptr)
            fail(argument_, path + ".pairs", "wrong type: found " + describe(*pairs_node), "a table of pairs");
        std::string written = name;  // the file's own spelling of the pair, when it has one
        for (auto&& [key, node] : *pairs) {
            const std::optional<Pair> other = pair_of(key.str(), symbols);
            if (other && std::minmax(other->first, other->second) == std::minmax(pair->first, pair->second))
                written = std::string(key.str());
        }
        set_in_table(*pairs, written, value());
        return done({fmt::format("{}.pairs.\"{}\"", path, written)});
    }

    AppliedOverride set_matrix_pair(toml::node& matrix, const std::string& path, Pair pair) {
        toml::array* rows = matrix.as_array();
        const auto row = [rows](std::size_t i) { return rows != nullptr && i < rows->size() ? (*rows)[i].as_array() : nullptr; };
        toml::array* first = row(pair.first);
        toml::array* second = row(pair.second);
        if (first == nullptr || second == nullptr || pair.second >= first->size() || pair.first >= second->size()) {
            fail(argument_, path,
                 fmt::format("has no entries [{0}][{1}] and [{1}][{0}] to set", pair.first, pair.second),
                 "a matrix with one row and one column per asset");
        }
        set_in_array(*first, pair.second, value());
        set_in_array(*second, pair.first, value());
        return done({fmt::format("{}[{}][{}]", path, pair.first, pair.second),
                     fmt::format("{}[{}][{}]", path, pair.second, pair.first)});
    }

    toml::table& root_;
    const ScenarioOverride& given_;
    std::string argument_;
};

}  // namespace

std::vector<AppliedOverride> apply_overrides(toml::table& document, const std::vector<ScenarioOverride>& overrides) {
    std::vector<AppliedOverride> applied;
    for (const ScenarioOverride& given : overrides) applied.push_back(Applier(document, given).apply());
    return applied;
}

namespace {

// "assets[0]" of "assets[0].tiers": the table a key is in (empty at the top).
std::string table_of(const std::string& key) {
    const std::size_t dot = key.rfind('.');
    return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

}  // namespace

InputError located_in_override(const InputError& error, const std::string& file,
                               const std::vector<AppliedOverride>& applied) {
    if (error.file() != file) return error;
    // The key itself, else the table it went into ("both maintenance_margin_rate and tiers").
    for (const bool in_table : {false, true}) {
        for (auto it = applied.rbegin(); it != applied.rend(); ++it) {  // the last to set a key set it
            const bool named = std::any_of(it->keys.begin(), it->keys.end(), [&](const std::string& key) {
                return (in_table ? table_of(key) : key) == error.key();
            });
            if (named && !error.key().empty())
                return InputError(it->argument, 0, 0, error.key(), error.message(), error.expected());
        }
    }
    return error;
}

}  // namespace detail
}  // namespace marginsim
