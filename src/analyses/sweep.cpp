#include "marginsim/sweep.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "numerics/correlation.hpp"
#include "scenario/checks.hpp"
#include "scenario/names.hpp"
#include "scenario/readers.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"

namespace marginsim {
namespace {

constexpr std::size_t max_sweep_values = 10000;

// ---------------------------------------------------------------- values

[[noreturn]] void fail_option(std::string_view option, const std::string& message,
                              const std::string& expected) {
    throw InputError(std::string(option), 0, 0, "", message, expected);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

constexpr const char* values_expected =
    "a range start:stop:step such as 0:0.95:0.05, or a list such as 0.1,0.5,0.9";

double parse_number(std::string_view text, std::string_view option) {
    const std::string_view trimmed = trim(text);
    double value = 0.0;
    const char* end = trimmed.data() + trimmed.size();
    const auto [stop, error] = std::from_chars(trimmed.data(), end, value);
    if (trimmed.empty() || error != std::errc() || stop != end || !std::isfinite(value)) {
        fail_option(option, fmt::format("'{}' is not a number", trimmed), values_expected);
    }
    return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t begin = 0;
    while (true) {
        const std::size_t at = text.find(separator, begin);
        parts.push_back(text.substr(begin, at == std::string_view::npos ? std::string_view::npos : at - begin));
        if (at == std::string_view::npos) return parts;
        begin = at + 1;
    }
}

// 0.1 * 3 is 0.30000000000000004: keep 12 significant digits, which a user can type.
double tidy(double value) {
    const double rounded = std::stod(fmt::format("{:.12g}", value));
    return rounded == 0.0 ? 0.0 : rounded;
}

std::vector<double> range_values(std::string_view text, std::string_view option) {
    const std::vector<std::string_view> parts = split(text, ':');
    if (parts.size() != 3) {
        fail_option(option, fmt::format("'{}' has {} fields", text, parts.size()), values_expected);
    }
    const double start = parse_number(parts[0], option);
    const double stop = parse_number(parts[1], option);
    const double step = parse_number(parts[2], option);
    if (!(step > 0.0)) fail_option(option, fmt::format("step {} is not positive", step), values_expected);
    if (stop < start) {
        fail_option(option, fmt::format("stop {} is below start {}", stop, start), values_expected);
    }
    const double intervals = std::floor((stop - start) / step + 1e-9);
    if (intervals + 1.0 > static_cast<double>(max_sweep_values)) {
        fail_option(option, fmt::format("'{}' makes {:.0f} values", text, intervals + 1.0),
                    fmt::format("at most {} values", max_sweep_values));
    }
    std::vector<double> values;
    for (std::size_t k = 0; k <= static_cast<std::size_t>(intervals); ++k)
        values.push_back(tidy(start + static_cast<double>(k) * step));
    return values;
}

// ---------------------------------------------------------------- stress matrix

// Position of each of the file's rows in the scenario's [[assets]] order.
std::vector<std::size_t> stress_order(const detail::TableReader& root, const Scenario& scenario) {
    const std::size_t n = scenario.asset_count();
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    const toml::node* node = root.find("symbols");
    if (node == nullptr) return order;
    const std::string expected = fmt::format("every asset of the scenario once: [{}] in any order",
                                             detail::quoted_symbols(scenario.assets));
    const toml::array* symbols = node->as_array();
    if (symbols == nullptr || symbols->size() != n) {
        root.fail_value("symbols", fmt::format("not a list of {} symbols", n), expected);
    }
    std::vector<bool> seen(n, false);
    for (std::size_t r = 0; r < n; ++r) {
        const toml::node& entry = (*symbols)[r];
        const std::optional<std::string> symbol = entry.value<std::string>();
        const std::optional<std::size_t> found =
            symbol ? detail::asset_index(scenario.assets, *symbol) : std::nullopt;
        if (!found || seen[*found]) {
            root.context().fail(entry.source(), fmt::format("symbols[{}]", r),
                                !found ? "not an asset of the scenario" : "listed twice", expected);
        }
        seen[*found] = true;
        order[r] = *found;
    }
    return order;
}

// ---------------------------------------------------------------- checks

// What errors about the swept values name: the option given ("--leverage"), else the parameter
// ("leverage_scale").
std::string values_source(const SweepSpec& spec) {
    return spec.option.empty() ? std::string(to_string(spec.parameter)) : spec.option;
}

// "--leverage: value 30: ...", or with no option "leverage_scale: value 30: ...".
[[noreturn]] void fail_value(const SweepSpec& spec, double value, const std::string& message,
                             const std::string& expected) {
    throw InputError(values_source(spec), 0, 0, fmt::format("value {}", value), message, expected);
}

std::vector<double> uniform_matrix(std::size_t n, double rho) {
    std::vector<double> matrix(n * n, rho);
    for (std::size_t i = 0; i < n; ++i) matrix[i * n + i] = 1.0;
    return matrix;
}

void check_correlation_value(const Scenario& scenario, const SweepSpec& spec, double value) {
    const std::size_t n = scenario.asset_count();
    if (n < 2) {
        fail_value(spec, value, "the scenario has a single asset: there is no correlation to sweep",
                   "a scenario with two or more assets");
    }
    if (spec.parameter == SweepParameter::correlation_blend) {
        if (!(value >= 0.0 && value <= 1.0))
            fail_value(spec, value, "blend weight outside [0, 1]", "a weight in [0, 1]");
        return;
    }
    const double lowest = -1.0 / static_cast<double>(n - 1);
    if (!(value >= lowest - 1e-12 && value <= 1.0)) {
        fail_value(spec, value,
                   fmt::format("no {} assets can all have the same correlation {}", n, value),
                   fmt::format("a correlation in [-1/(n-1), 1] = [{:.6g}, 1] for {} assets", lowest, n));
    }
}

// A scaled book meets the scenario's own checks of tier limits and start state.
void check_positions(const Scenario& scaled, const SweepSpec& spec, double value) {
    for (const auto& problem : {detail::tier_limit_problem(scaled), detail::start_problem(scaled)}) {
        if (problem) fail_value(spec, value, problem->key + ": " + problem->message, problem->expected);
    }
}

// Steps per day as the scenario's key takes them: a whole number >= 1 giving the horizon at
// least one step and at most an int of them.
void check_steps_per_day(const Scenario& scenario, const SweepSpec& spec, double value) {
    if (!(value >= 1.0 && value <= std::numeric_limits<int>::max()) || value != std::floor(value))
        fail_value(spec, value, "not a whole number of steps per day >= 1", "an integer > 0");
    if (const auto problem = detail::horizon_steps_problem(scenario.simulation.horizon_days, static_cast<int>(value)))
        fail_value(spec, value, "horizon_days: " + problem->message, problem->expected);
}

// The value itself, before any scenario is made from it.
void check_value_range(const Scenario& scenario, const SweepSpec& spec, double value) {
    switch (spec.parameter) {
        case SweepParameter::correlation:
        case SweepParameter::correlation_blend:
            check_correlation_value(scenario, spec, value);
            return;
        case SweepParameter::leverage_scale:
            if (!(value > 0.0)) fail_value(spec, value, "not positive", "a scale > 0");
            return;
        case SweepParameter::volatility_scale:
            if (!(value >= 0.0)) fail_value(spec, value, "negative", "a scale >= 0");
            return;
        case SweepParameter::horizon_days:
            if (const auto problem =
                    detail::horizon_steps_problem(value, scenario.simulation.steps_per_day)) {
                fail_value(spec, value, problem->message, problem->expected);
            }
            return;
        case SweepParameter::steps_per_day:
            check_steps_per_day(scenario, spec, value);
            return;
        case SweepParameter::monitoring:
            if (value != 0.0 && value != 1.0) fail_value(spec, value, "not a monitoring", "continuous or discrete");
            return;
    }
}

void check_value(const Scenario& scenario, const SweepSpec& spec, double value) {
    check_value_range(scenario, spec, value);
    const Scenario at = scenario_at(scenario, spec, value);
    if (spec.parameter == SweepParameter::leverage_scale) check_positions(at, spec, value);
    // Longer horizons meet load_scenario's bound on the jumps too.
    if (const auto problem = detail::jump_problem(at))
        fail_value(spec, value, "jumps." + problem->key + ": " + problem->message, problem->expected);
    // Scaled volatilities, sizes and longer horizons meet load_scenario's numerical guard too.
    if (const auto overflow = find_overflow(at)) {
        fail_value(spec, value, *overflow,
                   "a value at which no price or notional overflows on a plausible path");
    }
}

// ---------------------------------------------------------------- running

// A stopped point has no report worth keeping: the sweep ends with RunInterrupted.
SweepPoint evaluate(const Scenario& scenario, const SweepSpec& spec, double value, const RunOptions& options,
                    const SweepOptions& sweep) {
    RunControl control;
    control.stop = sweep.stop;
    const Scenario point_scenario = scenario_at(scenario, spec, value);
    control.ranks = sweep.ranks;
    DetailedRun run = run_detailed(point_scenario, options, control, Details::counts);
    if (run.report.partial) throw RunInterrupted();
    SweepPoint point;
    point.value = value;
    point.report = std::move(run.report);
    for (std::size_t m = 0; m < mode_count; ++m) point.contagion[m] = run.modes[m].contagion;
    return point;
}

// How a precision sweep's grid met the target: reached when every value did, after the most
// paths any of them needed.
PrecisionOutcome grid_precision(const std::vector<SweepPoint>& points, const Precision& target) {
    PrecisionOutcome outcome{target, true, 0, 0};
    for (const SweepPoint& point : points) {
        const PrecisionOutcome& own = *point.report.simulation.precision;
        outcome.reached = outcome.reached && own.reached;
        outcome.paths_needed = std::max(outcome.paths_needed, own.paths_needed);
        outcome.paths_max = own.paths_max;
    }
    if (!outcome.reached) outcome.paths_needed = 0;
    return outcome;
}

std::size_t tail_index(double level) {
    for (std::size_t l = 0; l < tail_levels.size(); ++l)
        if (tail_levels[l] == level) return l;
    return tail_levels.size();
}
static_assert(tail_levels[1] == crossover_level);

double es(const SweepPoint& point, MarginMode mode) {
    return point.report.modes[mode_index(mode)].summary.loss.es[tail_index(crossover_level)];
}
double es_gap(const SweepPoint& point) {
    return es(point, MarginMode::cross) - es(point, MarginMode::isolated);
}

}  // namespace

std::string_view to_string(SweepParameter parameter) noexcept {
    static constexpr detail::Named<SweepParameter> names[] = {
        {SweepParameter::correlation, "correlation"},
        {SweepParameter::correlation_blend, "correlation_blend"},
        {SweepParameter::leverage_scale, "leverage_scale"},
        {SweepParameter::volatility_scale, "volatility_scale"},
        {SweepParameter::horizon_days, "horizon_days"},
        {SweepParameter::steps_per_day, "steps_per_day"},
        {SweepParameter::monitoring, "monitoring"}};
    return detail::name_of(parameter, names);
}

std::string_view sweep_value_word(SweepParameter parameter, double value) noexcept {
    if (parameter != SweepParameter::monitoring) return {};
    return to_string(value == 0.0 ? Monitoring::continuous : Monitoring::discrete);
}

std::vector<double> parse_monitoring_values(std::string_view text, std::string_view option) {
    constexpr const char* expected = "a list of continuous and discrete, such as continuous,discrete";
    text = trim(text);
    if (text.empty()) fail_option(option, "no values", expected);
    std::vector<double> values;
    for (const std::string_view part : split(text, ',')) {
        const std::string_view word = trim(part);
        const auto found = std::find_if(std::begin(detail::monitoring_names), std::end(detail::monitoring_names),
                                        [word](const auto& named) { return named.name == word; });
        if (found == std::end(detail::monitoring_names))
            fail_option(option, fmt::format("'{}' is not a monitoring", word), expected);
        values.push_back(static_cast<double>(static_cast<int>(found->value)));
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
}

std::string_view to_string(CrossoverOutcome outcome) noexcept {
    static constexpr detail::Named<CrossoverOutcome> names[] = {
        {CrossoverOutcome::found, "found"},
        {CrossoverOutcome::cross_above_throughout, "cross_above_throughout"},
        {CrossoverOutcome::cross_never_above, "cross_never_above"}};
    return detail::name_of(outcome, names);
}

std::vector<double> parse_sweep_values(std::string_view text, std::string_view option) {
    text = trim(text);
    if (text.empty()) fail_option(option, "no values", values_expected);
    std::vector<double> values;
    if (text.find(':') != std::string_view::npos) {
        values = range_values(text, option);
    } else {
        for (const std::string_view part : split(text, ',')) values.push_back(tidy(parse_number(part, option)));
    }
    if (values.size() > max_sweep_values) {
        fail_option(option, fmt::format("{} values", values.size()),
                    fmt::format("at most {} values", max_sweep_values));
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
}

std::vector<double> load_stress_matrix(const std::filesystem::path& path, const Scenario& scenario) {
    // Read and checked as a scenario's [correlation] matrix is, with the scenario's reader.
    const std::optional<std::string> text = detail::read_text_file(path);
    if (!text) throw InputError(path.string(), 0, 0, "", "cannot open the file", "a readable TOML file");
    const toml::table document = detail::parse_toml(*text, path.string());
    detail::Context context{path.string()};
    const detail::TableReader root(context, document, "");
    root.allow_only({"matrix", "symbols"});
    if (!root.has("matrix")) root.fail_missing("matrix", "matrix = [[...]]: the stress correlation matrix");
    const std::size_t n = scenario.asset_count();
    const std::vector<double> in_file = detail::read_matrix(root, n);
    const double smallest = detail::smallest_eigenvalue(in_file, n);
    if (smallest < detail::psd_tolerance) {
        root.fail_value("matrix", fmt::format("not positive semi-definite: smallest eigenvalue {:.3g}", smallest),
                        "a positive semi-definite matrix, correlations that can hold together");
    }
    const std::vector<std::size_t> order = stress_order(root, scenario);
    std::vector<double> matrix(n * n);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < n; ++c) matrix[order[r] * n + order[c]] = in_file[r * n + c];
    return matrix;
}

Scenario scenario_at(const Scenario& base, const SweepSpec& spec, double value) {
    Scenario scenario = base;
    const std::size_t n = base.asset_count();
    switch (spec.parameter) {
        case SweepParameter::correlation:
            scenario.correlation = uniform_matrix(n, value);
            break;
        case SweepParameter::correlation_blend:
            for (std::size_t k = 0; k < n * n; ++k) {
                const double target = spec.blend_target.empty() ? 1.0 : spec.blend_target[k];
                scenario.correlation[k] = (1.0 - value) * base.correlation[k] + value * target;
            }
            break;
        case SweepParameter::leverage_scale:
            for (Position& position : scenario.positions) {
                position.quantity *= value;
                position.leverage *= value;
            }
            break;
        case SweepParameter::volatility_scale:
            // The diffusion volatilities (both regimes'); jump sizes are left as they are.
            for (Asset& asset : scenario.assets) asset.volatility *= value;
            for (double& vol : scenario.regimes.stress_volatility) vol *= value;
            break;
        case SweepParameter::horizon_days:
            scenario.simulation.horizon_days = value;
            scenario.simulation.steps =
                static_cast<int>(std::llround(value * scenario.simulation.steps_per_day));
            break;
        case SweepParameter::steps_per_day: {
            Simulation& simulation = scenario.simulation;  // the derived fields as load_scenario sets them
            simulation.steps_per_day = static_cast<int>(value);
            simulation.steps = static_cast<int>(std::llround(simulation.horizon_days * simulation.steps_per_day));
            simulation.dt_years = 1.0 / (365.0 * simulation.steps_per_day);
            break;
        }
        case SweepParameter::monitoring:
            scenario.simulation.monitoring = static_cast<Monitoring>(static_cast<int>(value));
            break;
    }
    return scenario;
}

void check_sweep(const Scenario& scenario, const SweepSpec& spec) {
    if (spec.values.empty()) {
        throw InputError(values_source(spec), 0, 0, "", "no values", values_expected);
    }
    const std::size_t n = scenario.asset_count();
    if (spec.parameter == SweepParameter::correlation_blend && !spec.blend_target.empty() &&
        spec.blend_target.size() != n * n) {
        throw InputError(spec.blend_target_source, 0, 0, "matrix",
                         fmt::format("{} entries for {} assets", spec.blend_target.size(), n),
                         fmt::format("a {0} x {0} matrix", n));
    }
    for (const double value : spec.values) check_value(scenario, spec, value);
}

SweepResult run_sweep(const Scenario& scenario, const SweepSpec& spec, const SweepOptions& options,
                      const SweepProgress& progress) {
    check_sweep(scenario, spec);
    const auto start = std::chrono::steady_clock::now();
    SweepResult sweep;
    sweep.scenario = scenario.source;
    sweep.overrides = scenario.overrides;
    sweep.spec = spec;
    std::size_t done = 0;
    std::size_t planned = spec.values.size();
    RunOptions run = options.run;
    const auto run_point = [&](double value) {
        if (progress) progress(done, planned, value);
        SweepPoint point = evaluate(scenario, spec, value, run, options);
        ++done;
        return point;
    };
    for (const double value : spec.values) {
        sweep.points.push_back(run_point(value));
        // A precision target: each later point runs on at least the paths of the points before.
        if (run.precision) run.precision_min_paths = sweep.points.back().report.simulation.paths;
    }
    if (run.precision) {
        // The common paths are the last point's, the most any point needed; a point run on fewer
        // runs again on them (a plain run), keeping what it needed. So does the bisection.
        sweep.precision = grid_precision(sweep.points, *run.precision);
        const std::uint64_t common = sweep.points.back().report.simulation.paths;
        run.precision.reset();
        run.precision_min_paths = 0;
        run.paths = common;
        for (const SweepPoint& point : sweep.points) planned += point.report.simulation.paths < common ? 1 : 0;
        for (SweepPoint& point : sweep.points) {
            if (point.report.simulation.paths == common) continue;
            const std::optional<PrecisionOutcome> own = point.report.simulation.precision;
            point = run_point(point.value);
            point.report.simulation.precision = own;
        }
    }
    sweep.paths = sweep.points.front().report.simulation.paths;
    sweep.seed = sweep.points.front().report.simulation.seed;

    // The first interval of the grid where the sign of the gap changes; then halve it on the
    // same paths.
    const auto above = [](const SweepPoint& point) { return es_gap(point) > 0.0; };
    int sign_changes = 0;
    std::optional<std::size_t> first_change;
    for (std::size_t k = 0; k + 1 < sweep.points.size(); ++k) {
        if (above(sweep.points[k]) == above(sweep.points[k + 1])) continue;
        ++sign_changes;
        if (!first_change) first_change = k;
    }
    if (!first_change) {
        sweep.crossover_outcome = above(sweep.points.front()) ? CrossoverOutcome::cross_above_throughout
                                                              : CrossoverOutcome::cross_never_above;
    } else {
        sweep.crossover_outcome = CrossoverOutcome::found;
        planned += static_cast<std::size_t>(std::max(0, options.bisection_steps));
        SweepPoint lo = sweep.points[*first_change];
        SweepPoint hi = sweep.points[*first_change + 1];
        const bool lo_above = above(lo);
        int steps = 0;
        for (; steps < options.bisection_steps && spec.parameter != SweepParameter::monitoring; ++steps) {
            const double middle = spec.parameter == SweepParameter::steps_per_day
                                      ? std::floor(0.5 * (lo.value + hi.value))  // whole steps per day
                                      : tidy(0.5 * (lo.value + hi.value));
            if (middle <= lo.value || middle >= hi.value) break;  // nothing left to halve
            SweepPoint mid = run_point(middle);
            (above(mid) == lo_above ? lo : hi) = std::move(mid);
        }
        Crossover crossover;
        crossover.lo = lo.value;
        crossover.hi = hi.value;
        // Between the two monitorings there is no middle: the crossover is the value it happens at.
        crossover.value = spec.parameter == SweepParameter::monitoring
                              ? (lo_above ? lo.value : hi.value)
                              : tidy(0.5 * (lo.value + hi.value));
        crossover.cross_exceeds_above = !lo_above;
        crossover.es_cross = {es(lo, MarginMode::cross), es(hi, MarginMode::cross)};
        crossover.es_isolated = {es(lo, MarginMode::isolated), es(hi, MarginMode::isolated)};
        crossover.bisection_steps = steps;
        crossover.grid_sign_changes = sign_changes;
        sweep.crossover = crossover;
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    sweep.elapsed_s = elapsed.count();
    return sweep;
}

}  // namespace marginsim
