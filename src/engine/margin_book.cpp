// The margin book's set-up: the pools of each account mode, the deterministic liquidation
// price and margin ratio, and the flattened terms and pass plan the per-step kernels
// (book_kernels.cpp) read.
#include "engine/margin_book.hpp"

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
      continuous_(scenario.simulation.monitoring == Monitoring::continuous),
      ticks_per_step_(ticks_per_step(scenario.simulation)),
      covariance_(step_covariances(scenario)),
      has_funding_(false),
      policy_(scenario.policy),
      fee_rate_(scenario.fee_rate) {
    for (const Asset& asset : scenario.assets) {
        tiers_.push_back(asset.tiers);
        start_price_.push_back(asset.price);
    }
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
            for (std::size_t j : pool.positions) {
                const double price = scenario.assets[asset_[j]].price;
                pool.start_equity += upnl(j, price);
                pool.start_maintenance += maintenance(j, price);
            }
        }
        layouts_[mode_index(mode)] = std::move(layout);
    }
}

int MarginBook::ticks_per_step(const Simulation& simulation) noexcept {
    // Bins of at most an hour (24 a day) under continuous monitoring.
    if (simulation.monitoring == Monitoring::discrete) return 1;
    return (24 + simulation.steps_per_day - 1) / simulation.steps_per_day;
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

BookState::BookState(const MarginBook& book, std::size_t capacity)
    : book_(&book),
      capacity_(capacity),
      stride_(capacity + row_padding),
      fee_policy_(book.policy_ == LiquidationPolicy::fee),
      fee_rate_(book.fee_rate_) {
    for (std::size_t j = 0; j < book.position_count(); ++j) {
        PositionTerms t;
        t.asset = book.asset_[j];
        t.quantity = book.quantity_[j];
        t.signed_quantity = book.side_[j] * t.quantity;
        t.signed_entry = t.signed_quantity * book.entry_price_[j];
        t.funding_per_price = book.side_[j] * book.funding_rate_[j] * t.quantity;
        t.tier_begin = tier_caps_.size();
        for (const Tier& tier : book.tiers_[t.asset]) {
            tier_caps_.push_back(tier.notional_cap);
            tier_rates_.push_back(tier.rate);
            tier_amounts_.push_back(tier.amount);
        }
        t.tier_count = tier_caps_.size() - t.tier_begin;
        positions_.push_back(t);
    }
    for (MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        for (const MarginPool& pool : book.layout(mode).pools) {
            // The same positions on the same collateral evolve alike on every path: one state.
            const auto same = std::find_if(pools_.begin(), pools_.end(), [&](const PoolTerms& other) {
                return other.is_cross == pool.is_cross && other.collateral == pool.collateral &&
                       other.positions == pool.positions;
            });
            const auto g = static_cast<std::size_t>(same - pools_.begin());
            if (same == pools_.end()) {
                PoolTerms terms{{}, pool.start_equity, pool.collateral, pool.positions, false, pool.is_cross, 0.0, 0.0, {},
                                pool.liquidated_at_start(), 0.0};
                terms.start_surplus = pool.collateral;
                double start_notional = 0.0;
                for (std::size_t j : pool.positions) {
                    terms.has_funding |= positions_[j].funding_per_price != 0.0;
                    const std::size_t asset = book.asset_of(j);
                    const double price = book.start_price(asset);
                    const std::vector<Tier>& tiers = book.tiers_of_position(j);
                    const double rate = tiers[tier_index(tiers, book.quantity(j) * price)].rate;
                    terms.start_surplus += book.upnl(j, price) - book.maintenance(j, price);
                    terms.start_gamma += (book.side_sign(j) - rate) * book.quantity(j) * price;
                    start_notional += book.quantity(j) * price;
                    if (std::find(terms.assets.begin(), terms.assets.end(), asset) == terms.assets.end())
                        terms.assets.push_back(asset);
                }
                // What liquidate() would realise at the start prices, from an equity of at least
                // 0: the deficit of a pool that starts bankrupt is the exchange's, not the account's.
                if (terms.closed_at_start) {
                    const double equity = std::max(0.0, pool.start_equity);
                    const double left = fee_policy_ ? std::max(0.0, equity - fee_rate_ * start_notional) : 0.0;
                    terms.start_loss = equity - left;
                }
                pools_.push_back(std::move(terms));
            }
            pools_[g].in_mode[m] = true;
            mode_pools_[m].push_back(g);
        }
    }

    const std::size_t pool_paths = pools_.size() * stride_;
    collateral_.resize(pool_paths);
    base_loss_.resize(pool_paths);
    liquidated_at_.resize(pool_paths);
    liquidated_tick_.resize(pool_paths);
    if (book.continuous()) {
        surplus_prev_.resize(pool_paths);
        gamma_prev_.resize(pool_paths);
        const std::size_t n = book.asset_count();
        for (std::size_t i = 0; i < n; ++i) {
            double largest = 0.0;
            for (const std::vector<double>& covariance : book.step_covariance())
                largest = std::max(largest, std::sqrt(covariance[i * n + i]));
            max_step_sd_.push_back(largest);
        }
        position_delta_.resize(positions_.size() * chunk_);
        bridge_surplus_.resize(chunk_);
        bridge_gamma_.resize(chunk_);
        bridge_spread_.resize(chunk_);
        bridge_variance_.resize(chunk_);
        bridge_projection_.resize(chunk_);
        bridge_hit_.resize(chunk_);
        exposure_.resize(n);
        jump_scratch_.resize(n);
    }
    loss_.resize(mode_count * stride_);
    min_loss_.resize(mode_count * stride_);
    drawdown_.resize(mode_count * stride_);
    funding_paid_.resize(mode_count * stride_);
    position_upnl_.resize(positions_.size() * chunk_);
    position_maintenance_.resize(positions_.size() * chunk_);
    pool_upnl_.resize(pools_.size() * chunk_);
    pool_maintenance_.resize(pools_.size() * chunk_);
    funding_.resize(chunk_);
    for (std::size_t g = 0; g < pools_.size(); ++g) {
        pool_rows_.push_back(rows_of(g));
        if (pools_[g].positions.size() > PoolRows{}.upnl.size()) large_pools_.push_back(g);
    }
    for (std::size_t m = 0; m < mode_count; ++m) mode_passes_[m] = plan_passes(pools_, mode_pools_[m], pool_rows_, m);
    for (std::vector<Pass>& passes : mode_passes_) {
        for (Pass& pass : passes) {
            pass.rows = pool_rows_[pass.pools[0]].count;
            for (std::size_t t = 0; t < pass.count; ++t) pass.terms[t] = pass_pool(pass.pools[t]);
        }
    }
    hit_.resize(chunk_);
    liquidated_mark_.resize(chunk_);
    liquidated_now_.reserve(chunk_);
    overflowed_.resize(capacity_);
}

void BookState::reset(std::size_t n) {
    assert(n <= capacity_);
    size_ = n;
    open_pool_paths_ = pools_.size() * n;
    for (std::size_t g = 0; g < pools_.size(); ++g) {
        const PoolTerms& pool = pools_[g];
        const std::size_t row = g * stride_;
        if (pool.closed_at_start) {
            std::fill_n(collateral_.begin() + row, n, detail::closed_collateral);
            std::fill_n(base_loss_.begin() + row, n, pool.start_loss);
            std::fill_n(liquidated_at_.begin() + row, n, at_start);
            std::fill_n(liquidated_tick_.begin() + row, n, at_start);
            open_pool_paths_ -= n;
        } else {
            std::fill_n(collateral_.begin() + row, n, pool.collateral);
            std::fill_n(base_loss_.begin() + row, n, pool.start_equity - pool.collateral);
            std::fill_n(liquidated_at_.begin() + row, n, 0);
            std::fill_n(liquidated_tick_.begin() + row, n, 0);
        }
        if (!surplus_prev_.empty()) {
            std::fill_n(surplus_prev_.begin() + row, n, pool.start_surplus);
            std::fill_n(gamma_prev_.begin() + row, n, pool.start_gamma);
        }
    }
    // The losses realised at time 0 (every step recomputes the sums; a block whose pools all
    // start liquidated takes no step). The drawdown counts them: they fall from the start equity.
    for (std::size_t m = 0; m < mode_count; ++m) {
        double start_loss = 0.0;
        for (std::size_t g : mode_pools_[m])
            if (pools_[g].closed_at_start) start_loss += pools_[g].start_loss;
        std::fill_n(loss_.begin() + static_cast<std::ptrdiff_t>(m * stride_), stride_, start_loss);
        std::fill_n(min_loss_.begin() + static_cast<std::ptrdiff_t>(m * stride_), stride_, std::min(0.0, start_loss));
        std::fill_n(drawdown_.begin() + static_cast<std::ptrdiff_t>(m * stride_), stride_, std::max(0.0, start_loss));
    }
    std::fill(funding_paid_.begin(), funding_paid_.end(), 0.0);
    std::fill_n(overflowed_.begin(), n, std::uint8_t{0});
    overflowed_paths_ = 0;
}

void BookState::update(const PathBlock& paths, int step) {
    assert(paths.size() == size_);
    const int fundings = book_->fundings_at(step);
    for (std::size_t begin = 0; begin < size_; begin += chunk_) {
        const std::size_t count = std::min(chunk_, size_ - begin);
        update_positions(paths, begin, count);
        if (fundings > 0) pay_funding(paths, begin, count, fundings);
        if (!large_pools_.empty()) sum_large_pools(count);
        if (book_->continuous()) monitor_bridges(paths, begin, count, step);
        for (std::size_t m = 0; m < mode_count; ++m) update_mode(paths, m, begin, count, step);
    }
}

// A pool's rows in the chunk scratch: its positions' own rows (up to 4), or the rows of their
// sums (sum_large_pools fills them for each chunk).
BookState::PoolRows BookState::rows_of(std::size_t g) {
    const PoolTerms& pool = pools_[g];
    PoolRows rows;
    if (pool.positions.size() > rows.upnl.size()) {
        rows.add(pool_upnl_.data() + g * chunk_, pool_maintenance_.data() + g * chunk_);
        return rows;
    }
    for (std::size_t j : pool.positions)
        rows.add(position_upnl_.data() + j * chunk_, position_maintenance_.data() + j * chunk_);
    return rows;
}

detail::PassPool BookState::pass_pool(std::size_t g) const {
    return {&pool_rows_[g].upnl, &pool_rows_[g].mm, collateral_.data() + g * stride_, base_loss_.data() + g * stride_};
}

// A pool an earlier mode has (isolated pools in the as-configured mode) was tested there at
// this step: here it is already closed where it liquidated, so it only adds its loss (a
// second test would find no hit), as a pool of its own would have after liquidating.
std::vector<BookState::Pass> BookState::plan_passes(const std::vector<PoolTerms>& pools,
                                                    const std::vector<std::size_t>& order,
                                                    const std::vector<PoolRows>& rows, std::size_t m) {
    std::vector<Pass> passes;
    // Tested by an earlier mode: the pool is in a mode before m (modes are updated in order).
    const auto tested = [&](std::size_t i) {
        const std::array<bool, mode_count>& in_mode = pools[order[i]].in_mode;
        return std::find(in_mode.begin(), in_mode.begin() + static_cast<std::ptrdiff_t>(m), true) !=
               in_mode.begin() + static_cast<std::ptrdiff_t>(m);
    };
    const auto single = [&](std::size_t i) { return rows[order[i]].count == 1; };
    for (std::size_t i = 0; i < order.size();) {
        Pass pass;
        pass.tested = tested(i);
        // Single-row pools in a row, all tested or all not, share a pass, up to 4.
        std::size_t group = 1;
        if (single(i))
            while (group < 4 && i + group < order.size() && single(i + group) && tested(i + group) == tested(i))
                ++group;
        for (std::size_t t = 0; t < group; ++t) pass.pools[t] = order[i + t];
        pass.count = group;
        passes.push_back(pass);
        i += group;
    }
    return passes;
}

int BookState::first_liquidation_step(MarginMode mode, std::size_t p) const noexcept {
    const std::size_t m = mode_index(mode);
    int first = 0;
    for (std::size_t g : mode_pools_[m]) {
        const int at = liquidated_at_[g * stride_ + p];
        if (at != 0 && (first == 0 || at < first)) first = at;
    }
    return first;
}

int BookState::first_liquidation_tick(MarginMode mode, std::size_t p) const noexcept {
    int first = 0;
    for (std::size_t g : mode_pools_[mode_index(mode)]) {
        const int at = liquidated_tick_[g * stride_ + p];
        if (at != 0 && (first == 0 || at < first)) first = at;
    }
    return first;
}

int BookState::liquidation_step(MarginMode mode, std::size_t j, std::size_t p) const noexcept {
    const std::size_t g = mode_pools_[mode_index(mode)][book_->layout(mode).pool_of_position[j]];
    return liquidated_at_[g * stride_ + p];
}

}  // namespace marginsim
