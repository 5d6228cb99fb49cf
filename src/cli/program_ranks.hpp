#pragma once
// The program on MPI ranks (docs/distributed.md): the ranks main() started on, and the pattern of
// every command spread over them. Rank 0 alone reads inputs, writes outputs and prints (the other
// ranks' stdout and stderr go to /dev/null); what it read is sent to the others, and whether a
// step of its own failed too, so that every rank ends with the same exit code and only rank 0
// says why.

#include <functional>
#include <stdexcept>

#include "marginsim/ranks.hpp"

namespace marginsim::cli {

// The ranks of this program (single_process() until main() sets others).
const Ranks& program_ranks() noexcept;
void set_program_ranks(const Ranks& ranks) noexcept;
bool spread_over_ranks() noexcept;  // more than one rank
// Started as one of several ranks.
bool launched_on_ranks() noexcept;

// The exit code main() gives an error (2: bad input or usage, 1: anything else).
int exit_code_of(const std::exception& error) noexcept;

// Runs `step` on rank 0 alone; every rank learns whether it failed: rank 0 rethrows the error,
// the others throw RootFailed with its exit code (marginsim::on_root).
void on_root(const std::function<void()>& step);
// Runs `load` on rank 0 recording the input files it reads, then on every other rank replaying
// them (InputReplay): every rank loads the same bytes, read once. An error of rank 0's load
// ends every rank as on_root does.
void load_everywhere(const std::function<void()>& load);

// Commands that are not spread over ranks: rank 0 runs it, the others return its exit code.
int root_alone(const std::function<int()>& command);
// Rank 0's exit code `code`, on every rank (the other ranks may hold no result to judge by).
int roots_exit_code(int code);

}  // namespace marginsim::cli
