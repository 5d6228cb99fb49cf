#include "interrupt.hpp"

#include <signal.h>

#include "program_ranks.hpp"

namespace marginsim::cli {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is set from a signal handler");
static_assert(std::atomic<int>::is_always_lock_free, "the signal number is set from a signal handler");

std::atomic<bool> stop_requested{false};
std::atomic<int> stop_signal{0};
struct sigaction previous_int {};
struct sigaction previous_term {};
struct sigaction previous_usr1 {};

extern "C" void on_stop_signal(int number) {
    stop_signal.store(number, std::memory_order_relaxed);
    stop_requested.store(true, std::memory_order_relaxed);
}

}  // namespace

InterruptGuard::InterruptGuard() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_RESTART;  // the next signal of the kind kills at once
    sigaction(SIGINT, &action, &previous_int);
    sigaction(SIGTERM, &action, &previous_term);
    if (launched_on_ranks()) sigaction(SIGUSR1, &action, &previous_usr1);
}

InterruptGuard::~InterruptGuard() {
    sigaction(SIGINT, &previous_int, nullptr);
    sigaction(SIGTERM, &previous_term, nullptr);
    if (launched_on_ranks()) sigaction(SIGUSR1, &previous_usr1, nullptr);
}

const std::atomic<bool>& InterruptGuard::flag() noexcept { return stop_requested; }

bool InterruptGuard::interrupted() noexcept { return stop_requested.load(std::memory_order_relaxed); }

bool InterruptGuard::stopped_by_terminate() noexcept { return stop_signal.load(std::memory_order_relaxed) == SIGTERM; }

int InterruptGuard::exit_code() noexcept {
    const int number = stop_signal.load(std::memory_order_relaxed);
    return 128 + (number != 0 ? number : SIGINT);
}

}  // namespace marginsim::cli
