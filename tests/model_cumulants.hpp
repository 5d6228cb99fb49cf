#pragma once
// The horizon log returns of a price model run as the engine runs it, and their first four
// cumulants with standard errors, against Merton's closed form (a diffusion plus compound
// Poisson normal jumps): shared by the jump, regime and combined-model tests.

#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

#include "engine/market_model.hpp"
#include "marginsim/simulate.hpp"

namespace marginsim::testing::model_moments {

// Horizon log returns x_T - x_0 of every asset: [asset][path], over `blocks` blocks of 1024
// paths (stream = block index), as the engine runs them.
inline std::vector<std::vector<double>> horizon_log_returns(const Scenario& scenario, std::size_t blocks) {
    // The price model alone: discrete monitoring, which draws no bridge normals.
    Scenario s = scenario;
    s.simulation.monitoring = Monitoring::discrete;
    const MarketModel model(s);
    const std::size_t n = block_size;
    PathBlock paths(s.asset_count(), n);
    std::vector<std::vector<double>> out(s.asset_count());
    for (std::size_t b = 0; b < blocks; ++b) {
        RandomStream rng(s.simulation.seed, b);
        model.start(paths, n, rng);
        for (int k = 0; k < s.simulation.steps; ++k) model.step(paths, rng);
        for (std::size_t i = 0; i < s.asset_count(); ++i)
            for (std::size_t p = 0; p < n; ++p)
                out[i].push_back(paths.log_price(i)[p] - model.start_log_price()[i]);
    }
    return out;
}

// The first four cumulants of a sample (central-moment estimators).
struct Cumulants {
    double k1 = 0.0, k2 = 0.0, k3 = 0.0, k4 = 0.0;
};

inline Cumulants cumulants(const double* x, std::size_t n) {
    double mean = 0.0;
    for (std::size_t k = 0; k < n; ++k) mean += x[k];
    mean /= static_cast<double>(n);
    double m2 = 0.0, m3 = 0.0, m4 = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double d = x[k] - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    const auto count = static_cast<double>(n);
    m2 /= count;
    m3 /= count;
    m4 /= count;
    return {mean, m2, m3, m4 - 3.0 * m2 * m2};
}

// Cumulants of the whole sample, and their standard errors from `batches` independent
// batches (the spread of the batch estimates over sqrt(batches)).
struct Estimate {
    Cumulants value;
    Cumulants error;
};

inline Estimate estimate_cumulants(const std::vector<double>& x, std::size_t batches) {
    Estimate e;
    e.value = cumulants(x.data(), x.size());
    const std::size_t size = x.size() / batches;
    std::vector<Cumulants> per(batches);
    for (std::size_t b = 0; b < batches; ++b) per[b] = cumulants(x.data() + b * size, size);
    const auto spread = [&](double Cumulants::*field) {
        double mean = 0.0;
        for (const Cumulants& c : per) mean += c.*field;
        mean /= static_cast<double>(batches);
        double ss = 0.0;
        for (const Cumulants& c : per) ss += (c.*field - mean) * (c.*field - mean);
        // A batch of size/batches has batches times the variance of the whole sample.
        return std::sqrt(ss / static_cast<double>(batches - 1)) / std::sqrt(static_cast<double>(batches));
    };
    e.error = {spread(&Cumulants::k1), spread(&Cumulants::k2), spread(&Cumulants::k3), spread(&Cumulants::k4)};
    return e;
}

// Merton: X_T = (mu - vol^2/2 - sum lambda kappa) T + vol W_T + compound Poisson sums of
// normal jumps; each jump source adds lambda T E[J^r]-type terms to the cumulants.
inline Cumulants merton_cumulants(double mu, double vol, double t, const std::vector<std::pair<double, JumpSize>>& sources) {
    Cumulants c;
    c.k1 = (mu - 0.5 * vol * vol) * t;
    c.k2 = vol * vol * t;
    for (const auto& [lambda, j] : sources) {
        const double m = j.mean, s = j.vol;
        c.k1 += -lambda * j.kappa() * t + lambda * t * m;
        c.k2 += lambda * t * (m * m + s * s);
        c.k3 += lambda * t * (m * m * m + 3.0 * m * s * s);
        c.k4 += lambda * t * (m * m * m * m + 6.0 * m * m * s * s + 3.0 * s * s * s * s);
    }
    return c;
}

}  // namespace marginsim::testing::model_moments
