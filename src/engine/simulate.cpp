#include "marginsim/simulate.hpp"

#include "engine/block_runner.hpp"
#include "engine/margin_book.hpp"

namespace marginsim {

Report simulate(const Scenario& scenario, const RunOptions& options, const RunControl& control) {
    return detail::run_report(scenario, options, control);
}

CheckpointKey run_checkpoint_key(const Scenario& input, const RunOptions& options, std::uint64_t scenario_hash) {
    const Scenario scenario = detail::with_options(input, options);
    CheckpointKey key;
    key.scenario_hash = scenario_hash;
    key.content_hash = scenario_content_hash(scenario);
    key.seed = scenario.simulation.seed;
    key.paths = scenario.simulation.paths;
    key.block_size = block_size;
    // The time bins of the liquidation counts a checkpoint holds (steps, or finer bins of them).
    key.steps = static_cast<std::uint64_t>(scenario.simulation.steps) *
                static_cast<std::uint64_t>(MarginBook::ticks_per_step(scenario.simulation));
    key.positions = scenario.positions.size();
    if (options.precision) {
        key.precision = options.precision->target;
        key.precision_relative = options.precision->relative ? 1 : 0;
    }
    return key;
}

}  // namespace marginsim
