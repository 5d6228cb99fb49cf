#include "engine/engine.hpp"

namespace marginsim {

Engine::Engine(const Scenario& scenario)
    : model_(scenario),
      book_(scenario),
      weighted_(scenario.simulation.importance_sampling == ImportanceSampling::selloff) {
    if (!weighted_) return;
    selloff_ = selloff_tilt(scenario, book_, model_);
    model_.set_tilt(selloff_.tilt);
}

void Engine::run_block(std::uint64_t seed, std::uint64_t block, std::size_t n, PathBlock& paths,
                       BookState& state) const {
    RandomStream rng(seed, block);
    model_.start(paths, n, rng);
    state.reset(n);
    for (int step = 1; step <= book_.steps(); ++step) {
        model_.step(paths, rng);
        state.update(paths, step);
        // Once every pool of every mode is closed on every path, nothing can change.
        if (state.all_settled()) break;
    }
    if (weighted_) model_.weigh(paths);
}

}  // namespace marginsim
