#pragma once
// The processes that share the work of a command (MPI ranks, docs/distributed.md): every run's
// blocks are split into one contiguous share per rank, each rank runs its share on its own
// threads, and the ranks combine their statistics with the collective operations below, which
// every rank calls in the same order. Rank 0, the root, alone reads the inputs, writes the
// outputs and prints. A process on its own is single_process(): rank 0 of 1, and every
// operation a no-op.

#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace marginsim {

class Ranks {
public:
    virtual ~Ranks() = default;
    virtual int rank() const noexcept = 0;  // 0 .. size() - 1
    virtual int size() const noexcept = 0;
    bool is_root() const noexcept { return rank() == 0; }

    // Elementwise over the ranks, the result on every rank. The sum is modulo 2^64, so that
    // two's complement int64 values add alike.
    virtual void sum(std::span<std::uint64_t> values) const = 0;
    virtual void max(std::span<double> values) const = 0;
    // The root's bytes, on every rank.
    virtual void broadcast(std::string& bytes) const = 0;
    // Every rank's bytes on the root, in rank order (empty on the other ranks).
    virtual std::vector<std::string> gather(const std::string& bytes) const = 0;
    // parts[r], given on the root (size() of them; ignored elsewhere), to rank r.
    virtual std::string scatter(const std::vector<std::string>& parts) const = 0;
    // Payload bytes this rank has sent and received so far (what a run costs in communication).
    virtual std::uint64_t bytes_sent() const noexcept = 0;
    virtual std::uint64_t bytes_received() const noexcept = 0;
};

// Rank 0 of 1: nothing to exchange.
const Ranks& single_process() noexcept;

// What on_root throws on the other ranks when the root's step failed: the exit code of the
// root's error, and its message (which the root alone prints).
class RootFailed : public std::runtime_error {
public:
    RootFailed(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

// The exit code of an error: 2 for bad input (InputError), 1 for any other.
int exit_code_of_error(const std::exception& error) noexcept;

// Runs `step` on the root alone (collective): when it throws, the root rethrows its error and
// every other rank throws RootFailed with code_of(error) (exit_code_of_error when not given)
// and its message, so that all ranks leave alike.
void on_root(const Ranks& ranks, const std::function<void()>& step,
             const std::function<int(const std::exception&)>& code_of = {});

}  // namespace marginsim
