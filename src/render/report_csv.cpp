// The CSV rendering of a run's report: long format, one number per row.

#include "marginsim/report.hpp"

#include <cmath>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "render/format.hpp"
#include "render/report_parts.hpp"

namespace marginsim {
namespace {

using detail::check_modes_in_order;
using detail::csv_field;
using detail::level_key;

std::string csv_number(double value, std::string_view where) {
    if (!std::isfinite(value)) {
        throw std::logic_error(fmt::format("report: non-finite number {} at '{}'", value, where));
    }
    return fmt::format("{}", value);  // shortest text that round-trips
}

class CsvWriter {
public:
    void text(std::string_view section, std::string_view mode, std::string_view key,
              std::string_view value) {
        out_ += fmt::format("{},{},{},{}\n", csv_field(section), csv_field(mode), csv_field(key),
                            csv_field(value));
    }
    void number(std::string_view section, std::string_view mode, std::string_view key,
                double value) {
        text(section, mode, key,
             csv_number(value, fmt::format("{},{},{}", section, mode, key)));
    }
    void optional_number(std::string_view section, std::string_view mode, std::string_view key,
                         const std::optional<double>& value) {
        if (value) {
            number(section, mode, key, *value);
        } else {
            text(section, mode, key, "");
        }
    }
    std::string str() && { return std::move(out_); }

private:
    std::string out_ = "section,mode,key,value\n";
};

void mode_csv(CsvWriter& csv, const ModeReport& report) {
    const std::string mode(to_string(report.mode));
    const ModeSummary& summary = report.summary;
    csv.number("liquidation_probability", mode, "estimate",
               summary.liquidation_probability.estimate);
    csv.number("liquidation_probability", mode, "ci95_lo", summary.liquidation_probability.ci95.lo);
    csv.number("liquidation_probability", mode, "ci95_hi", summary.liquidation_probability.ci95.hi);
    if (report.starts_liquidated()) csv.text("liquidation_probability", mode, "liquidated_at_start", "true");
    csv.number("loss", mode, "mean", summary.loss.mean);
    csv.number("loss", mode, "std", summary.loss.std);
    for (std::size_t i = 0; i < tail_levels.size(); ++i) {
        csv.number("loss", mode, "var_" + level_key(tail_levels[i]), summary.loss.var[i]);
    }
    for (std::size_t i = 0; i < tail_levels.size(); ++i) {
        csv.number("loss", mode, "es_" + level_key(tail_levels[i]), summary.loss.es[i]);
    }
    csv.number("loss", mode, "max", summary.loss.max);
    const auto& time = summary.time_to_liquidation_days;
    csv.optional_number("time_to_liquidation_days", mode, "p05",
                        time ? std::optional(time->p05) : std::nullopt);
    csv.optional_number("time_to_liquidation_days", mode, "median",
                        time ? std::optional(time->median) : std::nullopt);
    csv.optional_number("time_to_liquidation_days", mode, "p95",
                        time ? std::optional(time->p95) : std::nullopt);
    csv.number("drawdown", mode, "mean", summary.drawdown.mean);
    csv.number("drawdown", mode, "p95", summary.drawdown.p95);
    csv.number("drawdown", mode, "p99", summary.drawdown.p99);
    csv.number("funding_paid", mode, "mean", summary.funding_paid_mean);
    csv.number("collateral", mode, "cross_wallet", report.cross_wallet);
    csv.number("collateral", mode, "collateral_at_risk", report.collateral_at_risk);
    for (std::size_t j = 0; j < report.positions.size(); ++j) {
        const PositionReport& p = report.positions[j];
        const std::string prefix =
            fmt::format("{} {} {} {} ", j, p.symbol, to_string(p.side), to_string(p.position_mode));
        csv.number("position", mode, prefix + "margin", p.margin);
        csv.number("position", mode, prefix + "notional", p.notional);
        csv.number("position", mode, prefix + "entry_price", p.entry_price);
        csv.number("position", mode, prefix + "liquidation_probability",
                   p.liquidation_probability);
        csv.optional_number("position", mode, prefix + "liquidation_price", p.liquidation_price);
        if (p.liquidated_at_start) csv.text("position", mode, prefix + "liquidated_at_start", "true");
    }
}

// Keys as in the JSON's simulation.importance, prefixed: importance_selloff_log_return_<symbol>, ...
void importance_csv(CsvWriter& csv, const SimulationInfo& info, const ImportanceInfo& importance) {
    detail::check_importance_assets(info, importance);
    const std::vector<double>& returns = importance.selloff_log_return;
    for (std::size_t i = 0; i < returns.size(); ++i)
        csv.number("simulation", "", "importance_selloff_log_return_" + info.symbols[i], returns[i]);
    csv.number("simulation", "", "importance_shift_sd", importance.shift_sd);
    csv.number("simulation", "", "importance_tilted_fraction", importance.tilted_fraction);
    csv.number("simulation", "", "importance_effective_paths", importance.effective_paths);
}

}  // namespace

// Long format, one number per row: `section,mode,key,value`.
//   simulation,,<key>,<value>                  scenario, partial (true|false), paths_done,
//                                              paths_requested, paths, steps, seed, threads, ranks, ...,
//                                              monitoring, importance_sampling (none|selloff), ...
//                                              importance-sampled: importance_selloff_log_return_
//                                              <symbol> (per asset), importance_shift_sd,
//                                              _tilted_fraction, _effective_paths
//                                              with --precision: precision_target, _relative,
//                                              _reached, _paths_needed, _paths_max
//                                              with [uncertainty]: uncertainty_returns
//   account,,<key>,<value>                     balance, policy, fee_rate
//   liquidation_probability,<mode>,estimate|ci95_lo|ci95_hi,<value>
//   loss,<mode>,mean|std|var_<a>|es_<a>|max,<value>           a in 0.95, 0.99, 0.999
//   time_to_liquidation_days,<mode>,p05|median|p95,<value>   empty value: no liquidation
//   drawdown,<mode>,mean|p95|p99,<value>
//   funding_paid,<mode>,mean,<value>
//   collateral,<mode>,cross_wallet|collateral_at_risk,<value>
//   position,<mode>,"<index> <symbol> <side> <configured mode> <stat>",<value>
//       stat: margin, notional, entry_price, liquidation_probability,
//       liquidation_price (empty value: no positive price liquidates it)
//   comparison,,<key>,<value>                  p_cross_loss_exceeds_isolated[_ci95_lo|_ci95_hi],
//                                              contagion_probability[_ci95_lo|_ci95_hi]
//   warning,,<index>,<text>
// <mode> is isolated, cross or as_configured; fields holding a comma or a quote are quoted.
std::string to_csv(const Report& report) {
    check_modes_in_order(report);
    CsvWriter csv;
    const SimulationInfo& info = report.simulation;
    csv.text("simulation", "", "scenario", report.scenario);
    csv.text("simulation", "", "partial", report.partial ? "true" : "false");
    csv.text("simulation", "", "paths_done", std::to_string(report.paths_done));
    csv.text("simulation", "", "paths_requested", std::to_string(report.paths_requested));
    csv.text("simulation", "", "paths", std::to_string(info.paths));
    csv.text("simulation", "", "steps", std::to_string(info.steps));
    csv.text("simulation", "", "seed", std::to_string(info.seed));
    csv.text("simulation", "", "threads", std::to_string(info.threads));
    csv.text("simulation", "", "ranks", std::to_string(info.ranks));
    csv.number("simulation", "", "elapsed_s", info.elapsed_s);
    csv.text("simulation", "", "model", to_string(info.model));
    if (info.model == PriceModel::student_t) csv.number("simulation", "", "dof", info.dof);
    if (info.has_jumps) csv.number("simulation", "", "jump_intensity", info.jumps.intensity);
    if (info.model == PriceModel::regime) {
        csv.number("simulation", "", "calm_to_stress", info.regimes.calm_to_stress);
        csv.number("simulation", "", "stress_to_calm", info.regimes.stress_to_calm);
    }
    if (info.model == PriceModel::garch) {
        csv.text("simulation", "", "garch_innovations", to_string(info.garch.innovations));
        if (info.garch.innovations == Innovations::student_t) csv.number("simulation", "", "dof", info.dof);
    }
    if (info.model == PriceModel::fhs) {
        const Fhs& fhs = info.fhs;
        csv.text("simulation", "", "fhs_filter", to_string(fhs.filter));
        if (fhs.filter == FhsFilter::ewma) csv.number("simulation", "", "fhs_lambda", fhs.lambda);
        csv.text("simulation", "", "fhs_residuals", fhs.residuals_file.empty() ? "embedded" : fhs.residuals_file);
        csv.text("simulation", "", "fhs_days", std::to_string(fhs.days()));
        if (!fhs.dates.empty()) {
            csv.text("simulation", "", "fhs_first_date", fhs.dates.front());
            csv.text("simulation", "", "fhs_last_date", fhs.dates.back());
        }
    }
    if (info.uncertainty.on()) csv.number("simulation", "", "uncertainty_returns", info.uncertainty.returns);
    csv.number("simulation", "", "horizon_days", info.horizon_days);
    csv.text("simulation", "", "steps_per_day", std::to_string(info.steps_per_day));
    csv.text("simulation", "", "monitoring", to_string(info.monitoring));
    csv.text("simulation", "", "importance_sampling", to_string(info.importance_sampling));
    if (const auto& importance = info.importance) importance_csv(csv, info, *importance);
    csv.text("simulation", "", "block_size", std::to_string(info.block_size));
    csv.text("simulation", "", "overflowed_paths", std::to_string(info.overflowed_paths));
    if (const auto& precision = info.precision) {  // keys as in the JSON's simulation.precision
        csv.number("simulation", "", "precision_target", precision->target.target);
        csv.text("simulation", "", "precision_relative", precision->target.relative ? "true" : "false");
        csv.text("simulation", "", "precision_reached", precision->reached ? "true" : "false");
        csv.text("simulation", "", "precision_paths_needed", std::to_string(precision->paths_needed));
        csv.text("simulation", "", "precision_paths_max", std::to_string(precision->paths_max));
    }
    csv.number("account", "", "balance", report.balance);
    csv.text("account", "", "policy", to_string(report.policy));
    csv.number("account", "", "fee_rate", report.fee_rate);
    for (const ModeReport& mode : report.modes) mode_csv(csv, mode);
    const auto comparison = [&csv](std::string_view key, const Proportion& proportion) {
        csv.number("comparison", "", key, proportion.estimate);
        csv.number("comparison", "", std::string(key) + "_ci95_lo", proportion.ci95.lo);
        csv.number("comparison", "", std::string(key) + "_ci95_hi", proportion.ci95.hi);
    };
    comparison("p_cross_loss_exceeds_isolated", report.p_cross_loss_exceeds_isolated);
    comparison("contagion_probability", report.contagion_probability);
    for (std::size_t i = 0; i < report.warnings.size(); ++i) {
        csv.text("warning", "", std::to_string(i), report.warnings[i]);
    }
    return std::move(csv).str();
}

}  // namespace marginsim
