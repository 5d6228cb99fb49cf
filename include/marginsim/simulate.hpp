#pragma once
// Wires the stages: market model -> margin book -> accumulators -> report, over fixed
// blocks of paths run in parallel; results depend only on (scenario, seed, paths).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "marginsim/accumulators.hpp"
#include "marginsim/margin_book.hpp"
#include "marginsim/market_model.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// Paths per block: fixed, so that the block seeds and the merge order never depend on
// the thread count.
inline constexpr std::size_t block_size = 1024;

struct RunOptions {
    std::optional<std::uint64_t> paths;  // override [simulation] paths
    std::optional<std::uint64_t> seed;   // override [simulation] seed
    std::optional<int> threads;          // override [simulation] threads; 0 = all cores
};

// The model and the book of one scenario, and one block run through both.
class Engine {
public:
    explicit Engine(const Scenario& scenario);

    const MarketModel& model() const noexcept { return model_; }
    const MarginBook& book() const noexcept { return book_; }

    // Simulates paths [block * block_size, + n) of the run with this seed: the random
    // stream is seeded from (seed, block) only. Leaves the outcome in `state`.
    void run_block(std::uint64_t seed, std::uint64_t block, std::size_t n, PathBlock& paths,
                   BookState& state) const;

private:
    MarketModel model_;
    MarginBook book_;
};

// Runs the whole scenario with the options applied and returns the report.
Report simulate(const Scenario& scenario, const RunOptions& options = {});

// The report of already merged statistics (no simulation): used by simulate().
Report make_report(const Scenario& scenario, const MarginBook& book, Summary summary,
                   const SimulationInfo& info);

}  // namespace marginsim
