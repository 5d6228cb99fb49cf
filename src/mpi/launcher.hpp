#pragma once
// What an MPI launcher (mpirun, srun) leaves in the environment of the processes it starts:
// whether one started this process, and how many it started. Needs no MPI: the program built
// without it reads them too, to refuse to run as one of several ranks.

#include <cstdlib>

namespace marginsim::mpi {

// A launcher started this process: MPI_Init may be called (without one, Open MPI's MPI_Init
// would start a singleton runtime and a daemon, which a plain process must not).
inline bool started_by_launcher() noexcept {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
        if (std::getenv(name) != nullptr) return true;
    return false;
}

// How many processes the launcher started (1 when none): Open MPI's, PMI's or srun's step size.
// Not SLURM_NTASKS, which a job's batch script has too, where the program runs as one process.
inline long launched_processes() noexcept {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
        if (const char* value = std::getenv(name)) return std::strtol(value, nullptr, 10);
    return 1;
}

}  // namespace marginsim::mpi
