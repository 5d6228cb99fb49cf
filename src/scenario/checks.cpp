// The checks that need the whole scenario: tier limits at entry, fundable margins, no pool
// liquidated at the start, no overflow on a plausible path, jumps the compensation can carry.
#include "scenario/checks.hpp"

#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace marginsim::detail {

namespace {

constexpr double leverage_tolerance = 1e-12;

// How far an asset's log price plausibly rises above its start within the horizon T (years):
// its log drift when positive plus 40 standard deviations of the horizon,
// max(0, (mu - vol^2/2) T) + 40 vol sqrt(T); a Brownian running maximum passes that with
// probability 2 P(Z > 40) < 1e-300. With the gaussian model the price discounted at mu is a
// martingale, so by Doob's maximal inequality it passes max(0, mu) T + 46 with probability
// below e^-46 = 1e-20: the smaller of the two is taken. Student-t steps have no such bound (their
// price has no mean): a path with a larger jump is counted at run time (overflowed_paths).
struct PlausibleRise {
    double log_rise = 0.0;
    double from_drift = 0.0;  // the drift's part of it
    std::string how;          // the terms, for messages
};

constexpr double plausible_deviations = 40.0;
constexpr double doob_log_margin = 46.0;  // e^-46 = 1.1e-20

PlausibleRise plausible_rise(const Asset& asset, const Simulation& simulation) {
    const double years = simulation.steps * simulation.dt_years;
    const double log_drift = std::max(0.0, (asset.drift - 0.5 * asset.volatility * asset.volatility) * years);
    const double diffusion = plausible_deviations * asset.volatility * std::sqrt(years);
    PlausibleRise rise{log_drift + diffusion, log_drift,
                       fmt::format("its log drift {} plus {} standard deviations of the horizon "
                                   "({} x {} x sqrt({} years) = {})",
                                   format_amount(log_drift), plausible_deviations, plausible_deviations,
                                   format_input(asset.volatility), format_amount(years),
                                   format_amount(diffusion))};
    const double doob = std::max(0.0, asset.drift) * years + doob_log_margin;
    if (simulation.model == PriceModel::gaussian && !simulation.jumps && doob < rise.log_rise) {
        rise = {doob, doob - doob_log_margin,
                fmt::format("its drift {} x {} years plus {} (Doob's bound: probability below 1e-20)",
                            format_input(asset.drift), format_amount(years), doob_log_margin)};
    }
    return rise;
}

std::string position_key(std::size_t j) { return fmt::format("positions[{}]", j); }

double start_upnl(const Scenario& scenario, const Position& position) {
    const double price = scenario.assets[position.asset].price;
    return sign(position.side) * position.quantity * (price - position.entry_price);
}

double start_maintenance(const Scenario& scenario, const Position& position) {
    const Asset& asset = scenario.assets[position.asset];
    return maintenance_margin(asset.tiers, position.quantity * asset.price);
}

// Cross pool of `mode` (docs/model.md#cross-margin) when its equity starts at or below its
// maintenance.
std::optional<BookProblem> cross_pool_start(const Scenario& scenario, MarginMode mode) {
    double upnl = 0.0;
    double maintenance = 0.0;
    std::string members;
    std::optional<std::size_t> first;
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        if (mode == MarginMode::as_configured && position.mode != MarginMode::cross) continue;
        if (!first) first = j;
        upnl += start_upnl(scenario, position);
        maintenance += start_maintenance(scenario, position);
        members += fmt::format("{}{}", members.empty() ? "" : ", ", position_key(j));
    }
    if (!first) return std::nullopt;
    const double wallet = scenario.cross_wallet(mode);
    if (wallet + upnl > maintenance) return std::nullopt;
    const std::string wallet_text =
        mode == MarginMode::cross
            ? fmt::format("wallet {}", format_amount(wallet))
            : fmt::format("cross wallet {} (balance {} minus isolated margins)",
                          format_amount(wallet), format_input(scenario.balance));
    return BookProblem{
        *first, "positions",
        fmt::format("the cross positions ({}) are already at or below their maintenance margin at the "
                    "start prices in {} mode: {} + unrealised PnL {} = {} <= maintenance margin {}",
                    members, to_string(mode), wallet_text, format_amount(upnl), format_amount(wallet + upnl),
                    format_amount(maintenance)),
        fmt::format("reported as liquidated at time 0 in {} mode (P(liquidation) = 1, its loss realised)",
                    to_string(mode))};
}

// Isolated positions that start at or below their maintenance: liquidated at time 0 in isolated
// mode, and in the mode as configured when they are isolated there.
std::vector<BookProblem> isolated_starts(const Scenario& scenario) {
    std::vector<BookProblem> out;
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const double upnl = start_upnl(scenario, position);
        const double maintenance = start_maintenance(scenario, position);
        if (position.margin + upnl > maintenance) continue;
        const bool configured = position.mode == MarginMode::isolated;
        out.push_back(BookProblem{
            j, position_key(j),
            fmt::format("already at or below its maintenance margin at the start price {} in isolated mode: "
                        "margin {} + unrealised PnL {} = {} <= maintenance margin {}",
                        format_input(scenario.assets[position.asset].price), format_input(position.margin),
                        format_amount(upnl), format_amount(position.margin + upnl), format_amount(maintenance)),
            configured ? "reported as liquidated at time 0 in isolated mode and as configured (P(liquidation) = "
                         "1, its margin's remaining equity lost)"
                       : "reported as liquidated at time 0 in the hypothetical isolated mode (P(liquidation) "
                         "= 1); as configured it is in the cross pool"});
    }
    return out;
}

// The start state in finite numbers: otherwise the checks below compare NaN and report
// nonsense, and the engine starts from infinities.
std::optional<BookProblem> start_finite_problem(const Scenario& scenario) {
    double total = scenario.balance;
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const double upnl = start_upnl(scenario, position);
        const double maintenance = start_maintenance(scenario, position);
        if (!std::isfinite(upnl) || !std::isfinite(maintenance)) {
            return BookProblem{j, position_key(j),
                         fmt::format("numbers too large: quantity {} at the start price {} "
                                     "(entry price {}) overflows its unrealised PnL or "
                                     "maintenance margin",
                                     format_amount(position.quantity),
                                     format_input(scenario.assets[position.asset].price),
                                     format_input(position.entry_price)),
                         std::string(overflow_expected)};
        }
        total += std::abs(upnl) + std::abs(maintenance) + position.margin;
    }
    if (!std::isfinite(total)) {
        return BookProblem{0, "positions",
                     "numbers too large: the balance, margins, unrealised PnL and maintenance "
                     "margins of the positions add up past the largest floating-point number",
                     std::string(overflow_expected)};
    }
    return std::nullopt;
}

}  // namespace

// A price that overflows a double on a plausible path would poison every path that reaches it.
std::optional<ValueProblem> price_overflow(const Scenario& scenario, std::size_t i) {
    const Asset& asset = scenario.assets[i];
    const PlausibleRise rise = plausible_rise(asset, scenario.simulation);
    const double log_max = std::log(std::numeric_limits<double>::max());
    const double top = std::log(asset.price) + rise.log_rise;
    if (top <= log_max) return std::nullopt;
    // Point at what is extreme: the price when the rise is no more than Doob's margin (an
    // ordinary move), else the drift when it makes most of the rise, else the volatility.
    const char* key = rise.log_rise <= doob_log_margin        ? "price"
                      : rise.from_drift > 0.5 * rise.log_rise ? "drift"
                                                                : "volatility";
    return ValueProblem{key,
                    fmt::format("a plausible path overflows: from price {} over {} days the log "
                                "price rises by {}, to e^{:.1f}, past the largest floating-point "
                                "number e^{:.2f} = 1.8e308",
                                format_input(asset.price), format_input(scenario.simulation.horizon_days),
                                rise.how, top, log_max),
                    "price x e^(plausible rise) below 1.8e308: a lower volatility, drift or price, or "
                    "a shorter horizon_days"};
}

std::optional<BookProblem> tier_limit_problem(const Scenario& scenario) {
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const Asset& asset = scenario.assets[position.asset];
        const double notional = position.notional_at_entry();
        const std::size_t last = asset.tiers.size() - 1;
        if (notional > asset.tiers[last].notional_cap) {
            return BookProblem{
                j, position_key(j),
                fmt::format("notional at entry {} is above {}, the cap of the last {} tier {}",
                            format_amount(notional), format_input(asset.tiers[last].notional_cap),
                            asset.symbol, tier_name(asset, position.asset, last)),
                fmt::format("a notional <= {}, or a last tier without notional_cap",
                            format_input(asset.tiers[last].notional_cap))};
        }
        const std::size_t k = tier_index(asset.tiers, notional);
        const std::optional<double>& max_leverage = asset.tiers[k].max_leverage;
        if (max_leverage && position.leverage > *max_leverage + leverage_tolerance) {
            return BookProblem{
                j, position_key(j),
                fmt::format("leverage {} exceeds max_leverage {} of {}, the {} tier holding "
                            "its notional at entry {}",
                            format_amount(position.leverage), format_input(*max_leverage),
                            tier_name(asset, position.asset, k), asset.symbol,
                            format_amount(notional)),
                fmt::format("leverage <= {} at this notional", format_input(*max_leverage))};
        }
    }
    return std::nullopt;
}

std::optional<BookProblem> margins_problem(const Scenario& scenario) {
    double total = 0.0;
    for (const Position& position : scenario.positions) total += position.margin;
    if (total <= scenario.balance) return std::nullopt;
    double running = 0.0;
    std::size_t j = 0;
    while (running + scenario.positions[j].margin <= scenario.balance)
        running += scenario.positions[j++].margin;
    return BookProblem{
        j, position_key(j) + ".margin",
        fmt::format("position margins add up to {}, more than the account balance {}; "
                    "the running sum exceeds it from this position on",
                    format_amount(total), format_input(scenario.balance)),
        "a sum of position margins <= account.balance, so that every margin mode is fundable"};
}

// Notionals at the top of a plausible path (and at the entry price) stay within max_amount,
// so that no sum of the run overflows; a rarer path that passes it is counted at run time.
std::optional<ValueProblem> notional_overflow(const Scenario& scenario, std::size_t j) {
    const Position& position = scenario.positions[j];
    const Asset& asset = scenario.assets[position.asset];
    const PlausibleRise rise = plausible_rise(asset, scenario.simulation);
    const double top_price = asset.price * std::exp(rise.log_rise);
    const double notional = position.quantity * std::max(top_price, position.entry_price);
    if (notional <= max_amount) return std::nullopt;
    return ValueProblem{
        "",
        fmt::format("notional can overflow: quantity {} at {} is a notional of {}, above {}, the "
                    "largest amount the engine computes with (the price {} of {} plausibly rises by "
                    "{} over {} days)",
                    format_amount(position.quantity),
                    top_price >= position.entry_price
                        ? fmt::format("the plausible top price {}", format_amount(top_price))
                        : fmt::format("the entry price {}", format_input(position.entry_price)),
                    format_amount(notional), format_input(max_amount), format_input(asset.price),
                    asset.symbol, rise.how, format_input(scenario.simulation.horizon_days)),
        fmt::format("a notional below {} at every plausible price: a smaller position, a lower "
                    "volatility or drift, or a shorter horizon_days",
                    format_input(max_amount))};
}

// The start state in finite numbers: a book that no mode can use.
std::optional<BookProblem> start_problem(const Scenario& scenario) { return start_finite_problem(scenario); }

// The pools that start liquidated, whole-account pools first (the configured mode's loudest).
std::vector<BookProblem> start_liquidations(const Scenario& scenario) {
    std::vector<BookProblem> out;
    if (auto pool = cross_pool_start(scenario, MarginMode::as_configured)) {
        pool->message = "THE BOOK AS CONFIGURED STARTS LIQUIDATED: " + pool->message;
        out.push_back(std::move(*pool));
    }
    if (auto pool = cross_pool_start(scenario, MarginMode::cross)) out.push_back(std::move(*pool));
    for (BookProblem& position : isolated_starts(scenario)) {
        if (scenario.positions[position.position].mode == MarginMode::isolated)
            position.message = "AS CONFIGURED, THIS POSITION STARTS LIQUIDATED: " + position.message;
        out.push_back(std::move(position));
    }
    return out;
}

// The drift compensation -lambda kappa T keeps E[S_T] = S_0 e^{mu T} exact (Merton), but with
// large or frequent jumps that mean rests on paths no run draws: an upward jump of mean 5 and
// vol 2 has kappa = e^7 - 1 = 1096, and the compensating drift sends every path that meets no
// jump to 0. What jumps add to the relative variance of S_T is e^V - 1, with
// V = sum over the asset's jump sources of lambda T E[(e^J - 1)^2] and
// E[(e^J - 1)^2] = e^{2m + 2s^2} - 2 e^{m + s^2/2} + 1 (J ~ N(m, s^2), Poisson counts).
// Requiring V <= ln(101): the jumps' relative variance is at most 100, so 100,000 paths
// estimate E[S_T] within 3% (one standard error); and since E[(e^J - 1)^2] >= kappa^2, the
// compensating fall on a path without jumps, lambda kappa T <= V / kappa, is at most a factor
// 1/101 once jumps at least double the price on average (kappa >= 1).
constexpr double max_jump_variance_log = 4.61512051684126;  // ln(101)

double jump_second_moment(const JumpSize& size) {
    const double m = size.mean;
    const double s2 = size.vol * size.vol;
    return std::exp(2.0 * m + 2.0 * s2) - 2.0 * std::exp(m + 0.5 * s2) + 1.0;
}

std::optional<ValueProblem> jump_problem(const Scenario& scenario) {
    if (!scenario.simulation.jumps) return std::nullopt;
    const Jumps& jumps = scenario.jumps;
    const double years = scenario.simulation.steps * scenario.simulation.dt_years;
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        const double market = jumps.intensity * years * jump_second_moment(jumps.market[i]);
        const double own =
            jumps.idiosyncratic_intensity[i] * years * jump_second_moment(jumps.idiosyncratic[i]);
        if (market + own <= max_jump_variance_log) continue;
        const double drift = years * (jumps.intensity * jumps.market[i].kappa() +
                                      jumps.idiosyncratic_intensity[i] * jumps.idiosyncratic[i].kappa());
        return ValueProblem{
            "intensity",
            fmt::format("the jumps of {} are too large or too frequent for the drift compensation: "
                        "their relative variance of the horizon price is e^{:.4g} - 1, and the "
                        "compensating drift lowers the log price by {:.4g} over {} days, so that "
                        "paths fall toward 0 while the mean rests on jumps no run draws",
                        scenario.assets[i].symbol, market + own, drift,
                        format_input(scenario.simulation.horizon_days)),
            "intensity x horizon in years x E[(e^J - 1)^2] <= ln(101) = 4.615 per asset, summed "
            "over market and idiosyncratic jumps, with E[(e^J - 1)^2] = e^(2 mean + 2 vol^2) - "
            "2 e^(mean + vol^2/2) + 1: a lower intensity, a smaller jump mean or vol, or a "
            "shorter horizon_days"};
    }
    return std::nullopt;
}

}  // namespace marginsim::detail

namespace marginsim {

std::optional<std::string> find_overflow(const Scenario& scenario) {
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        if (const auto o = detail::price_overflow(scenario, i))
            return fmt::format("assets[{}].{}: {} (expected {})", i, o->key, o->message, o->expected);
    }
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        if (const auto o = detail::notional_overflow(scenario, j))
            return fmt::format("positions[{}]: {} (expected {})", j, o->message, o->expected);
    }
    return std::nullopt;
}

}  // namespace marginsim
