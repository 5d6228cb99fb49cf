#pragma once
// Reading TOML for the scenario and its tier tables: typed getters whose errors name
// file:line:col, the dotted key and what was expected (InputError), and warnings located alike.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario/names.hpp"

#include <toml++/toml.h>

#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace marginsim::detail {

// The value as the user wrote it (shortest round-trip form).
std::string format_input(double value);
// A computed amount, without floating-point noise such as 449.99999999999994.
std::string format_amount(double value);
// 7.0 stays 7.0, not 7: how a TOML float is shown back to its writer.
std::string format_float_literal(double value);
// "the string \"10\"", "the integer 5": what the user wrote, for wrong-type messages.
std::string describe(const toml::node& node);
std::string join(std::initializer_list<std::string_view> names, std::string_view quote = "");

// The whole file, or nothing when it cannot be read; from an InputReplay when one is alive, and
// recorded by an InputRecording (input_files.cpp).
std::optional<std::string> read_text_file(const std::filesystem::path& path);
// What is at `path`, as read_text_file sees it: on the file system, or in a replay (a file
// there was read, a directory listed).
enum class InputKind { missing, directory, file };
InputKind input_kind(const std::filesystem::path& path);
// The regular files of the directory `dir`, sorted (none when it cannot be listed); recorded and
// replayed as read_text_file is.
std::vector<std::filesystem::path> input_directory_files(const std::filesystem::path& dir);
// Parses TOML; a syntax error is an InputError located in `source_name`.
toml::table parse_toml(std::string_view text, const std::string& source_name);

// Where errors point: the file, and the position of a node or key in it.
class Context {
public:
    explicit Context(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const toml::source_region& at, std::string key, std::string message,
                           std::string expected) const {
        if (const auto given = given_elsewhere(at))  // a value set by --set KEY=VALUE: named so
            throw InputError(*given, 0, 0, std::move(key), std::move(message), std::move(expected));
        throw InputError(file_, at.begin.line, at.begin.column, std::move(key), std::move(message),
                         std::move(expected));
    }

    void warn(const toml::source_region& at, std::string_view text);
    std::vector<std::string> take_warnings() { return std::move(warnings_); }
    // Warnings raised while reading another file (a tier table), already located there.
    void add_warnings(std::vector<std::string> more);

private:
    // The source of a node that is not from this file: the argument of a --set (overrides.hpp).
    std::optional<std::string> given_elsewhere(const toml::source_region& at) const {
        if (at.path && !at.path->empty() && *at.path != file_) return *at.path;
        return std::nullopt;
    }

    std::string file_;
    std::vector<std::string> warnings_;
};

// A finite number (TOML integer or float) at `node`, satisfying `ok`.
template <class Ok>
double read_number(const Context& context, const toml::node& node, const std::string& key,
                   std::string_view expected, Ok ok) {
    double value = 0.0;
    std::string as_written;  // 1.0 stays 1.0 in messages, 7 stays 7
    if (const auto* i = node.as_integer()) {
        value = static_cast<double>(i->get());
        as_written = std::to_string(i->get());
    } else if (const auto* f = node.as_floating_point()) {
        value = f->get();
        as_written = format_float_literal(value);
    } else {
        context.fail(node.source(), key, "wrong type: found " + describe(node),
                     std::string(expected));
    }
    if (!std::isfinite(value)) {
        context.fail(node.source(), key, "not a finite number: found " + as_written,
                     std::string(expected));
    }
    if (!ok(value)) {
        context.fail(node.source(), key, "out of range: found " + as_written,
                     std::string(expected));
    }
    return value;
}

// A TOML table being read, named by its dotted key path (`positions[2]`; empty for the root).
class TableReader {
public:
    TableReader(Context& context, const toml::table& table, std::string path)
        : context_(&context), table_(&table), path_(std::move(path)) {}

    Context& context() const noexcept { return *context_; }
    const toml::source_region& source() const noexcept { return table_->source(); }
    const std::string& path() const noexcept { return path_; }
    std::string key(std::string_view name) const {
        return path_.empty() ? std::string(name) : path_ + '.' + std::string(name);
    }
    const toml::node* find(std::string_view name) const { return table_->get(name); }
    bool has(std::string_view name) const { return find(name) != nullptr; }
    // Where the value of `name` is written; the table's own position when it is absent.
    SourcePosition position_of(std::string_view name) const;

    // Rejects keys not in `names`, reporting the first in file order: typos never pass silently.
    void allow_only(std::initializer_list<std::string_view> names) const;

    [[noreturn]] void fail_missing(std::string_view name, std::string expected) const {
        context_->fail(source(), key(name), "missing required key", std::move(expected));
    }
    [[noreturn]] void fail_table(std::string message, std::string expected) const {
        context_->fail(source(), path_, std::move(message), std::move(expected));
    }
    [[noreturn]] void fail_value(std::string_view name, std::string message,
                                 std::string expected) const {
        const toml::node* node = find(name);
        assert(node != nullptr);
        context_->fail(node->source(), key(name), std::move(message), std::move(expected));
    }

    template <class Ok>
    std::optional<double> number(std::string_view name, std::string_view expected, Ok ok) const {
        const toml::node* node = find(name);
        if (node == nullptr) return std::nullopt;
        return read_number(*context_, *node, key(name), expected, ok);
    }

    template <class Ok>
    double required_number(std::string_view name, std::string_view expected, Ok ok) const {
        if (!has(name)) fail_missing(name, std::string(expected));
        return *number(name, expected, ok);
    }

    // A TOML integer in [min, max]; floats such as 100000.0 are rejected.
    std::optional<std::int64_t> integer(std::string_view name, std::string_view expected,
                                        std::int64_t min, std::int64_t max) const;
    std::optional<std::string> text(std::string_view name, std::string_view expected) const;
    std::optional<bool> boolean(std::string_view name, std::string_view expected) const;

    // One of the names of `options` (names.hpp), as its enum value.
    template <class Enum, std::size_t N>
    std::optional<Enum> choice(std::string_view name, const Named<Enum> (&options)[N]) const {
        std::string allowed;
        for (const Named<Enum>& option : options) {
            allowed += allowed.empty() ? "one of \"" : ", \"";
            allowed += option.name;
            allowed += '"';
        }
        const std::optional<std::string> value = text(name, allowed);
        if (!value) return std::nullopt;
        for (const Named<Enum>& option : options) {
            if (option.name == *value) return option.value;
        }
        fail_value(name, "unknown value \"" + *value + '"', allowed);
    }

    // An optional sub-table such as [simulation].
    std::optional<TableReader> table(std::string_view name, std::string_view expected) const;
    // An array of tables such as [[assets]] or tiers = [ {...}, {...} ]; empty when absent.
    std::vector<TableReader> tables(std::string_view name, std::string_view expected,
                                    std::string_view element_expected) const;
    // A non-empty array of tables such as [[assets]]; `entry` names what one describes ("asset").
    std::vector<TableReader> required_tables(std::string_view name, std::string_view entry) const;

private:
    template <class T>
    auto typed(std::string_view name, std::string_view expected) const;

    Context* context_;
    const toml::table* table_;
    std::string path_;
};

// Ranges of the number readers.
inline bool positive(double v) { return v > 0.0; }
inline bool non_negative(double v) { return v >= 0.0; }
inline bool unit_interval(double v) { return v >= 0.0 && v < 1.0; }
inline bool at_least_one(double v) { return v >= 1.0; }
inline bool any_value(double) { return true; }

}  // namespace marginsim::detail
