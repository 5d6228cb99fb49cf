#include "marginsim/ranks.hpp"

#include <stdexcept>

namespace marginsim {
namespace {

class SingleProcess final : public Ranks {
public:
    int rank() const noexcept override { return 0; }
    int size() const noexcept override { return 1; }
    void sum(std::span<std::uint64_t>) const override {}
    void max(std::span<double>) const override {}
    void broadcast(std::string&) const override {}
    std::vector<std::string> gather(const std::string& bytes) const override { return {bytes}; }
    std::string scatter(const std::vector<std::string>& parts) const override {
        if (parts.size() != 1) throw std::invalid_argument("scatter: one part a rank");
        return parts.front();
    }
    std::uint64_t bytes_sent() const noexcept override { return 0; }
    std::uint64_t bytes_received() const noexcept override { return 0; }
};

}  // namespace

const Ranks& single_process() noexcept {
    static const SingleProcess single;
    return single;
}

}  // namespace marginsim
