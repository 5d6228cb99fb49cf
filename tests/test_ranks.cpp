// A run spread over ranks (RunControl::ranks, docs/distributed.md), each rank a thread of this
// process (thread_ranks.hpp), so that every build runs it, the sanitizer builds included: every
// rank's report is the single process's, bit for bit, whatever the number of ranks and models,
// with ties and losses of both signs at the quantiles, with ranks that hold no block; a run
// stopped on some ranks gathers its blocks to rank 0's checkpoint, which resumes on any number
// of ranks (or one process) to the uninterrupted report; the ranks exchange histograms and sums,
// not samples; what a run over ranks cannot do is refused on every rank before communicating.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <exception>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/block_runner.hpp"
#include "engine/block_stats.hpp"
#include "mpi/launcher.hpp"
#include "numerics/packed_parts.hpp"
#include "marginsim/checkpoint.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"
#include "marginsim/input_files.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "backtest_fixtures.hpp"
#include "marginsim/backtest.hpp"
#include "marginsim/backtest_report.hpp"
#include "scenario_builder.hpp"
#include "stopped_run.hpp"
#include "thread_ranks.hpp"

using marginsim::testing::run_and_stop;
using marginsim::testing::run_on_ranks;
using marginsim::testing::ScenarioBuilder;
using marginsim::testing::stopped_run_scenario_hash;
using marginsim::testing::with_threads;
using nlohmann::json;
namespace ms = marginsim;

namespace {

constexpr std::uint64_t block = ms::block_size;

// Two assets with funding (the floating-point sum kept per block), a cross long and an isolated
// short, every mode liquidating on some paths; `model_keys` go to [simulation], `tables` after
// the correlation.
std::string book_text(std::uint64_t paths, const std::string& model_keys = "", const std::string& tables = "") {
    return "[simulation]\npaths = " + std::to_string(paths) +
           "\nhorizon_days = 3.0\nsteps_per_day = 8\nseed = 11\n" + model_keys +
           "\n[account]\nbalance = 3000.0\n\n"
           "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 0.9\nmaintenance_margin_rate = 0.005\n"
           "funding_rate = 0.0004\n\n"
           "[[assets]]\nsymbol = \"BBB\"\nprice = 20.0\nvolatility = 1.1\nmaintenance_margin_rate = 0.01\n"
           "funding_rate = -0.0002\n\n"
           "[correlation]\nmatrix = [[1.0, 0.6], [0.6, 1.0]]\n\n" +
           tables +
           "\n[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 800.0\nleverage = 12.0\nmode = \"cross\"\n\n"
           "[[positions]]\nsymbol = \"BBB\"\nside = \"short\"\nmargin = 700.0\nleverage = 9.0\nmode = \"isolated\"\n";
}

ms::Scenario plain_book(std::uint64_t paths) { return ms::parse_scenario(book_text(paths), "ranks.toml"); }

ms::Scenario student_t_book(std::uint64_t paths) {
    return ms::parse_scenario(book_text(paths, "model = \"student_t\"\ndof = 3.5\n"), "ranks_student_t.toml");
}

ms::Scenario garch_book(std::uint64_t paths) {
    return ms::parse_scenario(book_text(paths, "model = \"garch\"\n",
                                        "[garch]\ninnovations = \"gaussian\"\n"
                                        "AAA = { omega = 2.0e-4, alpha = 0.15, beta = 0.75 }\n"
                                        "BBB = { omega = 3.0e-4, alpha = 0.12, beta = 0.80 }\n"),
                              "ranks_garch.toml");
}

ms::Scenario jump_book(std::uint64_t paths) {
    return ms::parse_scenario(book_text(paths, "model = \"jump\"\n",
                                        "[jumps]\nintensity = 20.0\nmean = { AAA = -0.08, BBB = -0.12 }\n"
                                        "vol = { AAA = 0.03, BBB = 0.05 }\n"),
                              "ranks_jump.toml");
}

// Isolated positions alone, under policy "full": a liquidated position loses exactly its
// margin, so that many paths share a loss (the sums of the margins liquidated), at the VaR
// among others, and the paths without liquidation gain or lose a little: ties and both signs.
std::string ties_text(std::uint64_t paths) {
    return "[simulation]\npaths = " + std::to_string(paths) +
           "\nhorizon_days = 2.0\nsteps_per_day = 6\nseed = 5\n\n"
           "[account]\nbalance = 5000.0\n\n[liquidation]\npolicy = \"full\"\n\n"
           "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 0.8\nmaintenance_margin_rate = 0.005\n\n"
           "[[assets]]\nsymbol = \"BBB\"\nprice = 20.0\nvolatility = 1.0\nmaintenance_margin_rate = 0.01\n\n"
           "[correlation]\nmatrix = [[1.0, 0.5], [0.5, 1.0]]\n\n"
           "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 1000.0\nleverage = 25.0\nmode = \"isolated\"\n\n"
           "[[positions]]\nsymbol = \"BBB\"\nside = \"short\"\nmargin = 500.0\nleverage = 20.0\nmode = \"isolated\"\n";
}

// One asset, a day of 8 steps: cheap paths, for the runs that need many.
ms::Scenario small_book(std::uint64_t paths) {
    return ms::parse_scenario("[simulation]\npaths = " + std::to_string(paths) +
                                  "\nhorizon_days = 1.0\nsteps_per_day = 8\nseed = 3\n\n"
                                  "[account]\nbalance = 2000.0\n\n"
                                  "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = 1.2\n"
                                  "maintenance_margin_rate = 0.005\nfunding_rate = 0.0003\n\n"
                                  "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 500.0\n"
                                  "leverage = 30.0\nmode = \"isolated\"\n",
                              "ranks_small.toml");
}

// The book importance-sampled (importance_sampling = "selloff"): every statistic weighted.
ms::Scenario selloff_book(std::uint64_t paths) {
    return ms::parse_scenario(book_text(paths, "importance_sampling = \"selloff\"\n"), "ranks_selloff.toml");
}

// A report's numbers, without what depends on the session rather than on (scenario, seed, paths).
json numbers_of(json report) {
    report["simulation"].erase("elapsed_s");
    report["simulation"].erase("threads");
    report["simulation"].erase("ranks");
    return report;
}
json numbers_of(const ms::Report& report) { return numbers_of(json::parse(ms::to_json(report))); }

// Equal numbers; when not, the JSON patch from `expected` to `actual` says where.
void check_same(const json& expected, const json& actual) {
    CHECK(json::diff(expected, actual).dump() == "[]");
}

ms::detail::BlockShare share_of(std::uint64_t paths, int rank, int ranks) {
    return ms::detail::share_of(ms::detail::block_count_of(paths), rank, ranks);
}
std::uint64_t share_paths(std::uint64_t paths, int rank, int ranks) {
    return ms::detail::paths_of(share_of(paths, rank, ranks), paths);
}

// When a rank's run stops: never, before its first block, or after its first completed block.
enum class Stop { never, at_start, after_first_block };

// What one rank's simulate() gave. No Catch assertion runs on a rank's thread (Catch 2 is not
// thread-safe): the test checks these on its own thread.
struct RankRun {
    json report;  // to_json of the report, whole
    bool partial = false;
    std::uint64_t paths_done = 0;
    ms::RunCheckpoint checkpoint;  // what control.checkpoint received (when the rank gave one)
    std::uint64_t progress_calls = 0;
    std::uint64_t paths_run = 0;  // by this session on this rank (progress, less the resumed)
    std::uint64_t progress_done = 0;   // the last progress's paths_done
    std::uint64_t progress_total = 0;  // and its paths_total
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
};

// simulate() over `n` ranks, one thread each; `stops[r]`: when rank r stops (none when empty);
// `resume`: rank 0's checkpoint to resume (the other ranks pass none). Rank 0 and the even
// ranks give a checkpoint to fill, the odd ranks none.
std::vector<RankRun> run_over(int n, const ms::Scenario& scenario, const std::vector<Stop>& stops = {},
                              const ms::RunCheckpoint* resume = nullptr, const ms::RunOptions& options = with_threads(1)) {
    return run_on_ranks(n, [&](const ms::Ranks& ranks) {
        const int r = ranks.rank();
        const Stop stop_at = stops.empty() ? Stop::never : stops[static_cast<std::size_t>(r)];
        RankRun out;
        std::atomic<bool> stop{stop_at == Stop::at_start};
        std::atomic<std::uint64_t> calls{0};
        std::atomic<std::uint64_t> run_paths{0};
        std::atomic<std::uint64_t> done{0};
        std::atomic<std::uint64_t> total{0};
        ms::RunControl control;
        control.ranks = &ranks;
        control.stop = &stop;
        control.scenario_hash = stopped_run_scenario_hash;
        control.resume = ranks.is_root() ? resume : nullptr;
        control.checkpoint = r % 2 == 0 ? &out.checkpoint : nullptr;
        control.on_progress = [&](const ms::RunProgress& progress) {
            calls.fetch_add(1);
            run_paths.store(progress.paths_done - progress.paths_resumed);
            done.store(progress.paths_done);
            total.store(progress.paths_total);
            if (stop_at == Stop::after_first_block) stop.store(true);
        };
        const ms::Report report = ms::simulate(scenario, options, control);
        out.report = json::parse(ms::to_json(report));
        out.partial = report.partial;
        out.paths_done = report.paths_done;
        out.progress_calls = calls.load();
        out.paths_run = run_paths.load();
        out.progress_done = done.load();
        out.progress_total = total.load();
        out.bytes_sent = ranks.bytes_sent();
        out.bytes_received = ranks.bytes_received();
        return out;
    });
}

// Every rank reports the expected numbers, and says it ran on `n` ranks.
void check_every_rank(const std::vector<RankRun>& runs, const json& expected) {
    for (std::size_t r = 0; r < runs.size(); ++r) {
        INFO("rank " << r << " of " << runs.size());
        CHECK(runs[r].report["simulation"]["ranks"] == runs.size());
        check_same(expected, numbers_of(runs[r].report));
    }
}

// The single process's numbers against every rank's, over each number of ranks.
void check_same_over_ranks(const ms::Scenario& scenario, const std::vector<int>& rank_counts,
                           const ms::RunOptions& options = with_threads(1)) {
    const json single = numbers_of(ms::simulate(scenario, options));
    REQUIRE(single["partial"] == false);
    for (const int n : rank_counts) {
        INFO(n << " ranks, " << scenario.simulation.paths << " paths");
        check_every_rank(run_over(n, scenario, {}, nullptr, options), single);
    }
}

ms::Report resume_alone(const ms::Scenario& scenario, const ms::RunCheckpoint& checkpoint, bool stopped = false,
                        const ms::RunOptions& options = with_threads(1)) {
    const std::atomic<bool> stop{stopped};
    ms::RunControl control;
    control.resume = &checkpoint;
    control.stop = &stop;
    return ms::simulate(scenario, options, control);
}

// The checkpoint resumed over each number of ranks and by one process: the uninterrupted numbers.
void check_resumes(const ms::Scenario& scenario, const ms::RunCheckpoint& checkpoint, const json& uninterrupted,
                   const std::vector<int>& rank_counts, const ms::RunOptions& options = with_threads(1)) {
    for (const int n : rank_counts) {
        INFO("resumed over " << n << " ranks");
        const std::vector<RankRun> resumed = run_over(n, scenario, {}, &checkpoint, options);
        for (const RankRun& run : resumed) CHECK_FALSE(run.partial);
        check_every_rank(resumed, uninterrupted);
    }
    INFO("resumed by one process");
    check_same(uninterrupted, numbers_of(resume_alone(scenario, checkpoint, false, options)));
}

// A stopped run's checkpoint on rank 0: the blocks of the report's paths, ascending, this run's.
void check_checkpoint(const ms::Scenario& scenario, const std::vector<RankRun>& runs,
                      const ms::RunOptions& options = with_threads(1)) {
    const std::uint64_t paths = scenario.simulation.paths;
    const ms::RunCheckpoint& checkpoint = runs[0].checkpoint;
    CHECK(checkpoint.paths_done() == runs[0].paths_done);
    CHECK(checkpoint.key.paths == paths);
    CHECK(checkpoint.key.scenario_hash == stopped_run_scenario_hash);
    CHECK(checkpoint.key.block_size == block);
    CHECK(std::is_sorted(checkpoint.blocks.begin(), checkpoint.blocks.end()));
    std::uint64_t block_paths = 0;
    for (const std::uint64_t b : checkpoint.blocks) block_paths += std::min(block, paths - b * block);
    CHECK(block_paths == checkpoint.paths_done());
    for (std::size_t m = 0; m < ms::mode_count; ++m) {
        CHECK(checkpoint.loss[m].size() == checkpoint.paths_done());
        CHECK(checkpoint.drawdown[m].size() == checkpoint.paths_done());
    }
    // Every rank reports the same partial numbers: those of the checkpoint's blocks, as one
    // process restoring them and running nothing more reports them.
    const json partial = numbers_of(runs[0].report);
    CHECK(partial["partial"] == true);
    CHECK(partial["paths_done"] == checkpoint.paths_done());
    for (const RankRun& run : runs) {
        CHECK(run.partial);
        check_same(partial, numbers_of(run.report));
    }
    check_same(partial, numbers_of(resume_alone(scenario, checkpoint, true, options)));
}

}  // namespace

TEST_CASE("thread ranks sum max broadcast gather and scatter and count their payload") {
    struct Seen {
        std::vector<std::uint64_t> sum;
        std::vector<double> max;
        std::string broadcast;
        std::vector<std::string> gathered;
        std::string part;
        std::uint64_t sent = 0;
        std::uint64_t received = 0;
    };
    const std::vector<Seen> seen = run_on_ranks(3, [](const ms::Ranks& ranks) {
        Seen out;
        const auto r = static_cast<std::uint64_t>(ranks.rank());
        out.sum = {r + 1, ~std::uint64_t{0} * r};  // modulo 2^64: -0 - 1 - 2 = -3
        ranks.sum(out.sum);
        out.max = {-static_cast<double>(r), static_cast<double>(r)};
        ranks.max(out.max);
        out.broadcast = ranks.is_root() ? "from the root" : "";
        ranks.broadcast(out.broadcast);
        out.gathered = ranks.gather(std::string(r + 1, 'g'));
        const std::vector<std::string> parts{"a", "bb", "ccc"};
        out.part = ranks.scatter(ranks.is_root() ? parts : std::vector<std::string>{});
        out.sent = ranks.bytes_sent();
        out.received = ranks.bytes_received();
        return out;
    });
    for (std::size_t r = 0; r < 3; ++r) {
        INFO("rank " << r);
        CHECK(seen[r].sum == std::vector<std::uint64_t>{6, ~std::uint64_t{0} - 2});
        CHECK(seen[r].max == std::vector<double>{0.0, 2.0});
        CHECK(seen[r].broadcast == "from the root");
        CHECK(seen[r].gathered == (r == 0 ? std::vector<std::string>{"g", "gg", "ggg"} : std::vector<std::string>{}));
        CHECK(seen[r].part == std::string(r + 1, static_cast<char>('a' + r)));
    }
    // Allreduces 16 + 16 bytes each way; the broadcast's 13 bytes, the gather's 2 + 3 and the
    // scatter's 2 + 3 sent by their senders and received by their receivers.
    CHECK(seen[0].sent == 32 + 13 + 5);
    CHECK(seen[0].received == 32 + 5);
    CHECK(seen[1].sent == 32 + 2);
    CHECK(seen[1].received == 32 + 13 + 2);
    CHECK(seen[2].sent == 32 + 3);
    CHECK(seen[2].received == 32 + 13 + 3);
}

TEST_CASE("thread ranks fail instead of hanging when the ranks do not call the same collectives") {
    // Another operation, or another count of values, on one rank: every rank throws.
    CHECK_THROWS_AS(run_on_ranks(3,
                                 [](const ms::Ranks& ranks) {
                                     std::string bytes = "x";
                                     std::vector<std::uint64_t> values(2, 1);
                                     if (ranks.rank() == 1) ranks.broadcast(bytes);
                                     else ranks.sum(values);
                                     return 0;
                                 }),
                    std::logic_error);
    CHECK_THROWS_AS(run_on_ranks(2,
                                 [](const ms::Ranks& ranks) {
                                     std::vector<std::uint64_t> values(static_cast<std::size_t>(ranks.rank() + 1), 1);
                                     ranks.sum(values);
                                     return 0;
                                 }),
                    std::logic_error);
    // A rank that returns, or throws, while the others wait in a collective.
    CHECK_THROWS_AS(run_on_ranks(3,
                                 [](const ms::Ranks& ranks) {
                                     std::vector<double> values(1, 0.0);
                                     if (ranks.rank() != 2) ranks.max(values);
                                     return 0;
                                 }),
                    ms::testing::RanksAborted);
    CHECK_THROWS_WITH(run_on_ranks(3,
                                   [](const ms::Ranks& ranks) {
                                       if (ranks.rank() == 1) throw std::runtime_error("rank 1 failed");
                                       std::vector<double> values(1, 0.0);
                                       ranks.max(values);
                                       return 0;
                                   }),
                      "rank 1 failed");
    // The root refuses a scatter of the wrong number of parts.
    CHECK_THROWS_AS(run_on_ranks(2, [](const ms::Ranks& ranks) { return ranks.scatter({"only one"}); }),
                    std::invalid_argument);
}

TEST_CASE("a plain run over 2 3 and 5 ranks reports the single process's numbers") {
    // A short last block: 24 blocks of which the last has 333 paths.
    const std::uint64_t paths = 23 * block + 333;
    check_same_over_ranks(plain_book(paths), {2, 3, 5});
    // Progress counts each rank's own share, to its end.
    const std::vector<RankRun> runs = run_over(3, plain_book(paths));
    for (int r = 0; r < 3; ++r) {
        const RankRun& run = runs[static_cast<std::size_t>(r)];
        INFO("rank " << r);
        CHECK(run.progress_total == share_paths(paths, r, 3));
        CHECK(run.progress_done == run.progress_total);
        CHECK(run.paths_run == run.progress_total);
        CHECK(run.progress_calls == ms::detail::block_count_of(run.progress_total));
    }
}

TEST_CASE("runs of other models over ranks report the single process's numbers") {
    SECTION("student_t") { check_same_over_ranks(student_t_book(11 * block + 17), {2, 3, 5}); }
    SECTION("garch") { check_same_over_ranks(garch_book(12 * block), {2, 3, 5}); }
    SECTION("jump") { check_same_over_ranks(jump_book(10 * block + 1000), {2, 3, 5}); }
}

TEST_CASE("ranks that hold no block still report the whole run") {
    SECTION("3 and 5 ranks over 2 blocks") {
        const ms::Scenario scenario = plain_book(block + 100);
        CHECK(share_paths(scenario.simulation.paths, 0, 3) == 0);  // rank 0 itself has no path
        check_same_over_ranks(scenario, {3, 5});
    }
    SECTION("2 and 3 ranks over one block shorter than a block") { check_same_over_ranks(plain_book(500), {2, 3}); }
}

TEST_CASE("ties at the quantiles and losses of both signs give the single process's numbers over ranks") {
    const std::uint64_t paths = 14 * block + 200;
    const ms::Scenario scenario = ms::parse_scenario(ties_text(paths), "ranks_ties.toml");
    // The book is what the test means: in isolated, the 95% VaR is a loss that many paths share
    // exactly (a sum of margins), and some paths gain while others lose.
    const ms::RunWithLosses single = ms::run_with_losses(scenario, with_threads(1));
    const std::size_t isolated = ms::mode_index(ms::MarginMode::isolated);
    const std::vector<double>& losses = single.losses[isolated];
    REQUIRE(losses.size() == paths);
    const double var95 = single.report.modes[isolated].summary.loss.var[0];
    INFO("isolated VaR 95% " << var95);
    CHECK((var95 == 500.0 || var95 == 1000.0 || var95 == 1500.0));
    CHECK(std::count(losses.begin(), losses.end(), var95) > static_cast<std::ptrdiff_t>(paths / 50));
    CHECK(*std::min_element(losses.begin(), losses.end()) < 0.0);
    CHECK(*std::max_element(losses.begin(), losses.end()) > 0.0);
    check_same_over_ranks(scenario, {2, 3, 5});
}

TEST_CASE("a run whose paths all lose the same amount gives the single process's numbers over ranks") {
    // A price that never moves: every path pays the same funding, and a long without funding
    // loses nothing (-0 or +0): one value shared by every path, at every quantile.
    for (const double funding : {0.0, 0.0003}) {
        INFO("funding rate " << funding);
        const ms::Scenario scenario = ScenarioBuilder(4000, 2, 6, 3 * block + 10)
                                          .asset("AAA", 100.0, 0.0, 0.0, 0.005, funding)
                                          .position("AAA", ms::Side::long_side, 1000, 5, ms::MarginMode::isolated)
                                          .build();
        check_same_over_ranks(scenario, {2, 3});
    }
}

TEST_CASE("paths that overflow are left out alike over ranks and across a stop and a resume") {
    // A notional of 1e29 on a very volatile asset: the paths whose price rises tenfold pass
    // max_amount (1e30) and are left out; the others are kept.
    const std::uint64_t paths = 8 * block;
    const ms::Scenario scenario = ScenarioBuilder(2e29, 30, 1, paths)
                                      .asset("AAA", 1e20, 4.0, 0.0, 0.005)
                                      .asset("BBB", 1.0, 1.0, 0.0, 0.005)
                                      .position("AAA", ms::Side::long_side, 1e28, 10, ms::MarginMode::cross)
                                      .position("BBB", ms::Side::short_side, 1e28, 5, ms::MarginMode::isolated)
                                      .build();
    const ms::Report single = ms::simulate(scenario, with_threads(1));
    REQUIRE(single.simulation.overflowed_paths > 0);
    REQUIRE(single.simulation.overflowed_paths < paths / 4);
    const json uninterrupted = numbers_of(single);
    check_same_over_ranks(scenario, {2, 3});
    const std::vector<RankRun> stopped = run_over(3, scenario, {Stop::after_first_block, Stop::never, Stop::at_start});
    REQUIRE(stopped[0].partial);
    check_checkpoint(scenario, stopped);
    check_resumes(scenario, stopped[0].checkpoint, uninterrupted, {2, 4});
}

TEST_CASE("a run stopped on one rank resumes over other numbers of ranks to the uninterrupted numbers") {
    const std::uint64_t paths = 12 * block + 500;  // 13 blocks: shares of 4, 4 and 5 over 3 ranks
    const ms::Scenario scenario = plain_book(paths);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(1)));
    for (const int stopped : {0, 1, 2}) {
        INFO("rank " << stopped << " of 3 stopped before its first block");
        std::vector<Stop> stops(3, Stop::never);
        stops[static_cast<std::size_t>(stopped)] = Stop::at_start;
        const std::vector<RankRun> runs = run_over(3, scenario, stops);
        CHECK(runs[static_cast<std::size_t>(stopped)].progress_calls == 0);
        const std::uint64_t missing = share_paths(paths, stopped, 3);
        REQUIRE(runs[0].partial);
        CHECK(runs[0].paths_done == paths - missing);
        check_checkpoint(scenario, runs);
        const ms::detail::BlockShare lost = share_of(paths, stopped, 3);
        for (const std::uint64_t b : runs[0].checkpoint.blocks) CHECK((b < lost.first || b >= lost.last));
        check_resumes(scenario, runs[0].checkpoint, uninterrupted, {2, 5});
    }
}

TEST_CASE("a run stopped on every rank and resumed in a chain over other rank counts equals the uninterrupted run") {
    const std::uint64_t paths = 12 * block + 500;
    const ms::Scenario scenario = plain_book(paths);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(1)));

    // Each of 3 ranks completes one block, then stops.
    const std::vector<RankRun> first = run_over(3, scenario, std::vector<Stop>(3, Stop::after_first_block));
    std::uint64_t run_paths = 0;
    for (const RankRun& run : first) {
        CHECK(run.progress_calls == 1);
        run_paths += run.paths_run;
    }
    CHECK(run_paths == 3 * block);
    REQUIRE(first[0].partial);
    CHECK(first[0].paths_done == run_paths);
    check_checkpoint(scenario, first);
    CHECK(first[0].checkpoint.blocks.size() == 3);

    // Resumed over 2 ranks, each of which completes one more block and stops again.
    const std::vector<RankRun> second =
        run_over(2, scenario, std::vector<Stop>(2, Stop::after_first_block), &first[0].checkpoint);
    std::uint64_t more = 0;
    for (const RankRun& run : second) {
        CHECK(run.progress_calls == 1);
        more += run.paths_run;
    }
    REQUIRE(second[0].partial);
    CHECK(second[0].paths_done == run_paths + more);
    check_checkpoint(scenario, second);
    const std::set<std::uint64_t> kept(second[0].checkpoint.blocks.begin(), second[0].checkpoint.blocks.end());
    for (const std::uint64_t b : first[0].checkpoint.blocks) CHECK(kept.count(b) == 1);

    // Resumed over 4 ranks of which rank 0, holding the checkpoint's counts, stops at once.
    const std::vector<RankRun> third =
        run_over(4, scenario, {Stop::at_start, Stop::never, Stop::never, Stop::never}, &second[0].checkpoint);
    CHECK(third[0].progress_calls == 0);
    REQUIRE(third[0].partial);
    check_checkpoint(scenario, third);

    check_resumes(scenario, third[0].checkpoint, uninterrupted, {3, 5});
    check_resumes(scenario, second[0].checkpoint, uninterrupted, {5});
}

TEST_CASE("a single process's checkpoint resumes over ranks and a run stopped everywhere throws RunInterrupted") {
    const std::uint64_t paths = 10 * block + 1;
    const ms::Scenario scenario = plain_book(paths);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(1)));
    const ms::testing::StoppedRun stopped = run_and_stop(scenario, 1, 3 * block);
    REQUIRE(stopped.report.partial);
    check_resumes(scenario, stopped.checkpoint, uninterrupted, {3});

    CHECK_THROWS_AS(run_over(3, scenario, std::vector<Stop>(3, Stop::at_start)), ms::RunInterrupted);
    // Resuming, the restored blocks are enough to report.
    const std::vector<RankRun> restored =
        run_over(3, scenario, std::vector<Stop>(3, Stop::at_start), &stopped.checkpoint);
    CHECK(restored[0].paths_done == stopped.report.paths_done);
    check_same(numbers_of(stopped.report), numbers_of(restored[0].report));
}

TEST_CASE("a stopped run with more ranks than blocks resumes to the uninterrupted numbers") {
    const std::uint64_t paths = block + 100;  // over 3 ranks: none, block 0, block 1
    const ms::Scenario scenario = plain_book(paths);
    const json uninterrupted = numbers_of(ms::simulate(scenario, with_threads(1)));
    const std::vector<RankRun> runs = run_over(3, scenario, {Stop::never, Stop::never, Stop::at_start});
    REQUIRE(runs[0].partial);
    CHECK(runs[0].paths_done == block);
    check_checkpoint(scenario, runs);
    CHECK(runs[0].checkpoint.blocks == std::vector<std::uint64_t>{0});
    check_resumes(scenario, runs[0].checkpoint, uninterrupted, {2, 5});
}

TEST_CASE("ranks exchange histograms and sums and never the samples") {
    // Communication does not grow with the paths: three times the paths, about the same bytes,
    // and fewer than one mode's losses of a rank's share would take.
    const auto bytes_of = [](std::uint64_t paths) {
        const ms::Scenario scenario = small_book(paths);
        const std::vector<RankRun> runs = run_over(3, scenario);
        check_every_rank(runs, numbers_of(ms::simulate(scenario, with_threads(1))));
        for (int r = 0; r < 3; ++r) {
            const RankRun& run = runs[static_cast<std::size_t>(r)];
            INFO("rank " << r << ": " << run.bytes_sent << " bytes sent, " << run.bytes_received << " received");
            const std::uint64_t samples = share_paths(paths, r, 3) * sizeof(double);
            CHECK(run.bytes_sent > 0);
            CHECK(run.bytes_sent < samples);
            CHECK(run.bytes_received < samples);
        }
        return runs;
    };
    const std::vector<RankRun> small = bytes_of(90 * block);
    const std::vector<RankRun> large = bytes_of(270 * block);
    for (std::size_t r = 0; r < 3; ++r) {
        INFO("rank " << r << ": " << small[r].bytes_sent << " then " << large[r].bytes_sent << " bytes sent");
        CHECK(large[r].bytes_sent < small[r].bytes_sent + small[r].bytes_sent / 20);
    }
}

namespace {

ms::RunOptions to_precision(const ms::Precision& precision, std::uint64_t min_paths = 0) {
    ms::RunOptions options = with_threads(1);
    options.precision = precision;
    options.precision_min_paths = min_paths;
    return options;
}

// The run to the target stopped where one process stops: not at the maximum, not at the first
// round's end; `met` whether the target was met there.
void require_stops_inside(const ms::Scenario& scenario, const ms::RunOptions& options, bool met = true) {
    const ms::Report single = ms::simulate(scenario, options);
    REQUIRE(single.simulation.precision.has_value());
    CHECK(single.simulation.precision->reached == met);
    if (met) REQUIRE(single.paths_done < scenario.simulation.paths);
    INFO("stopped after " << single.paths_done << " paths");
    REQUIRE(single.paths_done > 20 * block);  // past a first round of 4 blocks a rank
    REQUIRE(single.paths_done % block == 0);
}

}  // namespace

TEST_CASE("a run to a precision target over ranks stops at the single process's block with its numbers") {
    const ms::Scenario scenario = plain_book(400 * block);
    SECTION("a half-width") {
        const ms::RunOptions options = to_precision({0.004, false});
        require_stops_inside(scenario, options);
        check_same_over_ranks(scenario, {2, 3, 5}, options);
    }
    SECTION("a minimum of paths past where the target is met") {
        const ms::RunOptions options = to_precision({0.004, false}, 97 * block + 5);
        require_stops_inside(scenario, options);
        REQUIRE(ms::simulate(scenario, options).paths_done == 98 * block);
        check_same_over_ranks(scenario, {2, 3}, options);
    }
    SECTION("a target not met within the maximum, over more ranks than the last round's blocks") {
        const ms::Scenario small = plain_book(23 * block + 77);
        const ms::RunOptions options = to_precision({1e-5, false});
        CHECK_FALSE(ms::simulate(small, options).simulation.precision->reached);
        check_same_over_ranks(small, {2, 5}, options);
    }
    SECTION("an importance-sampled run") {
        const ms::Scenario selloff = selloff_book(300 * block);
        const ms::RunOptions options = to_precision({0.004, false});
        require_stops_inside(selloff, options);
        check_same_over_ranks(selloff, {2, 3}, options);
    }
}

TEST_CASE("a run to a precision target stopped over ranks resumes to the uninterrupted numbers") {
    const ms::Scenario scenario = plain_book(400 * block);
    const ms::RunOptions options = to_precision({0.004, false});
    const json uninterrupted = numbers_of(ms::simulate(scenario, options));
    // Rank 1 stops after its first block: the prefix ends before its second block of the round.
    const std::vector<RankRun> runs = run_over(3, scenario, {Stop::never, Stop::after_first_block, Stop::never},
                                               nullptr, options);
    REQUIRE(runs[0].partial);
    check_checkpoint(scenario, runs, options);
    const ms::RunCheckpoint& checkpoint = runs[0].checkpoint;
    for (std::size_t i = 0; i < checkpoint.blocks.size(); ++i) CHECK(checkpoint.blocks[i] == i);  // a prefix
    CHECK(checkpoint.key.precision == 0.004);
    check_resumes(scenario, checkpoint, uninterrupted, {2, 4}, options);
    // A single process's checkpoint resumes over ranks, and theirs again over other ranks.
    ms::RunCheckpoint alone;
    {
        std::atomic<bool> stop{false};
        ms::RunControl control;
        control.stop = &stop;
        control.checkpoint = &alone;
        control.scenario_hash = stopped_run_scenario_hash;
        control.on_progress = [&](const ms::RunProgress& progress) {
            if (progress.paths_done >= 30 * block) stop.store(true);
        };
        REQUIRE(ms::simulate(scenario, options, control).partial);
    }
    check_resumes(scenario, alone, uninterrupted, {3}, options);
    const std::vector<RankRun> again = run_over(2, scenario, {Stop::after_first_block, Stop::never}, &alone, options);
    REQUIRE(again[0].partial);
    CHECK(again[0].paths_done > alone.paths_done());
    check_resumes(scenario, again[0].checkpoint, uninterrupted, {5}, options);
}

TEST_CASE("a run to a precision target over ranks refuses on every rank a checkpoint it cannot resume") {
    const ms::Scenario scenario = plain_book(40 * block);
    const ms::RunCheckpoint plain = run_and_stop(scenario, 1, 6 * block).checkpoint;  // not a prefix: any blocks
    const auto outcomes = [&](const ms::RunOptions& options, const ms::RunCheckpoint& resume) {
        return run_on_ranks(3, [&](const ms::Ranks& ranks) {
            ms::RunControl control;
            control.ranks = &ranks;
            control.resume = ranks.is_root() ? &resume : nullptr;
            try {
                ms::simulate(scenario, options, control);
            } catch (const std::invalid_argument& error) {
                return std::string(error.what());
            }
            return std::string("no error");
        });
    };
    for (const std::string& outcome : outcomes(to_precision({0.01, false}, 10 * block), plain))
        CHECK_THAT(outcome, Catch::Contains("precision_min_paths cannot be resumed"));
    ms::RunCheckpoint gapped = plain;
    gapped.blocks.back() += 1;
    for (const std::string& outcome : outcomes(to_precision({0.01, false}), gapped))
        CHECK_THAT(outcome, Catch::Contains("not that of a run with a precision target"));
}

TEST_CASE("a detailed run to a precision target over ranks gives rank 0 every loss in path order") {
    const ms::Scenario scenario = plain_book(400 * block);
    const ms::RunOptions options = to_precision({0.004, false});
    const ms::RunWithLosses single = ms::run_with_losses(scenario, options);
    const auto runs = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        ms::RunControl control;
        control.ranks = &ranks;
        return ms::run_with_losses(scenario, options, control);
    });
    for (std::size_t r = 0; r < runs.size(); ++r) {
        INFO("rank " << r);
        check_same(numbers_of(single.report), numbers_of(runs[r].report));
    }
    for (std::size_t m = 0; m < ms::mode_count; ++m) {
        REQUIRE(runs[0].losses[m].size() == single.losses[m].size());
        CHECK(std::equal(runs[0].losses[m].begin(), runs[0].losses[m].end(), single.losses[m].begin(),
                         [](double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }));
    }
}

namespace {

// An importance-sampled run's weights are not all 1: the numbers compared are weighted ones.
void require_weighted(const ms::Report& report) {
    REQUIRE(report.simulation.importance.has_value());
    REQUIRE(report.simulation.importance->effective_paths < 0.9 * static_cast<double>(report.paths_done));
}

}  // namespace

TEST_CASE("an importance-sampled run over ranks reports the single process's weighted numbers") {
    SECTION("the two-asset book over 2 3 and 5 ranks") {
        const ms::Scenario scenario = selloff_book(9 * block + 300);
        require_weighted(ms::simulate(scenario, with_threads(1)));
        check_same_over_ranks(scenario, {2, 3, 5});
    }
    SECTION("ties at the quantiles and losses of both signs") {
        std::string text = ties_text(14 * block + 200);
        text.replace(text.find("seed = 5\n"), 9, "seed = 5\nimportance_sampling = \"selloff\"\n");
        const ms::Scenario scenario = ms::parse_scenario(text, "ranks_ties_selloff.toml");
        require_weighted(ms::simulate(scenario, with_threads(1)));
        check_same_over_ranks(scenario, {2, 3});
    }
    SECTION("ranks that hold no block") { check_same_over_ranks(selloff_book(block + 100), {3, 5}); }
}

TEST_CASE("a stopped importance-sampled run over ranks resumes to the uninterrupted weighted numbers") {
    const std::uint64_t paths = 12 * block + 500;
    const ms::Scenario scenario = selloff_book(paths);
    const ms::Report single = ms::simulate(scenario, with_threads(1));
    require_weighted(single);
    const json uninterrupted = numbers_of(single);
    const std::vector<RankRun> runs = run_over(3, scenario, {Stop::after_first_block, Stop::never, Stop::at_start});
    REQUIRE(runs[0].partial);
    check_checkpoint(scenario, runs);
    const ms::RunCheckpoint& checkpoint = runs[0].checkpoint;
    CHECK(checkpoint.weight.size() == checkpoint.paths_done());
    CHECK_FALSE(checkpoint.counts.weighted.empty());
    check_resumes(scenario, checkpoint, uninterrupted, {2, 4});
    // A single process's weighted checkpoint resumes over ranks too.
    const ms::testing::StoppedRun stopped = run_and_stop(scenario, 1, 4 * block);
    REQUIRE(stopped.report.partial);
    check_resumes(scenario, stopped.checkpoint, uninterrupted, {3});
}

TEST_CASE("an importance-sampled detailed run over ranks gives rank 0 every weighted loss and every rank the counts") {
    const ms::Scenario scenario = selloff_book(7 * block + 40);
    const ms::DetailedRun single = ms::run_detailed(scenario, with_threads(1), {}, ms::Details::every_loss);
    require_weighted(single.report);
    const std::vector<ms::DetailedRun> runs = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        ms::RunControl control;
        control.ranks = &ranks;
        return ms::run_detailed(scenario, with_threads(1), control, ms::Details::every_loss);
    });
    for (std::size_t r = 0; r < runs.size(); ++r) {
        INFO("rank " << r);
        check_same(numbers_of(single.report), numbers_of(runs[r].report));
        for (std::size_t m = 0; m < ms::mode_count; ++m) {
            const ms::ModeDetail& expected = single.modes[m];
            const ms::ModeDetail& got = runs[r].modes[m];
            CHECK(got.liquidated_by_step == expected.liquidated_by_step);
            CHECK(got.liquidated_weight_by_step == expected.liquidated_weight_by_step);
            CHECK(got.contagion.estimate == expected.contagion.estimate);
            if (r != 0) continue;
            CHECK(got.sorted_loss == expected.sorted_loss);
            CHECK(got.sorted_weight == expected.sorted_weight);
        }
    }
}

namespace {

// A weighted sample made up for the statistics: `value_of(k)` and `weight_of(k)` of path k.
struct MadeSample {
    std::vector<double> loss;
    std::vector<float> drawdown;
    std::vector<double> weight;
};

// The merged statistics of paths [from, to) of `sample`, with the counts of the whole sample.
ms::BlockStats stats_of_part(const MadeSample& sample, std::size_t from, std::size_t to) {
    ms::BlockStats stats;
    stats.paths = sample.loss.size();
    stats.bin_days = 1.0;
    stats.weighted = true;
    for (const double w : sample.weight) stats.path_weight.add(w);
    stats.weight.assign(sample.weight.begin() + static_cast<std::ptrdiff_t>(from),
                        sample.weight.begin() + static_cast<std::ptrdiff_t>(to));
    for (ms::ModeSample& mode : stats.modes) {
        mode.loss.assign(sample.loss.begin() + static_cast<std::ptrdiff_t>(from),
                         sample.loss.begin() + static_cast<std::ptrdiff_t>(to));
        mode.drawdown.assign(sample.drawdown.begin() + static_cast<std::ptrdiff_t>(from),
                             sample.drawdown.begin() + static_cast<std::ptrdiff_t>(to));
    }
    return stats;
}

// The bits of every loss and drawdown statistic of a summary's first mode (-0 and +0 apart).
std::vector<std::uint64_t> statistic_bits(const ms::Summary& summary) {
    const ms::ModeSummary& mode = summary.modes[0];
    std::vector<double> numbers{mode.loss.mean, mode.loss.std, mode.loss.max,
                                mode.drawdown.mean, mode.drawdown.p95, mode.drawdown.p99};
    numbers.insert(numbers.end(), mode.loss.var.begin(), mode.loss.var.end());
    numbers.insert(numbers.end(), mode.loss.es.begin(), mode.loss.es.end());
    std::vector<std::uint64_t> bits;
    for (const double x : numbers) bits.push_back(std::bit_cast<std::uint64_t>(x));
    return bits;
}

// The weighted statistics of `sample` over 3 ranks holding paths [0, a), [a, b) and [b, n),
// against one process's.
void check_weighted_over_ranks(const MadeSample& sample, std::size_t a, std::size_t b) {
    const std::size_t n = sample.loss.size();
    ms::BlockStats whole = stats_of_part(sample, 0, n);
    const std::vector<std::uint64_t> expected = statistic_bits(ms::summarize(whole));
    const std::array<std::size_t, 4> cut{0, a, b, n};
    const auto over_ranks = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        const auto r = static_cast<std::size_t>(ranks.rank());
        ms::BlockStats part = stats_of_part(sample, cut[r], cut[r + 1]);
        return statistic_bits(ms::summarize(part, ranks));
    });
    for (std::size_t r = 0; r < over_ranks.size(); ++r) {
        INFO("rank " << r << " holding paths " << cut[r] << " to " << cut[r + 1]);
        CHECK(over_ranks[r] == expected);
    }
}

}  // namespace

TEST_CASE("weighted quantiles and ES over ranks equal one process's wherever the tail they need begins") {
    constexpr std::size_t n = 20000;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    MadeSample sample;
    SECTION("weights of about 1: the upper tenth of the paths holds the tail") {
        for (std::size_t k = 0; k < n; ++k) {
            sample.loss.push_back(1000.0 * uniform(rng) - 300.0);
            sample.drawdown.push_back(static_cast<float>(500.0 * uniform(rng)));
            sample.weight.push_back(0.2 + 1.6 * uniform(rng));
        }
    }
    SECTION("light upper paths: neither the upper tenth nor the upper half weighs enough, the whole sample goes") {
        for (std::size_t k = 0; k < n; ++k) {
            const double x = uniform(rng);
            sample.loss.push_back(x);
            sample.drawdown.push_back(static_cast<float>(x));
            sample.weight.push_back(x < 0.45 ? 1.9 : 1e-4 * uniform(rng));
        }
    }
    SECTION("few values shared by many paths, -0 and +0 among them, and weights of 0") {
        // Under 3% of the paths above them, each its own: every quantile falls among copies of
        // one (value, weight) pair, and ES adds as many copies as the walk passes.
        const std::array<double, 5> values{-0.0, 0.0, -5.0, 1.0, 2.0};
        const std::array<double, 4> weights{0.0, 0.5, 1.0, 1.75};
        for (std::size_t k = 0; k < n; ++k) {
            const bool unique = uniform(rng) < 0.03;
            const double x = unique ? 10.0 + uniform(rng) : values[static_cast<std::size_t>(5.0 * uniform(rng))];
            sample.loss.push_back(x);
            sample.drawdown.push_back(static_cast<float>(x));
            sample.weight.push_back(unique ? 1.0 : weights[static_cast<std::size_t>(4.0 * uniform(rng))]);
        }
    }
    SECTION("weights so small that the whole sample weighs less than the tail: every quantile is the least value") {
        for (std::size_t k = 0; k < n; ++k) {
            sample.loss.push_back(100.0 * uniform(rng) - 20.0);
            sample.drawdown.push_back(static_cast<float>(50.0 * uniform(rng)));
            sample.weight.push_back(1e-3 * uniform(rng));
        }
    }
    check_weighted_over_ranks(sample, n / 3, 2 * n / 3);
    check_weighted_over_ranks(sample, 0, n / 7);  // rank 0 holds none, rank 2 most
    check_weighted_over_ranks(sample, n, n);      // rank 0 holds all
}

TEST_CASE("a checkpoint of another run given to rank 0 is refused on every rank") {
    // Rank 0 alone reads the checkpoint to resume; when it belongs to another run (here another
    // path count) every rank must refuse it with std::invalid_argument, as one process does,
    // rather than rank 0 throwing while the others wait for its checkpoint parts (under MPI,
    // forever). What each rank's simulate() threw:
    const ms::Scenario scenario = plain_book(6 * block);
    const ms::testing::StoppedRun other = run_and_stop(plain_book(8 * block), 1, 2 * block);
    REQUIRE(other.report.partial);
    CHECK_THROWS_AS(resume_alone(scenario, other.checkpoint), std::invalid_argument);
    const std::vector<std::string> outcomes = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        ms::RunControl control;
        control.ranks = &ranks;
        control.resume = ranks.is_root() ? &other.checkpoint : nullptr;
        try {
            ms::simulate(scenario, with_threads(1), control);
        } catch (const std::invalid_argument& error) {
            return std::string("invalid_argument: ") + error.what();
        } catch (const ms::testing::RanksAborted& error) {
            return std::string("left waiting in a collective: ") + error.what();
        } catch (const std::exception& error) {
            return std::string("other: ") + error.what();
        }
        return std::string("no error");
    });
    for (std::size_t r = 0; r < outcomes.size(); ++r) {
        INFO("rank " << r);
        CHECK_THAT(outcomes[r], Catch::StartsWith("invalid_argument: "));
    }
}

TEST_CASE("a failure on one rank during its blocks ends every rank with rank 0 saying which") {
    // Rank 1's progress callback throws after its first block: no rank is left waiting for it
    // in a collective, every rank throws, and rank 0's error names rank 1 and its reason.
    const ms::Scenario scenario = plain_book(6 * block);
    const std::vector<std::string> outcomes = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        ms::RunControl control;
        control.ranks = &ranks;
        if (ranks.rank() == 1)
            control.on_progress = [](const ms::RunProgress&) { throw std::runtime_error("progress failed here"); };
        try {
            ms::simulate(scenario, with_threads(1), control);
        } catch (const ms::testing::RanksAborted& error) {
            return std::string("left waiting in a collective: ") + error.what();
        } catch (const std::runtime_error& error) {
            return std::string("runtime_error: ") + error.what();
        } catch (const std::exception& error) {
            return std::string("other: ") + error.what();
        }
        return std::string("no error");
    });
    for (std::size_t r = 0; r < outcomes.size(); ++r) {
        INFO("rank " << r);
        CHECK_THAT(outcomes[r], Catch::StartsWith("runtime_error: "));
    }
    CHECK_THAT(outcomes[0], Catch::Contains("rank 1") && Catch::Contains("progress failed here"));
}

TEST_CASE("the input files rank 0 records replay as the same scenario and the same error on another rank") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / "marginsim_ranks_inputs";
    std::filesystem::create_directories(dir);
    const std::filesystem::path file = dir / "book.toml";
    std::ofstream(file) << book_text(3 * block);
    ms::InputFiles files;
    std::uint64_t loaded_hash = 0;
    {
        const ms::InputRecording recording(files);
        loaded_hash = ms::scenario_content_hash(ms::load_scenario(file));
        CHECK_THROWS_AS(ms::load_scenario(dir / "missing.toml"), ms::InputError);
    }
    const ms::InputFiles received = ms::InputFiles::from_bytes(files.bytes());
    CHECK(received.files == files.files);
    std::filesystem::remove_all(dir);  // the replay reads nothing from the disk
    const ms::InputReplay replay(received);
    CHECK(ms::scenario_content_hash(ms::load_scenario(file)) == loaded_hash);
    CHECK_THROWS_AS(ms::load_scenario(dir / "missing.toml"), ms::InputError);
    CHECK_THROWS_AS(ms::InputFiles::from_bytes(files.bytes().substr(0, 12)), std::invalid_argument);
}

TEST_CASE("a price history directory rank 0 lists and reads replays as the same series on another rank") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / "marginsim_ranks_history";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::filesystem::path bundled = std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";
    std::filesystem::copy_file(bundled / "Binance_BTCUSDT_d.csv", dir / "AAA.csv");
    std::filesystem::copy_file(bundled / "Binance_ETHUSDT_d.csv", dir / "Binance_BBBUSDT_d.csv");
    std::ofstream(dir / "notes.txt") << "not a price file";
    const ms::Scenario book = plain_book(block);
    ms::InputFiles files;
    std::vector<ms::PriceSeries> recorded;
    {
        const ms::InputRecording recording(files);
        recorded = ms::read_history(book, dir);
    }
    REQUIRE(recorded.size() == 2);
    CHECK(files.listings.count(dir.string()) == 1);
    std::filesystem::remove_all(dir);
    const ms::InputFiles received = ms::InputFiles::from_bytes(files.bytes());
    const ms::InputReplay replay(received);
    const std::vector<ms::PriceSeries> replayed = ms::read_history(book, dir);
    REQUIRE(replayed.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(replayed[i].source == recorded[i].source);
        CHECK(replayed[i].dates == recorded[i].dates);
        CHECK(replayed[i].closes == recorded[i].closes);
    }
    CHECK_THROWS_AS(ms::read_history(book, dir / "elsewhere"), ms::InputError);
}

TEST_CASE("parts packed for a message come back whole and a message cut short is refused") {
    const std::vector<std::string> parts{"", std::string("a\0b", 3), std::string(1000, 'x'), ""};
    const std::string packed = ms::detail::pack_parts(parts);
    CHECK(ms::detail::unpack_parts(packed) == parts);
    CHECK(ms::detail::unpack_parts("").empty());
    CHECK_THROWS_AS(ms::detail::unpack_parts(packed.substr(0, packed.size() - 1)), std::invalid_argument);
    CHECK_THROWS_AS(ms::detail::unpack_parts(packed.substr(0, 5)), std::invalid_argument);
}

TEST_CASE("a backtest over ranks gives the single process's result with its windows dealt or its runs spread") {
    const ms::Scenario book = ms::parse_scenario(ms::testing::backtest_book_toml, "book.toml");
    const std::vector<ms::PriceSeries> history = ms::testing::synthetic_backtest_history();
    ms::BacktestOptions options;
    options.from = ms::testing::date(2021, 1, 10);
    options.every_days = 30;
    options.window_days = 300;
    options.models = {ms::BacktestModel::gaussian, ms::BacktestModel::garch, ms::BacktestModel::ewma};
    options.paths = 2000;
    options.threads = 1;
    // 13 windows: dealt to 2 and 3 ranks; 2 windows: fewer than 3 ranks, each run spread.
    for (const ms::Date to : {ms::testing::date(2022, 1, 10), ms::testing::date(2021, 2, 10)}) {
        options.to = to;
        const std::string single = ms::to_json(ms::run_backtest(book, history, options));
        for (const int n : {2, 3}) {
            const std::vector<std::string> results = run_on_ranks(n, [&](const ms::Ranks& ranks) {
                ms::BacktestOptions spread = options;
                spread.ranks = &ranks;
                return ms::to_json(ms::run_backtest(book, history, spread));
            });
            for (std::size_t r = 0; r < results.size(); ++r) {
                INFO(n << " ranks, rank " << r << ", to " << ms::format_date(to));
                check_same(json::parse(single), json::parse(results[r]));
            }
        }
    }
}

TEST_CASE("a step of rank 0 that fails ends every rank alike: rank 0 with its error and the others with its code") {
    // What each rank caught: the type, the exit code the others were told, the message.
    const auto outcomes = [](const std::function<void()>& step) {
        return run_on_ranks(3, [&](const ms::Ranks& ranks) {
            try {
                ms::on_root(ranks, [&] {
                    if (!ranks.is_root()) throw std::logic_error("the step ran on another rank");
                    step();
                });
            } catch (const ms::RootFailed& failed) {
                return "RootFailed " + std::to_string(failed.code()) + " " + failed.what();
            } catch (const ms::InputError& error) {
                return std::string("InputError ") + error.what();
            } catch (const std::exception& error) {
                return std::string("other ") + error.what();
            }
            return std::string("no error");
        });
    };
    const auto bad_input = outcomes([] { throw ms::InputError("book.toml", 3, 1, "balance", "must be > 0", "a balance"); });
    CHECK_THAT(bad_input[0], Catch::StartsWith("InputError book.toml"));
    for (std::size_t r = 1; r < 3; ++r) CHECK(bad_input[r] == "RootFailed 2 " + bad_input[0].substr(11));
    const auto failure = outcomes([] { throw std::runtime_error("disk full"); });
    CHECK(failure[0] == "other disk full");
    for (std::size_t r = 1; r < 3; ++r) CHECK(failure[r] == "RootFailed 1 disk full");
    for (const std::string& outcome : outcomes([] {})) CHECK(outcome == "no error");
}

TEST_CASE("the launcher's environment says how many processes it started and a batch script's task count does not") {
    const std::vector<const char*> names{"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMIX_RANK", "PMI_SIZE",
                                         "PMI_RANK", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"};
    std::vector<std::optional<std::string>> saved;
    for (const char* name : names) {
        const char* value = std::getenv(name);
        saved.push_back(value ? std::optional<std::string>(value) : std::nullopt);
        ::unsetenv(name);
    }
    CHECK(ms::mpi::launched_processes() == 1);
    CHECK_FALSE(ms::mpi::started_by_launcher());
    ::setenv("SLURM_NTASKS", "64", 1);  // an sbatch script's own environment: one process
    CHECK(ms::mpi::launched_processes() == 1);
    ::setenv("SLURM_STEP_NUM_TASKS", "3", 1);  // a task srun started, of 3
    CHECK(ms::mpi::launched_processes() == 3);
    ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);  // mpirun's
    CHECK(ms::mpi::launched_processes() == 2);
    CHECK(ms::mpi::started_by_launcher());
    for (std::size_t k = 0; k < names.size(); ++k) {
        if (saved[k]) ::setenv(names[k], saved[k]->c_str(), 1);
        else ::unsetenv(names[k]);
    }
}

TEST_CASE("ranks with different thread counts cut the same rounds of a run to a precision target") {
    const ms::Scenario scenario = plain_book(400 * block);
    ms::RunOptions options;
    options.precision = ms::Precision{0.004, false};
    options.threads = 1;
    const json single = numbers_of(ms::simulate(scenario, options));
    const std::vector<json> reports = run_on_ranks(3, [&](const ms::Ranks& ranks) {
        ms::RunOptions own = options;
        own.threads = 1 + 2 * ranks.rank();  // 1, 3 and 5 threads
        ms::RunControl control;
        control.ranks = &ranks;
        return numbers_of(ms::simulate(scenario, own, control));
    });
    for (std::size_t r = 0; r < reports.size(); ++r) {
        INFO("rank " << r);
        check_same(single, reports[r]);
    }
}
