// The sweep's part of the HTML reports: its curves against the swept parameter, the
// crossover, the table of the points and the plain reading.

#include "marginsim/html_report.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "render/html_parts.hpp"
#include "render/svg_chart.hpp"
#include "render/sweep_names.hpp"

namespace marginsim {
namespace detail::html {
namespace {

using detail::Axis;
using detail::escape_html;
using detail::Margins;
using detail::SvgPlot;
using detail::mode_colors;

std::string parameter_axis_label(const SweepResult& sweep) {
    return detail::sweep_parameter_names(sweep.spec).axis_label;
}

std::string parameter_words(const SweepResult& sweep) {
    return detail::sweep_parameter_names(sweep.spec).words;
}

std::string value_text(const SweepResult& sweep, double value, std::string_view number = "{:g}") {
    return detail::sweep_value_text(sweep.spec, value, number);
}

std::pair<double, double> sweep_x_range(const SweepResult& sweep) {
    double lo = sweep.points.front().value;
    double hi = sweep.points.back().value;
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    return {lo, hi};
}

// Words on the axis for a parameter whose values are words (monitoring); else computed ticks.
std::vector<std::pair<double, std::string>> value_ticks(const SweepResult& sweep) {
    std::vector<std::pair<double, std::string>> ticks;
    if (sweep_value_word(sweep.spec.parameter, sweep.points.front().value).empty()) return ticks;
    for (const SweepPoint& point : sweep.points) ticks.emplace_back(point.value, value_text(sweep, point.value));
    return ticks;
}

struct Banded {
    double value;
    double lo;
    double hi;
};

template <class Value>
std::string sweep_chart(const SweepResult& sweep, const std::string& title, const std::string& y_label,
                        const std::function<std::string(double)>& y_format, bool with_band,
                        const std::vector<std::size_t>& modes, Value value) {
    const auto [x_lo, x_hi] = sweep_x_range(sweep);
    double top = 0.0;
    double bottom = 0.0;
    for (const SweepPoint& point : sweep.points) {
        for (const std::size_t m : modes) {
            const auto [v, lo, hi] = value(point, m);
            top = std::max({top, v, hi});
            bottom = std::min({bottom, v, lo});
        }
    }
    const auto [y_lo, y_hi] = detail::nice_range(bottom, std::max(top * 1.08, bottom + 1e-6), 6);
    Axis x{x_lo, x_hi, false, parameter_axis_label(sweep), {}, value_ticks(sweep)};
    Axis y{y_lo, y_hi, false, y_label, y_format, {}};
    SvgPlot plot(chart_width, 340.0, std::move(x), std::move(y), title, Margins{90.0, 24.0, 40.0, 56.0});
    std::vector<std::pair<std::string, std::string>> legend;
    for (const std::size_t m : modes) {
        std::vector<double> xs, los, his;
        std::vector<std::pair<double, double>> points;
        for (const SweepPoint& point : sweep.points) {
            const auto [v, lo, hi] = value(point, m);
            xs.push_back(point.value);
            los.push_back(lo);
            his.push_back(hi);
            points.emplace_back(point.value, v);
        }
        if (with_band) plot.band(xs, los, his, mode_colors[m]);
        plot.line(points, mode_colors[m], 2.2, false, mode_name(all_modes[m]));
        for (const auto& [px, py] : points) {
            plot.marker(px, py, mode_colors[m],
                        fmt::format("{} at {}: {}", mode_name(all_modes[m]), value_text(sweep, px), y_format(py)));
        }
        legend.emplace_back(mode_name(all_modes[m]), mode_colors[m]);
    }
    if (sweep.crossover)
        plot.vertical_line(sweep.crossover->value, "#444",
                           fmt::format("crossover {}", value_text(sweep, sweep.crossover->value, "{:.4g}")));
    plot.legend(legend);
    return panel_title(title) + plot.str();
}

}  // namespace

std::string sweep_section(const SweepResult& sweep) {
    std::string out = "<h2>Sweep: " + escape_html(parameter_axis_label(sweep)) + "</h2>\n";
    if (const std::string dead = detail::sweep_start_liquidation_sentence(sweep); !dead.empty())
        out += "<p class=\"partial\">" + escape_html(dead) + "</p>\n";
    out += reading_list(plain_reading(sweep));
    const std::vector<std::size_t> all{0, 1, 2};
    out += sweep_chart(sweep, "P(any liquidation) against the " + parameter_words(sweep) + " (band: 95% CI)",
                       "P(any liquidation)", percent_tick, true, all, [](const SweepPoint& p, std::size_t m) {
                           const Proportion& q = p.report.modes[m].summary.liquidation_probability;
                           return Banded{q.estimate, q.ci95.lo, q.ci95.hi};
                       });
    out += sweep_chart(sweep, "ES 99% against the " + parameter_words(sweep), "ES 99% (USDT)", money_tick,
                       false, all, [](const SweepPoint& p, std::size_t m) {
                           const double es = p.report.modes[m].summary.loss.es[es_99];
                           return Banded{es, es, es};
                       });
    out += sweep_chart(sweep, "Contagion probability against the " + parameter_words(sweep) + " (band: 95% CI)",
                       "P(contagion from isolated)", percent_tick, true, std::vector<std::size_t>{1, 2},
                       [](const SweepPoint& p, std::size_t m) {
                           const Proportion& q = p.contagion[m];
                           return Banded{q.estimate, q.ci95.lo, q.ci95.hi};
                       });
    out += "<table>\n<tr><th>" + escape_html(parameter_words(sweep)) + "</th>";
    for (const MarginMode mode : all_modes) out += "<th>" + escape_html(mode_name(mode)) + ": P(any liquidation)</th>";
    for (const MarginMode mode : all_modes) out += "<th>" + escape_html(mode_name(mode)) + ": ES 99%</th>";
    out += "<th>contagion (cross)</th></tr>\n";
    for (const SweepPoint& point : sweep.points) {
        out += fmt::format("<tr>{}", td(value_text(sweep, point.value)));
        for (const ModeReport& m : point.report.modes) out += td(pct(m.summary.liquidation_probability.estimate));
        for (const ModeReport& m : point.report.modes) out += td(usdt(m.summary.loss.es[es_99]));
        out += td(pct(point.contagion[mode_index(MarginMode::cross)].estimate)) + "</tr>\n";
    }
    out += "</table>\n";
    out += fmt::format(
        "<p class=\"note\">Every point runs the same {} paths (seed {}): the random numbers of each "
        "path are the same at every value of the sweep (common random numbers), so the curves are "
        "smooth and the differences between points are not the noise of independent runs. The "
        "crossover is found by bisection on the same paths.</p>\n",
        detail::grouped(static_cast<double>(sweep.paths)), sweep.seed);
    return out;
}

}  // namespace detail::html

using namespace detail::html;

std::vector<std::string> plain_reading(const SweepResult& sweep) {
    std::vector<std::string> out;
    const SweepPoint& first = sweep.points.front();
    const SweepPoint& last = sweep.points.back();
    const std::string words = parameter_words(sweep);
    if (sweep.points.size() > 1) {
        for (const MarginMode mode : {MarginMode::isolated, MarginMode::cross}) {
            const auto p = [mode](const SweepPoint& point) {
                return point.report.modes[mode_index(mode)].summary.liquidation_probability.estimate;
            };
            const auto es = [mode](const SweepPoint& point) {
                return point.report.modes[mode_index(mode)].summary.loss.es[es_99];
            };
            out.push_back(fmt::format("From {} {} to {}, P(any liquidation) in {} margin goes from {} to {}, "
                                      "and its ES 99% from {} to {}.",
                                      words, value_text(sweep, first.value), value_text(sweep, last.value), mode_name(mode), pct(p(first)), pct(p(last)),
                                      usdt(es(first)), usdt(es(last))));
        }
    }
    switch (sweep.crossover_outcome) {
        case CrossoverOutcome::found:
            out.push_back(fmt::format("Crossover: cross margin's ES 99% exceeds isolated's {} a {} of {} "
                                      "(between {} and {}, found by bisection on the same paths){}.",
                                      sweep.crossover->cross_exceeds_above ? "above" : "below", words,
                                      value_text(sweep, sweep.crossover->value, "{:.4g}"),
                                      value_text(sweep, sweep.crossover->lo, "{:.4g}"),
                                      value_text(sweep, sweep.crossover->hi, "{:.4g}"),
                                      sweep.crossover->grid_sign_changes > 1
                                          ? "; the curves cross again later in the range"
                                          : ""));
            break;
        case CrossoverOutcome::cross_above_throughout:
            out.push_back(fmt::format("No crossover: cross margin's ES 99% is above isolated's at every {} from "
                                      "{} to {}: its 1% worst outcomes lose more.",
                                      words, value_text(sweep, first.value), value_text(sweep, last.value)));
            break;
        case CrossoverOutcome::cross_never_above:
            out.push_back(fmt::format("No crossover: cross margin's ES 99% stays at or below isolated's at every "
                                      "{} from {} to {}.",
                                      words, value_text(sweep, first.value), value_text(sweep, last.value)));
            break;
    }
    return out;
}

std::string to_html(const SweepResult& sweep) {
    const SimulationInfo& info = sweep.points.front().report.simulation;
    std::string body = fmt::format(
        "<h1>Sweep of {}: {}</h1>\n<p class=\"meta\">{} &middot; {} values, {} paths each, seed {}, {} steps "
        "per day, {} monitoring</p>\n",
        escape_html(parameter_words(sweep)), escape_html(scenario_name(sweep.scenario)),
        escape_html(sweep.scenario), sweep.points.size(), detail::grouped(static_cast<double>(sweep.paths)),
        sweep.seed, info.steps_per_day, to_string(info.monitoring));
    if (info.importance)
        body += "<p class=\"meta\">" + escape_html(detail::sweep_importance_sentence(sweep)) + "</p>\n";
    body += sweep_section(sweep);
    return detail::html_page("marginsim sweep: " + scenario_name(sweep.scenario), body);
}

}  // namespace marginsim
