// The backtest: per start date, the book re-opened at that day's close, each model calibrated
// on the trailing window, its P(liquidation) simulated, and what the next days' bars did.

#include "marginsim/backtest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <utility>

#include <memory>

#include <fmt/format.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "marginsim/error.hpp"
#include "marginsim/simulate.hpp"
#include "numerics/packed_parts.hpp"

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

// What a model gave on a window: its P(liquidation) per mode, or why it was not run.
struct ModelOutcome {
    std::optional<std::array<double, mode_count>> predicted;
    std::string note;
};
// What a window gave: whether it was calibrated (else why not), and its models' outcomes (none
// when its horizon's bars are missing or it was not calibrated).
struct WindowOutcome {
    bool calibrated = false;
    std::string failure;
    std::vector<ModelOutcome> models;
};

WindowCalibration calibrated_window(const std::vector<PriceSeries>& history, Date start, const BacktestOptions& options) {
    try {
        return calibrate_window(history, start, options);
    } catch (const InputError& error) {
        WindowCalibration failed;
        failed.failure = error.message();
        return failed;
    }
}

// Each model's run on the window re-opened as `book` (over `ranks` when given).
std::vector<ModelOutcome> run_models(const Scenario& book, const WindowCalibration& calibration,
                                     const BacktestOptions& options, const Ranks* ranks,
                                     const std::function<void()>& model_done) {
    std::vector<ModelOutcome> out;
    for (const BacktestModel model : options.models) {
        const Calibration& c = model == BacktestModel::ewma ? *calibration.ewma : *calibration.sample;
        ModelOutcome outcome;
        if (const auto scenario = with_calibrated_model(book, model, c, options.parameter_uncertainty)) {
            RunOptions run;
            run.paths = options.paths;
            run.threads = options.threads;
            RunControl control;
            control.ranks = ranks;
            outcome.predicted = probabilities(simulate(*scenario, run, control));
        } else {
            const std::optional<std::string> why = unusable(model, c);
            outcome.note = why ? *why : "a price could overflow on a plausible path";
        }
        out.push_back(std::move(outcome));
        model_done();
    }
    return out;
}

// The outcomes of the windows `mine` (indices into `starts`): their calibrations side by side on
// the threads, then their models' runs one after the other (over `ranks` when given).
std::vector<WindowOutcome> outcomes_of(const std::vector<std::size_t>& mine, const std::vector<PriceSeries>& history,
                                       const std::vector<std::pair<Date, std::size_t>>& starts,
                                       const std::vector<Scenario>& reopened,
                                       const std::vector<std::optional<RealisedFlags>>& realised,
                                       const BacktestOptions& options, const Ranks* ranks,
                                       const std::function<void(std::size_t, std::size_t)>& progress) {
    std::vector<WindowCalibration> calibrations(mine.size());
    tbb::task_arena arena(options.threads > 0 ? options.threads : tbb::task_arena::automatic);
    arena.execute([&] {
        tbb::parallel_for(std::size_t{0}, mine.size(), [&](std::size_t i) {
            calibrations[i] = calibrated_window(history, starts[mine[i]].first, options);
        });
    });
    const std::size_t total = mine.size() * options.models.size();
    std::size_t done = 0;
    const auto model_done = [&] {
        if (progress) progress(++done, total);
    };
    std::vector<WindowOutcome> out(mine.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
        const WindowCalibration& calibration = calibrations[i];
        out[i].failure = calibration.failure;
        out[i].calibrated = calibration.sample.has_value();
        if (!realised[mine[i]] || !out[i].calibrated) {
            done += options.models.size();
            continue;
        }
        out[i].models = run_models(reopened[mine[i]], calibration, options, ranks, model_done);
    }
    return out;
}

// A window's outcome as bytes between ranks, and back.
std::string outcome_bytes(const WindowOutcome& outcome) {
    std::vector<std::string> parts{outcome.calibrated ? "1" : "0", outcome.failure};
    for (const ModelOutcome& model : outcome.models) {
        std::string predicted;
        if (model.predicted) predicted.assign(reinterpret_cast<const char*>(model.predicted->data()), sizeof(*model.predicted));
        parts.push_back(predicted);
        parts.push_back(model.note);
    }
    return detail::pack_parts(parts);
}
WindowOutcome outcome_from(const std::string& bytes) {
    const std::vector<std::string> parts = detail::unpack_parts(bytes);
    WindowOutcome outcome;
    outcome.calibrated = parts.at(0) == "1";
    outcome.failure = parts.at(1);
    for (std::size_t k = 2; k + 1 < parts.size(); k += 2) {
        ModelOutcome model;
        if (parts[k].size() == sizeof(std::array<double, mode_count>)) {
            std::array<double, mode_count> p{};
            std::memcpy(p.data(), parts[k].data(), sizeof p);
            model.predicted = p;
        }
        model.note = parts[k + 1];
        outcome.models.push_back(std::move(model));
    }
    return outcome;
}

// Every window's outcome, on every rank. One process, or fewer windows than ranks: every
// window here, each run spread over the ranks (its blocks). Otherwise the windows are dealt to
// the ranks in turn, each rank calibrating and running its own on its threads alone, and their
// outcomes gathered and broadcast: the same numbers, each run being one process's.
std::vector<WindowOutcome> window_outcomes(const std::vector<PriceSeries>& history,
                                           const std::vector<std::pair<Date, std::size_t>>& starts,
                                           const std::vector<Scenario>& reopened,
                                           const std::vector<std::optional<RealisedFlags>>& realised,
                                           const BacktestOptions& options,
                                           const std::function<void(std::size_t, std::size_t)>& progress) {
    const Ranks* ranks = options.ranks;
    const std::size_t size = ranks != nullptr ? static_cast<std::size_t>(ranks->size()) : 1;
    if (size == 1 || starts.size() < size) {
        std::vector<std::size_t> every(starts.size());
        for (std::size_t w = 0; w < every.size(); ++w) every[w] = w;
        return outcomes_of(every, history, starts, reopened, realised, options, ranks, progress);
    }
    std::vector<std::size_t> mine;
    for (std::size_t w = static_cast<std::size_t>(ranks->rank()); w < starts.size(); w += size) mine.push_back(w);
    std::vector<std::string> parts;
    for (const WindowOutcome& outcome : outcomes_of(mine, history, starts, reopened, realised, options, nullptr, progress))
        parts.push_back(outcome_bytes(outcome));
    std::string all;
    if (ranks->is_root()) {
        const std::vector<std::string> gathered = ranks->gather(detail::pack_parts(parts));
        std::vector<std::string> by_window(starts.size());
        for (std::size_t r = 0; r < gathered.size(); ++r) {
            const std::vector<std::string> theirs = detail::unpack_parts(gathered[r]);
            for (std::size_t i = 0; i < theirs.size(); ++i) by_window.at(r + i * size) = theirs[i];
        }
        all = detail::pack_parts(by_window);
    } else {
        ranks->gather(detail::pack_parts(parts));
    }
    ranks->broadcast(all);
    std::vector<WindowOutcome> out;
    for (const std::string& bytes : detail::unpack_parts(all)) out.push_back(outcome_from(bytes));
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

    // What each start date gives, in date order: its calibration and its models' runs, on this
    // process or, over ranks, dealt to them (window_outcomes).
    std::vector<std::optional<RealisedFlags>> realised_by_window(starts.size());
    std::vector<Scenario> reopened;
    for (std::size_t w = 0; w < starts.size(); ++w) {
        const std::size_t k = starts[w].second;
        std::vector<double> close(bars.asset_count());
        for (std::size_t i = 0; i < close.size(); ++i) close[i] = bars.close[i][k];
        reopened.push_back(reopened_book(book, close));
        realised_by_window[w] = realised_flags(reopened.back(), bars, k + 1, result.horizon_days);
    }
    const std::vector<WindowOutcome> outcomes = window_outcomes(history, starts, reopened, realised_by_window, options, progress);
    for (std::size_t w = 0; w < starts.size(); ++w) {
        const Date day = starts[w].first;
        const WindowOutcome& outcome = outcomes[w];
        if (!outcome.failure.empty())
            result.notes.push_back(fmt::format("{}: not calibrated: {}", format_date(day), outcome.failure));
        if (!realised_by_window[w] || !outcome.calibrated) {
            skipped.emplace_back(day, !realised_by_window[w] ? "a daily bar of its horizon is missing"
                                                   : "not calibrated: " + outcome.failure);
            continue;
        }
        BacktestWindow window{day, *realised_by_window[w], {}};
        for (std::size_t m = 0; m < options.models.size(); ++m) {
            const ModelOutcome& model = outcome.models[m];
            if (!model.note.empty())
                result.notes.push_back(fmt::format("{}: {} not run: {}", format_date(day), to_string(options.models[m]),
                                                   model.note));
            window.predicted.push_back(model.predicted);
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
