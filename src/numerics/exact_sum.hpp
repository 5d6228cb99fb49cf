#pragma once
// An exact sum of doubles (a fixed-point superaccumulator over the whole double range): the
// sum does not depend on the order of the terms, so that statistics added up by threads, by
// resumed blocks or by MPI ranks in any grouping give the same double, bit for bit.

#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace marginsim {

__extension__ using uint128_t = unsigned __int128;  // GCC and clang's 128-bit integer

class ExactSum {
public:
    // Digits of 32 bits from 2^-1074, the least subnormal, up past 2^1024 with 2^64 of headroom:
    // each digit is an int64 that takes 2^30 additions before a carry must be propagated.
    static constexpr int digit_bits = 32;
    static constexpr std::size_t digit_count = 68;  // 68 * 32 = 2176 > 1074 + 1024 + 64 bits

    // x finite.
    void add(double x) noexcept {
        assert(std::isfinite(x));
        const auto bits = std::bit_cast<std::uint64_t>(x);
        const auto biased = static_cast<int>((bits >> 52) & 0x7ff);
        std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
        if (biased != 0) mantissa |= std::uint64_t{1} << 52;
        if (mantissa == 0) return;
        // x = mantissa * 2^(position - 1074): the mantissa's lowest bit sits at bit `position`.
        const int position = biased == 0 ? 0 : biased - 1;
        const auto digit = static_cast<std::size_t>(position / digit_bits);
        const auto shifted = static_cast<uint128_t>(mantissa) << (position % digit_bits);
        const auto low = static_cast<std::int64_t>(static_cast<std::uint64_t>(shifted) & 0xffffffffu);
        const auto mid = static_cast<std::int64_t>(static_cast<std::uint64_t>(shifted >> 32) & 0xffffffffu);
        const auto high = static_cast<std::int64_t>(static_cast<std::uint64_t>(shifted >> 64));
        if ((bits >> 63) != 0) {
            digits_[digit] -= low;
            digits_[digit + 1] -= mid;
            digits_[digit + 2] -= high;
        } else {
            digits_[digit] += low;
            digits_[digit + 1] += mid;
            digits_[digit + 2] += high;
        }
        if (++pending_ == carry_every) normalize();
    }

    // count * x, exactly: count a whole number below 2^53 (the product's rounding error is
    // added too, by a fused multiply-add).
    void add_times(std::uint64_t count, double x) noexcept {
        assert(count < (std::uint64_t{1} << 53));
        const auto n = static_cast<double>(count);
        const double product = n * x;
        add(product);
        add(std::fma(n, x, -product));
    }

    ExactSum& operator+=(const ExactSum& other) noexcept {
        ExactSum rhs = other;
        rhs.normalize();
        normalize();
        for (std::size_t i = 0; i < digit_count; ++i) digits_[i] += rhs.digits_[i];
        normalize();
        return *this;
    }

    // The sum rounded to the nearest double (ties to even): a function of the exact sum alone.
    double value() const noexcept {
        ExactSum sum = *this;
        sum.normalize();
        const bool negative = sum.digits_.back() < 0;
        if (negative) sum.negate();
        std::size_t top = digit_count;
        while (top > 0 && sum.digits_[top - 1] == 0) --top;
        if (top == 0) return 0.0;
        // The 96 bits of the three highest digits, then everything below them as a sticky bit.
        uint128_t window = 0;
        int exponent = static_cast<int>(top) * digit_bits - 1074;  // of the window's top bit + 1
        for (std::size_t k = 0; k < 3; ++k) {
            window <<= digit_bits;
            if (top >= k + 1) window |= static_cast<std::uint64_t>(sum.digits_[top - 1 - k]);
        }
        bool sticky = false;
        for (std::size_t i = 0; i + 3 < top; ++i) sticky = sticky || sum.digits_[i] != 0;
        exponent -= 3 * digit_bits;  // window * 2^exponent is the value (up to sticky)
        const double magnitude = round_window(window, exponent, sticky);
        return negative ? -magnitude : magnitude;
    }

    // The normalized digits as words, for a sum over processes: adding the words of several
    // sums elementwise modulo 2^64 and reading the result with from_words gives their sum.
    std::array<std::uint64_t, digit_count> words() const noexcept {
        ExactSum sum = *this;
        sum.normalize();
        std::array<std::uint64_t, digit_count> out{};
        for (std::size_t i = 0; i < digit_count; ++i) out[i] = static_cast<std::uint64_t>(sum.digits_[i]);
        return out;
    }
    static ExactSum from_words(std::span<const std::uint64_t> words) noexcept {
        assert(words.size() == digit_count);
        ExactSum sum;
        for (std::size_t i = 0; i < digit_count; ++i) sum.digits_[i] = static_cast<std::int64_t>(words[i]);
        sum.normalize();
        return sum;
    }

private:
    static constexpr std::uint32_t carry_every = std::uint32_t{1} << 30;

    // Every digit but the highest into [0, 2^32), the carries moved up (the highest keeps the sign).
    void normalize() noexcept {
        for (std::size_t i = 0; i + 1 < digit_count; ++i) {
            const std::int64_t carry = digits_[i] >> digit_bits;  // floor division: arithmetic shift
            digits_[i] -= carry * (std::int64_t{1} << digit_bits);
            digits_[i + 1] += carry;
        }
        pending_ = 0;
    }
    // Of a normalized, negative sum: its magnitude, normalized.
    void negate() noexcept {
        for (std::int64_t& digit : digits_) digit = -digit;
        normalize();
    }
    // window * 2^exponent rounded to nearest even, `sticky` standing for nonzero bits below it.
    static double round_window(uint128_t window, int exponent, bool sticky) noexcept {
        const int width = 128 - leading_zeros(window);
        if (width > 53) {
            const int drop = width - 53;
            const uint128_t one = 1;
            const uint128_t rest = window & ((one << drop) - 1);
            const uint128_t half = one << (drop - 1);
            window >>= drop;
            exponent += drop;
            if (rest > half || (rest == half && (sticky || (window & 1) != 0))) ++window;
        }
        return std::ldexp(static_cast<double>(static_cast<std::uint64_t>(window)), exponent);
    }
    static int leading_zeros(uint128_t x) noexcept {
        const auto high = static_cast<std::uint64_t>(x >> 64);
        return high != 0 ? std::countl_zero(high) : 64 + std::countl_zero(static_cast<std::uint64_t>(x));
    }

    std::array<std::int64_t, digit_count> digits_{};
    std::uint32_t pending_ = 0;
};

}  // namespace marginsim
