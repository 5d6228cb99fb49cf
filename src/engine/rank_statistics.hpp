#pragma once
// The statistics of a run spread over ranks (docs/distributed.md#exact-statistics): each rank
// holds the counts and samples of its share of the blocks; counts are summed, floating-point
// sums are exact (ExactSum) and summed as words, and each order statistic is found by a
// distributed radix selection: eight rounds of a 256-bucket histogram summed over the ranks,
// each rank partitioning its own samples in place. No rank sees another's samples, and every
// rank gets the numbers of the merged run bit for bit. Every function is collective.

#include <cstdint>
#include <vector>

#include "engine/block_stats.hpp"
#include "marginsim/ranks.hpp"
#include "marginsim/summary.hpp"
#include "numerics/exact_sum.hpp"

namespace marginsim {

// The sum of every rank's `local`, on every rank.
ExactSum sum_over(const ExactSum& local, const Ranks& ranks);
std::uint64_t sum_over(std::uint64_t local, const Ranks& ranks);

// Adds the other ranks' counts to this rank's (first folding its lists of liquidation bins).
void sum_counts_over(BlockStats& local, const Ranks& ranks);

// summarize_losses() of the sample whose `n` values are spread over the ranks (`local`: this
// rank's, without NaN; reordered in place).
LossSummary summarize_losses_over(std::vector<double>& local, std::uint64_t n, const Ranks& ranks);
// Mean, 95% and 99% quantiles of the drawdowns spread over the ranks.
DrawdownSummary summarize_drawdowns_over(std::vector<float>& local, std::uint64_t n, const Ranks& ranks);

}  // namespace marginsim
