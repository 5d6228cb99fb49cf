#include "program_ranks.hpp"

#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "marginsim/error.hpp"
#include "marginsim/input_files.hpp"

namespace marginsim::cli {
namespace {

const Ranks* ranks_of_program = nullptr;
bool on_ranks = false;

// Runs `step` on rank 0 and broadcasts its outcome: "" (success) or the exit code of its error.
}  // namespace

const Ranks& program_ranks() noexcept { return ranks_of_program != nullptr ? *ranks_of_program : single_process(); }
void set_program_ranks(const Ranks& ranks) noexcept {
    ranks_of_program = &ranks;
    on_ranks = ranks.size() > 1;
}
bool launched_on_ranks() noexcept { return on_ranks; }
bool spread_over_ranks() noexcept { return program_ranks().size() > 1; }

int exit_code_of(const std::exception& error) noexcept {
    if (dynamic_cast<const UsageError*>(&error) != nullptr) return exit_usage;
    return exit_code_of_error(error);
}

void on_root(const std::function<void()>& step) {
    marginsim::on_root(program_ranks(), step, exit_code_of);
}

void load_everywhere(const std::function<void()>& load) {
    if (!spread_over_ranks()) return load();
    const Ranks& ranks = program_ranks();
    InputFiles files;
    on_root([&] {
        const InputRecording recording(files);
        load();
    });
    std::string bytes = ranks.is_root() ? files.bytes() : std::string();
    ranks.broadcast(bytes);
    if (ranks.is_root()) return;
    const InputFiles received = InputFiles::from_bytes(bytes);
    const InputReplay replay(received);
    load();
}

int root_alone(const std::function<int()>& command) {
    int code = exit_ok;
    on_root([&] { code = command(); });
    return roots_exit_code(code);
}

int roots_exit_code(int code) {
    if (!spread_over_ranks()) return code;
    std::string text = std::to_string(code);
    program_ranks().broadcast(text);
    return std::stoi(text);
}

}  // namespace marginsim::cli
