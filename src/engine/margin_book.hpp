#pragma once
// The margin book (engine internal; docs/model.md#margin-rules): the positions as flat arrays,
// grouped into margin pools for each account mode, and the per-path state of every mode stepped
// together on the same prices. It never sees a random number: it reads prices from a PathBlock.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "engine/market_model.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// A set of positions liquidated together, backed by one collateral.
struct MarginPool {
    double collateral = 0.0;        // isolated margin, or the cross wallet
    double start_equity = 0.0;      // collateral + unrealised PnL at the start prices
    std::vector<std::size_t> positions;
    bool is_cross = false;
    double start_maintenance = 0.0;  // at the start prices
    // At or below its maintenance margin at the start: liquidated at time 0 on every path
    // (docs/model.md#books-that-start-liquidated).
    bool liquidated_at_start() const noexcept { return start_equity <= start_maintenance; }
};

// The pools of one account mode.
struct ModeLayout {
    MarginMode mode = MarginMode::isolated;
    std::vector<MarginPool> pools;
    std::vector<std::size_t> pool_of_position;  // position index -> pool index
};

class MarginBook {
public:
    explicit MarginBook(const Scenario& scenario);

    std::size_t position_count() const noexcept { return side_.size(); }
    std::size_t asset_count() const noexcept { return asset_count_; }
    const ModeLayout& layout(MarginMode mode) const noexcept { return layouts_[mode_index(mode)]; }
    const std::vector<Tier>& tiers_of_position(std::size_t j) const noexcept {
        return tiers_[asset_[j]];
    }
    std::size_t asset_of(std::size_t j) const noexcept { return asset_[j]; }
    double quantity(std::size_t j) const noexcept { return quantity_[j]; }
    double entry_price(std::size_t j) const noexcept { return entry_price_[j]; }
    int side_sign(std::size_t j) const noexcept { return side_[j]; }
    int steps() const noexcept { return steps_; }
    double dt_days() const noexcept { return dt_days_; }
    bool continuous() const noexcept { return continuous_; }
    // Times of liquidation are kept in bins of 1 / ticks_per_step() of a step: 1 under discrete
    // monitoring (liquidations happen at the steps), under continuous monitoring as many as
    // make a bin at most an hour long.
    int ticks_per_step() const noexcept { return ticks_per_step_; }
    static int ticks_per_step(const Simulation& simulation) noexcept;
    double tick_days() const noexcept { return dt_days_ / ticks_per_step_; }
    double start_price(std::size_t asset) const noexcept { return start_price_[asset]; }
    // The covariance of one step's log-price innovations per regime (step_covariances).
    const std::array<std::vector<double>, 2>& step_covariance() const noexcept { return covariance_; }

    // Unrealised PnL and maintenance margin of position j at price p.
    double upnl(std::size_t j, double p) const noexcept {
        return side_[j] * quantity_[j] * (p - entry_price_[j]);
    }
    double maintenance(std::size_t j, double p) const noexcept {
        return maintenance_margin(tiers_[asset_[j]], quantity_[j] * p);
    }
    // The liquidation rule of docs/model.md#isolated-margin and #cross-margin: a pool with this
    // margin balance (collateral + unrealised PnL) and maintenance margin is liquidated.
    static bool is_liquidated(double margin_balance, double maintenance) noexcept {
        return margin_balance <= maintenance;
    }
    // Number of 8-hour funding times in (step-1, step]; 0 when no asset pays funding.
    int fundings_at(int step) const noexcept;

    // Deterministic liquidation price of position j in `mode` (docs/model.md#liquidation-price):
    // the price of its asset at which its pool liquidates, every other asset at its start price.
    // Empty when no positive price liquidates it.
    std::optional<double> liquidation_price(MarginMode mode, std::size_t j,
                                       std::span<const double> start_price) const;

    // Margin ratio of a pool at the given prices: maintenance / margin balance.
    double margin_ratio(MarginMode mode, std::size_t pool, std::span<const double> price) const;

private:
    friend class BookState;
    std::size_t asset_count_;
    int steps_;
    double dt_days_;
    int steps_per_day_;
    bool continuous_;
    int ticks_per_step_;
    std::vector<double> start_price_;  // per asset
    std::array<std::vector<double>, 2> covariance_;
    bool has_funding_;
    LiquidationPolicy policy_;
    double fee_rate_;
    std::vector<int> side_;
    std::vector<std::size_t> asset_;
    std::vector<double> quantity_;
    std::vector<double> entry_price_;
    std::vector<double> funding_rate_;  // per position, from its asset
    std::vector<std::vector<Tier>> tiers_;  // per asset
    std::array<ModeLayout, mode_count> layouts_;
};

namespace detail {
// The collateral of a liquidated pool: +infinity. Whether a pool is open is then read from its
// collateral, one number less per pool, path and step than a separate flag.
inline constexpr double closed_collateral = std::numeric_limits<double>::infinity();

// The time bin (1 to bins, of equal length) of a step in which a Brownian bridge over the part
// [from, to] of the step, of variance v over that part, from distance a > 0 above a barrier to
// distance b (> 0: it touched the barrier inside; <= 0: it ended beyond it), first reaches the
// barrier: the w-quantile of that time's law, w in (0, 1).
int first_passage_bin(double a, double b, double v, double w, int bins, double from = 0.0, double to = 1.0) noexcept;

// A pool as the book's per-step kernels read it: its upnl and maintenance rows in the chunk
// scratch (up to 4), its collateral and base loss rows from the block's first path.
struct PassPool {
    const std::array<const double*, 4>* upnl = nullptr;
    const std::array<const double*, 4>* mm = nullptr;
    const double* collateral = nullptr;
    const double* base_loss = nullptr;
};
}  // namespace detail

// The per-path state of every mode for one block of paths, and what each path ended with.
// Steps 1..steps are the monitoring times; step 0 is the start.
class BookState {
public:
    BookState(const MarginBook& book, std::size_t capacity);
    // Not copyable: the passes hold pointers into the object's own scratch (a move keeps them).
    BookState(const BookState&) = delete;
    BookState& operator=(const BookState&) = delete;
    BookState(BookState&&) noexcept = default;
    BookState& operator=(BookState&&) noexcept = default;

    void reset(std::size_t n);
    // Applies step `step` (1-based) at the block's current prices.
    void update(const PathBlock& paths, int step);
    // True when no pool of any mode is open on any path: later steps change nothing.
    bool all_settled() const noexcept { return open_pool_paths_ == 0; }
    std::size_t size() const noexcept { return size_; }

    // Results, valid after the last update (positions still open are marked to market).
    // Loss of the account in `mode` on path p: fall of equity from the start.
    double loss(MarginMode mode, std::size_t p) const noexcept {
        return loss_[mode_index(mode) * stride_ + p];
    }
    // Largest fall of account equity from its running maximum on the path.
    double drawdown(MarginMode mode, std::size_t p) const noexcept {
        return drawdown_[mode_index(mode) * stride_ + p];
    }
    // The step of a pool that starts at or below its maintenance margin: liquidated at time 0,
    // before every step (first_liquidation_step, first_liquidation_tick, liquidation_step).
    static constexpr int at_start = -1;
    // Step of the first liquidation in `mode` on path p, 0 if none, at_start at time 0.
    int first_liquidation_step(MarginMode mode, std::size_t p) const noexcept;
    // Time bin (MarginBook::ticks_per_step) of the first liquidation in `mode` on path p, 0 if
    // none: the first liquidation happened in ((tick - 1), tick] bins from the start; at_start
    // at time 0.
    int first_liquidation_tick(MarginMode mode, std::size_t p) const noexcept;
    // Step at which position j was liquidated in `mode` on path p, 0 if it survived, at_start
    // at time 0.
    int liquidation_step(MarginMode mode, std::size_t j, std::size_t p) const noexcept;
    // Funding paid on path p in `mode` (negative: received).
    double funding_paid(MarginMode mode, std::size_t p) const noexcept {
        return funding_paid_[mode_index(mode) * stride_ + p];
    }
    // True when some position's notional on path p left [0, max_amount] at some step (a price
    // that overflowed, or grew past what the sums of a run hold): the path's other results
    // are meaningless, and the statistics leave it out.
    bool overflowed(std::size_t p) const noexcept { return overflowed_[p] != 0; }
    std::size_t overflowed_paths() const noexcept { return overflowed_paths_; }

private:
    // What the hot loop reads of a position and of a pool, flattened from the book.
    struct PositionTerms {
        std::size_t asset = 0;
        double signed_quantity = 0.0;   // s q: upnl = s q P - s q P0
        double signed_entry = 0.0;      // s q P0
        double quantity = 0.0;
        double funding_per_price = 0.0; // s f q: funding paid per 8 hours at price P, over P
        std::size_t tier_begin = 0;     // tiers in tier_caps_/tier_rates_/tier_amounts_
        std::size_t tier_count = 0;
    };
    // A pool with its state, once for every mode that has it: an isolated pool in both the
    // isolated and the as-configured mode, or a cross pool of the same positions and wallet.
    struct PoolTerms {
        std::array<bool, mode_count> in_mode{};
        double start_equity = 0.0;
        double collateral = 0.0;
        std::vector<std::size_t> positions;
        bool has_funding = false;
        bool is_cross = false;
        // At the start prices: collateral + upnl - maintenance, and its derivative in the log
        // prices (the first ends of the first step's bridges).
        double start_surplus = 0.0;
        double start_gamma = 0.0;
        std::vector<std::size_t> assets;  // the distinct assets of its positions
        // MarginPool::liquidated_at_start, and then the loss realised at time 0.
        bool closed_at_start = false;
        double start_loss = 0.0;
    };
    // Paths are updated a chunk at a time, so that the per-position scratch stays in L1.
    static constexpr std::size_t chunk_ = 128;

    void update_positions(const PathBlock& paths, std::size_t begin, std::size_t count);
    void pay_funding(const PathBlock& paths, std::size_t begin, std::size_t count, int fundings);
    void mark_overflowed(const double* price, double quantity, std::size_t begin, std::size_t count);
    // A pool's upnl and maintenance rows in the chunk scratch: its positions' own rows (up to
    // 4), or one row of their sums.
    struct PoolRows {
        std::array<const double*, 4> upnl{};
        std::array<const double*, 4> mm{};
        std::size_t count = 0;
        void add(const double* u, const double* m) noexcept {
            upnl[count] = u;
            mm[count] = m;
            ++count;
        }
    };
    PoolRows rows_of(std::size_t g);
    detail::PassPool pass_pool(std::size_t g) const;  // valid once pool_rows_ is complete
    void sum_large_pools(std::size_t count);
    // One pass of update_mode over a chunk: up to 4 single-row pools, or one pool of several
    // rows, in the mode's pool order; tested: an earlier mode tested them at this step.
    struct Pass {
        bool tested = false;
        std::array<std::size_t, 4> pools{};
        std::size_t count = 0;
        std::size_t rows = 0;  // of its first pool
        std::array<detail::PassPool, 4> terms{};  // of its pools, set once the scratch is laid out
    };
    static std::vector<Pass> plan_passes(const std::vector<PoolTerms>& pools, const std::vector<std::size_t>& order,
                                         const std::vector<PoolRows>& rows, std::size_t m);
    void update_mode(const PathBlock& paths, std::size_t m, std::size_t begin, std::size_t count, int step);
    void liquidate_hits(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t count, int step);
    void liquidate(std::size_t g, std::size_t p, double upnl, double notional, int step, int tick);
    double notional_at_step(const PathBlock& paths, std::size_t g, std::size_t p) const;
    void liquidate_at_step_prices(const PathBlock& paths, std::size_t g, std::size_t p, double factor, int step,
                                  int tick);
    // Continuous monitoring (bridge_monitor.cpp, docs/model.md#monitoring): every open pool
    // whose surplus may have touched zero inside the step is liquidated there or left open.
    void monitor_bridges(const PathBlock& paths, std::size_t begin, std::size_t count, int step);
    void bridge_candidates(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t count);
    void settle_bridge(const PathBlock& paths, std::size_t g, std::size_t begin, std::size_t k, int step);
    void settle_jump_step(const PathBlock& paths, std::size_t g, std::size_t p, std::size_t k, int step,
                          std::size_t slot, double u, double variance, bool one_direction);
    // A pool's terms at given log prices (collateral apart), its exposures left in exposure_.
    struct PoolPoint {
        double surplus = 0.0;  // upnl - maintenance
        double gamma = 0.0;
        double upnl = 0.0;
        double entry = 0.0;  // sum of s q P0
        double notional = 0.0;
    };
    PoolPoint pool_at(std::size_t g, const double* log_price);
    bool time_matters(std::size_t g, std::size_t p, int step) const noexcept;
    double realised_loss(const std::vector<std::size_t>& pools, std::size_t begin, std::size_t k) const;

    const MarginBook* book_;
    std::size_t capacity_;
    // Rows of per-path state ([row * stride_ + p]) are one cache line longer than the block:
    // with a stride of a multiple of 4 KiB, the rows a pass reads together (four pools' state
    // at the same paths) would all fall into the same L1 set and evict each other.
    static constexpr std::size_t row_padding = 8;
    std::size_t stride_;
    std::size_t size_ = 0;
    std::size_t open_pool_paths_ = 0;  // (pool, path) pairs not yet liquidated
    std::size_t overflowed_paths_ = 0;
    std::vector<std::uint8_t> overflowed_;  // per path
    std::vector<PositionTerms> positions_;
    std::vector<double> tier_caps_, tier_rates_, tier_amounts_;
    std::vector<PoolTerms> pools_;  // the distinct pools of all modes
    std::array<std::vector<std::size_t>, mode_count> mode_pools_;  // per mode, its pools in layout order
    bool fee_policy_ = false;
    double fee_rate_ = 0.0;
    // Per distinct pool, per path [g * stride_ + p]: collateral while open (+infinity once
    // liquidated), the loss it carries apart from its unrealised PnL (start equity -
    // collateral while open, the realised loss once liquidated), and the step it was
    // liquidated at.
    std::vector<double> collateral_;
    std::vector<double> base_loss_;
    std::vector<std::int32_t> liquidated_at_;
    std::vector<std::int32_t> liquidated_tick_;
    // Continuous monitoring, per distinct pool, per path: the surplus and its log-price
    // derivative at the last step (the first end of the next step's bridge).
    std::vector<double> surplus_prev_;
    std::vector<double> gamma_prev_;
    // Continuous monitoring, per asset: the largest step sd over the regimes (a bound the
    // candidate filter uses); per chunk: each position's d(surplus)/d(ln P), [j * chunk_ + k],
    // and one pool's surplus, derivative, bound of its sd and candidate bits; per asset the
    // exposures of one pool on one path.
    std::vector<double> max_step_sd_;
    std::vector<double> position_delta_;
    std::vector<double> bridge_surplus_, bridge_gamma_, bridge_spread_, bridge_variance_, bridge_projection_;
    std::vector<std::uint64_t> bridge_hit_;
    std::vector<double> exposure_;
    std::vector<double> jump_scratch_;  // per asset: log prices after a jump
    // Per mode, per path.
    std::vector<double> loss_;
    std::vector<double> min_loss_;
    std::vector<double> drawdown_;
    std::vector<double> funding_paid_;
    // Scratch of one chunk: per position [j * chunk_ + k] its upnl and maintenance margin;
    // per pool [g * chunk_ + k] the sums of pools of more than one position.
    std::vector<double> position_upnl_;
    std::vector<double> position_maintenance_;
    std::vector<double> pool_upnl_;
    std::vector<double> pool_maintenance_;
    std::vector<double> funding_;
    std::vector<PoolRows> pool_rows_;  // per pool, its rows in the chunk scratch
    std::vector<std::size_t> large_pools_;  // pools of more than 4 positions: their rows summed
    std::array<std::vector<Pass>, mode_count> mode_passes_;
    std::vector<std::uint64_t> hit_;   // per path of the chunk: liquidates now (top bit)
    // The paths of the chunk on which the mode being updated liquidated a pool now, once each.
    std::vector<std::uint8_t> liquidated_mark_;
    std::vector<std::uint32_t> liquidated_now_;
};

}  // namespace marginsim
