#pragma once
// Branch-free elementary functions for the hot loops (private): written so that the compiler
// vectorises the loops that call them, which it cannot do with scalar libm calls.

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

// The hot loops' kernels: not inlined (GCC 12 stops vectorising some of them once they are
// inlined into a larger caller), and on x86-64 with GCC compiled three times, for AVX-512,
// AVX2 and the baseline, the widest the CPU has picked when the library is loaded (function
// multiversioning). Contraction into FMA is off in every version: each computes the same
// IEEE operations in the same order, element by element, so results do not depend on the
// machine that ran them. Define MARGINSIM_NO_TARGET_CLONES to build the baseline only.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__) && \
    !defined(MARGINSIM_NO_TARGET_CLONES)
#define MARGINSIM_HOT_KERNEL \
    gnu::noinline, gnu::target_clones("avx512f", "avx2", "default"), gnu::optimize("fp-contract=off")
#elif defined(__GNUC__) && !defined(__clang__)
#define MARGINSIM_HOT_KERNEL gnu::noinline, gnu::optimize("fp-contract=off")
#else
#define MARGINSIM_HOT_KERNEL gnu::noinline
#endif

namespace marginsim::detail {

// exp_vectorizable's domain is [-exp_max_argument, exp_max_argument].
inline constexpr double exp_max_argument = 708.0;

// 2^(j/128) for j = 0..127 as an unevaluated sum hi + lo (lo: the rounding error of hi, from
// long double), so that the table adds no error of its own to exp_vectorizable.
struct Exp2Table {
    static constexpr int bits = 7;
    static constexpr int size = 1 << bits;
    std::array<double, size> hi{};
    std::array<double, size> lo{};

    Exp2Table() noexcept {
        for (int j = 0; j < size; ++j) {
            const long double exact = std::exp2(static_cast<long double>(j) / size);
            hi[j] = static_cast<double>(exact);
            lo[j] = static_cast<double>(exact - static_cast<long double>(hi[j]));
        }
    }
};
// Internal linkage: with -fPIC an inline variable is reached through the GOT, and GCC
// then does not vectorise the table look-up.
static const Exp2Table exp2_table;

// e^x to within 1 ulp of libm's for |x| <= exp_max_argument; garbage outside (the exponent
// field wraps), which callers rule out with exp_out_of_range_bits(). No clamp
// inside: GCC does not vectorise the branches it turns a clamp into.
// The method of glibc's exp: x = (128 n + j) ln2 / 128 + r with |r| <= ln2 / 256, so that
// e^x = 2^n 2^(j/128) e^r; e^r - 1 by a degree-5 Taylor polynomial (error below 2^-60 on
// that range), 2^(j/128) from the table, 2^n put in the exponent field.
inline double exp_vectorizable(double x) noexcept {
    constexpr double n_over_ln2 = Exp2Table::size / 0.6931471805599453;
    // ln2 / 128 in two parts: k * ln2_hi is exact for the |k| < 2^17 of the domain.
    constexpr double ln2_hi = 0.693147180369123816490 / Exp2Table::size;
    constexpr double ln2_lo = 1.90821492927058770002e-10 / Exp2Table::size;
    constexpr double round_shift = 0x1.8p52;  // adding it rounds to an integer in the low bits
    const double shifted = x * n_over_ln2 + round_shift;
    const double k = shifted - round_shift;
    const double r = (x - k * ln2_hi) - k * ln2_lo;
    const auto k_bits = std::bit_cast<std::uint64_t>(shifted);  // k + 2^51 in the low bits
    const std::size_t j = k_bits & (Exp2Table::size - 1);
    const std::uint64_t two_to_n = (k_bits >> Exp2Table::bits) << 52;  // floor(k / 128) << 52
    const double r2 = r * r;
    const double expm1_r = r + r2 * ((1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)));
    const double t = exp2_table.hi[j];
    const double y = t + (t * expm1_r + exp2_table.lo[j]);
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(y) + two_to_n);
}

// e^d for |d| <= small_exp_limit, within 1 ulp: the Taylor series to d^10 (its remainder is
// below 2^-56 there), in Estrin's form. A price moved by a short step, P e^d, costs this
// instead of a full exp of the log price, with no table to look up.
inline constexpr double small_exp_limit = 0.125;
inline double exp_small(double d) noexcept {
    const double d2 = d * d;
    const double d4 = d2 * d2;
    const double c23 = 1.0 / 2 + d * (1.0 / 6);
    const double c45 = 1.0 / 24 + d * (1.0 / 120);
    const double c67 = 1.0 / 720 + d * (1.0 / 5040);
    const double c89 = 1.0 / 40320 + d * (1.0 / 362880);
    const double series = (c23 + d2 * c45) + d4 * ((c67 + d2 * c89) + d4 * (1.0 / 3628800));
    return 1.0 + (d + d2 * series);
}

// Bit tests for "does any element of this loop ...": OR-ing 64-bit patterns is a reduction
// GCC vectorises at full width, where a floating-point count is added lane after lane and a
// bool-to-integer count is not vectorised at all. The answer is the top bit of the OR.
inline bool any_top_bit(std::uint64_t bits) noexcept { return (bits >> 63) != 0; }

// Top bit set when |x| > exp_max_argument (or x is NaN): the magnitude bits of a double order
// like the double, and adding the constant carries into bit 63 exactly past the limit's bits.
inline std::uint64_t exp_out_of_range_bits(double x) noexcept {
    constexpr std::uint64_t magnitude = 0x7fffffffffffffffULL;
    constexpr std::uint64_t past_limit = magnitude - std::bit_cast<std::uint64_t>(exp_max_argument);
    return (std::bit_cast<std::uint64_t>(x) & magnitude) + past_limit;
}

// Top bit set when |x| > limit or x is NaN, for a finite limit >= 0 (the test above).
inline std::uint64_t magnitude_above_bits(double x, double limit) noexcept {
    constexpr std::uint64_t magnitude = 0x7fffffffffffffffULL;
    return (std::bit_cast<std::uint64_t>(x) & magnitude) + (magnitude - std::bit_cast<std::uint64_t>(limit));
}

// Top bit set when a - b <= 0, i.e. a <= b for finite a, b (with gradual underflow a - b is
// 0 only when a == b, and otherwise has the sign of the exact difference): the sign bit for
// negative differences and -0, and 0 - 1 wrapping into it for +0.
inline std::uint64_t at_most_bits(double a, double b) noexcept {
    const auto d = std::bit_cast<std::uint64_t>(a - b);
    return d | (d - 1);
}

// Top bit set when x is finite (clear for infinities and NaN).
inline std::uint64_t finite_bits(double x) noexcept {
    return ~magnitude_above_bits(x, std::numeric_limits<double>::max());
}

// x when gate is finite, +0 when it is infinite or NaN: x's bits under a mask of all ones or
// zeros, which GCC vectorises (a ternary on doubles it compiles to a branch).
inline double keep_if_finite(double gate, double x) noexcept {
    const std::uint64_t mask = std::uint64_t{0} - (finite_bits(gate) >> 63);
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) & mask);
}

// masks[w] bit b: the top bit of bits[64 w + b], for `words` words: the elements a bit test
// flagged, found without a branch per element (see visit_top_bits). Static: each
// translation unit has its own clones.
[[maybe_unused]] [[MARGINSIM_HOT_KERNEL]] static void top_bit_masks(const std::uint64_t* __restrict bits, std::uint64_t* __restrict masks,
                                                   std::size_t words) {
    for (std::size_t w = 0; w < words; ++w) {
        std::uint64_t mask = 0;
        for (std::size_t b = 0; b < 64; ++b) mask |= (bits[w * 64 + b] >> 63) << b;
        masks[w] = mask;
    }
}

// visit(k) for each k < count whose bits[k] has its top bit set, in increasing k. bits must
// hold whole words of 64 up to count (entries from count on are read and ignored), at most
// MaxCount of them.
template <std::size_t MaxCount, class Visit>
void visit_top_bits(const std::uint64_t* bits, std::size_t count, Visit&& visit) {
    std::array<std::uint64_t, (MaxCount + 63) / 64> masks;
    const std::size_t words = (count + 63) / 64;
    top_bit_masks(bits, masks.data(), words);
    for (std::size_t w = 0; w < words; ++w) {
        for (std::uint64_t mask = masks[w]; mask != 0; mask &= mask - 1) {
            const std::size_t k = w * 64 + static_cast<std::size_t>(std::countr_zero(mask));
            if (k >= count) return;
            visit(k);
        }
    }
}

// y[k] = e^x[k], vectorised; libm for the rare array that leaves the fast domain.
inline void exp_array(const double* x, double* y, std::size_t n) noexcept {
    std::uint64_t outside = 0;
    for (std::size_t k = 0; k < n; ++k) {
        y[k] = exp_vectorizable(x[k]);
        outside |= exp_out_of_range_bits(x[k]);
    }
    if (any_top_bit(outside))
        for (std::size_t k = 0; k < n; ++k) y[k] = std::exp(x[k]);
}

// x[k] += step(k) for the n paths (step is called once per k, in order), and the prices follow:
// when `compound` (the model's steps are short) p *= e^d by the series of exp_small, unless
// some |d| is past the series' range; otherwise the prices are taken afresh, p = e^x.
// Compounding rounds once more per step than e^x (a relative error that grows like the square
// root of the step count: ~1e-14 after 2016 steps), for half the cost. Inlined into each
// model's kernel, where step is its innovation.
template <class Step>
[[gnu::always_inline]] inline void move_log_prices(double* __restrict x, double* __restrict p, std::size_t n,
                                                   bool compound, const Step& step) {
    if (compound) {
        std::uint64_t long_steps = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double d = step(k);
            x[k] = x[k] + d;
            p[k] = p[k] * exp_small(d);
            long_steps |= magnitude_above_bits(d, small_exp_limit);
        }
        if (!any_top_bit(long_steps)) return;
    } else {
        for (std::size_t k = 0; k < n; ++k) x[k] = x[k] + step(k);
    }
    exp_array(x, p, n);
}

}  // namespace marginsim::detail
