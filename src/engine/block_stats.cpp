#include "engine/block_stats.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "engine/rank_statistics.hpp"
#include "numerics/exact_sum.hpp"

namespace marginsim {
namespace {

template <class T>
void append(std::vector<T>& to, const std::vector<T>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

// Exact, so that any split of the sample (threads, MPI ranks) gives the same mean.
template <class T>
double mean_of(const std::vector<T>& values) {
    ExactSum sum;
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
        assert(step >= 0);  // bin 0: liquidated at the start
        const auto k = static_cast<std::size_t>(step);
        if (by_step.size() <= k) by_step.resize(k + 1, 0);
        ++by_step[k];
    }
}

void add_sums(std::vector<WeightSum>& to, const std::vector<WeightSum>& from) {
    if (to.size() < from.size()) to.resize(from.size());
    for (std::size_t k = 0; k < from.size(); ++k) to[k] += from[k];
}

void weigh_steps(std::vector<WeightSum>& by_step, const std::vector<std::int32_t>& steps,
                 const std::vector<double>& weights) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const auto k = static_cast<std::size_t>(steps[i]);
        if (by_step.size() <= k) by_step.resize(k + 1);
        by_step[k].add(weights[i]);
    }
}

}  // namespace

void fold_steps(ModeSample& sample) {
    count_steps(sample.liquidations_by_step, sample.first_liquidation_steps);
    weigh_steps(sample.weight_by_step, sample.first_liquidation_steps, sample.first_liquidation_weights);
    sample.first_liquidation_steps.clear();
    sample.first_liquidation_weights.clear();
}

void WeightSum::add_at(std::size_t word, std::uint64_t value) noexcept {
    for (; word < words_.size() && value != 0; ++word) {
        const std::uint64_t before = words_[word];
        words_[word] = before + value;
        value = words_[word] < before ? 1 : 0;  // the carry
    }
}

void WeightSum::add(double w) noexcept {
    assert(w >= 0.0 && w < 0x1p64);
    if (!(w > 0.0)) return;
    // w = bits 2^(biased - 1075), read from its representation (a subnormal's biased exponent is 1).
    const auto representation = std::bit_cast<std::uint64_t>(w);
    const auto biased = static_cast<int>(representation >> 52);
    std::uint64_t bits = representation & ((std::uint64_t{1} << 52) - 1);
    if (biased != 0) bits |= std::uint64_t{1} << 52;
    int shift = std::max(biased, 1) - 1075 + fraction_bits;  // w in units: bits 2^shift
    if (shift < 0) {
        if (shift <= -64) return;  // below the unit
        bits >>= -shift;
        shift = 0;
    }
    const auto word = static_cast<std::size_t>(shift / 64);
    const int offset = shift % 64;
    add_at(word, bits << offset);
    if (offset != 0) add_at(word + 1, bits >> (64 - offset));
}

WeightSum& WeightSum::operator+=(const WeightSum& other) noexcept {
    std::uint64_t carry = 0;
    for (std::size_t k = 0; k < words_.size(); ++k) {
        const std::uint64_t a = words_[k];
        const std::uint64_t sum = a + other.words_[k];
        const std::uint64_t with_carry = sum + carry;
        carry = (sum < a ? 1 : 0) + (with_carry < sum ? 1 : 0);
        words_[k] = with_carry;
    }
    return *this;
}

double WeightSum::value() const noexcept {
    double out = 0.0;
    for (std::size_t k = words_.size(); k-- > 0;)
        out += std::ldexp(static_cast<double>(words_[k]), static_cast<int>(64 * k) - fraction_bits);
    return out;
}

void ModeSample::merge(const ModeSample& other) {
    append(loss, other.loss);
    append(drawdown, other.drawdown);
    fold_steps(*this);
    count_steps(liquidations_by_step, other.first_liquidation_steps);
    weigh_steps(weight_by_step, other.first_liquidation_steps, other.first_liquidation_weights);
    add_counts(liquidations_by_step, other.liquidations_by_step);
    add_sums(weight_by_step, other.weight_by_step);
    add_counts(position_liquidations, other.position_liquidations);
    add_sums(position_weight, other.position_weight);
    liquidated_paths += other.liquidated_paths;
    liquidated_weight += other.liquidated_weight;
    contagion += other.contagion;
    contagion_weight += other.contagion_weight;
    funding_paid += other.funding_paid;
}

RunSamples::RunSamples(std::uint64_t paths) : paths_(paths) {
    for (std::size_t m = 0; m < mode_count; ++m) {
        loss_[m].resize(paths);
        drawdown_[m].resize(paths);
    }
}

void RunSamples::move_into(std::array<ModeSample, mode_count>& into, std::vector<double>& weight) {
    for (std::size_t m = 0; m < mode_count; ++m) {
        into[m].loss = std::move(loss_[m]);
        into[m].drawdown = std::move(drawdown_[m]);
    }
    weight = std::move(weight_);
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
void read_block(const BookState& state, const MarginBook& book, double balance, std::span<const double> weights,
                BlockStats& stats, const std::array<double*, mode_count>& loss,
                const std::array<float*, mode_count>& drawdown) {
    const std::size_t n = state.size();
    const std::size_t positions = book.position_count();
    const bool weighted = !weights.empty();
    assert(!weighted || weights.size() == n);
    stats.weighted = weighted;
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
        if (weighted) sample.position_weight.assign(positions, WeightSum{});
        for (std::size_t p = 0; p < n; ++p) {
            if (any_overflowed && state.overflowed(p)) {
                loss[m][p] = overflowed;
                drawdown[m][p] = static_cast<float>(overflowed);
                continue;
            }
            const double w = weighted ? weights[p] : 1.0;
            loss[m][p] = state.loss(mode, p);
            drawdown[m][p] = static_cast<float>(state.drawdown(mode, p));
            sample.funding_paid += w * state.funding_paid(mode, p);
            const int first = state.first_liquidation_tick(mode, p);
            if (first == 0) continue;
            ++sample.liquidated_paths;
            sample.first_liquidation_steps.push_back(first == BookState::at_start ? 0 : first);
            if (weighted) {
                sample.liquidated_weight.add(w);
                sample.first_liquidation_weights.push_back(w);
            }
            for (std::size_t j = 0; j < positions; ++j) {
                if (state.liquidation_step(mode, j, p) == 0) continue;
                ++sample.position_liquidations[j];
                if (weighted) sample.position_weight[j].add(w);
            }
        }
    }
    // Losses of two modes agree to rounding when nothing is liquidated: compare beyond it.
    const double tolerance = 1e-9 * balance;
    for (std::size_t p = 0; p < n; ++p) {
        if (any_overflowed && state.overflowed(p)) continue;
        const double w = weighted ? weights[p] : 1.0;
        if (weighted) stats.path_weight.add(w);
        if (state.loss(MarginMode::cross, p) > state.loss(MarginMode::isolated, p) + tolerance) {
            ++stats.cross_loss_exceeds_isolated;
            if (weighted) stats.cross_loss_exceeds_isolated_weight.add(w);
        }
        for (MarginMode mode : {MarginMode::cross, MarginMode::as_configured}) {
            if (!has_contagion(state, positions, mode, p)) continue;
            ModeSample& sample = stats.modes[mode_index(mode)];
            ++sample.contagion;
            if (weighted) sample.contagion_weight.add(w);
        }
    }
    stats.contagion = stats.modes[mode_index(MarginMode::cross)].contagion;
}

}  // namespace

BlockStats BlockStats::from_state(const BookState& state, const MarginBook& book, double balance,
                                  std::span<const double> weights) {
    BlockStats stats;
    stats.weight.assign(weights.begin(), weights.end());
    std::array<double*, mode_count> loss{};
    std::array<float*, mode_count> drawdown{};
    for (std::size_t m = 0; m < mode_count; ++m) {
        stats.modes[m].loss.resize(state.size());
        stats.modes[m].drawdown.resize(state.size());
        loss[m] = stats.modes[m].loss.data();
        drawdown[m] = stats.modes[m].drawdown.data();
    }
    read_block(state, book, balance, weights, stats, loss, drawdown);
    return stats;
}

BlockStats BlockStats::from_state(const BookState& state, const MarginBook& book, double balance,
                                  std::span<const double> weights, RunSamples& samples, std::uint64_t first_path) {
    assert(first_path + state.size() <= samples.paths_);
    BlockStats stats;
    std::array<double*, mode_count> loss{};
    std::array<float*, mode_count> drawdown{};
    for (std::size_t m = 0; m < mode_count; ++m) {
        loss[m] = samples.loss_[m].data() + first_path;
        drawdown[m] = samples.drawdown_[m].data() + first_path;
    }
    if (!weights.empty()) {
        assert(samples.weight_.size() == samples.paths_);
        std::copy(weights.begin(), weights.end(), samples.weight_.begin() + static_cast<std::ptrdiff_t>(first_path));
    }
    read_block(state, book, balance, weights, stats, loss, drawdown);
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
    weighted = weighted || other.weighted;
    append(weight, other.weight);
    path_weight += other.path_weight;
    cross_loss_exceeds_isolated_weight += other.cross_loss_exceeds_isolated_weight;
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

namespace {

constexpr double z95 = 1.959963984540054;  // two-sided 95% normal quantile

// sum w 1{event} / n with the normal 95% interval of the weighted sample's own variance; with
// no path in the event, the Wilson bound of 0 hits scaled by the largest weight (2).
Proportion weighted_proportion(const WeightedCount& event, std::uint64_t event_paths, std::uint64_t paths) {
    assert(paths > 0);
    const double n = static_cast<double>(paths);
    if (event_paths == 0) return {0.0, {0.0, std::min(1.0, 2.0 * wilson_proportion(0, paths).ci95.hi)}};
    const double p = event.sum.value() / n;
    const double variance = paths > 1 ? std::max(0.0, event.squares.value() / n - p * p) / (n - 1.0) : p * p;
    const double half = z95 * std::sqrt(variance);
    return {p, {std::max(0.0, p - half), std::min(1.0, p + half)}};
}

}  // namespace

namespace {

// Paths first liquidated at time 0 (bin 0): a pool of the mode starts liquidated, on every path.
std::uint64_t liquidated_at_start(const ModeSample& mode) {
    const std::uint64_t folded = mode.liquidations_by_step.empty() ? 0 : mode.liquidations_by_step[0];
    return folded + static_cast<std::uint64_t>(std::count(mode.first_liquidation_steps.begin(),
                                                          mode.first_liquidation_steps.end(), 0));
}

}  // namespace

Proportion liquidation_proportion(const BlockStats& stats, const ModeSample& mode) {
    const std::uint64_t paths = stats.paths - stats.overflowed_paths;
    // Certain, not estimated: the mode starts liquidated (weighted or not, P is exactly 1).
    if (paths > 0 && liquidated_at_start(mode) == paths) return Proportion{1.0, Interval{1.0, 1.0}};
    return stats.weighted ? weighted_proportion(mode.liquidated_weight, mode.liquidated_paths, paths)
                          : wilson_proportion(mode.liquidated_paths, paths);
}

Proportion contagion_proportion(const BlockStats& stats, const ModeSample& mode) {
    const std::uint64_t paths = stats.paths - stats.overflowed_paths;
    return stats.weighted ? weighted_proportion(mode.contagion_weight, mode.contagion, paths)
                          : wilson_proportion(mode.contagion, paths);
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
    const auto p95 = at(drawdown_levels[0]);
    const auto p99 = at(drawdown_levels[1]);
    std::nth_element(drawdown.begin(), p95, drawdown.end());
    const double at_95 = *p95;  // read before the next selection reorders [p95, end)
    std::nth_element(p95, p99, drawdown.end());
    return DrawdownSummary{mean, at_95 + 0.0, static_cast<double>(*p99) + 0.0};  // -0 as +0, as rank selection gives
}

}  // namespace

LossSummary summarize_losses(std::vector<double>& losses) {
    assert(!losses.empty());
    LossSummary summary;
    const double n = static_cast<double>(losses.size());
    summary.mean = mean_of(losses);
    ExactSum squares;
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
        summary.var[l] = losses[index] + 0.0;  // -0 as +0, as rank selection gives
        ExactSum tail;
        for (std::size_t k = index; k < losses.size(); ++k) tail.add(losses[k]);
        summary.es[l] = tail.value() / static_cast<double>(losses.size() - index);
    }
    summary.max = losses.back() + 0.0;
    return summary;
}

namespace {

// One process's cuts of a weighted sample (weighted_order_index's walk needs only the pairs
// from a cut up, as long as they weigh more than tail_weight_needed for the level): the
// unweighted order statistics tried in turn, else the whole sample.
constexpr std::array<double, 2> weighted_tail_cuts{0.9, 0.5};
double tail_weight_needed(double n, double a) {
    return (1.0 - a) * n * (1.0 + 1e-9);
}

// The upper part of a sample with its paths' weights, sorted by value: from an order statistic
// above which the weight is more than tail_weight_needed(n, a), so that every weighted
// a'-quantile with a' >= a lies in it (the whole sample when no such cut is found).
template <class T>
std::vector<std::pair<T, double>> sorted_tail(const std::vector<T>& values, const std::vector<double>& weight, double a) {
    assert(values.size() == weight.size());
    std::vector<std::pair<T, double>> pairs(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) pairs[k] = {values[k], weight[k]};
    const double needed = tail_weight_needed(static_cast<double>(values.size()), a);
    for (const double cut : weighted_tail_cuts) {
        const auto at = pairs.begin() + static_cast<std::ptrdiff_t>(order_index(pairs.size(), cut));
        std::nth_element(pairs.begin(), at, pairs.end());
        ExactSum above;  // exact: whether the cut holds the tail does not depend on the pairs' order
        for (auto it = at; it != pairs.end(); ++it) above.add(it->second);
        if (above.value() <= needed) continue;
        pairs.erase(pairs.begin(), at);
        std::sort(pairs.begin(), pairs.end());
        return pairs;
    }
    std::sort(pairs.begin(), pairs.end());
    return pairs;
}

// The weighted a-quantile's index in sorted pairs: the smallest k whose weight beyond it,
// sum_{j > k} w_j (an exact WeightSum), is at most weighted_tail_limit(n, a) (with every weight
// 1: order_index(n, a)). The walk from the top sees the same pairs in the same order in any tail
// that holds the quantile, and a selection over ranks finds the same index (rank_statistics).
template <class T>
std::size_t weighted_order_index(const std::vector<std::pair<T, double>>& sorted, double n, double a) {
    const WeightSum limit = weighted_tail_limit(n, a);
    WeightSum above;
    std::size_t k = sorted.size() - 1;
    while (k > 0) {
        WeightSum next = above;
        next.add(sorted[k].second);
        if (limit < next) break;
        above = next;
        --k;
    }
    return k;
}

// VaR and ES at every tail level, and the maximum, from a loss tail sorted ascending.
void weighted_tail_losses(const std::vector<std::pair<double, double>>& tail, double n, LossSummary& summary) {
    assert(!tail.empty());
    for (std::size_t l = 0; l < tail_levels.size(); ++l) {
        const std::size_t index = weighted_order_index(tail, n, tail_levels[l]);
        summary.var[l] = tail[index].first + 0.0;  // -0 as +0: the sort leaves the two in any order
        ExactSum sum;
        ExactSum tail_weight;
        for (std::size_t k = index; k < tail.size(); ++k) {
            sum.add(tail[k].second * tail[k].first);
            tail_weight.add(tail[k].second);
        }
        summary.es[l] = tail_weight.value() > 0.0 ? sum.value() / tail_weight.value() : summary.var[l];
    }
    summary.max = tail.back().first + 0.0;
}

// The drawdown_levels quantiles from a drawdown tail sorted ascending.
std::array<double, 2> weighted_tail_drawdowns(const std::vector<std::pair<float, double>>& tail, double n) {
    assert(!tail.empty());
    std::array<double, 2> out{};
    for (std::size_t l = 0; l < drawdown_levels.size(); ++l)
        out[l] = static_cast<double>(tail[weighted_order_index(tail, n, drawdown_levels[l])].first) + 0.0;
    return out;
}

template <class T>
double weighted_mean(const std::vector<T>& values, const std::vector<double>& weight, double n) {
    ExactSum sum;
    for (std::size_t k = 0; k < values.size(); ++k) sum.add(weight[k] * static_cast<double>(values[k]));
    return sum.value() / n;
}

// summarize_losses with weights: the mean and standard deviation estimated as sum w f / n, VaR
// the weighted order statistic, ES the weighted mean of the losses from it up.
LossSummary summarize_weighted_losses(const std::vector<double>& losses, const std::vector<double>& weight) {
    LossSummary summary;
    const double n = static_cast<double>(losses.size());
    summary.mean = weighted_mean(losses, weight, n);
    ExactSum squares;
    for (std::size_t k = 0; k < losses.size(); ++k)
        squares.add(weight[k] * (losses[k] - summary.mean) * (losses[k] - summary.mean));
    summary.std = std::sqrt(squares.value() / n);
    weighted_tail_losses(sorted_tail(losses, weight, tail_levels.front()), n, summary);
    return summary;
}

DrawdownSummary summarize_weighted_drawdowns(const std::vector<float>& drawdown, const std::vector<double>& weight) {
    const double n = static_cast<double>(drawdown.size());
    const auto quantiles = weighted_tail_drawdowns(sorted_tail(drawdown, weight, drawdown_levels.front()), n);
    return DrawdownSummary{weighted_mean(drawdown, weight, n), quantiles[0], quantiles[1]};
}

// liquidation_time_summary with the weights per bin: the first bin whose cumulative weight
// reaches a of the liquidated paths' weight.
std::optional<TimeSummary> weighted_time_summary(const std::vector<WeightSum>& by_bin, double bin_days) {
    double total = 0.0;
    for (const WeightSum& w : by_bin) total += w.value();
    if (!(total > 0.0)) return std::nullopt;
    auto quantile = [&](double a) {
        double below = 0.0;
        std::size_t bin = 0;
        for (; bin + 1 < by_bin.size(); ++bin) {
            below += by_bin[bin].value();
            if (below >= a * total * (1.0 - 1e-12)) break;
        }
        return static_cast<double>(static_cast<float>(static_cast<double>(bin) * bin_days));
    };
    return TimeSummary{quantile(0.05), quantile(0.5), quantile(0.95)};
}

// The weights of the paths that did not overflow (their losses are not NaN), in path order.
std::vector<double> kept_weights(const BlockStats& merged) {
    if (merged.overflowed_paths == 0) return merged.weight;
    std::vector<double> out;
    const std::vector<double>& loss = merged.modes[0].loss;
    for (std::size_t k = 0; k < loss.size(); ++k)
        if (!std::isnan(loss[k])) out.push_back(merged.weight[k]);
    return out;
}

}  // namespace

WeightSum weighted_tail_limit(double n, double a) {
    return WeightSum::of((1.0 - a) * n * (1.0 + 1e-12));  // as order_index, products that are whole numbers snap
}

namespace {

// One mode's numbers; its losses and drawdowns are this rank's share of a sample of `paths`.
void summarize_mode(BlockStats& merged, std::size_t m, const std::vector<double>& weight, std::uint64_t paths,
                    const Ranks& ranks, ModeSummary& out) {
    ModeSample& sample = merged.modes[m];
    out.liquidation_probability = liquidation_proportion(merged, sample);
    fold_steps(sample);
    out.funding_paid_mean = sample.funding_paid / static_cast<double>(paths);
    if (merged.weighted) {
        for (const WeightSum& hits : sample.position_weight)
            out.position_liquidation_probability.push_back(hits.value() / static_cast<double>(paths));
        out.time_to_liquidation_days = weighted_time_summary(sample.weight_by_step, merged.bin_days);
        if (ranks.size() > 1) {
            out.loss = summarize_weighted_losses_over(sample.loss, weight, paths, ranks);
            out.drawdown = summarize_weighted_drawdowns_over(sample.drawdown, weight, paths, ranks);
            return;
        }
        out.loss = summarize_weighted_losses(sample.loss, weight);
        out.drawdown = summarize_weighted_drawdowns(sample.drawdown, weight);
        return;
    }
    for (std::uint64_t hits : sample.position_liquidations)
        out.position_liquidation_probability.push_back(static_cast<double>(hits) / static_cast<double>(paths));
    out.time_to_liquidation_days = liquidation_time_summary(sample.liquidations_by_step, merged.bin_days);
    if (ranks.size() > 1) {
        out.loss = summarize_losses_over(sample.loss, paths, ranks);
        out.drawdown = summarize_drawdowns_over(sample.drawdown, paths, ranks);
        return;
    }
    out.loss = summarize_losses(sample.loss);
    out.drawdown = summarize_drawdowns(sample.drawdown);
}

}  // namespace

Summary summarize(BlockStats& merged, const Ranks& ranks) {
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
    const std::vector<double> weight = merged.weighted ? kept_weights(merged) : std::vector<double>{};
    if (merged.overflowed_paths != 0) {
        for (ModeSample& sample : merged.modes) {
            std::erase_if(sample.loss, [](double x) { return std::isnan(x); });
            std::erase_if(sample.drawdown, [](float x) { return std::isnan(x); });
        }
    }
    if (ranks.size() > 1) {  // collective: the modes one after the other, as every rank calls them
        for (std::size_t m = 0; m < mode_count; ++m) summarize_mode(merged, m, weight, paths, ranks, summary.modes[m]);
    } else {
        // The modes' samples are apart: summarized side by side on the calling arena's threads
        // (the selections and sorts of large runs are most of this function's time).
        tbb::parallel_for(std::size_t{0}, mode_count, [&](std::size_t m) {
            summarize_mode(merged, m, weight, paths, ranks, summary.modes[m]);
        });
    }
    if (merged.weighted) {
        const ModeSample& cross = merged.modes[mode_index(MarginMode::cross)];
        summary.p_cross_loss_exceeds_isolated = weighted_proportion(
            merged.cross_loss_exceeds_isolated_weight, merged.cross_loss_exceeds_isolated, paths);
        summary.contagion_probability = contagion_proportion(merged, cross);
        const double sum = merged.path_weight.sum.value();
        summary.effective_paths = sum * sum / merged.path_weight.squares.value();
        return summary;
    }
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
