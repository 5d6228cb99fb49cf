#pragma once
// Output files written as a plain shell `>` would, never destroying what a path names:
//   - a regular file (or a new one) is replaced atomically: a temporary in the same directory,
//     fsync, rename, so the file is either absent, the old one or complete;
//   - a symbolic link is followed to its final target, which is written; the link stays;
//   - a character device (/dev/null, a terminal) is written in place, every write checked;
//   - a FIFO is written in place when a reader has it open; with no reader it is refused
//     rather than waited on forever;
//   - a directory, a socket or a block device is refused.

#include <filesystem>
#include <optional>
#include <string>

namespace marginsim {

// Writes `content` to `path` by the rules above. Throws std::runtime_error naming the path;
// the temporary file is removed on every failure.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// Why `path` cannot be written by write_file_atomically (missing or unwritable directory, a
// directory or another refused type, a name too long, a read-only file), or nothing when it
// can. Checks only, creates nothing: call it before a long computation.
std::optional<std::string> output_problem(const std::filesystem::path& path);

// The path with every symbolic link followed (as far as the links exist), made absolute and
// normal: two paths naming the same file, existing or not, resolve to the same value.
std::filesystem::path resolve_output_path(const std::filesystem::path& path);

// True when `a` and `b` name the same file: the same inode for existing files, else the same
// resolved path.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace marginsim
