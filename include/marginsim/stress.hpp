#pragma once
// `marginsim stress`: a book replayed through named or dated windows of real daily bars
// (replay.hpp), with what each mode lost, rendered as text, JSON and CSV (docs/stress.md).

#include <ostream>
#include <string>
#include <vector>

#include "marginsim/replay.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

inline constexpr const char* stress_schema = "marginsim.stress/1";

struct StressReport {
    std::string scenario;  // source file
    std::string history;   // the directory of the price files
    LiquidationPolicy policy = LiquidationPolicy::full;
    double fee_rate = 0.0;
    double balance = 0.0;
    // Where the book's adverse extremes are: "at the lows" (longs only), "at the highs" (shorts
    // only), "at the extremes".
    std::string extremes_word = "at the lows";
    std::vector<Replay> replays;       // in the order asked
    std::vector<std::string> skipped;  // catalogue windows the history does not cover, and why
    std::vector<std::string> warnings;
    std::vector<std::string> overrides;  // Scenario::overrides, "KEY=VALUE" as given
};

// Each window through `series` (one per asset of the book, in its order: read_history). A
// window some file does not cover throws check_window's InputError; with `skip_uncovered` (the
// whole catalogue asked for) it is skipped and said instead, and InputError is thrown only when
// no window is left.
StressReport stress_test(const Scenario& book, const std::vector<PriceSeries>& series,
                         const std::vector<ReplayWindow>& windows, bool skip_uncovered);

// One line per replay: what each mode lost and when, at the extremes, with the closes where
// they differ ("cross: the whole account (10,000.00) is lost on 2020-03-12 at the lows; ...").
std::string stress_answer(const StressReport& report, const Replay& replay);

// The catalogue, as `marginsim stress --list` prints it.
std::string catalogue_text();

// JSON, schema "marginsim.stress/1": { schema, scenario, history, policy, balance, replays: [
// { name, start, end, days, reference_date, description, assets: [...], outcomes: { closes |
// extremes: { <mode>: { loss, at_risk, funding_paid, liquidated, first_liquidation_day,
// positions: [...] } } }, answer, notes } ], skipped, warnings, overrides }; pretty-printed.
std::string to_json(const StressReport& report);
// One row per window, basis, mode and position.
std::string to_csv(const StressReport& report);
// Per replay: the assets' moves, one table per mode (each position on the closes and at the
// extremes, the loss), the answer; several replays: a summary table first.
void write_text(std::ostream& out, const StressReport& report);

}  // namespace marginsim
