// --precision: a run stops at the first block, in block order, after which every mode's
// P(liquidation) 95% interval meets the target; checked against plain runs at growing path
// counts (the first qualifying block found here, from their reports), for any thread count,
// across a stop and a resume, in a sweep (every point on the same paths) and on the command line.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/error.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/sweep.hpp"
#include "same_numbers.hpp"

using marginsim::testing::require_same;
using marginsim::testing::TempDir;
using nlohmann::json;
namespace ms = marginsim;

namespace {

// Two assets, a cross long and an isolated short: the three modes liquidate at different rates.
std::string scenario_text(std::uint64_t paths, double leverage = 12.0) {
    return "[simulation]\npaths = " + std::to_string(paths) +
           "\nhorizon_days = 3.0\nsteps_per_day = 2\nseed = 5\n\n"
           "[account]\nbalance = 1600.0\n\n"
           "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 0.9\nmaintenance_margin_rate = 0.005\n"
           "funding_rate = 0.0004\n\n"
           "[[assets]]\nsymbol = \"BBB\"\nprice = 20.0\nvolatility = 1.1\nmaintenance_margin_rate = 0.01\n\n"
           "[correlation]\nmatrix = [[1.0, 0.2], [0.2, 1.0]]\n\n"
           "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 800.0\nleverage = " +
           std::to_string(leverage) +
           "\nmode = \"cross\"\n\n"
           "[[positions]]\nsymbol = \"BBB\"\nside = \"short\"\nmargin = 700.0\nleverage = 9.0\nmode = \"isolated\"\n";
}

ms::Scenario scenario(std::uint64_t paths, double leverage = 12.0) {
    return ms::parse_scenario(scenario_text(paths, leverage), "precision.toml");
}

ms::RunOptions plain(std::uint64_t paths, int threads = 1) {
    ms::RunOptions options;
    options.paths = paths;
    options.threads = threads;
    return options;
}

ms::RunOptions to_precision(const ms::Precision& precision, int threads) {
    ms::RunOptions options;
    options.precision = precision;
    options.threads = threads;
    return options;
}

// The rule, written out on a report: every mode's interval, as the report gives it.
bool every_interval_meets(const ms::Report& report, const ms::Precision& precision) {
    for (const ms::ModeReport& mode : report.modes) {
        const ms::Proportion& p = mode.summary.liquidation_probability;
        const double half_width = 0.5 * (p.ci95.hi - p.ci95.lo);
        const double bound = precision.relative ? precision.target * p.estimate : precision.target;
        if (precision.relative && p.estimate == 0.0) return false;
        if (half_width > bound) return false;
    }
    return true;
}

// The first block count k <= max_blocks whose plain run at k blocks meets the rule; 0: none.
std::uint64_t first_qualifying_blocks(const ms::Scenario& s, const ms::Precision& precision, std::uint64_t max_blocks) {
    for (std::uint64_t k = 1; k <= max_blocks; ++k)
        if (every_interval_meets(ms::simulate(s, plain(k * ms::block_size)), precision)) return k;
    return 0;
}

void check_stops_at_first_qualifying_block(const ms::Precision& precision) {
    const std::uint64_t max_blocks = 24;
    const ms::Scenario s = scenario(max_blocks * ms::block_size);
    const std::uint64_t k = first_qualifying_blocks(s, precision, max_blocks);
    REQUIRE(k >= 3);  // the target is not met at once: the test tells blocks apart
    REQUIRE(k < max_blocks);
    const ms::Report expected = ms::simulate(s, plain(k * ms::block_size));
    for (const int threads : {1, 2, 3}) {
        INFO("threads " << threads);
        const ms::Report r = ms::simulate(s, to_precision(precision, threads));
        CHECK_FALSE(r.partial);
        REQUIRE(r.simulation.paths == k * ms::block_size);
        CHECK(r.paths_done == r.simulation.paths);
        CHECK(r.paths_requested == r.simulation.paths);
        REQUIRE(r.simulation.precision.has_value());
        CHECK(r.simulation.precision->reached);
        CHECK(r.simulation.precision->paths_needed == k * ms::block_size);
        CHECK(r.simulation.precision->paths_max == max_blocks * ms::block_size);
        require_same(r, expected);
    }
}

}  // namespace

TEST_CASE("an absolute target stops at the first block after which every interval meets it") {
    check_stops_at_first_qualifying_block({0.012, false});
}

TEST_CASE("a relative target stops at the first block after which every interval is within that share") {
    check_stops_at_first_qualifying_block({0.12, true});
}

TEST_CASE("a target not met within the maximum paths runs them all and says so") {
    const std::uint64_t paths = 3 * ms::block_size + 500;  // a short last block
    const ms::Scenario s = scenario(paths);
    const ms::Report r = ms::simulate(s, to_precision({0.0005, false}, 2));
    CHECK_FALSE(r.partial);
    CHECK(r.simulation.paths == paths);
    REQUIRE(r.simulation.precision.has_value());
    CHECK_FALSE(r.simulation.precision->reached);
    CHECK(r.simulation.precision->paths_needed == 0);
    require_same(r, ms::simulate(s, plain(paths)));
    const json out = json::parse(ms::to_json(r));
    CHECK(out["simulation"]["precision"]["reached"] == false);
    CHECK(out["simulation"]["precision"]["paths_used"] == paths);
    CHECK_THAT(ms::precision_sentence(r.simulation), Catch::Contains("not reached"));
}

TEST_CASE("with no liquidation, an absolute target is met where the Wilson bound allows and a relative one never") {
    // No path is liquidated at leverage 1.01: the interval is [0, z^2 / (n + z^2)], whose
    // half-width first falls to 0.001 at n >= z^2 / 0.002 - z^2 = 1916.9: two blocks.
    const ms::Scenario s = ms::parse_scenario(
        "[simulation]\npaths = 8192\nhorizon_days = 1.0\nsteps_per_day = 1\nseed = 5\n\n[account]\nbalance = 3000.0\n\n"
        "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 0.2\nmaintenance_margin_rate = 0.005\n\n"
        "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 1000.0\nleverage = 1.01\nmode = \"cross\"\n",
        "calm.toml");
    const double z2 = 1.959963984540054 * 1.959963984540054;
    REQUIRE(z2 / (ms::block_size + z2) / 2.0 > 0.001);
    REQUIRE(z2 / (2 * ms::block_size + z2) / 2.0 <= 0.001);
    const ms::Report absolute = ms::simulate(s, to_precision({0.001, false}, 2));
    CHECK(absolute.modes[0].summary.liquidation_probability.estimate == 0.0);
    CHECK(absolute.simulation.paths == 2 * ms::block_size);
    const ms::Report relative = ms::simulate(s, to_precision({0.5, true}, 2));
    CHECK(relative.simulation.paths == 8192);
    CHECK_FALSE(relative.simulation.precision->reached);
}

TEST_CASE("a precision run stopped and resumed from its checkpoint equals the uninterrupted run") {
    const ms::Precision precision{0.012, false};
    const ms::Scenario s = scenario(24 * ms::block_size);
    const ms::Report uninterrupted = ms::simulate(s, to_precision(precision, 1));
    REQUIRE(uninterrupted.simulation.paths > 3 * ms::block_size);
    for (const int threads : {1, 2}) {
        INFO("threads " << threads);
        std::atomic<bool> stop{false};
        ms::RunCheckpoint checkpoint;
        ms::RunControl control;
        control.stop = &stop;
        control.checkpoint = &checkpoint;
        control.on_progress = [&stop](const ms::RunProgress& progress) {
            if (progress.paths_done >= 2 * ms::block_size) stop.store(true);
        };
        const ms::Report partial = ms::simulate(s, to_precision(precision, threads), control);
        REQUIRE(partial.partial);
        CHECK(partial.paths_requested == 24 * ms::block_size);
        CHECK_FALSE(partial.simulation.precision->reached);
        // The checkpoint holds a prefix of blocks, keyed with the target.
        for (std::size_t i = 0; i < checkpoint.blocks.size(); ++i) CHECK(checkpoint.blocks[i] == i);
        CHECK(checkpoint.paths_done() == partial.paths_done);
        CHECK(checkpoint.key.precision == precision.target);
        ms::RunControl resume;
        resume.resume = &checkpoint;
        const ms::Report resumed = ms::simulate(s, to_precision(precision, threads), resume);
        CHECK_FALSE(resumed.partial);
        CHECK(resumed.simulation.paths == uninterrupted.simulation.paths);
        require_same(resumed, uninterrupted);
    }
}

TEST_CASE("a checkpoint is resumed only with the precision target it was made with") {
    const ms::Scenario s = scenario(24 * ms::block_size);
    TempDir dir("marginsim_precision");
    std::atomic<bool> stop{false};  // stopped after the first block
    ms::RunCheckpoint checkpoint;
    ms::RunControl control;
    control.stop = &stop;
    control.checkpoint = &checkpoint;
    control.scenario_hash = 42;
    control.on_progress = [&stop](const ms::RunProgress&) { stop.store(true); };
    REQUIRE(ms::simulate(s, to_precision({0.01, false}, 1), control).partial);
    CHECK(checkpoint.key == ms::run_checkpoint_key(s, to_precision({0.01, false}, 1), 42));
    ms::write_checkpoint(dir / "run.checkpoint", checkpoint);
    CHECK_NOTHROW(ms::read_checkpoint(dir / "run.checkpoint", ms::run_checkpoint_key(s, to_precision({0.01, false}, 2), 42)));
    for (const ms::RunOptions& other : {ms::RunOptions{}, to_precision({0.02, false}, 1), to_precision({0.01, true}, 1)}) {
        try {
            ms::read_checkpoint(dir / "run.checkpoint", ms::run_checkpoint_key(s, other, 42));
            FAIL("a checkpoint of another precision target was accepted");
        } catch (const ms::InputError& error) {
            CHECK_THAT(error.what(), Catch::Contains("--precision 0.01"));
        }
    }
}

TEST_CASE("the precision flag parses a half-width or a percent and names itself on anything else") {
    CHECK(ms::parse_precision("0.002") == ms::Precision{0.002, false});
    CHECK(ms::parse_precision("1e-3") == ms::Precision{0.001, false});
    CHECK(ms::parse_precision("10%") == ms::Precision{0.1, true});
    CHECK(ms::parse_precision("2.5%") == ms::Precision{0.025, true});
    CHECK(ms::to_string(ms::Precision{0.1, true}) == "10%");
    CHECK(ms::to_string(ms::Precision{0.002, false}) == "0.002");
    for (const char* bad : {"", "abc", "0", "-0.01", "0%", "100%", "150%", "%", "nan", "inf", "10 %", "0.01x"}) {
        INFO("'" << bad << "'");
        try {
            ms::parse_precision(bad);
            FAIL("accepted");
        } catch (const ms::InputError& error) {
            CHECK_THAT(error.what(), Catch::StartsWith("--precision: "));
            CHECK_THAT(error.what(), Catch::Contains("a percent of the estimate in (0, 100)"));
        }
    }
}

TEST_CASE("every point of a precision sweep runs on the most paths any value of the grid needs") {
    const ms::Precision precision{0.015, false};
    const ms::Scenario s = scenario(24 * ms::block_size);
    ms::SweepSpec spec;
    spec.parameter = ms::SweepParameter::leverage_scale;
    spec.values = {0.5, 1.0, 1.3};
    ms::SweepOptions options;
    options.run = to_precision(precision, 2);
    options.bisection_steps = 2;
    const ms::SweepResult sweep = ms::run_sweep(s, spec, options);
    // What each value needs on its own.
    std::uint64_t most = 0;
    for (const double value : spec.values) {
        const ms::Report own = ms::simulate(ms::scenario_at(s, spec, value), to_precision(precision, 1));
        REQUIRE(own.simulation.precision->reached);
        most = std::max(most, own.simulation.paths);
    }
    REQUIRE(sweep.precision.has_value());
    CHECK(sweep.precision->reached);
    CHECK(sweep.paths == most);
    for (const ms::SweepPoint& point : sweep.points) {
        INFO("value " << point.value);
        CHECK(point.report.simulation.paths == most);
        require_same(point.report, ms::simulate(ms::scenario_at(s, spec, point.value), plain(most)));
    }
    const json out = json::parse(ms::to_json(sweep));
    CHECK(out["simulation"]["precision"]["paths_used"] == most);
}

TEST_CASE("run with a precision target says the paths used and a bad value exits 2 naming the flag") {
    TempDir dir("marginsim_precision_cli");
    const auto file = dir.write("s.toml", scenario_text(24 * ms::block_size));
    const std::string quoted = marginsim::testing::shell_quoted(file);
    const auto ok = dir.run("run " + quoted + " --precision 10% --threads 2 --format json");
    REQUIRE(ok.code == 0);
    const json report = json::parse(ok.out);
    CHECK(report["partial"] == false);
    CHECK(report["simulation"]["precision"]["relative"] == true);
    CHECK(report["simulation"]["precision"]["target"] == 0.1);
    CHECK(report["simulation"]["paths"] == report["simulation"]["precision"]["paths_used"]);
    CHECK(report["simulation"]["paths"].get<std::uint64_t>() < 24 * ms::block_size);
    for (const char* command : {"run", "sweep --leverage 1,2", "batch --out out"}) {
        INFO(command);
        const auto bad = dir.run(std::string(command) + " " + quoted + " --precision 0");
        CHECK(bad.code == 2);
        CHECK_THAT(bad.err, Catch::Contains("--precision"));
    }
}
