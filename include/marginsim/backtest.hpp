#pragma once
// Backtesting liquidation forecasts: how a model's predicted P(liquidation) over many windows
// compares with what really happened (docs/backtest.md). For each start date the scenario's
// book is re-opened at that day's close, each model is calibrated on the trailing window
// ending that day (no later data), its P(liquidation) per mode is simulated, and the next
// horizon_days daily bars say what happened (replay.hpp's realised flags). Then the scores of
// each model against each realised flag.

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/calibrate.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// A likelihood-ratio test against the chi-square distribution with one degree of freedom.
struct LikelihoodRatioTest {
    double statistic = 0.0;  // -2 ln(L0 / L1)
    double p_value = 1.0;    // P(chi-square(1) >= statistic)
};

// Kupiec's proportion-of-failures test with probability forecasts: the realised count against
// a binomial of the mean predicted probability (H0: the events happen as often as predicted
// on average).
struct KupiecTest : LikelihoodRatioTest {
    std::size_t events = 0;
    double expected_events = 0.0;  // sum of the predicted probabilities
};

// Christoffersen's independence test of the realised sequence: a first-order Markov chain of
// events against independence (H0: an event does not make the next window's more likely).
// transitions[a][b]: windows with flag b after a window with flag a.
struct ChristoffersenTest : LikelihoodRatioTest {
    std::size_t transitions[2][2] = {{0, 0}, {0, 0}};
};

// Windows whose predictions fell in [low, high): their mean prediction and realised rate.
struct ReliabilityBin {
    double low = 0.0;
    double high = 0.0;
    std::size_t windows = 0;
    double mean_predicted = 0.0;
    double realised_rate = 0.0;
};

struct ForecastScores {
    std::size_t windows = 0;
    double mean_predicted = 0.0;
    double realised_rate = 0.0;
    // Mean squared error of the probabilities; the reference is the forecast that always says
    // the realised rate (climatology, known only in hindsight); skill = 1 - brier / reference
    // (> 0: better than climatology; NaN when every window had the same outcome).
    double brier = 0.0;
    double brier_reference = 0.0;
    double brier_skill = 0.0;
    KupiecTest kupiec;
    ChristoffersenTest christoffersen;
    // P(a window with the event is predicted higher than one without), ties counting half;
    // NaN when every window had the same outcome. 0.5: no discrimination.
    double auc = 0.0;
    std::vector<ReliabilityBin> reliability;  // the bins that hold windows
};

// The reliability bins' edges: 0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1 (fine at the
// small probabilities where liquidation forecasts live).
std::span<const double> reliability_edges() noexcept;

// Scores of predictions[k] against realised[k] (the same windows, in time order). At least
// one window; every prediction in [0, 1].
ForecastScores score_forecasts(std::span<const double> predicted, std::span<const bool> realised);

// P(chi-square(1) >= x).
double chi_square_1_survival(double x) noexcept;

// The models a backtest compares, each calibrated per window (docs/backtest.md#models):
// gaussian (sample volatility and correlation), ewma (gaussian with RiskMetrics' EWMA,
// lambda 0.94), student_t (sample, with the fitted dof), garch (GARCH(1,1) per asset, residual
// correlation and dof), regime (two regimes by EM), fhs (the window's EWMA residuals), jump
// (gaussian diffusion with the window's market-wide jumps, calibrate's jump fit).
enum class BacktestModel { gaussian, ewma, student_t, garch, regime, fhs, jump };
inline constexpr std::array<BacktestModel, 7> all_backtest_models{
    BacktestModel::gaussian, BacktestModel::ewma, BacktestModel::student_t, BacktestModel::garch,
    BacktestModel::regime,   BacktestModel::fhs,  BacktestModel::jump};
std::string_view to_string(BacktestModel model) noexcept;
std::optional<BacktestModel> backtest_model_from(std::string_view name) noexcept;

// The realised flags a backtest scores, and the mode each is predicted by.
enum class RealisedFlag { isolated_any_low, isolated_any_close, cross_low, cross_close };
inline constexpr std::array<RealisedFlag, 4> all_realised_flags{
    RealisedFlag::isolated_any_low, RealisedFlag::isolated_any_close, RealisedFlag::cross_low,
    RealisedFlag::cross_close};
std::string_view to_string(RealisedFlag flag) noexcept;
MarginMode predicting_mode(RealisedFlag flag) noexcept;
bool flag_of(const RealisedFlags& flags, RealisedFlag flag) noexcept;
// The names of the flags of `among` that fired, in its order.
std::vector<std::string_view> fired_flags(const RealisedFlags& flags,
                                          std::span<const RealisedFlag> among = all_realised_flags);

struct BacktestOptions {
    Date from;
    Date to;
    int every_days = 7;
    int window_days = 365;  // of the calibration, up to the start date
    std::vector<BacktestModel> models{BacktestModel::gaussian, BacktestModel::ewma,
                                      BacktestModel::student_t, BacktestModel::garch};
    std::uint64_t paths = 20000;
    int threads = 0;  // 0 = all cores; windows x models run in parallel, each run on one thread
    // Every model but regime draws each path's volatilities from their estimate's sampling
    // distribution, as from the window's Calibration::uncertainty_returns ([uncertainty]).
    bool parameter_uncertainty = false;
    // The MPI ranks that share the backtest (docs/distributed.md), every one calling
    // run_backtest alike: with at least as many windows as ranks, the windows are dealt to the
    // ranks in turn, each calibrating and running its own alone; with fewer, every rank
    // calibrates every window and each run is spread over the ranks (RunControl::ranks). Every
    // rank gets the whole result. Null: this process alone.
    const Ranks* ranks = nullptr;
};

struct BacktestWindow {
    Date start;  // the book is opened at this day's close; the bars of the next days follow
    RealisedFlags realised;
    // Per model (BacktestOptions::models order): P(liquidation) per mode (all_modes order);
    // empty when the model could not be calibrated or run on this window (see notes).
    std::vector<std::optional<std::array<double, mode_count>>> predicted;
};

// A crash day of the stress catalogue (replay_catalogue: its first day) inside the horizon of
// some backtested windows: start < date <= start + horizon_days, the daily bars the window's
// realised flags read (a window opened at the crash day's close no longer sees that day).
struct CrashWindows {
    std::string name;
    Date date;
    std::vector<std::size_t> windows;  // indices into BacktestResult::windows, in time order
};

struct BacktestResult {
    std::string scenario;  // its source
    BacktestOptions options;
    int horizon_days = 0;  // the scenario's horizon, rounded up to whole days
    std::vector<BacktestWindow> windows;
    std::vector<Date> skipped;  // start dates whose window or calibration history misses a day
    std::vector<std::string> skip_reasons;  // why each was skipped (skipped's order)
    std::vector<std::string> history;       // the price files read (PriceSeries::source), book order
    // [model][flag] over the windows the model predicted (all_realised_flags order).
    std::vector<std::array<ForecastScores, all_realised_flags.size()>> scores;
    std::vector<CrashWindows> crash_windows;  // the catalogue's crash days the windows cover, oldest first
    std::vector<std::string> notes;
};

// Runs the backtest of `book` (loaded scenario: its positions, margins, leverage, modes,
// tiers, liquidation policy, horizon, steps, monitoring and seed; its market section is
// replaced per window) against `history` (one series per asset, in the book's order, as
// read_history gives them). `progress(done, total)` is called as windows x models finish.
// Throws InputError when no start date in [from, to] has a complete window.
BacktestResult run_backtest(const Scenario& book, const std::vector<PriceSeries>& history,
                            const BacktestOptions& options,
                            const std::function<void(std::size_t, std::size_t)>& progress = {});

// The book re-opened at `close` prices: every asset's price the close, every position's
// entry the close, quantity margin x leverage / close (docs/backtest.md).
Scenario reopened_book(const Scenario& book, std::span<const double> close);

// Why `model` cannot be set up from `calibration`: no dof (student_t), no regimes (regime), an
// integrated GARCH fit (garch); none when it can.
std::optional<std::string> unusable(BacktestModel model, const Calibration& calibration);

// The book with the market of `model` calibrated on `calibration` (its model fields: vol,
// correlation, model, dof, garch, regimes, and with `parameter_uncertainty` [uncertainty]
// returns; the book's own [uncertainty] is not used); none when unusable, or when a price could
// overflow (find_overflow).
std::optional<Scenario> with_calibrated_model(const Scenario& book, BacktestModel model,
                                              const Calibration& calibration, bool parameter_uncertainty = false);

}  // namespace marginsim
