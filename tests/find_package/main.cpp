// A library user's program: loads a scenario through the installed public API, runs it and
// checks what the report must satisfy whatever the numbers are.
// usage: consumer <scenario.toml>; exit 0 when every check holds, 1 otherwise.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"

namespace {

int failures = 0;

void check(bool holds, const std::string& what) {
    if (!holds) {
        std::fprintf(stderr, "consumer: FAILED: %s\n", what.c_str());
        ++failures;
    }
}

bool in_unit_interval(double x) { return x >= 0.0 && x <= 1.0; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer <scenario.toml>\n");
        return 2;
    }
    try {
        const marginsim::Scenario scenario = marginsim::load_scenario(argv[1]);
        constexpr std::uint64_t paths = 3000;  // not a multiple of the block size
        marginsim::RunOptions options;
        options.paths = paths;
        options.seed = 7;
        options.threads = 2;
        const marginsim::Report report = marginsim::simulate(scenario, options);

        check(!report.partial, "the run is complete");
        check(report.paths_requested == paths && report.paths_done == paths,
              "the report counts the paths asked for");
        check(report.simulation.seed == 7, "the report names the seed asked for");
        for (const marginsim::ModeReport& mode : report.modes) {
            const marginsim::Proportion& p = mode.summary.liquidation_probability;
            check(in_unit_interval(p.estimate), "P(liquidation) in [0, 1]");
            check(p.ci95.lo <= p.estimate && p.estimate <= p.ci95.hi &&
                      in_unit_interval(p.ci95.lo) && in_unit_interval(p.ci95.hi),
                  "the 95% interval holds the estimate, inside [0, 1]");
            check(mode.positions.size() == scenario.positions.size(),
                  "one position report per position of the scenario");
            // A mode cannot lose more than the collateral of its pools.
            check(mode.summary.loss.max <= mode.collateral_at_risk * (1.0 + 1e-12),
                  "the largest loss is within the collateral at risk");
        }
        // The same (scenario, seed) on one thread: the same numbers (simulate.hpp's contract).
        options.threads = 1;
        const marginsim::Report serial = marginsim::simulate(scenario, options);
        for (std::size_t m = 0; m < report.modes.size(); ++m) {
            check(serial.modes[m].summary.liquidation_probability.estimate ==
                          report.modes[m].summary.liquidation_probability.estimate &&
                      serial.modes[m].summary.loss.mean == report.modes[m].summary.loss.mean,
                  "the same numbers on one thread as on two");
        }
    } catch (const marginsim::InputError& error) {
        std::fprintf(stderr, "consumer: %s\n", error.what());
        return 1;
    }
    if (failures == 0) std::printf("consumer: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
