#include "marginsim/market_model.hpp"

#include <boost/random/chi_squared_distribution.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/seed_seq.hpp>

#include <cassert>
#include <cmath>

#include "correlation.hpp"
#include "rng.hpp"

namespace marginsim {

PathBlock::PathBlock(std::size_t asset_count, std::size_t capacity)
    : asset_count_(asset_count),
      capacity_(capacity),
      log_price_(asset_count * capacity),
      price_(asset_count * capacity),
      normals_(asset_count * capacity),
      chi_square_(capacity) {}

void PathBlock::reset(std::span<const double> start_log_price, std::size_t n) {
    assert(start_log_price.size() == asset_count_ && n <= capacity_);
    size_ = n;
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

// Mersenne Twister 64 with Boost's ziggurat normal: fast, long period, and its streams
// are decorrelated by seeding the full state through a seed sequence.
struct RandomStream::Impl {
    boost::random::mt19937_64 engine;
    boost::random::normal_distribution<double> normal;

    explicit Impl(boost::random::seed_seq& seq) : engine(seq) {}
};

namespace {

boost::random::seed_seq make_seed_seq(std::uint64_t seed, std::uint64_t stream_index) {
    const std::uint64_t a = detail::mix64(seed);
    const std::uint64_t b = detail::mix64(a ^ detail::mix64(stream_index + 0x6a09e667f3bcc909ULL));
    return boost::random::seed_seq{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
                                   static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32)};
}

}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::uint64_t stream_index) {
    auto seq = make_seed_seq(seed, stream_index);
    impl_ = std::make_unique<Impl>(seq);
}
RandomStream::~RandomStream() = default;
RandomStream::RandomStream(RandomStream&&) noexcept = default;
RandomStream& RandomStream::operator=(RandomStream&&) noexcept = default;

void RandomStream::fill_normals(std::span<double> out) {
    for (double& z : out) z = impl_->normal(impl_->engine);
}

void RandomStream::fill_chi_square(double dof, std::span<double> out) {
    boost::random::chi_squared_distribution<double> chi(dof);
    for (double& w : out) w = chi(impl_->engine);
}

MarketModel::MarketModel(const Scenario& scenario)
    : model_(scenario.simulation.model),
      dof_(scenario.simulation.dof),
      factor_(detail::cholesky_lower(scenario.correlation, scenario.asset_count())) {
    const double dt = scenario.simulation.dt_years;
    for (const Asset& asset : scenario.assets) {
        start_log_price_.push_back(std::log(asset.price));
        log_drift_per_step_.push_back((asset.drift - 0.5 * asset.volatility * asset.volatility) * dt);
        vol_per_step_.push_back(asset.volatility * std::sqrt(dt));
    }
}

void MarketModel::draw(PathBlock& paths, RandomStream& rng) const {
    const std::size_t n = paths.size();
    for (std::size_t i = 0; i < asset_count(); ++i) rng.fill_normals({paths.normals(i), n});
    if (model_ == PriceModel::student_t) rng.fill_chi_square(dof_, paths.chi_square());
}

void MarketModel::advance(PathBlock& paths) const {
    const std::size_t n = paths.size();
    const std::size_t assets = asset_count();
    if (model_ == PriceModel::student_t) {
        // A multivariate t of unit variance: one chi-square scale per path, shared by all
        // assets, so that a market-wide shock hits every asset at once.
        const std::span<double> w = paths.chi_square();
        for (std::size_t k = 0; k < n; ++k) w[k] = std::sqrt((dof_ - 2.0) / w[k]);
    }
    // Rows from the last: row i of L z needs z_0..z_i, so z_i can be overwritten by e_i
    // once the rows below it are done.
    for (std::size_t r = assets; r-- > 0;) {
        double* e = paths.normals(r);
        const double* row = factor_.data() + r * assets;
        for (std::size_t k = 0; k < n; ++k) e[k] *= row[r];
        for (std::size_t c = 0; c < r; ++c) {
            const double l = row[c];
            if (l == 0.0) continue;
            const double* z = paths.normals(c);
            for (std::size_t k = 0; k < n; ++k) e[k] += l * z[k];
        }
    }
    for (std::size_t i = 0; i < assets; ++i) {
        const double* e = paths.normals(i);
        double* x = paths.log_price(i);
        double* p = paths.price(i);
        const double drift = log_drift_per_step_[i];
        const double vol = vol_per_step_[i];
        if (model_ == PriceModel::student_t) {
            const double* scale = paths.chi_square().data();
            for (std::size_t k = 0; k < n; ++k) x[k] += drift + vol * scale[k] * e[k];
        } else {
            for (std::size_t k = 0; k < n; ++k) x[k] += drift + vol * e[k];
        }
        for (std::size_t k = 0; k < n; ++k) p[k] = std::exp(x[k]);
    }
}

}  // namespace marginsim
