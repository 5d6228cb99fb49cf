#include "engine/block_stats.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace marginsim {
namespace {

// Neumaier's compensated sum: exact enough for 10^8 terms of mixed sign.
class CompensatedSum {
public:
    void add(double x) noexcept {
        const double t = sum_ + x;
        compensation_ += std::abs(sum_) >= std::abs(x) ? (sum_ - t) + x : (x - t) + sum_;
        sum_ = t;
    }
    double value() const noexcept { return sum_ + compensation_; }

private:
    double sum_ = 0.0;
    double compensation_ = 0.0;
};

template <class T>
void append(std::vector<T>& to, const std::vector<T>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

template <class T>
double mean_of(const std::vector<T>& values) {
    CompensatedSum sum;
    for (T v : values) sum.add(static_cast<double>(v));
    return sum.value() / static_cast<double>(values.size());
}

}  // namespace

namespace {

// Adds counts elementwise, growing `to` to the longer of the two.
void add_counts(std::vector<std::uint64_t>& to, const std::vector<std::uint64_t>& from) {
    if (to.size() < from.size()) to.resize(from.size(), 0);
    for (std::size_t k = 0; k < from.size(); ++k) to[k] += from[k];
}

void count_steps(std::vector<std::uint64_t>& by_step, const std::vector<std::int32_t>& steps) {
    for (const std::int32_t step : steps) {
        assert(step >= 1);
        const auto k = static_cast<std::size_t>(step);
        if (by_step.size() <= k) by_step.resize(k + 1, 0);
        ++by_step[k];
    }
}

}  // namespace

void ModeSample::merge(const ModeSample& other) {
    append(loss, other.loss);
    append(drawdown, other.drawdown);
    count_steps(liquidations_by_step, first_liquidation_steps);
    first_liquidation_steps.clear();
    count_steps(liquidations_by_step, other.first_liquidation_steps);
    add_counts(liquidations_by_step, other.liquidations_by_step);
    add_counts(position_liquidations, other.position_liquidations);
    liquidated_paths += other.liquidated_paths;
    contagion += other.contagion;
    funding_paid += other.funding_paid;
}

RunSamples::RunSamples(std::uint64_t paths) : paths_(paths) {
    for (std::size_t m = 0; m < mode_count; ++m) {
        loss_[m].resize(paths);
        drawdown_[m].resize(paths);
    }
}

void RunSamples::move_into(std::array<ModeSample, mode_count>& into) {
    for (std::size_t m = 0; m < mode_count; ++m) {
        into[m].loss = std::move(loss_[m]);
        into[m].drawdown = std::move(drawdown_[m]);
    }
    paths_ = 0;
}

namespace {

// Some position that survives the horizon in isolated is liquidated in `mode` on path p.
bool has_contagion(const BookState& state, std::size_t positions, MarginMode mode, std::size_t p) {
    for (std::size_t j = 0; j < positions; ++j) {
        if (state.liquidation_step(MarginMode::isolated, j, p) == 0 && state.liquidation_step(mode, j, p) != 0)
            return true;
    }
    return false;
}

// The counts of a finished block into `stats`, its losses and drawdowns to loss[m] and
// drawdown[m] (n entries each).
void read_block(const BookState& state, const MarginBook& book, double balance, BlockStats& stats,
                const std::array<double*, mode_count>& loss, const std::array<float*, mode_count>& drawdown) {
    const std::size_t n = state.size();
    const std::size_t positions = book.position_count();
    stats.paths = n;
    stats.bin_days = book.tick_days();
    stats.ticks_per_step = book.ticks_per_step();
    stats.overflowed_paths = state.overflowed_paths();
    const bool any_overflowed = stats.overflowed_paths != 0;
    constexpr double overflowed = std::numeric_limits<double>::quiet_NaN();
    for (MarginMode mode : all_modes) {
        const std::size_t m = mode_index(mode);
        ModeSample& sample = stats.modes[m];
        sample.position_liquidations.assign(positions, 0);
        for (std::size_t p = 0; p < n; ++p) {
            if (any_overflowed && state.overflowed(p)) {
                loss[m][p] = overflowed;
                drawdown[m][p] = static_cast<float>(overflowed);
                continue;
            }
            loss[m][p] = state.loss(mode, p);
            drawdown[m][p] = static_cast<float>(state.drawdown(mode, p));
            sample.funding_paid += state.funding_paid(mode, p);
            const int first = state.first_liquidation_tick(mode, p);
            if (first == 0) continue;
            ++sample.liquidated_paths;
            sample.first_liquidation_steps.push_back(first);
            for (std::size_t j = 0; j < positions; ++j)
                if (state.liquidation_step(mode, j, p) != 0) ++sample.position_liquidations[j];
        }
    }
    // Losses of two modes agree to rounding when nothing is liquidated: compare beyond it.
    const double tolerance = 1e-9 * balance;
    for (std::size_t p = 0; p < n; ++p) {
        if (any_overflowed && state.overflowed(p)) continue;
        if (state.loss(MarginMode::cross, p) > state.loss(MarginMode::isolated, p) + tolerance)
            ++stats.cross_loss_exceeds_isolated;
        for (MarginMode mode : {MarginMode::cross, MarginMode::as_configured})
            if (has_contagion(state, positions, mode, p)) ++stats.modes[mode_index(mode)].contagion;
    }
    stats.contagion = stats.modes[mode_index(MarginMode::cross)].contagion;
}

}  // namespace

BlockStats BlockStats::from_state(const BookState& state, const MarginBook& book, double balance) {
    BlockStats stats;
    std::array<double*, mode_count> loss{};
    std::array<float*, mode_count> drawdown{};
    for (std::size_t m = 0; m < mode_count; ++m) {
        stats.modes[m].loss.resize(state.size());
        stats.modes[m].drawdown.resize(state.size());
        loss[m] = stats.modes[m].loss.data();
        drawdown[m] = stats.modes[m].drawdown.data();
    }
    read_block(state, book, balance, stats, loss, drawdown);
    return stats;
}

BlockStats BlockStats::from_state(const BookState& state, const MarginBook& book, double balance,
                                  RunSamples& samples, std::uint64_t first_path) {
    assert(first_path + state.size() <= samples.paths_);
    BlockStats stats;
    std::array<double*, mode_count> loss{};
    std::array<float*, mode_count> drawdown{};
    for (std::size_t m = 0; m < mode_count; ++m) {
        loss[m] = samples.loss_[m].data() + first_path;
        drawdown[m] = samples.drawdown_[m].data() + first_path;
    }
    read_block(state, book, balance, stats, loss, drawdown);
    return stats;
}

void BlockStats::merge(const BlockStats& other) {
    paths += other.paths;
    if (bin_days == 0.0) {
        bin_days = other.bin_days;
        ticks_per_step = other.ticks_per_step;
    }
    assert(other.bin_days == 0.0 || other.bin_days == bin_days);
    for (std::size_t m = 0; m < mode_count; ++m) modes[m].merge(other.modes[m]);
    cross_loss_exceeds_isolated += other.cross_loss_exceeds_isolated;
    contagion += other.contagion;
    overflowed_paths += other.overflowed_paths;
}

Proportion wilson_proportion(std::uint64_t hits, std::uint64_t n) {
    assert(n > 0 && hits <= n);
    constexpr double z = 1.959963984540054;  // two-sided 95% normal quantile
    const double trials = static_cast<double>(n);
    const double p = static_cast<double>(hits) / trials;
    const double denominator = 1.0 + z * z / trials;
    const double center = (p + z * z / (2.0 * trials)) / denominator;
    const double half = z * std::sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator;
    // With no hits (or all hits) the exact bound is 0 (or 1); center - half only rounds to it.
    const double lo = hits == 0 ? 0.0 : std::max(0.0, center - half);
    const double hi = hits == n ? 1.0 : std::min(1.0, center + half);
    return {p, {lo, hi}};
}

std::size_t order_index(std::size_t n, double a) {
    assert(n > 0 && a > 0.0 && a <= 1.0);
    double x = a * static_cast<double>(n);
    // 0.95 * 100000 is 95000.00000000001 in binary: snap products that are whole numbers.
    const double whole = std::round(x);
    if (std::abs(x - whole) <= 1e-9 * std::max(1.0, x)) x = whole;
    const auto index = static_cast<std::size_t>(std::ceil(x));
    return index == 0 ? 0 : std::min(index - 1, n - 1);
}

namespace {

// Mean, 95% and 99% quantiles (the order statistics of docs/model.md#statistics) by selection, not
// a full sort.
DrawdownSummary summarize_drawdowns(std::vector<float>& drawdown) {
    assert(!drawdown.empty());
    const double mean = mean_of(drawdown);
    const auto at = [&](double a) { return drawdown.begin() + static_cast<std::ptrdiff_t>(order_index(drawdown.size(), a)); };
    const auto p95 = at(0.95);
    const auto p99 = at(0.99);
    std::nth_element(drawdown.begin(), p95, drawdown.end());
    const double at_95 = *p95;  // read before the next selection reorders [p95, end)
    std::nth_element(p95, p99, drawdown.end());
    return DrawdownSummary{mean, at_95, static_cast<double>(*p99)};
}

}  // namespace

LossSummary summarize_losses(std::vector<double>& losses) {
    assert(!losses.empty());
    LossSummary summary;
    const double n = static_cast<double>(losses.size());
    summary.mean = mean_of(losses);
    CompensatedSum squares;
    for (double x : losses) squares.add((x - summary.mean) * (x - summary.mean));
    summary.std = losses.size() > 1 ? std::sqrt(squares.value() / (n - 1.0)) : 0.0;
    // Only the tail from the lowest level's index up is needed, sorted: it is then exactly the
    // end of the fully sorted sample (same VaR, same ES sums in the same order), at a fraction
    // of a full sort's cost.
    const auto tail_begin = losses.begin() + static_cast<std::ptrdiff_t>(order_index(losses.size(), tail_levels.front()));
    std::nth_element(losses.begin(), tail_begin, losses.end());
    std::sort(tail_begin, losses.end());
    for (std::size_t l = 0; l < tail_levels.size(); ++l) {
        const std::size_t index = order_index(losses.size(), tail_levels[l]);
        summary.var[l] = losses[index];
        CompensatedSum tail;
        for (std::size_t k = index; k < losses.size(); ++k) tail.add(losses[k]);
        summary.es[l] = tail.value() / static_cast<double>(losses.size() - index);
    }
    summary.max = losses.back();
    return summary;
}

Summary summarize(BlockStats& merged) {
    Summary summary;
    summary.paths = merged.paths;
    summary.overflowed_paths = merged.overflowed_paths;
    if (merged.overflowed_paths >= merged.paths) {
        throw std::runtime_error(fmt::format(
            "every one of the {} paths overflowed: a notional passed {} or a price left the "
            "floating-point range on each of them",
            merged.paths, max_amount));
    }
    // The statistics are over the paths that stayed in range: the NaN samples go.
    const std::uint64_t paths = merged.paths - merged.overflowed_paths;
    if (merged.overflowed_paths != 0) {
        for (ModeSample& sample : merged.modes) {
            std::erase_if(sample.loss, [](double x) { return std::isnan(x); });
            std::erase_if(sample.drawdown, [](float x) { return std::isnan(x); });
        }
    }
    // The modes' samples are apart: summarized side by side on the calling arena's threads
    // (the selections and sorts of large runs are most of this function's time).
    tbb::parallel_for(std::size_t{0}, mode_count, [&](std::size_t m) {
        ModeSample& sample = merged.modes[m];
        ModeSummary& out = summary.modes[m];
        out.liquidation_probability = wilson_proportion(sample.liquidated_paths, paths);
        for (std::uint64_t hits : sample.position_liquidations)
            out.position_liquidation_probability.push_back(static_cast<double>(hits) /
                                                           static_cast<double>(paths));
        out.loss = summarize_losses(sample.loss);
        count_steps(sample.liquidations_by_step, sample.first_liquidation_steps);
        sample.first_liquidation_steps.clear();
        out.time_to_liquidation_days = liquidation_time_summary(sample.liquidations_by_step, merged.bin_days);
        out.drawdown = summarize_drawdowns(sample.drawdown);
        out.funding_paid_mean = sample.funding_paid / static_cast<double>(paths);
    });
    summary.p_cross_loss_exceeds_isolated = wilson_proportion(merged.cross_loss_exceeds_isolated, paths);
    summary.contagion_probability = wilson_proportion(merged.contagion, paths);
    return summary;
}

std::optional<TimeSummary> liquidation_time_summary(const std::vector<std::uint64_t>& liquidations_by_step,
                                                    double bin_days) {
    std::uint64_t liquidated = 0;
    for (const std::uint64_t count : liquidations_by_step) liquidated += count;
    if (liquidated == 0) return std::nullopt;
    // The a-quantile of the sorted times: the step holding order_index among the counts,
    // as the float that a list of times would have held.
    auto quantile = [&](double a) {
        const std::uint64_t index = order_index(static_cast<std::size_t>(liquidated), a);
        std::uint64_t below = 0;
        std::size_t step = 0;
        while (below + liquidations_by_step[step] <= index) below += liquidations_by_step[step++];
        return static_cast<double>(static_cast<float>(static_cast<double>(step) * bin_days));
    };
    return TimeSummary{quantile(0.05), quantile(0.5), quantile(0.95)};
}

}  // namespace marginsim
