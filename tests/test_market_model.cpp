// The sampler against the model of docs/model.md#price-paths: correlation of the innovations, unit
// variance and the kurtosis of the multivariate t, and reproducible streams.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/market_model.hpp"
#include "sample_moments.hpp"
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

using sample_moments::central_moment;
using sample_moments::correlation;
using sample_moments::mean;

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

// ---------------------------------------------------------------------------------------------
// The generator of the fast path (xoshiro256++ and the batched ziggurat, rng.hpp) and the
// vectorised exp (vector_math.hpp): statistical checks of the normals, accuracy of the exp.
// ---------------------------------------------------------------------------------------------

#include <bit>
#include <limits>
#include <random>

#include "engine/rng.hpp"
#include "numerics/vector_math.hpp"

namespace {

double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Normals of consecutive streams of one seed, drawn in blocks as the engine draws them.
std::vector<double> stream_normals(std::uint64_t seed, std::uint64_t stream, std::size_t n) {
    RandomStream rng(seed, stream);
    std::vector<double> z(n);
    for (std::size_t k = 0; k < n; k += 1024) rng.fill_normals({z.data() + k, std::min<std::size_t>(1024, n - k)});
    return z;
}

// Sample autocorrelation of x at `lag`.
double autocorrelation(const std::vector<double>& x, std::size_t lag) {
    const double m = mean(x);
    double num = 0.0, den = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        den += (x[k] - m) * (x[k] - m);
        if (k + lag < x.size()) num += (x[k] - m) * (x[k + lag] - m);
    }
    return num / den;
}

}  // namespace

TEST_CASE("the normals pass a chi-square goodness-of-fit test on 200 equiprobable bins") {
    // 2,000,000 normals from 20 streams. Under the null the statistic is chi-square with 199
    // degrees of freedom: mean 199, sd 19.9; its 0.9999 quantile is 281.9 (fixed seed).
    constexpr std::size_t bins = 200;
    std::vector<double> counts(bins, 0.0);
    std::size_t n = 0;
    for (std::uint64_t stream = 0; stream < 20; ++stream) {
        for (double z : stream_normals(2024, stream, 100000)) {
            const auto bin = static_cast<std::size_t>(standard_normal_cdf(z) * bins);
            ++counts[std::min(bin, bins - 1)];
            ++n;
        }
    }
    const double expected = static_cast<double>(n) / bins;
    double chi2 = 0.0;
    for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
    INFO("chi-square " << chi2 << " on " << bins - 1 << " degrees of freedom");
    CHECK(chi2 < 281.9);
    // And the statistic is not suspiciously small either (0.0001 quantile: 133.2).
    CHECK(chi2 > 133.2);
}

TEST_CASE("the normals' far tails (the ziggurat's tail algorithm) have the normal's mass") {
    // Beyond the base layer's edge (3.44) the ziggurat samples the tail separately.
    const std::size_t n = 4000000;
    std::size_t beyond_35 = 0, beyond_45 = 0;
    for (std::uint64_t stream = 0; stream < 4; ++stream) {
        for (double z : stream_normals(77, stream, n / 4)) {
            beyond_35 += std::abs(z) > 3.5;
            beyond_45 += std::abs(z) > 4.5;
        }
    }
    auto check_binomial = [&](std::size_t hits, double p) {
        const double expected = p * static_cast<double>(n);
        const double sd = std::sqrt(expected * (1.0 - p));
        INFO(hits << " beyond, expected " << expected << " +- " << sd);
        CHECK(std::abs(static_cast<double>(hits) - expected) < 4.5 * sd);
    };
    check_binomial(beyond_35, 2.0 * standard_normal_cdf(-3.5));
    check_binomial(beyond_45, 2.0 * standard_normal_cdf(-4.5));
}

TEST_CASE("the normals show no autocorrelation within a stream nor correlation across streams") {
    const std::size_t n = 1000000;
    const std::vector<double> z = stream_normals(5, 0, n);
    std::vector<double> z2(n);
    for (std::size_t k = 0; k < n; ++k) z2[k] = z[k] * z[k];
    // Standard error of a sample autocorrelation of independent draws: 1 / sqrt(n).
    const double bound = 4.5 / std::sqrt(static_cast<double>(n));
    for (std::size_t lag : {1, 2, 3, 4, 7, 64, 1023, 1024, 1025}) {
        INFO("lag " << lag);
        CHECK(std::abs(autocorrelation(z, lag)) < bound);
        CHECK(std::abs(autocorrelation(z2, lag)) < bound);  // magnitudes: layer and tail choices
    }
    // Streams of neighbouring blocks, and the same block under neighbouring seeds.
    CHECK(std::abs(correlation(z, stream_normals(5, 1, n))) < bound);
    CHECK(std::abs(correlation(z, stream_normals(6, 0, n))) < bound);
}

TEST_CASE("the vectorised exp is within 1 ulp of libm's and falls back to it outside its domain") {
    std::mt19937_64 random(3);
    std::uniform_real_distribution<double> wide(-detail::exp_max_argument, detail::exp_max_argument);
    std::uniform_real_distribution<double> prices(-12.0, 25.0);
    double worst_ulps = 0.0;
    for (int k = 0; k < 2000000; ++k) {
        const double x = k % 2 == 0 ? wide(random) : prices(random);
        const double exact = std::exp(x);
        const double ulp = std::nextafter(exact, std::numeric_limits<double>::infinity()) - exact;
        worst_ulps = std::max(worst_ulps, std::abs(detail::exp_vectorizable(x) - exact) / ulp);
    }
    CHECK(worst_ulps <= 1.0);
    CHECK(detail::exp_vectorizable(0.0) == 1.0);
    CHECK(detail::exp_vectorizable(1.0) == Approx(std::exp(1.0)).epsilon(1e-15));

    std::vector<double> x{0.5, -3.0, 800.0, 11.0}, y(4);
    detail::exp_array(x.data(), y.data(), x.size());
    CHECK(std::isinf(y[2]));
    for (std::size_t k : {0, 1, 3}) CHECK(y[k] == std::exp(x[k]));
    x = {-800.0, 1.0};
    detail::exp_array(x.data(), y.data(), x.size());
    CHECK(y[0] == 0.0);
}

TEST_CASE("the short-step exp is within 1 ulp of the exact value over its range") {
    std::mt19937_64 random(5);
    std::uniform_real_distribution<double> step(-detail::small_exp_limit, detail::small_exp_limit);
    double worst_ulps = 0.0;
    for (int k = 0; k < 2000000; ++k) {
        double d = step(random);
        if (k % 4 == 0) d *= 1e-3;  // the steps of short monitoring intervals
        const long double exact = std::exp(static_cast<long double>(d));
        const double rounded = static_cast<double>(exact);
        const double ulp = std::nextafter(rounded, std::numeric_limits<double>::infinity()) - rounded;
        worst_ulps = std::max(worst_ulps, static_cast<double>(std::abs(detail::exp_small(d) - exact) / ulp));
    }
    CHECK(worst_ulps <= 1.0);
    CHECK(detail::exp_small(0.0) == 1.0);
}

TEST_CASE("compounded prices stay within 1e-12 of e^x over 2016 steps, and long steps fall back to e^x") {
    // 5-minute steps compound; a daily step of a volatile asset is too long for the series.
    for (const int steps_per_day : {288, 1}) {
        INFO("steps per day " << steps_per_day);
        const Scenario s = ScenarioBuilder(10000, 7, steps_per_day)
                               .asset("A", 100.0, 0.8)
                               .asset("B", 3.0, 2.5)
                               .uniform_correlation(0.5)
                               .position("A", Side::long_side, 100, 2)
                               .build();
        const MarketModel model(s);
        RandomStream rng(3, 0);
        const std::size_t n = 512;
        PathBlock paths(2, n);
        model.start(paths, n, rng);
        double worst = 0.0;
        for (int step = 0; step < s.simulation.steps; ++step) {
            model.step(paths, rng);
            for (std::size_t i = 0; i < 2; ++i)
                for (std::size_t p = 0; p < n; ++p)
                    worst = std::max(worst, std::abs(paths.price(i)[p] / std::exp(paths.log_price(i)[p]) - 1.0));
        }
        if (steps_per_day == 1)
            CHECK(worst <= 5e-16);  // e^x itself, to an ulp or two
        else
            CHECK(worst <= 1e-12);
    }
}

TEST_CASE("the bit tests of the hot loop agree with the comparisons they replace") {
    auto top = [](std::uint64_t bits) { return detail::any_top_bit(bits); };
    const double min_sub = std::numeric_limits<double>::denorm_min();
    const std::vector<double> values{0.0, -0.0, min_sub, -min_sub, 1e-300, -1e-300, 1.0, -1.0, 2.5, 1e300, -1e300,
                                     std::numeric_limits<double>::max(), -std::numeric_limits<double>::max()};
    for (double a : values)
        for (double b : values) {
            INFO(a << " <= " << b);
            CHECK(top(detail::at_most_bits(a, b)) == (a <= b));
        }
    std::mt19937_64 random(9);
    std::uniform_real_distribution<double> u(-1e4, 1e4);
    for (int k = 0; k < 100000; ++k) {
        const double a = u(random);
        const double b = k % 3 == 0 ? a : u(random);
        REQUIRE(top(detail::at_most_bits(a, b)) == (a <= b));
    }
    // A liquidated pool's collateral is +infinity: finite_bits tells it from an open one, and
    // keep_if_finite drops its upnl from the loss.
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (double x : values) CHECK(top(detail::finite_bits(x)));
    for (double x : {inf, -inf, nan, -nan}) CHECK_FALSE(top(detail::finite_bits(x)));
    for (double x : values) {
        for (double gate : values) CHECK(std::bit_cast<std::uint64_t>(detail::keep_if_finite(gate, x)) ==
                                         std::bit_cast<std::uint64_t>(x));
        for (double gate : {inf, -inf, nan}) CHECK(std::bit_cast<std::uint64_t>(detail::keep_if_finite(gate, x)) == 0);
    }
    const double limit = detail::exp_max_argument;
    CHECK_FALSE(top(detail::exp_out_of_range_bits(limit)));
    CHECK_FALSE(top(detail::exp_out_of_range_bits(-limit)));
    CHECK(top(detail::exp_out_of_range_bits(std::nextafter(limit, 1e9))));
    CHECK(top(detail::exp_out_of_range_bits(-std::nextafter(limit, 1e9))));
    CHECK(top(detail::exp_out_of_range_bits(std::numeric_limits<double>::quiet_NaN())));
    CHECK(top(detail::exp_out_of_range_bits(std::numeric_limits<double>::infinity())));
}

TEST_CASE("the ziggurat's layers all have the area of the base strip and its tail") {
    const auto& t = detail::ziggurat_tables;
    constexpr std::size_t layers = detail::ZigguratTables::layers;
    const double r = detail::ZigguratTables::r;
    // v = r f(r) + the normal density's unnormalised tail beyond r.
    const double v = r * std::exp(-0.5 * r * r) + std::sqrt(std::acos(-1.0) / 2.0) * std::erfc(r / std::sqrt(2.0));
    CHECK(t.x[1] == r);
    CHECK(t.x[0] * t.y[1] == Approx(v).epsilon(1e-13));
    for (std::size_t i = 1; i < layers; ++i) {
        INFO("layer " << i);
        REQUIRE(t.x[i + 1] < t.x[i]);
        REQUIRE(t.y[i] == Approx(std::exp(-0.5 * t.x[i] * t.x[i])).epsilon(1e-15));
        // The top layer closes the recursion: it holds for the solved r, not by construction.
        REQUIRE(t.x[i] * (t.y[i + 1] - t.y[i]) == Approx(v).epsilon(1e-11));
    }
    CHECK(t.x[layers] == 0.0);
    CHECK(t.y[layers] == 1.0);
}

#include <boost/math/distributions/chi_squared.hpp>

TEST_CASE("the chi-square draws of the student_t model fit the exact chi-square law") {
    // 200,000 draws per dof (10 streams) on 100 bins equiprobable under boost::math's
    // chi-square CDF: the statistic is chi-square with 99 degrees of freedom under the null,
    // 0.0001 and 0.9999 quantiles 55.0 and 160.1 (boost::math). Mean dof and variance 2 dof within
    // 5 sd.
    for (double dof : {2.2, 3.87, 5.0, 30.0}) {
        const boost::math::chi_squared_distribution<double> law(dof);
        constexpr std::size_t bins = 100;
        std::vector<double> counts(bins, 0.0);
        std::vector<double> draws(20000);
        double sum = 0.0, sum_sq = 0.0;
        std::size_t n = 0;
        for (std::uint64_t stream = 0; stream < 10; ++stream) {
            RandomStream rng(77, stream);
            rng.fill_chi_square(dof, draws);
            for (double w : draws) {
                REQUIRE(w > 0.0);
                const auto bin = static_cast<std::size_t>(boost::math::cdf(law, w) * bins);
                ++counts[std::min(bin, bins - 1)];
                sum += w;
                sum_sq += w * w;
                ++n;
            }
        }
        const double expected = static_cast<double>(n) / bins;
        double chi2 = 0.0;
        for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
        INFO("dof " << dof << ": goodness-of-fit statistic " << chi2);
        CHECK(chi2 < 160.1);
        CHECK(chi2 > 55.0);
        const double count = static_cast<double>(n);
        const double mean = sum / count;
        const double variance = sum_sq / count - mean * mean;
        // sd of the sample mean: sqrt(2 dof / n); of the sample variance, from the 4th moment.
        CHECK(std::abs(mean - dof) < 5.0 * std::sqrt(2.0 * dof / count));
        const double fourth_central = 12.0 * dof * (dof + 4.0);  // mu4 of chi2(k): 12 k (k + 4)
        CHECK(std::abs(variance - 2.0 * dof) < 5.0 * std::sqrt((fourth_central - 4.0 * dof * dof) / count));
    }
}
