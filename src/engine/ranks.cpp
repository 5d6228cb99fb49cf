#include "marginsim/ranks.hpp"

#include <stdexcept>

#include "marginsim/error.hpp"

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

int exit_code_of_error(const std::exception& error) noexcept {
    if (const auto* root = dynamic_cast<const RootFailed*>(&error)) return root->code();
    return dynamic_cast<const InputError*>(&error) != nullptr ? 2 : 1;
}

void on_root(const Ranks& ranks, const std::function<void()>& step,
             const std::function<int(const std::exception&)>& code_of) {
    if (ranks.size() == 1) return step();
    // The root's outcome as the others receive it: empty, or the exit code, a space, the message.
    std::string outcome;
    std::exception_ptr failure;
    if (ranks.is_root()) {
        try {
            step();
        } catch (const std::exception& error) {
            failure = std::current_exception();
            outcome = std::to_string(code_of ? code_of(error) : exit_code_of_error(error)) + " " + error.what();
        } catch (...) {
            failure = std::current_exception();
            outcome = "1 unknown failure";
        }
    }
    ranks.broadcast(outcome);
    if (failure) std::rethrow_exception(failure);
    if (outcome.empty()) return;
    const std::size_t space = outcome.find(' ');
    throw RootFailed(std::stoi(outcome.substr(0, space)), outcome.substr(space + 1));
}

}  // namespace marginsim
