#pragma once
// A scenario: what to simulate (docs/scenario-format.md), parsed and validated.
// Past load_scenario() every value is trusted: later stages only assert.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim {

// The diffusion of the price paths (docs/model.md#one-model-family): jumps are a switch on top of
// any of them (Simulation::jumps); `jump` is the shorthand of earlier versions for gaussian with
// jumps on.
enum class PriceModel { gaussian, student_t, jump, regime, garch, fhs };
// When a liquidation is found (docs/model.md#monitoring): at any moment, the log prices between
// two steps being Brownian bridges (continuous, the default), or at the steps only (discrete).
enum class Monitoring { continuous, discrete };
// How paths are sampled (docs/model.md#importance-sampling): plainly (none, the default), or
// half of them under a market-wide selloff aimed at the cross account's liquidation, every
// statistic then weighted by the paths' likelihood ratios.
enum class ImportanceSampling { none, selloff };
enum class LiquidationPolicy { full, fee };
enum class Side { long_side = 1, short_side = -1 };
// How an account is margined. A position's own `mode` is isolated or cross; the three
// account-level modes of docs/model.md#account-modes are evaluated on the same paths.
enum class MarginMode { isolated, cross, as_configured };
inline constexpr std::array<MarginMode, 3> all_modes{MarginMode::isolated, MarginMode::cross,
                                                     MarginMode::as_configured};
inline constexpr std::size_t mode_count = all_modes.size();
inline constexpr std::size_t mode_index(MarginMode mode) noexcept {
    return static_cast<std::size_t>(mode);
}

inline constexpr int sign(Side side) noexcept { return static_cast<int>(side); }
std::string_view to_string(PriceModel model) noexcept;
std::string_view to_string(Monitoring monitoring) noexcept;
std::string_view to_string(ImportanceSampling sampling) noexcept;
enum class StartRegime { calm, stress, stationary };
std::string_view to_string(StartRegime start) noexcept;
// The innovations of the garch model and of each regime: standard normals, or a standardised
// multivariate Student-t (dof), its scale drawn once a day and shared by all assets.
enum class Innovations { gaussian, student_t };
std::string_view to_string(Innovations innovations) noexcept;
// The variance filter of the fhs model: EWMA (lambda) or GARCH(1,1) per asset ([garch]).
enum class FhsFilter { ewma, garch };
std::string_view to_string(FhsFilter filter) noexcept;
std::string_view to_string(LiquidationPolicy policy) noexcept;
std::string_view to_string(Side side) noexcept;
std::string_view to_string(MarginMode mode) noexcept;

inline constexpr double no_cap = std::numeric_limits<double>::infinity();

// The largest amount in the quote currency (balance, notional) the engine computes with: far
// beyond any account, and small enough that every sum of a run stays finite (squared losses
// over 2^63 paths, drawdowns kept in single precision). The validator refuses a scenario whose
// balance or notionals exceed it on a plausible path; a path that exceeds it anyway is left
// out of the statistics and counted (SimulationInfo::overflowed_paths).
inline constexpr double max_amount = 1e30;

// One maintenance-margin tier: applies to notionals in (previous cap, notional_cap].
struct Tier {
    double notional_cap = no_cap;
    double rate = 0.0;
    double amount = 0.0;  // the exchanges' "maintenance amount", subtracted from q*P*rate
    std::optional<double> max_leverage;
};

// A place in the scenario file, 1-based; 0 = not written there. For checks made after loading.
struct SourcePosition {
    std::size_t line = 0;
    std::size_t column = 0;
};

struct Simulation {
    std::uint64_t paths = 0;
    double horizon_days = 0.0;
    int steps_per_day = 0;
    std::uint64_t seed = 0;
    PriceModel model = PriceModel::gaussian;
    Monitoring monitoring = Monitoring::continuous;
    ImportanceSampling importance_sampling = ImportanceSampling::none;
    double dof = 0.0;  // student_t, and garch with student_t innovations
    // [jumps] on top of the diffusion: `jumps = true` in [simulation], or model = "jump".
    bool jumps = false;
    int threads = 0;   // 0 = all cores

    int steps = 0;          // round(horizon_days * steps_per_day)
    double dt_years = 0.0;  // 1 / (365 * steps_per_day)
    double dt_days() const noexcept { return 1.0 / steps_per_day; }

    // Where the keys that size a run are written (the [simulation] table's own position when
    // a key is left to its default): the run-size check of estimate_run.hpp points there.
    SourcePosition paths_at;
    SourcePosition horizon_days_at;
    SourcePosition steps_per_day_at;
};

struct Asset {
    std::string symbol;
    double price = 0.0;
    double volatility = 0.0;  // annualised, of log returns
    double drift = 0.0;       // annualised arithmetic drift mu
    std::vector<Tier> tiers;  // a flat rate is one uncapped tier
    std::string tier_table;   // the reference of a bundled table ("binance-usdm/BTCUSDT"), else empty
    double funding_rate = 0.0;  // per 8 hours, paid by longs to shorts
};

struct Position {
    std::string symbol;
    std::size_t asset = 0;  // index into Scenario::assets
    Side side = Side::long_side;
    double margin = 0.0;
    double leverage = 0.0;     // notional at entry / margin
    double quantity = 0.0;     // in the base asset
    double entry_price = 0.0;  // default: the asset's price
    MarginMode mode = MarginMode::cross;  // isolated or cross

    double notional_at_entry() const noexcept { return quantity * entry_price; }
};

// The law of a log jump: normal with this mean and standard deviation.
struct JumpSize {
    double mean = 0.0;
    double vol = 0.0;
    // kappa = E[e^J] - 1, the mean relative price move of a jump (drift compensation).
    double kappa() const noexcept;
};

// [jumps] (simulation.jumps, or model = "jump"): Poisson jumps on top of the diffusion. Market-wide jumps hit every
// asset at the same step; idiosyncratic ones hit one asset. Per-asset vectors in [[assets]] order.
struct Jumps {
    double intensity = 0.0;                       // market-wide jumps per year
    std::vector<JumpSize> market;                 // per asset
    std::vector<double> idiosyncratic_intensity;  // per asset, per year; 0 = none
    std::vector<JumpSize> idiosyncratic;          // per asset
};

// What a regime's paths draw besides its volatilities and correlation: their innovations
// (gaussian, or Student-t with its own dof) and, when the scenario has jumps, whether they jump.
struct RegimeState {
    Innovations innovations = Innovations::gaussian;
    double dof = 0.0;  // student_t only
    bool jumps = false;  // [jumps] hit this regime's paths: by default whenever the scenario has jumps
};

// model = "regime" ([regime]): a calm and a stress regime, each path switching between them.
// Calm is the [[assets]] volatilities and [correlation]; stress has its own of both. Each
// carries its own innovations and jump switch ([regime.calm], [regime.stress]).
struct Regimes {
    double calm_to_stress = 0.0;  // switching intensities, per year
    double stress_to_calm = 0.0;
    StartRegime start = StartRegime::stationary;
    std::vector<double> stress_volatility;   // per asset, annualised
    std::vector<double> stress_correlation;  // row-major, positive semi-definite
    double stress_correlation_repair_distance = 0.0;
    bool stress_correlation_repaired = false;
    std::array<RegimeState, 2> states;  // [0] calm, [1] stress

    // Long-run share of time in stress: calm_to_stress / (calm_to_stress + stress_to_calm).
    double stationary_stress_share() const noexcept {
        return calm_to_stress / (calm_to_stress + stress_to_calm);
    }
};

// One asset's GARCH(1,1) recursion of its daily variance h (squared daily log-return units):
// h <- omega + alpha eps^2 + beta h after each day, eps the day's innovation.
struct GarchParameters {
    double omega = 0.0;  // > 0
    double alpha = 0.0;  // >= 0
    double beta = 0.0;   // >= 0, alpha + beta < 1
    double persistence() const noexcept { return alpha + beta; }
    // The long-run daily variance omega / (1 - alpha - beta).
    double long_run_variance() const noexcept { return omega / (1.0 - alpha - beta); }
};

// model = "garch" ([garch]): each asset's daily variance follows its GARCH(1,1) recursion on
// every path, from today's (the [[assets]] volatility^2 / 365); the standardised innovations
// are correlated by [correlation].
struct Garch {
    Innovations innovations = Innovations::gaussian;
    std::vector<GarchParameters> assets;  // per asset, in [[assets]] order
};

// model = "fhs" ([fhs]): filtered historical simulation. Each asset's daily variance follows the
// filter's recursion on every path as under garch (EWMA: omega 0, alpha 1 - lambda, beta
// lambda), from today's; each simulated day resamples one historical day's vector of
// standardised residuals of all assets, whole (docs/model.md#filtered-historical-simulation).
struct Fhs {
    static constexpr std::size_t min_days = 30;  // the fewest days a residual set may have
    FhsFilter filter = FhsFilter::ewma;
    double lambda = 0.94;                 // filter ewma
    std::vector<GarchParameters> assets;  // per asset, in [[assets]] order: the recursion
    // Where the residual set comes from: the CSV path as written in the scenario, or empty
    // when it is embedded ([fhs.residuals]).
    std::string residuals_file;
    std::vector<std::string> dates;  // ISO, strictly increasing, one per historical day
    std::vector<double> residuals;   // day-major: [day * asset_count + asset]

    std::size_t days() const noexcept { return dates.size(); }
};

// [uncertainty] (docs/model.md#parameter-uncertainty): the volatilities are estimates, not known
// values. With `returns` = nu, the number of (gaussian-equivalent) daily returns they were
// estimated from, each path draws its own: variances vol_i^2 W_ii / nu with W ~ Wishart(R, nu),
// R the scenario's correlation, so that each variance is vol_i^2 chi^2_nu / nu (mean vol_i^2,
// relative sd sqrt(2 / nu)) and correlated assets are misjudged together. Under garch and fhs the
// draw is of today's variance; the recursion then runs from it.
struct ParameterUncertainty {
    double returns = 0.0;  // nu; 0 = off: the volatilities are taken as known
    bool on() const noexcept { return returns > 0.0; }
    // sqrt(2 / nu): each drawn variance's standard deviation relative to the scenario's.
    double variance_relative_sd() const noexcept { return std::sqrt(2.0 / returns); }
    // The least nu for `assets` assets: Bartlett's chi-squares of nu, nu - 1, ..., nu - n + 1
    // degrees of freedom must each have at least 2 (the engine's chi-square sampler).
    static double fewest_returns(std::size_t assets) noexcept { return static_cast<double>(assets) + 1.0; }
};

struct Scenario {
    std::string source;  // file path, or a name for in-memory text
    Simulation simulation;
    double balance = 0.0;
    LiquidationPolicy policy = LiquidationPolicy::full;
    double fee_rate = 0.0;
    std::vector<Asset> assets;
    std::vector<double> correlation;  // row-major, assets.size()^2, positive semi-definite
    double correlation_repair_distance = 0.0;  // Frobenius norm moved by repair = "nearest"
    bool correlation_repaired = false;
    std::vector<Position> positions;
    Jumps jumps;      // simulation.jumps only
    Regimes regimes;  // model = "regime" only
    Garch garch;      // model = "garch" only
    Fhs fhs;          // model = "fhs" only
    ParameterUncertainty uncertainty;
    std::vector<std::string> warnings;
    // The keys set from outside the file (LoadOptions::overrides), "KEY=VALUE" as given, in order.
    std::vector<std::string> overrides;

    std::size_t asset_count() const noexcept { return assets.size(); }
    double correlation_at(std::size_t i, std::size_t j) const noexcept {
        return correlation[i * assets.size() + j];
    }
    // Collateral of the cross wallet of an account mode: balance minus isolated margins
    // (cross: the balance; as_configured: minus the `isolated` positions' margins;
    // isolated: 0, there is no cross pool).
    double cross_wallet(MarginMode mode) const noexcept;
};

// A key of the scenario file set from outside it, as `--set KEY=VALUE` gives it
// (docs/scenario-format.md#overriding-keys-from-the-command-line). KEY is a dotted path of the
// file: `simulation.steps_per_day`, `positions[1].margin`, an entry of [[assets]] or
// [[positions]] by its symbol (`assets.BTC.volatility`), a correlation pair (`correlation.BTC/ETH`,
// set in the matrix, both halves, or among the pairs). VALUE is a TOML value (288, 0.9, true,
// "discrete"); text that is not one (a bare word such as discrete) is a string.
struct ScenarioOverride {
    std::string key;
    std::string value;

    std::string text() const { return key + '=' + value; }  // "KEY=VALUE"
};

// "KEY=VALUE" split at its first '='. Throws InputError naming `--set ARGUMENT` when there is
// no '=' or the key is empty.
ScenarioOverride parse_override(std::string_view argument);

// How a scenario is loaded. A tier table reference (tiers = "binance-usdm/BTCUSDT") names the
// file <reference>.toml, looked up in `tiers_dir` when it is not empty, then in the directory
// `exchanges` next to the scenario file (next to `source_name` for parse_scenario).
// `overrides` are applied in order to the file's TOML before it is read, so that every value is
// checked as if the file held it; an error in a value set there names `--set KEY=VALUE`
// instead of a line of the file.
struct LoadOptions {
    std::filesystem::path tiers_dir;
    std::vector<ScenarioOverride> overrides = {};
};

// Parses and validates a scenario; throws InputError naming file, line, column and key.
Scenario load_scenario(const std::filesystem::path& path, const LoadOptions& options = {});
Scenario parse_scenario(std::string_view toml_text, std::string_view source_name,
                        const LoadOptions& options = {});

// Overrides applied after loading (command-line flags); re-derived fields are kept in step.
void set_paths(Scenario& scenario, std::uint64_t paths);

// The numerical guard of load_scenario, for a scenario changed after loading (a sweep point):
// "assets[i].<key>: ..." or "positions[j]: ..." when a price overflows a double or a notional
// passes max_amount on a plausible path (docs/model.md#numerical-guards); empty when none does.
std::optional<std::string> find_overflow(const Scenario& scenario);

// Maintenance margin of a position of notional `notional` under a tier table:
// notional * rate - amount of the tier whose range holds the notional
// (docs/model.md#maintenance-margin-and-tiers).
double maintenance_margin(const std::vector<Tier>& tiers, double notional) noexcept;
std::size_t tier_index(const std::vector<Tier>& tiers, double notional) noexcept;

}  // namespace marginsim
