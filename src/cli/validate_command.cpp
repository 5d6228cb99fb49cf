// `marginsim validate FILE`: load a scenario and print it as the engine will read it.

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim::cli {
namespace {

// Values are printed in their shortest exact form: this is what the engine reads.
std::string optional_number(const std::optional<double>& value) {
    return value ? fmt::format("{}", *value) : std::string("-");
}

std::string cap(double notional_cap) {
    return std::isinf(notional_cap) ? std::string("unbounded") : fmt::format("{}", notional_cap);
}

void print_jumps(const Scenario& scenario) {
    const Jumps& jumps = scenario.jumps;
    fmt::print("  jumps          market-wide {}/yr; drift compensated by lambda kappa\n", jumps.intensity);
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        fmt::print("    {:<12} market mean {} vol {} (kappa {:.4g})", scenario.assets[i].symbol,
                   jumps.market[i].mean, jumps.market[i].vol, jumps.market[i].kappa());
        if (jumps.idiosyncratic_intensity[i] > 0.0)
            fmt::print("; idiosyncratic {}/yr mean {} vol {}", jumps.idiosyncratic_intensity[i],
                       jumps.idiosyncratic[i].mean, jumps.idiosyncratic[i].vol);
        fmt::print("\n");
    }
}

void print_regimes(const Scenario& scenario) {
    const Regimes& r = scenario.regimes;
    fmt::print("  regime         calm->stress {}/yr, stress->calm {}/yr, start {}, stationary "
               "share in stress {:.4g}\n",
               r.calm_to_stress, r.stress_to_calm, to_string(r.start), r.stationary_stress_share());
    const std::size_t n = scenario.assets.size();
    for (std::size_t i = 0; i < n; ++i) {
        fmt::print("    {:<12} vol calm {} stress {}; stress correlations", scenario.assets[i].symbol,
                   scenario.assets[i].volatility, r.stress_volatility[i]);
        for (std::size_t j = 0; j < n; ++j) fmt::print(" {:.4g}", r.stress_correlation[i * n + j]);
        fmt::print("\n");
    }
    for (std::size_t k = 0; k < 2; ++k) {
        const RegimeState& state = r.states[k];
        fmt::print("    {:<12} {} innovations", k == 0 ? "calm" : "stress", to_string(state.innovations));
        if (state.innovations == Innovations::student_t) fmt::print(" (dof {})", state.dof);
        if (scenario.simulation.jumps) fmt::print(", jumps {}", state.jumps ? "on" : "off");
        fmt::print("\n");
    }
}

void print_garch(const Scenario& scenario) {
    const Garch& garch = scenario.garch;
    fmt::print("  garch          GARCH(1,1) daily variance from today's h_0 = volatility^2 / 365, {} innovations",
               to_string(garch.innovations));
    if (garch.innovations == Innovations::student_t) fmt::print(" (dof {})", scenario.simulation.dof);
    fmt::print("\n");
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        const GarchParameters& g = garch.assets[i];
        fmt::print("    {:<12} omega {} alpha {} beta {}; alpha + beta {:.4g}, long-run volatility {:.4g}\n",
                   scenario.assets[i].symbol, g.omega, g.alpha, g.beta, g.persistence(),
                   std::sqrt(365.0 * g.long_run_variance()));
    }
}

void print_fhs(const Scenario& scenario) {
    const Fhs& fhs = scenario.fhs;
    fmt::print("  fhs            filtered historical simulation from today's h_0 = volatility^2 / 365, filter {}",
               to_string(fhs.filter));
    if (fhs.filter == FhsFilter::ewma) fmt::print(" (lambda {})", fhs.lambda);
    fmt::print("\n");
    if (fhs.filter == FhsFilter::garch) {
        for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
            const GarchParameters& g = fhs.assets[i];
            fmt::print("    {:<12} omega {} alpha {} beta {}\n", scenario.assets[i].symbol, g.omega, g.alpha, g.beta);
        }
    }
    fmt::print("  residuals      {} days, {} to {}, {}\n", fhs.days(), fhs.dates.front(), fhs.dates.back(),
               fhs.residuals_file.empty() ? std::string("embedded") : fhs.residuals_file);
}

void print_simulation(const Scenario& scenario) {
    const Simulation& sim = scenario.simulation;
    fmt::print("simulation\n");
    fmt::print("  paths          {}\n", sim.paths);
    fmt::print("  horizon_days   {}\n", sim.horizon_days);
    fmt::print("  steps_per_day  {}\n", sim.steps_per_day);
    fmt::print("  monitoring     {}\n", to_string(sim.monitoring));
    fmt::print("  sampling       {}{}\n", to_string(sim.importance_sampling),  // key importance_sampling
               sim.importance_sampling == ImportanceSampling::selloff ? " (importance sampling, weighted)" : "");
    fmt::print("  steps          {}\n", sim.steps);
    fmt::print("  dt             {} years = {} days\n", sim.dt_years, sim.dt_days());
    fmt::print("  seed           {}\n", sim.seed);
    fmt::print("  model          {}\n", to_string(sim.model));
    if (sim.model == PriceModel::student_t) fmt::print("  dof            {}\n", sim.dof);
    if (sim.model == PriceModel::regime) print_regimes(scenario);
    if (sim.model == PriceModel::garch) print_garch(scenario);
    if (sim.model == PriceModel::fhs) print_fhs(scenario);
    if (sim.jumps) print_jumps(scenario);
    if (const ParameterUncertainty& u = scenario.uncertainty; u.on())
        fmt::print("  uncertainty    volatilities drawn per path as estimated from {} daily returns: each variance "
                   "vol^2 W_ii / {}, W ~ Wishart(correlation, {}) (relative sd {:.3g})\n",
                   u.returns, u.returns, u.returns, u.variance_relative_sd());
    fmt::print("  threads        {}{}\n", sim.threads, sim.threads == 0 ? " (all cores)" : "");
}

void print_account(const Scenario& scenario) {
    fmt::print("account\n");
    fmt::print("  balance        {}\n", scenario.balance);
    fmt::print("  policy         {}\n", to_string(scenario.policy));
    fmt::print("  fee_rate       {}\n", scenario.fee_rate);
}

void print_assets(const Scenario& scenario) {
    fmt::print("assets\n");
    for (const Asset& asset : scenario.assets) {
        fmt::print("  {}: price {}, volatility {}, drift {}, funding_rate {} per 8 h\n",
                   asset.symbol, asset.price, asset.volatility, asset.drift, asset.funding_rate);
        if (!asset.tier_table.empty()) fmt::print("    tiers from \"{}\"\n", asset.tier_table);
        fmt::print("    {:>16} {:>10} {:>12} {:>13}\n", "notional_cap", "rate", "amount",
                   "max_leverage");
        for (const Tier& tier : asset.tiers) {
            fmt::print("    {:>16} {:>10} {:>12} {:>13}\n", cap(tier.notional_cap), tier.rate,
                       tier.amount, optional_number(tier.max_leverage));
        }
    }
}

void print_correlation(const Scenario& scenario) {
    fmt::print("correlation");
    if (scenario.correlation_repaired) {
        fmt::print(" (repaired to the nearest correlation matrix, Frobenius distance {})",
                   scenario.correlation_repair_distance);
    }
    fmt::print("\n  {:>10}", "");
    for (const Asset& asset : scenario.assets) fmt::print(" {:>10}", asset.symbol);
    fmt::print("\n");
    for (std::size_t i = 0; i < scenario.asset_count(); ++i) {
        fmt::print("  {:>10}", scenario.assets[i].symbol);
        for (std::size_t j = 0; j < scenario.asset_count(); ++j) {
            fmt::print(" {:>10.6f}", scenario.correlation_at(i, j));
        }
        fmt::print("\n");
    }
}

void print_positions(const Scenario& scenario) {
    fmt::print("positions\n");
    fmt::print("  {:>3} {:>8} {:>5} {:>8} {:>12} {:>9} {:>14} {:>14} {:>14}\n", "#", "symbol",
               "side", "mode", "margin", "leverage", "quantity", "entry_price", "notional");
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& p = scenario.positions[j];
        fmt::print("  {:>3} {:>8} {:>5} {:>8} {:>12} {:>9.4g} {:>14.8g} {:>14} {:>14}\n", j,
                   p.symbol, to_string(p.side), to_string(p.mode), p.margin, p.leverage,
                   p.quantity, p.entry_price, p.notional_at_entry());
    }
}

void print_cross_wallets(const Scenario& scenario) {
    fmt::print("cross wallet (balance minus isolated margins)\n");
    for (const MarginMode mode : all_modes) {
        fmt::print("  {:<14} {}\n", to_string(mode), scenario.cross_wallet(mode));
    }
}

}  // namespace

CLI::App* add_validate_command(CLI::App& app, ValidateArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "validate", "Check a scenario and print it as the engine reads it (no simulation)");
    add_scenario_options(*command, arguments.scenario, arguments.tiers_dir);
    return command;
}

int validate_command(const ValidateArguments& arguments) {
    const Scenario scenario = load_scenario(arguments.scenario, LoadOptions{arguments.tiers_dir});
    print_warnings(scenario.warnings);
    fmt::print("scenario {}\n", scenario.source);
    print_simulation(scenario);
    print_account(scenario);
    print_assets(scenario);
    print_correlation(scenario);
    print_positions(scenario);
    print_cross_wallets(scenario);
    if (!scenario.warnings.empty()) {
        fmt::print("warnings\n");
        for (const std::string& warning : scenario.warnings) fmt::print("  {}\n", warning);
    }
    fmt::print("OK\n");
    return exit_ok;
}

}  // namespace marginsim::cli
