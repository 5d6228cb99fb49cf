#include "engine/margin_book.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "numerics/vector_math.hpp"

namespace marginsim {
namespace {

// The collateral of a liquidated pool: +infinity. Whether a pool is open is then read from its
// collateral, one number less per pool, path and step than a separate flag.
constexpr double closed_collateral = std::numeric_limits<double>::infinity();

// x while the pool with this collateral is open, 0 once it is liquidated (its unrealised PnL
// and its funding are then no longer its own).
inline double if_open(double collateral, double x) noexcept { return detail::keep_if_finite(collateral, x); }

// MarginBook::is_liquidated (balance <= maintenance) on an open pool, as bits (top bit). The
// open test is needed even though inf + upnl > maintenance: where a notional overflowed,
// inf - inf is a NaN whose sign bit x86 sets.
inline std::uint64_t liquidates_bits(double collateral, double upnl, double maintenance) noexcept {
    return detail::at_most_bits(collateral + upnl, maintenance) & detail::finite_bits(collateral);
}

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
                PoolTerms terms{{}, pool.start_equity, pool.collateral, pool.positions, false, pool.is_cross};
                for (std::size_t j : pool.positions) terms.has_funding |= positions_[j].funding_per_price != 0.0;
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
        const std::size_t row = g * stride_;
        std::fill_n(collateral_.begin() + row, n, pools_[g].collateral);
        std::fill_n(base_loss_.begin() + row, n, pools_[g].start_equity - pools_[g].collateral);
        std::fill_n(liquidated_at_.begin() + row, n, 0);
    }
    std::fill(loss_.begin(), loss_.end(), 0.0);
    std::fill(min_loss_.begin(), min_loss_.end(), 0.0);
    std::fill(drawdown_.begin(), drawdown_.end(), 0.0);
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
        for (std::size_t m = 0; m < mode_count; ++m) update_mode(paths, m, begin, count, step);
    }
}

namespace {

// out[k] = sum of the rows' k-th entries, 4 rows a pass.
[[MARGINSIM_HOT_KERNEL]] void sum_rows(double* __restrict out, const double* rows, std::span<const std::size_t> indices,
              std::size_t stride, std::size_t count) {
    std::fill_n(out, count, 0.0);
    std::size_t t = 0;
    for (; t + 4 <= indices.size(); t += 4) {
        const double* __restrict a = rows + indices[t] * stride;
        const double* __restrict b = rows + indices[t + 1] * stride;
        const double* __restrict c = rows + indices[t + 2] * stride;
        const double* __restrict d = rows + indices[t + 3] * stride;
        for (std::size_t k = 0; k < count; ++k) out[k] += ((a[k] + b[k]) + c[k]) + d[k];
    }
    for (; t < indices.size(); ++t) {
        const double* __restrict a = rows + indices[t] * stride;
        for (std::size_t k = 0; k < count; ++k) out[k] += a[k];
    }
}

// A position's rows of a chunk: upnl[k] = s q price[k] - s q P0, and mm[k] = N rate - amount
// of the tier whose range (previous cap, cap] holds the notional N = q price[k] (SPEC 3).
// Caps increase, so the tier is the number of caps N exceeds: counted a pass per cap (in a
// double, the form GCC vectorises), stopping at the first cap no path exceeds (tables run to
// caps of 10^9 that a path never reaches), then rate and amount are looked up.
// Returns bits whose top bit is set when some notional is above max_amount or NaN.
[[MARGINSIM_HOT_KERNEL]] std::uint64_t position_rows(const double* __restrict price, double signed_quantity,
                                            double signed_entry, double quantity, std::span<const double> caps,
                                            const double* rates, const double* amounts, double* __restrict upnl,
                                            double* __restrict mm, std::size_t count) {
    // One pass for the usual case, every notional within the first tier: upnl, the first
    // tier's maintenance, and whether some notional exceeds the first cap.
    const double first_cap = caps.size() > 1 ? caps[0] : std::numeric_limits<double>::infinity();
    std::uint64_t within = ~std::uint64_t{0};  // top bit: every notional <= the first cap
    std::uint64_t outside = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const double notional = quantity * price[k];
        upnl[k] = signed_quantity * price[k] - signed_entry;
        mm[k] = notional * rates[0] - amounts[0];
        within &= detail::at_most_bits(notional, first_cap);
        outside |= detail::magnitude_above_bits(notional, max_amount);
    }
    if (detail::any_top_bit(within)) return outside;
    double* __restrict tier = mm;  // the tier index, until the last pass
    std::fill_n(tier, count, 0.0);
    for (std::size_t passed = 0; passed + 1 < caps.size(); ++passed) {
        const double cap = caps[passed];
        std::uint64_t below = ~std::uint64_t{0};  // top bit: every notional <= cap
        for (std::size_t k = 0; k < count; ++k) {
            const double notional = quantity * price[k];
            tier[k] += notional > cap ? 1.0 : 0.0;
            below &= detail::at_most_bits(notional, cap);
        }
        if (detail::any_top_bit(below)) break;
    }
    for (std::size_t k = 0; k < count; ++k) {
        const int i = static_cast<int>(tier[k]);  // int: GCC gathers with 32-bit indices
        mm[k] = quantity * price[k] * rates[i] - amounts[i];
    }
    return outside;
}

}  // namespace

void BookState::update_positions(const PathBlock& paths, std::size_t begin, std::size_t count) {
    for (std::size_t j = 0; j < positions_.size(); ++j) {
        const PositionTerms& t = positions_[j];
        const double* price = paths.price(t.asset) + begin;
        const std::uint64_t outside =
            position_rows(price, t.signed_quantity, t.signed_entry, t.quantity,
                          {tier_caps_.data() + t.tier_begin, t.tier_count}, tier_rates_.data() + t.tier_begin,
                          tier_amounts_.data() + t.tier_begin, position_upnl_.data() + j * chunk_,
                          position_maintenance_.data() + j * chunk_, count);
        if (detail::any_top_bit(outside)) mark_overflowed(price, t.quantity, begin, count);
    }
}

// Rare (the validator refuses scenarios where it is plausible): the paths of the chunk whose
// notional left [0, max_amount], NaN included.
void BookState::mark_overflowed(const double* price, double quantity, std::size_t begin, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        if (quantity * price[k] <= max_amount || overflowed_[begin + k] != 0) continue;
        overflowed_[begin + k] = 1;
        ++overflowed_paths_;
    }
}

void BookState::pay_funding(const PathBlock& paths, std::size_t begin, std::size_t count, int fundings) {
    double* __restrict funding = funding_.data();
    for (std::size_t g = 0; g < pools_.size(); ++g) {
        const PoolTerms& pool = pools_[g];
        if (!pool.has_funding) continue;
        std::fill_n(funding, count, 0.0);
        for (std::size_t j : pool.positions) {
            const double per_price = fundings * positions_[j].funding_per_price;
            if (per_price == 0.0) continue;
            const double* __restrict price = paths.price(positions_[j].asset) + begin;
            for (std::size_t k = 0; k < count; ++k) funding[k] += per_price * price[k];
        }
        const std::size_t row = g * stride_ + begin;
        double* __restrict collateral = collateral_.data() + row;
        double* __restrict base_loss = base_loss_.data() + row;
        for (std::size_t k = 0; k < count; ++k) {
            funding[k] = if_open(collateral[k], funding[k]);  // a liquidated pool pays nothing
            collateral[k] -= funding[k];
            base_loss[k] += funding[k];
        }
        for (std::size_t m = 0; m < mode_count; ++m) {
            if (!pool.in_mode[m]) continue;
            double* __restrict paid = funding_paid_.data() + m * stride_ + begin;
            for (std::size_t k = 0; k < count; ++k) paid[k] += funding[k];
        }
    }
}

void BookState::liquidate(const PathBlock& paths, std::size_t g, std::size_t p, double upnl, int step) {
    const PoolTerms& pool = pools_[g];
    const std::size_t at = g * stride_ + p;
    double left = 0.0;  // policy full: the collateral is lost whole
    if (fee_policy_) {
        double notional = 0.0;
        for (std::size_t j : pool.positions) notional += positions_[j].quantity * paths.price(positions_[j].asset)[p];
        left = std::max(0.0, collateral_[at] + upnl - fee_rate_ * notional);
    }
    base_loss_[at] = pool.start_equity - left;
    collateral_[at] = closed_collateral;
    liquidated_at_[at] = step;
    --open_pool_paths_;
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

void BookState::sum_large_pools(std::size_t count) {
    for (const std::size_t g : large_pools_) {
        const std::vector<std::size_t>& positions = pools_[g].positions;
        sum_rows(pool_upnl_.data() + g * chunk_, position_upnl_.data(), positions, chunk_, count);
        sum_rows(pool_maintenance_.data() + g * chunk_, position_maintenance_.data(), positions, chunk_, count);
    }
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
        pass.kind = tested(i) ? Pass::Kind::tested : single(i) ? Pass::Kind::singles : Pass::Kind::pool;
        // Single-row pools of the same kind in a row share a pass, up to 4.
        std::size_t group = 1;
        if (single(i))
            while (group < 4 && i + group < order.size() && single(i + group) && tested(i + group) == tested(i))
                ++group;
        if (pass.kind == Pass::Kind::singles && group == 1) pass.kind = Pass::Kind::pool;
        for (std::size_t t = 0; t < group; ++t) pass.pools[t] = order[i + t];
        pass.count = group;
        passes.push_back(pass);
        i += group;
    }
    return passes;
}

namespace {

template <std::size_t Rows>
double row_sum(const std::array<const double*, 4>& rows, std::size_t k) noexcept {
    double sum = rows[0][k];
    if constexpr (Rows > 1) sum += rows[1][k];
    if constexpr (Rows > 2) sum += rows[2][k];
    if constexpr (Rows > 3) sum += rows[3][k];
    return sum;
}

double row_sum(const std::array<const double*, 4>& rows, std::size_t count, std::size_t k) noexcept {
    switch (count) {
    case 1: return row_sum<1>(rows, k);
    case 2: return row_sum<2>(rows, k);
    case 3: return row_sum<3>(rows, k);
    default: return row_sum<4>(rows, k);
    }
}

// One pass over a chunk for one pool of Rows positions (or one row of sums): adds the pool's
// loss to the mode's, as if nothing were liquidated at this step (open: start equity -
// (collateral + upnl); liquidated earlier: the realised loss), and tells whether an open path
// liquidates now (top bit of the result; see vector_math.hpp).
template <std::size_t Rows, bool First>
[[MARGINSIM_HOT_KERNEL]] std::uint64_t add_loss_find_hits(const std::array<const double*, 4>& upnl_rows,
                                                   const std::array<const double*, 4>& mm_rows,
                                                   const double* __restrict collateral,
                                                   const double* __restrict base_loss, double* __restrict loss,
                                                   std::size_t count) {
    const double* __restrict u0 = upnl_rows[0];
    const double* __restrict u1 = upnl_rows[1];
    const double* __restrict u2 = upnl_rows[2];
    const double* __restrict u3 = upnl_rows[3];
    const double* __restrict m0 = mm_rows[0];
    const double* __restrict m1 = mm_rows[1];
    const double* __restrict m2 = mm_rows[2];
    const double* __restrict m3 = mm_rows[3];
    std::uint64_t hits = 0;
    for (std::size_t k = 0; k < count; ++k) {
        double upnl = u0[k];
        double mm = m0[k];
        if constexpr (Rows > 1) upnl += u1[k], mm += m1[k];
        if constexpr (Rows > 2) upnl += u2[k], mm += m2[k];
        if constexpr (Rows > 3) upnl += u3[k], mm += m3[k];
        // The first pool of a mode starts the sum (0 + x, as a zeroed sum would give).
        loss[k] = (First ? 0.0 : loss[k]) + (base_loss[k] - if_open(collateral[k], upnl));
        hits |= liquidates_bits(collateral[k], upnl, mm);
    }
    return hits;
}

template <bool First>
std::uint64_t add_loss_find_hits(std::size_t rows, const std::array<const double*, 4>& upnl_rows,
                                 const std::array<const double*, 4>& mm_rows, const double* collateral,
                                 const double* base_loss, double* loss, std::size_t count) {
    switch (rows) {
    case 1: return add_loss_find_hits<1, First>(upnl_rows, mm_rows, collateral, base_loss, loss, count);
    case 2: return add_loss_find_hits<2, First>(upnl_rows, mm_rows, collateral, base_loss, loss, count);
    case 3: return add_loss_find_hits<3, First>(upnl_rows, mm_rows, collateral, base_loss, loss, count);
    default: return add_loss_find_hits<4, First>(upnl_rows, mm_rows, collateral, base_loss, loss, count);
    }
}

bool add_loss_find_hits(bool first, std::size_t rows, const std::array<const double*, 4>& upnl_rows,
                        const std::array<const double*, 4>& mm_rows, const double* collateral,
                        const double* base_loss, double* loss, std::size_t count) {
    const std::uint64_t hits =
        first ? add_loss_find_hits<true>(rows, upnl_rows, mm_rows, collateral, base_loss, loss, count)
              : add_loss_find_hits<false>(rows, upnl_rows, mm_rows, collateral, base_loss, loss, count);
    return detail::any_top_bit(hits);
}

// hit[k] has its top bit set when open path k liquidates now (the test of add_loss_find_hits,
// per path), so that the paths to liquidate are found without recomputing the sums.
template <std::size_t Rows>
[[MARGINSIM_HOT_KERNEL]] void flag_hits(const std::array<const double*, 4>& upnl_rows,
                                        const std::array<const double*, 4>& mm_rows,
                                        const double* __restrict collateral, std::uint64_t* __restrict hit,
                                        std::size_t count) {
    const double* __restrict u0 = upnl_rows[0];
    const double* __restrict u1 = upnl_rows[1];
    const double* __restrict u2 = upnl_rows[2];
    const double* __restrict u3 = upnl_rows[3];
    const double* __restrict m0 = mm_rows[0];
    const double* __restrict m1 = mm_rows[1];
    const double* __restrict m2 = mm_rows[2];
    const double* __restrict m3 = mm_rows[3];
    for (std::size_t k = 0; k < count; ++k) {
        double upnl = u0[k];
        double mm = m0[k];
        if constexpr (Rows > 1) upnl += u1[k], mm += m1[k];
        if constexpr (Rows > 2) upnl += u2[k], mm += m2[k];
        if constexpr (Rows > 3) upnl += u3[k], mm += m3[k];
        hit[k] = liquidates_bits(collateral[k], upnl, mm);
    }
}

void flag_hits(std::size_t rows, const std::array<const double*, 4>& upnl_rows,
               const std::array<const double*, 4>& mm_rows, const double* collateral, std::uint64_t* hit,
               std::size_t count) {
    switch (rows) {
    case 1: flag_hits<1>(upnl_rows, mm_rows, collateral, hit, count); break;
    case 2: flag_hits<2>(upnl_rows, mm_rows, collateral, hit, count); break;
    case 3: flag_hits<3>(upnl_rows, mm_rows, collateral, hit, count); break;
    default: flag_hits<4>(upnl_rows, mm_rows, collateral, hit, count); break;
    }
}

// add_loss_find_hits<1, First> for Pools pools of one position row each, in one pass: the
// loss is read and written once for them all, and each pool's sum is added in turn, as the
// passes one by one would. hits[t]: pool t's test.
struct SinglePool {
    const double* upnl = nullptr;
    const double* mm = nullptr;
    const double* collateral = nullptr;
    const double* base_loss = nullptr;
};

template <std::size_t Pools, bool First>
[[MARGINSIM_HOT_KERNEL]] void add_single_losses(const std::array<SinglePool, 4>& pools, double* __restrict loss,
                                                std::array<std::uint64_t, 4>& hits, std::size_t count) {
    static_assert(Pools >= 2 && Pools <= 4);
    const double* __restrict u0 = pools[0].upnl;
    const double* __restrict m0 = pools[0].mm;
    const double* __restrict c0 = pools[0].collateral;
    const double* __restrict b0 = pools[0].base_loss;
    const double* __restrict u1 = pools[1].upnl;
    const double* __restrict m1 = pools[1].mm;
    const double* __restrict c1 = pools[1].collateral;
    const double* __restrict b1 = pools[1].base_loss;
    const double* __restrict u2 = pools[2].upnl;
    const double* __restrict m2 = pools[2].mm;
    const double* __restrict c2 = pools[2].collateral;
    const double* __restrict b2 = pools[2].base_loss;
    const double* __restrict u3 = pools[3].upnl;
    const double* __restrict m3 = pools[3].mm;
    const double* __restrict c3 = pools[3].collateral;
    const double* __restrict b3 = pools[3].base_loss;
    std::uint64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0;
    for (std::size_t k = 0; k < count; ++k) {
        double sum = (First ? 0.0 : loss[k]) + (b0[k] - if_open(c0[k], u0[k]));
        h0 |= liquidates_bits(c0[k], u0[k], m0[k]);
        sum += b1[k] - if_open(c1[k], u1[k]);
        h1 |= liquidates_bits(c1[k], u1[k], m1[k]);
        if constexpr (Pools > 2) {
            sum += b2[k] - if_open(c2[k], u2[k]);
            h2 |= liquidates_bits(c2[k], u2[k], m2[k]);
        }
        if constexpr (Pools > 3) {
            sum += b3[k] - if_open(c3[k], u3[k]);
            h3 |= liquidates_bits(c3[k], u3[k], m3[k]);
        }
        loss[k] = sum;
    }
    hits = {h0, h1, h2, h3};
}

void add_single_losses(std::size_t pools, bool first, const std::array<SinglePool, 4>& rows, double* loss,
                       std::array<std::uint64_t, 4>& hits, std::size_t count) {
    switch (pools * 2 + (first ? 1 : 0)) {
    case 4: add_single_losses<2, false>(rows, loss, hits, count); break;
    case 5: add_single_losses<2, true>(rows, loss, hits, count); break;
    case 6: add_single_losses<3, false>(rows, loss, hits, count); break;
    case 7: add_single_losses<3, true>(rows, loss, hits, count); break;
    case 8: add_single_losses<4, false>(rows, loss, hits, count); break;
    default: add_single_losses<4, true>(rows, loss, hits, count); break;
    }
}

// The loss of up to 4 pools already tested at this step (by the mode that tested them), added
// in turn as add_single_losses and add_loss_find_hits add them (a pool of several rows sums
// them in order, as those passes do).
struct TestedPool {
    std::array<const double*, 4> upnl{};
    std::size_t rows = 0;
    const double* collateral = nullptr;
    const double* base_loss = nullptr;
};

// Pools single-row pools (Rows == 1), or one pool of Rows rows (Pools == 1). The pointers are
// unpacked one by one, as in add_single_losses, so that GCC sees they do not alias.
template <std::size_t Pools, std::size_t Rows, bool First>
[[MARGINSIM_HOT_KERNEL]] void add_tested_losses(const std::array<TestedPool, 4>& pools, double* __restrict loss,
                                                std::size_t count) {
    static_assert(Pools == 1 || Rows == 1);
    const double* __restrict u0 = pools[0].upnl[0];
    const double* __restrict c0 = pools[0].collateral;
    const double* __restrict b0 = pools[0].base_loss;
    const double* __restrict u1 = pools[1].upnl[0];
    const double* __restrict c1 = pools[1].collateral;
    const double* __restrict b1 = pools[1].base_loss;
    const double* __restrict u2 = pools[2].upnl[0];
    const double* __restrict c2 = pools[2].collateral;
    const double* __restrict b2 = pools[2].base_loss;
    const double* __restrict u3 = pools[3].upnl[0];
    const double* __restrict c3 = pools[3].collateral;
    const double* __restrict b3 = pools[3].base_loss;
    const std::array<const double*, 4>& rows = pools[0].upnl;
    for (std::size_t k = 0; k < count; ++k) {
        const double upnl0 = Rows == 1 ? u0[k] : row_sum<Rows>(rows, k);
        double sum = (First ? 0.0 : loss[k]) + (b0[k] - if_open(c0[k], upnl0));
        if constexpr (Pools > 1) sum += b1[k] - if_open(c1[k], u1[k]);
        if constexpr (Pools > 2) sum += b2[k] - if_open(c2[k], u2[k]);
        if constexpr (Pools > 3) sum += b3[k] - if_open(c3[k], u3[k]);
        loss[k] = sum;
    }
}

template <bool First>
void add_tested_losses(std::size_t pools, const std::array<TestedPool, 4>& rows, double* loss, std::size_t count) {
    if (pools > 1) {
        switch (pools) {
        case 2: add_tested_losses<2, 1, First>(rows, loss, count); return;
        case 3: add_tested_losses<3, 1, First>(rows, loss, count); return;
        default: add_tested_losses<4, 1, First>(rows, loss, count); return;
        }
    }
    switch (rows[0].rows) {
    case 1: add_tested_losses<1, 1, First>(rows, loss, count); return;
    case 2: add_tested_losses<1, 2, First>(rows, loss, count); return;
    case 3: add_tested_losses<1, 3, First>(rows, loss, count); return;
    default: add_tested_losses<1, 4, First>(rows, loss, count); return;
    }
}

// The running minimum of the loss (maximum of equity) and the largest rise of the loss above it.
[[MARGINSIM_HOT_KERNEL]] void track_drawdown(const double* __restrict loss, double* __restrict min_loss,
                                             double* __restrict drawdown, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
        min_loss[k] = std::min(min_loss[k], loss[k]);
        drawdown[k] = std::max(drawdown[k], loss[k] - min_loss[k]);
    }
}

}  // namespace

// Rare: the paths of the chunk on which open pool g liquidates now, liquidated one by one.
void BookState::liquidate_hits(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t count, int step) {
    const PoolRows& rows = pool_rows_[g];
    const std::size_t row = g * stride_ + begin;
    flag_hits(rows.count, rows.upnl, rows.mm, collateral_.data() + row, hit_.data(), count);
    detail::visit_top_bits<chunk_>(hit_.data(), count, [&](std::size_t k) {
        liquidate(paths, g, begin + k, row_sum(rows.upnl, rows.count, k), step);
        if (liquidated_mark_[k] == 0) liquidated_now_.push_back(static_cast<std::uint32_t>(k));
        liquidated_mark_[k] = 1;
    });
}

// Path begin + k's loss in the mode of these pools, summed as the passes sum it (pool by pool
// in order, each pool's rows in order, from 0): the same number a pass would give.
[[gnu::optimize("fp-contract=off")]] double BookState::realised_loss(const std::vector<std::size_t>& pools,
                                                                    std::size_t begin, std::size_t k) const {
    double loss = 0.0;
    for (std::size_t g : pools) {
        const std::size_t at = g * stride_ + begin + k;
        loss = loss + (base_loss_[at] - if_open(collateral_[at], row_sum(pool_rows_[g].upnl, pool_rows_[g].count, k)));
    }
    return loss;
}

void BookState::update_mode(const PathBlock& paths, std::size_t m, std::size_t begin, std::size_t count, int step) {
    double* loss = loss_.data() + m * stride_ + begin;
    const std::vector<std::size_t>& pools = mode_pools_[m];
    if (pools.empty()) std::fill_n(loss, count, 0.0);  // no pool, no loss
    bool first = true;  // the first pass starts the mode's sum
    for (const Pass& pass : mode_passes_[m]) {
        switch (pass.kind) {
        case Pass::Kind::tested: {
            std::array<TestedPool, 4> tested;
            for (std::size_t t = 0; t < pass.count; ++t) {
                const std::size_t g = pass.pools[t];
                const std::size_t row = g * stride_ + begin;
                tested[t] = {pool_rows_[g].upnl, pool_rows_[g].count, collateral_.data() + row, base_loss_.data() + row};
            }
            if (first)
                add_tested_losses<true>(pass.count, tested, loss, count);
            else
                add_tested_losses<false>(pass.count, tested, loss, count);
            break;
        }
        case Pass::Kind::singles: {
            std::array<SinglePool, 4> rows;
            for (std::size_t t = 0; t < pass.count; ++t) {
                const std::size_t g = pass.pools[t];
                const std::size_t row = g * stride_ + begin;
                rows[t] = {pool_rows_[g].upnl[0], pool_rows_[g].mm[0], collateral_.data() + row,
                           base_loss_.data() + row};
            }
            std::array<std::uint64_t, 4> hits{};
            add_single_losses(pass.count, first, rows, loss, hits, count);
            for (std::size_t t = 0; t < pass.count; ++t)
                if (detail::any_top_bit(hits[t])) liquidate_hits(paths, pass.pools[t], begin, count, step);
            break;
        }
        case Pass::Kind::pool: {
            const std::size_t g = pass.pools[0];
            const PoolRows& rows = pool_rows_[g];
            const std::size_t row = g * stride_ + begin;
            if (add_loss_find_hits(first, rows.count, rows.upnl, rows.mm, collateral_.data() + row,
                                   base_loss_.data() + row, loss, count))
                liquidate_hits(paths, g, begin, count, step);
            break;
        }
        }
        first = false;
    }
    // The loss again on the paths that liquidated, now with this step's liquidations realised.
    for (const std::uint32_t k : liquidated_now_) {
        loss[k] = realised_loss(pools, begin, k);
        liquidated_mark_[k] = 0;
    }
    liquidated_now_.clear();
    track_drawdown(loss, min_loss_.data() + m * stride_ + begin, drawdown_.data() + m * stride_ + begin, count);
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

int BookState::liquidation_step(MarginMode mode, std::size_t j, std::size_t p) const noexcept {
    const std::size_t g = mode_pools_[mode_index(mode)][book_->layout(mode).pool_of_position[j]];
    return liquidated_at_[g * stride_ + p];
}

}  // namespace marginsim
