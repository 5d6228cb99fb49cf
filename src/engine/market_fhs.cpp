// The fhs model's paths (docs/model.md#filtered-historical-simulation): the garch model's
// per-path variance recursion (start_garch, roll_garch_variance, move_garch_row), with each
// day's standardised innovations one historical day's residual vector Z of all assets, drawn
// uniformly per path on the day's first step. The day's m steps are a Brownian bridge to Z: at
// the step with r steps left and R of Z not yet taken, the standardised step innovation is
// u = R / r + sqrt((r - 1) / (r m)) (L xi), xi the step's normals; the last step takes all of R,
// so the day's innovation is Z exactly whatever m is.
#include "engine/market_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "numerics/vector_math.hpp"

namespace marginsim {

namespace {

// u = R / r + spread e; R -= u; e <- sqrt(m) u: the step's normals as move_garch_row reads them
// (sd sqrt(h / m) times sqrt(m) u = sqrt(h) u).
[[MARGINSIM_HOT_KERNEL]] void bridge_step(double* __restrict e, double* __restrict remaining, double inverse_left,
                                          double spread, double root_steps, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        const double u = remaining[k] * inverse_left + spread * e[k];
        remaining[k] -= u;
        e[k] = root_steps * u;
    }
}

// The last step of a day: u = R, all that is left.
[[MARGINSIM_HOT_KERNEL]] void last_step(double* __restrict e, const double* __restrict remaining, double root_steps,
                                        std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) e[k] = root_steps * remaining[k];
}

}  // namespace

void MarketModel::start_fhs(PathBlock& paths, std::size_t n) const {
    paths.enable_fhs();
    start_garch(paths, n);
}

// One historical day per path, uniform in [0, days): its residual vector is the day's to take.
void MarketModel::draw_fhs_days(PathBlock& paths, RandomStream& rng) const {
    const std::span<double> u = paths.uniforms();
    rng.fill_uniforms(u);
    const std::size_t assets = asset_count();
    const double days = static_cast<double>(fhs_days_);
    for (std::size_t i = 0; i < assets; ++i) {
        double* remaining = paths.fhs_remaining(i);
        const double* column = fhs_residuals_.data() + i;
        for (std::size_t k = 0; k < u.size(); ++k) {
            const auto day = std::min(fhs_days_ - 1, static_cast<std::size_t>(u[k] * days));
            remaining[k] = column[day * assets];
        }
    }
}

void MarketModel::advance_fhs(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const int step = paths.steps_taken() + 1;
    if (step > 1 && day_starts(step)) roll_garch_variance(paths);
    const int left = steps_per_day_ - (step - 1) % steps_per_day_;  // r, this step included
    const double root_steps = std::sqrt(static_cast<double>(steps_per_day_));
    const double spread = std::sqrt(static_cast<double>(left - 1) / (static_cast<double>(left) * steps_per_day_));
    for (std::size_t i = asset_count(); i-- > 0;) {
        if (left == 1) {
            last_step(paths.normals(i), paths.fhs_remaining(i), root_steps, n);
        } else {
            correlate_normals_row(paths, i);
            bridge_step(paths.normals(i), paths.fhs_remaining(i), 1.0 / left, spread, root_steps, n);
        }
        move_garch_row(paths, i, nullptr);
    }
}

}  // namespace marginsim
