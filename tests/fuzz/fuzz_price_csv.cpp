// libFuzzer target: the daily price CSV reader of `calibrate` (parse_price_csv), and with
// enough rows the alignment and the estimates of one series. Every input must be read or
// refused with an InputError; a series that is read must be what the reader promises
// (calibrate.hpp): one finite close > 0 per date, dates strictly ascending, a symbol, and with
// High/Low columns one low <= close <= high per date (and the open inside too). Estimates,
// GARCH fits and the jump fit included, when there are enough returns, must be finite. Anything else aborts and is a
// finding. Build and run: see tests/fuzz/README.md.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "accepted price CSV breaks a promise: %s\n", what);
    std::abort();
}

void check_series(const marginsim::PriceSeries& series) {
    if (series.symbol.empty()) finding("empty symbol");
    if (series.dates.size() != series.closes.size()) finding("dates and closes differ in count");
    if (series.dates.empty()) finding("no rows");
    for (std::size_t k = 0; k < series.closes.size(); ++k) {
        if (!(std::isfinite(series.closes[k]) && series.closes[k] > 0.0)) finding("a close not finite and > 0");
        if (k > 0 && !(series.dates[k - 1] < series.dates[k])) finding("dates not strictly ascending");
    }
    // Highs and lows come together, one per close, with low <= open, close <= high.
    if (series.highs.size() != series.lows.size()) finding("highs and lows differ in count");
    if (series.has_extremes() && series.highs.size() != series.closes.size()) finding("extremes not one per close");
    if (!series.opens.empty() && series.opens.size() != series.closes.size()) finding("opens not one per close");
    for (std::size_t k = 0; k < series.highs.size(); ++k) {
        if (!(series.lows[k] <= series.closes[k] && series.closes[k] <= series.highs[k])) {
            finding("a close outside [low, high]");
        }
        if (!series.opens.empty() && !(series.lows[k] <= series.opens[k] && series.opens[k] <= series.highs[k])) {
            finding("an open outside [low, high]");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    marginsim::PriceSeries series;
    try {
        series = marginsim::parse_price_csv(text, "fuzz.csv");
    } catch (const marginsim::InputError&) {
        return 0;  // refused with a located message
    }
    check_series(series);
    if (series.closes.size() <= marginsim::min_calibration_returns) return 0;
    try {
        marginsim::Calibration calibration = marginsim::calibrate(marginsim::align_returns({std::move(series)}));
        for (const marginsim::Estimate& v : calibration.volatility) {
            if (!(std::isfinite(v.value) && v.value >= 0.0)) finding("volatility not finite and >= 0");
        }
        for (const marginsim::GarchEstimate& g : calibration.garch) {
            if (!(g.omega.value > 0.0 && g.alpha.value >= 0.0 && g.beta.value >= 0.0 && g.persistence() <= 1.0 &&
                  std::isfinite(g.start_variance))) {
                finding("a GARCH fit outside omega > 0, alpha, beta >= 0, alpha + beta <= 1");
            }
        }
        const marginsim::JumpEstimate& jumps = calibration.jumps;
        if (!(std::isfinite(jumps.intensity.value) && jumps.intensity.value >= 0.0)) finding("jump intensity not finite and >= 0");
        for (double v : jumps.diffusion_volatility) {
            if (!(std::isfinite(v) && v >= 0.0)) finding("diffusion volatility not finite and >= 0");
        }
    } catch (const marginsim::InputError&) {
        // Too few returns one calendar day apart: refused, as it should be.
    }
    return 0;
}
