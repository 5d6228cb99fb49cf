// The random streams of the market model (market_model.hpp): a vectorised ziggurat for the
// normals, Marsaglia-Tsang for the chi-squares, uniforms from the stream's scalar generator.
#include "engine/market_model.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>

#include "engine/rng.hpp"
#include "numerics/vector_math.hpp"

namespace marginsim {

// The ziggurat (rng.hpp) on eight xoshiro256++ lanes stepped as one SIMD generator: the
// candidates of a batch come out of one vectorised pass, the 0.75% outside their layer's
// rectangle are finished one by one with a ninth generator (new uniforms, the tail, restarts).
struct RandomStream::Impl {
    detail::XoshiroLanes lanes;
    detail::Xoshiro256pp slow;

    explicit Impl(const detail::Xoshiro256pp& base) : lanes(base), slow(jumped(base, detail::XoshiroLanes::lanes)) {}

    static detail::Xoshiro256pp jumped(detail::Xoshiro256pp g, std::size_t times) {
        for (std::size_t k = 0; k < times; ++k) g.jump();
        return g;
    }
};

namespace {

// For a fixed run seed, a bijection of the stream index: distinct streams of a run never
// share a seed word, and xoshiro's SplitMix64 seeding spreads them over its period.
std::uint64_t seed_word(std::uint64_t seed, std::uint64_t stream_index) {
    const std::uint64_t a = detail::mix64(seed);
    return detail::mix64(a ^ detail::mix64(stream_index + 0x6a09e667f3bcc909ULL));
}

constexpr std::size_t lane_count = detail::XoshiroLanes::lanes;
constexpr std::size_t batch_rounds = 32;  // 256 candidates a batch: the scratch stays in L1
constexpr std::size_t batch = batch_rounds * lane_count;

// `rounds` rounds of ziggurat candidates, one per lane a round: out[k] the signed abscissa,
// bits[k] the draw (layer in bits 0-8, sign in bit 9, a 52-bit uniform in bits 12-63),
// reject[k] with its top bit set when the candidate falls outside its layer's rectangle.
[[MARGINSIM_HOT_KERNEL]] void ziggurat_candidates(detail::XoshiroLanes& g, double* __restrict out,
                                                  std::uint64_t* __restrict bits,
                                                  std::uint64_t* __restrict reject, std::size_t rounds) {
    std::array<std::uint64_t, lane_count> s0 = g.s[0], s1 = g.s[1], s2 = g.s[2], s3 = g.s[3];
    const double* x_of_layer = detail::ziggurat_tables.x.data();
    for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t l = 0; l < lane_count; ++l) {
            const std::uint64_t u = detail::rotl(s0[l] + s3[l], 23) + s0[l];
            const std::uint64_t t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = detail::rotl(s3[l], 45);
            const std::size_t layer = detail::ZigguratNormal::layer(u);
            // The top 52 bits as the mantissa of a double in [1, 2): a uniform without an
            // integer-to-double conversion (which SIMD lacks before AVX-512DQ).
            const double uniform = std::bit_cast<double>((u >> 12) | 0x3ff0000000000000ULL) - 1.0;
            const double x = uniform * x_of_layer[layer];
            const std::size_t k = r * lane_count + l;
            out[k] = detail::ZigguratNormal::with_sign(x, u);
            bits[k] = u;
            reject[k] = detail::at_most_bits(x_of_layer[layer + 1], x);
        }
    }
    g.s = {s0, s1, s2, s3};
}

}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::uint64_t stream_index)
    : impl_(std::make_unique<Impl>(detail::Xoshiro256pp(seed_word(seed, stream_index)))) {}
RandomStream::~RandomStream() = default;
RandomStream::RandomStream(RandomStream&&) noexcept = default;
RandomStream& RandomStream::operator=(RandomStream&&) noexcept = default;

void RandomStream::fill_normals(std::span<double> out) {
    std::array<double, batch> spare;  // the last, partial batch (its extra candidates unused)
    std::array<std::uint64_t, batch> bits;
    std::array<std::uint64_t, batch> reject{};  // zeros past a partial batch's candidates
    for (std::size_t done = 0; done < out.size();) {
        const std::size_t count = std::min(batch, out.size() - done);
        const std::size_t rounds = (count + lane_count - 1) / lane_count;
        double* z = rounds * lane_count == count ? out.data() + done : spare.data();
        ziggurat_candidates(impl_->lanes, z, bits.data(), reject.data(), rounds);
        // The rejected candidates in order: the same draws, in the same order, as a scan of
        // every candidate.
        detail::visit_top_bits<batch>(reject.data(), count, [&](std::size_t l) {
            const auto accepted = detail::ZigguratNormal::finish(impl_->slow, bits[l], z[l]);
            z[l] = accepted ? *accepted : detail::ZigguratNormal::draw(impl_->slow);
        });
        if (z == spare.data()) std::copy_n(spare.data(), count, out.data() + done);
        done += count;
    }
}

void RandomStream::fill_chi_square(double dof, std::span<double> out) {
    // chi2(dof) = 2 Gamma(dof / 2), the gamma by Marsaglia and Tsang ("A Simple Method for
    // Generating Gamma Variables", ACM TOMS 26(3), 2000) on the stream's own normals: about
    // 1.03 normals per draw against Boost's tangent rejection, several times faster. Valid
    // for shape >= 1, i.e. dof >= 2 (the scenario requires dof > 2).
    assert(dof >= 2.0);
    const double d = 0.5 * dof - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (double& w : out) {
        for (;;) {
            const double z = detail::ZigguratNormal::draw(impl_->slow);
            double v = 1.0 + c * z;
            if (v <= 0.0) continue;
            v = v * v * v;
            const double u = detail::uniform01(impl_->slow());
            const double z2 = z * z;
            // The squeeze accepts ~98% without a log; the exact test decides the rest.
            if (u < 1.0 - 0.0331 * z2 * z2 || std::log(u) < 0.5 * z2 + d * (1.0 - v + std::log(v))) {
                w = 2.0 * d * v;
                break;
            }
        }
    }
}

void RandomStream::fill_uniforms(std::span<double> out) {
    for (double& u : out) u = detail::uniform01(impl_->slow());
}

double RandomStream::uniform() { return detail::uniform01(impl_->slow()); }

double RandomStream::normal() { return detail::ZigguratNormal::draw(impl_->slow); }

}  // namespace marginsim
