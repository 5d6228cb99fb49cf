#pragma once
// SIGINT and SIGTERM ask a run to stop at the next block boundary, and so does SIGUSR1 when the
// program runs on MPI ranks (mpirun forwards it, and Slurm's scancel --signal=USR1 sends it,
// docs/distributed.md#interrupt-and-resume): the handler only sets a lock-free atomic flag
// (async-signal-safe). It installs itself with SA_RESETHAND, so a second
// signal of the same kind takes the default action and ends the program at once.

#include <atomic>

namespace marginsim::cli {

class InterruptGuard {
public:
    InterruptGuard();   // installs the handlers
    ~InterruptGuard();  // restores the previous ones
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    // Set once a signal arrived; for RunControl::stop.
    static const std::atomic<bool>& flag() noexcept;
    static bool interrupted() noexcept;
    // The exit code of a run ended by the signal: 128 + its number (130 for SIGINT).
    static int exit_code() noexcept;
    // Whether the signal was SIGTERM (mpirun's, before it kills the ranks).
    static bool stopped_by_terminate() noexcept;
};

}  // namespace marginsim::cli
