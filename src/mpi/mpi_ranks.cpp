#include "mpi/mpi_ranks.hpp"

#include "mpi/launcher.hpp"

// The C API only: the deprecated C++ bindings that mpi.h would pull in do not compile clean.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace marginsim::mpi {
namespace {

constexpr int root = 0;
constexpr int gather_tag = 1;
constexpr int scatter_tag = 2;
// MPI counts are int: larger payloads go in pieces of at most this many bytes.
constexpr std::uint64_t max_chunk_bytes = std::uint64_t{1} << 30;

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    throw std::runtime_error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

int chunk_bytes(std::uint64_t remaining) { return static_cast<int>(std::min(remaining, max_chunk_bytes)); }

// In place, in pieces of at most max_chunk_bytes.
template <class T>
void allreduce(std::span<T> values, MPI_Datatype type, MPI_Op op) {
    constexpr std::size_t max_elements = max_chunk_bytes / sizeof(T);
    for (std::size_t done = 0; done < values.size();) {
        const std::size_t count = std::min(values.size() - done, max_elements);
        check(MPI_Allreduce(MPI_IN_PLACE, values.data() + done, static_cast<int>(count), type, op, MPI_COMM_WORLD),
              "MPI_Allreduce");
        done += count;
    }
}

bool mpi_running() noexcept {
    int initialised = 0;
    int finalised = 0;
    return MPI_Initialized(&initialised) == MPI_SUCCESS && initialised != 0 &&
           MPI_Finalized(&finalised) == MPI_SUCCESS && finalised == 0;
}

}  // namespace

MpiRanks::MpiRanks() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

void MpiRanks::count(std::uint64_t sent, std::uint64_t received) const noexcept {
    sent_.fetch_add(sent, std::memory_order_relaxed);
    received_.fetch_add(received, std::memory_order_relaxed);
}

void MpiRanks::sum(std::span<std::uint64_t> values) const {
    allreduce(values, MPI_UINT64_T, MPI_SUM);
    count(values.size_bytes(), values.size_bytes());
}

void MpiRanks::max(std::span<double> values) const {
    allreduce(values, MPI_DOUBLE, MPI_MAX);
    count(values.size_bytes(), values.size_bytes());
}

void MpiRanks::broadcast(std::string& bytes) const {
    std::uint64_t length = bytes.size();
    check(MPI_Bcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    if (!is_root()) bytes.resize(length);
    for (std::uint64_t offset = 0; offset < length;) {
        const int piece = chunk_bytes(length - offset);
        check(MPI_Bcast(bytes.data() + offset, piece, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
        offset += static_cast<std::uint64_t>(piece);
    }
    if (is_root()) count(length, 0);
    else count(0, length);
}

std::vector<std::string> MpiRanks::gather(const std::string& bytes) const {
    std::uint64_t length = bytes.size();
    std::vector<std::uint64_t> lengths(is_root() ? static_cast<std::size_t>(size_) : 0);
    check(MPI_Gather(&length, 1, MPI_UINT64_T, lengths.data(), 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Gather");
    if (!is_root()) {
        send_bytes(bytes, root, gather_tag);
        return {};
    }
    std::vector<std::string> all(static_cast<std::size_t>(size_));
    all[0] = bytes;
    for (int source = 1; source < size_; ++source)
        receive_bytes(all[static_cast<std::size_t>(source)], lengths[static_cast<std::size_t>(source)], source,
                      gather_tag);
    return all;
}

std::string MpiRanks::scatter(const std::vector<std::string>& parts) const {
    if (is_root() && parts.size() != static_cast<std::size_t>(size_))
        throw std::invalid_argument("scatter: " + std::to_string(parts.size()) + " parts for " +
                                    std::to_string(size_) + " ranks");
    std::vector<std::uint64_t> lengths;
    if (is_root())
        for (const std::string& part : parts) lengths.push_back(part.size());
    std::uint64_t length = 0;
    check(MPI_Scatter(lengths.data(), 1, MPI_UINT64_T, &length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD),
          "MPI_Scatter");
    if (!is_root()) {
        std::string part;
        receive_bytes(part, length, root, scatter_tag);
        return part;
    }
    for (int destination = 1; destination < size_; ++destination)
        send_bytes(parts[static_cast<std::size_t>(destination)], destination, scatter_tag);
    return parts[0];
}

// Pieces from one source with one tag arrive in the order sent (MPI's non-overtaking rule).
void MpiRanks::send_bytes(std::string_view bytes, int destination, int tag) const {
    for (std::uint64_t offset = 0; offset < bytes.size();) {
        const int piece = chunk_bytes(bytes.size() - offset);
        check(MPI_Send(bytes.data() + offset, piece, MPI_BYTE, destination, tag, MPI_COMM_WORLD), "MPI_Send");
        offset += static_cast<std::uint64_t>(piece);
        count(static_cast<std::uint64_t>(piece), 0);
    }
}

void MpiRanks::receive_bytes(std::string& bytes, std::uint64_t length, int source, int tag) const {
    bytes.resize(length);
    for (std::uint64_t offset = 0; offset < length;) {
        const int piece = chunk_bytes(length - offset);
        check(MPI_Recv(bytes.data() + offset, piece, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Recv");
        offset += static_cast<std::uint64_t>(piece);
        count(0, static_cast<std::uint64_t>(piece));
    }
}

bool MpiSession::launched() noexcept { return started_by_launcher(); }

// Without a launcher, Open MPI's MPI_Init would start a singleton runtime (and a daemon): a
// plain process must not touch MPI at all.
MpiSession::MpiSession(int& argc, char**& argv) {
    if (!launched()) return;
    int initialised = 0;
    check(MPI_Initialized(&initialised), "MPI_Initialized");
    if (initialised == 0) {
        // Only the main thread calls MPI (the worker threads never do): FUNNELED is enough.
        int provided = 0;
        check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        owns_mpi_ = true;
    }
    try {
        ranks_.emplace();
    } catch (...) {
        if (owns_mpi_) MPI_Finalize();
        throw;
    }
}

MpiSession::~MpiSession() {
    ranks_.reset();
    if (owns_mpi_ && mpi_running()) MPI_Finalize();
}

const Ranks& MpiSession::ranks() const noexcept {
    if (ranks_) return *ranks_;
    return single_process();
}

void MpiSession::abort(int code) noexcept {
    if (launched() && mpi_running()) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

}  // namespace marginsim::mpi
