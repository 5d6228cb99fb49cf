#pragma once
// The completed blocks of a stopped run, kept so that the run can be resumed: their merged
// counts, their funding sums (per block, to be added in block order) and their per-path
// samples. A resumed run restores them and runs only the other blocks, so that its report is
// bit for bit the report of an uninterrupted run.
//
// File format (binary, this machine's byte order; version 4):
//   "MSIMCKPT" | u32 version | u32 byte-order mark 0x01020304 | key (u64 x 7, f64 precision,
//   u8 precision_relative) | f64 elapsed_s |
//   u64 completed blocks, per block: u64 index, f64 funding per mode |
//   counts: u64 paths, cross_loss_exceeds_isolated, contagion, overflowed_paths; per mode: u64 liquidated_paths,
//   contagion, u64 n + n u64 liquidations_by_step, u64 n + n u64 position_liquidations |
//   u64 n + n u64 weighted counts (CheckpointCounts::weighted) |
//   per mode: f64 loss per path, f32 drawdown per path (completed blocks in block order) |
//   u64 n + n f64 weight per path (importance-sampled runs; else n = 0) |
//   u64 FNV-1a hash of everything before it.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim {

// 2: the key holds the content hash of the scenario as loaded. 3: and the precision target.
// 4: and the weights of importance-sampled runs.
inline constexpr std::uint32_t checkpoint_version = 4;

// What a checkpoint belongs to: a resume with any other value is refused.
struct CheckpointKey {
    std::uint64_t scenario_hash = 0;  // file_hash of the scenario file
    std::uint64_t content_hash = 0;   // scenario_content_hash: the tier tables it refers to included
    std::uint64_t seed = 0;
    std::uint64_t paths = 0;
    std::uint64_t block_size = 0;
    std::uint64_t steps = 0;
    std::uint64_t positions = 0;
    // The run's --precision target (0: none); a precision run's checkpoint holds a prefix of
    // blocks on none of which the target was met.
    double precision = 0.0;
    std::uint8_t precision_relative = 0;

    bool operator==(const CheckpointKey&) const = default;
};

// The merged counts of the completed blocks of one mode (the engine's own statistics hold the
// same numbers; this is their part that a checkpoint keeps, as the file holds it).
struct CheckpointModeCounts {
    std::uint64_t liquidated_paths = 0;
    std::uint64_t contagion = 0;  // paths where a position that survives in isolated is liquidated
    std::vector<std::uint64_t> liquidations_by_step;   // [k] = paths first liquidated at step k
    std::vector<std::uint64_t> position_liquidations;  // per position
};
struct CheckpointCounts {
    std::uint64_t paths = 0;
    std::uint64_t cross_loss_exceeds_isolated = 0;
    std::uint64_t contagion = 0;
    std::uint64_t overflowed_paths = 0;
    std::array<CheckpointModeCounts, mode_count> modes;
    // Importance-sampled runs: the weighted counts, as the engine lays them out (empty otherwise).
    std::vector<std::uint64_t> weighted;
};

struct RunCheckpoint {
    CheckpointKey key;
    double elapsed_s = 0.0;  // run time of the sessions so far
    std::vector<std::uint64_t> blocks;                    // completed, ascending
    std::vector<std::array<double, mode_count>> funding;  // per completed block
    CheckpointCounts counts;  // merged counts of the completed blocks (no samples, no funding)
    // Per path of the completed blocks, in block order.
    std::array<std::vector<double>, mode_count> loss;
    std::array<std::vector<float>, mode_count> drawdown;
    std::vector<double> weight;  // importance-sampled runs: each path's likelihood ratio

    std::uint64_t paths_done() const noexcept { return counts.paths; }
};

// 64-bit FNV-1a of bytes, and of a file's content (throws std::runtime_error if unreadable).
std::uint64_t fnv1a_hash(std::string_view bytes) noexcept;
std::uint64_t file_hash(const std::filesystem::path& path);
// A hash of what a run of the scenario depends on, as loaded: the model, account, assets with
// their tier tables (read from the files they name), correlation and positions. Not the
// source name, the paths, seed or threads (a key holds paths and seed on their own).
std::uint64_t scenario_content_hash(const Scenario& scenario);

std::string checkpoint_bytes(const RunCheckpoint& checkpoint);
// Parses checkpoint_bytes' output; throws InputError naming `source` when it is not one
// (truncated, corrupted, another version or byte order).
RunCheckpoint parse_checkpoint(std::string_view bytes, const std::string& source);

// Written atomically (temporary file + rename).
void write_checkpoint(const std::filesystem::path& path, const RunCheckpoint& checkpoint);
// Reads the checkpoint at `path` and checks that it belongs to `expected`: throws InputError
// naming the file and the first value that differs (a changed scenario file, another seed or
// path count) so that a resume never mixes two runs.
RunCheckpoint read_checkpoint(const std::filesystem::path& path, const CheckpointKey& expected);

}  // namespace marginsim
