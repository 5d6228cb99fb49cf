// The text, JSON and CSV renderings of a sweep, and the names of its parameter.

#include "marginsim/sweep.hpp"

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fmt/ostream.h>

#include "render/format.hpp"
#include "render/report_parts.hpp"
#include "render/sweep_names.hpp"

namespace marginsim {
namespace detail {

SweepParameterNames sweep_parameter_names(const SweepSpec& spec) {
    switch (spec.parameter) {
        case SweepParameter::correlation:
            return {"correlation", "correlation of every pair", "correlation of every pair of assets"};
        case SweepParameter::correlation_blend:
            if (spec.blend_target_source.empty()) {
                return {"blend weight", "blend weight toward perfect co-movement",
                        "blend weight w of (1 - w) C + w 11ᵀ (perfect co-movement)"};
            }
            return {"blend weight", "blend weight toward " + spec.blend_target_source,
                    "blend weight w toward the stress matrix " +
                        std::filesystem::path(spec.blend_target_source).filename().string()};
        case SweepParameter::leverage_scale:
            return {"leverage scale", "leverage scale", "leverage scale (times the scenario's sizes)"};
        case SweepParameter::volatility_scale:
            return {"volatility scale", "volatility scale",
                    "volatility scale (times the scenario's volatilities)"};
        case SweepParameter::horizon_days: return {"horizon", "horizon (days)", "horizon (days)"};
        case SweepParameter::steps_per_day:
            return {"steps per day", "steps per day", "monitoring steps per day (at the scenario's horizon)"};
        case SweepParameter::monitoring: return {"monitoring", "monitoring", "monitoring"};
    }
    return {};
}

std::string sweep_value_text(const SweepSpec& spec, double value, std::string_view number) {
    const std::string_view word = sweep_value_word(spec.parameter, value);
    if (!word.empty()) return std::string(word);
    return fmt::format(fmt::runtime(number), value);
}

// The range of the values' effective paths; values sampled plainly (no liquidating move) left out.
std::string sweep_importance_sentence(const SweepResult& sweep) {
    std::vector<double> effective;
    for (const SweepPoint& point : sweep.points) {
        const auto& importance = point.report.simulation.importance;
        if (importance && importance->shift_sd != 0.0) effective.push_back(importance->effective_paths);
    }
    if (effective.empty())
        return "importance sampling: no market-wide move liquidates the cross account at any value, so the "
               "paths were sampled plainly";
    const auto [fewest, most] = std::minmax_element(effective.begin(), effective.end());
    return fmt::format("importance sampling: part of the paths drawn around each value's own market-wide move "
                       "to its liquidation; {}{} effective paths, intervals from the weighted sample's variance",
                       *fewest == *most ? "" : grouped(*fewest) + " - ", grouped(*most));
}

std::string sweep_start_liquidation_sentence(const SweepResult& sweep) {
    std::string modes;
    for (const MarginMode mode : all_modes) {
        std::vector<std::string> values;
        for (const SweepPoint& point : sweep.points)
            if (point.report.modes[mode_index(mode)].starts_liquidated())
                values.push_back(sweep_value_text(sweep.spec, point.value, "{:.6g}"));
        if (values.empty()) continue;
        const std::string where =
            values.size() == sweep.points.size() ? std::string("at every value") : "at " + fmt::format("{}", fmt::join(values, ", "));
        modes += fmt::format("{}{} {}", modes.empty() ? "" : "; ", to_string(mode), where);
    }
    if (modes.empty()) return {};
    return "STARTS LIQUIDATED (P = 1 at time 0, docs/model.md#books-that-start-liquidated): " + modes;
}

}  // namespace detail

namespace {

using detail::Json;
using detail::level_key;
using detail::levels_json;
using detail::money;
using detail::percent_plain;
using detail::sweep_importance_sentence;
using detail::sweep_parameter_names;
using detail::sweep_value_text;

// A value in the JSON: a number, or the word of a parameter whose values are words.
Json value_json(const SweepSpec& spec, double value) {
    const std::string_view word = sweep_value_word(spec.parameter, value);
    return word.empty() ? Json(value) : Json(word);
}

static_assert(tail_levels[1] == crossover_level);

double es(const SweepPoint& point, MarginMode mode) {
    return point.report.modes[mode_index(mode)].summary.loss.es[1];
}

Json proportion_json(const Proportion& p) {
    return {{"estimate", p.estimate}, {"ci95", Json::array({p.ci95.lo, p.ci95.hi})}};
}

Json point_json(const SweepSpec& spec, const SweepPoint& point) {
    check_finite(point.report);  // nlohmann would write NaN as null
    Json modes = Json::object();
    for (std::size_t m = 0; m < mode_count; ++m) {
        const ModeSummary& summary = point.report.modes[m].summary;
        modes[std::string(to_string(all_modes[m]))] = {
            {"liquidation_probability", proportion_json(summary.liquidation_probability)},
            {"var", levels_json(summary.loss.var)},
            {"es", levels_json(summary.loss.es)},
            {"loss_mean", summary.loss.mean},
            {"contagion_probability", proportion_json(point.contagion[m])}};
        const ModeReport& mode = point.report.modes[m];
        if (!mode.starts_liquidated()) continue;
        Json dead = Json::array();
        for (std::size_t j = 0; j < mode.positions.size(); ++j)
            if (mode.positions[j].liquidated_at_start) dead.push_back(j);
        modes[std::string(to_string(all_modes[m]))]["liquidated_at_start"] = std::move(dead);
    }
    Json out = {{"value", value_json(spec, point.value)}, {"overflowed_paths", point.report.simulation.overflowed_paths}};
    // Each value has its own book and so its own selloff: simulation.importance of its report.
    if (point.report.simulation.importance) {
        Json simulation = Json::object();
        detail::add_importance_json(simulation, point.report.simulation);
        out["importance"] = std::move(simulation["importance"]);
    }
    out["modes"] = std::move(modes);
    out["comparison"] = {
        {"p_cross_loss_exceeds_isolated", proportion_json(point.report.p_cross_loss_exceeds_isolated)},
        {"contagion_probability", proportion_json(point.report.contagion_probability)}};
    return out;
}


Json crossover_json(const SweepResult& sweep) {
    if (!sweep.crossover) return nullptr;
    const Crossover& c = *sweep.crossover;
    return {{"value", value_json(sweep.spec, c.value)},
            {"bracket", Json::array({value_json(sweep.spec, c.lo), value_json(sweep.spec, c.hi)})},
            {"cross_exceeds_isolated", c.cross_exceeds_above ? "above" : "below"},
            {"level", crossover_level},
            {"es_cross", Json::array({c.es_cross[0], c.es_cross[1]})},
            {"es_isolated", Json::array({c.es_isolated[0], c.es_isolated[1]})},
            {"bisection_steps", c.bisection_steps},
            {"grid_sign_changes", c.grid_sign_changes}};
}

// The grid every value runs on; the swept one of steps per day and monitoring is in the table.
std::string grid_line(SweepParameter parameter, const SimulationInfo& info) {
    if (parameter == SweepParameter::steps_per_day) return fmt::format("{} monitoring", to_string(info.monitoring));
    if (parameter == SweepParameter::monitoring) return fmt::format("{} steps/day", info.steps_per_day);
    return fmt::format("{} steps/day, {} monitoring", info.steps_per_day, to_string(info.monitoring));
}

}  // namespace

std::string to_json(const SweepResult& sweep) {
    Json out;
    out["schema"] = sweep_schema;
    out["scenario"] = sweep.scenario;
    if (!sweep.overrides.empty()) out["overrides"] = sweep.overrides;  // absent without --set
    out["parameter"] = to_string(sweep.spec.parameter);
    if (sweep.spec.parameter == SweepParameter::correlation_blend) {
        out["blend_target"] = sweep.spec.blend_target_source.empty()
                                  ? Json("perfect co-movement")
                                  : Json(sweep.spec.blend_target_source);
    }
    const SimulationInfo& info = sweep.points.front().report.simulation;
    out["simulation"] = {{"paths", sweep.paths},
                         {"seed", sweep.seed},
                         {"threads", info.threads},
                         {"model", to_string(info.model)},
                         {"steps_per_day", info.steps_per_day},
                         {"monitoring", to_string(info.monitoring)},
                         {"importance_sampling", to_string(info.importance_sampling)},
                         {"common_random_numbers", true},
                         {"elapsed_s", sweep.elapsed_s}};
    // Swept: each point's value says it.
    if (sweep.spec.parameter == SweepParameter::steps_per_day) out["simulation"].erase("steps_per_day");
    if (sweep.spec.parameter == SweepParameter::monitoring) out["simulation"].erase("monitoring");
    if (const auto& precision = sweep.precision) {  // the grid's: every value on sweep.paths
        out["simulation"]["precision"] = {
            {"target", precision->target.target},     {"relative", precision->target.relative},
            {"reached", precision->reached},           {"paths_used", sweep.paths},
            {"paths_needed", precision->paths_needed}, {"paths_max", precision->paths_max}};
    }
    Json points = Json::array();
    for (const SweepPoint& point : sweep.points) points.push_back(point_json(sweep.spec, point));
    out["points"] = std::move(points);
    out["crossover"] = crossover_json(sweep);
    out["crossover_outcome"] = to_string(sweep.crossover_outcome);
    return out.dump(2) + "\n";
}

// parameter,value,mode,liquidation_probability,ci95_lo,ci95_hi,var_<a>..,es_<a>..,loss_mean,
// contagion_probability,contagion_ci95_lo,contagion_ci95_hi
std::string to_csv(const SweepResult& sweep) {
    std::string out = "parameter,value,mode,liquidation_probability,ci95_lo,ci95_hi";
    for (const double level : tail_levels) out += ",var_" + level_key(level);
    for (const double level : tail_levels) out += ",es_" + level_key(level);
    out += ",loss_mean,contagion_probability,contagion_ci95_lo,contagion_ci95_hi\n";
    for (const SweepPoint& point : sweep.points) {
        for (std::size_t m = 0; m < mode_count; ++m) {
            const ModeSummary& s = point.report.modes[m].summary;
            out += fmt::format("{},{},{},{},{},{}", to_string(sweep.spec.parameter),
                               sweep_value_text(sweep.spec, point.value, "{}"),
                               to_string(all_modes[m]), s.liquidation_probability.estimate,
                               s.liquidation_probability.ci95.lo, s.liquidation_probability.ci95.hi);
            for (const double v : s.loss.var) out += fmt::format(",{}", v);
            for (const double v : s.loss.es) out += fmt::format(",{}", v);
            out += fmt::format(",{},{},{},{}\n", s.loss.mean, point.contagion[m].estimate,
                               point.contagion[m].ci95.lo, point.contagion[m].ci95.hi);
        }
    }
    return out;
}

void write_text(std::ostream& out, const SweepResult& sweep) {
    fmt::print(out, "marginsim sweep: {}\n", sweep.scenario);
    const SimulationInfo& info = sweep.points.front().report.simulation;
    fmt::print(out, "{}: {} values; {} paths, seed {}, the same random numbers at every value\n",
               sweep_parameter_names(sweep.spec).label, sweep.points.size(), sweep.paths, sweep.seed);
    fmt::print(out, "{}\n", grid_line(sweep.spec.parameter, info));
    if (info.importance) fmt::print(out, "{}\n", sweep_importance_sentence(sweep));
    if (const auto& precision = sweep.precision) {
        fmt::print(out, "precision +-{}{} on every mode's P(liquidation) 95% interval: {}\n",
                   to_string(precision->target), precision->target.relative ? " of the estimate" : "",
                   precision->reached
                       ? fmt::format("every value met it within {} paths (at most {})", precision->paths_needed,
                                     precision->paths_max)
                       : fmt::format("some value did not meet it within the maximum {} paths", precision->paths_max));
    }
    fmt::print(out, "\n");
    fmt::print(out, "{:>10} | {:^35} | {:^41} | {:^21}\n", "", "P(any liquidation)", "ES 99% (USDT)",
               "contagion");
    fmt::print(out, "{:>10} | {:>11}{:>11}{:>13} | {:>13}{:>13}{:>15} | {:>8}{:>13}\n", "value",
               "isolated", "cross", "as_config.", "isolated", "cross", "as_config.", "cross",
               "as_config.");
    fmt::print(out, "{}\n", std::string(10 + 3 + 35 + 3 + 41 + 3 + 21, '-'));
    for (const SweepPoint& point : sweep.points) {
        const auto& modes = point.report.modes;
        fmt::print(out, "{:>10} | {:>11}{:>11}{:>13} | {:>13}{:>13}{:>15} | {:>8}{:>13}\n",
                   sweep_value_text(sweep.spec, point.value, "{:.6g}"), percent_plain(modes[0].summary.liquidation_probability.estimate),
                   percent_plain(modes[1].summary.liquidation_probability.estimate),
                   percent_plain(modes[2].summary.liquidation_probability.estimate),
                   money(es(point, MarginMode::isolated)), money(es(point, MarginMode::cross)),
                   money(es(point, MarginMode::as_configured)), percent_plain(point.contagion[1].estimate),
                   percent_plain(point.contagion[2].estimate));
    }
    if (const std::string dead = detail::sweep_start_liquidation_sentence(sweep); !dead.empty())
        fmt::print(out, "{}\n", dead);
    fmt::print(out, "\n");
    switch (sweep.crossover_outcome) {
        case CrossoverOutcome::found: {
            const Crossover& c = *sweep.crossover;
            fmt::print(out,
                       "Crossover: cross margin's ES 99% exceeds isolated's {} {} = {} "
                       "(between {} and {}, {} bisection steps on the same paths).\n",
                       c.cross_exceeds_above ? "above" : "below", to_string(sweep.spec.parameter),
                       sweep_value_text(sweep.spec, c.value, "{:.6g}"), sweep_value_text(sweep.spec, c.lo, "{:.6g}"),
                       sweep_value_text(sweep.spec, c.hi, "{:.6g}"), c.bisection_steps);
            if (c.grid_sign_changes > 1) {
                fmt::print(out, "The curves cross {} times on the grid: this is the first.\n",
                           c.grid_sign_changes);
            }
            break;
        }
        case CrossoverOutcome::cross_above_throughout:
            fmt::print(out,
                       "No crossover in the range: cross margin's ES 99% exceeds isolated's at "
                       "every value.\n");
            break;
        case CrossoverOutcome::cross_never_above:
            fmt::print(out,
                       "No crossover in the range: cross margin's ES 99% never exceeds isolated's.\n");
            break;
    }
}

}  // namespace marginsim
