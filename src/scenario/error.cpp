// InputError: the one error type of marginsim, its message formatted as file:line:col: key:
// message (expected ...), with control characters escaped.
#include "marginsim/error.hpp"

#include <utility>

namespace marginsim {
namespace {

// The text may echo what the user wrote (a key, a symbol): control characters are shown as
// \u escapes, so that a message can neither break its line nor drive the terminal.
std::string escape_control(const std::string& text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7f) {
            out += c;
            continue;
        }
        out += "\\u00";
        out += hex[byte >> 4];
        out += hex[byte & 0xf];
    }
    return out;
}

std::string format_input_error(const std::string& file, std::size_t line, std::size_t column,
                               const std::string& key, const std::string& message,
                               const std::string& expected) {
    std::string text = file.empty() ? std::string("<input>") : file;
    if (line > 0) {
        text += ':' + std::to_string(line);
        if (column > 0) text += ':' + std::to_string(column);
    }
    text += ": ";
    if (!key.empty()) text += key + ": ";
    text += message;
    if (!expected.empty()) text += " (expected " + expected + ")";
    return escape_control(text);
}

}  // namespace

InputError::InputError(std::string file, std::size_t line, std::size_t column, std::string key,
                       std::string message, std::string expected)
    : std::runtime_error(format_input_error(file, line, column, key, message, expected)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      key_(std::move(key)),
      message_(std::move(message)),
      expected_(std::move(expected)) {}

}  // namespace marginsim
