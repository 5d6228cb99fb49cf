#pragma once
// The market model (SPEC section 2): correlated log-price paths, one step at a time,
// for a block of paths stored asset-major (structure of arrays). It knows nothing of
// positions; the random numbers come from a RandomStream the caller owns.

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

    // Every path of the first n restarts at the given log prices.
    void reset(std::span<const double> start_log_price, std::size_t n);

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

private:
    std::size_t asset_count_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    std::vector<double> log_price_;
    std::vector<double> price_;
    std::vector<double> normals_;
    std::vector<double> chi_square_;
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

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class MarketModel {
public:
    explicit MarketModel(const Scenario& scenario);

    std::size_t asset_count() const noexcept { return start_log_price_.size(); }
    std::span<const double> start_log_price() const noexcept { return start_log_price_; }
    PriceModel model() const noexcept { return model_; }
    // Lower-triangular factor L of the correlation matrix (row-major): e = L z.
    std::span<const double> correlation_factor() const noexcept { return factor_; }

    // Draws one step of innovations for the block's paths from `rng` into its scratch.
    void draw(PathBlock& paths, RandomStream& rng) const;
    // Moves every path of the block one step with the innovations already drawn,
    // then refreshes prices: x += (mu - vol^2/2) dt + vol sqrt(dt) e.
    void advance(PathBlock& paths) const;
    // draw + advance.
    void step(PathBlock& paths, RandomStream& rng) const {
        draw(paths, rng);
        advance(paths);
    }
private:
    struct Term {
        std::size_t asset;
        double coefficient;
    };
    PriceModel model_;
    double dof_;
    std::vector<double> start_log_price_;
    std::vector<double> log_drift_per_step_;  // (mu - vol^2/2) dt
    std::vector<double> factor_;              // n x n, row-major, lower triangular
    // Per asset i, the non-zero vol_i sqrt(dt) L[i][c], diagonal first: x_i += drift_i + sum.
    std::vector<std::vector<Term>> row_terms_;
};

}  // namespace marginsim
