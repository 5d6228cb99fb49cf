#include "render/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace marginsim::detail {
namespace {

constexpr double tick_length = 5.0;

}  // namespace

double nice_step(double span, int target) {
    const double raw = span / std::max(1, target);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    const double nice = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
    return nice * magnitude;
}

namespace {

std::string coordinate(double value) { return fmt::format("{:.1f}", value); }

// A deterministic id for the clip path, so that the same report renders to the same bytes.
std::string stable_id(std::string_view seed) {
    std::uint64_t hash = 1469598103934665603ULL;
    for (const char c : seed) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return fmt::format("clip{:016x}", hash);
}

std::string default_format(double value) { return fmt::format("{:g}", value); }

struct Segment {
    double x1, x2, y1, y2;
};

// One tick of an axis: its grid line across the plot, its mark on the axis and its label.
std::string tick_markup(const Segment& grid, const Segment& mark, double text_x, double text_y,
                        std::string_view anchor, std::string_view label) {
    return fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#e3e3e3\"/>"
        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#555\"/>"
        "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>\n",
        coordinate(grid.x1), coordinate(grid.x2), coordinate(grid.y1), coordinate(grid.y2),
        coordinate(mark.x1), coordinate(mark.x2), coordinate(mark.y1), coordinate(mark.y2),
        coordinate(text_x), coordinate(text_y), anchor, escape_html(label));
}

constexpr const char* style_sheet = R"(
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222;
       max-width: 1080px; margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; }
h2 { font-size: 20px; margin-top: 32px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
p.meta { color: #555; margin-top: 0; }
p.note { color: #555; font-size: 13px; max-width: 960px; }
ul.reading li { margin: 6px 0; font-size: 16px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.failed td { background: #fdecea; }
p.partial, tr.partial td { background: #fff4e0; }
p.partial { padding: 8px 12px; border-left: 4px solid #e08a00; max-width: 960px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: middle; }
svg.chart { display: block; margin: 4px 0 12px; }
svg.chart text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
svg.chart text.tick { font-size: 12px; fill: #444; }
svg.chart text.axis { font-size: 13px; fill: #222; }
svg.chart text.legend { font-size: 13px; fill: #222; }
svg.chart text.value { font-size: 12px; fill: #222; }
svg.chart text.note { font-size: 12px; }
svg.chart text.panel { font-size: 13px; font-weight: bold; }
)";

}  // namespace

std::string html_page(std::string_view title, std::string_view body) {
    return fmt::format(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
        escape_html(title), style_sheet, body);
}

std::string escape_html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    std::vector<double> ticks;
    if (!(hi > lo)) return {lo};
    const double step = nice_step(hi - lo, target);
    const double first = std::ceil(lo / step - 1e-9);
    for (double k = first; k * step <= hi + 1e-9 * step; k += 1.0) {
        ticks.push_back(k == 0.0 ? 0.0 : k * step);  // k * step: no error accumulates
    }
    return ticks;
}

std::pair<double, double> nice_range(double lo, double hi, int target) {
    if (!(hi > lo)) {
        const double pad = std::max(1.0, std::abs(lo) * 0.1);
        lo -= pad;
        hi += pad;
    }
    const double step = nice_step(hi - lo, target);
    return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step};
}

SvgPlot::SvgPlot(double width, double height, Axis x, Axis y, std::string title, Margins margins)
    : width_(width),
      height_(height),
      x_(std::move(x)),
      y_(std::move(y)),
      title_(std::move(title)),
      margins_(margins) {
    if (!x_.format) x_.format = default_format;
    if (!y_.format) y_.format = default_format;
    clip_id_ = stable_id(fmt::format("{}|{}|{}|{}|{}", title_, x_.label, y_.label, width_, height_));
}

double SvgPlot::px(double x) const {
    const double lo = x_.log ? std::log10(x_.lo) : x_.lo;
    const double hi = x_.log ? std::log10(x_.hi) : x_.hi;
    const double v = x_.log ? std::log10(x) : x;
    return plot_left() + (v - lo) / (hi - lo) * (plot_right() - plot_left());
}

double SvgPlot::py(double y) const {
    const double lo = y_.log ? std::log10(y_.lo) : y_.lo;
    const double hi = y_.log ? std::log10(y_.hi) : y_.hi;
    const double v = y_.log ? std::log10(y) : y;
    return plot_bottom() - (v - lo) / (hi - lo) * (plot_bottom() - plot_top());
}

void SvgPlot::line(const std::vector<std::pair<double, double>>& points, std::string_view color,
                   double width, bool dashed, std::string_view tooltip) {
    std::string coordinates;
    for (const auto& [x, y] : points) {
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        if ((x_.log && x <= 0.0) || (y_.log && y <= 0.0)) continue;
        coordinates += coordinate(px(x)) + ',' + coordinate(py(y)) + ' ';
    }
    if (coordinates.empty()) return;
    coordinates.pop_back();
    body_ += fmt::format(
        "<polyline clip-path=\"url(#{})\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} "
        "stroke-linejoin=\"round\" points=\"{}\">",
        clip_id_, color, width, dashed ? " stroke-dasharray=\"6 4\"" : "", coordinates);
    if (!tooltip.empty()) body_ += fmt::format("<title>{}</title>", escape_html(tooltip));
    body_ += "</polyline>\n";
}

void SvgPlot::band(const std::vector<double>& xs, const std::vector<double>& lo,
                   const std::vector<double>& hi, std::string_view color, double opacity) {
    if (xs.empty()) return;
    std::string coordinates;
    for (std::size_t i = 0; i < xs.size(); ++i)
        coordinates += coordinate(px(xs[i])) + ',' + coordinate(py(hi[i])) + ' ';
    for (std::size_t i = xs.size(); i-- > 0;)
        coordinates += coordinate(px(xs[i])) + ',' + coordinate(py(lo[i])) + ' ';
    coordinates.pop_back();
    body_ += fmt::format(
        "<polygon clip-path=\"url(#{})\" fill=\"{}\" fill-opacity=\"{}\" stroke=\"none\" "
        "points=\"{}\"/>\n",
        clip_id_, color, opacity, coordinates);
}

void SvgPlot::rect(double x0, double x1, double y0, double y1, std::string_view color,
                   std::string_view tooltip, double opacity) {
    const double left = std::min(px(x0), px(x1));
    const double right = std::max(px(x0), px(x1));
    const double top = std::min(py(y0), py(y1));
    const double bottom = std::max(py(y0), py(y1));
    body_ += fmt::format(
        "<rect clip-path=\"url(#{})\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" "
        "fill-opacity=\"{}\">",
        clip_id_, coordinate(left), coordinate(top), coordinate(std::max(0.0, right - left)),
        coordinate(std::max(0.0, bottom - top)), color, opacity);
    if (!tooltip.empty()) body_ += fmt::format("<title>{}</title>", escape_html(tooltip));
    body_ += "</rect>\n";
}

void SvgPlot::marker(double x, double y, std::string_view color, std::string_view tooltip, double radius) {
    body_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\">", coordinate(px(x)),
                         coordinate(py(y)), coordinate(radius), color);
    if (!tooltip.empty()) body_ += fmt::format("<title>{}</title>", escape_html(tooltip));
    body_ += "</circle>\n";
}

void SvgPlot::vertical_line(double x, std::string_view color, std::string_view label) {
    const double at = px(x);
    body_ += fmt::format(
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1.5\" "
        "stroke-dasharray=\"4 3\"/>\n",
        coordinate(at), coordinate(plot_top()), coordinate(plot_bottom()), color);
    if (!label.empty()) {
        const bool right_half = at > 0.5 * (plot_left() + plot_right());
        body_ += fmt::format(
            "<text class=\"note\" x=\"{}\" y=\"{}\" text-anchor=\"{}\" fill=\"{}\">{}</text>\n",
            coordinate(at + (right_half ? -4.0 : 4.0)), coordinate(plot_top() + 12.0),
            right_half ? "end" : "start", color, escape_html(label));
    }
}

void SvgPlot::text(double x, double y, std::string_view content, std::string_view anchor,
                   double dx, double dy, std::string_view css_class) {
    body_ += fmt::format("<text class=\"{}\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>\n",
                         css_class, coordinate(px(x) + dx), coordinate(py(y) + dy), anchor,
                         escape_html(content));
}

void SvgPlot::legend(const std::vector<std::pair<std::string, std::string>>& entries) {
    double x = plot_left();
    const double y = margins_.top - 12.0;
    for (const auto& [name, color] : entries) {
        legend_ += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"{}\"/>"
            "<text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>\n",
            coordinate(x), coordinate(y - 9.0), color, coordinate(x + 18.0), coordinate(y),
            escape_html(name));
        x += 26.0 + 7.0 * static_cast<double>(name.size());
    }
}

std::string SvgPlot::axes() const {
    std::string out;
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#888\"/>\n",
        coordinate(plot_left()), coordinate(plot_top()), coordinate(plot_right() - plot_left()),
        coordinate(plot_bottom() - plot_top()));
    const auto ticks_of = [](const Axis& axis) {
        if (!axis.ticks.empty()) return axis.ticks;
        std::vector<std::pair<double, std::string>> ticks;
        if (axis.log) {
            for (double e = std::ceil(std::log10(axis.lo) - 1e-9);
                 e <= std::log10(axis.hi) + 1e-9; e += 1.0) {
                const double t = std::pow(10.0, e);
                ticks.emplace_back(t, axis.format(t));
            }
        } else {
            for (const double t : nice_ticks(axis.lo, axis.hi)) ticks.emplace_back(t, axis.format(t));
        }
        return ticks;
    };
    for (const auto& [t, label] : ticks_of(x_)) {
        const double at = px(t);
        out += tick_markup({at, at, plot_top(), plot_bottom()},
                           {at, at, plot_bottom(), plot_bottom() + tick_length}, at,
                           plot_bottom() + 18.0, "middle", label);
    }
    for (const auto& [t, label] : ticks_of(y_)) {
        const double at = py(t);
        out += tick_markup({plot_left(), plot_right(), at, at},
                           {plot_left() - tick_length, plot_left(), at, at}, plot_left() - 8.0,
                           at + 4.0, "end", label);
    }
    out += fmt::format(
        "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        coordinate(0.5 * (plot_left() + plot_right())), coordinate(height_ - 12.0),
        escape_html(x_.label));
    out += fmt::format(
        "<text class=\"axis\" transform=\"translate({},{}) rotate(-90)\" "
        "text-anchor=\"middle\">{}</text>\n",
        coordinate(16.0), coordinate(0.5 * (plot_top() + plot_bottom())), escape_html(y_.label));
    return out;
}

std::string SvgPlot::str() const {
    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">\n<title>{2}</title>\n",
        width_, height_, escape_html(title_));
    out += fmt::format(
        "<defs><clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>"
        "</clipPath></defs>\n",
        clip_id_, coordinate(plot_left()), coordinate(plot_top() - 1.0),
        coordinate(plot_right() - plot_left()), coordinate(plot_bottom() - plot_top() + 2.0));
    out += axes();
    out += body_;
    out += legend_;
    out += "</svg>\n";
    return out;
}

}  // namespace marginsim::detail
