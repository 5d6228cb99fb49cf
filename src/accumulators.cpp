#include "marginsim/accumulators.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

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

void ModeSample::merge(const ModeSample& other) {
    append(loss, other.loss);
    append(drawdown, other.drawdown);
    append(liquidation_time_days, other.liquidation_time_days);
    if (position_liquidations.empty()) position_liquidations.assign(other.position_liquidations.size(), 0);
    assert(position_liquidations.size() == other.position_liquidations.size());
    for (std::size_t j = 0; j < position_liquidations.size(); ++j)
        position_liquidations[j] += other.position_liquidations[j];
    liquidated_paths += other.liquidated_paths;
    funding_paid += other.funding_paid;
}

BlockStats BlockStats::from_state(const BookState& state, const MarginBook& book, double balance) {
    BlockStats stats;
    const std::size_t n = state.size();
    const std::size_t positions = book.position_count();
    stats.paths = n;
    for (MarginMode mode : all_modes) {
        ModeSample& sample = stats.modes[mode_index(mode)];
        sample.loss.reserve(n);
        sample.drawdown.reserve(n);
        sample.position_liquidations.assign(positions, 0);
        for (std::size_t p = 0; p < n; ++p) {
            sample.loss.push_back(state.loss(mode, p));
            sample.drawdown.push_back(static_cast<float>(state.drawdown(mode, p)));
            sample.funding_paid += state.funding_paid(mode, p);
            const int first = state.first_liquidation_step(mode, p);
            if (first == 0) continue;
            ++sample.liquidated_paths;
            sample.liquidation_time_days.push_back(static_cast<float>(first * book.dt_days()));
            for (std::size_t j = 0; j < positions; ++j)
                if (state.liquidation_step(mode, j, p) != 0) ++sample.position_liquidations[j];
        }
    }
    // Losses of two modes agree to rounding when nothing is liquidated: compare beyond it.
    const double tolerance = 1e-9 * balance;
    for (std::size_t p = 0; p < n; ++p) {
        if (state.loss(MarginMode::cross, p) > state.loss(MarginMode::isolated, p) + tolerance)
            ++stats.cross_loss_exceeds_isolated;
        for (std::size_t j = 0; j < positions; ++j) {
            if (state.liquidation_step(MarginMode::isolated, j, p) == 0 &&
                state.liquidation_step(MarginMode::cross, j, p) != 0) {
                ++stats.contagion;
                break;
            }
        }
    }
    return stats;
}

void BlockStats::merge(const BlockStats& other) {
    paths += other.paths;
    for (std::size_t m = 0; m < mode_count; ++m) modes[m].merge(other.modes[m]);
    cross_loss_exceeds_isolated += other.cross_loss_exceeds_isolated;
    contagion += other.contagion;
}

Proportion wilson_proportion(std::uint64_t hits, std::uint64_t n) {
    assert(n > 0 && hits <= n);
    constexpr double z = 1.959963984540054;  // two-sided 95% normal quantile
    const double trials = static_cast<double>(n);
    const double p = static_cast<double>(hits) / trials;
    const double denominator = 1.0 + z * z / trials;
    const double center = (p + z * z / (2.0 * trials)) / denominator;
    const double half = z * std::sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator;
    return {p, {std::max(0.0, center - half), std::min(1.0, center + half)}};
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

LossSummary summarize_losses(std::vector<double>& losses) {
    assert(!losses.empty());
    std::sort(losses.begin(), losses.end());
    LossSummary summary;
    const double n = static_cast<double>(losses.size());
    summary.mean = mean_of(losses);
    CompensatedSum squares;
    for (double x : losses) squares.add((x - summary.mean) * (x - summary.mean));
    summary.std = losses.size() > 1 ? std::sqrt(squares.value() / (n - 1.0)) : 0.0;
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
    for (std::size_t m = 0; m < mode_count; ++m) {
        ModeSample& sample = merged.modes[m];
        ModeSummary& out = summary.modes[m];
        out.liquidation_probability = wilson_proportion(sample.liquidated_paths, merged.paths);
        for (std::uint64_t hits : sample.position_liquidations)
            out.position_liquidation_probability.push_back(static_cast<double>(hits) /
                                                           static_cast<double>(merged.paths));
        out.loss = summarize_losses(sample.loss);
        if (!sample.liquidation_time_days.empty()) {
            std::sort(sample.liquidation_time_days.begin(), sample.liquidation_time_days.end());
            out.time_to_liquidation_days = TimeSummary{order_statistic(sample.liquidation_time_days, 0.05),
                                                       order_statistic(sample.liquidation_time_days, 0.5),
                                                       order_statistic(sample.liquidation_time_days, 0.95)};
        }
        std::sort(sample.drawdown.begin(), sample.drawdown.end());
        out.drawdown = DrawdownSummary{mean_of(sample.drawdown), order_statistic(sample.drawdown, 0.95),
                                       order_statistic(sample.drawdown, 0.99)};
        out.funding_paid_mean = sample.funding_paid / static_cast<double>(merged.paths);
    }
    summary.p_cross_loss_exceeds_isolated = wilson_proportion(merged.cross_loss_exceeds_isolated, merged.paths);
    summary.contagion_probability = wilson_proportion(merged.contagion, merged.paths);
    return summary;
}

}  // namespace marginsim
