#pragma once
// Random-number generation of the hot loop (private): seeding of the per-block streams and
// the xoshiro256++ generator.

#include <boost/random/exponential_distribution.hpp>
#include <boost/random/normal_distribution.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <algorithm>

namespace marginsim::detail {

// SplitMix64 finaliser: a bijective mix that spreads nearby inputs over all 64 bits.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// xoshiro256++ (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
// ACM TOMS 2021): period 2^256 - 1, every output bit passes BigCrush and PractRand, and it is
// several times faster than the 64-bit Mersenne Twister. A UniformRandomBitGenerator.
class Xoshiro256pp {
public:
    using result_type = std::uint64_t;
    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    // The state is filled by SplitMix64 from the seed, as the authors recommend: it is never
    // all zero, and distinct seeds start at unrelated points of the period.
    explicit Xoshiro256pp(std::uint64_t seed) noexcept {
        std::uint64_t x = seed;
        for (std::uint64_t& word : s_) {
            word = mix64(x);
            x += 0x9e3779b97f4a7c15ULL;
        }
    }

    result_type operator()() noexcept {
        const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

private:
    std::array<std::uint64_t, 4> s_{};
};

// A uniform double in [0, 1) from the top 53 bits of a 64-bit draw.
inline double uniform01(std::uint64_t bits) noexcept {
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// Standard normals by the ziggurat of Marsaglia and Tsang, on Boost.Random's 128-layer tables
// (boost/random/normal_distribution.hpp). One 64-bit draw makes a candidate: bits 0-6 pick the
// layer, bit 7 the sign, the top 53 bits the abscissa. About 99% of candidates fall inside
// their layer's rectangle and are accepted at once; the rest finish with the wedge or tail
// test of the exact algorithm (a new uniform, an exp), so the output is exactly normal.
class ZigguratNormal {
public:
    // One normal.
    template <class Engine>
    static double draw(Engine& engine) {
        for (;;) {
            const std::uint64_t u = engine();
            const double x = candidate(u);
            if (std::abs(x) < x_[layer(u) + 1]) return x;
            if (const auto accepted = finish(engine, u, x)) return *accepted;
        }
    }

    // n normals: a branch-free pass over fresh candidates, then the rare rejected ones
    // finished in order. Consumes the engine in a fixed order: reproducible.
    template <class Engine>
    static void fill(Engine& engine, double* out, std::size_t n) {
        constexpr std::size_t batch = 256;
        std::array<std::uint16_t, batch> pending;
        std::array<std::uint64_t, batch> pending_bits;
        for (std::size_t start = 0; start < n; start += batch) {
            const std::size_t count = std::min(batch, n - start);
            double* o = out + start;
            std::size_t rejected = 0;
            for (std::size_t k = 0; k < count; ++k) {
                const std::uint64_t u = engine();
                const double x = candidate(u);
                o[k] = x;
                pending[rejected] = static_cast<std::uint16_t>(k);
                pending_bits[rejected] = u;
                rejected += std::abs(x) >= x_[layer(u) + 1] ? 1 : 0;
            }
            for (std::size_t r = 0; r < rejected; ++r) {
                const std::uint64_t u = pending_bits[r];
                const auto accepted = finish(engine, u, o[pending[r]]);
                o[pending[r]] = accepted ? *accepted : draw(engine);
            }
        }
    }

private:
    static constexpr const double* x_ = boost::random::detail::normal_table<double>::table_x;
    static constexpr const double* y_ = boost::random::detail::normal_table<double>::table_y;

    static std::size_t layer(std::uint64_t u) noexcept { return u & 0x7f; }
    static double candidate(std::uint64_t u) noexcept {
        // The sign bit set from bit 7 without a branch: it is a fair coin, so unpredictable.
        const double x = uniform01(u) * x_[layer(u)];
        return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) ^ ((u & 0x80) << 56));
    }

    // The exact test of a candidate outside its layer's rectangle: the tail beyond x_[1] for
    // the base layer, else a point under the layer's wedge. Empty: rejected, start again.
    template <class Engine>
    static std::optional<double> finish(Engine& engine, std::uint64_t u, double signed_x) {
        const std::size_t i = layer(u);
        const double sign = (u & 0x80) != 0 ? -1.0 : 1.0;
        const double x = std::abs(signed_x);
        if (i == 0) return sign * tail(engine);
        const double y = y_[i] + uniform01(engine()) * (y_[i + 1] - y_[i]);
        if (y < std::exp(-0.5 * x * x)) return signed_x;
        return std::nullopt;
    }

    // Marsaglia's tail method, as Boost does it: x = r + E1 / r, accepted when 2 E2 > (x - r)^2.
    template <class Engine>
    static double tail(Engine& engine) {
        const double r = x_[1];
        boost::random::exponential_distribution<double> exp_x(r);
        boost::random::exponential_distribution<double> exp_y;
        for (;;) {
            const double x = exp_x(engine);
            const double y = exp_y(engine);
            if (2.0 * y > x * x) return x + r;
        }
    }
};

}  // namespace marginsim::detail
