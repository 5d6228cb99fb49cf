#include "engine/market_model.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>

#include "numerics/correlation.hpp"
#include "engine/rng.hpp"
#include "numerics/vector_math.hpp"

namespace marginsim {

PathBlock::PathBlock(std::size_t asset_count, std::size_t capacity)
    : asset_count_(asset_count),
      capacity_(capacity),
      log_price_(asset_count * capacity),
      price_(asset_count * capacity),
      normals_(asset_count * capacity),
      chi_square_(capacity),
      uniforms_(capacity),
      shock_(capacity),
      regime_(capacity, 0),
      step_regime_(capacity, 0),
      mixing_scale_(capacity, 1.0),
      bridge_normals_(asset_count * capacity),
      jump_path_(capacity),
      jump_slot_(capacity, -1),
      jump_size_(asset_count * capacity),
      jump_time_(capacity),
      pre_jump_(asset_count * capacity),
      jump_bridge_normals_(asset_count * capacity),
      tilted_(capacity, 0),
      tilt_score_(capacity, 0.0),
      weight_(capacity, 1.0) {}

void PathBlock::enable_garch() {
    const std::size_t size = asset_count_ * capacity_;
    if (garch_variance_.size() == size) return;
    for (std::vector<double>* v :
         {&garch_variance_, &garch_step_sd_, &garch_step_drift_, &garch_day_shock_, &variance_scale_})
        v->assign(size, 0.0);
}

void PathBlock::enable_fhs() {
    enable_garch();
    if (fhs_remaining_.size() != asset_count_ * capacity_) fhs_remaining_.assign(asset_count_ * capacity_, 0.0);
}

void PathBlock::clear_jumps() noexcept {
    for (std::size_t s = 0; s < jump_count_; ++s) jump_slot_[jump_path_[s]] = -1;
    jump_count_ = 0;
}

double* PathBlock::jump_sizes_of(std::size_t path) noexcept {
    assert(path < size_);
    if (jump_slot_[path] < 0) {
        jump_slot_[path] = static_cast<std::int32_t>(jump_count_);
        jump_path_[jump_count_] = static_cast<std::uint32_t>(path);
        std::fill_n(jump_size_.data() + jump_count_ * asset_count_, asset_count_, 0.0);
        ++jump_count_;
    }
    return jump_size_.data() + static_cast<std::size_t>(jump_slot_[path]) * asset_count_;
}

void PathBlock::reset(std::span<const double> start_log_price, std::size_t n) {
    assert(start_log_price.size() == asset_count_ && n <= capacity_);
    size_ = n;
    steps_taken_ = 0;
    clear_jumps();
    std::fill_n(regime_.begin(), n, std::uint8_t{0});
    std::fill_n(step_regime_.begin(), n, std::uint8_t{0});
    std::fill_n(mixing_scale_.begin(), n, 1.0);
    for (std::size_t i = 0; i < asset_count_; ++i) {
        const double x0 = start_log_price[i];
        const double p0 = std::exp(x0);
        double* x = log_price(i);
        double* p = price(i);
        for (std::size_t k = 0; k < n; ++k) {
            x[k] = x0;
            p[k] = p0;
        }
    }
}

namespace {

MarketModel::PoissonStep poisson_step(double intensity, double dt) {
    return {std::exp(-intensity * dt), intensity * dt};
}

}  // namespace

std::array<std::vector<double>, 2> step_covariances(const Scenario& scenario) {
    const std::size_t n = scenario.asset_count();
    const double dt = scenario.simulation.dt_years;
    const bool regimes = scenario.simulation.model == PriceModel::regime;
    std::array<std::vector<double>, 2> out;
    for (std::size_t r = 0; r < 2; ++r) {
        const bool stress = r == 1 && regimes;
        const std::vector<double>& correlation = stress ? scenario.regimes.stress_correlation : scenario.correlation;
        const auto vol = [&](std::size_t i) {
            return stress ? scenario.regimes.stress_volatility[i] : scenario.assets[i].volatility;
        };
        out[r].resize(n * n);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t l = 0; l < n; ++l) out[r][i * n + l] = vol(i) * vol(l) * correlation[i * n + l] * dt;
    }
    return out;
}

MarketModel::MarketModel(const Scenario& scenario)
    : model_(scenario.simulation.model),
      jumps_(scenario.simulation.jumps),
      dof_(scenario.simulation.dof),
      steps_per_day_(scenario.simulation.steps_per_day),
      continuous_(scenario.simulation.monitoring == Monitoring::continuous),
      factor_(detail::cholesky_lower(scenario.correlation, scenario.asset_count())),
      start_regime_(scenario.regimes.start),
      daily_mixing_(model_ == PriceModel::student_t ||
                    (model_ == PriceModel::garch && scenario.garch.innovations == Innovations::student_t)),
      path_variances_(model_ == PriceModel::garch || model_ == PriceModel::fhs || scenario.uncertainty.on()),
      uncertainty_returns_(scenario.uncertainty.returns),
      garch_(model_ == PriceModel::fhs ? scenario.fhs.assets : scenario.garch.assets),
      fhs_residuals_(scenario.fhs.residuals),
      fhs_days_(scenario.fhs.days()) {
    const double dt = scenario.simulation.dt_years;
    const std::size_t n = scenario.asset_count();
    assert(model_ != PriceModel::regime || !scenario.uncertainty.on());  // refused by the scenario
    // A constant variance per path: the recursion h <- h.
    if (path_variances_ && garch_.empty()) garch_.assign(n, GarchParameters{0.0, 0.0, 1.0});
    if (jumps_) {
        market_jumps_ = poisson_step(scenario.jumps.intensity, dt);
        market_size_ = scenario.jumps.market;
        for (std::size_t i = 0; i < n; ++i)
            idiosyncratic_jumps_.push_back(poisson_step(scenario.jumps.idiosyncratic_intensity[i], dt));
        idiosyncratic_size_ = scenario.jumps.idiosyncratic;
    }
    std::vector<double> compensations;  // sum lambda kappa of the asset's jumps, per year
    for (std::size_t i = 0; i < n; ++i) {
        const Asset& asset = scenario.assets[i];
        start_log_price_.push_back(std::log(asset.price));
        step_sd_.push_back(asset.volatility * std::sqrt(dt));
        // Jumps compensated: E[S_T] = S_0 exp(mu T) as without them.
        const double compensation =
            jumps_ ? scenario.jumps.intensity * market_size_[i].kappa() +
                         scenario.jumps.idiosyncratic_intensity[i] * idiosyncratic_size_[i].kappa()
                   : 0.0;
        compensations.push_back(compensation);
        log_drift_per_step_.push_back(
            (asset.drift - 0.5 * asset.volatility * asset.volatility - compensation) * dt);
        drift_per_step_.push_back((asset.drift - compensation) * dt);
        garch_start_variance_.push_back(asset.volatility * asset.volatility / 365.0);
    }
    if (model_ == PriceModel::regime) {
        const Regimes& regimes = scenario.regimes;
        const std::vector<double> stress_factor = detail::cholesky_lower(regimes.stress_correlation, n);
        regime_state_ = regimes.states;
        regime_mixing_ = regime_state_[0].innovations == Innovations::student_t ||
                         regime_state_[1].innovations == Innovations::student_t;
        regime_drift_.resize(2 * n);
        regime_step_sd_.resize(2 * n);
        regime_rows_.assign(2 * n * n, 0.0);
        for (std::size_t r = 0; r < 2; ++r) {
            const std::vector<double>& factor = r == 0 ? factor_ : stress_factor;
            for (std::size_t i = 0; i < n; ++i) {
                const double vol = r == 0 ? scenario.assets[i].volatility : regimes.stress_volatility[i];
                // Jumps compensated in the regimes they hit.
                const double compensation = regime_state_[r].jumps ? compensations[i] : 0.0;
                regime_drift_[r * n + i] = (scenario.assets[i].drift - 0.5 * vol * vol - compensation) * dt;
                regime_step_sd_[r * n + i] = vol * std::sqrt(dt);
                for (std::size_t c = 0; c <= i; ++c)
                    regime_rows_[(r * n + i) * n + c] = vol * std::sqrt(dt) * factor[i * n + c];
            }
        }
        // The chain switches once a model day (see draw): its probabilities are per day.
        const double day = dt * steps_per_day_;
        switch_probability_ = {-std::expm1(-regimes.calm_to_stress * day),
                               -std::expm1(-regimes.stress_to_calm * day)};
        regime_factor_[1] = stress_factor;
    }
    regime_factor_[0] = factor_;
    if (model_ != PriceModel::regime) regime_factor_[1] = factor_;
    // Prices compound (see advance_row) when a step past exp_small's range is an 8-sigma event
    // of the diffusion in every asset and regime (jumps move the prices on their own).
    double largest_step_sd = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        largest_step_sd = std::max(largest_step_sd, scenario.assets[i].volatility * std::sqrt(dt));
        if (model_ == PriceModel::regime)
            largest_step_sd = std::max(largest_step_sd, scenario.regimes.stress_volatility[i] * std::sqrt(dt));
    }
    largest_step_sd_ = largest_step_sd;
    compound_ = 8.0 * largest_step_sd <= detail::small_exp_limit;
    // Row i of vol_i sqrt(dt) L, its non-zero entries only, the diagonal first (see advance).
    row_terms_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double vol = scenario.assets[i].volatility * std::sqrt(dt);
        for (std::size_t c = i + 1; c-- > 0;) {
            const double a = vol * factor_[i * n + c];
            if (a != 0.0) row_terms_[i].push_back({c, a});
        }
    }
}

void MarketModel::start(PathBlock& paths, std::size_t n, RandomStream& rng) const {
    paths.reset(start_log_price_, n);
    if (model_ == PriceModel::fhs)
        start_fhs(paths, n);
    else if (path_variances_)
        start_garch(paths, n);
    if (uncertainty_returns_ > 0.0) draw_variance_factors(paths, n, rng);
    if (tilt_.active()) {
        const std::span<double> u = paths.uniforms().first(n);
        rng.fill_uniforms(u);
        // Component 1..K with chance tilted_fraction / K each, else 0 (plain).
        const double components = static_cast<double>(tilt_.drift_per_day.size());
        std::uint8_t* component = paths.tilted();
        std::fill_n(paths.tilt_score(), n, 0.0);
        for (std::size_t k = 0; k < n; ++k) {
            component[k] = 0;
            if (u[k] < tilt_.tilted_fraction)
                component[k] = static_cast<std::uint8_t>(
                    1 + std::min(components - 1.0, std::floor(u[k] / tilt_.tilted_fraction * components)));
        }
    }
    if (model_ != PriceModel::regime || start_regime_ == StartRegime::calm) return;
    std::uint8_t* regime = paths.regime();
    if (start_regime_ == StartRegime::stress) {
        std::fill_n(regime, n, std::uint8_t{1});
        return;
    }
    // The stationary law of the chain as simulated (per-day switching probabilities): the
    // share of time in stress stays the same every day.
    const double stress_share =
        switch_probability_[0] / (switch_probability_[0] + switch_probability_[1]);
    const std::span<double> u = paths.uniforms();
    rng.fill_uniforms(u);
    for (std::size_t k = 0; k < n; ++k) regime[k] = u[k] < stress_share ? 1 : 0;
}

std::uint32_t MarketModel::poisson_count(const PoissonStep& source, double u) noexcept {
    // Inversion from 0: almost every draw stops at once, since u < exp(-lambda dt) ~ 1.
    // A u above the CDF as rounded (within 1e-16 of 1) stops where the CDF stops growing.
    double probability = source.none;
    double cumulative = probability;
    std::uint32_t count = 0;
    while (u >= cumulative) {
        probability *= source.mean / (count + 1);
        const double next = cumulative + probability;
        if (next == cumulative) break;
        ++count;
        cumulative = next;
    }
    return count;
}

void MarketModel::draw_jumps(PathBlock& paths, RandomStream& rng) const {
    const std::size_t n = paths.size();
    const std::size_t assets = asset_count();
    paths.clear_jumps();
    const std::span<double> u = paths.uniforms();
    // Under the regime model only the paths in a regime with jumps on are hit.
    const std::uint8_t* regime = paths.regime();
    const std::array<bool, 2> hit = {model_ != PriceModel::regime || regime_state_[0].jumps,
                                     model_ != PriceModel::regime || regime_state_[1].jumps};
    if (market_jumps_.mean > 0.0) {
        rng.fill_uniforms(u);
        for (std::size_t k = 0; k < n; ++k) {
            if (u[k] < market_jumps_.none || !hit[regime[k]]) continue;
            const std::uint32_t count = poisson_count(market_jumps_, u[k]);
            if (count == 0) continue;
            // The sum of `count` jumps: mean count m_i, normal part sqrt(count) s_i (L z)_i.
            double* size = paths.jump_sizes_of(k);
            const double root = std::sqrt(static_cast<double>(count));
            for (std::size_t c = 0; c < assets; ++c) {
                const double z = rng.normal();
                // Row i of L z accumulates column c's term: no per-jump scratch of n normals.
                for (std::size_t i = c; i < assets; ++i) size[i] += factor_[i * assets + c] * z;
            }
            for (std::size_t i = 0; i < assets; ++i)
                size[i] = static_cast<double>(count) * market_size_[i].mean + root * market_size_[i].vol * size[i];
        }
    }
    for (std::size_t i = 0; i < assets; ++i) {
        const PoissonStep& source = idiosyncratic_jumps_[i];
        if (source.mean <= 0.0) continue;
        rng.fill_uniforms(u);
        for (std::size_t k = 0; k < n; ++k) {
            if (u[k] < source.none || !hit[regime[k]]) continue;
            const std::uint32_t count = poisson_count(source, u[k]);
            if (count == 0) continue;
            const JumpSize& jump = idiosyncratic_size_[i];
            paths.jump_sizes_of(k)[i] += static_cast<double>(count) * jump.mean +
                                         std::sqrt(static_cast<double>(count)) * jump.vol * rng.normal();
        }
    }
}

void MarketModel::draw(PathBlock& paths, RandomStream& rng) const {
    const std::size_t n = paths.size();
    const int step = paths.steps_taken() + 1;
    for (std::size_t i = 0; i < asset_count(); ++i) rng.fill_normals({paths.normals(i), n});
    if (tilt_.active()) tilt_normals(paths);
    // One mixing variable per model day, shared by the day's steps: the day's returns are the
    // multivariate t that dof was calibrated on, whatever steps_per_day is.
    if ((daily_mixing_ || regime_mixing_) && day_starts(step)) draw_mixing(paths, rng);
    if (jumps_) {
        draw_jumps(paths, rng);
        if (continuous_) draw_jump_times(paths, rng);
    }
    if (model_ == PriceModel::regime && day_ends(step)) rng.fill_uniforms(paths.uniforms());
    if (model_ == PriceModel::fhs && day_starts(step)) draw_fhs_days(paths, rng);
    if (continuous_)
        for (std::size_t i = 0; i < asset_count(); ++i) rng.fill_normals({paths.bridge_normals(i), n});
}

void MarketModel::draw_mixing(PathBlock& paths, RandomStream& rng) const {
    const std::size_t n = paths.size();
    const std::span<double> w = paths.chi_square();
    double* scale = paths.mixing_scale();
    if (!regime_mixing_) {
        rng.fill_chi_square(dof_, w);
        for (std::size_t k = 0; k < n; ++k) scale[k] = std::sqrt((dof_ - 2.0) / w[k]);
        return;
    }
    // Each regime with student_t innovations draws for every path, kept where the path is in it
    // (a path's regime holds for the whole day: it switches after the day's last step).
    const std::uint8_t* regime = paths.regime();
    std::fill_n(scale, n, 1.0);
    for (std::uint8_t r = 0; r < 2; ++r) {
        const RegimeState& state = regime_state_[r];
        if (state.innovations != Innovations::student_t) continue;
        rng.fill_chi_square(state.dof, w);
        for (std::size_t k = 0; k < n; ++k)
            if (regime[k] == r) scale[k] = std::sqrt((state.dof - 2.0) / w[k]);
    }
}

void MarketModel::set_tilt(const ImportanceTilt& tilt) {
    tilt_ = tilt;
    tilt_shift_.clear();
    tilt_direction_step_.clear();
    if (!tilt_.active()) return;
    assert(tilt_.direction.size() == asset_count());
    const double root_dt = std::sqrt(1.0 / steps_per_day_);
    double largest_shift = 0.0;
    for (const double u : tilt_.direction) {
        tilt_direction_step_.push_back(u * root_dt);
        tilt_shift_.push_back(0.0);
        for (const double nu : tilt_.drift_per_day) {
            tilt_shift_.push_back(nu * u * root_dt);
            largest_shift = std::max(largest_shift, std::abs(tilt_shift_.back()));
        }
    }
    // A tilted normal is 8 sigma from its own mean as rarely as a plain one.
    compound_ = (8.0 + largest_shift) * largest_step_sd_ <= detail::small_exp_limit;
}

// The tilted paths' normals moved by their component's mean, and every path's u'W advanced by
// the step's u'dW (the normals as drawn).
void MarketModel::tilt_normals(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const std::size_t components = tilt_.drift_per_day.size() + 1;
    const std::uint8_t* component = paths.tilted();
    double* score = paths.tilt_score();
    for (std::size_t c = 0; c < asset_count(); ++c) {
        const double along = tilt_direction_step_[c];
        if (along == 0.0) continue;
        const double* shift = tilt_shift_.data() + c * components;
        double* z = paths.normals(c);
        for (std::size_t k = 0; k < n; ++k) {
            z[k] += shift[component[k]];
            score[k] += along * z[k];
        }
    }
}

void MarketModel::weigh(PathBlock& paths) const {
    const std::span<double> weight = paths.weights();
    if (!tilt_.active()) {
        std::fill(weight.begin(), weight.end(), 1.0);
        return;
    }
    const double days = static_cast<double>(paths.steps_taken()) / steps_per_day_;
    const double plain = 1.0 - tilt_.tilted_fraction;
    const double share = tilt_.tilted_fraction / static_cast<double>(tilt_.drift_per_day.size());
    const double* score = paths.tilt_score();
    for (std::size_t k = 0; k < weight.size(); ++k) {
        double mixture = plain;
        // exp overflows to inf for paths far into a tilt: their weight is then 0, as it tends to.
        for (const double nu : tilt_.drift_per_day) mixture += share * std::exp(nu * score[k] - 0.5 * nu * nu * days);
        weight[k] = 1.0 / mixture;
    }
}

namespace {

// Up to 4 terms a_t z_t of a row of the correlation product.
struct RowTerms {
    std::array<const double*, 4> z{};
    std::array<double, 4> a{};
    std::size_t count = 0;

    void add(const double* normals, double coefficient) noexcept {
        z[count] = normals;
        a[count] = coefficient;
        ++count;
    }
};

// x[k] += drift + scale[k] * sum_t a_t z_t[k] over Terms (0 to 4) terms, then p[k] moves with
// it (detail::move_log_prices): one pass over the paths with the terms unrolled. Not Scaled:
// the gaussian model.
template <std::size_t Terms, bool Scaled>
[[MARGINSIM_HOT_KERNEL]] void advance_row(double* __restrict x, double* __restrict p, const RowTerms& row, double drift,
                                          const double* __restrict scale, bool compound, std::size_t n) {
    const double* __restrict z0 = row.z[0];
    const double* __restrict z1 = row.z[1];
    const double* __restrict z2 = row.z[2];
    const double* __restrict z3 = row.z[3];
    const double a0 = row.a[0], a1 = row.a[1], a2 = row.a[2], a3 = row.a[3];
    const auto step = [&](std::size_t k) {
        double e = 0.0;
        if constexpr (Terms > 0) e = a0 * z0[k];
        if constexpr (Terms > 1) e += a1 * z1[k];
        if constexpr (Terms > 2) e += a2 * z2[k];
        if constexpr (Terms > 3) e += a3 * z3[k];
        if constexpr (Scaled) e *= scale[k];
        return drift + e;
    };
    detail::move_log_prices(x, p, n, compound, step);
}

template <bool Scaled>
void advance_row(double* x, double* p, const RowTerms& row, double drift, const double* scale, bool compound,
                 std::size_t n) {
    switch (row.count) {
    case 0: advance_row<0, Scaled>(x, p, row, drift, scale, compound, n); break;
    case 1: advance_row<1, Scaled>(x, p, row, drift, scale, compound, n); break;
    case 2: advance_row<2, Scaled>(x, p, row, drift, scale, compound, n); break;
    case 3: advance_row<3, Scaled>(x, p, row, drift, scale, compound, n); break;
    default: advance_row<4, Scaled>(x, p, row, drift, scale, compound, n); break;
    }
}

// out[k] = sum_t a_t z_t[k] over 4 terms, or out[k] += it. `out` may be one of the z_t:
// each element is read before it is written.
[[MARGINSIM_HOT_KERNEL]] void accumulate_row(double* out, const RowTerms& row, bool add, std::size_t n) {
    const auto [z0, z1, z2, z3] = row.z;
    const auto [a0, a1, a2, a3] = row.a;
    for (std::size_t k = 0; k < n; ++k) {
        const double e = ((a0 * z0[k] + a1 * z1[k]) + a2 * z2[k]) + a3 * z3[k];
        out[k] = add ? out[k] + e : e;
    }
}

}  // namespace

namespace {

// x[k] += drift_r + e[k] with r the path's regime, then p[k] moves with it.
[[MARGINSIM_HOT_KERNEL]] void advance_regime_row(double* __restrict x, double* __restrict p,
                                                 const double* __restrict e,
                                                 const std::uint8_t* __restrict regime,
                                                 double calm_drift, double stress_drift,
                                                 bool compound, std::size_t n) {
    detail::move_log_prices(x, p, n, compound,
                            [&](std::size_t k) { return (regime[k] != 0 ? stress_drift : calm_drift) + e[k]; });
}

// e[k] *= s[k].
[[MARGINSIM_HOT_KERNEL]] void multiply(double* __restrict e, const double* __restrict s, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) e[k] *= s[k];
}

// e[k] *= a_r, a_r the coefficient of the path's regime.
[[MARGINSIM_HOT_KERNEL]] void scale_by_regime(double* __restrict e, const std::uint8_t* __restrict regime, double calm,
                                              double stress, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) e[k] *= regime[k] != 0 ? stress : calm;
}

// e[k] (+)= a_r z[k], a_r the coefficient of the path's regime.
[[MARGINSIM_HOT_KERNEL]] void add_regime_term(double* __restrict e, const double* __restrict z,
                                              const std::uint8_t* __restrict regime, double calm,
                                              double stress, bool add, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        const double term = (regime[k] != 0 ? stress : calm) * z[k];
        e[k] = add ? e[k] + term : term;
    }
}

}  // namespace

void MarketModel::advance_regime(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const std::size_t assets = asset_count();
    std::uint8_t* regime = paths.regime();
    std::copy_n(regime, n, paths.step_regime());
    double* e = paths.shock();
    for (std::size_t i = 0; i < assets; ++i) {
        const double* calm = regime_rows_.data() + i * assets;
        const double* stress = regime_rows_.data() + (assets + i) * assets;
        for (std::size_t c = 0; c <= i; ++c)
            add_regime_term(e, paths.normals(c), regime, calm[c], stress[c], c > 0, n);
        if (regime_mixing_) multiply(e, paths.mixing_scale(), n);
        advance_regime_row(paths.log_price(i), paths.price(i), e, regime, regime_drift_[i],
                           regime_drift_[assets + i], compound_, n);
    }
    // The step was taken in the regime it started in; the switch, once a day after its last
    // step, applies from the next day.
    if (!day_ends(paths.steps_taken() + 1)) return;
    const std::span<double> u = paths.uniforms();
    const double to_stress = switch_probability_[0];
    const double to_calm = switch_probability_[1];
    for (std::size_t k = 0; k < n; ++k) {
        const bool stress = regime[k] != 0;
        const bool switches = u[k] < (stress ? to_calm : to_stress);
        regime[k] = static_cast<std::uint8_t>(stress != switches);
    }
}

// Continuous monitoring with jumps: the arrival time of each hit path's jumps in the step
// (uniform; a path's rare several jumps in one step arrive together) and the normals of the
// diffusion's bridge at that time (correlated once the step is taken, in its regime).
void MarketModel::draw_jump_times(PathBlock& paths, RandomStream& rng) const {
    const std::size_t assets = asset_count();
    for (std::size_t s = 0; s < paths.jump_count(); ++s) {
        paths.jump_time(s) = rng.uniform();
        double* z = paths.jump_bridge_normals(s);
        for (std::size_t c = 0; c < assets; ++c) z[c] = rng.normal();
    }
}

double MarketModel::step_sd(const PathBlock& paths, std::size_t p, std::size_t i) const noexcept {
    double sd = step_sd_[i];
    if (model_ == PriceModel::regime) sd = regime_step_sd_[paths.step_regime()[p] * asset_count() + i];
    if (paths.garch()) sd = paths.garch_step_sd(i)[p];  // the path's own variance of the day
    return sd * paths.mixing_scale()[p];
}

// Once the step is taken: the log prices just before the jumps, x0 + t D + sqrt(t (1 - t)) s e
// for the diffusion's move D = x1 - x0 - J over the step, t the jump time (the Brownian bridge),
// s the step's sd of the path and e = L z correlated as the step's innovations.
void MarketModel::bridge_to_jump_times(PathBlock& paths) const {
    const std::size_t assets = asset_count();
    const std::uint32_t* hit = paths.jump_paths();
    for (std::size_t s = 0; s < paths.jump_count(); ++s) {
        const std::size_t p = hit[s];
        const std::vector<double>& factor = regime_factor_[paths.step_regime()[p]];
        double* e = paths.jump_bridge_normals(s);
        for (std::size_t i = assets; i-- > 0;) {  // e = L z, rows from the last
            double sum = 0.0;
            for (std::size_t c = 0; c <= i; ++c) sum += factor[i * assets + c] * e[c];
            e[i] = sum;
        }
        const double t = paths.jump_time(s);
        const double spread = std::sqrt(t * (1.0 - t));
        double* x = paths.pre_jump_log_price(s);  // x0 until now
        for (std::size_t i = 0; i < assets; ++i) {
            const double move = paths.log_price(i)[p] - x[i] - paths.jump_sizes(s)[i];
            x[i] += t * move + spread * step_sd(paths, p, i) * e[i];
        }
    }
}

void MarketModel::apply_jumps(PathBlock& paths) const {
    const std::size_t assets = asset_count();
    const std::uint32_t* hit = paths.jump_paths();
    for (std::size_t s = 0; s < paths.jump_count(); ++s) {
        const double* size = paths.jump_sizes(s);
        for (std::size_t i = 0; i < assets; ++i) {
            if (continuous_) paths.pre_jump_log_price(s)[i] = paths.log_price(i)[hit[s]];
            paths.log_price(i)[hit[s]] += size[i];
            paths.price(i)[hit[s]] *= std::exp(size[i]);  // for a compounding advance
        }
    }
}

void MarketModel::advance(PathBlock& paths) const {
    if (continuous_) correlate_bridge_normals(paths);
    // Jumps go into the log prices first: the diffusion's pass refreshes the prices.
    if (jumps_) apply_jumps(paths);
    if (model_ == PriceModel::fhs)
        advance_fhs(paths);
    else if (path_variances_)
        advance_garch(paths);
    else if (model_ == PriceModel::regime)
        advance_regime(paths);
    else
        advance_diffusion(paths);
    if (jumps_ && continuous_) bridge_to_jump_times(paths);
    paths.count_step();
}

void MarketModel::advance_diffusion(PathBlock& paths) const {
    const std::size_t n = paths.size();
    // A multivariate t of unit variance: one chi-square scale per path and day, shared by all
    // assets, so that a market-wide shock hits every asset at once.
    const double* scale = model_ == PriceModel::student_t ? paths.mixing_scale() : nullptr;
    // Rows from the last: row i needs z_0..z_i, so z_i may hold partial sums of row i once
    // the rows below it are done. Rows of up to 4 terms (all rows, for 4 assets or fewer)
    // take one fused pass; longer ones add 4 terms a pass into z_i first.
    for (std::size_t i = asset_count(); i-- > 0;) {
        const std::vector<Term>& terms = row_terms_[i];
        std::size_t t = 0;
        RowTerms last;
        if (terms.size() > 4) {
            for (; terms.size() - t > 3; t += 4) {
                RowTerms four;
                for (std::size_t u = t; u < t + 4; ++u) four.add(paths.normals(terms[u].asset), terms[u].coefficient);
                accumulate_row(paths.normals(i), four, t > 0, n);
            }
            last.add(paths.normals(i), 1.0);
        }
        for (; t < terms.size(); ++t) last.add(paths.normals(terms[t].asset), terms[t].coefficient);
        if (scale != nullptr)
            advance_row<true>(paths.log_price(i), paths.price(i), last, log_drift_per_step_[i], scale, compound_, n);
        else
            advance_row<false>(paths.log_price(i), paths.price(i), last, log_drift_per_step_[i], nullptr, compound_, n);
    }
}

// e = L_r z of the bridge normals drawn for the step, r the regime the step is taken in (read
// before the regime model moves it): rows from the last, as the factor is lower triangular, so
// that row i may overwrite z_i (its own term first) while rows above still read z_0..z_i-1.
void MarketModel::correlate_bridge_normals(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const std::size_t assets = asset_count();
    const std::vector<double>& calm = regime_factor_[0];
    const std::vector<double>& stress = regime_factor_[1];
    for (std::size_t i = assets; i-- > 0;) {
        const std::size_t at = i * assets;
        double* e = paths.bridge_normals(i);
        scale_by_regime(e, paths.regime(), calm[at + i], stress[at + i], n);
        for (std::size_t c = 0; c < i; ++c)
            if (calm[at + c] != 0.0 || stress[at + c] != 0.0)
                add_regime_term(e, paths.bridge_normals(c), paths.regime(), calm[at + c], stress[at + c], true, n);
    }
}


}  // namespace marginsim
