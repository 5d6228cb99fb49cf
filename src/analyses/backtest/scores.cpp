// Scores of probability forecasts against realised flags: Brier score and skill, Kupiec's and
// Christoffersen's likelihood-ratio tests, the AUC and a reliability table.

#include "marginsim/backtest.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace marginsim {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr std::array<double, 10> edges{0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};

// k ln p + (n - k) ln(1 - p), with 0 ln 0 = 0.
double bernoulli_log_likelihood(double events, double trials, double p) {
    const auto term = [](double count, double q) { return count > 0.0 ? count * std::log(q) : 0.0; };
    return term(events, p) + term(trials - events, 1.0 - p);
}

LikelihoodRatioTest chi_square_test(double statistic) {
    statistic = std::max(0.0, statistic);  // rounding can make a zero statistic negative
    return {statistic, chi_square_1_survival(statistic)};
}

KupiecTest kupiec(std::span<const double> predicted, std::span<const bool> realised) {
    const double n = static_cast<double>(predicted.size());
    KupiecTest test;
    test.events = static_cast<std::size_t>(std::count(realised.begin(), realised.end(), true));
    test.expected_events = std::accumulate(predicted.begin(), predicted.end(), 0.0);
    const double x = static_cast<double>(test.events);
    const double p = test.expected_events / n;
    const double restricted = bernoulli_log_likelihood(x, n, p);
    const double free = bernoulli_log_likelihood(x, n, x / n);
    // A predicted 0 (or 1) that the data contradict has no finite likelihood: reject outright.
    if (!std::isfinite(restricted)) {
        test.statistic = std::numeric_limits<double>::infinity();
        test.p_value = 0.0;
        return test;
    }
    static_cast<LikelihoodRatioTest&>(test) = chi_square_test(-2.0 * (restricted - free));
    return test;
}

ChristoffersenTest christoffersen(std::span<const bool> realised) {
    ChristoffersenTest test;
    for (std::size_t k = 1; k < realised.size(); ++k) {
        ++test.transitions[realised[k - 1] ? 1 : 0][realised[k] ? 1 : 0];
    }
    const auto count = [&](int a, int b) { return static_cast<double>(test.transitions[a][b]); };
    const double from0 = count(0, 0) + count(0, 1);
    const double from1 = count(1, 0) + count(1, 1);
    const double events = count(0, 1) + count(1, 1);
    const double total = from0 + from1;
    if (total == 0.0) return test;
    const double pooled = bernoulli_log_likelihood(events, total, events / total);
    const double markov =
        (from0 > 0.0 ? bernoulli_log_likelihood(count(0, 1), from0, count(0, 1) / from0) : 0.0) +
        (from1 > 0.0 ? bernoulli_log_likelihood(count(1, 1), from1, count(1, 1) / from1) : 0.0);
    static_cast<LikelihoodRatioTest&>(test) = chi_square_test(-2.0 * (pooled - markov));
    return test;
}

// Mann-Whitney: over every (event, non-event) pair, 1 when the event window was predicted
// higher, 1/2 on a tie; by ranks with mid-ranks for ties.
double auc(std::span<const double> predicted, std::span<const bool> realised) {
    const std::size_t n = predicted.size();
    const auto positives = static_cast<double>(std::count(realised.begin(), realised.end(), true));
    const double negatives = static_cast<double>(n) - positives;
    if (positives == 0.0 || negatives == 0.0) return nan;
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return predicted[a] < predicted[b]; });
    double positive_rank_sum = 0.0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && predicted[order[j]] == predicted[order[i]]) ++j;
        const double mid_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
        for (std::size_t k = i; k < j; ++k) {
            if (realised[order[k]]) positive_rank_sum += mid_rank;
        }
        i = j;
    }
    return (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

std::vector<ReliabilityBin> reliability(std::span<const double> predicted, std::span<const bool> realised) {
    std::vector<ReliabilityBin> bins;
    for (std::size_t b = 0; b + 1 < edges.size(); ++b) {
        ReliabilityBin bin{edges[b], edges[b + 1]};
        const bool last = b + 2 == edges.size();
        double predicted_sum = 0.0;
        double events = 0.0;
        for (std::size_t k = 0; k < predicted.size(); ++k) {
            const double p = predicted[k];
            if (p < bin.low || (last ? p > bin.high : p >= bin.high)) continue;
            ++bin.windows;
            predicted_sum += p;
            events += realised[k] ? 1.0 : 0.0;
        }
        if (bin.windows == 0) continue;
        bin.mean_predicted = predicted_sum / static_cast<double>(bin.windows);
        bin.realised_rate = events / static_cast<double>(bin.windows);
        bins.push_back(bin);
    }
    return bins;
}

}  // namespace

std::span<const double> reliability_edges() noexcept { return edges; }

double chi_square_1_survival(double x) noexcept {
    return x <= 0.0 ? 1.0 : std::erfc(std::sqrt(0.5 * x));
}

ForecastScores score_forecasts(std::span<const double> predicted, std::span<const bool> realised) {
    assert(!predicted.empty() && predicted.size() == realised.size());
    ForecastScores s;
    s.windows = predicted.size();
    const double n = static_cast<double>(s.windows);
    double brier = 0.0;
    double events = 0.0;
    for (std::size_t k = 0; k < s.windows; ++k) {
        const double outcome = realised[k] ? 1.0 : 0.0;
        brier += (predicted[k] - outcome) * (predicted[k] - outcome);
        events += outcome;
    }
    s.mean_predicted = std::accumulate(predicted.begin(), predicted.end(), 0.0) / n;
    s.realised_rate = events / n;
    s.brier = brier / n;
    s.brier_reference = s.realised_rate * (1.0 - s.realised_rate);
    s.brier_skill = s.brier_reference > 0.0 ? 1.0 - s.brier / s.brier_reference : nan;
    s.kupiec = kupiec(predicted, realised);
    s.christoffersen = christoffersen(realised);
    s.auc = auc(predicted, realised);
    s.reliability = reliability(predicted, realised);
    return s;
}

}  // namespace marginsim
