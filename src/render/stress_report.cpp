// The renderings of `marginsim stress`: the one-line answer, the text tables, JSON and CSV, and
// the catalogue that `--list` prints.

#include "marginsim/stress.hpp"

#include <cmath>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "render/format.hpp"

namespace marginsim {
namespace {

using Json = nlohmann::ordered_json;
using detail::csv_field;
using detail::grouped;
using detail::money;

std::string price_text(double price) {
    if (std::abs(price) >= 10.0) return grouped(price, 2);
    if (std::abs(price) >= 1.0) return grouped(price, 4);
    return fmt::format("{:.6g}", price);
}

std::string date_of(const Replay& replay, int day) {
    return day == 0 ? std::string("the start") : format_date(replay.dates[static_cast<std::size_t>(day - 1)]);
}

// "on 2020-03-12 at the lows", "at the start"; empty when nothing was liquidated.
std::string when(const Replay& replay, const ModeOutcome& mode, const std::string& where) {
    const std::optional<int> day = mode.first_day();
    if (!day) return "";
    if (*day == 0) return "at the start";
    return "on " + date_of(replay, *day) + (where.empty() ? "" : " " + where);
}

std::string loss_text(double loss) { return loss < 0.0 ? "gain " + money(-loss) : "loss " + money(loss); }

// "the whole account (10,000.00) is lost on 2020-03-12 at the lows", "2 of 3 positions
// liquidated, the first on 2020-03-12 at the lows, loss 4,000.00", "no position liquidated,
// loss 1,200.00".
std::string outcome_text(const Replay& replay, const ModeOutcome& mode, double balance, const std::string& where) {
    const std::size_t k = mode.liquidated_count();
    if (k == 0) return "no position liquidated, " + loss_text(mode.loss);
    if (mode.loss >= balance - 0.005)
        return fmt::format("the whole account ({}) is lost {}", money(balance), when(replay, mode, where));
    return fmt::format("{} of {} position{} liquidated, the first {}, {}", k, mode.positions.size(),
                       mode.positions.size() == 1 ? "" : "s", when(replay, mode, where), loss_text(mode.loss));
}

bool same_outcome(const ModeOutcome& a, const ModeOutcome& b) {
    return a.liquidated_count() == b.liquidated_count() && a.first_day() == b.first_day() &&
           std::abs(a.loss - b.loss) < 0.005;
}

const ModeOutcome& mode_of(const Replay& replay, ReplayBasis basis, MarginMode mode) {
    return replay.outcome(basis).modes[mode_index(mode)];
}

std::string last_date(const Replay& replay) { return format_date(replay.dates.back()); }

// ---------------------------------------------------------------------------------------------
// JSON

Json position_json(const Replay& replay, const PositionOutcome& p) {
    Json out{{"index", p.position},
             {"symbol", p.symbol},
             {"side", to_string(p.side)},
             {"pool", to_string(p.pool)},
             {"liquidation_price", p.liquidation_price ? Json(*p.liquidation_price) : Json(nullptr)},
             {"liquidated", p.liquidated},
             {"day", p.liquidated ? Json(p.day) : Json(nullptr)},
             {"date", p.liquidated ? Json(date_of(replay, p.day)) : Json(nullptr)},
             {"price", p.price},
             {"gapped", p.gapped},
             {"pool_loss", p.pool_loss}};
    if (p.liquidated && p.day == 0) out["date"] = nullptr;
    return out;
}

Json mode_json(const Replay& replay, const ModeOutcome& mode) {
    const std::optional<int> first = mode.first_day();
    Json positions = Json::array();
    for (const PositionOutcome& p : mode.positions) positions.push_back(position_json(replay, p));
    return Json{{"loss", mode.loss},
                {"at_risk", mode.at_risk},
                {"funding_paid", mode.funding_paid},
                {"liquidated_positions", mode.liquidated_count()},
                {"first_liquidation_day", first ? Json(*first) : Json(nullptr)},
                {"first_liquidation_date", first && *first > 0 ? Json(date_of(replay, *first)) : Json(nullptr)},
                {"positions", std::move(positions)}};
}

Json replay_json(const StressReport& report, const Replay& replay) {
    Json assets = Json::array();
    for (const AssetMove& a : replay.assets) {
        assets.push_back(Json{{"symbol", a.symbol},
                              {"source", a.source},
                              {"reference_close", a.reference_close},
                              {"close_return", a.close_return},
                              {"worst_low", a.worst_low},
                              {"worst_low_day", a.worst_low_day},
                              {"best_high", a.best_high},
                              {"best_high_day", a.best_high_day},
                              {"has_extremes", a.has_extremes}});
    }
    Json outcomes = Json::object();
    for (const ReplayBasis basis : all_bases) {
        Json modes = Json::object();
        for (const MarginMode mode : all_modes)
            modes[std::string(to_string(mode))] = mode_json(replay, mode_of(replay, basis, mode));
        outcomes[std::string(to_string(basis))] = std::move(modes);
    }
    return Json{{"name", replay.window.name},
                {"start", format_date(replay.window.start)},
                {"end", last_date(replay)},
                {"days", replay.window.days},
                {"reference_date", format_date(replay.reference_date)},
                {"description", replay.window.description},
                {"assets", std::move(assets)},
                {"outcomes", std::move(outcomes)},
                {"answer", stress_answer(report, replay)},
                {"notes", replay.notes}};
}

// ---------------------------------------------------------------------------------------------
// Text

std::string outcome_cell(const Replay& replay, const PositionOutcome& p) {
    if (!p.liquidated) return "open, last close " + price_text(p.price);
    if (p.day == 0) return "liquidated at the start";
    return fmt::format("day {} ({}) at {}{}", p.day, date_of(replay, p.day), price_text(p.price),
                       p.gapped ? " gap" : "");
}

std::string loss_cell(const ModeOutcome& mode) {
    return fmt::format("{} of {}", money(mode.loss), money(mode.at_risk));
}

void write_mode(std::ostream& out, const Replay& replay, MarginMode mode) {
    const ModeOutcome& closes = mode_of(replay, ReplayBasis::closes, mode);
    const ModeOutcome& extremes = mode_of(replay, ReplayBasis::extremes, mode);
    fmt::print(out, "\n{}\n", to_string(mode));
    fmt::print(out, "  {:<12} {:<8} {:>14}  {:<38} {}\n", "position", "pool", "liq. price", "on the closes",
               "at the extremes");
    for (std::size_t j = 0; j < closes.positions.size(); ++j) {
        const PositionOutcome& c = closes.positions[j];
        const std::string lp = c.liquidation_price ? price_text(*c.liquidation_price) : std::string("none");
        fmt::print(out, "  {:<12} {:<8} {:>14}  {:<38} {}\n", c.symbol + " " + std::string(to_string(c.side)),
                   to_string(c.pool), lp, outcome_cell(replay, c), outcome_cell(replay, extremes.positions[j]));
    }
    fmt::print(out, "  {:<37}  {:<38} {}\n", "loss (of what it can lose)", loss_cell(closes), loss_cell(extremes));
    if (closes.funding_paid != 0.0 || extremes.funding_paid != 0.0) {
        fmt::print(out, "  {:<37}  {:<38} {}\n", "funding paid", money(closes.funding_paid),
                   money(extremes.funding_paid));
    }
}

std::string percent(double share) { return fmt::format("{:+.1f}%", share * 100.0); }

void write_replay(std::ostream& out, const StressReport& report, const Replay& replay) {
    fmt::print(out, "replay {}: {} to {} ({} day{}), from the closes of {}\n", replay.window.name,
               format_date(replay.window.start), last_date(replay), replay.window.days,
               replay.window.days == 1 ? "" : "s", format_date(replay.reference_date));
    if (!replay.window.description.empty()) fmt::print(out, "  {}\n", replay.window.description);
    fmt::print(out, "\n  {:<8} {:>16} {:>12} {:>18} {:>18}\n", "asset", "reference close", "last close",
               "lowest low (day)", "highest high (day)");
    for (const AssetMove& a : replay.assets) {
        fmt::print(out, "  {:<8} {:>16} {:>12} {:>18} {:>18}\n", a.symbol, price_text(a.reference_close),
                   percent(a.close_return), fmt::format("{} ({})", percent(a.worst_low), a.worst_low_day),
                   fmt::format("{} ({})", percent(a.best_high), a.best_high_day));
    }
    for (const MarginMode mode : all_modes) write_mode(out, replay, mode);
    fmt::print(out, "\nanswer: {}\n", stress_answer(report, replay));
    for (const std::string& note : replay.notes) fmt::print(out, "note: {}\n", note);
}

void write_summary(std::ostream& out, const StressReport& report) {
    fmt::print(out, "{:<22} {:<10} {:>4}  {:<14} {:>9} {:>14} {:>9} {:>14}\n", "window", "first day", "days", "mode",
               "liq. ext.", "loss ext.", "liq. cl.", "loss cl.");
    for (const Replay& replay : report.replays) {
        bool first = true;
        for (const MarginMode mode : all_modes) {
            const ModeOutcome& e = mode_of(replay, ReplayBasis::extremes, mode);
            const ModeOutcome& c = mode_of(replay, ReplayBasis::closes, mode);
            fmt::print(out, "{:<22} {:<10} {:>4}  {:<14} {:>9} {:>14} {:>9} {:>14}\n", first ? replay.window.name : "",
                       first ? format_date(replay.window.start) : "",
                       first ? std::to_string(replay.window.days) : "", to_string(mode),
                       fmt::format("{}/{}", e.liquidated_count(), e.positions.size()), money(e.loss),
                       fmt::format("{}/{}", c.liquidated_count(), c.positions.size()), money(c.loss));
            first = false;
        }
    }
    fmt::print(out, "(liq.: positions liquidated; ext.: at the adverse extremes, cl.: on the closes)\n");
    for (const Replay& replay : report.replays) fmt::print(out, "\n{}: {}\n", replay.window.name, stress_answer(report, replay));
    for (const Replay& replay : report.replays)
        for (const std::string& note : replay.notes) fmt::print(out, "note ({}): {}\n", replay.window.name, note);
}

}  // namespace

std::string stress_answer(const StressReport& report, const Replay& replay) {
    std::string line;
    for (const MarginMode mode : {MarginMode::cross, MarginMode::isolated, MarginMode::as_configured}) {
        const ModeOutcome& extremes = mode_of(replay, ReplayBasis::extremes, mode);
        const ModeOutcome& closes = mode_of(replay, ReplayBasis::closes, mode);
        if (!line.empty()) line += "; ";
        line += fmt::format("{}: {}", to_string(mode), outcome_text(replay, extremes, report.balance, report.extremes_word));
        line += same_outcome(extremes, closes)
                    ? " (the same on the closes)"
                    : fmt::format(" (on the closes: {})", outcome_text(replay, closes, report.balance, ""));
    }
    return line;
}

std::string catalogue_text() {
    std::string text = fmt::format("{:<22} {:<10} {:>4}  {}\n", "name", "first day", "days", "what happened");
    for (const ReplayWindow& window : replay_catalogue())
        text += fmt::format("{:<22} {:<10} {:>4}  {}\n", window.name, format_date(window.start), window.days,
                            window.description);
    text +=
        "\nmarginsim stress SCENARIO --replay NAME|DATE [--days N]: --days changes a window's length; --replay all\n"
        "replays every window (those the history of some asset does not cover are skipped and said).\n";
    return text;
}

std::string to_json(const StressReport& report) {
    Json replays = Json::array();
    for (const Replay& replay : report.replays) replays.push_back(replay_json(report, replay));
    Json out{{"schema", stress_schema},
             {"scenario", report.scenario},
             {"history", report.history},
             {"policy", to_string(report.policy)},
             {"balance", report.balance},
             {"replays", std::move(replays)},
             {"skipped", report.skipped},
             {"warnings", report.warnings},
             {"overrides", report.overrides}};
    if (report.policy == LiquidationPolicy::fee) out["fee_rate"] = report.fee_rate;
    return out.dump(2) + "\n";
}

std::string to_csv(const StressReport& report) {
    std::string out =
        "window,start,end,basis,mode,position,symbol,side,pool,liquidation_price,liquidated,day,date,price,gapped,"
        "pool_loss,mode_loss,mode_at_risk\n";
    for (const Replay& replay : report.replays) {
        for (const ReplayBasis basis : all_bases) {
            for (const MarginMode mode : all_modes) {
                const ModeOutcome& outcome = mode_of(replay, basis, mode);
                for (const PositionOutcome& p : outcome.positions) {
                    out += fmt::format(
                        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(replay.window.name),
                        format_date(replay.window.start), last_date(replay), to_string(basis), to_string(mode),
                        p.position, csv_field(p.symbol), to_string(p.side), to_string(p.pool),
                        p.liquidation_price ? fmt::format("{}", *p.liquidation_price) : std::string(),
                        p.liquidated ? "true" : "false", p.liquidated ? std::to_string(p.day) : std::string(),
                        p.liquidated && p.day > 0 ? date_of(replay, p.day) : std::string(), p.price,
                        p.gapped ? "true" : "false", p.pool_loss, outcome.loss, outcome.at_risk);
                }
            }
        }
    }
    return out;
}

void write_text(std::ostream& out, const StressReport& report) {
    fmt::print(out, "stress {} (policy {}, balance {}), prices from {}\n", report.scenario, to_string(report.policy),
               money(report.balance), report.history);
    for (const std::string& skipped : report.skipped) fmt::print(out, "not replayed: {}\n", skipped);
    fmt::print(out, "\n");
    if (report.replays.size() == 1) {
        write_replay(out, report, report.replays.front());
    } else {
        write_summary(out, report);
    }
    fmt::print(out,
               "\nOn the closes a pool is liquidated when a day closes beyond its liquidation point; at the extremes every "
               "asset stands at its worst price of the day at once. The true intraday outcome lies between the two.\n");
}

}  // namespace marginsim
