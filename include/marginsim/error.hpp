#pragma once
// The one error type of marginsim: bad input, located in its source file.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace marginsim {

// Thrown only while loading and validating input. `what()` reads
// "file:line:col: key: message (expected ...)"; line and column are 1-based, 0 = unknown.
class InputError : public std::runtime_error {
public:
    InputError(std::string file, std::size_t line, std::size_t column, std::string key,
               std::string message, std::string expected = {});

    const std::string& file() const noexcept { return file_; }
    std::size_t line() const noexcept { return line_; }
    std::size_t column() const noexcept { return column_; }
    const std::string& key() const noexcept { return key_; }
    const std::string& message() const noexcept { return message_; }
    const std::string& expected() const noexcept { return expected_; }

private:
    std::string file_;
    std::size_t line_;
    std::size_t column_;
    std::string key_;
    std::string message_;
    std::string expected_;
};

}  // namespace marginsim
