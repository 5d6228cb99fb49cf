#pragma once
// Random-number generation of the hot loop (private): seeding of the per-block streams and
// the xoshiro256++ generator.

#include <boost/random/exponential_distribution.hpp>

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

    // A given state (not all zero), e.g. the reference implementation's test vectors.
    explicit Xoshiro256pp(const std::array<std::uint64_t, 4>& state) noexcept : s_(state) {}
    const std::array<std::uint64_t, 4>& state() const noexcept { return s_; }

    // Advances the state by 2^128 steps (the authors' jump polynomial): 2^128 generators
    // jumped from one start draw non-overlapping subsequences of 2^128 numbers each.
    void jump() noexcept {
        constexpr std::array<std::uint64_t, 4> polynomial{0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                                          0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
        std::array<std::uint64_t, 4> jumped{};
        for (const std::uint64_t word : polynomial) {
            for (int b = 0; b < 64; ++b) {
                if ((word >> b) & 1) {
                    for (std::size_t i = 0; i < 4; ++i) jumped[i] ^= s_[i];
                }
                (*this)();
            }
        }
        s_ = jumped;
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

// The 512 layers of the normal ziggurat (Marsaglia and Tsang, "The Ziggurat Method for
// Generating Random Variables", J. Stat. Softw. 5(8), 2000), for f(x) = exp(-x^2 / 2): every
// layer, and the base strip with the tail beyond r, has area v. x[0] = v / f(r) is the base
// strip's width, x[1] = r, x[i + 1] = f^-1(f(x[i]) + v / x[i]), x[512] = 0; y[i] = f(x[i])
// (y[0] unused, y[512] = 1). r solves x[511] (1 - f(x[511])) = v (bisection, as the paper's
// r = 3.6541528853610088 for 256 layers and Boost's 3.4426198558966521 for 128, which the
// same solver reproduces); the tables are computed in long double at start-up. 512 layers
// leave 0.75% of candidates outside their rectangle (256: 1.5%, Boost's 128: 2.8%).
struct ZigguratTables {
    static constexpr std::size_t layers = 512;
    static constexpr double r = 3.852046150368391;
    std::array<double, layers + 1> x{};
    std::array<double, layers + 1> y{};

    ZigguratTables() noexcept {
        using real = long double;
        const auto f = [](real t) { return std::exp(-t * t / 2); };
        const real rr = r;
        const real v = rr * f(rr) + std::sqrt(std::acos(real(-1)) / 2) * std::erfc(rr / std::sqrt(real(2)));
        real xi = rr;
        x[0] = static_cast<double>(v / f(rr));
        x[1] = r;
        for (std::size_t i = 1; i + 1 < layers; ++i) {
            xi = std::sqrt(-2 * std::log(f(xi) + v / xi));
            x[i + 1] = static_cast<double>(xi);
        }
        x[layers] = 0.0;
        for (std::size_t i = 1; i <= layers; ++i) y[i] = static_cast<double>(f(x[i]));
    }
};
// Internal linkage (see vector_math.hpp: with -fPIC, GCC does not vectorise loads through
// an interposable inline variable).
static const ZigguratTables ziggurat_tables;

// Standard normals by the ziggurat on those tables. One 64-bit draw makes a candidate: bits
// 0-8 pick the layer, bit 9 the sign, the top bits the abscissa. About 99.25% of candidates
// fall inside their layer's rectangle and are accepted at once; the rest finish with the
// wedge or tail test of the exact algorithm (new uniforms, rarely an exp), so the output is
// exactly normal.
class ZigguratNormal {
public:
    // One normal.
    template <class Engine>
    static double draw(Engine& engine) {
        for (;;) {
            const std::uint64_t u = engine();
            const double x = candidate(u);
            if (std::abs(x) < ziggurat_tables.x[layer(u) + 1]) return x;
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
                rejected += std::abs(x) >= ziggurat_tables.x[layer(u) + 1] ? 1 : 0;
            }
            for (std::size_t r = 0; r < rejected; ++r) {
                const std::uint64_t u = pending_bits[r];
                const auto accepted = finish(engine, u, o[pending[r]]);
                o[pending[r]] = accepted ? *accepted : draw(engine);
            }
        }
    }

    static constexpr std::uint64_t sign_bit = 0x200;
    static std::size_t layer(std::uint64_t u) noexcept { return u & 0x1ff; }
    // The sign bit of a double set from the draw's sign bit, without a branch (a fair coin
    // is unpredictable).
    static double with_sign(double x, std::uint64_t u) noexcept {
        return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) ^ ((u & sign_bit) << 54));
    }
    static double candidate(std::uint64_t u) noexcept {
        return with_sign(uniform01(u) * ziggurat_tables.x[layer(u)], u);
    }

    // The exact test of a candidate outside its layer's rectangle (drawn from bits u, of
    // abscissa signed_x): the tail beyond r for the base strip, else a point under the
    // layer's wedge, with new draws from `engine`. Empty: rejected, start again.
    template <class Engine>
    static std::optional<double> finish(Engine& engine, std::uint64_t u, double signed_x) {
        const auto& t = ziggurat_tables;
        const std::size_t i = layer(u);
        if (i == 0) return with_sign(tail(engine), u);
        const double x = std::abs(signed_x);
        const double y01 = uniform01(engine());
        const double y = t.y[i] + y01 * (t.y[i + 1] - t.y[i]);
        // Bounds as in Boost.Random, so that exp is rarely needed: where f is convex (x >= 1)
        // it lies below the chord of the layer and above its tangent at (x[i], y[i]); where
        // concave, the other way round; the layer holding the inflection point takes exp.
        const double above_chord = (t.x[i] - t.x[i + 1]) * y01 - (t.x[i] - x);
        const double above_tangent = y - (t.y[i] + (t.x[i] - x) * t.y[i] * t.x[i]);
        const bool convex = t.x[i + 1] >= 1.0;
        const bool concave = t.x[i] <= 1.0;
        if (convex && above_chord >= 0.0) return std::nullopt;
        if (concave && above_tangent >= 0.0) return std::nullopt;
        if (convex && above_tangent < 0.0) return signed_x;
        if (concave && above_chord < 0.0) return signed_x;
        if (y < std::exp(-0.5 * x * x)) return signed_x;
        return std::nullopt;
    }

private:
    // Marsaglia's tail method, as Boost does it: x = r + E1 / r, accepted when 2 E2 > (x - r)^2.
    template <class Engine>
    static double tail(Engine& engine) {
        const double r = ZigguratTables::r;
        boost::random::exponential_distribution<double> exp_x(r);
        boost::random::exponential_distribution<double> exp_y;
        for (;;) {
            const double x = exp_x(engine);
            const double y = exp_y(engine);
            if (2.0 * y > x * x) return x + r;
        }
    }
};

// Eight xoshiro256++ generators stepped together, the state stored lane-major
// ([word][lane]) so that a loop over the lanes is a SIMD operation of any width. Lane l is
// the base generator jumped l times: the lanes draw non-overlapping subsequences.
struct XoshiroLanes {
    static constexpr std::size_t lanes = 8;
    std::array<std::array<std::uint64_t, lanes>, 4> s{};

    explicit XoshiroLanes(Xoshiro256pp base) noexcept {
        for (std::size_t l = 0; l < lanes; ++l) {
            for (std::size_t w = 0; w < 4; ++w) s[w][l] = base.state()[w];
            base.jump();
        }
    }
};

}  // namespace marginsim::detail
