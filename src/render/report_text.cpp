// The text rendering of a run's report: a header, the side-by-side table of the modes, the
// positions, cross against isolated, and the warnings.

#include "marginsim/report.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "render/format.hpp"

namespace marginsim {
namespace {

using detail::group_thousands;
using detail::money;
using detail::percent_text;

constexpr int label_width = 34;
constexpr int column_width = 21;

// Prices span from fractions of a cent to 1e5: keep 6 significant digits below 1.
std::string price(double value) {
    if (std::isfinite(value) && std::abs(value) < 1.0 && value != 0.0) {
        return fmt::format("{:.6g}", value);
    }
    return money(value);
}

std::string percent(double probability) { return percent_text(probability, 2); }

std::string percent_interval(const Interval& interval) {
    return fmt::format("{:.2f} - {:.2f}%", 100.0 * interval.lo, 100.0 * interval.hi);
}

std::string days(double value) { return fmt::format("{:.2f}", value); }

std::string share_of_balance(double amount, double balance) {
    return balance > 0.0 ? percent(amount / balance) : std::string("-");
}

template <class Cell>
void row(std::ostream& out, std::string_view label, const Report& report, Cell cell) {
    fmt::print(out, "{:<{}}", label, label_width);
    for (const ModeReport& mode : report.modes) fmt::print(out, "{:>{}}", cell(mode), column_width);
    fmt::print(out, "\n");
}

void rule(std::ostream& out) {
    fmt::print(out, "{}\n", std::string(label_width + 3 * column_width, '-'));
}

void write_header(std::ostream& out, const Report& report) {
    const SimulationInfo& info = report.simulation;
    std::string model(to_string(info.model));
    if (info.model == PriceModel::student_t) model += fmt::format(" (dof {})", info.dof);
    if (const std::string parameters = model_parameters(info); !parameters.empty())
        model += " (" + parameters + ")";
    fmt::print(out, "marginsim report: {}\n", report.scenario);
    for (const std::string& given : report.overrides) fmt::print(out, "  --set {}\n", given);  // none without --set
    if (report.partial) {
        fmt::print(out, "PARTIAL: interrupted after {} of {} paths; every number below covers those paths only\n",
                   group_thousands(std::to_string(report.paths_done)),
                   group_thousands(std::to_string(report.paths_requested)));
    }
    fmt::print(out, "{} paths x {} steps, horizon {} days, model {}\n",
               group_thousands(std::to_string(info.paths)), info.steps, info.horizon_days, model);
    fmt::print(out, "{} steps/day, {} monitoring ({})\n", info.steps_per_day, to_string(info.monitoring),
               info.monitoring == Monitoring::continuous ? "a liquidation between two steps counts"
                                                         : "liquidations looked for at the steps only");
    if (info.ranks > 1)
        fmt::print(out, "seed {}, {} ranks x {} threads, {:.2f} s\n", info.seed, info.ranks, info.threads, info.elapsed_s);
    else
        fmt::print(out, "seed {}, {} threads, {:.2f} s\n", info.seed, info.threads, info.elapsed_s);
    if (info.importance) fmt::print(out, "{}\n", importance_sentence(info));
    if (info.precision) fmt::print(out, "{}\n", precision_sentence(info));
    if (info.overflowed_paths != 0) {
        fmt::print(out, "overflowed paths: {}, left out of every statistic below\n",
                   group_thousands(std::to_string(info.overflowed_paths)));
    }
    fmt::print(out, "balance {}, liquidation policy {}", money(report.balance),
               to_string(report.policy));
    if (report.policy == LiquidationPolicy::fee) {
        fmt::print(out, " (fee {} of notional)", percent(report.fee_rate));
    }
    fmt::print(out, "\n\n");
}

bool starts_liquidated(const Report& report) {
    return std::any_of(report.modes.begin(), report.modes.end(),
                       [](const ModeReport& mode) { return mode.starts_liquidated(); });
}

// The symbols of the positions the mode liquidates at time 0 ("ETH", "BTC+ETH"), else "-".
std::string start_liquidations(const ModeReport& mode) {
    std::string out;
    for (const PositionReport& position : mode.positions)
        if (position.liquidated_at_start) out += (out.empty() ? "" : "+") + position.symbol;
    return out.empty() ? std::string("-") : out;
}

// One line above the table: a mode that starts liquidated answers, loudly.
void write_start_liquidations(std::ostream& out, const Report& report) {
    if (!starts_liquidated(report)) return;
    std::string modes;
    for (const ModeReport& mode : report.modes) {
        if (!mode.starts_liquidated()) continue;
        modes += fmt::format("{}{} ({})", modes.empty() ? "" : ", ", to_string(mode.mode), start_liquidations(mode));
    }
    fmt::print(out,
               "STARTS LIQUIDATED in {}: at or below the maintenance margin at the start prices, liquidated at "
               "time 0 on every path (P = 1, the loss realised); see the warnings\n\n",
               modes);
}

void write_mode_table(std::ostream& out, const Report& report) {
    row(out, "", report, [](const ModeReport& m) { return std::string(to_string(m.mode)); });
    rule(out);
    row(out, "P(any liquidation)", report, [](const ModeReport& m) {
        return percent(m.summary.liquidation_probability.estimate);
    });
    row(out, "  95% CI", report, [](const ModeReport& m) {
        return percent_interval(m.summary.liquidation_probability.ci95);
    });
    if (starts_liquidated(report)) {
        row(out, "  LIQUIDATED AT TIME 0", report, [](const ModeReport& m) { return start_liquidations(m); });
    }
    row(out, "Expected loss", report, [](const ModeReport& m) { return money(m.summary.loss.mean); });
    row(out, "Loss std", report, [](const ModeReport& m) { return money(m.summary.loss.std); });
    for (std::size_t i = 0; i < tail_levels.size(); ++i) {
        row(out, fmt::format("VaR {:g}%", 100.0 * tail_levels[i]), report,
            [i](const ModeReport& m) { return money(m.summary.loss.var[i]); });
    }
    for (std::size_t i = 0; i < tail_levels.size(); ++i) {
        row(out, fmt::format("ES {:g}%", 100.0 * tail_levels[i]), report,
            [i](const ModeReport& m) { return money(m.summary.loss.es[i]); });
    }
    row(out, "Worst case (max loss)", report,
        [](const ModeReport& m) { return money(m.summary.loss.max); });
    row(out, "Collateral at risk", report,
        [](const ModeReport& m) { return money(m.collateral_at_risk); });
    row(out, "  % of balance", report, [&report](const ModeReport& m) {
        return share_of_balance(m.collateral_at_risk, report.balance);
    });
    row(out, "ES 99% as % of balance", report, [&report](const ModeReport& m) {
        return share_of_balance(m.summary.loss.es[1], report.balance);
    });
    row(out, "First liquidation, median (days)", report, [](const ModeReport& m) {
        const auto& time = m.summary.time_to_liquidation_days;
        return time ? days(time->median) : std::string("-");
    });
    row(out, "  p05 - p95 (days)", report, [](const ModeReport& m) {
        const auto& time = m.summary.time_to_liquidation_days;
        return time ? days(time->p05) + " - " + days(time->p95) : std::string("-");
    });
    row(out, "Drawdown mean", report,
        [](const ModeReport& m) { return money(m.summary.drawdown.mean); });
    row(out, "Drawdown p95", report,
        [](const ModeReport& m) { return money(m.summary.drawdown.p95); });
    row(out, "Drawdown p99", report,
        [](const ModeReport& m) { return money(m.summary.drawdown.p99); });
    row(out, "Funding paid, mean", report,
        [](const ModeReport& m) { return money(m.summary.funding_paid_mean); });
    row(out, "Cross wallet", report, [](const ModeReport& m) { return money(m.cross_wallet); });
}

const PositionReport* position_at(const ModeReport& mode, std::size_t j) {
    return j < mode.positions.size() ? &mode.positions[j] : nullptr;
}

void write_positions(std::ostream& out, const Report& report) {
    const std::vector<PositionReport>& positions = report.modes[0].positions;
    if (positions.empty()) return;
    fmt::print(out, "\nPositions (margin, notional at entry, entry price)\n");
    rule(out);
    for (std::size_t j = 0; j < positions.size(); ++j) {
        const PositionReport& p = positions[j];
        fmt::print(out, "{} {} {}: margin {}, notional {}, entry {}\n", p.symbol,
                   to_string(p.side), to_string(p.position_mode), money(p.margin),
                   money(p.notional), price(p.entry_price));
        row(out, "  P(liquidation)", report, [j](const ModeReport& m) {
            const PositionReport* at = position_at(m, j);
            if (!at) return std::string("-");
            return percent(at->liquidation_probability) + (at->liquidated_at_start ? " (time 0)" : "");
        });
        row(out, "  Liquidation price", report, [j](const ModeReport& m) {
            const PositionReport* at = position_at(m, j);
            if (!at) return std::string("-");
            return at->liquidation_price ? price(*at->liquidation_price) : std::string("none");
        });
    }
}

void write_comparison(std::ostream& out, const Report& report) {
    const Proportion& worse = report.p_cross_loss_exceeds_isolated;
    const Proportion& contagion = report.contagion_probability;
    fmt::print(out, "\nCross against isolated, path by path\n");
    rule(out);
    fmt::print(out, "{:<{}}{:>{}}   95% CI {}\n", "P(cross loss > isolated loss)", label_width,
               percent(worse.estimate), column_width, percent_interval(worse.ci95));
    fmt::print(out, "  On {} of the paths the account loses more in cross than isolated.\n",
               percent(worse.estimate));
    fmt::print(out, "{:<{}}{:>{}}   95% CI {}\n", "Contagion probability", label_width,
               percent(contagion.estimate), column_width, percent_interval(contagion.ci95));
    fmt::print(out,
               "  On {} of the paths a position that survives on its own margin is\n"
               "  liquidated in cross, dragged down by the others.\n",
               percent(contagion.estimate));
}

void write_warnings(std::ostream& out, const Report& report) {
    if (report.warnings.empty()) return;
    fmt::print(out, "\nWarnings\n");
    for (const std::string& warning : report.warnings) fmt::print(out, "  - {}\n", warning);
}

}  // namespace

void write_text(std::ostream& out, const Report& report) {
    check_finite(report);  // before the first line: no half-written table
    write_header(out, report);
    write_start_liquidations(out, report);
    write_mode_table(out, report);
    write_positions(out, report);
    write_comparison(out, report);
    write_warnings(out, report);
}

}  // namespace marginsim
