// `marginsim sweep FILE --correlation VALUES`: one parameter swept on the same random numbers,
// with the crossover of cross and isolated margin's ES 99%.

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "commands.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/html_report.hpp"
#include "marginsim/report.hpp"
#include "marginsim/run_estimate.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/sweep.hpp"
#include "outputs.hpp"
#include "program_ranks.hpp"

namespace marginsim::cli {
namespace {

constexpr const char* values_help = "'start:stop:step' (stop included) or 'v1,v2,...'";

struct SweptParameter {
    SweepParameter parameter;
    const CLI::Option* option;
    const std::string* values;
};

// The parameter whose option was given (an empty value counts as given: it is refused naming
// that option); CLI11 has checked there is exactly one.
SweptParameter swept_parameter(const SweepArguments& arguments) {
    const bool blend = arguments.blend || !arguments.stress.empty();
    const SweptParameter given[] = {
        {blend ? SweepParameter::correlation_blend : SweepParameter::correlation, arguments.correlation_option,
         &arguments.correlation},
        {SweepParameter::leverage_scale, arguments.leverage_option, &arguments.leverage},
        {SweepParameter::volatility_scale, arguments.volatility_option, &arguments.volatility},
        {SweepParameter::steps_per_day, arguments.steps_per_day_option, &arguments.steps_per_day},
        {SweepParameter::monitoring, arguments.monitoring_option, &arguments.monitoring},
    };
    for (const SweptParameter& swept : given) {
        if (swept.option->count() > 0) return swept;
    }
    return {SweepParameter::horizon_days, arguments.horizon_option, &arguments.horizon};
}

SweepSpec sweep_spec(const SweepArguments& arguments, const Scenario& scenario) {
    const SweptParameter swept = swept_parameter(arguments);
    SweepSpec spec;
    spec.parameter = swept.parameter;
    spec.option = swept.option->get_name();  // "--horizon": every error about a value names it
    spec.values = swept.parameter == SweepParameter::monitoring ? parse_monitoring_values(*swept.values, spec.option)
                                                                 : parse_sweep_values(*swept.values, spec.option);
    if (!arguments.stress.empty()) {
        spec.blend_target = load_stress_matrix(arguments.stress, scenario);
        spec.blend_target_source = arguments.stress;
    }
    return spec;
}

// One line rewritten in place, only when stderr is a terminal.
SweepProgress progress_line(const SweepArguments& arguments, SweepParameter parameter) {
    if (arguments.outputs.quiet || ::isatty(STDERR_FILENO) == 0) return {};
    return [parameter](std::size_t done, std::size_t planned, double value) {
        const std::string_view word = sweep_value_word(parameter, value);
        fmt::print(stderr, "\rsweep: run {}/{}, {} = {}   ", done + 1, planned, to_string(parameter),
                   word.empty() ? fmt::format("{:g}", value) : std::string(word));
        std::fflush(stderr);
    };
}

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepArguments& arguments) {
    CLI::App* command = app.add_subcommand(
        "sweep",
        "Sweep one parameter on the same random numbers: P(liquidation), VaR, ES and contagion "
        "per mode at every value, and the crossover where cross margin's ES 99% exceeds "
        "isolated's");
    add_scenario_options(*command, arguments.scenario, arguments.tiers_dir);
    add_set_option(*command, arguments.sets);
    CLI::Option_group* parameter =
        command->add_option_group("parameter", "The parameter to sweep (exactly one)");
    const auto add_parameter = [parameter](const char* name, std::string& values, const char* what) {
        return parameter->add_option(name, values, fmt::format("{}: {}", what, values_help))->type_name("VALUES");
    };
    CLI::Option* correlation =
        add_parameter("--correlation", arguments.correlation,
                      "The same correlation for every pair of assets, or blend weights with --blend or --stress");
    arguments.correlation_option = correlation;
    arguments.leverage_option = add_parameter("--leverage", arguments.leverage,
                                              "Scale of every position's size (its leverage; margins unchanged)");
    arguments.volatility_option =
        add_parameter("--vol-scale", arguments.volatility, "Scale of every asset's volatility");
    arguments.horizon_option =
        add_parameter("--horizon", arguments.horizon, "Horizon in days, at the scenario's steps per day");
    arguments.steps_per_day_option = add_parameter(
        "--steps-per-day", arguments.steps_per_day, "Monitoring steps per day (whole numbers), at the scenario's horizon");
    arguments.monitoring_option =
        parameter
            ->add_option("--monitoring", arguments.monitoring,
                         "Monitoring: 'continuous,discrete' (either or both), at the scenario's steps per day")
            ->type_name("WORDS");
    parameter->require_option(1);
    command
        ->add_flag("--blend", arguments.blend,
                   "The --correlation values are weights w of (1 - w) C + w 11': the scenario's "
                   "matrix C moved toward perfect co-movement")
        ->needs(correlation);
    command
        ->add_option("--stress", arguments.stress,
                     "Blend toward the correlation matrix in this TOML file (matrix = [[...]], "
                     "optional symbols = [...] giving its order) instead of 11'; implies --blend")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->needs(correlation);
    command
        ->add_option("--bisect", arguments.bisect,
                     "Bisection steps locating the crossover on the same paths (0: the grid "
                     "interval only)")
        ->check(integer_at_least<int>(0, "NONNEGATIVE"))
        ->capture_default_str();
    add_run_override_options(*command, arguments.overrides);
    add_output_options(*command, arguments.outputs,
                       {.json = "Write the sweep as JSON (schema marginsim.sweep/1) to PATH",
                        .csv = "Write the sweep as CSV (one row per value and mode) to PATH",
                        .html = "Write an HTML report to PATH: the scenario as configured and the sweep curves",
                        .stdout_format = true});
    add_force_flag(*command, arguments.force, "all the sweep's runs");
    return command;
}

int sweep_command(const SweepArguments& arguments) {
    std::optional<OutputPlan> plan;
    on_root([&] {
        plan.emplace(output_paths(arguments.outputs), std::vector<NamedPath>{{"FILE", arguments.scenario}, {"--stress", arguments.stress}},
                     std::nullopt, format_given(arguments.outputs));
    });
    std::optional<Scenario> loaded;
    std::optional<SweepSpec> spec_read;
    load_everywhere([&] {  // the --stress matrix is an input too
        loaded = load_scenario(arguments.scenario, load_options(arguments.tiers_dir, arguments.sets));
        spec_read = sweep_spec(arguments, *loaded);
        check_sweep(*loaded, *spec_read);
    });
    const Scenario& scenario = *loaded;
    const SweepSpec& spec = *spec_read;
    SweepOptions options{arguments.overrides.options(), arguments.bisect};
    if (spread_over_ranks()) options.ranks = &program_ranks();
    print_warnings(scenario.warnings);
    const bool html = !arguments.outputs.html.empty();
    if (!arguments.force) on_root([&] {
        // Every point, every bisection step and the --html base run: one run of the scenario's
        // size each (a horizon or steps-per-day sweep is sized at its largest value).
        const bool grows = spec.parameter == SweepParameter::horizon_days || spec.parameter == SweepParameter::steps_per_day;
        const Scenario largest =
            grows ? scenario_at(scenario, spec, *std::max_element(spec.values.begin(), spec.values.end())) : scenario;
        const auto runs = static_cast<std::uint64_t>(spec.values.size()) +
                          static_cast<std::uint64_t>(std::max(options.bisection_steps, 0)) + (html ? 1u : 0u);
        check_run_size(largest, options.run, machine_run_limits(), runs, program_ranks().size());
    });

    const SweepProgress progress = progress_line(arguments, spec.parameter);
    const SweepResult sweep = run_sweep(scenario, spec, options, progress);
    std::optional<DetailedRun> base;
    if (html) {
        if (progress) fmt::print(stderr, "\rsweep: the scenario as configured, for the report   ");
        RunOptions base_run = options.run;  // with --precision: on the sweep's common paths
        if (base_run.precision) {
            base_run.precision.reset();
            base_run.paths = sweep.paths;
        }
        RunControl base_control;
        base_control.ranks = options.ranks;
        base = run_detailed(scenario, base_run, base_control);
    }
    if (progress) fmt::print(stderr, "\r{:60}\r", "");

    Renderers render = json_and_text(sweep);
    render.csv = [&sweep] { return to_csv(sweep); };
    if (base) render.html = [&base, &sweep] { return to_html(*base, &sweep); };
    on_root([&] { write_reports(arguments.outputs, *plan, render); });
    return exit_ok;
}

}  // namespace marginsim::cli
