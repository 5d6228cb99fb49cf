#pragma once
// batch.manifest, the batch's record of the reports it wrote in its output directory: per
// scenario NAME, what its reports were made from (the scenario file, its content as loaded
// with the tier tables it refers to, paths and seed) and a hash of each report as written.
// A rerun skips a scenario only when all of it still holds, so that a changed tier table, a
// moved scenario or a report edited or replaced by hand runs the scenario again.
//
// Format (JSON, version 1):
//   {"format": "marginsim batch manifest", "version": 1,
//    "reports": {"NAME": {"scenario": "path as given", "file_hash": "hex", "content_hash": "hex",
//                         "paths": N, "seed": N, "csv": "hex", "html": "hex", "json": "hex"}}}
// With --precision, content_hash is that of the scenario's content hash and the target, and
// paths the maximum. Hashes are 64-bit FNV-1a (marginsim/checkpoint.hpp) in 16 hex digits. The name cannot be
// that of a scenario's report, whose extensions are .json, .csv, .html and .checkpoint.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace marginsim::detail {

inline constexpr const char* batch_manifest_name = "batch.manifest";

// What a scenario's reports were made from.
struct BatchInputs {
    std::string scenario;  // the path as given
    std::uint64_t file_hash = 0;
    std::uint64_t content_hash = 0;
    std::uint64_t paths = 0;
    std::uint64_t seed = 0;

    bool operator==(const BatchInputs&) const = default;
};

struct BatchRecord {
    BatchInputs inputs;
    std::array<std::uint64_t, 3> report_hashes{};  // of NAME.csv, NAME.html, NAME.json
};

struct BatchManifest {
    std::map<std::string, BatchRecord> records;  // by output name

    // The manifest of `dir`; empty when there is none or it cannot be read as one (its
    // scenarios then run again), never an error.
    static BatchManifest read(const std::filesystem::path& dir);
    // Written atomically (temporary file + rename).
    void write(const std::filesystem::path& dir) const;
};

}  // namespace marginsim::detail
