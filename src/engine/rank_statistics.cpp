#include "engine/rank_statistics.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

namespace marginsim {

ExactSum sum_over(const ExactSum& local, const Ranks& ranks) {
    if (ranks.size() == 1) return local;
    auto words = local.words();
    ranks.sum(words);
    return ExactSum::from_words(words);
}

std::uint64_t sum_over(std::uint64_t local, const Ranks& ranks) {
    std::array<std::uint64_t, 1> value{local};
    ranks.sum(value);
    return value[0];
}

void sum_counts_over(BlockStats& local, const Ranks& ranks) {
    // The lists of bins and positions may be shorter on a rank that saw no late liquidation,
    // or none at all: every rank first takes the longest length.
    std::vector<double> lengths;
    for (ModeSample& mode : local.modes) {
        fold_steps(mode);
        lengths.push_back(static_cast<double>(mode.liquidations_by_step.size()));
        lengths.push_back(static_cast<double>(mode.position_liquidations.size()));
    }
    ranks.max(lengths);
    std::vector<std::uint64_t> counts{local.paths, local.overflowed_paths, local.cross_loss_exceeds_isolated,
                                      local.contagion};
    for (std::size_t m = 0; m < mode_count; ++m) {
        ModeSample& mode = local.modes[m];
        mode.liquidations_by_step.resize(static_cast<std::size_t>(lengths[2 * m]), 0);
        mode.position_liquidations.resize(static_cast<std::size_t>(lengths[2 * m + 1]), 0);
        counts.push_back(mode.liquidated_paths);
        counts.push_back(mode.contagion);
        counts.insert(counts.end(), mode.liquidations_by_step.begin(), mode.liquidations_by_step.end());
        counts.insert(counts.end(), mode.position_liquidations.begin(), mode.position_liquidations.end());
    }
    ranks.sum(counts);
    auto next = counts.begin();
    local.paths = *next++;
    local.overflowed_paths = *next++;
    local.cross_loss_exceeds_isolated = *next++;
    local.contagion = *next++;
    for (ModeSample& mode : local.modes) {
        mode.liquidated_paths = *next++;
        mode.contagion = *next++;
        for (std::uint64_t& count : mode.liquidations_by_step) count = *next++;
        for (std::uint64_t& count : mode.position_liquidations) count = *next++;
    }
}

namespace {

// Unsigned keys that order like the values (-0 taken as +0): doubles to 64 bits, floats to 32.
template <class T>
using Key = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
template <class T>
constexpr Key<T> sign_bit = Key<T>{1} << (8 * sizeof(T) - 1);

template <class T>
Key<T> order_key(T x) noexcept {
    const auto bits = std::bit_cast<Key<T>>(x + T{0});  // -0 + 0 is +0
    return (bits & sign_bit<T>) != 0 ? static_cast<Key<T>>(~bits) : static_cast<Key<T>>(bits | sign_bit<T>);
}
template <class T>
T from_order_key(Key<T> key) noexcept {
    return std::bit_cast<T>((key & sign_bit<T>) != 0 ? static_cast<Key<T>>(key & ~sign_bit<T>) : static_cast<Key<T>>(~key));
}

// Where the selected value sits in this rank's samples after selection: [from, equal) below it,
// [equal, above) equal to it, [above, end) above it.
template <class T>
struct Selected {
    T value;
    std::size_t equal = 0;
    std::size_t above = 0;
};

// The index-th smallest (from 0) of the values in every rank's [from, end), when all of them lie
// above everything before `from`: eight bits of its key a round, from the highest, each round
// the counts of the next digit among the candidates summed over the ranks.
template <class T>
Selected<T> select(std::vector<T>& values, std::size_t from, std::uint64_t index, const Ranks& ranks) {
    auto lo = values.begin() + static_cast<std::ptrdiff_t>(from);
    auto hi = values.end();
    Key<T> prefix = 0;
    for (int shift = 8 * static_cast<int>(sizeof(T)) - 8; shift >= 0; shift -= 8) {
        const auto digit_of = [shift](T x) { return static_cast<unsigned>((order_key(x) >> shift) & 0xffu); };
        std::array<std::uint64_t, 256> count{};
        for (auto it = lo; it != hi; ++it) ++count[digit_of(*it)];
        ranks.sum(count);
        unsigned digit = 0;
        while (digit < 255 && index >= count[digit]) index -= count[digit++];
        lo = std::partition(lo, hi, [&](T x) { return digit_of(x) < digit; });
        hi = std::partition(lo, hi, [&](T x) { return digit_of(x) == digit; });
        prefix = static_cast<Key<T>>(prefix | (static_cast<Key<T>>(digit) << shift));
    }
    return {from_order_key<T>(prefix), static_cast<std::size_t>(lo - values.begin()),
            static_cast<std::size_t>(hi - values.begin())};
}

template <class T>
double max_over(const std::vector<T>& local, const Ranks& ranks) {
    std::array<double, 1> max{-std::numeric_limits<double>::infinity()};
    if (!local.empty()) max[0] = static_cast<double>(*std::max_element(local.begin(), local.end()));
    ranks.max(max);
    return max[0] + 0.0;
}

// The a-quantiles (ascending levels) of values spread over the ranks, each search starting where
// the last one's value begins; `at_level(l, selected)` runs right after level l's search, while
// the samples are still arranged around its value (the next search reorders them).
template <class T, std::size_t L, class AtLevel>
void select_levels(std::vector<T>& local, std::uint64_t n, const std::array<double, L>& levels, const Ranks& ranks,
                   AtLevel at_level) {
    std::size_t from = 0;
    for (std::size_t l = 0; l < L; ++l) {
        assert(l == 0 || levels[l] >= levels[l - 1]);
        const std::uint64_t index = order_index(static_cast<std::size_t>(n), levels[l]);
        const std::uint64_t below = sum_over(static_cast<std::uint64_t>(from), ranks);
        const Selected<T> selected = select(local, from, index - below, ranks);
        at_level(l, selected);
        from = selected.equal;
    }
}

}  // namespace

LossSummary summarize_losses_over(std::vector<double>& local, std::uint64_t n, const Ranks& ranks) {
    assert(n > 0);
    LossSummary summary;
    const auto count = static_cast<double>(n);
    ExactSum sum;
    for (const double x : local) sum.add(x);
    summary.mean = sum_over(sum, ranks).value() / count;
    ExactSum squares;
    for (const double x : local) squares.add((x - summary.mean) * (x - summary.mean));
    summary.std = n > 1 ? std::sqrt(sum_over(squares, ranks).value() / (count - 1.0)) : 0.0;
    select_levels(local, n, tail_levels, ranks, [&](std::size_t l, const Selected<double>& selected) {
        const double value = selected.value;
        summary.var[l] = value;
        // The sorted sample from the VaR's index up: the values above it, then as many copies of
        // it as make up the count.
        const std::uint64_t index = order_index(static_cast<std::size_t>(n), tail_levels[l]);
        ExactSum above;
        for (std::size_t k = selected.above; k < local.size(); ++k) above.add(local[k]);
        ExactSum tail = sum_over(above, ranks);
        const std::uint64_t above_count = sum_over(static_cast<std::uint64_t>(local.size() - selected.above), ranks);
        tail.add_times(n - index - above_count, value);
        summary.es[l] = tail.value() / static_cast<double>(n - index);
    });
    summary.max = max_over(local, ranks);
    return summary;
}

DrawdownSummary summarize_drawdowns_over(std::vector<float>& local, std::uint64_t n, const Ranks& ranks) {
    assert(n > 0);
    ExactSum sum;
    for (const float x : local) sum.add(static_cast<double>(x));
    const double mean = sum_over(sum, ranks).value() / static_cast<double>(n);
    std::array<double, 2> quantile{};
    select_levels(local, n, std::array<double, 2>{0.95, 0.99}, ranks,
                  [&](std::size_t l, const Selected<float>& selected) { quantile[l] = static_cast<double>(selected.value); });
    return DrawdownSummary{mean, quantile[0], quantile[1]};
}

}  // namespace marginsim
