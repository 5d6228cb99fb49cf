// The backtest's HTML page (docs/backtest.md#report): the run's header, the scores table, a
// reliability diagram per realised flag and the predicted P(liquidation) per mode over time
// with the windows whose realised flags fired marked. Self-contained: inline SVG, no scripts.

#include "marginsim/backtest_report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "render/html_parts.hpp"
#include "render/svg_chart.hpp"

namespace marginsim {

namespace {

using detail::Axis;
using detail::escape_html;
using detail::Margins;
using detail::SvgPlot;
using namespace detail::html;

// One colour per model (Okabe-Ito, continued past the modes' three).
constexpr std::array<const char*, 5> model_colors{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"};
constexpr const char* realised_color = "#C0392B";

const char* model_color(std::size_t m) { return model_colors[m % model_colors.size()]; }

std::string model_name(const BacktestResult& r, std::size_t m) { return std::string(to_string(r.options.models[m])); }

std::string fixed(double x, int decimals) { return std::isfinite(x) ? fmt::format("{:.{}f}", x, decimals) : "n/a"; }
std::string percent(double p) { return std::isfinite(p) ? fmt::format("{:.2f}%", 100.0 * p) : "n/a"; }

double day_number(Date day) { return static_cast<double>(day.time_since_epoch().count()); }
std::string day_label(double x) { return format_date(Date(std::chrono::days(static_cast<int>(std::lround(x))))); }

// The realised flags compared with `mode` (predicting_mode's pairs): extreme first, then close.
std::vector<RealisedFlag> flags_of(MarginMode mode) {
    std::vector<RealisedFlag> out;
    for (const RealisedFlag flag : all_realised_flags) {
        if (predicting_mode(flag) == mode) out.push_back(flag);
    }
    return out;
}

std::string header(const BacktestResult& r) {
    std::vector<std::string> names;
    for (std::size_t m = 0; m < r.options.models.size(); ++m) names.push_back(model_name(r, m));
    const std::string models = fmt::format("{}", fmt::join(names, ", "));
    std::string out = fmt::format(
        "<h1>Backtest of {}</h1>\n<p class=\"meta\">{} &middot; start dates {} to {} every {} days &middot; "
        "each model calibrated on the {} days up to its start date{} &middot; horizon {} days &middot; {} paths "
        "per window and model &middot; models: {}</p>\n",
        escape_html(scenario_name(r.scenario)), escape_html(r.scenario), format_date(r.options.from),
        format_date(r.options.to), r.options.every_days, r.options.window_days,
        r.options.parameter_uncertainty ? ", its volatilities drawn per path as estimated" : "", r.horizon_days,
        detail::grouped(static_cast<double>(r.options.paths)), escape_html(models));
    out += fmt::format("<p class=\"meta\">{} windows backtested, {} skipped. History:", r.windows.size(), r.skipped.size());
    for (const std::string& file : r.history) out += fmt::format(" {}", escape_html(file));
    out += "</p>\n";
    if (!r.skipped.empty()) {
        out += "<h3>Skipped start dates</h3>\n<table>\n<tr><th>start</th><th>why</th></tr>\n";
        for (std::size_t k = 0; k < r.skipped.size(); ++k) {
            const std::string why = k < r.skip_reasons.size() ? r.skip_reasons[k] : std::string();
            out += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", format_date(r.skipped[k]), escape_html(why));
        }
        out += "</table>\n";
    }
    if (!r.notes.empty()) {
        out += "<h3>Notes</h3>\n<ul>\n";
        for (const std::string& note : r.notes) out += "<li>" + escape_html(note) + "</li>\n";
        out += "</ul>\n";
    }
    return out;
}

std::string scores_table(const BacktestResult& r) {
    std::string out =
        "<h2>Scores</h2>\n<table>\n<tr><th>realised flag</th><th>predicted by</th><th>model</th><th>windows</th>"
        "<th>mean predicted</th><th>realised</th><th>Brier</th><th>skill</th><th>Kupiec p</th>"
        "<th>Christ. p</th><th>AUC</th></tr>\n";
    for (std::size_t f = 0; f < all_realised_flags.size(); ++f) {
        const RealisedFlag flag = all_realised_flags[f];
        for (std::size_t m = 0; m < r.options.models.size(); ++m) {
            const ForecastScores& s = r.scores[m][f];
            out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>{}{}{}{}{}{}{}{}</tr>\n", to_string(flag),
                               escape_html(mode_name(predicting_mode(flag))), escape_html(model_name(r, m)),
                               td(std::to_string(s.windows)), td(percent(s.mean_predicted)),
                               td(percent(s.realised_rate)), td(fixed(s.brier, 4)), td(fixed(s.brier_skill, 3)),
                               td(fixed(s.kupiec.p_value, 3)), td(fixed(s.christoffersen.p_value, 3)),
                               td(fixed(s.auc, 3)));
        }
    }
    out += "</table>\n<p class=\"note\">Mean predicted: the mean P(liquidation) of the mode that predicts the flag "
           "(isolated for the isolated_* flags, cross for the cross_* flags). Brier skill &gt; 0: better than always "
           "saying the realised rate. Kupiec p: the realised count against the predictions' mean; Christoffersen p: "
           "independence of the realised sequence (small p: reject; the statistics are in the JSON). AUC 0.5: no discrimination.</p>\n";
    return out;
}

// Predicted-probability bins on x, realised frequency on y, one series per model; each dot's
// area grows with its bin's window count, also given in the table under the chart.
std::string reliability_diagram(const BacktestResult& r, std::size_t f) {
    const RealisedFlag flag = all_realised_flags[f];
    const std::string title = fmt::format("Reliability: {} against the {} mode's P(liquidation)", to_string(flag),
                                          mode_name(predicting_mode(flag)));
    Axis x{0.0, 1.0, false, "predicted P(liquidation) (bin mean)", percent_tick, {}};
    Axis y{0.0, 1.0, false, "realised frequency", percent_tick, {}};
    SvgPlot plot(520.0, 400.0, std::move(x), std::move(y), title, Margins{80.0, 24.0, 40.0, 56.0});
    plot.line({{0.0, 0.0}, {1.0, 1.0}}, "#888", 1.2, true, "perfect reliability");
    std::vector<std::pair<std::string, std::string>> legend;
    std::size_t most = 1;
    for (std::size_t m = 0; m < r.options.models.size(); ++m) {
        for (const ReliabilityBin& bin : r.scores[m][f].reliability) most = std::max(most, bin.windows);
    }
    for (std::size_t m = 0; m < r.options.models.size(); ++m) {
        std::vector<std::pair<double, double>> points;
        for (const ReliabilityBin& bin : r.scores[m][f].reliability) points.emplace_back(bin.mean_predicted, bin.realised_rate);
        plot.line(points, model_color(m), 1.6, false, model_name(r, m));
        for (const ReliabilityBin& bin : r.scores[m][f].reliability) {
            const double radius = 2.5 + 6.5 * std::sqrt(static_cast<double>(bin.windows) / static_cast<double>(most));
            plot.marker(bin.mean_predicted, bin.realised_rate, model_color(m),
                        fmt::format("{}, bin {}-{}: {} windows, mean predicted {}, realised {}", model_name(r, m),
                                    percent_tick(bin.low), percent_tick(bin.high), bin.windows,
                                    percent(bin.mean_predicted), percent(bin.realised_rate)),
                        radius);
        }
        legend.emplace_back(model_name(r, m), model_color(m));
    }
    plot.legend(legend);
    std::string out = panel_title(title) + plot.str();
    out += "<table>\n<tr><th>bin</th>";
    for (std::size_t m = 0; m < r.options.models.size(); ++m) out += "<th>" + escape_html(model_name(r, m)) + ": windows, predicted, realised</th>";
    out += "</tr>\n";
    const std::span<const double> edges = reliability_edges();
    for (std::size_t b = 0; b + 1 < edges.size(); ++b) {
        std::string row = fmt::format("<tr><td>{} - {}</td>", percent_tick(edges[b]), percent_tick(edges[b + 1]));
        bool any = false;
        for (std::size_t m = 0; m < r.options.models.size(); ++m) {
            const auto& bins = r.scores[m][f].reliability;
            const auto bin = std::find_if(bins.begin(), bins.end(), [&](const ReliabilityBin& candidate) { return candidate.low == edges[b]; });
            if (bin == bins.end()) {
                row += td("");
                continue;
            }
            any = true;
            row += td(fmt::format("{}: {} / {}", bin->windows, percent(bin->mean_predicted), percent(bin->realised_rate)));
        }
        if (any) out += row + "</tr>\n";
    }
    return out + "</table>\n";
}

// The windows whose paired flags fired, as bands over their horizon (darker: the close flag
// fired too, or the only paired flag); one band per such window.
void mark_realised(SvgPlot& plot, const BacktestResult& r, const std::vector<RealisedFlag>& flags) {
    for (const BacktestWindow& w : r.windows) {
        const std::vector<std::string_view> fired = fired_flags(w.realised, flags);
        if (fired.empty()) continue;
        const double x0 = day_number(w.start);
        const double opacity = fired.size() == flags.size() ? 0.35 : 0.15;
        plot.rect(x0, x0 + r.horizon_days, 0.0, 1.0, realised_color,
                  fmt::format("window {} (realised): {}", format_date(w.start), fmt::join(fired, ", ")), opacity);
    }
}

std::string time_series(const BacktestResult& r, MarginMode mode) {
    const std::size_t index = mode_index(mode);
    const std::vector<RealisedFlag> flags = flags_of(mode);
    const std::string title = fmt::format("P(liquidation) in {} margin by start date", mode_name(mode));
    double top = 0.0;
    for (const BacktestWindow& w : r.windows) {
        for (const auto& p : w.predicted) {
            if (p) top = std::max(top, (*p)[index]);
        }
    }
    double x_lo = day_number(r.windows.front().start);
    double x_hi = day_number(r.windows.back().start) + r.horizon_days;
    const double step = std::max(1.0, detail::nice_step(x_hi - x_lo, 6));
    std::vector<std::pair<double, std::string>> ticks;
    for (double t = std::ceil(x_lo / step) * step; t <= x_hi; t += step) ticks.emplace_back(t, day_label(t));
    Axis x{x_lo, x_hi, false, "window start date", day_label, ticks};
    const auto [y_lo, y_hi] = detail::nice_range(0.0, std::max(top * 1.08, 1e-4), 6);
    Axis y{y_lo, std::min(1.0, y_hi), false, "predicted P(liquidation)", percent_tick, {}};
    SvgPlot plot(chart_width, 340.0, std::move(x), std::move(y), title, Margins{80.0, 24.0, 40.0, 56.0});
    mark_realised(plot, r, flags);
    std::vector<std::pair<std::string, std::string>> legend;
    for (std::size_t m = 0; m < r.options.models.size(); ++m) {
        // A window the model did not run breaks its line.
        std::vector<std::pair<double, double>> run;
        const auto flush = [&] {
            if (run.size() == 1) plot.marker(run.front().first, run.front().second, model_color(m));
            if (run.size() > 1) plot.line(run, model_color(m), 1.6, false, model_name(r, m));
            run.clear();
        };
        for (const BacktestWindow& w : r.windows) {
            if (!w.predicted[m]) {
                flush();
                continue;
            }
            run.emplace_back(day_number(w.start), (*w.predicted[m])[index]);
        }
        flush();
        legend.emplace_back(model_name(r, m), model_color(m));
    }
    if (!flags.empty()) legend.emplace_back("realised", realised_color);
    plot.legend(legend);
    std::string note;
    if (flags.empty()) {
        note = "No realised flag is compared with the as-configured mode (the flags are those of the all-isolated "
               "and all-cross books); its predictions are shown for reference, without marks.";
    } else {
        std::vector<std::string> names;
        for (const RealisedFlag flag : flags) names.emplace_back(to_string(flag));
        note = fmt::format("Compared with the realised {}: a shaded band spans the horizon of each window where {} "
                           "fired (darker: {}).",
                           fmt::join(names, " and "), names.size() > 1 ? "either" : "it",
                           names.size() > 1 ? "both fired" : "fired");
    }
    return panel_title(title) + plot.str() + "<p class=\"note\">" + escape_html(note) + "</p>\n";
}

std::string crash_table(const BacktestResult& r) {
    std::string out = "<h2>Named crash windows</h2>\n";
    if (r.crash_windows.empty()) {
        return out + "<p class=\"note\">No crash day of the stress catalogue (marginsim stress --list) falls inside "
                     "a backtested window's horizon.</p>\n";
    }
    out += "<table>\n<tr><th>crash</th><th>day</th><th>window start</th><th>realised</th>";
    for (std::size_t m = 0; m < r.options.models.size(); ++m) {
        for (const MarginMode mode : all_modes) {
            out += fmt::format("<th>{}: {}</th>", escape_html(model_name(r, m)), escape_html(mode_name(mode)));
        }
    }
    out += "</tr>\n";
    for (const CrashWindows& crash : r.crash_windows) {
        for (const std::size_t index : crash.windows) {
            const BacktestWindow& w = r.windows[index];
            const std::vector<std::string_view> fired = fired_flags(w.realised);
            out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", escape_html(crash.name),
                               format_date(crash.date), format_date(w.start),
                               fired.empty() ? std::string("none") : fmt::format("{}", fmt::join(fired, ", ")));
            for (std::size_t m = 0; m < r.options.models.size(); ++m) {
                for (std::size_t mode = 0; mode < mode_count; ++mode) {
                    out += td(w.predicted[m] ? percent((*w.predicted[m])[mode]) : std::string("not run"));
                }
            }
            out += "</tr>\n";
        }
    }
    return out + "</table>\n<p class=\"note\">The crash days of the stress catalogue (marginsim stress --list: each "
                 "window's first day) inside the horizon of a backtested window (after its start date, up to "
                 "horizon_days later): what each model predicted for the book opened just before, and what "
                 "happened.</p>\n";
}

}  // namespace

std::string to_html(const BacktestResult& r) {
    std::string body = header(r) + scores_table(r);
    body += "<h2>Reliability</h2>\n<p class=\"note\">Windows binned by their predicted probability; a dot per bin "
            "at its mean prediction and realised frequency, its size growing with the bin's window count (also "
            "in the table). On the dashed diagonal, the predictions are as frequent as the events.</p>\n";
    for (std::size_t f = 0; f < all_realised_flags.size(); ++f) body += reliability_diagram(r, f);
    body += "<h2>Predictions over time</h2>\n";
    for (const MarginMode mode : all_modes) body += time_series(r, mode);
    body += crash_table(r);
    return detail::html_page("marginsim backtest: " + scenario_name(r.scenario), body);
}

}  // namespace marginsim
