#pragma once
// The MPI backend of marginsim::Ranks (include/marginsim/ranks.hpp): the ranks of
// MPI_COMM_WORLD. MPI's own types stay in mpi_ranks.cpp, so that a caller needs MPI's
// headers neither to include this one nor to build (only to link marginsim_mpi).

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <marginsim/ranks.hpp>

namespace marginsim::mpi {

// The ranks of MPI_COMM_WORLD; MPI must be initialised (MpiSession) for its whole life. The
// operations are collective and must come from the thread that initialised MPI; a failed MPI
// call throws std::runtime_error naming it.
class MpiRanks final : public Ranks {
public:
    MpiRanks();

    int rank() const noexcept override { return rank_; }
    int size() const noexcept override { return size_; }

    void sum(std::span<std::uint64_t> values) const override;
    void max(std::span<double> values) const override;
    void broadcast(std::string& bytes) const override;
    std::vector<std::string> gather(const std::string& bytes) const override;
    // Throws std::invalid_argument on the root, before any communication, unless
    // parts.size() == size().
    std::string scatter(const std::vector<std::string>& parts) const override;

    std::uint64_t bytes_sent() const noexcept override { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t bytes_received() const noexcept override {
        return received_.load(std::memory_order_relaxed);
    }

private:
    void send_bytes(std::string_view bytes, int destination, int tag) const;
    void receive_bytes(std::string& bytes, std::uint64_t length, int source, int tag) const;
    void count(std::uint64_t sent, std::uint64_t received) const noexcept;

    int rank_ = 0;
    int size_ = 1;
    // Atomic so that another thread (progress) may read them while the main thread communicates.
    mutable std::atomic<std::uint64_t> sent_{0};
    mutable std::atomic<std::uint64_t> received_{0};
};

// MPI for the life of the program, when an MPI launcher (mpirun, srun) started the process;
// otherwise MPI is never touched and the process is single_process(). Construct it first
// thing in main(), on the main thread, and at most once.
class MpiSession {
public:
    MpiSession(int& argc, char**& argv);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

    bool active() const noexcept { return ranks_.has_value(); }
    // MpiRanks over MPI_COMM_WORLD when active, else single_process().
    const Ranks& ranks() const noexcept;

    // Whether the environment is that of a process an MPI launcher started.
    static bool launched() noexcept;
    // Last resort: ends every rank (MPI_Abort) when MPI is up, else this process (std::exit).
    [[noreturn]] static void abort(int code) noexcept;

private:
    bool owns_mpi_ = false;  // initialised here, so finalised here
    std::optional<MpiRanks> ranks_;
};

}  // namespace marginsim::mpi
