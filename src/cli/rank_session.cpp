#include "rank_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "mpi/launcher.hpp"
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

RankSession::RankSession(int&, char**&) {
    if (mpi::launched_processes() > 1)
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
