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

namespace {

// A WeightSum as eight 32-bit halves of its words: summed over fewer than 2^32 ranks, no half
// overflows, and HalvesReader carries them back into words.
void put_halves(std::vector<std::uint64_t>& out, const WeightSum& sum) {
    for (const std::uint64_t word : sum.words()) {
        out.push_back(word & 0xffffffffu);
        out.push_back(word >> 32);
    }
}
void put_halves(std::vector<std::uint64_t>& out, const WeightedCount& count) {
    put_halves(out, count.sum);
    put_halves(out, count.squares);
}

class HalvesReader {
public:
    explicit HalvesReader(const std::vector<std::uint64_t>& halves) : next_(halves.begin()) {}
    WeightSum sum() {
        std::array<std::uint64_t, 4> words{};
        uint128_t carry = 0;
        for (std::uint64_t& word : words) {
            const uint128_t low = *next_++;
            const uint128_t high = *next_++;
            const uint128_t value = carry + low + (high << 32);
            word = static_cast<std::uint64_t>(value);
            carry = value >> 64;
        }
        return WeightSum::from_words(words);
    }
    void read(WeightSum& sum) { sum = this->sum(); }
    void read(WeightedCount& count) {
        count.sum = sum();
        count.squares = sum();
    }

private:
    std::vector<std::uint64_t>::const_iterator next_;
};

// The weights of a weighted run's counts, summed over the ranks (the lists already as long on
// every rank as their counts).
void sum_weights_over(BlockStats& local, const Ranks& ranks) {
    std::vector<std::uint64_t> halves;
    put_halves(halves, local.path_weight);
    put_halves(halves, local.cross_loss_exceeds_isolated_weight);
    for (ModeSample& mode : local.modes) {
        mode.weight_by_step.resize(mode.liquidations_by_step.size());
        mode.position_weight.resize(mode.position_liquidations.size());
        put_halves(halves, mode.liquidated_weight);
        put_halves(halves, mode.contagion_weight);
        for (const WeightSum& sum : mode.weight_by_step) put_halves(halves, sum);
        for (const WeightSum& sum : mode.position_weight) put_halves(halves, sum);
    }
    ranks.sum(halves);
    HalvesReader in(halves);
    in.read(local.path_weight);
    in.read(local.cross_loss_exceeds_isolated_weight);
    for (ModeSample& mode : local.modes) {
        in.read(mode.liquidated_weight);
        in.read(mode.contagion_weight);
        for (WeightSum& sum : mode.weight_by_step) in.read(sum);
        for (WeightSum& sum : mode.position_weight) in.read(sum);
    }
}

}  // namespace

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
    if (local.weighted) sum_weights_over(local, ranks);
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
    select_levels(local, n, drawdown_levels, ranks,
                  [&](std::size_t l, const Selected<float>& selected) { quantile[l] = static_cast<double>(selected.value); });
    return DrawdownSummary{mean, quantile[0], quantile[1]};
}

namespace {

// The 128-bit order key of a (value, weight) pair, a byte a round from the highest: the value's
// order key, then the weight's bits (weights are >= 0, so that their bits order like them).
template <class T>
constexpr int pair_rounds = static_cast<int>(sizeof(T) + sizeof(double));
template <class T>
unsigned pair_digit(const std::pair<T, double>& pair, int round) noexcept {
    constexpr int value_bytes = static_cast<int>(sizeof(T));
    if (round < value_bytes) return static_cast<unsigned>((order_key(pair.first) >> (8 * (value_bytes - 1 - round))) & 0xffu);
    const auto weight = std::bit_cast<std::uint64_t>(pair.second + 0.0);
    return static_cast<unsigned>((weight >> (8 * (7 - (round - value_bytes)))) & 0xffu);
}

// Every rank's 256 weight sums, summed over the ranks (as halves: HalvesReader).
void sum_over(std::array<WeightSum, 256>& sums, const Ranks& ranks) {
    std::vector<std::uint64_t> halves;
    halves.reserve(256 * 8);
    for (const WeightSum& sum : sums) put_halves(halves, sum);
    ranks.sum(halves);
    HalvesReader in(halves);
    for (WeightSum& sum : sums) in.read(sum);
}

// Where a weighted a-quantile's walk from the top stops (weighted_order_index), over the ranks:
// the highest pair B (in (value, weight) order) such that B's pairs and those above it weigh
// more than `limit`, found a byte of its key a round, each round the weights of the candidates
// by their next byte summed over the ranks. The pairs before `from` (on every rank) must lie below
// B: a higher level's quantile starts from a lower one's copies. This rank's pairs equal to B
// end in [equal, greater), those above it in [greater, end).
template <class T>
struct WeightedCut {
    bool found = false;  // false: the whole sample weighs no more than the limit
    std::pair<T, double> pair{};
    std::uint64_t copies = 0;  // over the ranks
    WeightSum above;           // the weight of the pairs above B, over the ranks
    std::size_t equal = 0;
    std::size_t greater = 0;
};
template <class T>
WeightedCut<T> select_weighted(std::vector<std::pair<T, double>>& pairs, std::size_t from, const WeightSum& limit,
                               const Ranks& ranks) {
    WeightedCut<T> cut;
    auto lo = pairs.begin() + static_cast<std::ptrdiff_t>(from);
    auto hi = pairs.end();
    std::array<unsigned, pair_rounds<T>> digits{};
    for (int round = 0; round < pair_rounds<T>; ++round) {
        std::array<WeightSum, 256> sums{};
        for (auto it = lo; it != hi; ++it) sums[pair_digit(*it, round)].add(it->second);
        sum_over(sums, ranks);
        // The highest byte whose pairs, with all those above them, weigh more than the limit.
        WeightSum passed = cut.above;
        int digit = 255;
        for (; digit >= 0; --digit) {
            WeightSum with = passed;
            with += sums[static_cast<std::size_t>(digit)];
            if (limit < with) break;
            passed = with;
        }
        if (digit < 0) return cut;  // only in the first round: the whole sample is within the limit
        cut.above = passed;
        const auto d = static_cast<unsigned>(digit);
        digits[static_cast<std::size_t>(round)] = d;
        lo = std::partition(lo, hi, [&](const std::pair<T, double>& p) { return pair_digit(p, round) < d; });
        hi = std::partition(lo, hi, [&](const std::pair<T, double>& p) { return pair_digit(p, round) == d; });
    }
    Key<T> value_key = 0;
    std::uint64_t weight_bits = 0;
    for (int round = 0; round < pair_rounds<T>; ++round) {
        if (round < static_cast<int>(sizeof(T)))
            value_key = static_cast<Key<T>>((value_key << 8) | digits[static_cast<std::size_t>(round)]);
        else
            weight_bits = (weight_bits << 8) | digits[static_cast<std::size_t>(round)];
    }
    cut.found = true;
    cut.pair = {from_order_key<T>(value_key), std::bit_cast<double>(weight_bits)};
    cut.equal = static_cast<std::size_t>(lo - pairs.begin());
    cut.greater = static_cast<std::size_t>(hi - pairs.begin());
    cut.copies = sum_over(static_cast<std::uint64_t>(hi - lo), ranks);
    return cut;
}

// How many of the cut's copies the walk passes before it stops on one: while the weight passed
// stays within the limit.
template <class T>
std::uint64_t copies_passed(const WeightedCut<T>& cut, const WeightSum& limit) {
    WeightSum passed = cut.above;
    std::uint64_t count = 0;
    while (count + 1 < cut.copies) {
        WeightSum next = passed;
        next.add(cut.pair.second);
        if (limit < next) break;
        passed = next;
        ++count;
    }
    return count;
}

template <class T>
std::vector<std::pair<T, double>> pairs_of(const std::vector<T>& local, const std::vector<double>& weight) {
    assert(local.size() == weight.size());
    std::vector<std::pair<T, double>> pairs(local.size());
    for (std::size_t k = 0; k < local.size(); ++k) pairs[k] = {local[k], weight[k]};
    return pairs;
}

// The least value over the ranks (the walk's end when no pair weighs enough: index 0).
template <class T>
double min_over(const std::vector<std::pair<T, double>>& pairs, const Ranks& ranks) {
    std::array<double, 1> negated{-std::numeric_limits<double>::infinity()};
    for (const auto& pair : pairs) negated[0] = std::max(negated[0], -static_cast<double>(pair.first));
    ranks.max(negated);
    return -negated[0] + 0.0;
}

template <class T>
double weighted_mean_over(const std::vector<T>& local, const std::vector<double>& weight, std::uint64_t n,
                          const Ranks& ranks) {
    ExactSum sum;
    for (std::size_t k = 0; k < local.size(); ++k) sum.add(weight[k] * static_cast<double>(local[k]));
    return sum_over(sum, ranks).value() / static_cast<double>(n);
}

}  // namespace

LossSummary summarize_weighted_losses_over(const std::vector<double>& local, const std::vector<double>& weight,
                                           std::uint64_t n, const Ranks& ranks) {
    assert(n > 0);
    LossSummary summary;
    summary.mean = weighted_mean_over(local, weight, n, ranks);
    ExactSum squares;
    for (std::size_t k = 0; k < local.size(); ++k)
        squares.add(weight[k] * (local[k] - summary.mean) * (local[k] - summary.mean));
    summary.std = std::sqrt(sum_over(squares, ranks).value() / static_cast<double>(n));
    std::vector<std::pair<double, double>> pairs = pairs_of(local, weight);
    std::size_t from = 0;  // each level searches from the last one's quantile up
    for (std::size_t l = 0; l < tail_levels.size(); ++l) {
        const WeightSum limit = weighted_tail_limit(static_cast<double>(n), tail_levels[l]);
        const WeightedCut<double> cut = select_weighted(pairs, from, limit, ranks);
        if (cut.found) from = cut.equal;
        // The tail from the quantile up, as one process sums it: the pairs above the cut, and
        // the copies of the cut's pair the walk passed with the one it stopped on (all pairs
        // when it ran through the whole sample).
        ExactSum tail;
        ExactSum tail_weight;
        for (std::size_t k = cut.found ? cut.greater : 0; k < pairs.size(); ++k) {
            tail.add(pairs[k].second * pairs[k].first);
            tail_weight.add(pairs[k].second);
        }
        tail = sum_over(tail, ranks);
        tail_weight = sum_over(tail_weight, ranks);
        if (cut.found) {
            const std::uint64_t copies = copies_passed(cut, limit) + 1;
            tail.add_times(copies, cut.pair.second * cut.pair.first);
            tail_weight.add_times(copies, cut.pair.second);
        }
        summary.var[l] = (cut.found ? cut.pair.first : min_over(pairs, ranks)) + 0.0;
        summary.es[l] = tail_weight.value() > 0.0 ? tail.value() / tail_weight.value() : summary.var[l];
    }
    summary.max = max_over(local, ranks);
    return summary;
}

DrawdownSummary summarize_weighted_drawdowns_over(const std::vector<float>& local, const std::vector<double>& weight,
                                                  std::uint64_t n, const Ranks& ranks) {
    assert(n > 0);
    const double mean = weighted_mean_over(local, weight, n, ranks);
    std::vector<std::pair<float, double>> pairs = pairs_of(local, weight);
    std::array<double, drawdown_levels.size()> quantiles{};
    std::size_t from = 0;
    for (std::size_t l = 0; l < drawdown_levels.size(); ++l) {
        const WeightedCut<float> cut =
            select_weighted(pairs, from, weighted_tail_limit(static_cast<double>(n), drawdown_levels[l]), ranks);
        if (cut.found) from = cut.equal;
        quantiles[l] = (cut.found ? static_cast<double>(cut.pair.first) : min_over(pairs, ranks)) + 0.0;
    }
    return DrawdownSummary{mean, quantiles[0], quantiles[1]};
}

}  // namespace marginsim
