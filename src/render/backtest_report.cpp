// The backtest's report: JSON (schema marginsim.backtest/1), CSV (one row per window and
// model) and text (the score table per realised flag).

#include "marginsim/backtest_report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace marginsim {

namespace {

using nlohmann::ordered_json;

ordered_json number(double value) { return std::isfinite(value) ? ordered_json(value) : ordered_json(); }

ordered_json test_json(const LikelihoodRatioTest& test) {
    return {{"statistic", number(test.statistic)}, {"p_value", number(test.p_value)}};
}

ordered_json scores_json(const ForecastScores& s) {
    ordered_json reliability = ordered_json::array();
    for (const ReliabilityBin& bin : s.reliability) {
        reliability.push_back({{"low", bin.low},
                               {"high", bin.high},
                               {"windows", bin.windows},
                               {"mean_predicted", bin.mean_predicted},
                               {"realised_rate", bin.realised_rate}});
    }
    ordered_json kupiec = test_json(s.kupiec);
    kupiec["events"] = s.kupiec.events;
    kupiec["expected_events"] = s.kupiec.expected_events;
    ordered_json christoffersen = test_json(s.christoffersen);
    christoffersen["transitions"] = {{s.christoffersen.transitions[0][0], s.christoffersen.transitions[0][1]},
                                     {s.christoffersen.transitions[1][0], s.christoffersen.transitions[1][1]}};
    return {{"windows", s.windows},
            {"mean_predicted", number(s.mean_predicted)},
            {"realised_rate", number(s.realised_rate)},
            {"brier", number(s.brier)},
            {"brier_reference", number(s.brier_reference)},
            {"brier_skill", number(s.brier_skill)},
            {"kupiec", kupiec},
            {"christoffersen", christoffersen},
            {"auc", number(s.auc)},
            {"reliability", reliability}};
}

ordered_json flags_json(const RealisedFlags& flags) {
    ordered_json out;
    for (const RealisedFlag flag : all_realised_flags) out[std::string(to_string(flag))] = flag_of(flags, flag);
    return out;
}

std::string percent(double p) { return std::isfinite(p) ? fmt::format("{:.1f}%", 100.0 * p) : "n/a"; }
std::string fixed(double x, int decimals) { return std::isfinite(x) ? fmt::format("{:.{}f}", x, decimals) : "n/a"; }

// The catalogue crashes inside window `index`'s horizon, ';'-separated (no comma: a CSV field).
std::string crash_names(const BacktestResult& r, std::size_t index) {
    std::string out;
    for (const CrashWindows& crash : r.crash_windows) {
        if (std::find(crash.windows.begin(), crash.windows.end(), index) == crash.windows.end()) continue;
        if (!out.empty()) out += ';';
        out += crash.name;
    }
    return out;
}

std::string crash_windows_text(const BacktestResult& r) {
    if (r.crash_windows.empty()) return {};
    std::string out = "\nnamed crash windows (the catalogue's crash days inside a window's horizon)\n";
    for (const CrashWindows& crash : r.crash_windows) {
        for (const std::size_t index : crash.windows) {
            const BacktestWindow& w = r.windows[index];
            const std::vector<std::string_view> fired = fired_flags(w.realised);
            out += fmt::format("  {} ({}): window {}, realised: {}\n", crash.name, format_date(crash.date),
                               format_date(w.start), fired.empty() ? "none" : fmt::format("{}", fmt::join(fired, ", ")));
            for (std::size_t m = 0; m < r.options.models.size(); ++m) {
                if (!w.predicted[m]) {
                    out += fmt::format("    {:<10} not run\n", to_string(r.options.models[m]));
                    continue;
                }
                const auto& p = *w.predicted[m];
                out += fmt::format("    {:<10} isolated {:>6}  cross {:>6}  as_configured {:>6}\n",
                                   to_string(r.options.models[m]), percent(p[mode_index(MarginMode::isolated)]), percent(p[mode_index(MarginMode::cross)]),
                                   percent(p[mode_index(MarginMode::as_configured)]));
            }
        }
    }
    return out;
}

}  // namespace

std::string to_json(const BacktestResult& r) {
    ordered_json out;
    out["schema"] = "marginsim.backtest/1";
    out["scenario"] = r.scenario;
    std::vector<std::string> models;
    for (const BacktestModel m : r.options.models) models.emplace_back(to_string(m));
    out["options"] = {{"from", format_date(r.options.from)},
                      {"to", format_date(r.options.to)},
                      {"every_days", r.options.every_days},
                      {"window_days", r.options.window_days},
                      {"paths", r.options.paths},
                      {"models", models},
                      {"parameter_uncertainty", r.options.parameter_uncertainty},
                      {"horizon_days", r.horizon_days}};
    ordered_json windows = ordered_json::array();
    for (const BacktestWindow& w : r.windows) {
        ordered_json predicted = ordered_json::object();
        for (std::size_t m = 0; m < models.size(); ++m) {
            if (!w.predicted[m]) {
                predicted[models[m]] = nullptr;
                continue;
            }
            ordered_json p;
            for (std::size_t mode = 0; mode < mode_count; ++mode) {
                p[std::string(to_string(all_modes[mode]))] = (*w.predicted[m])[mode];
            }
            predicted[models[m]] = p;
        }
        windows.push_back({{"start", format_date(w.start)}, {"realised", flags_json(w.realised)}, {"predicted", predicted}});
    }
    out["windows"] = windows;
    ordered_json skipped = ordered_json::array();
    for (const Date d : r.skipped) skipped.push_back(format_date(d));
    out["skipped"] = skipped;
    ordered_json scores = ordered_json::object();
    for (std::size_t m = 0; m < models.size(); ++m) {
        ordered_json per_flag;
        for (std::size_t f = 0; f < all_realised_flags.size(); ++f) {
            per_flag[std::string(to_string(all_realised_flags[f]))] = scores_json(r.scores[m][f]);
        }
        scores[models[m]] = per_flag;
    }
    out["scores"] = scores;
    ordered_json crashes = ordered_json::array();
    for (const CrashWindows& crash : r.crash_windows) {
        ordered_json covering = ordered_json::array();
        for (const std::size_t w : crash.windows) covering.push_back(windows[w]);
        crashes.push_back({{"name", crash.name}, {"date", format_date(crash.date)}, {"windows", covering}});
    }
    out["crash_windows"] = crashes;
    out["notes"] = r.notes;
    return out.dump(2) + '\n';
}

std::string to_csv(const BacktestResult& r) {
    std::string out =
        "start,model,isolated,cross,as_configured,isolated_any_low,isolated_any_close,cross_low,cross_close,crash_windows\n";
    for (std::size_t index = 0; index < r.windows.size(); ++index) {
        const BacktestWindow& w = r.windows[index];
        const std::string crashes = crash_names(r, index);
        for (std::size_t m = 0; m < r.options.models.size(); ++m) {
            out += fmt::format("{},{}", format_date(w.start), to_string(r.options.models[m]));
            for (std::size_t mode = 0; mode < mode_count; ++mode) {
                out += w.predicted[m] ? fmt::format(",{}", (*w.predicted[m])[mode]) : std::string(",");
            }
            for (const RealisedFlag flag : all_realised_flags) out += flag_of(w.realised, flag) ? ",1" : ",0";
            out += "," + crashes + '\n';
        }
    }
    return out;
}

std::string backtest_text(const BacktestResult& r) {
    std::string out = fmt::format(
        "backtest of {}: {} windows from {} to {} every {} days ({} skipped), horizon {} days, {} paths; "
        "each model calibrated on the {} days up to its start date{}\n",
        r.scenario, r.windows.size(), format_date(r.options.from), format_date(r.options.to), r.options.every_days,
        r.skipped.size(), r.horizon_days, r.options.paths, r.options.window_days,
        r.options.parameter_uncertainty ? ", its volatilities drawn per path as estimated (--uncertainty)" : "");
    for (std::size_t f = 0; f < all_realised_flags.size(); ++f) {
        const RealisedFlag flag = all_realised_flags[f];
        out += fmt::format("\n{} (predicted by the {} mode)\n  {:<10} {:>9} {:>9} {:>8} {:>8} {:>10} {:>10} {:>6}\n",
                           to_string(flag), to_string(predicting_mode(flag)), "model", "predicted", "realised",
                           "Brier", "skill", "Kupiec p", "Christ. p", "AUC");
        for (std::size_t m = 0; m < r.options.models.size(); ++m) {
            const ForecastScores& s = r.scores[m][f];
            out += fmt::format("  {:<10} {:>9} {:>9} {:>8} {:>8} {:>10} {:>10} {:>6}\n", to_string(r.options.models[m]),
                               percent(s.mean_predicted), percent(s.realised_rate), fixed(s.brier, 4),
                               fixed(s.brier_skill, 3), fixed(s.kupiec.p_value, 3), fixed(s.christoffersen.p_value, 3),
                               fixed(s.auc, 3));
        }
    }
    out += crash_windows_text(r);
    for (const std::string& note : r.notes) out += "note: " + note + '\n';
    return out;
}

}  // namespace marginsim
