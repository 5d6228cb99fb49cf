#include "marginsim/input_files.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "numerics/packed_parts.hpp"
#include "scenario/toml_reader.hpp"

namespace marginsim {
namespace {

// The recording or replay alive, if any (one at a time).
struct Inputs {
    std::mutex lock;
    InputFiles* recording = nullptr;
    const InputFiles* replay = nullptr;
};
Inputs& inputs() {
    static Inputs state;
    return state;
}

std::optional<std::string> read_from_disk(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return std::nullopt;
    return text;
}

}  // namespace

// Three parts for each file or listing: "f", its path and "1" with its text (or "0" when it
// could not be read); "d", its path and its files' paths packed.
std::string InputFiles::bytes() const {
    std::vector<std::string> parts;
    for (const auto& [path, text] : files) {
        parts.insert(parts.end(), {"f", path, text ? "1" + *text : "0"});
    }
    for (const auto& [dir, listed] : listings) parts.insert(parts.end(), {"d", dir, detail::pack_parts(listed)});
    return detail::pack_parts(parts);
}

InputFiles InputFiles::from_bytes(std::string_view bytes) {
    const std::vector<std::string> parts = detail::unpack_parts(bytes);
    if (parts.size() % 3 != 0) throw std::invalid_argument("input files: an entry cut short");
    InputFiles out;
    for (std::size_t k = 0; k < parts.size(); k += 3) {
        const std::string& kind = parts[k];
        const std::string& payload = parts[k + 2];
        if (kind == "d") {
            out.listings.emplace(parts[k + 1], detail::unpack_parts(payload));
            continue;
        }
        if (kind != "f" || payload.empty() || (payload[0] != '0' && payload[0] != '1'))
            throw std::invalid_argument("input files: an entry of an unknown kind");
        out.files.emplace(parts[k + 1], payload[0] == '1' ? std::optional<std::string>(payload.substr(1)) : std::nullopt);
    }
    return out;
}

InputRecording::InputRecording(InputFiles& files) {
    const std::lock_guard<std::mutex> hold(inputs().lock);
    if (inputs().recording != nullptr || inputs().replay != nullptr)
        throw std::logic_error("input files: a recording or replay is already alive");
    inputs().recording = &files;
}
InputRecording::~InputRecording() {
    const std::lock_guard<std::mutex> hold(inputs().lock);
    inputs().recording = nullptr;
}

InputReplay::InputReplay(const InputFiles& files) {
    const std::lock_guard<std::mutex> hold(inputs().lock);
    if (inputs().recording != nullptr || inputs().replay != nullptr)
        throw std::logic_error("input files: a recording or replay is already alive");
    inputs().replay = &files;
}
InputReplay::~InputReplay() {
    const std::lock_guard<std::mutex> hold(inputs().lock);
    inputs().replay = nullptr;
}

bool is_input_directory(const std::filesystem::path& path) {
    return detail::input_kind(path) == detail::InputKind::directory;
}

namespace detail {

std::optional<std::string> read_text_file(const std::filesystem::path& path) {
    Inputs& state = inputs();
    const std::lock_guard<std::mutex> hold(state.lock);
    if (state.replay != nullptr) {
        const auto found = state.replay->files.find(path.string());
        return found != state.replay->files.end() ? found->second : std::nullopt;
    }
    std::optional<std::string> text = read_from_disk(path);
    if (state.recording != nullptr) state.recording->files[path.string()] = text;
    return text;
}

InputKind input_kind(const std::filesystem::path& path) {
    Inputs& state = inputs();
    const std::lock_guard<std::mutex> hold(state.lock);
    if (state.replay != nullptr) {
        const auto file = state.replay->files.find(path.string());
        if (file != state.replay->files.end() && file->second) return InputKind::file;
        return state.replay->listings.count(path.string()) != 0 ? InputKind::directory : InputKind::missing;
    }
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) return InputKind::directory;
    return std::filesystem::exists(path, error) ? InputKind::file : InputKind::missing;
}

std::vector<std::filesystem::path> input_directory_files(const std::filesystem::path& dir) {
    Inputs& state = inputs();
    const std::lock_guard<std::mutex> hold(state.lock);
    std::vector<std::filesystem::path> files;
    if (state.replay != nullptr) {
        const auto listed = state.replay->listings.find(dir.string());
        if (listed != state.replay->listings.end()) files.assign(listed->second.begin(), listed->second.end());
        return files;
    }
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error))
        if (entry.is_regular_file(error)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (state.recording != nullptr) {
        std::vector<std::string>& listed = state.recording->listings[dir.string()];
        listed.clear();
        for (const std::filesystem::path& file : files) listed.push_back(file.string());
    }
    return files;
}

}  // namespace detail
}  // namespace marginsim
