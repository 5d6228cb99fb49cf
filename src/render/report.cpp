#include "marginsim/report.hpp"

#include <array>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "render/report_parts.hpp"

namespace marginsim {

bool ModeReport::starts_liquidated() const noexcept {
    return std::any_of(positions.begin(), positions.end(),
                       [](const PositionReport& position) { return position.liquidated_at_start; });
}
namespace detail {

std::string level_key(double level) { return fmt::format("{}", level); }

void check_modes_in_order(const Report& report) {
    for (std::size_t i = 0; i < mode_count; ++i) {
        if (report.modes[i].mode != all_modes[i]) {
            throw std::logic_error(fmt::format("report: modes[{}] holds mode '{}', expected '{}'",
                                               i, to_string(report.modes[i].mode),
                                               to_string(all_modes[i])));
        }
    }
}

void check_importance_assets(const SimulationInfo& info, const ImportanceInfo& importance) {
    const std::size_t returns = importance.selloff_log_return.size();
    const bool none_needed = importance.shift_sd == 0.0 && returns == 0;
    if (!none_needed && returns != info.symbols.size())
        throw std::logic_error(fmt::format("report: {} selloff returns for {} assets", returns, info.symbols.size()));
}

Json interval_json(const Interval& interval) { return Json::array({interval.lo, interval.hi}); }

Json levels_json(const std::array<double, tail_levels.size()>& values) {
    Json out = Json::object();
    for (std::size_t i = 0; i < tail_levels.size(); ++i) out[level_key(tail_levels[i])] = values[i];
    return out;
}

}  // namespace detail

namespace {

using detail::check_modes_in_order;
using detail::interval_json;
using detail::Json;
using detail::levels_json;

// ---------------------------------------------------------------- JSON

Json optional_json(const std::optional<double>& value) {
    return value ? Json(*value) : Json(nullptr);
}

Json position_json(const PositionReport& position) {
    Json out;
    out["symbol"] = position.symbol;
    out["side"] = to_string(position.side);
    out["mode"] = to_string(position.position_mode);
    out["margin"] = position.margin;
    out["notional"] = position.notional;
    out["entry_price"] = position.entry_price;
    out["liquidation_probability"] = position.liquidation_probability;
    out["liquidation_price"] = optional_json(position.liquidation_price);
    if (position.liquidated_at_start) out["liquidated_at_start"] = true;
    return out;
}

// The indices of the positions a mode liquidates at time 0.
Json start_liquidations_json(const ModeReport& mode) {
    Json out = Json::array();
    for (std::size_t j = 0; j < mode.positions.size(); ++j)
        if (mode.positions[j].liquidated_at_start) out.push_back(j);
    return out;
}

Json mode_json(const ModeReport& mode) {
    const ModeSummary& summary = mode.summary;
    Json out;
    out["liquidation_probability"] = {
        {"estimate", summary.liquidation_probability.estimate},
        {"ci95", interval_json(summary.liquidation_probability.ci95)}};
    out["loss"] = {{"mean", summary.loss.mean},
                   {"std", summary.loss.std},
                   {"var", levels_json(summary.loss.var)},
                   {"es", levels_json(summary.loss.es)},
                   {"max", summary.loss.max}};
    if (mode.starts_liquidated()) out["liquidated_at_start"] = start_liquidations_json(mode);
    Json positions = Json::array();
    for (const PositionReport& position : mode.positions) positions.push_back(position_json(position));
    out["positions"] = std::move(positions);
    if (const auto& time = summary.time_to_liquidation_days) {
        out["time_to_liquidation_days"] = {
            {"p05", time->p05}, {"median", time->median}, {"p95", time->p95}};
    } else {
        out["time_to_liquidation_days"] = nullptr;
    }
    out["drawdown"] = {{"mean", summary.drawdown.mean},
                       {"p95", summary.drawdown.p95},
                       {"p99", summary.drawdown.p99}};
    out["funding_paid"] = {{"mean", summary.funding_paid_mean}};
    out["cross_wallet"] = mode.cross_wallet;
    out["collateral_at_risk"] = mode.collateral_at_risk;
    return out;
}

Json jump_size_json(const JumpSize& size) {
    return {{"mean", size.mean}, {"vol", size.vol}, {"kappa", size.kappa()}};
}

Json jumps_json(const SimulationInfo& info) {
    const Jumps& jumps = info.jumps;
    Json assets = Json::array();
    for (std::size_t i = 0; i < info.symbols.size(); ++i) {
        Json row = {{"symbol", info.symbols[i]}, {"market", jump_size_json(jumps.market[i])}};
        if (jumps.idiosyncratic_intensity[i] > 0.0) {
            row["idiosyncratic"] = jump_size_json(jumps.idiosyncratic[i]);
            row["idiosyncratic"]["intensity"] = jumps.idiosyncratic_intensity[i];
        }
        assets.push_back(std::move(row));
    }
    return {{"intensity", jumps.intensity}, {"assets", std::move(assets)}};
}

// {"innovations": "gaussian" | "student_t", ("dof": d,) ("jumps": bool when the run has jumps)}
Json regime_state_json(const RegimeState& state, bool has_jumps) {
    Json out = {{"innovations", to_string(state.innovations)}};
    if (state.innovations == Innovations::student_t) out["dof"] = state.dof;
    if (has_jumps) out["jumps"] = state.jumps;
    return out;
}

Json regime_json(const SimulationInfo& info) {
    const Regimes& regimes = info.regimes;
    const std::size_t n = info.symbols.size();
    Json vol = Json::object();
    for (std::size_t i = 0; i < n; ++i) vol[info.symbols[i]] = regimes.stress_volatility[i];
    Json matrix = Json::array();
    for (std::size_t i = 0; i < n; ++i) {
        Json row = Json::array();
        for (std::size_t j = 0; j < n; ++j) row.push_back(regimes.stress_correlation[i * n + j]);
        matrix.push_back(std::move(row));
    }
    return {{"calm_to_stress", regimes.calm_to_stress},
            {"stress_to_calm", regimes.stress_to_calm},
            {"start", to_string(regimes.start)},
            {"stationary_stress_share", regimes.stationary_stress_share()},
            {"stress_volatility", std::move(vol)},
            {"stress_correlation", std::move(matrix)},
            {"calm", regime_state_json(regimes.states[0], info.has_jumps)},
            {"stress", regime_state_json(regimes.states[1], info.has_jumps)}};
}

// {"innovations": "gaussian" | "student_t", ("dof": d,) "assets": [{"symbol", "omega", "alpha", "beta",
// "persistence", "long_run_volatility"}]}, omega in squared daily log-return units, the long-run
// volatility annualised (sqrt(365 omega / (1 - alpha - beta))).
Json garch_json(const SimulationInfo& info) {
    const Garch& garch = info.garch;
    Json assets = Json::array();
    for (std::size_t i = 0; i < info.symbols.size(); ++i) {
        const GarchParameters& g = garch.assets[i];
        assets.push_back({{"symbol", info.symbols[i]},
                          {"omega", g.omega},
                          {"alpha", g.alpha},
                          {"beta", g.beta},
                          {"persistence", g.persistence()},
                          {"long_run_volatility", std::sqrt(365.0 * g.long_run_variance())}});
    }
    Json out = {{"innovations", to_string(garch.innovations)}};
    if (garch.innovations == Innovations::student_t) out["dof"] = info.dof;
    out["assets"] = std::move(assets);
    return out;
}

// {"filter": "ewma" | "garch", ("lambda": l,) "assets": [{"symbol", "omega", "alpha", "beta"}],
// "residuals": {"source": FILE | "embedded", "days": n, "first_date": D, "last_date": D}}: the
// filter's recursion per asset (EWMA: omega 0, alpha 1 - lambda, beta lambda).
Json fhs_json(const SimulationInfo& info) {
    const Fhs& fhs = info.fhs;
    Json assets = Json::array();
    for (std::size_t i = 0; i < info.symbols.size() && i < fhs.assets.size(); ++i) {
        const GarchParameters& g = fhs.assets[i];
        assets.push_back({{"symbol", info.symbols[i]}, {"omega", g.omega}, {"alpha", g.alpha}, {"beta", g.beta}});
    }
    Json out = {{"filter", to_string(fhs.filter)}};
    if (fhs.filter == FhsFilter::ewma) out["lambda"] = fhs.lambda;
    out["assets"] = std::move(assets);
    out["residuals"] = {{"source", fhs.residuals_file.empty() ? std::string("embedded") : fhs.residuals_file},
                        {"days", fhs.days()},
                        {"first_date", fhs.dates.empty() ? std::string() : fhs.dates.front()},
                        {"last_date", fhs.dates.empty() ? std::string() : fhs.dates.back()}};
    return out;
}

// {"selloff_log_return": {SYMBOL: x, ...}, "shift_sd": s, "targets": [{"modes": [MODE, ...], "shift_sd": s,
// "selloff_log_return": {SYMBOL: x, ...}}, ...], "tilted_fraction": f, "effective_paths": n}
Json importance_json(const SimulationInfo& info, const ImportanceInfo& importance) {
    detail::check_importance_assets(info, importance);
    const std::vector<double>& returns = importance.selloff_log_return;
    Json selloff = Json::object();
    for (std::size_t i = 0; i < returns.size(); ++i) selloff[info.symbols[i]] = returns[i];
    Json targets = Json::array();
    for (const ImportanceTarget& target : importance.targets) {
        Json modes = Json::array();
        for (const MarginMode mode : target.modes) modes.push_back(to_string(mode));
        Json moves = Json::object();
        for (std::size_t i = 0; i < target.selloff_log_return.size() && i < info.symbols.size(); ++i)
            moves[info.symbols[i]] = target.selloff_log_return[i];
        targets.push_back({{"modes", std::move(modes)}, {"shift_sd", target.shift_sd}, {"selloff_log_return", std::move(moves)}});
    }
    return {{"selloff_log_return", std::move(selloff)},
            {"shift_sd", importance.shift_sd},
            {"targets", std::move(targets)},
            {"tilted_fraction", importance.tilted_fraction},
            {"effective_paths", importance.effective_paths}};
}

}  // namespace

namespace detail {

void add_importance_json(Json& simulation, const SimulationInfo& info) {
    simulation["importance_sampling"] = to_string(info.importance_sampling);
    if (const auto& importance = info.importance) simulation["importance"] = importance_json(info, *importance);
}

}  // namespace detail

namespace {

Json simulation_json(const SimulationInfo& info) {
    Json out;
    out["paths"] = info.paths;
    out["steps"] = info.steps;
    out["seed"] = info.seed;
    out["threads"] = info.threads;
    out["ranks"] = info.ranks;
    out["elapsed_s"] = info.elapsed_s;
    out["model"] = to_string(info.model);
    if (info.model == PriceModel::student_t) out["dof"] = info.dof;
    if (info.has_jumps) out["jumps"] = jumps_json(info);
    if (info.model == PriceModel::regime) out["regime"] = regime_json(info);
    if (info.model == PriceModel::garch) out["garch"] = garch_json(info);
    if (info.model == PriceModel::fhs) out["fhs"] = fhs_json(info);
    if (info.uncertainty.on())
        out["parameter_uncertainty"] = {{"returns", info.uncertainty.returns},
                                        {"variance_relative_sd", info.uncertainty.variance_relative_sd()}};
    out["horizon_days"] = info.horizon_days;
    out["steps_per_day"] = info.steps_per_day;
    out["monitoring"] = to_string(info.monitoring);
    detail::add_importance_json(out, info);
    out["block_size"] = info.block_size;
    out["overflowed_paths"] = info.overflowed_paths;
    if (const auto& precision = info.precision) {
        out["precision"] = {{"target", precision->target.target},     {"relative", precision->target.relative},
                            {"reached", precision->reached},           {"paths_used", info.paths},
                            {"paths_needed", precision->paths_needed}, {"paths_max", precision->paths_max}};
    }
    return out;
}

}  // namespace

namespace {

std::string jump_parameters(const SimulationInfo& info) {
    double idiosyncratic = 0.0;
    for (const double intensity : info.jumps.idiosyncratic_intensity) idiosyncratic += intensity;
    std::string text = fmt::format("market-wide jumps {:g}/yr", info.jumps.intensity);
    if (idiosyncratic > 0.0) text += fmt::format(", idiosyncratic {:g}/yr in all", idiosyncratic);
    if (info.model == PriceModel::regime) {
        const std::array<RegimeState, 2>& states = info.regimes.states;
        if (states[0].jumps != states[1].jumps) text += states[1].jumps ? " in stress only" : " in calm only";
        if (!states[0].jumps && !states[1].jumps) text += " in neither regime";
    }
    return text;
}

std::string regime_parameters(const SimulationInfo& info) {
    std::string text = fmt::format("calm->stress {:g}/yr, stress->calm {:g}/yr, {:.3g} of the time in stress",
                                   info.regimes.calm_to_stress, info.regimes.stress_to_calm,
                                   info.regimes.stationary_stress_share());
    for (std::size_t r = 0; r < 2; ++r) {
        const RegimeState& state = info.regimes.states[r];
        if (state.innovations == Innovations::student_t)
            text += fmt::format(", {} student_t (dof {:g})", r == 0 ? "calm" : "stress", state.dof);
    }
    return text;
}

std::string fhs_parameters(const SimulationInfo& info) {
    const Fhs& fhs = info.fhs;
    const std::string filter =
        fhs.filter == FhsFilter::ewma ? fmt::format("EWMA lambda {:g}", fhs.lambda) : std::string("GARCH(1,1)");
    const std::string source = fhs.residuals_file.empty() ? std::string("embedded") : fhs.residuals_file;
    if (fhs.dates.empty()) return "filtered historical simulation, " + filter + " filter";
    return fmt::format("filtered historical simulation, {} filter, {} days of residuals {} to {} ({})", filter,
                       fhs.days(), fhs.dates.front(), fhs.dates.back(), source);
}

std::string garch_parameters(const SimulationInfo& info) {
    double low = 1.0, high = 0.0;
    for (const GarchParameters& g : info.garch.assets) {
        low = std::min(low, g.persistence());
        high = std::max(high, g.persistence());
    }
    std::string text = "GARCH(1,1), " + std::string(to_string(info.garch.innovations)) + " innovations";
    if (info.garch.innovations == Innovations::student_t) text += fmt::format(" (dof {:g})", info.dof);
    text += low == high ? fmt::format(", alpha + beta {:.3g}", low)
                        : fmt::format(", alpha + beta {:.3g} to {:.3g}", low, high);
    return text;
}

// "volatilities uncertain, as if estimated from 60 daily returns: variance sd 18%".
std::string uncertainty_parameters(const ParameterUncertainty& uncertainty) {
    return fmt::format("volatilities uncertain, as if estimated from {:g} daily returns: variance sd {:.0f}%",
                       uncertainty.returns, 100.0 * uncertainty.variance_relative_sd());
}

}  // namespace

std::string model_parameters(const SimulationInfo& info) {
    std::string text;
    if (info.model == PriceModel::regime) text = regime_parameters(info);
    if (info.model == PriceModel::garch && !info.garch.assets.empty()) text = garch_parameters(info);
    if (info.model == PriceModel::fhs) text = fhs_parameters(info);
    if (info.has_jumps) text += (text.empty() ? "" : "; ") + jump_parameters(info);
    if (info.uncertainty.on())
        text += (text.empty() ? "" : "; ") + uncertainty_parameters(info.uncertainty);
    return text;
}

namespace {

// nlohmann would silently write NaN and infinities as null: refuse them instead.
void check_finite(const Json& value, const std::string& where) {
    if (value.is_number_float() && !std::isfinite(value.get<double>())) {
        throw std::logic_error(fmt::format("report: non-finite number {} at '{}'",
                                           value.get<double>(), where));
    }
    if (value.is_object()) {
        for (const auto& [key, child] : value.items()) check_finite(child, where + "." + key);
    } else if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
            check_finite(value[i], fmt::format("{}[{}]", where, i));
        }
    }
}

}  // namespace

namespace {

Json report_json(const Report& report) {
    check_modes_in_order(report);
    Json out;
    out["schema"] = report_schema;
    out["scenario"] = report.scenario;
    if (!report.overrides.empty()) out["overrides"] = report.overrides;  // absent without --set
    out["partial"] = report.partial;
    out["paths_done"] = report.paths_done;
    out["paths_requested"] = report.paths_requested;
    out["simulation"] = simulation_json(report.simulation);
    out["account"] = {{"balance", report.balance},
                      {"policy", to_string(report.policy)},
                      {"fee_rate", report.fee_rate}};
    Json modes = Json::object();
    for (const ModeReport& mode : report.modes) modes[std::string(to_string(mode.mode))] = mode_json(mode);
    out["modes"] = std::move(modes);
    out["comparison"] = {
        {"p_cross_loss_exceeds_isolated", report.p_cross_loss_exceeds_isolated.estimate},
        {"p_cross_loss_exceeds_isolated_ci95", interval_json(report.p_cross_loss_exceeds_isolated.ci95)},
        {"contagion_probability", report.contagion_probability.estimate},
        {"contagion_probability_ci95", interval_json(report.contagion_probability.ci95)}};
    out["warnings"] = report.warnings;
    return out;
}

}  // namespace

void check_finite(const Report& report) { check_finite(report_json(report), "report"); }

std::string to_json(const Report& report) {
    const Json out = report_json(report);
    check_finite(out, "report");
    return out.dump(2) + "\n";
}

}  // namespace marginsim
