#pragma once
// Seeding of the per-block random streams (private).

#include <cstdint>

namespace marginsim::detail {

// SplitMix64 finaliser: a bijective mix that spreads nearby inputs over all 64 bits.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace marginsim::detail
