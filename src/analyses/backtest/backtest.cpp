// The backtest: per start date, the book re-opened at that day's close, each model calibrated
// on the trailing window, its P(liquidation) simulated, and what the next days' bars did.

#include "marginsim/backtest.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <memory>

#include <fmt/format.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "marginsim/error.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim {

namespace {

constexpr double days_per_year = 365.0;

// The series' closes up to `last`, or none when a series has no close that day (the book
// cannot be re-opened then).
std::optional<std::vector<PriceSeries>> history_until(const std::vector<PriceSeries>& history, Date last) {
    std::vector<PriceSeries> cut = history;
    for (PriceSeries& s : cut) {
        if (!std::binary_search(s.dates.begin(), s.dates.end(), last)) return std::nullopt;
        keep_until(s, last);
    }
    return cut;
}

std::vector<double> values(const std::vector<Estimate>& estimates) {
    std::vector<double> v;
    for (const Estimate& e : estimates) v.push_back(e.value);
    return v;
}

// A dof the engine takes: none when the fit says no fat tails (at the upper bound).
std::optional<double> usable_dof(const std::optional<DofEstimate>& dof) {
    if (!dof || (dof->at_bound && dof->estimate.value >= max_dof)) return std::nullopt;
    return dof->estimate.value;
}

// The calibrations one window needs: the sample one (GARCH always; the regimes when asked)
// and the EWMA one.
struct WindowCalibration {
    std::optional<Calibration> sample;
    std::optional<Calibration> ewma;
    std::string failure;  // why there is none: too little history, a series that does not move
};

WindowCalibration calibrate_window(const std::vector<PriceSeries>& history, Date start,
                                   const BacktestOptions& options) {
    WindowCalibration result;
    const auto cut = history_until(history, start);
    if (!cut) return result;
    const AlignedReturns data = align_returns(*cut, options.window_days);
    const auto wants = [&](BacktestModel m) {
        return std::find(options.models.begin(), options.models.end(), m) != options.models.end();
    };
    CalibrationOptions sample;
    sample.window_days = options.window_days;
    if (wants(BacktestModel::regime)) sample.model = CalibratedModel::regime;
    result.sample = calibrate(data, sample);
    // The fhs model's residual set, filtered with the ewma model's lambda.
    if (wants(BacktestModel::fhs) && data.return_count() >= Fhs::min_days)
        result.sample->fhs = fit_fhs_residuals(data, CalibrationOptions{}.lambda);
    if (wants(BacktestModel::ewma)) {
        CalibrationOptions ewma;
        ewma.window_days = options.window_days;
        ewma.method = CovarianceMethod::ewma;
        result.ewma = calibrate(data, ewma);
    }
    return result;
}

std::array<double, mode_count> probabilities(const Report& report) {
    std::array<double, mode_count> p{};
    for (std::size_t m = 0; m < mode_count; ++m) {
        p[m] = report.modes[m].summary.liquidation_probability.estimate;
    }
    return p;
}

std::optional<std::size_t> index_of(const DailyBars& bars, Date date) {
    const auto it = std::lower_bound(bars.dates.begin(), bars.dates.end(), date);
    if (it == bars.dates.end() || *it != date) return std::nullopt;
    return static_cast<std::size_t>(it - bars.dates.begin());
}

void set_jumps(Scenario& s, const JumpEstimate& j) {
    // Without a jump day in the window: intensity 0, the gaussian (sizes 0, never drawn).
    const bool any = !j.days.empty();
    s.simulation.jumps = true;
    s.jumps.intensity = j.intensity.value;
    for (std::size_t i = 0; i < s.assets.size(); ++i) {
        s.assets[i].volatility = j.diffusion_volatility[i];
        s.jumps.market.push_back({any ? j.mean[i].value : 0.0, any ? j.vol[i].value : 0.0});
    }
    s.jumps.idiosyncratic_intensity.assign(s.assets.size(), 0.0);
    s.jumps.idiosyncratic.assign(s.assets.size(), JumpSize{});
}

}  // namespace

std::string_view to_string(BacktestModel model) noexcept {
    switch (model) {
        case BacktestModel::gaussian: return "gaussian";
        case BacktestModel::ewma: return "ewma";
        case BacktestModel::student_t: return "student_t";
        case BacktestModel::garch: return "garch";
        case BacktestModel::regime: return "regime";
        case BacktestModel::fhs: return "fhs";
        case BacktestModel::jump: return "jump";
    }
    return "unknown";
}

std::optional<BacktestModel> backtest_model_from(std::string_view name) noexcept {
    for (const BacktestModel model : all_backtest_models) {
        if (to_string(model) == name) return model;
    }
    return std::nullopt;
}

std::string_view to_string(RealisedFlag flag) noexcept {
    switch (flag) {
        case RealisedFlag::isolated_any_low: return "isolated_any_low";
        case RealisedFlag::isolated_any_close: return "isolated_any_close";
        case RealisedFlag::cross_low: return "cross_low";
        case RealisedFlag::cross_close: return "cross_close";
    }
    return "unknown";
}

MarginMode predicting_mode(RealisedFlag flag) noexcept {
    return flag == RealisedFlag::isolated_any_low || flag == RealisedFlag::isolated_any_close
               ? MarginMode::isolated
               : MarginMode::cross;
}

bool flag_of(const RealisedFlags& flags, RealisedFlag flag) noexcept {
    switch (flag) {
        case RealisedFlag::isolated_any_low: return flags.isolated_any_low;
        case RealisedFlag::isolated_any_close: return flags.isolated_any_close;
        case RealisedFlag::cross_low: return flags.cross_low;
        case RealisedFlag::cross_close: return flags.cross_close;
    }
    return false;
}

std::vector<std::string_view> fired_flags(const RealisedFlags& flags, std::span<const RealisedFlag> among) {
    std::vector<std::string_view> fired;
    for (const RealisedFlag flag : among) {
        if (flag_of(flags, flag)) fired.push_back(to_string(flag));
    }
    return fired;
}

Scenario reopened_book(const Scenario& book, std::span<const double> close) {
    Scenario s = book;
    for (std::size_t i = 0; i < s.assets.size(); ++i) s.assets[i].price = close[i];
    for (Position& p : s.positions) {
        p.entry_price = close[p.asset];
        p.quantity = p.margin * p.leverage / p.entry_price;
    }
    return s;
}

std::optional<std::string> unusable(BacktestModel model, const Calibration& c) {
    if (model == BacktestModel::student_t && !c.dof) return "no Student-t dof (singular correlation matrix)";
    if (model == BacktestModel::regime && !c.regimes) return "no regimes fitted";
    if (model == BacktestModel::fhs && !c.fhs) return fmt::format("no FHS residual set (fewer than {} returns)", Fhs::min_days);
    if (model == BacktestModel::garch) {
        for (std::size_t i = 0; i < c.asset_count(); ++i) {
            if (c.garch[i].integrated) {
                return fmt::format("the GARCH fit of {} is integrated (alpha + beta = 1: no long-run variance, "
                                   "which the garch model needs)",
                                   c.data.series[i].symbol);
            }
        }
    }
    return std::nullopt;
}

std::optional<Scenario> with_calibrated_model(const Scenario& book, BacktestModel model,
                                              const Calibration& c, bool parameter_uncertainty) {
    if (unusable(model, c)) return std::nullopt;
    Scenario s = book;
    const std::size_t d = c.asset_count();
    s.jumps = {};
    s.simulation.jumps = false;
    s.regimes = {};
    s.garch = {};
    s.fhs = {};
    // The regime model has a volatility per regime: none to draw (refused by the scenario too).
    s.uncertainty = {};
    if (parameter_uncertainty && model != BacktestModel::regime) s.uncertainty.returns = c.uncertainty_returns;
    s.simulation.dof = 0.0;
    s.simulation.model = PriceModel::gaussian;
    s.correlation_repaired = false;
    s.correlation_repair_distance = 0.0;
    for (std::size_t i = 0; i < d; ++i) s.assets[i].volatility = c.volatility[i].value;
    s.correlation = values(c.correlation);
    switch (model) {
        case BacktestModel::gaussian:
        case BacktestModel::ewma: break;
        case BacktestModel::student_t: {
            s.simulation.model = PriceModel::student_t;
            s.simulation.dof = c.dof->estimate.value;
            break;
        }
        case BacktestModel::garch: {
            s.simulation.model = PriceModel::garch;
            s.correlation = values(c.garch_correlation);
            for (std::size_t i = 0; i < d; ++i) {
                const GarchEstimate& g = c.garch[i];
                s.assets[i].volatility = std::sqrt(days_per_year * g.start_variance);
                s.garch.assets.push_back({g.omega.value, g.alpha.value, g.beta.value});
            }
            if (const auto dof = usable_dof(c.garch_dof)) {
                s.garch.innovations = Innovations::student_t;
                s.simulation.dof = *dof;
            }
            break;
        }
        case BacktestModel::regime: {
            const RegimeEstimate& r = *c.regimes;
            s.simulation.model = PriceModel::regime;
            s.correlation = values(r.correlation[0]);
            for (std::size_t i = 0; i < d; ++i) s.assets[i].volatility = r.volatility[0][i].value;
            s.regimes.calm_to_stress = r.calm_to_stress.value;
            s.regimes.stress_to_calm = r.stress_to_calm.value;
            s.regimes.start = r.stress_probability_today > 0.5 ? StartRegime::stress : StartRegime::calm;
            s.regimes.stress_volatility = values(r.volatility[1]);
            s.regimes.stress_correlation = values(r.correlation[1]);
            break;
        }
        case BacktestModel::jump: set_jumps(s, c.jumps); break;
        case BacktestModel::fhs: {
            // EWMA-filtered residuals of the window, resampled whole from today's EWMA variance.
            const FhsResidualSet& f = *c.fhs;
            s.simulation.model = PriceModel::fhs;
            s.simulation.importance_sampling = ImportanceSampling::none;  // refused under fhs
            s.correlation = values(f.correlation);
            s.fhs.filter = FhsFilter::ewma;
            s.fhs.lambda = f.lambda;
            s.fhs.assets.assign(d, GarchParameters{0.0, 1.0 - f.lambda, f.lambda});
            for (std::size_t i = 0; i < d; ++i) s.assets[i].volatility = std::sqrt(days_per_year * f.start_variance[i]);
            for (std::size_t t = 0; t < f.dates.size(); ++t) {
                s.fhs.dates.push_back(format_date(f.dates[t]));
                for (std::size_t i = 0; i < d; ++i) s.fhs.residuals.push_back(f.residuals[i][t]);
            }
            break;
        }
    }
    if (find_overflow(s)) return std::nullopt;
    return s;
}


namespace {

std::vector<CrashWindows> crash_windows(const std::vector<BacktestWindow>& windows, int horizon_days) {
    std::vector<CrashWindows> out;
    for (const ReplayWindow& crash : replay_catalogue()) {
        CrashWindows entry{crash.name, crash.start, {}};
        for (std::size_t w = 0; w < windows.size(); ++w) {
            const Date start = windows[w].start;
            if (start < crash.start && crash.start <= start + std::chrono::days(horizon_days)) entry.windows.push_back(w);
        }
        if (!entry.windows.empty()) out.push_back(std::move(entry));
    }
    return out;
}

}  // namespace

BacktestResult run_backtest(const Scenario& book, const std::vector<PriceSeries>& history,
                            const BacktestOptions& options,
                            const std::function<void(std::size_t, std::size_t)>& progress) {
    BacktestResult result;
    result.scenario = book.source;
    result.options = options;
    result.horizon_days = static_cast<int>(std::ceil(book.simulation.horizon_days - 1e-9));
    const DailyBars bars = daily_bars(history);
    for (const PriceSeries& s : history) result.history.push_back(s.source);
    std::vector<std::pair<Date, std::string>> skipped;  // sorted and split into the result's at the end

    // The windows: a start date needs its close (to re-open the book) and complete bars after.
    std::vector<std::pair<Date, std::size_t>> starts;
    for (Date day = options.from; day <= options.to; day += std::chrono::days(options.every_days)) {
        const auto k = index_of(bars, day);
        if (!k || *k + 1 >= bars.day_count() || !bars.window_complete(*k + 1, result.horizon_days)) {
            skipped.emplace_back(day, !k ? "no close on that day"
                                      : *k + 1 >= bars.day_count() ? "no daily bar after it"
                                                                  : "a daily bar of its horizon is missing");
            continue;
        }
        starts.emplace_back(day, *k);
    }
    if (starts.empty()) {
        throw InputError(book.source, 0, 0, "--from",
                         fmt::format("no start date from {} to {} every {} days has its close and the {} "
                                     "daily bars after it in the history ({} .. {})",
                                     format_date(options.from), format_date(options.to), options.every_days,
                                     result.horizon_days, format_date(bars.dates.front()),
                                     format_date(bars.dates.back())),
                         "dates inside the price history, at least horizon_days before its end");
    }

    // The calibrations first, in parallel (each window's is independent of the others').
    std::vector<WindowCalibration> calibrations(starts.size());
    tbb::task_arena arena(options.threads > 0 ? options.threads : tbb::task_arena::automatic);
    arena.execute([&] {
        tbb::parallel_for(std::size_t{0}, starts.size(), [&](std::size_t w) {
            try {
                calibrations[w] = calibrate_window(history, starts[w].first, options);
            } catch (const InputError& error) {
                calibrations[w] = {};
                calibrations[w].failure = error.message();
            }
        });
    });

    const std::size_t total = starts.size() * options.models.size();
    std::size_t done = 0;
    for (std::size_t index = 0; index < starts.size(); ++index) {
        const auto& [day, k] = starts[index];
        std::vector<double> close(bars.asset_count());
        for (std::size_t i = 0; i < close.size(); ++i) close[i] = bars.close[i][k];
        const Scenario reopened = reopened_book(book, close);
        const auto realised = realised_flags(reopened, bars, k + 1, result.horizon_days);
        const WindowCalibration& calibration = calibrations[index];
        if (!calibration.failure.empty()) {
            result.notes.push_back(fmt::format("{}: not calibrated: {}", format_date(day), calibration.failure));
        }
        if (!realised || !calibration.sample) {
            skipped.emplace_back(day, !realised ? "a daily bar of its horizon is missing"
                                                : "not calibrated: " + calibration.failure);
            done += options.models.size();
            continue;
        }
        BacktestWindow window{day, *realised, {}};
        for (const BacktestModel model : options.models) {
            const Calibration& c = model == BacktestModel::ewma ? *calibration.ewma : *calibration.sample;
            std::optional<std::array<double, mode_count>> predicted;
            if (const auto scenario = with_calibrated_model(reopened, model, c, options.parameter_uncertainty)) {
                RunOptions run;
                run.paths = options.paths;
                run.threads = options.threads;
                RunControl control;
                control.ranks = options.ranks;
                predicted = probabilities(simulate(*scenario, run, control));
            } else {
                const std::optional<std::string> why = unusable(model, c);
                result.notes.push_back(fmt::format("{}: {} not run: {}", format_date(day), to_string(model),
                                                   why ? *why : "a price could overflow on a plausible path"));
            }
            window.predicted.push_back(predicted);
            if (progress) progress(++done, total);
        }
        result.windows.push_back(std::move(window));
    }
    std::sort(skipped.begin(), skipped.end());
    for (auto& [day, why] : skipped) {
        result.skipped.push_back(day);
        result.skip_reasons.push_back(std::move(why));
    }

    result.crash_windows = crash_windows(result.windows, result.horizon_days);
    for (std::size_t m = 0; m < options.models.size(); ++m) {
        std::array<ForecastScores, all_realised_flags.size()> scores{};
        for (std::size_t f = 0; f < all_realised_flags.size(); ++f) {
            const RealisedFlag flag = all_realised_flags[f];
            const auto mode = static_cast<std::size_t>(predicting_mode(flag));
            std::vector<double> predicted;
            std::vector<char> realised;
            for (const BacktestWindow& w : result.windows) {
                if (!w.predicted[m]) continue;
                predicted.push_back((*w.predicted[m])[mode]);
                realised.push_back(flag_of(w.realised, flag) ? 1 : 0);
            }
            if (predicted.empty()) continue;
            const std::unique_ptr<bool[]> flags(new bool[realised.size()]);
            for (std::size_t k = 0; k < realised.size(); ++k) flags[k] = realised[k] != 0;
            scores[f] = score_forecasts(predicted, std::span<const bool>(flags.get(), realised.size()));
        }
        result.scores.push_back(scores);
    }
    return result;
}

}  // namespace marginsim
