// libFuzzer target: the checkpoint reader (parse_checkpoint), which `run --resume` trusts to
// restore completed blocks. Each input is parsed twice: as it is, and with its last 8 bytes
// replaced by the checksum of the rest, so that mutations reach the reader behind the checksum.
// Every input must be read or refused with an InputError; a checkpoint that is read must hold
// what a resume relies on: one funding row per completed block, the blocks ascending, a loss
// and a drawdown per counted path in each mode. Anything else aborts and is a finding.
// Build and run: see tests/fuzz/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "marginsim/checkpoint.hpp"
#include "marginsim/error.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "accepted checkpoint breaks a promise: %s\n", what);
    std::abort();
}

void parse(std::string_view bytes) {
    try {
        const marginsim::RunCheckpoint c = marginsim::parse_checkpoint(bytes, "fuzz.checkpoint");
        if (c.funding.size() != c.blocks.size()) finding("funding rows differ from the blocks");
        for (std::size_t i = 1; i < c.blocks.size(); ++i) {
            if (!(c.blocks[i - 1] < c.blocks[i])) finding("blocks not strictly ascending");
        }
        for (std::size_t m = 0; m < c.loss.size(); ++m) {
            if (c.loss[m].size() != c.paths_done() || c.drawdown[m].size() != c.paths_done())
                finding("samples differ from the paths counted");
        }
    } catch (const marginsim::InputError&) {
        // Refused with a message naming the file: what a damaged checkpoint should get.
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    parse(bytes);
    constexpr std::size_t hash_size = sizeof(std::uint64_t);
    if (size < hash_size) return 0;
    std::string rehashed(bytes);
    const std::uint64_t hash = marginsim::fnv1a_hash(bytes.substr(0, size - hash_size));
    std::memcpy(rehashed.data() + size - hash_size, &hash, hash_size);
    parse(rehashed);
    return 0;
}
