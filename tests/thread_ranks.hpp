#pragma once
// Ranks in one process, each a std::thread, for the tests of a run spread over ranks
// (marginsim::Ranks, include/marginsim/ranks.hpp) in every build, MPI or not, sanitizers
// included. A RankGroup holds one slot a rank; each collective writes this rank's part into
// its slot, waits for every rank (a barrier), reads what it needs from the slots, and waits
// again before a slot may be written anew. The bytes counted are the payload an MPI backend
// counts (src/mpi/mpi_ranks.cpp): each way of an allreduce, what the root sends in a broadcast
// or scatter, what the other ranks send in a gather.
//
// Mistakes of the code under test fail instead of hanging: every collective checks that all
// the ranks called the same operation with the same number of values, a rank that returns or
// throws while another waits in a collective makes that one throw RanksAborted, and
// run_on_ranks rethrows the first real exception after joining every thread.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "marginsim/ranks.hpp"

namespace marginsim::testing {

// What a rank waiting in a collective throws when another rank can no longer join it.
class RanksAborted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class RankGroup {
public:
    enum class Operation { none, sum, max, broadcast, gather, scatter };

    // What a rank puts in for a collective; written by that rank only, between two barriers.
    struct Slot {
        Operation operation = Operation::none;
        std::size_t count = 0;  // values of a sum or max
        std::vector<std::uint64_t> words;
        std::vector<double> doubles;
        std::string bytes;
        std::vector<std::string> parts;
    };

    explicit RankGroup(int size) : size_(size), slots_(static_cast<std::size_t>(size)) {
        if (size < 1) throw std::invalid_argument("RankGroup: at least one rank");
    }
    RankGroup(const RankGroup&) = delete;
    RankGroup& operator=(const RankGroup&) = delete;

    int size() const noexcept { return size_; }
    Slot& slot(int rank) noexcept { return slots_[static_cast<std::size_t>(rank)]; }

    // Returns once every rank has called it (as many times); throws RanksAborted when the group
    // was aborted or some rank left while this one waits.
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (broken_) throw RanksAborted(reason_);
        const std::uint64_t generation = generation_;
        if (++arrived_ == size_) {
            arrived_ = 0;
            ++generation_;
            changed_.notify_all();
            return;
        }
        changed_.wait(lock, [&] { return generation_ != generation || broken_; });
        if (generation_ != generation) return;  // released before the group broke
        throw RanksAborted(reason_);
    }

    // A rank threw: the others cannot complete a collective with it.
    void abort(int rank) noexcept { leave(rank, "threw an exception"); }
    // A rank returned: a collective that still waits for it will never complete.
    void finish(int rank) noexcept { leave(rank, "returned"); }

private:
    void leave(int rank, const char* how) noexcept {
        const std::lock_guard<std::mutex> guard(mutex_);
        if (broken_) return;
        broken_ = true;
        try {
            reason_ = "rank " + std::to_string(rank) + " " + how + " while another rank waits in a collective";
        } catch (...) {
        }
        changed_.notify_all();
    }

    const int size_;
    std::vector<Slot> slots_;
    std::mutex mutex_;
    std::condition_variable changed_;
    int arrived_ = 0;
    std::uint64_t generation_ = 0;
    bool broken_ = false;
    std::string reason_;
};

// One rank of a RankGroup; its operations must come from that rank's thread.
class ThreadRanks final : public Ranks {
public:
    ThreadRanks(RankGroup& group, int rank) : group_(&group), rank_(rank) {}

    int rank() const noexcept override { return rank_; }
    int size() const noexcept override { return group_->size(); }

    void sum(std::span<std::uint64_t> values) const override {
        RankGroup::Slot& mine = begin(RankGroup::Operation::sum, values.size());
        mine.words.assign(values.begin(), values.end());
        exchange([&] {
            std::fill(values.begin(), values.end(), std::uint64_t{0});
            for (int r = 0; r < size(); ++r) {
                const std::vector<std::uint64_t>& words = group_->slot(r).words;
                for (std::size_t k = 0; k < values.size(); ++k) values[k] += words[k];  // modulo 2^64
            }
        });
        count(values.size_bytes(), values.size_bytes());
    }

    void max(std::span<double> values) const override {
        RankGroup::Slot& mine = begin(RankGroup::Operation::max, values.size());
        mine.doubles.assign(values.begin(), values.end());
        exchange([&] {
            const std::vector<double>& first = group_->slot(0).doubles;
            std::copy(first.begin(), first.end(), values.begin());
            for (int r = 1; r < size(); ++r) {
                const std::vector<double>& doubles = group_->slot(r).doubles;
                for (std::size_t k = 0; k < values.size(); ++k) values[k] = std::max(values[k], doubles[k]);
            }
        });
        count(values.size_bytes(), values.size_bytes());
    }

    void broadcast(std::string& bytes) const override {
        RankGroup::Slot& mine = begin(RankGroup::Operation::broadcast, 0);
        if (is_root()) mine.bytes = bytes;
        exchange([&] {
            if (!is_root()) bytes = group_->slot(0).bytes;
        });
        if (is_root()) count(bytes.size(), 0);
        else count(0, bytes.size());
    }

    std::vector<std::string> gather(const std::string& bytes) const override {
        RankGroup::Slot& mine = begin(RankGroup::Operation::gather, 0);
        mine.bytes = bytes;
        std::vector<std::string> all;
        exchange([&] {
            if (!is_root()) return;
            for (int r = 0; r < size(); ++r) all.push_back(group_->slot(r).bytes);
        });
        if (!is_root()) {
            count(bytes.size(), 0);
            return {};
        }
        std::uint64_t received = 0;
        for (std::size_t r = 1; r < all.size(); ++r) received += all[r].size();
        count(0, received);
        return all;
    }

    std::string scatter(const std::vector<std::string>& parts) const override {
        // As MPI's backend: the root refuses a wrong number of parts before communicating.
        if (is_root() && parts.size() != static_cast<std::size_t>(size()))
            throw std::invalid_argument("scatter: " + std::to_string(parts.size()) + " parts for " +
                                        std::to_string(size()) + " ranks");
        RankGroup::Slot& mine = begin(RankGroup::Operation::scatter, 0);
        if (is_root()) mine.parts = parts;
        std::string part;
        exchange([&] { part = group_->slot(0).parts[static_cast<std::size_t>(rank_)]; });
        if (is_root()) {
            std::uint64_t sent = 0;
            for (std::size_t r = 1; r < parts.size(); ++r) sent += parts[r].size();
            count(sent, 0);
        } else {
            count(0, part.size());
        }
        return part;
    }

    std::uint64_t bytes_sent() const noexcept override { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t bytes_received() const noexcept override { return received_.load(std::memory_order_relaxed); }
    // Collectives this rank has completed.
    std::uint64_t collectives() const noexcept { return collectives_.load(std::memory_order_relaxed); }

private:
    RankGroup::Slot& begin(RankGroup::Operation operation, std::size_t count) const {
        RankGroup::Slot& mine = group_->slot(rank_);
        mine.operation = operation;
        mine.count = count;
        return mine;
    }

    // Barrier, every rank reads (`read`), barrier: the slots are free again. Every rank finds
    // the same mismatch, if any, and throws it after the second barrier.
    template <class Read>
    void exchange(Read read) const {
        group_->arrive_and_wait();
        const RankGroup::Slot& mine = group_->slot(rank_);
        std::string mismatch;
        for (int r = 0; r < size() && mismatch.empty(); ++r) {
            const RankGroup::Slot& other = group_->slot(r);
            if (other.operation != mine.operation || other.count != mine.count)
                mismatch = "collective mismatch: rank " + std::to_string(r) + " called operation " +
                           std::to_string(static_cast<int>(other.operation)) + " on " + std::to_string(other.count) +
                           " values, rank " + std::to_string(rank_) + " operation " +
                           std::to_string(static_cast<int>(mine.operation)) + " on " + std::to_string(mine.count);
        }
        if (mismatch.empty()) read();
        group_->arrive_and_wait();
        if (!mismatch.empty()) throw std::logic_error(mismatch);
        collectives_.fetch_add(1, std::memory_order_relaxed);
    }

    void count(std::uint64_t sent, std::uint64_t received) const noexcept {
        sent_.fetch_add(sent, std::memory_order_relaxed);
        received_.fetch_add(received, std::memory_order_relaxed);
    }

    RankGroup* group_;
    int rank_;
    mutable std::atomic<std::uint64_t> sent_{0};
    mutable std::atomic<std::uint64_t> received_{0};
    mutable std::atomic<std::uint64_t> collectives_{0};
};

// Runs f(const Ranks&) as each of n ranks, on n threads, and returns their results in rank
// order. When some rank throws, the exception of the lowest such rank is rethrown after every
// thread has joined (a RanksAborted only when no rank threw anything else).
template <class F>
auto run_on_ranks(int n, F f) -> std::vector<std::invoke_result_t<F&, const Ranks&>> {
    using R = std::invoke_result_t<F&, const Ranks&>;
    static_assert(!std::is_void_v<R>, "run_on_ranks: f returns what the test checks");
    RankGroup group(n);
    const auto count = static_cast<std::size_t>(n);
    std::vector<std::optional<R>> results(count);
    std::vector<std::exception_ptr> errors(count);
    std::vector<std::thread> threads;
    threads.reserve(count);
    for (int r = 0; r < n; ++r) {
        threads.emplace_back([&, r] {
            const auto at = static_cast<std::size_t>(r);
            try {
                const ThreadRanks ranks(group, r);
                results[at].emplace(f(static_cast<const Ranks&>(ranks)));
                group.finish(r);
            } catch (...) {
                errors[at] = std::current_exception();
                group.abort(r);
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    std::exception_ptr first_aborted;
    for (const std::exception_ptr& error : errors) {
        if (!error) continue;
        try {
            std::rethrow_exception(error);
        } catch (const RanksAborted&) {
            if (!first_aborted) first_aborted = error;
        } catch (...) {
            throw;
        }
    }
    if (first_aborted) std::rethrow_exception(first_aborted);
    std::vector<R> out;
    out.reserve(count);
    for (std::optional<R>& result : results) out.push_back(std::move(*result));
    return out;
}

}  // namespace marginsim::testing
