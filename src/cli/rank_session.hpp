#pragma once
// The program's MPI session (docs/distributed.md): MPI for the program's life when an MPI
// launcher (mpirun, srun) started it and the program was built with MPI; otherwise one process,
// and MPI never touched. A program built without MPI refuses to run as one of several ranks.

#include <memory>

#include "marginsim/ranks.hpp"

namespace marginsim::cli {

class RankSession {
public:
    // Throws std::runtime_error when started as one of several ranks by a launcher this build
    // cannot join (built without MPI).
    RankSession(int& argc, char**& argv);
    ~RankSession();
    RankSession(const RankSession&) = delete;
    RankSession& operator=(const RankSession&) = delete;

    const Ranks& ranks() const noexcept;
    // Ends the process at once with `code`, standard streams flushed, MPI not finalized.
    [[noreturn]] void leave_now(int code) noexcept;

private:
    struct Mpi;
    std::unique_ptr<Mpi> mpi_;
};

// stdout and stderr to /dev/null: the ranks other than 0 print nothing.
void quiet_standard_streams() noexcept;

}  // namespace marginsim::cli
