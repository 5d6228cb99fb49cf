#pragma once
// An independent reference for the liquidation probability of margin pools under fine discrete
// monitoring, written apart from the engine (its own paths, random numbers and margin rule):
// correlated GBM log prices over the horizon, refined by Brownian-bridge bisection down to
// 2^max_level steps over the horizon. Every dyadic point of a level belongs to the grids of that
// level and finer, so one path gives its first liquidation on every grid at once (coupled grids:
// the difference of two grids has a small variance, which the sqrt(dt) extrapolation needs).
//
// The bisection skips an interval when no pool can reach its liquidation condition anywhere in
// it: each asset's bridge leaves the band `reach` standard deviations (vol sqrt(interval)) wide
// around its endpoints with probability exp(-2 reach^2) only (1.3e-14 at reach 4, against some
// 1e2 intervals per path), and a pool's surplus is monotone in each price, so its least value
// over that box of prices is at a corner.
//
// Pools have surplus linear in the prices (flat maintenance rates, no funding, SPEC 3.1, 3.2):
// surplus = constant + sum_i slope_i P_i, liquidated when surplus <= 0.

#include <cmath>
#include <cstdint>
#include <vector>

namespace marginsim::testing {

struct LinearPool {
    double constant = 0.0;
    std::vector<double> slope;  // per asset
};

struct ReferenceMarket {
    std::vector<double> price;        // start prices
    std::vector<double> volatility;   // annualised
    std::vector<double> drift;        // annualised arithmetic drift mu
    std::vector<double> correlation;  // row-major
    double horizon_years = 0.0;
};

// Lower Cholesky factor of a positive definite matrix (row-major n x n).
inline std::vector<double> cholesky(const std::vector<double>& a, std::size_t n) {
    std::vector<double> l(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double sum = a[i * n + j];
            for (std::size_t k = 0; k < j; ++k) sum -= l[i * n + k] * l[j * n + k];
            l[i * n + j] = i == j ? std::sqrt(sum) : sum / l[j * n + j];
        }
    }
    return l;
}

// Standard normals: Marsaglia's polar method on xoshiro256** uniforms (seeded by splitmix64).
class NormalSource {
public:
    explicit NormalSource(std::uint64_t seed) {
        for (std::uint64_t& word : state_) {
            seed += 0x9e3779b97f4a7c15ULL;
            std::uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            word = z ^ (z >> 31);
        }
    }
    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u = 0.0, v = 0.0, r = 0.0;
        do {
            u = 2.0 * uniform() - 1.0;
            v = 2.0 * uniform() - 1.0;
            r = u * u + v * v;
        } while (r >= 1.0 || r == 0.0);
        const double scale = std::sqrt(-2.0 * std::log(r) / r);
        spare_ = v * scale;
        has_spare_ = true;
        return u * scale;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    double uniform() {  // in [0, 1), 53 bits
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return static_cast<double>(result >> 11) * 0x1p-53;
    }
    std::uint64_t state_[4] = {};
    double spare_ = 0.0;
    bool has_spare_ = false;
};

class BridgeReference {
public:
    static constexpr int no_crossing = -1;

    BridgeReference(ReferenceMarket market, std::vector<LinearPool> pools, int max_level, std::uint64_t seed,
                    double reach = 4.0)
        : market_(std::move(market)),
          pools_(std::move(pools)),
          max_level_(max_level),
          n_(market_.price.size()),
          factor_(cholesky(market_.correlation, n_)),
          normal_(seed),
          stack_(static_cast<std::size_t>(max_level + 2) * 2 * n_),
          e_(n_),
          band_(static_cast<std::size_t>(max_level + 1) * 2 * n_),
          midpoint_scale_(static_cast<std::size_t>(max_level + 1)) {
        // Per level and asset, the factors e^(-reach s) and e^(+reach s) that widen a price to
        // the band of an interval of that level.
        for (int level = 0; level <= max_level; ++level) {
            const double years = std::ldexp(market_.horizon_years, -level);
            midpoint_scale_[static_cast<std::size_t>(level)] = std::sqrt(0.25 * years);
            for (std::size_t i = 0; i < n_; ++i) {
                const double spread = reach * market_.volatility[i] * std::sqrt(years);
                band_[(static_cast<std::size_t>(level) * n_ + i) * 2] = std::exp(-spread);
                band_[(static_cast<std::size_t>(level) * n_ + i) * 2 + 1] = std::exp(spread);
            }
        }
    }

    // Per path, the coarsest level holding a liquidated grid point (0: the horizon itself), or
    // no_crossing: the path is liquidated on the grid of 2^L steps iff 0 <= level <= L.
    int next_path() {
        double* start = point(0);
        double* end = point(1);
        correlated_normals(std::sqrt(market_.horizon_years));
        for (std::size_t i = 0; i < n_; ++i) {
            const double vol = market_.volatility[i];
            start[i] = std::log(market_.price[i]);
            start[n_ + i] = market_.price[i];
            end[i] = start[i] + (market_.drift[i] - 0.5 * vol * vol) * market_.horizon_years + e_[i];
            end[n_ + i] = std::exp(end[i]);
        }
        if (liquidated_at(end)) return 0;
        found_ = no_crossing;
        search_limit_ = max_level_;
        bisect(start, end, 0);
        return found_;
    }

private:
    // A point of the stack: n log prices, then their n prices.
    double* point(std::size_t slot) { return stack_.data() + slot * 2 * n_; }
    void correlated_normals(double scale) {
        double z[16];
        for (std::size_t i = 0; i < n_; ++i) z[i] = normal_();
        for (std::size_t i = 0; i < n_; ++i) {
            double sum = 0.0;
            for (std::size_t k = 0; k <= i; ++k) sum += factor_[i * n_ + k] * z[k];
            e_[i] = market_.volatility[i] * scale * sum;
        }
    }
    bool liquidated_at(const double* x) const {
        for (const LinearPool& pool : pools_) {
            double surplus = pool.constant;
            for (std::size_t i = 0; i < n_; ++i) surplus += pool.slope[i] * x[n_ + i];
            if (surplus <= 0.0) return true;
        }
        return false;
    }
    // Can some pool be liquidated inside (a, b), an interval of `level`?
    bool may_liquidate_between(const double* a, const double* b, int level) const {
        const double* band = band_.data() + static_cast<std::size_t>(level) * n_ * 2;
        for (const LinearPool& pool : pools_) {
            double least = pool.constant;
            for (std::size_t i = 0; i < n_; ++i) {
                const double pa = a[n_ + i], pb = b[n_ + i];
                const double worst = pool.slope[i] > 0.0 ? std::min(pa, pb) * band[2 * i] : std::max(pa, pb) * band[2 * i + 1];
                least += pool.slope[i] * worst;
            }
            if (least <= 0.0) return true;
        }
        return false;
    }
    // The interval (a, b) of level `level` (length horizon / 2^level): its midpoint is of level + 1.
    void bisect(const double* a, const double* b, int level) {
        if (level + 1 > search_limit_ || !may_liquidate_between(a, b, level)) return;
        double* mid = point(static_cast<std::size_t>(level) + 2);
        correlated_normals(midpoint_scale_[static_cast<std::size_t>(level)]);
        for (std::size_t i = 0; i < n_; ++i) {
            mid[i] = 0.5 * (a[i] + b[i]) + e_[i];
            mid[n_ + i] = std::exp(mid[i]);
        }
        if (liquidated_at(mid)) {
            found_ = level + 1;
            search_limit_ = level;  // only coarser points can still lower the answer
            return;
        }
        bisect(a, mid, level + 1);
        bisect(mid, b, level + 1);
    }

    ReferenceMarket market_;
    std::vector<LinearPool> pools_;
    int max_level_;
    std::size_t n_;
    std::vector<double> factor_;
    NormalSource normal_;
    std::vector<double> stack_;  // per level, the midpoint being refined ([0] start, [1] end)
    std::vector<double> e_;
    std::vector<double> band_;
    std::vector<double> midpoint_scale_;  // per level: the bridge's midpoint has variance length / 4
    int found_ = no_crossing;
    int search_limit_ = 0;
};

}  // namespace marginsim::testing
