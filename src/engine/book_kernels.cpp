// The margin book's per-step kernels: each position's upnl and maintenance margin over a chunk
// of paths, funding, and per mode the loss of every pool with its liquidation test. The loss
// equation and the liquidation test are written once (pool_loss, liquidates_bits), in one
// kernel that with_count instantiates for the pools and rows a pass holds.
#include "engine/margin_book.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

#include "numerics/vector_math.hpp"

namespace marginsim {
namespace {

using detail::closed_collateral;

// x while the pool with this collateral is open, 0 once it is liquidated (its unrealised PnL
// and its funding are then no longer its own).
inline double if_open(double collateral, double x) noexcept { return detail::keep_if_finite(collateral, x); }

// MarginBook::is_liquidated (balance <= maintenance) on an open pool, as bits (top bit). The
// open test is needed even though inf + upnl > maintenance: where a notional overflowed,
// inf - inf is a NaN whose sign bit x86 sets.
inline std::uint64_t liquidates_bits(double collateral, double upnl, double maintenance) noexcept {
    return detail::at_most_bits(collateral + upnl, maintenance) & detail::finite_bits(collateral);
}

// The loss a pool carries on a path: start equity - (collateral + upnl) while it is open
// (its base loss is start equity - collateral), its realised loss once it is liquidated.
inline double pool_loss(double base_loss, double collateral, double upnl) noexcept {
    return base_loss - if_open(collateral, upnl);
}

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
// of the tier whose range (previous cap, cap] holds the notional N = q price[k]
// (docs/model.md#maintenance-margin-and-tiers). Caps increase, so the tier is the number of caps N
// exceeds: counted a pass per cap (in a double, the form GCC vectorises), stopping at the first cap
// no path exceeds (tables run to caps of 10^9 that a path never reaches), then rate and amount are
// looked up. Returns bits whose top bit is set when some notional is above max_amount or NaN.
// With Delta, also delta[k] = s q price[k] - N rate: the derivative of the position's upnl -
// mm in its log price (continuous monitoring).
template <bool Delta>
[[MARGINSIM_HOT_KERNEL]] std::uint64_t position_rows(const double* __restrict price, double signed_quantity,
                                            double signed_entry, double quantity, std::span<const double> caps,
                                            const double* rates, const double* amounts, double* __restrict upnl,
                                            double* __restrict mm, double* __restrict delta, std::size_t count) {
    // One pass for the usual case, every notional within the first tier: upnl, the first
    // tier's maintenance, and whether some notional exceeds the first cap.
    const double first_cap = caps.size() > 1 ? caps[0] : std::numeric_limits<double>::infinity();
    std::uint64_t within = ~std::uint64_t{0};  // top bit: every notional <= the first cap
    std::uint64_t outside = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const double notional = quantity * price[k];
        upnl[k] = signed_quantity * price[k] - signed_entry;
        mm[k] = notional * rates[0] - amounts[0];
        if constexpr (Delta) delta[k] = signed_quantity * price[k] - notional * rates[0];
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
        if constexpr (Delta) delta[k] = signed_quantity * price[k] - quantity * price[k] * rates[i];
        mm[k] = quantity * price[k] * rates[i] - amounts[i];
    }
    return outside;
}

}  // namespace

void BookState::update_positions(const PathBlock& paths, std::size_t begin, std::size_t count) {
    for (std::size_t j = 0; j < positions_.size(); ++j) {
        const PositionTerms& t = positions_[j];
        const double* price = paths.price(t.asset) + begin;
        const std::span<const double> caps{tier_caps_.data() + t.tier_begin, t.tier_count};
        const double* rates = tier_rates_.data() + t.tier_begin;
        const double* amounts = tier_amounts_.data() + t.tier_begin;
        double* upnl = position_upnl_.data() + j * chunk_;
        double* mm = position_maintenance_.data() + j * chunk_;
        const std::uint64_t outside =
            position_delta_.empty()
                ? position_rows<false>(price, t.signed_quantity, t.signed_entry, t.quantity, caps, rates, amounts, upnl,
                                       mm, nullptr, count)
                : position_rows<true>(price, t.signed_quantity, t.signed_entry, t.quantity, caps, rates, amounts, upnl,
                                      mm, position_delta_.data() + j * chunk_, count);
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

double BookState::notional_at_step(const PathBlock& paths, std::size_t g, std::size_t p) const {
    double notional = 0.0;
    for (std::size_t j : pools_[g].positions) notional += positions_[j].quantity * paths.price(positions_[j].asset)[p];
    return notional;
}

// Closes pool g on path p with these upnl and notional at the moment of liquidation, in step
// `step` and time bin `tick`.
void BookState::liquidate(std::size_t g, std::size_t p, double upnl, double notional, int step, int tick) {
    const PoolTerms& pool = pools_[g];
    const std::size_t at = g * stride_ + p;
    // Policy full: the collateral is lost whole.
    const double left = fee_policy_ ? std::max(0.0, collateral_[at] + upnl - fee_rate_ * notional) : 0.0;
    base_loss_[at] = pool.start_equity - left;
    collateral_[at] = closed_collateral;
    liquidated_at_[at] = step;
    liquidated_tick_[at] = tick;
    --open_pool_paths_;
}

void BookState::sum_large_pools(std::size_t count) {
    for (const std::size_t g : large_pools_) {
        const std::vector<std::size_t>& positions = pools_[g].positions;
        sum_rows(pool_upnl_.data() + g * chunk_, position_upnl_.data(), positions, chunk_, count);
        sum_rows(pool_maintenance_.data() + g * chunk_, position_maintenance_.data(), positions, chunk_, count);
    }
}

namespace {

// f(std::integral_constant<std::size_t, n>{}) for n = count, 1 to 4: the counts of pools
// and rows the kernels are instantiated for.
template <class F>
decltype(auto) with_count(std::size_t count, F&& f) {
    assert(count >= 1 && count <= 4);
    switch (count) {
    case 1: return f(std::integral_constant<std::size_t, 1>{});
    case 2: return f(std::integral_constant<std::size_t, 2>{});
    case 3: return f(std::integral_constant<std::size_t, 3>{});
    default: return f(std::integral_constant<std::size_t, 4>{});
    }
}

// f(std::true_type{}) or f(std::false_type{}).
template <class F>
decltype(auto) with_flag(bool flag, F&& f) {
    if (flag) return f(std::true_type{});
    return f(std::false_type{});
}

// The sum of a pool's Rows rows at path k, in row order.
template <std::size_t Rows>
inline double row_sum(const double* r0, const double* r1, const double* r2, const double* r3, std::size_t k) noexcept {
    double sum = r0[k];
    if constexpr (Rows > 1) sum += r1[k];
    if constexpr (Rows > 2) sum += r2[k];
    if constexpr (Rows > 3) sum += r3[k];
    return sum;
}

// The same off the hot loop, for a count known at run time.
double row_sum(const std::array<const double*, 4>& rows, std::size_t count, std::size_t k) noexcept {
    double sum = rows[0][k];
    for (std::size_t r = 1; r < count; ++r) sum += rows[r][k];
    return sum;
}

using detail::PassPool;

// One pass over a chunk: adds the loss of Pools pools to the mode's, as if nothing were
// liquidated at this step, pool by pool in order (one pass of 4 pools gives the sums of 4
// passes); the first pass of a mode starts the sum (0 + x, as a zeroed sum would give). With
// Test, hits[t] tells whether an open path liquidates now in pool t (top bit; see
// vector_math.hpp). Either Pools pools of one row each, or one pool of Rows rows. The
// pointers are unpacked one by one, so that GCC sees they do not alias.
template <std::size_t Pools, std::size_t Rows, bool First, bool Test>
[[MARGINSIM_HOT_KERNEL]] void add_pool_losses(const std::array<PassPool, 4>& pools, std::size_t begin,
                                              double* __restrict loss, std::array<std::uint64_t, 4>& hits,
                                              std::size_t count) {
    static_assert(Pools >= 1 && Pools <= 4 && Rows >= 1 && Rows <= 4 && (Pools == 1 || Rows == 1));
    // Pools 1 to 3 have one row each (unused, and null, past Pools); rows of paths from `begin`.
    const auto row = [&](std::size_t t, auto member) { return t < Pools ? (*(pools[t].*member))[0] : nullptr; };
    const auto at_begin = [&](std::size_t t, const double* from) { return t < Pools ? from + begin : nullptr; };
    const double* __restrict u0 = (*pools[0].upnl)[0];
    const double* __restrict u0b = (*pools[0].upnl)[1];
    const double* __restrict u0c = (*pools[0].upnl)[2];
    const double* __restrict u0d = (*pools[0].upnl)[3];
    const double* __restrict m0 = (*pools[0].mm)[0];
    const double* __restrict m0b = (*pools[0].mm)[1];
    const double* __restrict m0c = (*pools[0].mm)[2];
    const double* __restrict m0d = (*pools[0].mm)[3];
    const double* __restrict c0 = pools[0].collateral + begin;
    const double* __restrict b0 = pools[0].base_loss + begin;
    const double* __restrict u1 = row(1, &PassPool::upnl);
    const double* __restrict m1 = row(1, &PassPool::mm);
    const double* __restrict c1 = at_begin(1, pools[1].collateral);
    const double* __restrict b1 = at_begin(1, pools[1].base_loss);
    const double* __restrict u2 = row(2, &PassPool::upnl);
    const double* __restrict m2 = row(2, &PassPool::mm);
    const double* __restrict c2 = at_begin(2, pools[2].collateral);
    const double* __restrict b2 = at_begin(2, pools[2].base_loss);
    const double* __restrict u3 = row(3, &PassPool::upnl);
    const double* __restrict m3 = row(3, &PassPool::mm);
    const double* __restrict c3 = at_begin(3, pools[3].collateral);
    const double* __restrict b3 = at_begin(3, pools[3].base_loss);
    std::uint64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const double upnl = row_sum<Rows>(u0, u0b, u0c, u0d, k);
        double sum = (First ? 0.0 : loss[k]) + pool_loss(b0[k], c0[k], upnl);
        if constexpr (Test) h0 |= liquidates_bits(c0[k], upnl, row_sum<Rows>(m0, m0b, m0c, m0d, k));
        if constexpr (Pools > 1) {
            sum += pool_loss(b1[k], c1[k], u1[k]);
            if constexpr (Test) h1 |= liquidates_bits(c1[k], u1[k], m1[k]);
        }
        if constexpr (Pools > 2) {
            sum += pool_loss(b2[k], c2[k], u2[k]);
            if constexpr (Test) h2 |= liquidates_bits(c2[k], u2[k], m2[k]);
        }
        if constexpr (Pools > 3) {
            sum += pool_loss(b3[k], c3[k], u3[k]);
            if constexpr (Test) h3 |= liquidates_bits(c3[k], u3[k], m3[k]);
        }
        loss[k] = sum;
    }
    if constexpr (Test) hits = {h0, h1, h2, h3};
}

// The kernel for a pass of `pools` pools whose first has `rows` rows.
template <bool Test>
void add_pool_losses(bool first, std::size_t pools, std::size_t rows, const std::array<PassPool, 4>& pass,
                     std::size_t begin, double* loss, std::array<std::uint64_t, 4>& hits, std::size_t count) {
    with_flag(first, [&](auto first_pass) {
        constexpr bool First = decltype(first_pass)::value;
        with_count(pools, [&](auto pool_count) {
            constexpr std::size_t Pools = decltype(pool_count)::value;
            if constexpr (Pools == 1) {
                with_count(rows, [&](auto row_count) {
                    add_pool_losses<1, decltype(row_count)::value, First, Test>(pass, begin, loss, hits, count);
                });
            } else {
                add_pool_losses<Pools, 1, First, Test>(pass, begin, loss, hits, count);
            }
        });
    });
}

// hit[k] has its top bit set when open path k liquidates now (the test of add_pool_losses,
// per path), so that the paths to liquidate are found without recomputing the sums.
template <std::size_t Rows>
[[MARGINSIM_HOT_KERNEL]] void flag_hits(const PassPool& pool, std::size_t begin, std::uint64_t* __restrict hit,
                                        std::size_t count) {
    const double* __restrict u0 = (*pool.upnl)[0];
    const double* __restrict u1 = (*pool.upnl)[1];
    const double* __restrict u2 = (*pool.upnl)[2];
    const double* __restrict u3 = (*pool.upnl)[3];
    const double* __restrict m0 = (*pool.mm)[0];
    const double* __restrict m1 = (*pool.mm)[1];
    const double* __restrict m2 = (*pool.mm)[2];
    const double* __restrict m3 = (*pool.mm)[3];
    const double* __restrict collateral = pool.collateral + begin;
    for (std::size_t k = 0; k < count; ++k)
        hit[k] = liquidates_bits(collateral[k], row_sum<Rows>(u0, u1, u2, u3, k), row_sum<Rows>(m0, m1, m2, m3, k));
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
    const PassPool pool = pass_pool(g);
    with_count(rows.count, [&](auto row_count) { flag_hits<decltype(row_count)::value>(pool, begin, hit_.data(), count); });
    detail::visit_top_bits<chunk_>(hit_.data(), count, [&](std::size_t k) {
        const std::size_t p = begin + k;
        const double notional = fee_policy_ ? notional_at_step(paths, g, p) : 0.0;
        liquidate(g, p, row_sum(rows.upnl, rows.count, k), notional, step, step * book_->ticks_per_step());
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
        loss = loss + pool_loss(base_loss_[at], collateral_[at], row_sum(pool_rows_[g].upnl, pool_rows_[g].count, k));
    }
    return loss;
}

void BookState::update_mode(const PathBlock& paths, std::size_t m, std::size_t begin, std::size_t count, int step) {
    double* loss = loss_.data() + m * stride_ + begin;
    const std::vector<std::size_t>& pools = mode_pools_[m];
    if (pools.empty()) std::fill_n(loss, count, 0.0);  // no pool, no loss
    bool first = true;  // the first pass starts the mode's sum
    for (const Pass& pass : mode_passes_[m]) {
        std::array<std::uint64_t, 4> hits{};
        if (pass.tested) {
            add_pool_losses<false>(first, pass.count, pass.rows, pass.terms, begin, loss, hits, count);
        } else {
            add_pool_losses<true>(first, pass.count, pass.rows, pass.terms, begin, loss, hits, count);
            for (std::size_t t = 0; t < pass.count; ++t)
                if (detail::any_top_bit(hits[t])) liquidate_hits(paths, pass.pools[t], begin, count, step);
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

}  // namespace marginsim
