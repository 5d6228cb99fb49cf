#include "marginsim/margin_book.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace marginsim {
namespace {

ModeLayout make_layout(const Scenario& scenario, MarginMode mode) {
    ModeLayout layout;
    layout.mode = mode;
    const std::size_t n = scenario.positions.size();
    layout.pool_of_position.assign(n, 0);
    MarginPool cross_pool;
    cross_pool.is_cross = true;
    cross_pool.collateral = scenario.cross_wallet(mode);
    for (std::size_t j = 0; j < n; ++j) {
        const Position& position = scenario.positions[j];
        const bool isolated = mode == MarginMode::isolated ||
                              (mode == MarginMode::as_configured && position.mode == MarginMode::isolated);
        if (isolated) {
            layout.pool_of_position[j] = layout.pools.size();
            layout.pools.push_back(MarginPool{position.margin, 0.0, {j}, false});
        } else {
            cross_pool.positions.push_back(j);
        }
    }
    if (!cross_pool.positions.empty()) {
        for (std::size_t j : cross_pool.positions) layout.pool_of_position[j] = layout.pools.size();
        layout.pools.push_back(std::move(cross_pool));
    }
    return layout;
}

}  // namespace

MarginBook::MarginBook(const Scenario& scenario)
    : asset_count_(scenario.asset_count()),
      steps_(scenario.simulation.steps),
      dt_days_(scenario.simulation.dt_days()),
      steps_per_day_(scenario.simulation.steps_per_day),
      has_funding_(false),
      policy_(scenario.policy),
      fee_rate_(scenario.fee_rate) {
    for (const Asset& asset : scenario.assets) tiers_.push_back(asset.tiers);
    for (const Position& position : scenario.positions) {
        side_.push_back(sign(position.side));
        asset_.push_back(position.asset);
        quantity_.push_back(position.quantity);
        entry_price_.push_back(position.entry_price);
        const double funding = scenario.assets[position.asset].funding_rate;
        funding_rate_.push_back(funding);
        has_funding_ = has_funding_ || funding != 0.0;
    }
    for (MarginMode mode : all_modes) {
        ModeLayout layout = make_layout(scenario, mode);
        for (MarginPool& pool : layout.pools) {
            pool.start_equity = pool.collateral;
            for (std::size_t j : pool.positions) pool.start_equity += upnl(j, scenario.assets[asset_[j]].price);
        }
        layouts_[mode_index(mode)] = std::move(layout);
    }
}

int MarginBook::fundings_at(int step) const noexcept {
    if (!has_funding_ || step <= 0) return 0;
    // Funding falls due every 8 hours of simulated time: 3 times a day.
    return (3 * step) / steps_per_day_ - (3 * (step - 1)) / steps_per_day_;
}

namespace {

// f(P) = A + B P on one segment of prices where no position changes tier.
struct Linear {
    double a = 0.0;
    double b = 0.0;
    double at(double p) const noexcept { return a + b * p; }
};

}  // namespace

std::optional<double> MarginBook::liquidation_price(MarginMode mode, std::size_t j,
                                                    std::span<const double> start_price) const {
    const ModeLayout& layout = layouts_[mode_index(mode)];
    const MarginPool& pool = layout.pools[layout.pool_of_position[j]];
    const std::size_t moving_asset = asset_[j];
    const double current = start_price[moving_asset];

    // Tier breakpoints of the positions whose notional moves with the price.
    std::vector<double> breaks;
    double fixed = pool.collateral;
    for (std::size_t k : pool.positions) {
        if (asset_[k] != moving_asset) {
            const double p = start_price[asset_[k]];
            fixed += upnl(k, p) - maintenance(k, p);
            continue;
        }
        for (const Tier& tier : tiers_[asset_[k]])
            if (std::isfinite(tier.notional_cap)) breaks.push_back(tier.notional_cap / quantity_[k]);
    }
    std::sort(breaks.begin(), breaks.end());
    breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());

    // Segment s covers prices (lo, hi]: lo = breaks[s-1] (0 for s = 0), hi = breaks[s] (inf last).
    const std::size_t segments = breaks.size() + 1;
    auto lo_of = [&](std::size_t s) { return s == 0 ? 0.0 : breaks[s - 1]; };
    auto hi_of = [&](std::size_t s) {
        return s < breaks.size() ? breaks[s] : std::numeric_limits<double>::infinity();
    };
    auto linear_on = [&](std::size_t s) {
        const double lo = lo_of(s);
        const double hi = hi_of(s);
        const double inside = std::isfinite(hi) ? 0.5 * (lo + hi) : (lo > 0 ? 2.0 * lo : 1.0);
        Linear f{fixed, 0.0};
        for (std::size_t k : pool.positions) {
            if (asset_[k] != moving_asset) continue;
            const Tier& tier = tiers_[asset_[k]][tier_index(tiers_[asset_[k]], quantity_[k] * inside)];
            const double q = quantity_[k];
            f.a += -side_[k] * q * entry_price_[k] + tier.amount;
            f.b += side_[k] * q - q * tier.rate;
        }
        return f;
    };
    std::size_t here = 0;
    while (here + 1 < segments && current > hi_of(here)) ++here;

    // Largest liquidating price at or below the current one.
    std::optional<double> below;
    for (std::size_t s = here + 1; s-- > 0 && !below;) {
        const Linear f = linear_on(s);
        const double upper = std::min(hi_of(s), current);
        if (f.at(upper) <= 0.0) {
            below = upper;
        } else if (f.b > 0.0) {
            const double root = -f.a / f.b;
            if (root > lo_of(s)) below = root;
        }
    }
    // Smallest liquidating price at or above the current one.
    std::optional<double> above;
    for (std::size_t s = here; s < segments && !above; ++s) {
        const Linear f = linear_on(s);
        const double lower = std::max(lo_of(s), current);
        if (f.at(lower) <= 0.0) {
            above = lower;
        } else if (f.b < 0.0) {
            const double root = -f.a / f.b;
            if (root <= hi_of(s)) above = root;
        }
    }
    if (below && !(*below > 0.0)) below.reset();
    if (!below) return above;
    if (!above) return below;
    // Both directions liquidate (a pool holding both sides of one asset): the nearer one.
    return std::log(current / *below) <= std::log(*above / current) ? below : above;
}

double MarginBook::margin_ratio(MarginMode mode, std::size_t pool_index,
                                std::span<const double> price) const {
    const MarginPool& pool = layouts_[mode_index(mode)].pools[pool_index];
    double balance = pool.collateral;
    double maintenance_total = 0.0;
    for (std::size_t k : pool.positions) {
        balance += upnl(k, price[asset_[k]]);
        maintenance_total += maintenance(k, price[asset_[k]]);
    }
    return maintenance_total / balance;
}

BookState::BookState(const MarginBook& book, std::size_t capacity) : book_(&book), capacity_(capacity) {
    for (MarginMode mode : all_modes) {
        pool_offset_[mode_index(mode)] = pool_total_;
        pool_total_ += book.layout(mode).pools.size();
    }
    const std::size_t positions = book.position_count();
    upnl_.resize(positions * capacity);
    maintenance_.resize(positions * capacity);
    notional_.resize(positions * capacity);
    collateral_.resize(pool_total_ * capacity);
    realised_loss_.resize(pool_total_ * capacity);
    liquidated_at_.resize(pool_total_ * capacity);
    loss_.resize(mode_count * capacity);
    min_loss_.resize(mode_count * capacity);
    drawdown_.resize(mode_count * capacity);
    funding_paid_.resize(mode_count * capacity);
    path_open_.resize(capacity);
    pool_equity_.resize(capacity);
    pool_maintenance_.resize(capacity);
    pool_notional_.resize(capacity);
    pool_funding_.resize(capacity);
}

void BookState::reset(std::size_t n) {
    assert(n <= capacity_);
    size_ = n;
    open_paths_ = n;
    for (MarginMode mode : all_modes) {
        const ModeLayout& layout = book_->layout(mode);
        for (std::size_t g = 0; g < layout.pools.size(); ++g) {
            const std::size_t row = (pool_offset_[mode_index(mode)] + g) * capacity_;
            std::fill_n(collateral_.begin() + row, n, layout.pools[g].collateral);
            std::fill_n(realised_loss_.begin() + row, n, 0.0);
            std::fill_n(liquidated_at_.begin() + row, n, 0);
        }
    }
    std::fill(loss_.begin(), loss_.end(), 0.0);
    std::fill(min_loss_.begin(), min_loss_.end(), 0.0);
    std::fill(drawdown_.begin(), drawdown_.end(), 0.0);
    std::fill(funding_paid_.begin(), funding_paid_.end(), 0.0);
    std::fill_n(path_open_.begin(), n, std::uint8_t{1});
}

void BookState::update_positions(const PathBlock& paths) {
    const MarginBook& book = *book_;
    const std::size_t n = size_;
    for (std::size_t j = 0; j < book.position_count(); ++j) {
        const double* price = paths.price(book.asset_[j]);
        const double q = book.quantity_[j];
        const double signed_q = book.side_[j] * q;
        const double entry = book.entry_price_[j];
        const std::vector<Tier>& tiers = book.tiers_[book.asset_[j]];
        double* upnl = upnl_.data() + j * capacity_;
        double* mm = maintenance_.data() + j * capacity_;
        double* notional = notional_.data() + j * capacity_;
        for (std::size_t p = 0; p < n; ++p) {
            notional[p] = q * price[p];
            upnl[p] = signed_q * (price[p] - entry);
        }
        if (tiers.size() == 1) {
            const double rate = tiers.front().rate;
            const double amount = tiers.front().amount;
            for (std::size_t p = 0; p < n; ++p) mm[p] = notional[p] * rate - amount;
        } else {
            for (std::size_t p = 0; p < n; ++p) mm[p] = maintenance_margin(tiers, notional[p]);
        }
    }
}

void BookState::update(const PathBlock& paths, int step) {
    assert(paths.size() == size_);
    const MarginBook& book = *book_;
    const std::size_t n = size_;
    update_positions(paths);
    const int fundings = book.fundings_at(step);
    const bool fee_policy = book.policy_ == LiquidationPolicy::fee;

    for (MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        const ModeLayout& layout = book.layout(mode);
        double* loss = loss_.data() + m * capacity_;
        double* funding_paid = funding_paid_.data() + m * capacity_;
        std::fill_n(loss, n, 0.0);
        for (std::size_t g = 0; g < layout.pools.size(); ++g) {
            const MarginPool& pool = layout.pools[g];
            const std::size_t row = (pool_offset_[m] + g) * capacity_;
            double* collateral = collateral_.data() + row;
            double* realised = realised_loss_.data() + row;
            std::int32_t* liquidated_at = liquidated_at_.data() + row;

            std::fill_n(pool_equity_.begin(), n, 0.0);
            std::fill_n(pool_maintenance_.begin(), n, 0.0);
            std::fill_n(pool_notional_.begin(), n, 0.0);
            std::fill_n(pool_funding_.begin(), n, 0.0);
            for (std::size_t j : pool.positions) {
                const double* upnl = upnl_.data() + j * capacity_;
                const double* mm = maintenance_.data() + j * capacity_;
                const double* notional = notional_.data() + j * capacity_;
                for (std::size_t p = 0; p < n; ++p) {
                    pool_equity_[p] += upnl[p];
                    pool_maintenance_[p] += mm[p];
                    pool_notional_[p] += notional[p];
                }
                const double funding = book.side_[j] * book.funding_rate_[j] * fundings;
                if (funding != 0.0)
                    for (std::size_t p = 0; p < n; ++p) pool_funding_[p] += funding * notional[p];
            }
            for (std::size_t p = 0; p < n; ++p) {
                if (liquidated_at[p] != 0) {
                    loss[p] += realised[p];
                    continue;
                }
                collateral[p] -= pool_funding_[p];
                funding_paid[p] += pool_funding_[p];
                const double equity = collateral[p] + pool_equity_[p];
                if (MarginBook::is_liquidated(equity, pool_maintenance_[p])) {
                    liquidated_at[p] = step;
                    const double left = fee_policy
                        ? std::max(0.0, equity - book.fee_rate_ * pool_notional_[p]) : 0.0;
                    realised[p] = pool.start_equity - left;
                    loss[p] += realised[p];
                } else {
                    loss[p] += pool.start_equity - equity;
                }
            }
        }
        double* min_loss = min_loss_.data() + m * capacity_;
        double* drawdown = drawdown_.data() + m * capacity_;
        for (std::size_t p = 0; p < n; ++p) {
            min_loss[p] = std::min(min_loss[p], loss[p]);
            drawdown[p] = std::max(drawdown[p], loss[p] - min_loss[p]);
        }
    }
    refresh_open_paths();
}

void BookState::refresh_open_paths() {
    const std::size_t n = size_;
    std::fill_n(path_open_.begin(), n, std::uint8_t{0});
    for (std::size_t g = 0; g < pool_total_; ++g) {
        const std::int32_t* liquidated_at = liquidated_at_.data() + g * capacity_;
        for (std::size_t p = 0; p < n; ++p) path_open_[p] |= liquidated_at[p] == 0 ? 1 : 0;
    }
    open_paths_ = static_cast<std::size_t>(std::count(path_open_.begin(), path_open_.begin() + n, 1));
}

int BookState::first_liquidation_step(MarginMode mode, std::size_t p) const noexcept {
    const std::size_t m = mode_index(mode);
    int first = 0;
    for (std::size_t g = 0; g < book_->layout(mode).pools.size(); ++g) {
        const int at = liquidated_at_[(pool_offset_[m] + g) * capacity_ + p];
        if (at != 0 && (first == 0 || at < first)) first = at;
    }
    return first;
}

int BookState::liquidation_step(MarginMode mode, std::size_t j, std::size_t p) const noexcept {
    const std::size_t g = book_->layout(mode).pool_of_position[j];
    return liquidated_at_[(pool_offset_[mode_index(mode)] + g) * capacity_ + p];
}

}  // namespace marginsim
