#pragma once
// The statistics of a run spread over ranks (docs/distributed.md#exact-statistics): each rank
// holds the counts and samples of its share of the blocks; counts are summed, floating-point
// sums are exact (ExactSum) and summed as words, and each order statistic is found by a
// distributed radix selection: eight rounds of a 256-bucket histogram summed over the ranks,
// each rank partitioning its own samples in place. No rank sees another's samples, and every
// rank gets the numbers of the merged run bit for bit. Every function is collective.

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/block_stats.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/summary.hpp"
#include "numerics/exact_sum.hpp"

namespace marginsim {

// The sum of every rank's `local`, on every rank.
ExactSum sum_over(const ExactSum& local, const Ranks& ranks);
std::uint64_t sum_over(std::uint64_t local, const Ranks& ranks);

// Plain values as the bytes a Ranks operation carries, and back.
template <class T>
std::string bytes_of(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}
template <class T>
std::vector<T> values_of(const std::string& bytes) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> values(bytes.size() / sizeof(T));
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));  // never a null pointer
    return values;
}

// Adds the other ranks' counts to this rank's (first folding its lists of liquidation bins),
// and of a weighted run their weights (each WeightSum summed exactly, as 32-bit halves).
void sum_counts_over(BlockStats& local, const Ranks& ranks);

// summarize_losses() of the sample whose `n` values are spread over the ranks (`local`: this
// rank's, without NaN; reordered in place).
LossSummary summarize_losses_over(std::vector<double>& local, std::uint64_t n, const Ranks& ranks);
// Mean, 95% and 99% quantiles of the drawdowns spread over the ranks.
DrawdownSummary summarize_drawdowns_over(std::vector<float>& local, std::uint64_t n, const Ranks& ranks);

// The weighted statistics of an importance-sampled run (block_stats.cpp's, same numbers): the
// mean and std are exact sums over the ranks; each weighted quantile is found where one
// process's walk from the top stops, by a radix selection over the (value, weight) pairs' 128-bit
// keys in which each round sums the candidates' weights (exact WeightSums) by their next byte;
// ES is then the exact sum of the pairs above it and of the tied copies the walk takes. No
// sample leaves its rank.
LossSummary summarize_weighted_losses_over(const std::vector<double>& local, const std::vector<double>& weight,
                                           std::uint64_t n, const Ranks& ranks);
DrawdownSummary summarize_weighted_drawdowns_over(const std::vector<float>& local, const std::vector<double>& weight,
                                                  std::uint64_t n, const Ranks& ranks);

}  // namespace marginsim
