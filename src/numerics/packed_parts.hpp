#pragma once
// Byte strings packed into one, each after its length (8 bytes, this machine's order), and back:
// the messages that ranks of one program exchange (docs/distributed.md), never stored.

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim::detail {

inline std::string pack_parts(const std::vector<std::string>& parts) {
    std::string out;
    for (const std::string& part : parts) {
        const std::uint64_t n = part.size();
        out.append(reinterpret_cast<const char*>(&n), sizeof n);
        out += part;
    }
    return out;
}

// Throws std::invalid_argument when the bytes are not such a packing (cut short).
inline std::vector<std::string> unpack_parts(std::string_view bytes) {
    std::vector<std::string> parts;
    while (!bytes.empty()) {
        std::uint64_t n = 0;
        if (bytes.size() < sizeof n) throw std::invalid_argument("a message between ranks is cut short");
        std::memcpy(&n, bytes.data(), sizeof n);
        bytes.remove_prefix(sizeof n);
        if (bytes.size() < n) throw std::invalid_argument("a message between ranks is cut short");
        parts.emplace_back(bytes.substr(0, n));
        bytes.remove_prefix(n);
    }
    return parts;
}

}  // namespace marginsim::detail
