// The exact sum behind every order-independent statistic (src/numerics/exact_sum.hpp): against
// 128-bit integer arithmetic, in any order, split into parts and added back as an MPI sum of
// its words would, and at the ends of the double range.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "numerics/exact_sum.hpp"

namespace {

using marginsim::ExactSum;

double sum_of(const std::vector<double>& values) {
    ExactSum sum;
    for (const double x : values) sum.add(x);
    return sum.value();
}

// Whole numbers up to 2^52 in magnitude, scaled by 2^-10: exactly representable, and their sum
// is exactly a 128-bit integer, which the compiler converts to the nearest double.
struct ScaledIntegers {
    std::vector<double> values;
    double exact_sum_rounded = 0.0;
};
ScaledIntegers scaled_integers(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> whole(-(std::int64_t{1} << 52), std::int64_t{1} << 52);
    ScaledIntegers out;
    __extension__ __int128 sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t k = whole(rng);
        sum += k;
        out.values.push_back(std::ldexp(static_cast<double>(k), -10));
    }
    out.exact_sum_rounded = std::ldexp(static_cast<double>(sum), -10);
    return out;
}

}  // namespace

TEST_CASE("an exact sum is the correctly rounded sum of its terms in any order") {
    const ScaledIntegers data = scaled_integers(20000, 7);
    std::vector<double> values = data.values;
    const double expected = data.exact_sum_rounded;
    CHECK(sum_of(values) == expected);
    std::mt19937_64 rng(11);
    for (int shuffle = 0; shuffle < 5; ++shuffle) {
        std::shuffle(values.begin(), values.end(), rng);
        CHECK(sum_of(values) == expected);
    }
    std::sort(values.begin(), values.end());
    CHECK(sum_of(values) == expected);
}

TEST_CASE("an exact sum keeps what floating-point addition loses") {
    CHECK(sum_of({1e100, 1.0, -1e100}) == 1.0);
    CHECK(sum_of({1.0, 1e-30, -1.0}) == 1e-30);
    CHECK(sum_of({0.1, 0.2, -0.3}) == 2.0 * std::ldexp(1.0, -56));  // the binary 0.1 + 0.2 - 0.3, exactly
    const double tiny = std::numeric_limits<double>::denorm_min();
    CHECK(sum_of({tiny, tiny}) == 2.0 * tiny);
    CHECK(sum_of({std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(), tiny}) == tiny);
    CHECK(sum_of({}) == 0.0);
    CHECK(sum_of({-2.5, -0.5}) == -3.0);
}

TEST_CASE("an exact sum rounds halfway cases to even") {
    // 2^53 + 1 is halfway between 2^53 and 2^53 + 2: to even, 2^53; 2^53 + 3 rounds up to + 4.
    const double two53 = std::ldexp(1.0, 53);
    CHECK(sum_of({two53, 1.0}) == two53);
    CHECK(sum_of({two53, 3.0}) == two53 + 4.0);
    // Just above halfway (a far smaller term breaks the tie): up.
    CHECK(sum_of({two53, 1.0, std::ldexp(1.0, -200)}) == two53 + 2.0);
}

TEST_CASE("exact sums added as words modulo 2^64 give the sum of all their terms") {
    const ScaledIntegers data = scaled_integers(9000, 3);
    std::array<ExactSum, 3> parts;
    for (std::size_t i = 0; i < data.values.size(); ++i) parts[i % 3].add(data.values[i]);
    std::array<std::uint64_t, ExactSum::digit_count> words{};
    for (const ExactSum& part : parts) {
        const auto w = part.words();
        for (std::size_t k = 0; k < words.size(); ++k) words[k] += w[k];
    }
    CHECK(ExactSum::from_words(words).value() == data.exact_sum_rounded);
    ExactSum merged = parts[0];
    merged += parts[1];
    merged += parts[2];
    CHECK(merged.value() == data.exact_sum_rounded);
}

TEST_CASE("add_times adds a term a whole number of times exactly") {
    ExactSum repeated;
    for (int i = 0; i < 1000; ++i) repeated.add(0.1);
    ExactSum times;
    times.add_times(1000, 0.1);
    CHECK(times.value() == repeated.value());
    ExactSum negative;
    negative.add_times(3, -1.0 / 3.0);
    negative.add(1.0);
    CHECK(negative.value() == sum_of({-1.0 / 3.0, -1.0 / 3.0, -1.0 / 3.0, 1.0}));
}
