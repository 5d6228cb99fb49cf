#include "marginsim/input_files.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>

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

void put_size(std::string& out, std::uint64_t n) { out.append(reinterpret_cast<const char*>(&n), sizeof n); }

class BytesReader {
public:
    explicit BytesReader(std::string_view bytes) : bytes_(bytes) {}
    std::uint64_t size() {
        std::uint64_t n = 0;
        std::memcpy(&n, take(sizeof n).data(), sizeof n);
        return n;
    }
    std::string_view take(std::uint64_t n) {
        if (n > bytes_.size() - at_) throw std::invalid_argument("input files: the recorded bytes end early");
        const std::string_view out = bytes_.substr(at_, n);
        at_ += n;
        return out;
    }
    bool done() const noexcept { return at_ == bytes_.size(); }

private:
    std::string_view bytes_;
    std::size_t at_ = 0;
};

}  // namespace

std::string InputFiles::bytes() const {
    std::string out;
    put_size(out, files.size());
    for (const auto& [path, text] : files) {
        put_size(out, path.size());
        out += path;
        put_size(out, text ? 1 : 0);
        if (!text) continue;
        put_size(out, text->size());
        out += *text;
    }
    return out;
}

InputFiles InputFiles::from_bytes(std::string_view bytes) {
    BytesReader in(bytes);
    InputFiles out;
    for (std::uint64_t count = in.size(), i = 0; i < count; ++i) {
        std::string path(in.take(in.size()));
        std::optional<std::string> text;
        if (in.size() != 0) text = std::string(in.take(in.size()));
        out.files.emplace(std::move(path), std::move(text));
    }
    if (!in.done()) throw std::invalid_argument("input files: unexpected bytes after the files");
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

}  // namespace detail
}  // namespace marginsim
