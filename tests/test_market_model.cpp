// The sampler against the model of SPEC 2: correlation of the innovations, unit variance
// and the kurtosis of the multivariate t, and reproducible streams.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "marginsim/market_model.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

namespace {

// Innovations e = (x(k+1) - x(k) - drift dt) / (vol sqrt dt), recovered from the log prices,
// for `steps` steps of a block of `n` paths: [asset][sample].
std::vector<std::vector<double>> recover_innovations(const Scenario& scenario, std::size_t n, int steps,
                                                     std::uint64_t stream) {
    const MarketModel model(scenario);
    const std::size_t assets = scenario.asset_count();
    PathBlock paths(assets, n);
    paths.reset(model.start_log_price(), n);
    RandomStream rng(scenario.simulation.seed, stream);
    std::vector<std::vector<double>> e(assets);
    std::vector<double> before(assets * n);
    const double dt = scenario.simulation.dt_years;
    for (int k = 0; k < steps; ++k) {
        for (std::size_t i = 0; i < assets; ++i)
            std::copy_n(paths.log_price(i), n, before.begin() + static_cast<std::ptrdiff_t>(i * n));
        model.step(paths, rng);
        for (std::size_t i = 0; i < assets; ++i) {
            const Asset& a = scenario.assets[i];
            const double drift = (a.drift - 0.5 * a.volatility * a.volatility) * dt;
            const double scale = a.volatility * std::sqrt(dt);
            for (std::size_t p = 0; p < n; ++p)
                e[i].push_back((paths.log_price(i)[p] - before[i * n + p] - drift) / scale);
        }
    }
    return e;
}

double mean(const std::vector<double>& x) {
    double s = 0.0;
    for (double v : x) s += v;
    return s / static_cast<double>(x.size());
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
    const double mx = mean(x), my = mean(y);
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        sxy += (x[k] - mx) * (y[k] - my);
        sxx += (x[k] - mx) * (x[k] - mx);
        syy += (y[k] - my) * (y[k] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

double central_moment(const std::vector<double>& x, int order) {
    const double m = mean(x);
    double s = 0.0;
    for (double v : x) s += std::pow(v - m, order);
    return s / static_cast<double>(x.size());
}

}  // namespace

TEST_CASE("sample correlation of the innovations matches the input matrix") {
    const std::vector<double> rho{1.0, 0.81, 0.74, 0.81, 1.0, 0.72, 0.74, 0.72, 1.0};
    const Scenario scenario = ScenarioBuilder(10000, 1, 24)
                                  .asset("BTC", 66800, 0.47, 0.1)
                                  .asset("ETH", 2000, 0.65, -0.2)
                                  .asset("SOL", 80, 0.85)
                                  .correlation(rho)
                                  .build();
    const auto e = recover_innovations(scenario, 4096, 50, 3);  // 204,800 samples per asset
    const double n = static_cast<double>(e[0].size());
    for (std::size_t i = 0; i < 3; ++i) {
        // Unit variance: the standard error of a sample variance of normals is sqrt(2/n).
        CHECK(std::abs(central_moment(e[i], 2) - 1.0) < 5.0 * std::sqrt(2.0 / n));
        CHECK(std::abs(mean(e[i])) < 5.0 / std::sqrt(n));
        for (std::size_t j = i + 1; j < 3; ++j) {
            const double r = rho[i * 3 + j];
            // Standard error of a sample correlation of normals: (1 - r^2) / sqrt(n).
            CHECK(std::abs(correlation(e[i], e[j]) - r) < 5.0 * (1.0 - r * r) / std::sqrt(n));
        }
    }
}

TEST_CASE("perfectly correlated assets move together (semi-definite factor)") {
    const Scenario scenario = ScenarioBuilder(10000, 1, 24)
                                  .asset("A", 100, 0.5)
                                  .asset("B", 10, 0.5)
                                  .uniform_correlation(1.0)
                                  .build();
    const auto e = recover_innovations(scenario, 256, 10, 0);
    for (std::size_t k = 0; k < e[0].size(); ++k) REQUIRE(e[0][k] == Approx(e[1][k]).margin(1e-9));
}

TEST_CASE("student_t innovations have unit variance and excess kurtosis 6/(dof-4)") {
    const double dof = 12.0;  // finite eighth moment, so the kurtosis estimate has a standard error
    const Scenario scenario = ScenarioBuilder(10000, 1, 24)
                                  .asset("A", 100, 0.6)
                                  .asset("B", 100, 0.6)
                                  .uniform_correlation(0.5)
                                  .student_t(dof)
                                  .build();
    // Batch means: 40 independent streams, one estimate each; their spread is the error.
    const int batches = 40;
    std::vector<double> variance, kurtosis, corr;
    for (int b = 0; b < batches; ++b) {
        const auto e = recover_innovations(scenario, 4096, 25, static_cast<std::uint64_t>(b));
        const double m2 = central_moment(e[0], 2);
        variance.push_back(m2);
        kurtosis.push_back(central_moment(e[0], 4) / (m2 * m2) - 3.0);
        corr.push_back(correlation(e[0], e[1]));
    }
    auto check_mean = [&](const std::vector<double>& x, double expected) {
        const double m = mean(x);
        const double se = std::sqrt(central_moment(x, 2) / (batches - 1));
        INFO("mean " << m << " expected " << expected << " standard error " << se);
        CHECK(std::abs(m - expected) < 4.0 * se);
    };
    check_mean(variance, 1.0);
    check_mean(kurtosis, 6.0 / (dof - 4.0));
    check_mean(corr, 0.5);
    // A Gaussian would have no excess kurtosis: the test can tell the two apart.
    CHECK(mean(kurtosis) > 0.5);
}

TEST_CASE("a stream depends only on the seed and the stream index") {
    auto draw = [](std::uint64_t seed, std::uint64_t stream) {
        RandomStream rng(seed, stream);
        std::vector<double> z(64);
        rng.fill_normals(z);
        return z;
    };
    CHECK(draw(42, 5) == draw(42, 5));
    CHECK(draw(42, 5) != draw(42, 6));
    CHECK(draw(42, 5) != draw(43, 5));
}

TEST_CASE("with zero volatility the price grows at the drift exactly") {
    const Scenario scenario = ScenarioBuilder(10000, 10, 4).asset("A", 100, 0.0, 0.3).build();
    const MarketModel model(scenario);
    PathBlock paths(1, 8);
    paths.reset(model.start_log_price(), 8);
    RandomStream rng(1, 0);
    for (int k = 0; k < 40; ++k) model.step(paths, rng);
    const double t = 10.0 / 365.0;
    for (std::size_t p = 0; p < 8; ++p) CHECK(paths.price(0)[p] == Approx(100.0 * std::exp(0.3 * t)).epsilon(1e-12));
}
