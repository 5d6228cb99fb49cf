#pragma once
// The subcommands of the marginsim program. Each one registers its arguments on the CLI11
// app, then runs once they are parsed and returns the exit code; errors are thrown and
// mapped to exit codes by main.

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace marginsim::cli {

enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

struct RunArguments {
    std::string scenario;
    std::uint64_t paths = 0;
    std::uint64_t seed = 0;
    int threads = 0;
    std::string json;
    std::string csv;
    std::string tiers_dir;
    bool quiet = false;
    // Set after parsing: which overrides were given.
    const CLI::Option* paths_option = nullptr;
    const CLI::Option* seed_option = nullptr;
    const CLI::Option* threads_option = nullptr;
};

struct ValidateArguments {
    std::string scenario;
    std::string tiers_dir;
};

// The --tiers-dir option of every command that loads a scenario.
inline CLI::Option* add_tiers_dir_option(CLI::App& command, std::string& tiers_dir) {
    return command.add_option("--tiers-dir", tiers_dir,
                              "Look up tier table references (tiers = \"binance-usdm/BTCUSDT\") "
                              "here first, before the exchanges directory next to the scenario");
}

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments);
int run_command(const RunArguments& arguments);

CLI::App* add_validate_command(CLI::App& app, ValidateArguments& arguments);
int validate_command(const ValidateArguments& arguments);

struct LiqArguments {
    std::string scenario;
    std::string json;
    std::string tiers_dir;
};

CLI::App* add_liq_command(CLI::App& app, LiqArguments& arguments);
int liq_command(const LiqArguments& arguments);

struct CalibrateArguments {
    std::vector<std::string> files;
    int window = 0;
    std::string method = "sample";
    double lambda = 0.94;
    std::vector<std::string> symbols;
    std::string out;
    // Set after parsing: which options were given.
    const CLI::Option* window_option = nullptr;
    const CLI::Option* lambda_option = nullptr;
};

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArguments& arguments);
int calibrate_command(const CalibrateArguments& arguments);

inline void print_warnings(const std::vector<std::string>& warnings) {
    for (const std::string& warning : warnings) std::cerr << "warning: " << warning << '\n';
}

}  // namespace marginsim::cli
