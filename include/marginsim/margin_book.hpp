#pragma once
// The margin book (SPEC section 3): the positions as flat arrays, grouped into margin pools
// for each account mode, and the per-path state of every mode stepped together on the same
// prices. It never sees a random number: it reads prices from a PathBlock.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "marginsim/market_model.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

inline constexpr std::array<MarginMode, 3> all_modes{MarginMode::isolated, MarginMode::cross,
                                                     MarginMode::as_configured};
inline constexpr std::size_t mode_count = all_modes.size();
inline constexpr std::size_t mode_index(MarginMode mode) noexcept {
    return static_cast<std::size_t>(mode);
}

// A set of positions liquidated together, backed by one collateral.
struct MarginPool {
    double collateral = 0.0;        // isolated margin, or the cross wallet
    double start_equity = 0.0;      // collateral + unrealised PnL at the start prices
    std::vector<std::size_t> positions;
    bool is_cross = false;
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

    // Unrealised PnL and maintenance margin of position j at price p.
    double upnl(std::size_t j, double p) const noexcept {
        return side_[j] * quantity_[j] * (p - entry_price_[j]);
    }
    double maintenance(std::size_t j, double p) const noexcept {
        return maintenance_margin(tiers_[asset_[j]], quantity_[j] * p);
    }
    // The liquidation rule of SPEC 3.1/3.2: a pool with this margin balance
    // (collateral + unrealised PnL) and maintenance margin is liquidated.
    static bool is_liquidated(double margin_balance, double maintenance) noexcept {
        return margin_balance <= maintenance;
    }
    // Number of 8-hour funding times in (step-1, step]; 0 when no asset pays funding.
    int fundings_at(int step) const noexcept;

    // Deterministic liquidation price of position j in `mode` (SPEC 4): the price of its
    // asset at which its pool liquidates, every other asset at its start price.
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

// The per-path state of every mode for one block of paths, and what each path ended with.
// Steps 1..steps are the monitoring times; step 0 is the start.
class BookState {
public:
    BookState(const MarginBook& book, std::size_t capacity);

    void reset(std::size_t n);
    // Applies step `step` (1-based) at the block's current prices.
    void update(const PathBlock& paths, int step);
    // True when no pool of any mode is open on any path: later steps change nothing.
    bool all_settled() const noexcept { return open_paths_ == 0; }
    std::size_t size() const noexcept { return size_; }

    // Results, valid after the last update (positions still open are marked to market).
    // Loss of the account in `mode` on path p: fall of equity from the start.
    double loss(MarginMode mode, std::size_t p) const noexcept {
        return loss_[mode_index(mode) * capacity_ + p];
    }
    // Largest fall of account equity from its running maximum on the path.
    double drawdown(MarginMode mode, std::size_t p) const noexcept {
        return drawdown_[mode_index(mode) * capacity_ + p];
    }
    // Step of the first liquidation in `mode` on path p, 0 if none.
    int first_liquidation_step(MarginMode mode, std::size_t p) const noexcept;
    // Step at which position j was liquidated in `mode` on path p, 0 if it survived.
    int liquidation_step(MarginMode mode, std::size_t j, std::size_t p) const noexcept;
    // Funding paid on path p in `mode` (negative: received).
    double funding_paid(MarginMode mode, std::size_t p) const noexcept {
        return funding_paid_[mode_index(mode) * capacity_ + p];
    }

private:
    void update_positions(const PathBlock& paths);
    void refresh_open_paths();

    const MarginBook* book_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    std::size_t open_paths_ = 0;
    std::size_t pool_total_ = 0;
    std::array<std::size_t, mode_count> pool_offset_{};  // first global pool index of a mode
    // Per position, per path, at the current step: [j * capacity + p].
    std::vector<double> upnl_;
    std::vector<double> maintenance_;
    std::vector<double> notional_;
    // Per pool (all modes, globally numbered), per path.
    std::vector<double> collateral_;
    std::vector<double> realised_loss_;
    std::vector<std::int32_t> liquidated_at_;
    // Per mode, per path.
    std::vector<double> loss_;
    std::vector<double> min_loss_;
    std::vector<double> drawdown_;
    std::vector<double> funding_paid_;
    std::vector<std::uint8_t> path_open_;  // path has some open pool in some mode
    // Scratch of one pool, per path.
    std::vector<double> pool_equity_;
    std::vector<double> pool_maintenance_;
    std::vector<double> pool_notional_;
    std::vector<double> pool_funding_;
};

}  // namespace marginsim
