#include "marginsim/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "render/svg_chart.hpp"
#include "render/html_parts.hpp"

namespace marginsim {

namespace detail::html {

std::string mode_name(MarginMode mode) {
    return mode == MarginMode::as_configured ? std::string("as configured")
                                             : std::string(to_string(mode));
}

std::string usdt(double value) {
    return detail::grouped(value, std::abs(value) >= 100.0 ? 0 : 2) + " USDT";
}

std::string pct(double probability) {
    return detail::percent_text(probability, probability < 0.01 ? 2 : 1);
}

std::string percent_tick(double value) { return fmt::format("{:g}%", 100.0 * value); }
std::string money_tick(double value) { return detail::grouped(value, std::abs(value) < 10.0 && value != 0.0 ? 1 : 0); }

std::string scenario_name(const std::string& source) {
    const std::string stem = std::filesystem::path(source).stem().string();
    return stem.empty() ? source : stem;
}

std::string panel_title(std::string_view text) {
    return fmt::format("<h3>{}</h3>\n", escape_html(text));
}

std::string td(const std::string& text) { return "<td class=\"num\">" + escape_html(text) + "</td>"; }

std::string reading_list(const std::vector<std::string>& sentences) {
    std::string out = "<ul class=\"reading\">\n";
    for (const std::string& sentence : sentences) out += "<li>" + escape_html(sentence) + "</li>\n";
    return out + "</ul>\n";
}

}  // namespace detail::html

namespace {

using namespace detail::html;  // the words, numbers and pieces the pages share

using detail::Axis;
using detail::escape_html;
using detail::Margins;
using detail::SvgPlot;
using detail::mode_colors;

constexpr int histogram_bins = 90;  // at most about
constexpr int tail_grid_points = 400;

// ---------------------------------------------------------------- words and numbers

std::string days_text(double days) { return fmt::format("{:.3g}", days); }

const ModeReport& mode_of(const Report& report, MarginMode mode) {
    return report.modes[mode_index(mode)];
}

// "the whole 10,000 USDT" when the tail loses (nearly) all the collateral, else the amount.
std::string tail_amount(const ModeReport& mode) {
    const double es = mode.summary.loss.es[es_99];
    if (mode.collateral_at_risk > 0.0 && es >= 0.995 * mode.collateral_at_risk)
        return "the whole " + usdt(mode.collateral_at_risk);
    return usdt(es);
}

std::string position_label(const PositionReport& p) {
    return fmt::format("{} {} {} ({})", p.symbol, to_string(p.side), usdt(p.notional),
                       to_string(p.position_mode));
}

bool mixed_configuration(const Report& report) {
    const auto& positions = mode_of(report, MarginMode::isolated).positions;
    const auto cross = std::count_if(positions.begin(), positions.end(), [](const PositionReport& p) {
        return p.position_mode == MarginMode::cross;
    });
    return cross > 0 && static_cast<std::size_t>(cross) < positions.size();
}

// ---------------------------------------------------------------- charts of a run

std::string legend_html() {
    std::string out = "<p class=\"note\">";
    for (const MarginMode mode : all_modes) {
        out += fmt::format("<span class=\"swatch\" style=\"background:{}\"></span>{} &nbsp; ",
                           mode_colors[mode_index(mode)], escape_html(mode_name(mode)));
    }
    return out + "</p>\n";
}

std::vector<std::pair<std::string, std::string>> mode_legend() {
    std::vector<std::pair<std::string, std::string>> entries;
    for (const MarginMode mode : all_modes) entries.emplace_back(mode_name(mode), mode_colors[mode_index(mode)]);
    return entries;
}

// The paths [first, last) of sorted_loss, each counted by its weight in importance-sampled runs
// (ModeDetail::sorted_weight).
double count_of(const ModeDetail& mode, std::ptrdiff_t first, std::ptrdiff_t last) {
    if (last <= first) return 0.0;
    if (mode.sorted_weight.empty()) return static_cast<double>(last - first);
    double weight = 0.0;
    for (auto k = first; k < last; ++k) weight += mode.sorted_weight[static_cast<std::size_t>(k)];
    return weight;
}

// Paths with a loss in (lo, hi]: a loss equal to a collateral amount falls in the bin that
// ends there, left of the collateral line.
double count_in(const ModeDetail& mode, double lo, double hi) {
    const std::vector<float>& sorted = mode.sorted_loss;
    const auto first = std::upper_bound(sorted.begin(), sorted.end(), lo);
    const auto last = std::upper_bound(sorted.begin(), sorted.end(), hi);
    return count_of(mode, first - sorted.begin(), last - sorted.begin());
}

// Paths with a loss of at least `at`.
double count_from(const ModeDetail& mode, double at) {
    const std::vector<float>& sorted = mode.sorted_loss;
    const auto first = std::lower_bound(sorted.begin(), sorted.end(), at);
    return count_of(mode, first - sorted.begin(), sorted.end() - sorted.begin());
}

// The paths the statistics are over: the overflowed ones are left out (report.hpp).
std::uint64_t kept_paths(const Report& report) {
    return report.simulation.paths - report.simulation.overflowed_paths;
}

std::string loss_histograms(const DetailedRun& run) {
    const double paths = static_cast<double>(kept_paths(run.report));
    double lo = 0.0;
    double hi = 0.0;
    for (const ModeDetail& mode : run.modes) {
        lo = std::min(lo, static_cast<double>(mode.sorted_loss.front()));
        hi = std::max(hi, static_cast<double>(mode.sorted_loss.back()));
    }
    // Bins of a round width whose edges are multiples of it, so that round collateral
    // amounts are edges.
    const double width = detail::nice_step(std::max(hi - lo, 1.0), histogram_bins);
    double first_edge = std::floor(lo / width) * width;
    if (first_edge >= lo) first_edge -= width;
    const auto bins = static_cast<int>(std::ceil((hi - first_edge) / width - 1e-9));
    const double last_edge = first_edge + bins * width;
    std::array<std::vector<double>, mode_count> share;
    double top = 0.0;
    for (std::size_t m = 0; m < mode_count; ++m) {
        for (int b = 0; b < bins; ++b) {
            const double from = first_edge + b * width;
            share[m].push_back(count_in(run.modes[m], from, from + width) / paths);
            top = std::max(top, share[m].back());
        }
    }
    const auto [axis_lo, axis_hi] = detail::nice_range(first_edge, last_edge, 10);
    const double y_hi = detail::nice_range(0.0, std::max(top * 1.3, 0.01), 5).second;
    std::string out = panel_title("Loss distribution per mode (share of paths per bin of " + usdt(width) + ")");
    for (std::size_t m = 0; m < mode_count; ++m) {
        const ModeReport& mode = run.report.modes[m];
        const bool last_panel = m + 1 == mode_count;
        Axis x{axis_lo, axis_hi, false, last_panel ? "loss over the horizon (USDT; negative = gain)" : "",
               money_tick, {}};
        Axis y{0.0, y_hi, false, "share of paths", percent_tick, {}};
        SvgPlot plot(chart_width, last_panel ? 190.0 : 160.0, std::move(x), std::move(y),
                     "Loss histogram, " + mode_name(mode.mode),
                     Margins{80.0, 24.0, 24.0, last_panel ? 56.0 : 26.0});
        std::size_t tallest = 0;
        for (int b = 0; b < bins; ++b) {
            const double from = first_edge + b * width;
            const double s = share[m][static_cast<std::size_t>(b)];
            if (s > share[m][tallest]) tallest = static_cast<std::size_t>(b);
            if (s <= 0.0) continue;
            plot.rect(from, from + width, 0.0, s, mode_colors[m],
                      fmt::format("{}: loss above {} up to {} USDT: {} of paths", mode_name(mode.mode),
                                  detail::grouped(from), detail::grouped(from + width), pct(s)),
                      0.85);
        }
        const double tallest_share = share[m][tallest];
        const double tallest_center = first_edge + (static_cast<double>(tallest) + 0.5) * width;
        const bool right_half = tallest_center > 0.5 * (axis_lo + axis_hi);
        plot.text(tallest_center, tallest_share, fmt::format("{} of paths", pct(tallest_share)),
                  right_half ? "end" : "start", right_half ? -6.0 : 6.0, -4.0);
        plot.text(axis_lo, y_hi, mode_name(mode.mode), "start", 8.0, 16.0, "panel");
        if (mode.collateral_at_risk > axis_lo && mode.collateral_at_risk <= axis_hi) {
            plot.vertical_line(mode.collateral_at_risk, "#444",
                               "collateral at risk " + usdt(mode.collateral_at_risk));
        }
        out += plot.str();
    }
    return out;
}

std::string tail_chart(const DetailedRun& run) {
    const double paths = static_cast<double>(kept_paths(run.report));
    double hi = 1.0;
    for (const ModeDetail& mode : run.modes) hi = std::max(hi, static_cast<double>(mode.sorted_loss.back()));
    const double x_hi = detail::nice_range(0.0, hi, 10).second;
    // Down to the smallest probability the curves reach (at least one path in `paths`).
    double smallest = 1.0;
    for (const ModeDetail& mode : run.modes) {
        const std::vector<float>& sorted = mode.sorted_loss;
        if (sorted.back() < 0.0f) continue;
        const double mass = count_from(mode, static_cast<double>(sorted.back())) / paths;
        if (mass > 0.0) smallest = std::min(smallest, mass);
    }
    const double y_lo = std::pow(10.0, std::floor(std::log10(smallest) - 1e-9));
    Axis x{0.0, x_hi, false, "loss x (USDT)", money_tick, {}};
    Axis y{y_lo, 1.0, true, "P(loss >= x), log scale", [](double v) { return fmt::format("{:g}%", 100.0 * v); }, {}};
    SvgPlot plot(chart_width, 380.0, std::move(x), std::move(y), "Tail of the loss distribution",
                 Margins{80.0, 24.0, 40.0, 56.0});
    plot.line({{0.0, 0.01}, {x_hi, 0.01}}, "#777", 1.0, true);
    plot.text(x_hi, 0.01, "1% of paths", "end", -4.0, -5.0, "note");
    for (std::size_t m = 0; m < mode_count; ++m) {
        const std::vector<float>& sorted = run.modes[m].sorted_loss;
        const double worst = sorted.back();
        std::vector<std::pair<double, double>> points;
        for (int k = 0; k <= tail_grid_points; ++k) {
            const double at = x_hi * k / tail_grid_points;
            if (at > worst) break;
            const double mass = count_from(run.modes[m], at) / paths;
            if (mass > 0.0) points.emplace_back(at, mass);  // a log axis: weights of 0 (underflowed) are left out
        }
        if (worst >= 0.0) {
            const double mass = count_from(run.modes[m], static_cast<float>(worst)) / paths;
            points.emplace_back(worst, mass);
            plot.marker(worst, mass, mode_colors[m],
                        fmt::format("{}: worst loss {}, on {} of paths", mode_name(all_modes[m]),
                                    usdt(worst), pct(mass)));
        }
        plot.line(points, mode_colors[m], 2.2, false, mode_name(all_modes[m]));
    }
    plot.legend(mode_legend());
    return panel_title("Tail: probability of losing at least x (log scale)") + plot.str();
}

std::string time_chart(const DetailedRun& run) {
    const Report& report = run.report;
    const std::uint64_t paths = kept_paths(report);
    const int steps = report.simulation.steps;
    const double dt_days = 1.0 / report.simulation.steps_per_day;
    double top = 0.0;
    for (const ModeDetail& mode : run.modes)
        top = std::max(top, static_cast<double>(mode.liquidated_by_step.back()) / static_cast<double>(paths));
    const double y_hi = detail::nice_range(0.0, std::max(top * 1.1, 0.01), 5).second;
    Axis x{0.0, steps * dt_days, false, "time (days)", {}, {}};
    Axis y{0.0, y_hi, false, "P(liquidated by day t)", percent_tick, {}};
    SvgPlot plot(chart_width, 340.0, std::move(x), std::move(y), "Liquidation probability over time",
                 Margins{80.0, 24.0, 40.0, 56.0});
    const int stride = std::max(1, steps / 1200);
    for (std::size_t m = 0; m < mode_count; ++m) {
        const std::vector<double> p = liquidation_probability_by_step(run.modes[m], paths);
        std::vector<std::pair<double, double>> points;
        for (int k = 0; k <= steps; k += stride) points.emplace_back(k * dt_days, p[static_cast<std::size_t>(k)]);
        if (steps % stride != 0) points.emplace_back(steps * dt_days, p.back());
        plot.line(points, mode_colors[m], 2.2, false,
                  fmt::format("{}: {} by the horizon", mode_name(all_modes[m]), pct(p.back())));
        plot.text(steps * dt_days, p.back(), pct(p.back()), "end", -4.0, -6.0);
    }
    plot.legend(mode_legend());
    return panel_title("P(some position liquidated by day t)") + plot.str();
}

std::string position_chart(const Report& report) {
    const auto& positions = mode_of(report, MarginMode::isolated).positions;
    const std::size_t count = positions.size();
    double top = 0.0;
    for (const ModeReport& mode : report.modes)
        for (const PositionReport& p : mode.positions) top = std::max(top, p.liquidation_probability);
    const double x_hi = detail::nice_range(0.0, std::max(top * 1.15, 0.01), 5).second;
    std::vector<std::pair<double, std::string>> ticks;
    for (std::size_t j = 0; j < count; ++j)
        ticks.emplace_back(static_cast<double>(count - j) - 0.5, position_label(positions[j]));
    Axis x{0.0, x_hi, false, "P(position liquidated by the horizon)", percent_tick, {}};
    Axis y{0.0, static_cast<double>(count), false, "", {}, std::move(ticks)};
    const double height = 100.0 + 58.0 * static_cast<double>(count);
    SvgPlot plot(chart_width, height, std::move(x), std::move(y), "Liquidation probability per position",
                 Margins{280.0, 60.0, 40.0, 56.0});
    constexpr double bar = 0.26;
    for (std::size_t j = 0; j < count; ++j) {
        const double center = static_cast<double>(count - j) - 0.5;
        for (std::size_t m = 0; m < mode_count; ++m) {
            const double p = report.modes[m].positions[j].liquidation_probability;
            const double y0 = center + bar * (1.0 - static_cast<double>(m)) - bar / 2.0;
            plot.rect(0.0, p, y0, y0 + bar * 0.9, mode_colors[m],
                      fmt::format("{} in {}: {}", position_label(positions[j]), mode_name(all_modes[m]), pct(p)));
            plot.text(p, y0 + bar * 0.45, pct(p), "start", 4.0, 4.0);
        }
    }
    plot.legend(mode_legend());
    return panel_title("Liquidation probability per position and mode") + plot.str();
}

// ---------------------------------------------------------------- tables of a run

std::string mode_header(std::string_view first) {
    std::string out = fmt::format("<tr><th>{}</th>", escape_html(first));
    for (const MarginMode mode : all_modes) {
        out += fmt::format("<th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>",
                           mode_colors[mode_index(mode)], escape_html(mode_name(mode)));
    }
    return out + "</tr>\n";
}

template <class Cell>
std::string mode_row(std::string_view label, const DetailedRun& run, Cell cell) {
    std::string out = fmt::format("<tr><th>{}</th>", escape_html(label));
    for (std::size_t m = 0; m < mode_count; ++m) out += td(cell(run.report.modes[m], run.modes[m]));
    return out + "</tr>\n";
}

std::string mode_table(const DetailedRun& run) {
    std::string out = "<table>\n" + mode_header("");
    out += mode_row("P(any liquidation)", run, [](const ModeReport& m, const ModeDetail&) {
        return pct(m.summary.liquidation_probability.estimate);
    });
    out += mode_row("  95% confidence interval", run, [](const ModeReport& m, const ModeDetail&) {
        const Interval& ci = m.summary.liquidation_probability.ci95;
        return pct(ci.lo) + " to " + pct(ci.hi);
    });
    out += mode_row("Expected loss", run, [](const ModeReport& m, const ModeDetail&) { return usdt(m.summary.loss.mean); });
    out += mode_row("VaR 99% (loss exceeded on 1% of paths)", run,
                    [](const ModeReport& m, const ModeDetail&) { return usdt(m.summary.loss.var[es_99]); });
    out += mode_row("ES 99% (mean of the 1% worst)", run,
                    [](const ModeReport& m, const ModeDetail&) { return usdt(m.summary.loss.es[es_99]); });
    out += mode_row("Worst loss", run, [](const ModeReport& m, const ModeDetail&) { return usdt(m.summary.loss.max); });
    out += mode_row("Collateral at risk", run,
                    [](const ModeReport& m, const ModeDetail&) { return usdt(m.collateral_at_risk); });
    out += mode_row("First liquidation, median (days)", run, [](const ModeReport& m, const ModeDetail&) {
        const auto& time = m.summary.time_to_liquidation_days;
        return time ? days_text(time->median) : std::string("none");
    });
    out += mode_row("Drawdown p99", run, [](const ModeReport& m, const ModeDetail&) { return usdt(m.summary.drawdown.p99); });
    out += mode_row("Contagion from isolated", run,
                    [](const ModeReport&, const ModeDetail& d) { return pct(d.contagion.estimate); });
    return out + "</table>\n";
}

std::string position_table(const Report& report) {
    std::string out =
        "<table>\n<tr><th>Position</th><th>Margin</th><th>Notional</th><th>Entry price</th>";
    for (const MarginMode mode : all_modes) {
        out += fmt::format("<th>{0}: liquidation price</th><th>{0}: P(liquidation)</th>",
                           escape_html(mode_name(mode)));
    }
    out += "</tr>\n";
    const auto& positions = mode_of(report, MarginMode::isolated).positions;
    for (std::size_t j = 0; j < positions.size(); ++j) {
        const PositionReport& p = positions[j];
        out += fmt::format("<tr><th>{} {} ({})</th>", escape_html(p.symbol), to_string(p.side),
                           to_string(p.position_mode));
        out += td(usdt(p.margin)) + td(usdt(p.notional)) + td(fmt::format("{:.6g}", p.entry_price));
        for (const ModeReport& mode : report.modes) {
            const PositionReport& at = mode.positions[j];
            out += td(at.liquidation_price ? fmt::format("{:.6g}", *at.liquidation_price) : std::string("none"));
            out += td(pct(at.liquidation_probability) + (at.liquidated_at_start ? " (time 0)" : ""));
        }
        out += "</tr>\n";
    }
    return out + "</table>\n";
}

// A mode that starts liquidated answers (P = 1 at time 0): said above everything else.
std::string start_liquidation_note(const Report& report) {
    std::string modes;
    for (const ModeReport& mode : report.modes) {
        std::string symbols;
        for (const PositionReport& position : mode.positions)
            if (position.liquidated_at_start) symbols += (symbols.empty() ? "" : ", ") + position.symbol;
        if (!symbols.empty()) modes += fmt::format("{}{} ({})", modes.empty() ? "" : "; ", mode_name(mode.mode), symbols);
    }
    if (modes.empty()) return {};
    return "<p class=\"partial\"><strong>Starts liquidated:</strong> " + escape_html(modes) +
           ". These positions are at or below their maintenance margin at the start prices: they are liquidated "
           "at time 0 on every path (P(liquidation) = 1, the loss realised); every other position and mode is "
           "simulated as usual. See the warnings.</p>\n";
}

std::string run_header(const Report& report) {
    const SimulationInfo& info = report.simulation;
    std::string model(to_string(info.model));
    if (info.model == PriceModel::student_t) model += fmt::format(" (dof {:g})", info.dof);
    if (const std::string parameters = model_parameters(info); !parameters.empty())
        model += " (" + parameters + ")";
    std::string out = fmt::format(
        "<h1>Liquidation risk: {}</h1>\n<p class=\"meta\">{} &middot; {} paths &times; {} steps "
        "({:g} days at {} steps per day, {} monitoring), {} model, seed {} &middot; balance {}, "
        "liquidation policy {}</p>\n",
        escape_html(scenario_name(report.scenario)), escape_html(report.scenario),
        detail::grouped(static_cast<double>(info.paths)), info.steps, info.horizon_days,
        info.steps_per_day, to_string(info.monitoring), model, info.seed, usdt(report.balance), to_string(report.policy));
    if (info.importance) out += "<p class=\"meta\">" + escape_html(importance_sentence(info)) + "</p>\n";
    if (info.precision) out += "<p class=\"meta\">" + escape_html(precision_sentence(info)) + "</p>\n";
    out += start_liquidation_note(report);
    if (report.partial) {
        out += fmt::format("<p class=\"partial\"><strong>Partial report:</strong> the run was interrupted after {} "
                           "of {} paths. Every number and chart on this page covers those paths only; the same "
                           "command with <code>--resume</code> completes it.</p>\n",
                           detail::grouped(static_cast<double>(report.paths_done)),
                           detail::grouped(static_cast<double>(report.paths_requested)));
    }
    return out;
}

constexpr const char* method_note =
    "<p class=\"note\">Loss is the fall of account equity from the start over the horizon, in "
    "USDT (negative: a gain). VaR 99% is the loss exceeded on 1% of paths, ES 99% the mean loss "
    "of those 1% worst paths. All three modes run on the same simulated paths. P(liquidated by "
    "day t) counts the first liquidation of each path at every monitoring step of the same run. "
    "Contagion: a position that survives the horizon on its own margin (isolated) is "
    "liquidated in that mode.</p>\n";

// How the run looked for liquidations (docs/model.md#monitoring), in the reader's words.
std::string monitoring_note(const SimulationInfo& info) {
    if (info.monitoring == Monitoring::continuous) {
        return fmt::format(
            "<p class=\"note\">Continuous monitoring: a liquidation between two of the {} steps a day "
            "counts, as on an exchange that marks positions all the time (between steps each log price "
            "is a Brownian bridge); the steps only set the resolution of the times and drawdowns.</p>\n",
            info.steps_per_day);
    }
    return fmt::format(
        "<p class=\"note\">Discrete monitoring: positions are checked only at the {} steps a day, so a "
        "price that crosses a liquidation price and comes back between two steps is missed, and "
        "P(liquidation) is lower than on an exchange that marks positions all the time.</p>\n",
        info.steps_per_day);
}

// What the weights of an importance-sampled run mean for the numbers on the page.
std::string importance_note(const SimulationInfo& info) {
    if (!info.importance || info.importance->shift_sd == 0.0) return "";
    return fmt::format(
        "<p class=\"note\">Importance sampling: {:g}% of the paths were drawn around market-wide moves "
        "toward each mode's rare first liquidation (the selloffs of the header), so that rare liquidations are "
        "sampled often; every path "
        "carries its likelihood ratio (at most 2) and every probability, quantile and mean on this page is "
        "weighted by it, with intervals from the weighted sample's own variance. The {} effective paths are "
        "about as many plain paths as would give the same precision to the whole loss distribution.</p>\n",
        100.0 * info.importance->tilted_fraction, detail::grouped(info.importance->effective_paths));
}

}  // namespace

std::vector<std::string> plain_reading(const Report& report) {
    std::vector<std::string> out;
    const ModeReport& isolated = mode_of(report, MarginMode::isolated);
    const ModeReport& cross = mode_of(report, MarginMode::cross);
    const ModeReport& configured = mode_of(report, MarginMode::as_configured);
    const double p_isolated = isolated.summary.liquidation_probability.estimate;
    const double p_cross = cross.summary.liquidation_probability.estimate;
    const double es_isolated = isolated.summary.loss.es[es_99];
    const double es_cross = cross.summary.loss.es[es_99];
    const std::string horizon = fmt::format("{:g}-day", report.simulation.horizon_days);

    std::string first;
    if (p_cross < p_isolated) {
        first = fmt::format("Over the {} horizon, cross margin lowers the chance of any liquidation from {} "
                            "(every position isolated) to {}",
                            horizon, pct(p_isolated), pct(p_cross));
    } else if (p_cross > p_isolated) {
        first = fmt::format("Over the {} horizon, cross margin raises the chance of any liquidation from {} "
                            "(every position isolated) to {}",
                            horizon, pct(p_isolated), pct(p_cross));
    } else {
        first = fmt::format("Over the {} horizon, cross and isolated margin are liquidated equally often: {} "
                            "of paths",
                            horizon, pct(p_cross));
    }
    const bool lowers = p_cross < p_isolated;
    if (es_cross > es_isolated) {
        first += fmt::format("{} its 1% worst outcomes lose {} on average instead of {}.",
                             lowers ? ", but" : ", and", tail_amount(cross), tail_amount(isolated));
    } else if (es_cross < es_isolated) {
        first += fmt::format("{} its 1% worst outcomes lose less: {} on average instead of {}.",
                             lowers ? ", and" : ", but", tail_amount(cross), tail_amount(isolated));
    } else {
        first += fmt::format("; in the 1% worst outcomes both lose {} on average.", tail_amount(cross));
    }
    out.push_back(std::move(first));

    out.push_back(fmt::format("Expected loss over the horizon: {} isolated, {} cross, {} as configured "
                              "(a negative loss is a gain).",
                              usdt(isolated.summary.loss.mean), usdt(cross.summary.loss.mean),
                              usdt(configured.summary.loss.mean)));
    if (mixed_configuration(report)) {
        out.push_back(fmt::format("As configured (some positions cross, some isolated), some position is "
                                  "liquidated on {} of paths, and the 1% worst outcomes lose {} on average.",
                                  pct(configured.summary.liquidation_probability.estimate),
                                  tail_amount(configured)));
    }
    const double contagion = report.contagion_probability.estimate;
    if (contagion > 0.0) {
        out.push_back(fmt::format("On {} of paths a position that would have survived on its own margin is "
                                  "liquidated in cross, dragged down by the losses of the others.",
                                  pct(contagion)));
    }
    out.push_back(fmt::format("Path by path, cross margin loses more than isolated on {} of paths.",
                              pct(report.p_cross_loss_exceeds_isolated.estimate)));
    if (const auto& time = cross.summary.time_to_liquidation_days) {
        out.push_back(fmt::format("When cross margin is liquidated, the first liquidation comes after {} days "
                                  "(median; 90% of them between {} and {} days).",
                                  days_text(time->median), days_text(time->p05), days_text(time->p95)));
    }
    const auto& positions = isolated.positions;
    if (!positions.empty()) {
        const auto riskiest = std::max_element(positions.begin(), positions.end(),
                                               [](const PositionReport& a, const PositionReport& b) {
                                                   return a.liquidation_probability < b.liquidation_probability;
                                               });
        out.push_back(fmt::format("On its own margin, the position most often liquidated is {} {} ({} of paths).",
                                  riskiest->symbol, to_string(riskiest->side),
                                  pct(riskiest->liquidation_probability)));
    }
    return out;
}

std::string to_html(const DetailedRun& run, const SweepResult* sweep) {
    const Report& report = run.report;
    std::string body = run_header(report);
    body += "<h2>What it says</h2>\n" + reading_list(plain_reading(report));
    body += "<h2>The three margin modes</h2>\n" + legend_html() + mode_table(run);
    body += "<h2>Loss distribution</h2>\n" + loss_histograms(run) + tail_chart(run);
    body += "<h2>Liquidation over time</h2>\n" + time_chart(run);
    body += "<h2>Positions</h2>\n" + position_chart(report) + position_table(report);
    if (sweep != nullptr) body += sweep_section(*sweep);
    if (!report.warnings.empty()) {
        body += "<h2>Warnings</h2>\n" + reading_list(report.warnings);
    }
    body += "<h2>Method</h2>\n";
    body += method_note;
    body += monitoring_note(report.simulation);
    body += importance_note(report.simulation);
    return detail::html_page("marginsim: " + scenario_name(report.scenario), body);
}

}  // namespace marginsim
