// `marginsim import binance --account FILE --positions FILE --brackets FILE [--history DIR]
// --out SCENARIO`: a Binance USDⓈ-M account, as its API exports it, written as a runnable
// scenario (docs/import.md).

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "commands.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/import.hpp"
#include "outputs.hpp"

namespace marginsim::cli {
namespace {

std::string now_utc() {
    const auto now = std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
    const auto day = std::chrono::floor<std::chrono::days>(now);
    const std::chrono::hh_mm_ss<std::chrono::minutes> time(now - day);
    return fmt::format("{} {:02}:{:02} UTC", format_date(day), time.hours().count(), time.minutes().count());
}

std::string price_text(const std::optional<double>& price) {
    return price ? fmt::format("{:.2f}", *price) : std::string("none");
}

std::string summary(const ImportResult& result, const std::string& out) {
    std::string text = fmt::format("{} position{} imported into {}\n", result.positions.size(),
                                   result.positions.size() == 1 ? "" : "s", out);
    text += fmt::format("  {:<14} {:<6} {:<9} {:>16} {:>16}\n", "symbol", "side", "mode",
                        "Binance liq.", "marginsim liq.");
    for (const ImportedPosition& p : result.positions) {
        text += fmt::format("  {:<14} {:<6} {:<9} {:>16} {:>16}\n", p.exchange_symbol, p.side, p.mode,
                            price_text(p.exchange_liquidation_price), price_text(p.liquidation_price));
    }
    for (const std::string& skipped : result.skipped) text += "  not imported: " + skipped + '\n';
    return text;
}

}  // namespace

CLI::App* add_import_command(CLI::App& app, ImportArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "import", "Write a runnable scenario from an exchange account's own exports");
    command->require_subcommand(1);
    CLI::App* binance = command->add_subcommand(
        "binance",
        "Binance USDⓈ-M futures: GET /fapi/v2/account, /fapi/v2/positionRisk and "
        "/fapi/v1/leverageBracket responses, saved as JSON files");
    const auto input = [binance](const char* name, std::string& path, const char* text) {
        binance->add_option(name, path, text)->type_name("FILE")->check(nonempty_path())->required();
    };
    input("--account", arguments.account, "Response of GET /fapi/v2/account (totalWalletBalance, ...)");
    input("--positions", arguments.positions, "Response of GET /fapi/v2/positionRisk (an array)");
    input("--brackets", arguments.brackets, "Response of GET /fapi/v1/leverageBracket (an array)");
    binance
        ->add_option("--history", arguments.history,
                     "Directory of daily price CSV files, one per asset (Binance_BTCUSDT_d.csv), "
                     "for volatilities and correlations; default: the bundled data/binance_daily")
        ->type_name("DIR")
        ->check(nonempty_path());
    binance->add_option("--window", arguments.window,
                        "Calibrate on the DAYS calendar days (1 to 100000) up to the last date "
                        "all price files share")
        ->type_name("DAYS")
        ->check(CLI::Range(1, 100000).description(""))
        ->capture_default_str();
    binance->add_option("--horizon", arguments.horizon, "The scenario's horizon_days (> 0)")
        ->type_name("DAYS")
        ->check(CLI::PositiveNumber.description(""))
        ->capture_default_str();
    binance->add_option("--out", arguments.out, "Write the scenario to PATH ('-': stdout)")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->required();
    binance->footer(output_rules);
    return command;
}

int import_command(const ImportArguments& arguments) {
    const OutputPlan plan({{"--out", arguments.out}}, {{"--account", arguments.account},
                                                        {"--positions", arguments.positions},
                                                        {"--brackets", arguments.brackets}});
    ImportOptions options;
    options.history_dir = arguments.history.empty() ? bundled_history() : std::filesystem::path(arguments.history);
    options.window_days = arguments.window;
    options.horizon_days = arguments.horizon;
    options.generated_at = now_utc();
    const ImportResult result =
        import_binance({arguments.account, arguments.positions, arguments.brackets}, options);
    print_warnings(result.warnings);
    plan.write("--out", result.scenario_toml);
    if (plan.stdout_taken()) {
        std::cerr << summary(result, "stdout");
    } else {
        write_stdout(summary(result, arguments.out));
    }
    return exit_ok;
}

}  // namespace marginsim::cli
