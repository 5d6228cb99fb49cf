// marginsim: parses the command line, dispatches to a subcommand, maps errors to exit codes:
// 0 success, 2 bad input or bad usage, 1 anything else (a failed write to stdout included).

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fcntl.h>

#include "commands.hpp"
#include "interrupt.hpp"
#include "marginsim/error.hpp"
#include "program_ranks.hpp"
#include "rank_session.hpp"

#ifndef MARGINSIM_VERSION
#error "MARGINSIM_VERSION must be defined by the build"
#endif

namespace {

using namespace marginsim::cli;

// A subcommand: its parsed state and how to run it.
struct Subcommand {
    const CLI::App* app;
    std::function<int()> run;
};

template <class Arguments>
Subcommand subcommand(CLI::App& app, Arguments& arguments, CLI::App* (*add)(CLI::App&, Arguments&),
                      int (*run)(const Arguments&)) {
    return {add(app, arguments), [&arguments, run] { return run(arguments); }};
}

// Started with stdin, stdout or stderr closed (`>&-`), the next open() would take its number and
// the report would be written into an output file. /dev/null opened read-only holds the number:
// writes to it fail (EBADF) and are reported as failed writes.
void hold_closed_standard_streams() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) ::open("/dev/null", O_RDONLY);
    }
}

// Everything printed on stdout reached it: the final flush is checked too. A command that
// failed has said why already.
int with_stdout_checked(int code) {
    if (code != exit_ok) return code;
    errno = 0;
    std::cout.flush();
    const bool flushed = std::fflush(stdout) == 0;
    if (flushed && std::cout && std::ferror(stdout) == 0) return code;
    std::cerr << "error: cannot write to stdout: " << (errno != 0 ? std::strerror(errno) : "write failed") << '\n';
    return exit_failure;
}

// The subcommands that spread their work over MPI ranks; the others run on rank 0 alone.
bool spreads_over_ranks(const CLI::App& command) {
    const std::string& name = command.get_name();
    return name == "run" || name == "sweep" || name == "batch" || name == "backtest";
}

int run_parsed(const std::vector<Subcommand>& commands) {
    try {
        for (const Subcommand& command : commands) {
            if (!command.app->parsed()) continue;
            if (spread_over_ranks() && !spreads_over_ranks(*command.app)) return root_alone(command.run);
            return command.run();
        }
        std::cerr << "error: no subcommand\n";
        return exit_usage;
    } catch (const marginsim::RootFailed& failed) {
        return failed.code();  // rank 0 has said why
    } catch (const marginsim::InputError& error) {
        std::cerr << "error: " << error.what() << '\n';
        return exit_usage;
    } catch (const UsageError& error) {
        std::cerr << "error: " << error.what() << '\n';
        return exit_usage;
    } catch (const std::exception& error) {
        std::cerr << "error: " << error.what() << '\n';
        return exit_failure;
    } catch (...) {
        std::cerr << "error: unknown failure\n";
        return exit_failure;
    }
}

// What each rank sent and received (MARGINSIM_RANK_STATS set: scripts/bench_mpi.sh), on rank 0's
// stderr: "rank R: sent S bytes, received B bytes".
void print_rank_traffic() {
    const marginsim::Ranks& ranks = program_ranks();
    const std::vector<std::string> traffic =
        ranks.gather(std::to_string(ranks.bytes_sent()) + " " + std::to_string(ranks.bytes_received()));
    for (std::size_t r = 0; r < traffic.size(); ++r) {
        const std::size_t space = traffic[r].find(' ');
        std::cerr << "rank " << r << ": sent " << traffic[r].substr(0, space) << " bytes, received "
                  << traffic[r].substr(space + 1) << " bytes\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    hold_closed_standard_streams();
    // Under mpirun or srun: MPI for the program's life, and rank 0 alone prints.
    std::optional<RankSession> session;
    try {
        session.emplace(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "error: " << error.what() << '\n';
        return exit_failure;
    }
    set_program_ranks(session->ranks());
    if (!session->ranks().is_root()) quiet_standard_streams();
    CLI::App app{
        "Monte Carlo liquidation risk of crypto margin positions under isolated, cross and\n"
        "mixed margin, evaluated on the same correlated price paths.",
        "marginsim"};
    app.set_version_flag("--version", std::string("marginsim ") + MARGINSIM_VERSION);
    app.require_subcommand(1);
    // "error: " as every other error starts, so that a script or a reader finds them alike.
    app.failure_message([](const CLI::App* failed, const CLI::Error& error) {
        return "error: " + CLI::FailureMessage::simple(failed, error);
    });

    RunArguments run;
    ValidateArguments validate;
    LiqArguments liq;
    SweepArguments sweep;
    BatchArguments batch;
    CalibrateArguments calibrate;
    ImportArguments import_arguments;
    HtmlArguments html;
    StressArguments stress;
    BacktestArguments backtest;
    const std::vector<Subcommand> commands{
        subcommand(app, run, add_run_command, run_command),
        subcommand(app, validate, add_validate_command, validate_command),
        subcommand(app, liq, add_liq_command, liq_command),
        subcommand(app, sweep, add_sweep_command, sweep_command),
        subcommand(app, batch, add_batch_command, batch_command),
        subcommand(app, calibrate, add_calibrate_command, calibrate_command),
        subcommand(app, import_arguments, add_import_command, import_command),
        subcommand(app, html, add_html_command, html_command),
        subcommand(app, stress, add_stress_command, stress_command),
        subcommand(app, backtest, add_backtest_command, backtest_command),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // --help and --version end here too, with CLI11's exit code 0.
        return with_stdout_checked(app.exit(error) == 0 ? exit_ok : exit_usage);
    }
    const int code = with_stdout_checked(run_parsed(commands));
    if (launched_on_ranks() && std::getenv("MARGINSIM_RANK_STATS") != nullptr) print_rank_traffic();
    // After mpirun's SIGTERM, MPI_Finalize would wait for the SIGKILL that follows it: leave
    // without it (what was to be written is written).
    if (launched_on_ranks() && InterruptGuard::stopped_by_terminate()) session->leave_now(code);
    return code;
}
