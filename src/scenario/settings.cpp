// The scalar tables of a scenario: [simulation] (paths, horizon, steps, model), [account]
// (balance) and [liquidation] (policy, fee).
#include "scenario/checks.hpp"
#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace marginsim::detail {

namespace {

constexpr std::int64_t int_max = std::numeric_limits<int>::max();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// A unit-variance Student-t step is z sqrt((dof - 2) / chi2(dof)): as dof nears 2 the factor
// is near 0 on almost every step and the variance sits in rare huge steps that a run of
// finite paths hardly meets, so most paths barely move (dof = 2.0000001: P = 0 everywhere).
// The median factor, sqrt((dof - 2) / median chi2), median chi2 ~ dof (1 - 2 / (9 dof))^3
// (Wilson-Hilferty), is 0.65 at dof = 3: below, the user is told how small it has become.
constexpr double degenerate_dof = 3.0;

}  // namespace

void warn_if_degenerate(const TableReader& s, double dof) {
    if (dof >= degenerate_dof) return;
    const double median_chi_square = dof * std::pow(1.0 - 2.0 / (9.0 * dof), 3.0);
    const double median_factor = std::sqrt((dof - 2.0) / median_chi_square);
    s.context().warn(s.find("dof")->source(),
                     fmt::format("{} = {} is close to 2: the median step is only {:.2g}% of a "
                                 "gaussian step of the same volatility, the variance sits in "
                                 "rare extreme steps, and most paths barely move: liquidation "
                                 "probabilities can be far too low. dof >= {} keeps the median "
                                 "step above 65%",
                                 s.key("dof"), format_input(dof), 100.0 * median_factor,
                                 degenerate_dof));
}

double read_dof(const TableReader& t) {
    const double dof = *t.number("dof", "a number > 2: the variance is infinite for dof <= 2",
                                 [](double v) { return v > 2.0; });
    warn_if_degenerate(t, dof);
    return dof;
}

namespace {

// jumps = true|false: the [jumps] table on top of the diffusion; model = "jump" (gaussian with
// jumps, the earlier spelling) has them on already, and says so if told otherwise.
bool read_jump_switch(const TableReader& s, PriceModel model) {
    const std::optional<bool> jumps = s.boolean("jumps", "true or false: [jumps] on top of the model's diffusion");
    if (model == PriceModel::jump && jumps == false) {
        s.fail_value("jumps", "model = \"jump\" is the gaussian model with jumps on",
                     "model = \"gaussian\" for no jumps, or no jumps key");
    }
    return model == PriceModel::jump || jumps.value_or(false);
}

}  // namespace

std::optional<ValueProblem> horizon_steps_problem(double horizon_days, int steps_per_day) {
    const double steps = std::round(horizon_days * steps_per_day);
    if (steps < 1.0) {
        return ValueProblem{
            "horizon_days",
            fmt::format("too short for one monitoring step: {} days at {} steps per day rounds "
                        "to 0 steps",
                        format_input(horizon_days), steps_per_day),
            fmt::format("at least half a step: horizon_days >= {} at {} steps per day",
                        format_amount(0.5 / steps_per_day), steps_per_day)};
    }
    if (steps > static_cast<double>(int_max)) {
        return ValueProblem{
            "horizon_days",
            fmt::format("too long: {} days at {} steps per day is {} monitoring steps",
                        format_input(horizon_days), steps_per_day, format_amount(steps)),
            fmt::format("at most {} steps", int_max)};
    }
    return std::nullopt;
}

Simulation read_simulation(const TableReader& root) {
    const auto table = root.table("simulation", "a table [simulation]");
    if (!table) {
        root.context().fail(root.source(), "simulation", "missing required table",
                            "a [simulation] table with at least horizon_days");
    }
    const TableReader& s = *table;
    s.allow_only({"paths", "horizon_days", "steps_per_day", "monitoring", "importance_sampling", "seed", "model", "dof", "jumps", "threads"});

    Simulation sim;
    sim.paths = static_cast<std::uint64_t>(
        s.integer("paths", "an integer > 0", 1, int64_max).value_or(100000));
    sim.horizon_days = s.required_number("horizon_days", "a number of days > 0", positive);
    sim.steps_per_day =
        static_cast<int>(s.integer("steps_per_day", "an integer > 0", 1, int_max).value_or(4));
    sim.seed =
        static_cast<std::uint64_t>(s.integer("seed", "an integer >= 0", 0, int64_max).value_or(1));
    sim.model = s.choice("model", price_model_names).value_or(PriceModel::gaussian);
    sim.jumps = read_jump_switch(s, sim.model);
    sim.monitoring = s.choice("monitoring", monitoring_names).value_or(Monitoring::continuous);
    sim.importance_sampling =
        s.choice("importance_sampling", importance_sampling_names).value_or(ImportanceSampling::none);
    // The selloff tilt's likelihood ratio is that of gaussian innovations, not of resampled days.
    if (sim.model == PriceModel::fhs && sim.importance_sampling == ImportanceSampling::selloff)
        s.fail_value("importance_sampling",
                     "importance sampling tilts gaussian innovations: the fhs model resamples historical days, whose "
                     "likelihood ratio it does not have",
                     "importance_sampling = \"none\" with model = \"fhs\"");
    if (sim.model == PriceModel::student_t) {
        if (!s.has("dof")) {
            s.fail_missing("dof", "degrees of freedom for model = \"student_t\": a number > 2");
        }
        sim.dof = read_dof(s);
    } else if (sim.model == PriceModel::garch && s.has("dof")) {
        // Used by innovations = "student_t" of [garch], which checks it is there when needed.
        sim.dof = read_dof(s);
    } else if (s.has("dof")) {
        s.fail_value("dof",
                     fmt::format("dof is only used by model = \"student_t\", but the model is "
                                 "\"{}\"",
                                 to_string(sim.model)),
                     fmt::format("no dof with the {} model, or model = \"student_t\"",
                                 to_string(sim.model)));
    }
    sim.threads = static_cast<int>(
        s.integer("threads", "an integer >= 0, 0 = all cores", 0, int_max).value_or(0));

    if (const auto problem = horizon_steps_problem(sim.horizon_days, sim.steps_per_day))
        s.fail_value(problem->key, problem->message, problem->expected);
    sim.steps = static_cast<int>(std::llround(sim.horizon_days * sim.steps_per_day));
    sim.dt_years = 1.0 / (365.0 * sim.steps_per_day);
    sim.paths_at = s.position_of("paths");
    sim.horizon_days_at = s.position_of("horizon_days");
    sim.steps_per_day_at = s.position_of("steps_per_day");
    return sim;
}

double read_balance(const TableReader& root) {
    const auto table = root.table("account", "a table [account]");
    if (!table) {
        root.context().fail(root.source(), "account", "missing required table",
                            "an [account] table with balance > 0");
    }
    table->allow_only({"balance"});
    const double balance =
        table->required_number("balance", "a balance > 0 in the quote currency", positive);
    if (balance > max_amount) {
        table->fail_value("balance", fmt::format("too large: found {}", format_input(balance)),
                          fmt::format("a balance <= {}, the largest amount the engine computes with",
                                      format_input(max_amount)));
    }
    return balance;
}

void read_liquidation(const TableReader& root, Scenario& scenario) {
    scenario.policy = LiquidationPolicy::full;
    scenario.fee_rate = 0.005;
    const auto table = root.table("liquidation", "a table [liquidation]");
    if (!table) return;
    table->allow_only({"policy", "fee_rate"});
    scenario.policy = table->choice("policy", policy_names).value_or(LiquidationPolicy::full);
    scenario.fee_rate = table->number("fee_rate", "a fraction of notional in [0, 1)", unit_interval)
                            .value_or(0.005);
    if (scenario.policy == LiquidationPolicy::full && table->has("fee_rate")) {
        table->fail_value("fee_rate",
                          "fee_rate is only used by policy = \"fee\", but the policy is \"full\"",
                          "no fee_rate with policy = \"full\", or policy = \"fee\"");
    }
}

}  // namespace marginsim::detail
