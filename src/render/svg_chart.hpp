#pragma once
// Small inline-SVG charts for the HTML reports: a plot frame with labelled axes (linear or
// log10), polylines, bands, bars, reference lines and a legend. No scripts, no fonts to
// fetch: the output is plain SVG markup to paste into a self-contained page.

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "render/format.hpp"

namespace marginsim::detail {

// Colours of the modes isolated, cross, as_configured (Okabe-Ito: safe for colour blindness).
inline constexpr std::array<const char*, 3> mode_colors{"#0072B2", "#D55E00", "#009E73"};

// A complete HTML document around `body`, with the reports' inline style sheet.
std::string html_page(std::string_view title, std::string_view body);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string escape_html(std::string_view text);

// The smallest step of 1, 2 or 5 times a power of ten that cuts `span` into at most about
// `target` pieces.
double nice_step(double span, int target);
// Tick positions at 1, 2 or 5 times a power of ten, about `target` of them in [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// [lo, hi] widened to the nearest ticks; a degenerate range gets some width.
std::pair<double, double> nice_range(double lo, double hi, int target = 6);

struct Axis {
    double lo = 0.0;
    double hi = 1.0;
    bool log = false;        // log10 scale: lo and hi must be > 0
    std::string label;       // with its unit, e.g. "loss (USDT)"
    std::function<std::string(double)> format;  // tick label; default: shortest number
    // Explicit ticks (position, label), e.g. categories; empty = computed ticks.
    std::vector<std::pair<double, std::string>> ticks;
};

struct Margins {
    double left = 80.0;
    double right = 24.0;
    double top = 40.0;
    double bottom = 56.0;
};

class SvgPlot {
public:
    SvgPlot(double width, double height, Axis x, Axis y, std::string title, Margins margins = {});

    double px(double x) const;
    double py(double y) const;
    double plot_left() const noexcept { return margins_.left; }
    double plot_right() const noexcept { return width_ - margins_.right; }
    double plot_top() const noexcept { return margins_.top; }
    double plot_bottom() const noexcept { return height_ - margins_.bottom; }

    // A line through the points (data coordinates), clipped to the plot area.
    void line(const std::vector<std::pair<double, double>>& points, std::string_view color,
              double width = 2.0, bool dashed = false, std::string_view tooltip = {});
    // A shaded band between lo(x) and hi(x).
    void band(const std::vector<double>& xs, const std::vector<double>& lo,
              const std::vector<double>& hi, std::string_view color, double opacity = 0.18);
    // A rectangle in data coordinates, with a hover tooltip.
    void rect(double x0, double x1, double y0, double y1, std::string_view color,
              std::string_view tooltip = {}, double opacity = 1.0);
    // A dot of `radius` pixels.
    void marker(double x, double y, std::string_view color, std::string_view tooltip = {},
                double radius = 3.5);
    // A vertical reference line at data x with a label at its top.
    void vertical_line(double x, std::string_view color, std::string_view label);
    // Text at data coordinates (anchor: start, middle, end).
    void text(double x, double y, std::string_view content, std::string_view anchor = "middle",
              double dx = 0.0, double dy = 0.0, std::string_view css_class = "value");
    // Legend entries (name, color) in a row above the plot area.
    void legend(const std::vector<std::pair<std::string, std::string>>& entries);

    std::string str() const;

private:
    std::string axes() const;
    double width_;
    double height_;
    Axis x_;
    Axis y_;
    std::string title_;
    Margins margins_;
    std::string body_;
    std::string legend_;
    std::string clip_id_;
};

}  // namespace marginsim::detail
