#pragma once
// The engine of one scenario (internal): its market model and margin book, and one block of
// paths run through both. The block runner spreads the blocks of a run over threads.

#include <cstddef>
#include <cstdint>

#include "engine/importance.hpp"
#include "engine/margin_book.hpp"
#include "engine/market_model.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

class Engine {
public:
    explicit Engine(const Scenario& scenario);

    const MarketModel& model() const noexcept { return model_; }
    const MarginBook& book() const noexcept { return book_; }
    // The tilt of importance sampling (inactive unless the scenario asks for it and some
    // market-wide move liquidates the cross account), and the paths' weights: see weigh().
    const SelloffTilt& selloff() const noexcept { return selloff_; }
    bool weighted() const noexcept { return weighted_; }

    // Simulates paths [block * block_size, + n) of the run with this seed: the random
    // stream is seeded from (seed, block) only. Leaves the outcome in `state`, the paths'
    // likelihood ratios in paths.weights() when the run is weighted (untouched otherwise).
    void run_block(std::uint64_t seed, std::uint64_t block, std::size_t n, PathBlock& paths,
                   BookState& state) const;

private:
    MarketModel model_;
    MarginBook book_;
    SelloffTilt selloff_;
    bool weighted_ = false;  // importance_sampling selloff, tilted or not (then every weight is 1)
};

}  // namespace marginsim
