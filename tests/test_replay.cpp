// The replay of a book through real daily bars (replay.hpp, docs/stress.md), on hand-made price
// files whose outcome is worked out by hand in each test: liquidation prices from the isolated
// and cross rules written out (margin + q (P - E) s = rate q P), days counted from the first
// replayed date, losses from docs/model.md#what-a-liquidation-costs; the reader's High/Low
// checks; the bundled history against its own CSV rows.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_runner.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/stress.hpp"
#include "skip.hpp"

namespace {

using namespace marginsim;
using Catch::Matchers::Contains;

Date day(int y, unsigned m, unsigned d) {
    return Date(std::chrono::year_month_day{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)});
}

struct AssetSpec {
    std::string symbol;
    double price = 0.0;
    double maintenance_rate = 0.005;
    double funding_rate = 0.0;
};

struct PositionSpec {
    std::string symbol;
    std::string side;
    double margin = 0.0;
    double leverage = 0.0;
    std::string mode = "isolated";
};

// A scenario with flat maintenance rates, uncorrelated assets, `liquidation` the [liquidation] table's lines.
Scenario book(double balance, const std::vector<AssetSpec>& assets, const std::vector<PositionSpec>& positions,
              const std::string& liquidation = "") {
    std::string text = fmt::format("[simulation]\nhorizon_days = 2\n[account]\nbalance = {}\n", balance);
    if (!liquidation.empty()) text += "[liquidation]\n" + liquidation + "\n";
    for (const AssetSpec& a : assets) {
        text += fmt::format(
            "[[assets]]\nsymbol = \"{}\"\nprice = {}\nvolatility = 0.5\nmaintenance_margin_rate = {}\nfunding_rate = {}\n",
            a.symbol, a.price, a.maintenance_rate, a.funding_rate);
    }
    if (assets.size() > 1) {
        text += "[correlation]\nmatrix = [";
        for (std::size_t i = 0; i < assets.size(); ++i) {
            text += i == 0 ? "[" : ", [";
            for (std::size_t j = 0; j < assets.size(); ++j) text += (j == 0 ? "" : ", ") + std::string(i == j ? "1.0" : "0.0");
            text += "]";
        }
        text += "]\n";
    }
    for (const PositionSpec& p : positions) {
        text += fmt::format("[[positions]]\nsymbol = \"{}\"\nside = \"{}\"\nmargin = {}\nleverage = {}\nmode = \"{}\"\n",
                            p.symbol, p.side, p.margin, p.leverage, p.mode);
    }
    return parse_scenario(text, "book.toml");
}

struct Bar {
    Date date;
    double open = 0.0;
    double high = 0.0;
    double low = 0.0;
    double close = 0.0;
};

// CryptoDataDownload's layout: the publisher's line, the header, newest first.
std::string cdd_csv(const std::string& pair, const std::vector<Bar>& bars) {
    std::string text = "https://www.CryptoDataDownload.com\nUnix,Date,Symbol,Open,High,Low,Close,Volume,Volume USDT,tradecount\n";
    for (std::size_t k = bars.size(); k-- > 0;) {
        const Bar& b = bars[k];
        const long long ms = static_cast<long long>(b.date.time_since_epoch().count()) * 86400000LL;
        text += fmt::format("{},{},{},{},{},{},{},1,1,1\n", ms, format_date(b.date), pair, b.open, b.high, b.low, b.close);
    }
    return text;
}

// date,close from `first` on, one close a day.
std::string plain_csv(Date first, const std::vector<double>& closes) {
    std::string text = "date,close\n";
    for (std::size_t k = 0; k < closes.size(); ++k)
        text += fmt::format("{},{}\n", format_date(first + std::chrono::days(k)), closes[k]);
    return text;
}

// A bar of one calendar day after `previous`, opening at its close.
Bar next_bar(const Bar& previous, double high, double low, double close) {
    return {previous.date + std::chrono::days(1), previous.close, high, low, close};
}

const PositionOutcome& outcome(const Replay& r, ReplayBasis basis, MarginMode mode, std::size_t j) {
    return r.outcome(basis).modes[mode_index(mode)].positions[j];
}
const ModeOutcome& mode_outcome(const Replay& r, ReplayBasis basis, MarginMode mode) {
    return r.outcome(basis).modes[mode_index(mode)];
}

// Isolated liquidation prices, from margin + s q (P - E) = rate q P.
double long_lp(double margin, double quantity, double entry, double rate) {
    return (quantity * entry - margin) / (quantity * (1.0 - rate));
}
double short_lp(double margin, double quantity, double entry, double rate) {
    return (quantity * entry + margin) / (quantity * (1.0 + rate));
}

}  // namespace

TEST_CASE("a long whose liquidation price only a daily low touches: liquidated at the extremes, not on the closes",
          "[replay]") {
    // The file's prices are half the book's: the path is scaled by 200 / 100 (close of the day before).
    const Bar ref{day(2024, 1, 1), 99, 101, 98, 100};
    const Bar d1 = next_bar(ref, 101, 90, 95);  // low 90 -> 180 in the book, below the LP 180.90
    const Bar d2 = next_bar(d1, 96, 92, 93);
    const PriceSeries aaa = parse_price_csv(cdd_csv("AAAUSDT", {ref, d1, d2}), "Binance_AAAUSDT_d.csv");
    REQUIRE(aaa.symbol == "AAA");
    REQUIRE(aaa.has_extremes());
    const Scenario s = book(5000, {{"AAA", 200.0, 0.005}}, {{"AAA", "long", 1000, 10}});
    const double q = 10000.0 / 200.0;
    const double lp = long_lp(1000, q, 200, 0.005);  // 180.9045...
    REQUIRE(lp > 180.0);
    REQUIRE(lp < 2.0 * 93.0);  // no close reaches it

    const DailyBars bars = daily_bars({aaa});
    const Replay r = replay(s, bars, 1, 2);
    REQUIRE(r.dates.size() == 2);
    CHECK(r.reference_date == day(2024, 1, 1));

    const PositionOutcome& at_low = outcome(r, ReplayBasis::extremes, MarginMode::isolated, 0);
    CHECK(at_low.liquidated);
    CHECK(at_low.day == 1);
    CHECK(at_low.date == day(2024, 1, 2));  // the first replayed date's own move counts
    CHECK(at_low.price == Approx(lp).epsilon(1e-12));
    CHECK_FALSE(at_low.gapped);
    REQUIRE(at_low.liquidation_price);
    CHECK(*at_low.liquidation_price == Approx(lp).epsilon(1e-12));
    CHECK(mode_outcome(r, ReplayBasis::extremes, MarginMode::isolated).loss == Approx(1000.0));  // policy full

    const PositionOutcome& on_close = outcome(r, ReplayBasis::closes, MarginMode::isolated, 0);
    CHECK_FALSE(on_close.liquidated);
    CHECK(on_close.price == Approx(186.0));  // 200 * 93 / 100, marked to market there
    CHECK(mode_outcome(r, ReplayBasis::closes, MarginMode::isolated).loss == Approx(q * (200.0 - 186.0)));

    // The liquidation price is the one `marginsim liq` shows.
    const LiquidationPanel panel = liquidation_panel(s);
    CHECK(*panel.modes[mode_index(MarginMode::isolated)].rows[0].liquidation_price == *at_low.liquidation_price);

    const auto flags = realised_flags(s, bars, 1, 2);
    REQUIRE(flags);
    CHECK(flags->isolated_any_low);
    CHECK_FALSE(flags->isolated_any_close);
    // Cross: the whole 5,000 behind the position: LP = (10000 - 5000) / (50 * 0.995) = 100.5, far below.
    CHECK_FALSE(flags->cross_low);
    CHECK_FALSE(flags->cross_close);
}

TEST_CASE("a short whose liquidation price only a daily high touches, on the second day", "[replay]") {
    const Bar ref{day(2023, 6, 9), 50, 51, 49, 50};
    const Bar d1 = next_bar(ref, 55, 49, 54);
    const Bar d2 = next_bar(d1, 60, 53, 58);  // high 60 above the LP 59.41, close 58 below it
    const Bar d3 = next_bar(d2, 58.5, 55, 56);
    const PriceSeries bbb = parse_price_csv(cdd_csv("BBBUSDT", {ref, d1, d2, d3}), "Binance_BBBUSDT_d.csv");
    const Scenario s = book(500, {{"BBB", 50.0, 0.01}}, {{"BBB", "short", 500, 5}});
    const double lp = short_lp(500, 50, 50, 0.01);  // 3000 / 50.5 = 59.406
    const Replay r = replay(s, daily_bars({bbb}), 1, 3);
    const PositionOutcome& at_high = outcome(r, ReplayBasis::extremes, MarginMode::isolated, 0);
    CHECK(at_high.liquidated);
    CHECK(at_high.day == 2);
    CHECK(at_high.date == day(2023, 6, 11));
    CHECK(at_high.price == Approx(lp).epsilon(1e-12));
    CHECK_FALSE(outcome(r, ReplayBasis::closes, MarginMode::isolated, 0).liquidated);
    // Cross with a balance equal to the margin: the same pool, the same outcome.
    CHECK(outcome(r, ReplayBasis::extremes, MarginMode::cross, 0).day == 2);
    CHECK_FALSE(outcome(r, ReplayBasis::closes, MarginMode::cross, 0).liquidated);
    // Marked at the last close 56: the short lost 50 * 6.
    CHECK(mode_outcome(r, ReplayBasis::closes, MarginMode::isolated).loss == Approx(300.0));
    // Two days only: the high of day 2 is in; one day: nothing.
    CHECK(realised_flags(s, daily_bars({bbb}), 1, 2)->isolated_any_low);
    CHECK_FALSE(realised_flags(s, daily_bars({bbb}), 1, 1)->isolated_any_low);
}

TEST_CASE("a hedged pair in cross survives the moves that liquidate each isolated leg", "[replay]") {
    // Plain date,close files: no High/Low, so the extremes are the closes and each day opens at
    // the close before. Both assets fall 12% together, then rise to +12%.
    const Date first = day(2022, 3, 1);
    const PriceSeries aaa = parse_price_csv(plain_csv(first, {100, 88, 112}), "AAA.csv");
    const PriceSeries bbb = parse_price_csv(plain_csv(first, {100, 88, 112}), "BBB.csv");
    REQUIRE_FALSE(aaa.has_extremes());
    const Scenario s = book(2000, {{"AAA", 100.0}, {"BBB", 100.0}},
                            {{"AAA", "long", 1000, 10, "cross"}, {"BBB", "short", 1000, 10, "cross"}});
    const DailyBars bars = daily_bars({aaa, bbb});
    const Replay r = replay(s, bars, 1, 2);
    const double long_liq = long_lp(1000, 100, 100, 0.005);   // 90.45
    const double short_liq = short_lp(1000, 100, 100, 0.005);  // 109.45

    // Isolated: the long on day 1 (close 88 < 90.45), the short on day 2 (112 > 109.45).
    const PositionOutcome& long_close = outcome(r, ReplayBasis::closes, MarginMode::isolated, 0);
    const PositionOutcome& short_close = outcome(r, ReplayBasis::closes, MarginMode::isolated, 1);
    CHECK((long_close.liquidated && long_close.day == 1 && long_close.price == Approx(88.0)));
    CHECK((short_close.liquidated && short_close.day == 2 && short_close.price == Approx(112.0)));
    // At the extremes (the closes here) each leg closes where it crosses: at its liquidation price.
    CHECK(outcome(r, ReplayBasis::extremes, MarginMode::isolated, 0).price == Approx(long_liq).epsilon(1e-12));
    CHECK(outcome(r, ReplayBasis::extremes, MarginMode::isolated, 1).price == Approx(short_liq).epsilon(1e-12));
    CHECK(mode_outcome(r, ReplayBasis::closes, MarginMode::isolated).loss == Approx(2000.0));

    // Cross: upnl 100 (P - 100) - 100 (P - 100) = 0 every day; maintenance 0.005 * 2 * 100 P < 2000.
    for (const ReplayBasis basis : all_bases) {
        const ModeOutcome& cross = mode_outcome(r, basis, MarginMode::cross);
        CHECK(cross.liquidated_count() == 0);
        CHECK(cross.loss == Approx(0.0).margin(1e-9));
        CHECK(cross.at_risk == Approx(2000.0));
    }
    const auto flags = realised_flags(s, bars, 1, 2);
    REQUIRE(flags);
    CHECK((flags->isolated_any_low && flags->isolated_any_close));
    CHECK_FALSE((flags->cross_low || flags->cross_close));
    CHECK_THAT(r.notes.front(), Contains("no High and Low columns"));
}

TEST_CASE("a cross pool at the extremes closes where its margin balance meets its maintenance margin", "[replay]") {
    // Two longs in one cross wallet of 1,000; both fall on day 1, BTC-like AAA by 20% at the low, BBB by 40%.
    const Bar a0{day(2021, 1, 1), 100, 100, 100, 100};
    const Bar b0{day(2021, 1, 1), 10, 10, 10, 10};
    const PriceSeries aaa = parse_price_csv(cdd_csv("AAAUSDT", {a0, next_bar(a0, 101, 80, 99)}), "AAA.csv");
    const PriceSeries bbb = parse_price_csv(cdd_csv("BBBUSDT", {b0, next_bar(b0, 10.1, 6, 9.9)}), "BBB.csv");
    const Scenario s = book(1000, {{"AAA", 100.0, 0.01}, {"BBB", 10.0, 0.02}},
                            {{"AAA", "long", 500, 10, "cross"}, {"BBB", "long", 500, 10, "cross"}},
                            "policy = \"fee\"\nfee_rate = 0.001");
    const Replay r = replay(s, daily_bars({aaa, bbb}), 1, 1);
    const PositionOutcome& a = outcome(r, ReplayBasis::extremes, MarginMode::cross, 0);
    const PositionOutcome& b = outcome(r, ReplayBasis::extremes, MarginMode::cross, 1);
    REQUIRE(a.liquidated);
    REQUIRE(b.liquidated);
    // On the way from the open (100, 10) to the lows (80, 6), the same share t of each log move.
    const double t_a = std::log(a.price / 100.0) / std::log(0.8);
    const double t_b = std::log(b.price / 10.0) / std::log(0.6);
    CHECK(t_a == Approx(t_b).epsilon(1e-9));
    // There: 1000 + 50 (Pa - 100) + 500 (Pb - 10) = 0.01 * 50 Pa + 0.02 * 500 Pb.
    const double balance = 1000 + 50 * (a.price - 100) + 500 * (b.price - 10);
    const double maintenance = 0.01 * 50 * a.price + 0.02 * 500 * b.price;
    CHECK(balance == Approx(maintenance).epsilon(1e-9));
    // Policy fee: what is left is that balance less 0.1% of the notional.
    const double left = balance - 0.001 * (50 * a.price + 500 * b.price);
    CHECK(mode_outcome(r, ReplayBasis::extremes, MarginMode::cross).loss == Approx(1000 - left).epsilon(1e-9));
    // On the closes (99, 9.9) nothing happens: the account is marked there.
    CHECK(mode_outcome(r, ReplayBasis::closes, MarginMode::cross).liquidated_count() == 0);
    CHECK(mode_outcome(r, ReplayBasis::closes, MarginMode::cross).loss == Approx(50 * 1 + 500 * 0.1));
}

TEST_CASE("under the fee policy a day that opens beyond the liquidation price closes the position at the open",
          "[replay]") {
    // AAA opens day 2 at 90.3, below its LP 90.45 (a gap); CCC opens at 95 and falls through its LP to 85.
    const Bar a0{day(2020, 2, 1), 100, 100, 100, 100};
    const Bar a1 = next_bar(a0, 100, 94, 95);
    const Bar a2{a1.date + std::chrono::days(1), 90.3, 91, 86, 88};
    const Bar c0{day(2020, 2, 1), 100, 100, 100, 100};
    const Bar c1 = next_bar(c0, 100, 94, 95);
    const Bar c2 = next_bar(c1, 96, 85, 92);
    const PriceSeries aaa = parse_price_csv(cdd_csv("AAAUSDT", {a0, a1, a2}), "AAA.csv");
    const PriceSeries ccc = parse_price_csv(cdd_csv("CCCUSDT", {c0, c1, c2}), "CCC.csv");
    REQUIRE(aaa.opens.size() == 3);
    const Scenario s = book(2000, {{"AAA", 100.0}, {"CCC", 100.0}},
                            {{"AAA", "long", 1000, 10}, {"CCC", "long", 1000, 10}}, "policy = \"fee\"\nfee_rate = 0.001");
    const double lp = long_lp(1000, 100, 100, 0.005);
    REQUIRE(90.3 < lp);
    const Replay r = replay(s, daily_bars({aaa, ccc}), 1, 2);

    const PositionOutcome& gapped = outcome(r, ReplayBasis::extremes, MarginMode::isolated, 0);
    CHECK((gapped.liquidated && gapped.day == 2 && gapped.gapped));
    CHECK(gapped.price == Approx(90.3));
    // left = 1000 + 100 (90.3 - 100) - 0.001 * 100 * 90.3 = 20.97
    CHECK(gapped.pool_loss == Approx(1000 - (1000 + 100 * (90.3 - 100) - 0.001 * 100 * 90.3)));

    const PositionOutcome& through = outcome(r, ReplayBasis::extremes, MarginMode::isolated, 1);
    CHECK((through.liquidated && through.day == 2 && !through.gapped));
    CHECK(through.price == Approx(lp).epsilon(1e-12));
    // At the LP the balance is the maintenance margin: left = (0.005 - 0.001) * 100 * LP.
    CHECK(through.pool_loss == Approx(1000 - 0.004 * 100 * lp).epsilon(1e-9));

    // On the closes: AAA's 88 is below the LP and gapped through it: closed at 88, nothing left.
    const PositionOutcome& aaa_close = outcome(r, ReplayBasis::closes, MarginMode::isolated, 0);
    CHECK((aaa_close.liquidated && aaa_close.day == 2 && aaa_close.price == Approx(88.0)));
    CHECK(aaa_close.pool_loss == Approx(1000.0));
    CHECK_FALSE(outcome(r, ReplayBasis::closes, MarginMode::isolated, 1).liquidated);  // 92 > LP
}

TEST_CASE("funding is paid from the collateral three times a day and can liquidate alone", "[replay]") {
    // Flat prices; a long pays 0.001 * 100 * 100 = 10 per 8 hours, 30 a day: 1000 - 30 d <= 50 from day 32.
    std::vector<double> closes(41, 100.0);
    const PriceSeries aaa = parse_price_csv(plain_csv(day(2024, 1, 1), closes), "AAA.csv");
    const Scenario s = book(1000, {{"AAA", 100.0, 0.005, 0.001}}, {{"AAA", "long", 1000, 10}});
    const Replay r = replay(s, daily_bars({aaa}), 1, 40);
    for (const ReplayBasis basis : all_bases) {
        const PositionOutcome& p = outcome(r, basis, MarginMode::isolated, 0);
        CHECK((p.liquidated && p.day == 32));
        CHECK(mode_outcome(r, basis, MarginMode::isolated).funding_paid == Approx(32 * 30.0));
    }
    CHECK_THAT(r.notes.back(), Contains("funding"));
}

TEST_CASE("losses stay within what each mode can lose, and the extremes liquidate no later than the closes",
          "[replay]") {
    // Random bars for three assets; a book of longs and a short, isolated and cross.
    std::mt19937_64 rng(7);
    std::normal_distribution<double> move(0.0, 0.06);
    std::uniform_real_distribution<double> wick(0.0, 0.05);
    const Date first = day(2019, 1, 1);
    std::vector<PriceSeries> series;
    for (const std::string symbol : {"AAA", "BBB", "CCC"}) {
        std::vector<Bar> bars{{first, 10, 10, 10, 10}};
        for (int k = 1; k < 200; ++k) {
            const double close = bars.back().close * std::exp(move(rng));
            const double open = bars.back().close;
            bars.push_back({first + std::chrono::days(k), open, std::max(open, close) * (1 + wick(rng)),
                            std::min(open, close) * (1 - wick(rng)), close});
        }
        series.push_back(parse_price_csv(cdd_csv(symbol + "USDT", bars), symbol + ".csv"));
    }
    const DailyBars bars = daily_bars(series);
    for (const std::string policy : {"policy = \"full\"", "policy = \"fee\"\nfee_rate = 0.002"}) {
        const Scenario s = book(6000, {{"AAA", 30.0, 0.01}, {"BBB", 2.0, 0.02}, {"CCC", 500.0, 0.005}},
                                {{"AAA", "long", 1000, 12, "cross"},
                                 {"BBB", "short", 1500, 8, "isolated"},
                                 {"CCC", "long", 2000, 5, "cross"}},
                                policy);
        int liquidations = 0;
        for (std::size_t start = 1; start + 7 <= bars.day_count(); start += 3) {
            const Replay r = replay(s, bars, start, 7);
            for (const ReplayBasis basis : all_bases) {
                CHECK(mode_outcome(r, basis, MarginMode::isolated).at_risk == Approx(4500.0));
                CHECK(mode_outcome(r, basis, MarginMode::cross).at_risk == Approx(6000.0));
                CHECK(mode_outcome(r, basis, MarginMode::as_configured).at_risk == Approx(6000.0));
                for (const MarginMode mode : all_modes) {
                    const ModeOutcome& m = mode_outcome(r, basis, mode);
                    CHECK(m.loss <= m.at_risk + 1e-9);
                    liquidations += static_cast<int>(m.liquidated_count());
                }
            }
            for (const MarginMode mode : all_modes) {
                for (std::size_t j = 0; j < 3; ++j) {
                    const PositionOutcome& c = outcome(r, ReplayBasis::closes, mode, j);
                    const PositionOutcome& e = outcome(r, ReplayBasis::extremes, mode, j);
                    if (c.liquidated) CHECK((e.liquidated && e.day <= c.day));
                }
            }
            // The flags are the replay's.
            const auto flags = realised_flags(s, bars, start, 7);
            REQUIRE(flags);
            CHECK(flags->isolated_any_low == (mode_outcome(r, ReplayBasis::extremes, MarginMode::isolated).liquidated_count() > 0));
            CHECK(flags->cross_close == (mode_outcome(r, ReplayBasis::closes, MarginMode::cross).liquidated_count() > 0));
        }
        CHECK(liquidations > 20);  // the test exercised liquidations, not only calm windows
    }
}

TEST_CASE("a window missing a day is refused, skipped by the flags, and named", "[replay]") {
    // BBB lacks 2024-05-03.
    const Date first = day(2024, 5, 1);
    const PriceSeries aaa = parse_price_csv(plain_csv(first, {10, 11, 12, 13, 14, 15}), "AAA.csv");
    const PriceSeries bbb =
        parse_price_csv("date,close\n2024-05-01,5\n2024-05-02,5\n2024-05-04,5\n2024-05-05,5\n2024-05-06,5\n", "BBB.csv");
    const Scenario s = book(2000, {{"AAA", 10.0}, {"BBB", 5.0}}, {{"AAA", "long", 100, 2}, {"BBB", "long", 100, 2}});
    const DailyBars bars = daily_bars({aaa, bbb});
    REQUIRE(bars.day_count() == 5);  // the common dates
    CHECK(bars.window_complete(1, 1));
    CHECK_FALSE(bars.window_complete(1, 2));  // 05-02 .. 05-03: 05-03 is missing
    CHECK_FALSE(bars.window_complete(2, 1));  // reference 05-02, first day 05-04
    CHECK(bars.window_complete(3, 2));        // 05-05, 05-06 from 05-04
    CHECK_FALSE(bars.window_complete(0, 1));  // no reference close
    CHECK_FALSE(bars.window_complete(4, 2));  // past the end
    CHECK(realised_flags(s, bars, 1, 1));
    CHECK_FALSE(realised_flags(s, bars, 1, 2));
    CHECK_THROWS_AS(replay(s, bars, 1, 2), InputError);

    CHECK_THROWS_WITH(check_window({aaa, bbb}, {"2024-05-02", day(2024, 5, 2), 3, ""}),
                      Contains("BBB.csv: BBB has no daily bar for 2024-05-03, a day missing from the file"));
    CHECK_THROWS_WITH(check_window({aaa, bbb}, {"x", day(2024, 5, 1), 1, ""}),
                      Contains("AAA has no daily bar for 2024-04-30, before its history: 2024-05-01 .. 2024-05-06"));
    CHECK_THROWS_WITH(check_window({aaa, bbb}, {"x", day(2024, 5, 6), 2, ""}),
                      Contains("AAA has no daily bar for 2024-05-07, after its history"));
    CHECK_NOTHROW(check_window({aaa, bbb}, {"x", day(2024, 5, 5), 2, ""}));

    // The whole catalogue asked: uncovered windows are skipped and said; one asked by name is an error.
    const std::vector<ReplayWindow> windows{{"a", day(2024, 5, 2), 2, ""}, {"b", day(2024, 5, 5), 2, ""}};
    const StressReport report = stress_test(s, {aaa, bbb}, windows, true);
    REQUIRE(report.replays.size() == 1);
    CHECK(report.replays[0].window.name == "b");
    REQUIRE(report.skipped.size() == 1);
    CHECK_THAT(report.skipped[0], Contains("a: BBB has no daily bar for 2024-05-03"));
    CHECK_THROWS_AS(stress_test(s, {aaa, bbb}, windows, false), InputError);
}

TEST_CASE("High and Low columns: read when present, bad bars refused with file, line and column", "[replay]") {
    const std::string head = "https://www.CryptoDataDownload.com\nUnix,Date,Symbol,Open,High,Low,Close\n";
    const auto error_of = [](const std::string& text) {
        try {
            parse_price_csv(text, "p.csv");
        } catch (const InputError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    const PriceSeries ok = parse_price_csv(head + "1,2024-01-02,XUSDT,10,12,9,11\n1,2024-01-01,XUSDT,9.5,10.5,9,10\n", "p.csv");
    CHECK(ok.dates.front() == day(2024, 1, 1));
    CHECK(ok.highs == std::vector<double>{10.5, 12});
    CHECK(ok.lows == std::vector<double>{9, 9});
    CHECK(ok.opens == std::vector<double>{9.5, 10});
    CHECK(error_of(head + "1,2024-01-02,XUSDT,10,8,9,8.5\n") ==
          "p.csv:3:23: high: the high 8 is below the low 9 (expected low <= high)");
    CHECK(error_of(head + "1,2024-01-02,XUSDT,10,12,9,13\n") ==
          "p.csv:3:28: close: close 13 lies outside the day's range [low 9, high 12] (expected low <= close <= high)");
    CHECK(error_of(head + "1,2024-01-02,XUSDT,8,12,9,10\n") ==
          "p.csv:3:20: open: open 8 lies outside the day's range [low 9, high 12] (expected low <= open <= high)");
    CHECK(error_of(head + "1,2024-01-02,XUSDT,10,12,abc,10\n") ==
          "p.csv:3:26: low: not a number: found \"abc\" (expected the day's lowest price > 0)");
    // A High column without a Low one: no extremes, the closes alone.
    const PriceSeries high_only = parse_price_csv("date,high,close\n2024-01-01,1,5\n", "p.csv");
    CHECK_FALSE(high_only.has_extremes());
    CHECK(high_only.closes == std::vector<double>{5});
}

TEST_CASE("history by symbol in a directory, and the replay values", "[replay]") {
    marginsim::testing::TempDir dir("replay_history");
    dir.write("Binance_AAAUSDT_d.csv", plain_csv(day(2024, 1, 1), {1, 2}));
    dir.write("bbb.csv", plain_csv(day(2024, 1, 1), {3, 4}));
    dir.write("notes.txt", "not a price file");
    const Scenario s = book(1000, {{"AAA", 1.0}, {"BBB", 3.0}}, {{"AAA", "long", 100, 2}});
    const std::vector<PriceSeries> series = read_history(s, dir.path());
    REQUIRE(series.size() == 2);
    CHECK(series[0].symbol == "AAA");
    CHECK(series[1].symbol == "BBB");
    CHECK(series[1].closes == std::vector<double>{3, 4});

    const Scenario more = book(1000, {{"AAA", 1.0}, {"ZZZ", 3.0}}, {{"AAA", "long", 100, 2}});
    CHECK_THROWS_WITH(read_history(more, dir.path()),
                      Contains("no price file for the asset ZZZ in " + dir.path().string()));
    dir.write("AAA.csv", plain_csv(day(2024, 1, 1), {1, 2}));
    CHECK_THROWS_WITH(read_history(s, dir.path()), Contains("two price files for the asset AAA"));
    CHECK_THROWS_WITH(read_history(s, dir.path() / "missing"), Contains("not a directory"));

    const std::vector<ReplayWindow> windows = replay_windows({"covid-2020-03-12", "2021-02-03"}, std::nullopt, 7);
    REQUIRE(windows.size() == 2);
    CHECK((windows[0].start == day(2020, 3, 12) && windows[0].days == 2));
    CHECK((windows[1].start == day(2021, 2, 3) && windows[1].days == 7 && windows[1].name == "2021-02-03"));
    CHECK(replay_windows({"all"}, 4, 7).size() == replay_catalogue().size());
    for (const ReplayWindow& w : replay_windows({"all", "may-2021"}, 4, 7)) CHECK(w.days == 4);
    CHECK(replay_windows({"all", "may-2021"}, std::nullopt, 7).size() == 6);  // no window twice
    CHECK_THROWS_WITH(replay_windows({"2021-02-30"}, std::nullopt, 7),
                      Contains("--replay 2021-02-30: not a date YYYY-MM-DD nor the name of a window of the catalogue"));
    CHECK_THROWS_AS(replay_windows({"covid"}, std::nullopt, 7), InputError);
    CHECK_THROWS_WITH(replay_windows({"all"}, 0, 7), "--days: 0 days (expected at least one day to replay)");
}

TEST_CASE("the bundled history: a 10x BTC long is liquidated on 2020-03-12", "[replay]") {
    const std::filesystem::path dir = std::filesystem::path(MARGINSIM_SOURCE_DIR) / "data" / "binance_daily";
    if (!std::filesystem::exists(dir / "Binance_BTCUSDT_d.csv")) {
        marginsim_skip("no bundled history in " + dir.string());
        return;
    }
    const Scenario s = book(10000, {{"BTC", 66797.37, 0.004}, {"ETH", 2026.48, 0.004}},
                            {{"BTC", "long", 2000, 10, "cross"}, {"ETH", "long", 2000, 10, "cross"}});
    const std::vector<PriceSeries> series = read_history(s, dir);
    // The CSV's own rows: the close of 2020-03-11 and the low and close of 2020-03-12.
    const PriceSeries& btc = series[0];
    const auto at = [&](Date date) {
        return static_cast<std::size_t>(std::find(btc.dates.begin(), btc.dates.end(), date) - btc.dates.begin());
    };
    const std::size_t k = at(day(2020, 3, 12));
    REQUIRE(k < btc.dates.size());
    REQUIRE(btc.dates[k - 1] == day(2020, 3, 11));
    const double low_move = btc.lows[k] / btc.closes[k - 1];
    const double close_move = btc.closes[k] / btc.closes[k - 1];
    // A 10x long at 0.4% maintenance liquidates at (1 - 1/10) / (1 - 0.004) = 0.9036 of the price.
    const double lp_ratio = 0.9 / 0.996;
    REQUIRE(low_move < lp_ratio);   // BTC fell more than 10% intraday...
    REQUIRE(close_move < lp_ratio);  // ...and closed there too

    const StressReport report = stress_test(s, series, replay_windows({"covid-2020-03-12"}, std::nullopt, 7), false);
    const Replay& r = report.replays.at(0);
    for (const ReplayBasis basis : all_bases) {
        const PositionOutcome& p = outcome(r, basis, MarginMode::isolated, 0);
        CHECK((p.liquidated && p.day == 1 && p.date == day(2020, 3, 12)));
    }
    CHECK(outcome(r, ReplayBasis::extremes, MarginMode::isolated, 0).price == Approx(66797.37 * lp_ratio).epsilon(1e-9));
    CHECK(outcome(r, ReplayBasis::closes, MarginMode::isolated, 0).price == Approx(66797.37 * close_move).epsilon(1e-12));
    CHECK(r.assets[0].worst_low <= low_move - 1.0);
}

TEST_CASE("a pool that starts liquidated is liquidated on day 0 with the loss of its floored equity", "[replay]") {
    // A long opened at 200 (q = 10 x 1,000 / 200 = 50) now at 100: its isolated equity is
    // 1000 - 5000 < 0, liquidated at the start, losing 0 more (the deficit is the exchange's);
    // in cross the 10,000 balance carries it: equity 5,000 > maintenance 25.
    std::string text =
        "[simulation]\nhorizon_days = 2\n[account]\nbalance = 10000\n[[assets]]\nsymbol = \"AAA\"\nprice = 100\n"
        "volatility = 0.5\nmaintenance_margin_rate = 0.005\n[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\n"
        "margin = 1000\nleverage = 10\nentry_price = 200\nmode = \"isolated\"\n";
    const Scenario s = parse_scenario(text, "book.toml");
    const PriceSeries aaa = parse_price_csv(plain_csv(day(2024, 1, 1), {10, 10.5, 11}), "AAA.csv");
    const Replay r = replay(s, daily_bars({aaa}), 1, 2);
    for (const ReplayBasis basis : all_bases) {
        const PositionOutcome& p = outcome(r, basis, MarginMode::isolated, 0);
        CHECK((p.liquidated && p.day == 0 && !p.date));
        CHECK_FALSE(p.liquidation_price);
        CHECK(mode_outcome(r, basis, MarginMode::isolated).loss == Approx(0.0));
        CHECK(mode_outcome(r, basis, MarginMode::isolated).first_day() == 0);
        // Cross: open to the end, marked at 110: upnl 50 (110 - 200) = -4,500 against a start of -5,000.
        CHECK_FALSE(outcome(r, basis, MarginMode::cross, 0).liquidated);
        CHECK(mode_outcome(r, basis, MarginMode::cross).loss == Approx(-500.0));
    }
}
