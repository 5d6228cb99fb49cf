// The margin rules of docs/model.md#margin-rules on deterministic paths, against closed forms
// worked by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/engine.hpp"
#include "engine/margin_book.hpp"
#include "marginsim/simulate.hpp"
#include "scenario_builder.hpp"

using namespace marginsim;
using marginsim::testing::ScenarioBuilder;

namespace {

struct Outcome {
    std::array<int, mode_count> first_step{};
    std::array<double, mode_count> loss{};
    std::array<double, mode_count> funding{};
};

// Runs one path of a zero-volatility scenario, where the price follows the drift exactly.
Outcome run_deterministic(const Scenario& scenario) {
    const Engine engine(scenario);
    PathBlock paths(scenario.asset_count(), 1);
    BookState state(engine.book(), 1);
    engine.run_block(1, 0, 1, paths, state);
    Outcome out;
    for (MarginMode mode : all_modes) {
        out.first_step[mode_index(mode)] = state.first_liquidation_step(mode, 0);
        out.loss[mode_index(mode)] = state.loss(mode, 0);
        out.funding[mode_index(mode)] = state.funding_paid(mode, 0);
    }
    return out;
}

// First step k >= 1 at which x0 + mu k dt <= log(barrier), for a falling price.
int first_step_below(double p0, double mu, double dt_years, double barrier) {
    return static_cast<int>(std::ceil((std::log(barrier) - std::log(p0)) / (mu * dt_years)));
}

std::vector<double> start_prices(const Scenario& s) {
    std::vector<double> p;
    for (const Asset& a : s.assets) p.push_back(a.price);
    return p;
}

}  // namespace

TEST_CASE("isolated liquidation prices of a flat-rate long and short match the closed form") {
    const double p0 = 60000.0, r = 0.004, lev = 10.0;
    const Scenario s = ScenarioBuilder(10000, 1, 24)
                           .asset("BTC", p0, 0.5, 0.0, r)
                           .position("BTC", Side::long_side, 1000, lev, MarginMode::isolated)
                           .position("BTC", Side::short_side, 1000, lev, MarginMode::isolated)
                           .build();
    const MarginBook book(s);
    // Long: m + q (P - P0) = q P r  =>  P = P0 (1 - 1/L) / (1 - r).
    CHECK(*book.liquidation_price(MarginMode::isolated, 0, start_prices(s)) ==
          Approx(p0 * (1 - 1 / lev) / (1 - r)).epsilon(1e-13));
    // Short: m - q (P - P0) = q P r  =>  P = P0 (1 + 1/L) / (1 + r).
    CHECK(*book.liquidation_price(MarginMode::isolated, 1, start_prices(s)) ==
          Approx(p0 * (1 + 1 / lev) / (1 + r)).epsilon(1e-13));
    // In cross the long and the short on one asset hedge exactly: only their maintenance
    // margin moves with the price, and the pool liquidates when 10000 = 2 q P r.
    const double q = 1000.0 * lev / p0;
    CHECK(*book.liquidation_price(MarginMode::cross, 0, start_prices(s)) ==
          Approx(10000.0 / (2 * q * r)).epsilon(1e-13));
}

TEST_CASE("a long at 1x never liquidates: no liquidation price") {
    const Scenario s = ScenarioBuilder(10000, 1, 24)
                           .asset("BTC", 60000, 0.5)
                           .position("BTC", Side::long_side, 1000, 1.0, MarginMode::isolated)
                           .build();
    CHECK_FALSE(MarginBook(s).liquidation_price(MarginMode::isolated, 0, start_prices(s)).has_value());
}

TEST_CASE("a liquidation price that lands in a lower tier than the current notional") {
    // Tiers as on Binance BTCUSDT's first rows, amounts continuous.
    const std::vector<Tier> tiers{{50000, 0.004, 0, {}}, {250000, 0.005, 50, {}},
                                  {1000000, 0.01, 1300, {}}, {no_cap, 0.025, 16300, {}}};
    const Scenario s = ScenarioBuilder(20000, 1, 24)
                           .asset("BTC", 50000, 0.5)
                           .tiers(tiers)
                           .position("BTC", Side::long_side, 13000, 20, MarginMode::isolated)
                           .build();
    // Notional 260,000 is in tier 3; solving in tier 3 gives a notional below 250,000, so the
    // root belongs to tier 2: 13000 + 5.2 (P - 50000) = 5.2 P 0.005 - 50
    // => P = (260000 - 13000 - 50) / (5.2 - 0.026).
    const auto lp = MarginBook(s).liquidation_price(MarginMode::isolated, 0, start_prices(s));
    REQUIRE(lp.has_value());
    CHECK(*lp == Approx(246950.0 / 5.174).epsilon(1e-13));
    CHECK(5.2 * *lp < 250000.0);
}

TEST_CASE("the Monte Carlo liquidation happens at the first step past the liquidation price") {
    const double p0 = 2000.0, mu = -8.0, r = 0.005;
    const int spd = 96;
    const Scenario s = ScenarioBuilder(5000, 60, spd)
                           .asset("ETH", p0, 0.0, mu, r)
                           .position("ETH", Side::long_side, 1000, 10, MarginMode::isolated)
                           .build();
    const MarginBook book(s);
    const double dt = s.simulation.dt_years;
    const double lp_isolated = *book.liquidation_price(MarginMode::isolated, 0, start_prices(s));
    const double lp_cross = *book.liquidation_price(MarginMode::cross, 0, start_prices(s));
    // Cross is backed by the whole 5,000 balance: m = 5000 in the same formula.
    const double q = 1000.0 * 10 / p0;
    CHECK(lp_cross == Approx((q * p0 - 5000.0) / (q * (1 - r))).epsilon(1e-13));

    const Outcome out = run_deterministic(s);
    CHECK(out.first_step[mode_index(MarginMode::isolated)] == first_step_below(p0, mu, dt, lp_isolated));
    CHECK(out.first_step[mode_index(MarginMode::cross)] == first_step_below(p0, mu, dt, lp_cross));
    CHECK(out.first_step[mode_index(MarginMode::as_configured)] ==
          out.first_step[mode_index(MarginMode::isolated)]);
    // Policy full: the collateral is lost whole.
    CHECK(out.loss[mode_index(MarginMode::isolated)] == Approx(1000.0).epsilon(1e-12));
    CHECK(out.loss[mode_index(MarginMode::cross)] == Approx(5000.0).epsilon(1e-12));
}

TEST_CASE("a liquidated pool stays closed when a later price overflows") {
    // A short at 10x liquidates when the price rises 10%; a long on another asset stays open,
    // so the block is not settled. At step 2 the short's price is +infinity: its closed pool
    // (collateral +infinity) must not liquidate again, where inf + (-inf) is a NaN.
    const Scenario s = ScenarioBuilder(5000, 1, 24)
                           .asset("ETH", 2000.0, 0.0, 0.0, 0.005)
                           .asset("BTC", 60000.0, 0.0, 0.0, 0.005)
                           .position("ETH", Side::short_side, 1000, 10, MarginMode::isolated)
                           .position("BTC", Side::long_side, 1000, 2, MarginMode::isolated)
                           .build();
    const MarginBook book(s);
    PathBlock paths(s.asset_count(), 1);
    paths.reset(std::vector<double>{std::log(2000.0), std::log(60000.0)}, 1);
    BookState state(book, 1);
    state.reset(1);
    paths.price(0)[0] = 2400.0;  // +20%: the short is liquidated
    state.update(paths, 1);
    REQUIRE(state.liquidation_step(MarginMode::isolated, 0, 0) == 1);
    const double loss_after_liquidation = state.loss(MarginMode::isolated, 0);
    paths.price(0)[0] = std::numeric_limits<double>::infinity();
    state.update(paths, 2);
    CHECK(state.liquidation_step(MarginMode::isolated, 0, 0) == 1);
    CHECK(state.liquidation_step(MarginMode::isolated, 1, 0) == 0);
    CHECK(state.loss(MarginMode::isolated, 0) == loss_after_liquidation);
    CHECK_FALSE(state.all_settled());
    CHECK(state.overflowed(0));
}

TEST_CASE("policy fee: the position closes at the step's price and pays the fee") {
    const double p0 = 2000.0, mu = -8.0, r = 0.005, fee = 0.004;
    const Scenario s = ScenarioBuilder(5000, 60, 24)
                           .asset("ETH", p0, 0.0, mu, r)
                           .position("ETH", Side::long_side, 1000, 10, MarginMode::isolated)
                           .policy(LiquidationPolicy::fee, fee)
                           .build();
    const MarginBook book(s);
    const double dt = s.simulation.dt_years, q = 5.0;
    for (MarginMode mode : {MarginMode::isolated, MarginMode::cross}) {
        const double collateral = mode == MarginMode::isolated ? 1000.0 : 5000.0;
        const double lp = *book.liquidation_price(mode, 0, start_prices(s));
        const int k = first_step_below(p0, mu, dt, lp);
        const double price = std::exp(std::log(p0) + mu * k * dt);
        const double expected = std::min(collateral, -q * (price - p0) + fee * q * price);
        CHECK(run_deterministic(s).loss[mode_index(mode)] == Approx(expected).epsilon(1e-12));
    }
}

TEST_CASE("funding eats an isolated margin at the step the closed form gives") {
    // Flat price; a long pays f q P every 8 hours from its margin of 100.
    const double p = 100.0, f = 0.01, r = 0.005;
    const int spd = 24;
    const Scenario s = ScenarioBuilder(1000, 30, spd)
                           .asset("XRP", p, 0.0, 0.0, r, f)
                           .position("XRP", Side::long_side, 100, 5, MarginMode::isolated)
                           .build();
    // Notional 500: each funding pays 5; maintenance 2.5. Liquidated when 100 - 5 n <= 2.5,
    // first at n = 20 fundings, which fall due at step 20 * 8 hours = 160 hours.
    const int n_star = static_cast<int>(std::ceil((100.0 - 500.0 * r) / (f * 500.0)));
    const Outcome out = run_deterministic(s);
    CHECK(out.first_step[mode_index(MarginMode::isolated)] == n_star * spd / 3);
    CHECK(out.funding[mode_index(MarginMode::isolated)] == Approx(n_star * f * 500.0));
    CHECK(out.loss[mode_index(MarginMode::isolated)] == Approx(100.0));
    // In cross the whole 1,000 pays: (1000 - 2.5) / 5 = 199.5, so 200 fundings: beyond 30 days
    // (90 fundings), the position survives and its loss is the funding it paid.
    CHECK(out.first_step[mode_index(MarginMode::cross)] == 0);
    CHECK(out.loss[mode_index(MarginMode::cross)] == Approx(90 * 5.0));
}

TEST_CASE("funding counts every 8 hours whatever the step length") {
    const Scenario s = ScenarioBuilder(1000, 2, 5)
                           .asset("XRP", 1.0, 0.0, 0.0, 0.005, 0.001)
                           .position("XRP", Side::long_side, 100, 2)
                           .build();
    const MarginBook book(s);
    int total = 0;
    for (int k = 1; k <= book.steps(); ++k) total += book.fundings_at(k);
    CHECK(total == 6);  // 2 days
    CHECK(book.fundings_at(1) == 0);  // 4.8 hours
    CHECK(book.fundings_at(2) == 1);  // 9.6 hours
}

TEST_CASE("mixed book: the cross pool of as_configured is backed by the balance less isolated margins") {
    const double r = 0.005;
    const Scenario s = ScenarioBuilder(10000, 1, 24)
                           .asset("BTC", 60000, 0.5, 0.0, r)
                           .asset("SOL", 100, 0.8, 0.0, r)
                           .position("BTC", Side::long_side, 2000, 10, MarginMode::cross)
                           .position("SOL", Side::long_side, 2000, 10, MarginMode::isolated)
                           .build();
    const MarginBook book(s);
    const ModeLayout& mixed = book.layout(MarginMode::as_configured);
    REQUIRE(mixed.pools.size() == 2);
    const double wallet = 10000.0 - 2000.0;
    const double q = 20000.0 / 60000.0;
    CHECK(*book.liquidation_price(MarginMode::as_configured, 0, start_prices(s)) ==
          Approx((q * 60000 - wallet) / (q * (1 - r))).epsilon(1e-13));
    // In full cross the SOL position's maintenance margin (0.005 * 20,000) also weighs on BTC's
    // price.
    CHECK(*book.liquidation_price(MarginMode::cross, 0, start_prices(s)) ==
          Approx((q * 60000 - 10000 + 100.0) / (q * (1 - r))).epsilon(1e-13));
    // Margin ratio of the cross pool at the start: maintenance / margin balance.
    CHECK(book.margin_ratio(MarginMode::cross, 0, start_prices(s)) == Approx(200.0 / 10000.0));
}

namespace {

// Every path of one block: `mode` and `same_as` agree exactly on each number the book keeps.
void check_modes_agree(const Scenario& s, MarginMode mode, MarginMode same_as) {
    const Engine engine(s);
    PathBlock paths(s.asset_count(), block_size);
    BookState state(engine.book(), block_size);
    engine.run_block(s.simulation.seed, 0, block_size, paths, state);
    std::size_t liquidated = 0;
    double funding = 0.0;
    for (std::size_t p = 0; p < block_size; ++p) {
        INFO("path " << p);
        REQUIRE(state.loss(mode, p) == state.loss(same_as, p));
        REQUIRE(state.drawdown(mode, p) == state.drawdown(same_as, p));
        REQUIRE(state.funding_paid(mode, p) == state.funding_paid(same_as, p));
        REQUIRE(state.first_liquidation_step(mode, p) == state.first_liquidation_step(same_as, p));
        for (std::size_t j = 0; j < s.positions.size(); ++j)
            REQUIRE(state.liquidation_step(mode, j, p) == state.liquidation_step(same_as, j, p));
        liquidated += state.first_liquidation_step(mode, p) != 0 ? 1 : 0;
        funding += state.funding_paid(mode, p);
    }
    // Not vacuous: some paths liquidate and funding is paid.
    CHECK(liquidated > 50);
    CHECK(liquidated < block_size);
    CHECK(funding != 0.0);
}

ScenarioBuilder four_assets_with_funding() {
    ScenarioBuilder b(20000, 14, 24, block_size);
    b.asset("BTC", 60000, 0.9, 0.0, 0.004, 0.0003)
        .asset("ETH", 2000, 1.1, 0.0, 0.005, -0.0002)
        .asset("SOL", 80, 1.3, 0.0, 0.005, 0.0004)
        .asset("XRP", 0.5, 1.2, 0.0, 0.005, 0.0001)
        .uniform_correlation(0.6)
        .policy(LiquidationPolicy::fee, 0.005);
    return b;
}

}  // namespace

// The book keeps one state for a pool that two modes have (the same positions on the same
// collateral), so a mode made only of another's pools must give that mode's numbers.
TEST_CASE("a mode whose pools are all another mode's gives its numbers on every path: funding and fees too") {
    struct Leg {
        const char* symbol;
        Side side;
        double margin;
        double leverage;
    };
    struct Book {
        const char* name;
        MarginMode mode;  // of every position, and the mode as_configured must agree with
        std::vector<Leg> legs;
    };
    constexpr Side l = Side::long_side;
    constexpr Side s = Side::short_side;
    const std::vector<Book> books{
        {"every position isolated: as_configured is the isolated mode", MarginMode::isolated,
         {{"BTC", l, 2000, 10}, {"ETH", s, 1500, 8}, {"SOL", l, 1000, 12}, {"XRP", l, 800, 15}, {"BTC", s, 700, 5}}},
        {"every position cross: as_configured is the cross mode", MarginMode::cross,
         {{"BTC", l, 5000, 10}, {"ETH", l, 5000, 10}, {"SOL", s, 2000, 10}}},
        {"a cross pool of more than 4 positions (its rows summed first)", MarginMode::cross,
         {{"BTC", l, 5000, 20}, {"ETH", l, 5000, 20}, {"SOL", l, 3000, 20}, {"XRP", l, 2000, 20}, {"ETH", s, 1000, 5}}},
    };
    for (const Book& book : books) {
        INFO(book.name);
        ScenarioBuilder b = four_assets_with_funding();
        for (const Leg& leg : book.legs) b.position(leg.symbol, leg.side, leg.margin, leg.leverage, book.mode);
        check_modes_agree(b.build(), MarginMode::as_configured, book.mode);
    }
}
