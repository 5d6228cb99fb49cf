#include "marginsim/report.hpp"

#include <cmath>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "marginsim/margin_book.hpp"

namespace marginsim {
namespace {

// Insertion-ordered, so that the file reads in the order of SPEC 4.
using Json = nlohmann::ordered_json;

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

// ---------------------------------------------------------------- JSON

Json interval_json(const Interval& interval) { return Json::array({interval.lo, interval.hi}); }

Json levels_json(const std::array<double, tail_levels.size()>& values) {
    Json out = Json::object();
    for (std::size_t i = 0; i < tail_levels.size(); ++i) out[level_key(tail_levels[i])] = values[i];
    return out;
}

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
            {"stress_correlation", std::move(matrix)}};
}

Json simulation_json(const SimulationInfo& info) {
    Json out;
    out["paths"] = info.paths;
    out["steps"] = info.steps;
    out["seed"] = info.seed;
    out["threads"] = info.threads;
    out["elapsed_s"] = info.elapsed_s;
    out["model"] = to_string(info.model);
    if (info.model == PriceModel::student_t) out["dof"] = info.dof;
    if (info.model == PriceModel::jump) out["jumps"] = jumps_json(info);
    if (info.model == PriceModel::regime) out["regime"] = regime_json(info);
    out["horizon_days"] = info.horizon_days;
    out["steps_per_day"] = info.steps_per_day;
    out["block_size"] = info.block_size;
    out["overflowed_paths"] = info.overflowed_paths;
    return out;
}

}  // namespace

std::string model_parameters(const SimulationInfo& info) {
    if (info.model == PriceModel::jump) {
        double idiosyncratic = 0.0;
        for (const double intensity : info.jumps.idiosyncratic_intensity) idiosyncratic += intensity;
        std::string text = fmt::format("market-wide jumps {:g}/yr", info.jumps.intensity);
        if (idiosyncratic > 0.0) text += fmt::format(", idiosyncratic {:g}/yr in all", idiosyncratic);
        return text;
    }
    if (info.model == PriceModel::regime) {
        return fmt::format("calm->stress {:g}/yr, stress->calm {:g}/yr, {:.3g} of the time in stress",
                           info.regimes.calm_to_stress, info.regimes.stress_to_calm,
                           info.regimes.stationary_stress_share());
    }
    return "";
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

// ---------------------------------------------------------------- text

constexpr int label_width = 34;
constexpr int column_width = 21;

// 1234567.891 -> "1,234,567.89"
std::string group_thousands(std::string digits) {
    const std::size_t first = (!digits.empty() && digits[0] == '-') ? 1 : 0;
    const std::size_t point = digits.find('.');
    std::size_t end = point == std::string::npos ? digits.size() : point;
    while (end > first + 3) {
        end -= 3;
        digits.insert(end, 1, ',');
    }
    return digits;
}

std::string money(double value) {
    if (!std::isfinite(value)) return fmt::format("{}", value);
    // No "-0.00" for tiny negative values.
    if (std::abs(value) < 0.005) value = 0.0;
    return group_thousands(fmt::format("{:.2f}", value));
}

// Prices span from fractions of a cent to 1e5: keep 6 significant digits below 1.
std::string price(double value) {
    if (std::isfinite(value) && std::abs(value) < 1.0 && value != 0.0) {
        return fmt::format("{:.6g}", value);
    }
    return money(value);
}

std::string percent(double probability) {
    // Keep "happens, rarely" apart from "never".
    if (probability > 0.0 && probability < 0.00005) return "<0.01%";
    return fmt::format("{:.2f}%", 100.0 * probability);
}

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
    if (report.partial) {
        fmt::print(out, "PARTIAL: interrupted after {} of {} paths; every number below covers those paths only\n",
                   group_thousands(std::to_string(report.paths_done)),
                   group_thousands(std::to_string(report.paths_requested)));
    }
    fmt::print(out, "{} paths x {} steps, horizon {} days ({} steps/day), model {}\n",
               group_thousands(std::to_string(info.paths)), info.steps, info.horizon_days,
               info.steps_per_day, model);
    fmt::print(out, "seed {}, {} threads, {:.2f} s\n", info.seed, info.threads, info.elapsed_s);
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

void write_mode_table(std::ostream& out, const Report& report) {
    row(out, "", report, [](const ModeReport& m) { return std::string(to_string(m.mode)); });
    rule(out);
    row(out, "P(any liquidation)", report, [](const ModeReport& m) {
        return percent(m.summary.liquidation_probability.estimate);
    });
    row(out, "  95% CI", report, [](const ModeReport& m) {
        return percent_interval(m.summary.liquidation_probability.ci95);
    });
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
            return at ? percent(at->liquidation_probability) : std::string("-");
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

// ---------------------------------------------------------------- CSV

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + '"';
}

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
    }
}

}  // namespace

namespace {

Json report_json(const Report& report) {
    check_modes_in_order(report);
    Json out;
    out["schema"] = report_schema;
    out["scenario"] = report.scenario;
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

void write_text(std::ostream& out, const Report& report) {
    check_finite(report);  // before the first line: no half-written table
    write_header(out, report);
    write_mode_table(out, report);
    write_positions(out, report);
    write_comparison(out, report);
    write_warnings(out, report);
}

// Long format, one number per row: `section,mode,key,value`.
//   simulation,,<key>,<value>                  scenario, partial (true|false), paths_done,
//                                              paths_requested, paths, steps, seed, threads, ...
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
    csv.number("simulation", "", "elapsed_s", info.elapsed_s);
    csv.text("simulation", "", "model", to_string(info.model));
    if (info.model == PriceModel::student_t) csv.number("simulation", "", "dof", info.dof);
    if (info.model == PriceModel::jump) csv.number("simulation", "", "jump_intensity", info.jumps.intensity);
    if (info.model == PriceModel::regime) {
        csv.number("simulation", "", "calm_to_stress", info.regimes.calm_to_stress);
        csv.number("simulation", "", "stress_to_calm", info.regimes.stress_to_calm);
    }
    csv.number("simulation", "", "horizon_days", info.horizon_days);
    csv.text("simulation", "", "steps_per_day", std::to_string(info.steps_per_day));
    csv.text("simulation", "", "block_size", std::to_string(info.block_size));
    csv.text("simulation", "", "overflowed_paths", std::to_string(info.overflowed_paths));
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
