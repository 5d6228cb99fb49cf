// marginsim: parses the command line, dispatches to a subcommand, maps errors to exit codes:
// 0 success, 2 bad input or bad usage, 1 anything else.

#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "marginsim/error.hpp"

#ifndef MARGINSIM_VERSION
#error "MARGINSIM_VERSION must be defined by the build"
#endif

int main(int argc, char** argv) {
    using namespace marginsim::cli;
    CLI::App app{
        "Monte Carlo liquidation risk of crypto margin positions under isolated, cross and\n"
        "mixed margin, evaluated on the same correlated price paths.",
        "marginsim"};
    app.set_version_flag("--version", std::string("marginsim ") + MARGINSIM_VERSION);
    app.require_subcommand(1);

    RunArguments run_arguments;
    const CLI::App* run = add_run_command(app, run_arguments);
    ValidateArguments validate_arguments;
    const CLI::App* validate = add_validate_command(app, validate_arguments);
    LiqArguments liq_arguments;
    const CLI::App* liq = add_liq_command(app, liq_arguments);
    SweepArguments sweep_arguments;
    const CLI::App* sweep = add_sweep_command(app, sweep_arguments);
    BatchArguments batch_arguments;
    const CLI::App* batch = add_batch_command(app, batch_arguments);
    CalibrateArguments calibrate_arguments;
    const CLI::App* calibrate = add_calibrate_command(app, calibrate_arguments);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // --help and --version end here too, with CLI11's exit code 0.
        return app.exit(error) == 0 ? exit_ok : exit_usage;
    }

    try {
        if (run->parsed()) return run_command(run_arguments);
        if (validate->parsed()) return validate_command(validate_arguments);
        if (liq->parsed()) return liq_command(liq_arguments);
        if (sweep->parsed()) return sweep_command(sweep_arguments);
        if (batch->parsed()) return batch_command(batch_arguments);
        if (calibrate->parsed()) return calibrate_command(calibrate_arguments);
        std::cerr << "error: no subcommand\n";
        return exit_usage;
    } catch (const marginsim::InputError& error) {
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
