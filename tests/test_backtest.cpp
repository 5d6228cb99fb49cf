// Backtests: the scores of probability forecasts against realised flags, checked against hand
// computations, brute-force definitions and the chi-square distribution's known quantiles.

#include "marginsim/backtest.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <vector>

using namespace marginsim;

namespace {

// std::vector<bool> has no data(): the flags as a plain array.
struct Flags {
    std::unique_ptr<bool[]> values;
    std::size_t size;
    explicit Flags(const std::vector<int>& bits) : values(new bool[bits.size()]), size(bits.size()) {
        for (std::size_t k = 0; k < size; ++k) values[k] = bits[k] != 0;
    }
    std::span<const bool> span() const { return {values.get(), size}; }
};

ForecastScores score(const std::vector<double>& predicted, const std::vector<int>& realised) {
    const Flags flags(realised);
    return score_forecasts(predicted, flags.span());
}

}  // namespace

TEST_CASE("the chi-square(1) survival function gives the textbook critical values", "[backtest]") {
    CHECK(chi_square_1_survival(3.841459) == Approx(0.05).margin(1e-6));
    CHECK(chi_square_1_survival(6.634897) == Approx(0.01).margin(1e-6));
    CHECK(chi_square_1_survival(2.705543) == Approx(0.10).margin(1e-6));
    CHECK(chi_square_1_survival(0.0) == 1.0);
}

TEST_CASE("Brier score, skill and AUC of a small hand-made record", "[backtest]") {
    const ForecastScores s = score({0.1, 0.9, 0.5, 0.2}, {0, 1, 1, 0});
    CHECK(s.windows == 4);
    CHECK(s.mean_predicted == Approx(0.425));
    CHECK(s.realised_rate == 0.5);
    CHECK(s.brier == Approx((0.01 + 0.01 + 0.25 + 0.04) / 4));
    CHECK(s.brier_reference == Approx(0.25));
    CHECK(s.brier_skill == Approx(1.0 - 0.0775 / 0.25));
    CHECK(s.auc == 1.0);  // every event window predicted above every calm one

    // Ties count half: events at 0.3 and 0.1, calm windows at 0.3 and 0.2 -> (0.5 + 1) / 4.
    CHECK(score({0.3, 0.3, 0.1, 0.2}, {1, 0, 1, 0}).auc == Approx(0.375));
    // One outcome only: no discrimination to measure, no climatology to beat.
    const ForecastScores calm = score({0.1, 0.2}, {0, 0});
    CHECK(std::isnan(calm.auc));
    CHECK(std::isnan(calm.brier_skill));
}

TEST_CASE("the AUC equals the share of (event, calm) pairs ranked right, ties half",
          "[backtest]") {
    std::mt19937_64 engine(3);
    std::uniform_int_distribution<int> level(0, 20);  // coarse: many ties
    std::bernoulli_distribution coin(0.3);
    std::vector<double> predicted;
    std::vector<int> realised;
    for (int k = 0; k < 400; ++k) {
        predicted.push_back(level(engine) / 20.0);
        realised.push_back(coin(engine) ? 1 : 0);
    }
    double pairs = 0.0;
    double right = 0.0;
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        for (std::size_t j = 0; j < predicted.size(); ++j) {
            if (!realised[i] || realised[j]) continue;
            pairs += 1.0;
            right += predicted[i] > predicted[j] ? 1.0 : predicted[i] == predicted[j] ? 0.5 : 0.0;
        }
    }
    CHECK(score(predicted, realised).auc == Approx(right / pairs).epsilon(1e-12));
}

TEST_CASE("Kupiec's test: 5 events in 100 windows predicted at 2%", "[backtest]") {
    const std::vector<double> predicted(100, 0.02);
    std::vector<int> realised(100, 0);
    for (int k : {3, 17, 40, 41, 90}) realised[static_cast<std::size_t>(k)] = 1;
    const ForecastScores s = score(predicted, realised);
    CHECK(s.kupiec.events == 5);
    CHECK(s.kupiec.expected_events == Approx(2.0));
    // -2 [5 ln(0.02 / 0.05) + 95 ln(0.98 / 0.95)], computed by hand: 3.25570, p = 0.07118.
    CHECK(s.kupiec.statistic == Approx(3.25570).margin(1e-4));
    CHECK(s.kupiec.p_value == Approx(0.07118).margin(1e-4));
    // A forecast of 0 contradicted by an event is rejected outright.
    const ForecastScores never = score({0.0, 0.0, 0.0}, {0, 1, 0});
    CHECK(std::isinf(never.kupiec.statistic));
    CHECK(never.kupiec.p_value == 0.0);
    // Exactly as often as predicted: no evidence against.
    CHECK(score({0.5, 0.5}, {1, 0}).kupiec.statistic == Approx(0.0).margin(1e-12));
}

TEST_CASE("Christoffersen's test counts the transitions and measures clustering", "[backtest]") {
    const ForecastScores s = score(std::vector<double>(10, 0.4), {0, 0, 1, 1, 0, 0, 1, 1, 0, 0});
    CHECK(s.christoffersen.transitions[0][0] == 3);
    CHECK(s.christoffersen.transitions[0][1] == 2);
    CHECK(s.christoffersen.transitions[1][0] == 2);
    CHECK(s.christoffersen.transitions[1][1] == 2);
    // -2 [4 ln(4/9) + 5 ln(5/9) - 2 ln(2/5) - 3 ln(3/5) - 4 ln(1/2)], by hand: 0.090014.
    CHECK(s.christoffersen.statistic == Approx(0.090014).margin(1e-5));

    // Events in runs of ten after calm runs of forty: independence is rejected.
    std::vector<int> runs;
    for (int block = 0; block < 10; ++block) {
        runs.insert(runs.end(), 40, 0);
        runs.insert(runs.end(), 10, 1);
    }
    CHECK(score(std::vector<double>(runs.size(), 0.2), runs).christoffersen.p_value < 1e-6);

    // Independent events: the statistic is a chi-square(1) draw, below its 99.9% quantile here.
    std::mt19937_64 engine(8);
    std::bernoulli_distribution coin(0.1);
    std::vector<int> independent;
    for (int k = 0; k < 20000; ++k) independent.push_back(coin(engine) ? 1 : 0);
    CHECK(score(std::vector<double>(independent.size(), 0.1), independent).christoffersen.statistic <
          10.83);
}

TEST_CASE("the reliability table bins the windows by prediction", "[backtest]") {
    const ForecastScores s =
        score({0.005, 0.004, 0.015, 0.5, 0.69, 1.0, 0.7}, {0, 1, 0, 1, 0, 1, 1});
    REQUIRE(s.reliability.size() == 4);
    CHECK(s.reliability[0].low == 0.0);
    CHECK(s.reliability[0].windows == 2);
    CHECK(s.reliability[0].mean_predicted == Approx(0.0045));
    CHECK(s.reliability[0].realised_rate == 0.5);
    CHECK(s.reliability[1].low == 0.01);
    CHECK(s.reliability[1].windows == 1);
    CHECK(s.reliability[2].low == 0.5);
    CHECK(s.reliability[2].windows == 2);
    CHECK(s.reliability[2].realised_rate == 0.5);
    CHECK(s.reliability[3].low == 0.7);  // the last bin holds 1.0
    CHECK(s.reliability[3].windows == 2);
    CHECK(s.reliability[3].realised_rate == 1.0);
}
