#include "rank_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#ifdef MARGINSIM_MPI
#include "mpi/mpi_ranks.hpp"
#endif

namespace marginsim::cli {

#ifdef MARGINSIM_MPI
struct RankSession::Mpi {
    Mpi(int& argc, char**& argv) : session(argc, argv) {}
    mpi::MpiSession session;
};

RankSession::RankSession(int& argc, char**& argv) : mpi_(std::make_unique<Mpi>(argc, argv)) {}
const Ranks& RankSession::ranks() const noexcept { return mpi_->session.ranks(); }
#else
struct RankSession::Mpi {};

namespace {
// The number of ranks a launcher started, from its environment (1 when none).
long launched_ranks() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
        if (const char* value = std::getenv(name)) return std::strtol(value, nullptr, 10);
    return 1;
}
}  // namespace

RankSession::RankSession(int&, char**&) {
    if (launched_ranks() > 1)
        throw std::runtime_error(
            "started as one of several MPI ranks, but this marginsim was built without MPI (Debian: "
            "libopenmpi-dev; docs/distributed.md): every rank would run the whole command");
}
const Ranks& RankSession::ranks() const noexcept { return single_process(); }
#endif

RankSession::~RankSession() = default;

void RankSession::leave_now(int code) noexcept {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
}

void quiet_standard_streams() noexcept {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null < 0) return;
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::close(null);
}

}  // namespace marginsim::cli
