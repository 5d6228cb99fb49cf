// The replay itself: a book's pools (the MarginBook of the engine: the same pools per account
// mode, tiers, maintenance margin and liquidation rule) walked day by day through a window of
// real daily bars scaled to today's prices, on the closes and at the adverse extremes.

#include "marginsim/replay.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/margin_book.hpp"
#include "marginsim/error.hpp"

namespace marginsim {
namespace {

using std::chrono::days;

// The window's prices scaled to the book, [asset][k] for day k + 1:
// P_i(k) = P_i(0) * bar_i(D + k) / close_i(D - 1).
struct ScaledPath {
    std::vector<double> start;
    std::vector<std::vector<double>> open, high, low, close;
    int days = 0;
};

ScaledPath scaled_path(const Scenario& book, const DailyBars& bars, std::size_t first, int day_count) {
    ScaledPath path;
    path.days = day_count;
    const std::size_t n = book.asset_count();
    path.open.resize(n);
    path.high.resize(n);
    path.low.resize(n);
    path.close.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double price = book.assets[i].price;
        const double factor = price / bars.close[i][first - 1];
        path.start.push_back(price);
        for (int d = 0; d < day_count; ++d) {
            const std::size_t k = first + static_cast<std::size_t>(d);
            path.open[i].push_back(bars.open[i][k] * factor);
            path.high[i].push_back(bars.high[i][k] * factor);
            path.low[i].push_back(bars.low[i][k] * factor);
            path.close[i].push_back(bars.close[i][k] * factor);
        }
    }
    return path;
}

std::vector<double> day_prices(const std::vector<std::vector<double>>& prices, int d) {
    std::vector<double> out;
    for (const std::vector<double>& asset : prices) out.push_back(asset[static_cast<std::size_t>(d)]);
    return out;
}

// A pool's sums at given prices (every asset's price; only the pool's own matter).
struct PoolSums {
    double upnl = 0.0;
    double maintenance = 0.0;
    double notional = 0.0;
};

PoolSums pool_sums(const MarginBook& book, const MarginPool& pool, const std::vector<double>& prices) {
    PoolSums sums;
    for (const std::size_t j : pool.positions) {
        const double p = prices[book.asset_of(j)];
        sums.upnl += book.upnl(j, p);
        sums.maintenance += book.maintenance(j, p);
        sums.notional += book.quantity(j) * p;
    }
    return sums;
}

bool liquidated_at(const MarginBook& book, const MarginPool& pool, double collateral,
                   const std::vector<double>& prices) {
    const PoolSums sums = pool_sums(book, pool, prices);
    return MarginBook::is_liquidated(collateral + sums.upnl, sums.maintenance);
}

// Every asset of the pool at the end of its day's range that is worse for the pool (the low for
// a long, the high for a short; for an asset held both ways, the end with the lower margin
// surplus); the other assets at their close.
std::vector<double> adverse_prices(const MarginBook& book, const MarginPool& pool, const ScaledPath& path, int d) {
    std::vector<double> prices = day_prices(path.close, d);
    const auto k = static_cast<std::size_t>(d);
    for (const std::size_t j : pool.positions) {
        const std::size_t a = book.asset_of(j);
        double at_low = 0.0;
        double at_high = 0.0;
        for (const std::size_t other : pool.positions) {
            if (book.asset_of(other) != a) continue;
            at_low += book.upnl(other, path.low[a][k]) - book.maintenance(other, path.low[a][k]);
            at_high += book.upnl(other, path.high[a][k]) - book.maintenance(other, path.high[a][k]);
        }
        prices[a] = at_low <= at_high ? path.low[a][k] : path.high[a][k];
    }
    return prices;
}

// The prices on the way from `from` to `to` (log-linear: every asset the same share of its
// move) at which the pool's margin balance meets its maintenance margin; `from` itself when
// it is already liquidated there (the day opened beyond: a gap). `to` liquidates the pool.
std::vector<double> crossing_prices(const MarginBook& book, const MarginPool& pool, double collateral,
                                    const std::vector<double>& from, const std::vector<double>& to, bool& gapped) {
    const auto at = [&](double t) {
        std::vector<double> prices(from.size());
        for (std::size_t i = 0; i < from.size(); ++i) prices[i] = from[i] * std::pow(to[i] / from[i], t);
        return prices;
    };
    gapped = liquidated_at(book, pool, collateral, from);
    if (gapped) return from;
    double safe = 0.0;
    double hit = 1.0;
    for (int iteration = 0; iteration < 64; ++iteration) {  // t to the precision of a double
        const double mid = 0.5 * (safe + hit);
        (liquidated_at(book, pool, collateral, at(mid)) ? hit : safe) = mid;
    }
    return at(hit);
}

// What happened to one pool over the window.
struct PoolOutcome {
    bool liquidated = false;
    int day = 0;                 // 1-based; 0 at the start
    std::vector<double> prices;  // every asset where it closed, or the last closes
    bool gapped = false;
    double loss = 0.0;
    double funding_paid = 0.0;
};

class PoolReplay {
public:
    PoolReplay(const Scenario& scenario, const MarginBook& book, const MarginPool& pool, const ScaledPath& path)
        : scenario_(scenario), book_(book), pool_(pool), path_(path) {}

    PoolOutcome run(ReplayBasis basis) const {
        if (pool_.liquidated_at_start()) return at_start();
        PoolOutcome out;
        double collateral = pool_.collateral;
        for (int d = 0; d < path_.days; ++d) {
            const std::vector<double> closes = day_prices(path_.close, d);
            // Funding of the day's three 8-hour times, at its close, before its liquidation test.
            const double paid = 3.0 * funding_per_time(closes);
            collateral -= paid;
            out.funding_paid += paid;
            const std::vector<double> tested = basis == ReplayBasis::closes ? closes : adverse_prices(book_, pool_, path_, d);
            if (!liquidated_at(book_, pool_, collateral, tested)) continue;
            out.liquidated = true;
            out.day = d + 1;
            out.prices = basis == ReplayBasis::closes
                             ? closes
                             : crossing_prices(book_, pool_, collateral, day_prices(path_.open, d), tested, out.gapped);
            out.loss = pool_.start_equity - left_after_close(collateral, out.prices);
            return out;
        }
        out.prices = day_prices(path_.close, path_.days - 1);
        out.loss = pool_.start_equity - (collateral + pool_sums(book_, pool_, out.prices).upnl);
        return out;
    }

private:
    // docs/model.md#funding: s * funding_rate * q * P per 8 hours, paid by longs when positive.
    double funding_per_time(const std::vector<double>& prices) const {
        double paid = 0.0;
        for (const std::size_t j : pool_.positions) {
            const std::size_t a = book_.asset_of(j);
            paid += book_.side_sign(j) * scenario_.assets[a].funding_rate * book_.quantity(j) * prices[a];
        }
        return paid;
    }

    // docs/model.md#what-a-liquidation-costs: policy full keeps nothing; fee keeps the margin
    // balance less the fee on the notional, at the closing prices.
    double left_after_close(double collateral, const std::vector<double>& prices) const {
        if (scenario_.policy != LiquidationPolicy::fee) return 0.0;
        const PoolSums sums = pool_sums(book_, pool_, prices);
        return std::max(0.0, collateral + sums.upnl - scenario_.fee_rate * sums.notional);
    }

    // docs/model.md#books-that-start-liquidated: the loss realised at time 0 from the start
    // equity floored at 0.
    PoolOutcome at_start() const {
        PoolOutcome out;
        out.liquidated = true;
        out.prices = path_.start;
        const double equity = std::max(0.0, pool_.start_equity);
        const double left = scenario_.policy == LiquidationPolicy::fee
                                ? std::max(0.0, equity - scenario_.fee_rate * pool_sums(book_, pool_, path_.start).notional)
                                : 0.0;
        out.loss = equity - left;
        return out;
    }

    const Scenario& scenario_;
    const MarginBook& book_;
    const MarginPool& pool_;
    const ScaledPath& path_;
};

ModeOutcome replay_mode(const Scenario& scenario, const MarginBook& book, const ScaledPath& path, MarginMode mode,
                        ReplayBasis basis, const std::vector<Date>& dates) {
    ModeOutcome out;
    out.mode = mode;
    out.positions.resize(scenario.positions.size());
    const ModeLayout& layout = book.layout(mode);
    for (const MarginPool& pool : layout.pools) {
        const PoolOutcome result = PoolReplay(scenario, book, pool, path).run(basis);
        out.loss += result.loss;
        out.at_risk += std::max(0.0, pool.start_equity);
        out.funding_paid += result.funding_paid;
        for (const std::size_t j : pool.positions) {
            PositionOutcome& p = out.positions[j];
            p.position = j;
            p.symbol = scenario.positions[j].symbol;
            p.side = scenario.positions[j].side;
            p.pool = pool.is_cross ? MarginMode::cross : MarginMode::isolated;
            if (!pool.liquidated_at_start()) p.liquidation_price = book.liquidation_price(mode, j, path.start);
            p.liquidated = result.liquidated;
            p.day = result.day;
            if (result.liquidated && result.day > 0) p.date = dates[static_cast<std::size_t>(result.day - 1)];
            p.price = result.prices[book.asset_of(j)];
            p.gapped = result.gapped;
            p.pool_loss = result.loss;
        }
    }
    return out;
}

void check_assets(const Scenario& book, const DailyBars& bars) {
    bool same = bars.asset_count() == book.asset_count();
    for (std::size_t i = 0; same && i < bars.asset_count(); ++i) same = bars.symbols[i] == book.assets[i].symbol;
    if (!same) throw std::invalid_argument("replay: the bars are not the book's assets in its order");
}

std::array<BasisOutcome, all_bases.size()> replay_outcomes(const Scenario& book, const DailyBars& bars,
                                                           std::size_t first, int day_count,
                                                           const std::vector<MarginMode>& modes) {
    const ScaledPath path = scaled_path(book, bars, first, day_count);
    const std::vector<Date> dates(bars.dates.begin() + static_cast<std::ptrdiff_t>(first),
                                  bars.dates.begin() + static_cast<std::ptrdiff_t>(first) + day_count);
    const MarginBook margin_book(book);
    std::array<BasisOutcome, all_bases.size()> outcomes;
    for (const ReplayBasis basis : all_bases) {
        BasisOutcome& outcome = outcomes[static_cast<std::size_t>(basis)];
        outcome.basis = basis;
        for (const MarginMode mode : modes)
            outcome.modes[mode_index(mode)] = replay_mode(book, margin_book, path, mode, basis, dates);
    }
    return outcomes;
}

AssetMove asset_move(const DailyBars& bars, std::size_t i, std::size_t first, int day_count) {
    AssetMove move;
    move.symbol = bars.symbols[i];
    move.source = bars.sources[i];
    move.has_extremes = bars.has_extremes[i];
    move.reference_close = bars.close[i][first - 1];
    const std::size_t last = first + static_cast<std::size_t>(day_count) - 1;
    move.close_return = bars.close[i][last] / move.reference_close - 1.0;
    move.worst_low = move.best_high = 0.0;
    for (int d = 0; d < day_count; ++d) {
        const std::size_t k = first + static_cast<std::size_t>(d);
        const double low = bars.low[i][k] / move.reference_close - 1.0;
        const double high = bars.high[i][k] / move.reference_close - 1.0;
        if (d == 0 || low < move.worst_low) {
            move.worst_low = low;
            move.worst_low_day = d + 1;
        }
        if (d == 0 || high > move.best_high) {
            move.best_high = high;
            move.best_high_day = d + 1;
        }
    }
    return move;
}

}  // namespace

std::string_view to_string(ReplayBasis basis) noexcept {
    return basis == ReplayBasis::closes ? "closes" : "extremes";
}

std::size_t ModeOutcome::liquidated_count() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(positions.begin(), positions.end(), [](const PositionOutcome& p) { return p.liquidated; }));
}

std::optional<int> ModeOutcome::first_day() const noexcept {
    std::optional<int> first;
    for (const PositionOutcome& p : positions)
        if (p.liquidated && (!first || p.day < *first)) first = p.day;
    return first;
}

Replay replay(const Scenario& book, const DailyBars& bars, std::size_t start, int day_count) {
    check_assets(book, bars);
    if (!bars.window_complete(start, day_count)) {
        throw InputError("", 0, 0, "",
                         fmt::format("the window of {} day{} from bar {} misses a day or passes the end of the "
                                     "bars common to every asset",
                                     day_count, day_count == 1 ? "" : "s", start),
                         "consecutive daily bars from the day before the window to its last day");
    }
    Replay out;
    out.window = {format_date(bars.dates[start]), bars.dates[start], day_count, ""};
    out.reference_date = bars.dates[start - 1];
    out.dates.assign(bars.dates.begin() + static_cast<std::ptrdiff_t>(start),
                     bars.dates.begin() + static_cast<std::ptrdiff_t>(start) + day_count);
    for (std::size_t i = 0; i < bars.asset_count(); ++i) {
        out.assets.push_back(asset_move(bars, i, start, day_count));
        if (!bars.has_extremes[i]) {
            out.notes.push_back(fmt::format("{}: {} has no High and Low columns: its extremes are its closes",
                                            bars.symbols[i], bars.sources[i]));
        }
    }
    if (std::any_of(book.assets.begin(), book.assets.end(), [](const Asset& a) { return a.funding_rate != 0.0; })) {
        out.notes.push_back(
            "funding is paid three times a day at the day's close, before that day's liquidation test");
    }
    out.outcomes = replay_outcomes(book, bars, start, day_count, {all_modes.begin(), all_modes.end()});
    return out;
}

std::optional<RealisedFlags> realised_flags(const Scenario& book, const DailyBars& bars, std::size_t start,
                                            int horizon_days) {
    check_assets(book, bars);
    if (!bars.window_complete(start, horizon_days)) return std::nullopt;
    const auto outcomes =
        replay_outcomes(book, bars, start, horizon_days, {MarginMode::isolated, MarginMode::cross});
    const auto any = [&](ReplayBasis basis, MarginMode mode) {
        return outcomes[static_cast<std::size_t>(basis)].modes[mode_index(mode)].liquidated_count() > 0;
    };
    return RealisedFlags{any(ReplayBasis::extremes, MarginMode::isolated), any(ReplayBasis::closes, MarginMode::isolated),
                         any(ReplayBasis::extremes, MarginMode::cross), any(ReplayBasis::closes, MarginMode::cross)};
}

}  // namespace marginsim
