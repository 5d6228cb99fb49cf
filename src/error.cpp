#include "marginsim/error.hpp"

#include <utility>

namespace marginsim {
namespace {

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
    return text;
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
