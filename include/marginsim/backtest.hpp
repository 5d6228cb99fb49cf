#pragma once
// Backtesting liquidation forecasts: how a model's predicted P(liquidation) over many windows
// compares with what really happened (docs/backtest.md). This header: the scores of one
// model against one realised flag.

#include <cstddef>
#include <span>
#include <vector>

namespace marginsim {

// A likelihood-ratio test against the chi-square distribution with one degree of freedom.
struct LikelihoodRatioTest {
    double statistic = 0.0;  // -2 ln(L0 / L1)
    double p_value = 1.0;    // P(chi-square(1) >= statistic)
};

// Kupiec's proportion-of-failures test with probability forecasts: the realised count against
// a binomial of the mean predicted probability (H0: the events happen as often as predicted
// on average).
struct KupiecTest : LikelihoodRatioTest {
    std::size_t events = 0;
    double expected_events = 0.0;  // sum of the predicted probabilities
};

// Christoffersen's independence test of the realised sequence: a first-order Markov chain of
// events against independence (H0: an event does not make the next window's more likely).
// transitions[a][b]: windows with flag b after a window with flag a.
struct ChristoffersenTest : LikelihoodRatioTest {
    std::size_t transitions[2][2] = {{0, 0}, {0, 0}};
};

// Windows whose predictions fell in [low, high): their mean prediction and realised rate.
struct ReliabilityBin {
    double low = 0.0;
    double high = 0.0;
    std::size_t windows = 0;
    double mean_predicted = 0.0;
    double realised_rate = 0.0;
};

struct ForecastScores {
    std::size_t windows = 0;
    double mean_predicted = 0.0;
    double realised_rate = 0.0;
    // Mean squared error of the probabilities; the reference is the forecast that always says
    // the realised rate (climatology, known only in hindsight); skill = 1 - brier / reference
    // (> 0: better than climatology; NaN when every window had the same outcome).
    double brier = 0.0;
    double brier_reference = 0.0;
    double brier_skill = 0.0;
    KupiecTest kupiec;
    ChristoffersenTest christoffersen;
    // P(a window with the event is predicted higher than one without), ties counting half;
    // NaN when every window had the same outcome. 0.5: no discrimination.
    double auc = 0.0;
    std::vector<ReliabilityBin> reliability;  // the bins that hold windows
};

// The reliability bins' edges: 0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1 (fine at the
// small probabilities where liquidation forecasts live).
std::span<const double> reliability_edges() noexcept;

// Scores of predictions[k] against realised[k] (the same windows, in time order). At least
// one window; every prediction in [0, 1].
ForecastScores score_forecasts(std::span<const double> predicted, std::span<const bool> realised);

// P(chi-square(1) >= x).
double chi_square_1_survival(double x) noexcept;

}  // namespace marginsim
