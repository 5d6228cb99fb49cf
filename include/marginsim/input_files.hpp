#pragma once
// Where the library reads a scenario and the files it names (tier tables, residuals): the file
// system, unless an InputRecording or an InputReplay is alive. A program spread over MPI ranks
// (docs/distributed.md) loads on rank 0 under a recording, sends the recorded bytes to the other
// ranks, and they load the same scenario under a replay of them: one rank reads, every rank
// parses the same bytes.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim {

// What the loaders read: each file's path (as the loader opened it) -> its bytes, or nothing
// when it could not be read; and each directory they listed (a price history) -> the paths of
// its regular files. A replay finds a file where one was read and a directory where one was
// listed, nothing else: what a replay sees of the file system is what the recording rank saw.
struct InputFiles {
    std::map<std::string, std::optional<std::string>> files;
    std::map<std::string, std::vector<std::string>> listings;

    std::string bytes() const;
    // Parses bytes(); throws std::invalid_argument when they are not such bytes.
    static InputFiles from_bytes(std::string_view bytes);
};

// While alive, every input file read is also recorded in `files`. At most one recording or
// replay at a time (std::logic_error otherwise); thread-safe.
class InputRecording {
public:
    explicit InputRecording(InputFiles& files);
    ~InputRecording();
    InputRecording(const InputRecording&) = delete;
    InputRecording& operator=(const InputRecording&) = delete;
};

// While alive, input files are read from `files`, not the file system: a path not in it reads
// as a missing file.
class InputReplay {
public:
    explicit InputReplay(const InputFiles& files);
    ~InputReplay();
    InputReplay(const InputReplay&) = delete;
    InputReplay& operator=(const InputReplay&) = delete;
};

// Whether `path` is a directory as the loaders see it: on the file system, or in a replay where
// the recording listed it (so that every rank makes rank 0's choice between directories).
bool is_input_directory(const std::filesystem::path& path);

}  // namespace marginsim
