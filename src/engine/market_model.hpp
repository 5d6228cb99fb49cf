#pragma once
// The market model (engine internal; docs/model.md#price-paths): correlated log-price paths, one
// step at a time, for a block of paths stored asset-major (structure of arrays). It knows nothing
// of positions; the random numbers come from a RandomStream the caller owns.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim {

// A block of paths at one monitoring step: log_price and price, [asset * capacity + path].
class PathBlock {
public:
    PathBlock(std::size_t asset_count, std::size_t capacity);

    std::size_t asset_count() const noexcept { return asset_count_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() const noexcept { return size_; }

    // Every path of the first n restarts at the given log prices, at step 0, in the calm regime,
    // with a mixing scale of 1.
    void reset(std::span<const double> start_log_price, std::size_t n);
    // The steps the paths have taken since reset(): the model's clock.
    int steps_taken() const noexcept { return steps_taken_; }
    void count_step() noexcept { ++steps_taken_; }

    double* log_price(std::size_t asset) noexcept { return log_price_.data() + asset * capacity_; }
    const double* log_price(std::size_t asset) const noexcept {
        return log_price_.data() + asset * capacity_;
    }
    double* price(std::size_t asset) noexcept { return price_.data() + asset * capacity_; }
    const double* price(std::size_t asset) const noexcept {
        return price_.data() + asset * capacity_;
    }
    // Scratch the model fills each step: standard normals z, [asset * capacity + path],
    // and the per-path chi-square draws of the student_t model.
    double* normals(std::size_t asset) noexcept { return normals_.data() + asset * capacity_; }
    std::span<double> normals() noexcept { return {normals_.data(), asset_count_ * capacity_}; }
    std::span<double> chi_square() noexcept { return {chi_square_.data(), size_}; }
    // Per-path uniforms of a step: the regime switches (regime model).
    std::span<double> uniforms() noexcept { return {uniforms_.data(), size_}; }
    // Per-path scratch of one asset's innovation (regime model).
    double* shock() noexcept { return shock_.data(); }

    // The regime of each path (regime model): 0 calm, 1 stress. reset() starts every path calm.
    std::uint8_t* regime() noexcept { return regime_.data(); }
    const std::uint8_t* regime() const noexcept { return regime_.data(); }

    // What the margin book reads of the step just taken, besides the prices
    // (docs/model.md#monitoring): the regime it was taken in, the scale of its innovations
    // (student_t: sqrt((dof - 2) / w) of the model day; else 1), and under continuous
    // monitoring one vector of bridge normals per path, correlated as that step's innovations,
    // [asset * capacity + path].
    std::uint8_t* step_regime() noexcept { return step_regime_.data(); }
    const std::uint8_t* step_regime() const noexcept { return step_regime_.data(); }
    double* mixing_scale() noexcept { return mixing_scale_.data(); }
    const double* mixing_scale() const noexcept { return mixing_scale_.data(); }
    double* bridge_normals(std::size_t asset) noexcept { return bridge_normals_.data() + asset * capacity_; }
    const double* bridge_normals(std::size_t asset) const noexcept {
        return bridge_normals_.data() + asset * capacity_;
    }

    // The jumps drawn for the coming step (jump model), sparse: the paths hit, and per path
    // hit the log jump of every asset, [slot * asset_count + asset].
    std::size_t jump_count() const noexcept { return jump_count_; }
    const std::uint32_t* jump_paths() const noexcept { return jump_path_.data(); }
    const double* jump_sizes(std::size_t slot) const noexcept {
        return jump_size_.data() + slot * asset_count_;
    }
    void clear_jumps() noexcept;
    // The slot of `path` in this step's jumps, added (zero jumps) if it has none yet.
    double* jump_sizes_of(std::size_t path) noexcept;
    // The slot of `path` in this step's jumps, -1 if it has none.
    std::int32_t jump_slot(std::size_t path) const noexcept { return jump_slot_[path]; }
    // Under continuous monitoring, per slot: when the step's jumps arrive (a fraction of the
    // step; all of a path's jumps of one step at once, docs/model.md#monitoring) and the log
    // prices just before, [slot * asset_count + asset], the diffusion's bridge at that time.
    double jump_time(std::size_t slot) const noexcept { return jump_time_[slot]; }
    double& jump_time(std::size_t slot) noexcept { return jump_time_[slot]; }
    double* pre_jump_log_price(std::size_t slot) noexcept { return pre_jump_.data() + slot * asset_count_; }
    const double* pre_jump_log_price(std::size_t slot) const noexcept {
        return pre_jump_.data() + slot * asset_count_;
    }
    // Importance sampling (MarketModel::set_tilt): per path, the tilt component it is drawn
    // under (0: none), u'W of its normals' Brownian motions (both set by MarketModel::start when
    // a tilt is active), and once the block is run its likelihood ratio (MarketModel::weigh).
    std::uint8_t* tilted() noexcept { return tilted_.data(); }
    double* tilt_score() noexcept { return tilt_score_.data(); }
    const double* tilt_score() const noexcept { return tilt_score_.data(); }
    std::span<double> weights() noexcept { return {weight_.data(), size_}; }
    std::span<const double> weights() const noexcept { return {weight_.data(), size_}; }

    // The garch model's state, per asset and path [asset * capacity + path], sized by
    // enable_garch() (MarketModel::start; empty under the other models): the path's daily
    // variance h of the current day, the day's step sd sqrt(h / steps_per_day) and log drift
    // per step, the innovation summed over the day so far, and the step sd relative to the
    // scenario's (sqrt(h / h_0): what continuous monitoring scales the step's covariance by).
    void enable_garch();
    bool garch() const noexcept { return !garch_variance_.empty(); }
    double* garch_variance(std::size_t asset) noexcept { return garch_variance_.data() + asset * capacity_; }
    double* garch_step_sd(std::size_t asset) noexcept { return garch_step_sd_.data() + asset * capacity_; }
    const double* garch_step_sd(std::size_t asset) const noexcept { return garch_step_sd_.data() + asset * capacity_; }
    double* garch_step_drift(std::size_t asset) noexcept { return garch_step_drift_.data() + asset * capacity_; }
    double* garch_day_shock(std::size_t asset) noexcept { return garch_day_shock_.data() + asset * capacity_; }
    double* variance_scale(std::size_t asset) noexcept { return variance_scale_.data() + asset * capacity_; }
    // The fhs model's state besides the garch one (enable_fhs()): per asset and path, the part
    // of the day's resampled residual not yet taken by the day's steps.
    void enable_fhs();
    double* fhs_remaining(std::size_t asset) noexcept { return fhs_remaining_.data() + asset * capacity_; }
    const double* variance_scale(std::size_t asset) const noexcept {
        return variance_scale_.data() + asset * capacity_;
    }

    // Per slot, the normals of the bridge's value at the jump time (scratch of the model).
    double* jump_bridge_normals(std::size_t slot) noexcept { return jump_bridge_normals_.data() + slot * asset_count_; }

private:
    std::size_t asset_count_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    int steps_taken_ = 0;
    std::vector<double> log_price_;
    std::vector<double> price_;
    std::vector<double> normals_;
    std::vector<double> chi_square_;
    std::vector<double> uniforms_;
    std::vector<double> shock_;
    std::vector<std::uint8_t> regime_;
    std::vector<std::uint8_t> step_regime_;
    std::vector<double> mixing_scale_;
    std::vector<double> bridge_normals_;
    std::size_t jump_count_ = 0;
    std::vector<std::uint32_t> jump_path_;
    std::vector<std::int32_t> jump_slot_;  // per path: its slot, or -1
    std::vector<double> jump_size_;
    std::vector<double> jump_time_;
    std::vector<double> pre_jump_;
    std::vector<double> jump_bridge_normals_;
    std::vector<std::uint8_t> tilted_;
    std::vector<double> tilt_score_;
    std::vector<double> weight_;
    std::vector<double> garch_variance_;
    std::vector<double> garch_step_sd_;
    std::vector<double> garch_step_drift_;
    std::vector<double> garch_day_shock_;
    std::vector<double> variance_scale_;
    std::vector<double> fhs_remaining_;
};

// An independent random stream per (seed, stream index): a Boost.Random engine with
// normal and chi-square distributions behind a small interface.
class RandomStream {
public:
    RandomStream(std::uint64_t seed, std::uint64_t stream_index);
    ~RandomStream();
    RandomStream(RandomStream&&) noexcept;
    RandomStream& operator=(RandomStream&&) noexcept;

    void fill_normals(std::span<double> out);
    void fill_chi_square(double dof, std::span<double> out);
    // Uniforms in [0, 1), and single standard normals for the rare draws (jump sizes).
    void fill_uniforms(std::span<double> out);
    double uniform();
    double normal();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Importance sampling's change of measure (docs/model.md#importance-sampling): a share of the
// paths draws its standard normals z with a constant mean, so that their Brownian motions W
// drift along a unit direction u by nu_k per day, component k of the tilted share picked per
// path with equal chances; every path's likelihood ratio is that of the defensive mixture,
// 1 / (plain + sum_k share_k exp(nu_k u'W_t - nu_k^2 t / 2)), at most 1 / plain.
struct ImportanceTilt {
    std::vector<double> direction;      // u, per normal (the correlation factor's columns)
    std::vector<double> drift_per_day;  // nu_k per component, > 0
    double tilted_fraction = 0.5;
    bool active() const noexcept { return !drift_per_day.empty(); }
};

// The covariance of the log-price innovations of one step (vol_i vol_l rho_il dt, row-major
// n x n) in each regime: [0] calm (every model), [1] stress (the regime model; else a copy).
std::array<std::vector<double>, 2> step_covariances(const Scenario& scenario);

class MarketModel {
public:
    explicit MarketModel(const Scenario& scenario);

    std::size_t asset_count() const noexcept { return start_log_price_.size(); }
    std::span<const double> start_log_price() const noexcept { return start_log_price_; }
    PriceModel model() const noexcept { return model_; }
    // Lower-triangular factor L of the correlation matrix (row-major): e = L z.
    std::span<const double> correlation_factor() const noexcept { return factor_; }

    // Restarts the first n paths of the block at the start prices, in the start regime
    // (regime model; a stationary start draws it from `rng`).
    void start(PathBlock& paths, std::size_t n, RandomStream& rng) const;
    // Draws one step of innovations for the block's paths from `rng` into its scratch. The
    // model's own clock is the day (docs/model.md#model-clock): the student_t mixing variable
    // is drawn on a day's first step, the regime switches after its last.
    void draw(PathBlock& paths, RandomStream& rng) const;
    // Moves every path of the block one step with the innovations already drawn,
    // then refreshes prices: x += (mu - vol^2/2) dt + vol sqrt(dt) e (+ the step's jumps,
    // the drift compensated; in the regime model with the path's regime, which then switches;
    // in the garch model with the path's own variance of the day in place of vol^2 / 365).
    // Prices follow as P e^(step) when the steps are short (as e^x to within ~1e-14), else e^x.
    void advance(PathBlock& paths) const;
    // From now on paths are drawn under `tilt` (start() picks each path's component, draw()
    // shifts the tilted paths' normals and scores every path).
    void set_tilt(const ImportanceTilt& tilt);
    const ImportanceTilt& tilt() const noexcept { return tilt_; }
    // The likelihood ratio of each path of the block at the steps taken (all 1 without a
    // tilt) into paths.weights(): valid at whatever step the block stopped, the ratio being a
    // martingale.
    void weigh(PathBlock& paths) const;
    // draw + advance.
    void step(PathBlock& paths, RandomStream& rng) const {
        draw(paths, rng);
        advance(paths);
    }
    // A source of Poisson events over one step: the mean count lambda dt and exp(-lambda dt).
    struct PoissonStep {
        double none = 1.0;
        double mean = 0.0;
    };
    // The Poisson count whose CDF first exceeds the uniform u (inversion).
    static std::uint32_t poisson_count(const PoissonStep& source, double u) noexcept;

private:
    struct Term {
        std::size_t asset;
        double coefficient;
    };
    void draw_jumps(PathBlock& paths, RandomStream& rng) const;
    void draw_jump_times(PathBlock& paths, RandomStream& rng) const;
    void apply_jumps(PathBlock& paths) const;
    void bridge_to_jump_times(PathBlock& paths) const;
    void advance_regime(PathBlock& paths) const;
    void advance_diffusion(PathBlock& paths) const;
    // The day's multivariate t scale of every path: from the model's dof (student_t, garch
    // with student_t innovations), or from the dof of the path's regime (1 in a gaussian one).
    void draw_mixing(PathBlock& paths, RandomStream& rng) const;
    // The diffusion's sd of asset i over the step path p takes (jump model's bridge to the
    // jump time): the model's, the path's regime's or its garch day's, times its t scale.
    double step_sd(const PathBlock& paths, std::size_t p, std::size_t i) const noexcept;
    // Garch model (market_garch.cpp): every path at today's variance; a step with each path's
    // own variance (rolled forward by the recursion when a new day starts).
    void start_garch(PathBlock& paths, std::size_t n) const;
    void roll_garch_variance(PathBlock& paths) const;
    void advance_garch(PathBlock& paths) const;
    void correlate_normals_row(PathBlock& paths, std::size_t asset) const;
    void move_garch_row(PathBlock& paths, std::size_t asset, const double* mixing) const;
    // Parameter uncertainty (market_garch.cpp): each path's variances of today scaled by
    // W_ii / nu, W ~ Wishart(R, nu) drawn by Bartlett's decomposition.
    void draw_variance_factors(PathBlock& paths, std::size_t n, RandomStream& rng) const;
    // Fhs model (market_fhs.cpp): the garch model's variance recursion, each day's innovations
    // one historical day's residual vector, taken over the day's steps as a Brownian bridge.
    void start_fhs(PathBlock& paths, std::size_t n) const;
    void draw_fhs_days(PathBlock& paths, RandomStream& rng) const;
    void advance_fhs(PathBlock& paths) const;

    bool day_starts(int step) const noexcept { return (step - 1) % steps_per_day_ == 0; }
    bool day_ends(int step) const noexcept { return step % steps_per_day_ == 0; }
    void correlate_bridge_normals(PathBlock& paths) const;
    void tilt_normals(PathBlock& paths) const;

    PriceModel model_;
    bool jumps_;  // [jumps] on top of the diffusion
    double dof_;
    int steps_per_day_;
    bool continuous_;  // monitoring: bridge normals are drawn each step
    std::vector<double> start_log_price_;
    std::vector<double> step_sd_;             // vol sqrt(dt) per asset
    std::vector<double> log_drift_per_step_;  // (mu - vol^2/2 - sum lambda kappa) dt
    std::vector<double> factor_;              // n x n, row-major, lower triangular
    // Per asset i, the non-zero vol_i sqrt(dt) L[i][c], diagonal first: x_i += drift_i + sum.
    std::vector<std::vector<Term>> row_terms_;

    // Jump model: market-wide jumps (one count per path, sizes per asset, correlated through L)
    // and per-asset idiosyncratic ones.
    PoissonStep market_jumps_;
    std::vector<JumpSize> market_size_;
    std::vector<PoissonStep> idiosyncratic_jumps_;
    std::vector<JumpSize> idiosyncratic_size_;

    // Regime model, per regime r (0 calm, 1 stress): drift per step [r * n + i] and the full
    // lower triangle of vol_i sqrt(dt) L_r, [(r * n + i) * n + c]; switching probabilities per
    // step.
    std::vector<double> regime_drift_;
    std::vector<double> regime_rows_;
    std::array<double, 2> switch_probability_{};  // per day: calm -> stress, stress -> calm
    // The correlation factor of each regime ([0] = factor_; [1] the stress one, regime model).
    std::array<std::vector<double>, 2> regime_factor_;
    std::vector<double> regime_step_sd_;  // vol_r sqrt(dt), [r * n + i]
    std::array<RegimeState, 2> regime_state_{};
    bool regime_mixing_ = false;  // some regime has student_t innovations
    StartRegime start_regime_ = StartRegime::calm;
    // The day's multivariate t scale: student_t, and garch with student_t innovations.
    bool daily_mixing_ = false;
    // Each path carries its own daily variances (PathBlock::enable_garch): the garch and fhs
    // models, and any other under parameter uncertainty, which runs as a garch of constant
    // variance (omega 0, alpha 0, beta 1) from each path's drawn one.
    bool path_variances_ = false;
    double uncertainty_returns_ = 0.0;  // nu of [uncertainty]; 0 = off
    // Garch model, per asset: the recursion, today's daily variance h_0 and mu dt.
    std::vector<GarchParameters> garch_;
    std::vector<double> garch_start_variance_;
    std::vector<double> drift_per_step_;
    // Fhs model: the residual set, day-major [day * asset_count + asset] (Fhs::residuals).
    std::vector<double> fhs_residuals_;
    std::size_t fhs_days_ = 0;
    bool compound_ = false;  // prices follow short steps by compounding (see advance)
    double largest_step_sd_ = 0.0;
    ImportanceTilt tilt_;
    // Per normal c, the mean of z_c under each component (0 under none), [c * (K + 1) + k].
    std::vector<double> tilt_shift_;
    std::vector<double> tilt_direction_step_;  // u_c sqrt(dt): a step's u'dW = sum_c of it z_c
};

}  // namespace marginsim
