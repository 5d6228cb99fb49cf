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
void broadcast_outcome(const std::function<void()>& step) {
    const Ranks& ranks = program_ranks();
    std::string outcome;
    std::exception_ptr failure;
    if (ranks.is_root()) {
        try {
            step();
        } catch (const std::exception& error) {
            failure = std::current_exception();
            outcome = std::to_string(exit_code_of(error));
        } catch (...) {
            failure = std::current_exception();
            outcome = std::to_string(exit_failure);
        }
    }
    ranks.broadcast(outcome);
    if (failure) std::rethrow_exception(failure);
    if (!outcome.empty()) throw RootFailed(std::stoi(outcome));
}

}  // namespace

const Ranks& program_ranks() noexcept { return ranks_of_program != nullptr ? *ranks_of_program : single_process(); }
void set_program_ranks(const Ranks& ranks) noexcept {
    ranks_of_program = &ranks;
    on_ranks = ranks.size() > 1;
}
bool launched_on_ranks() noexcept { return on_ranks; }
bool spread_over_ranks() noexcept { return program_ranks().size() > 1; }

int exit_code_of(const std::exception& error) noexcept {
    if (const auto* root = dynamic_cast<const RootFailed*>(&error)) return root->code();
    if (dynamic_cast<const InputError*>(&error) != nullptr || dynamic_cast<const UsageError*>(&error) != nullptr)
        return exit_usage;
    return exit_failure;
}

void on_root(const std::function<void()>& step) {
    if (!spread_over_ranks()) return step();
    broadcast_outcome(step);
}

void load_everywhere(const std::function<void()>& load) {
    if (!spread_over_ranks()) return load();
    const Ranks& ranks = program_ranks();
    InputFiles files;
    broadcast_outcome([&] {
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
    std::string text = std::to_string(code);
    program_ranks().broadcast(text);
    return std::stoi(text);
}

}  // namespace marginsim::cli
