// Reading TOML for the scenario: formatting of values in messages, the file and syntax layer,
// and the non-template getters of TableReader (see toml_reader.hpp).

#include "scenario/toml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace marginsim::detail {

std::string format_input(double value) { return fmt::format("{}", value); }

std::string format_amount(double value) { return fmt::format("{:.10g}", value); }

std::string format_float_literal(double value) {
    std::string text = format_input(value);
    if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
}

// "the string \"10\"", "the integer 5": what the user wrote, for wrong-type messages.
std::string describe(const toml::node& node) {
    if (const auto* s = node.as_string()) return fmt::format("the string \"{}\"", s->get());
    if (const auto* i = node.as_integer()) return fmt::format("the integer {}", i->get());
    if (const auto* f = node.as_floating_point()) {
        return "the floating-point number " + format_float_literal(f->get());
    }
    if (const auto* b = node.as_boolean())
        return b->get() ? "the boolean true" : "the boolean false";
    if (node.is_array_of_tables()) return "an array of tables";
    if (node.is_array()) return "an array";
    if (node.is_table()) return "a table";
    if (node.is_date()) return "a date";
    if (node.is_time()) return "a time";
    return "a date-time";
}

std::string join(std::initializer_list<std::string_view> names, std::string_view quote) {
    std::string text;
    for (std::string_view name : names) {
        if (!text.empty()) text += ", ";
        text += quote;
        text += name;
        text += quote;
    }
    return text;
}

void Context::warn(const toml::source_region& at, std::string_view text) {
    if (const auto given = given_elsewhere(at)) {
        warnings_.push_back(fmt::format("{}: {}", *given, text));
        return;
    }
    const std::string_view file =
        file_.empty() ? std::string_view("<input>") : std::string_view(file_);
    warnings_.push_back(fmt::format("{}:{}:{}: {}", file, at.begin.line, at.begin.column, text));
}

void Context::add_warnings(std::vector<std::string> more) {
    warnings_.insert(warnings_.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
}

SourcePosition TableReader::position_of(std::string_view name) const {
    const toml::node* node = find(name);
    const toml::source_position at = (node != nullptr ? node->source() : source()).begin;
    return {at.line, at.column};
}

namespace {
bool precedes(const toml::source_region& a, const toml::source_region& b) {
    return std::pair(a.begin.line, a.begin.column) < std::pair(b.begin.line, b.begin.column);
}
}  // namespace

void TableReader::allow_only(std::initializer_list<std::string_view> names) const {
    const toml::key* first_unknown = nullptr;
    for (auto&& [name, node] : *table_) {
        if (std::find(names.begin(), names.end(), name.str()) != names.end()) continue;
        if (first_unknown == nullptr || precedes(name.source(), first_unknown->source())) {
            first_unknown = &name;
        }
    }
    if (first_unknown != nullptr) {
        context_->fail(first_unknown->source(), key(first_unknown->str()), "unknown key",
                       "one of " + join(names));
    }
}

// The node at `name` as the TOML type T (std::int64_t, std::string, toml::table, toml::array);
// null when absent, a wrong-type error when it holds something else.
template <class T>
auto TableReader::typed(std::string_view name, std::string_view expected) const {
    const toml::node* node = find(name);
    const auto* value = node != nullptr ? node->as<T>() : nullptr;
    if (node != nullptr && value == nullptr) {
        context_->fail(node->source(), key(name), "wrong type: found " + describe(*node),
                       std::string(expected));
    }
    return value;
}

std::optional<std::int64_t> TableReader::integer(std::string_view name,
                                                 std::string_view expected, std::int64_t min,
                                                 std::int64_t max) const {
    const auto* value = typed<std::int64_t>(name, expected);
    if (value == nullptr) return std::nullopt;
    const toml::node* node = value;
    const std::int64_t v = value->get();
    if (v < min) {
        context_->fail(node->source(), key(name), fmt::format("out of range: found {}", v),
                       std::string(expected));
    }
    if (v > max) {
        context_->fail(node->source(), key(name), fmt::format("too large: found {}", v),
                       fmt::format("an integer <= {}", max));
    }
    return v;
}

std::optional<std::string> TableReader::text(std::string_view name,
                                             std::string_view expected) const {
    const auto* value = typed<std::string>(name, expected);
    if (value == nullptr) return std::nullopt;
    return value->get();
}

std::optional<bool> TableReader::boolean(std::string_view name, std::string_view expected) const {
    const auto* value = typed<bool>(name, expected);
    if (value == nullptr) return std::nullopt;
    return value->get();
}

std::optional<TableReader> TableReader::table(std::string_view name,
                                              std::string_view expected) const {
    const toml::table* sub = typed<toml::table>(name, expected);
    if (sub == nullptr) return std::nullopt;
    return TableReader(*context_, *sub, key(name));
}

std::vector<TableReader> TableReader::tables(std::string_view name, std::string_view expected,
                                             std::string_view element_expected) const {
    std::vector<TableReader> result;
    const toml::array* array = typed<toml::array>(name, expected);
    if (array == nullptr) return result;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = (*array)[i];
        const std::string element_key = fmt::format("{}[{}]", key(name), i);
        const toml::table* sub = element.as_table();
        if (sub == nullptr) {
            context_->fail(element.source(), element_key,
                           "wrong type: found " + describe(element),
                           std::string(element_expected));
        }
        result.emplace_back(*context_, *sub, element_key);
    }
    return result;
}

std::vector<TableReader> TableReader::required_tables(std::string_view name,
                                                      std::string_view entry) const {
    const std::vector<TableReader> result =
        tables(name, fmt::format("an array of tables: one [[{}]] table per {}", name, entry),
               fmt::format("a table: one [[{}]] entry", name));
    if (result.empty()) {
        const toml::node* node = find(name);
        context_->fail(node != nullptr ? node->source() : source(), key(name),
                       node != nullptr ? fmt::format("no {} defined", name)
                                       : std::string("missing required table"),
                       fmt::format("at least one [[{}]] table", name));
    }
    return result;
}

namespace {

// toml++ descriptions read "Error while parsing ...": continue our sentence in lower case.
std::string lowercase_first(std::string_view text) {
    std::string result(text);
    if (!result.empty() && result[0] >= 'A' && result[0] <= 'Z')
        result[0] = static_cast<char>(result[0] - 'A' + 'a');
    return result;
}

}  // namespace

toml::table parse_toml(std::string_view text, const std::string& source_name) {
    try {
        return toml::parse(text, source_name);
    } catch (const toml::parse_error& error) {
        throw InputError(source_name, error.source().begin.line, error.source().begin.column, "",
                         "TOML syntax error: " + lowercase_first(error.description()),
                         "valid TOML syntax, see https://toml.io");
    }
}

}  // namespace marginsim::detail
