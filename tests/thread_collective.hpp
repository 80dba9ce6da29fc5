// engine/collective.hpp over threads of one process, for tests of data parallelism without MPI: each thread
// is a rank; every operation meets at a barrier and combines in the interface's fixed order.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/collective.hpp"

namespace symgrad::testing {

// What the ranks of one group share: a barrier and one slot per rank.
class thread_group {
public:
    explicit thread_group(std::size_t ranks) : ranks_(ranks), doubles_(ranks), strings_(ranks) {}
    std::size_t size() const { return ranks_; }

    void wait() {
        std::unique_lock<std::mutex> lock(m_);
        std::size_t generation = generation_;
        if (++arrived_ == ranks_) {
            arrived_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation_ != generation; });
        }
    }

    std::vector<std::vector<double>> doubles_;
    std::vector<std::string> strings_;

private:
    std::size_t ranks_;
    std::mutex m_;
    std::condition_variable cv_;
    std::size_t arrived_ = 0, generation_ = 0;
};

class thread_collective final : public collective {
public:
    thread_collective(thread_group& group, std::size_t rank) : group_(group), rank_(rank) {}
    std::size_t rank() const override { return rank_; }
    std::size_t size() const override { return group_.size(); }

    // The binary tree of collective::sum, computed by every rank from the published slots.
    void sum(double* data, std::size_t n) override {
        combine(data, n, [](std::vector<std::vector<double>>& v, std::size_t ranks) {
            for (std::size_t s = 1; s < ranks; s *= 2)
                for (std::size_t r = 0; r + s < ranks; r += 2 * s)
                    for (std::size_t i = 0; i < v[r].size(); ++i) v[r][i] = v[r][i] + v[r + s][i];
        });
    }

    void max(double* data, std::size_t n) override {
        combine(data, n, [](std::vector<std::vector<double>>& v, std::size_t ranks) {
            for (std::size_t r = 1; r < ranks; ++r)
                for (std::size_t i = 0; i < v[0].size(); ++i)
                    if (v[r][i] != v[r][i] || v[r][i] > v[0][i]) v[0][i] = v[r][i];
        });
    }

    std::vector<std::string> all_gather(const std::string& mine) override {
        group_.strings_[rank_] = mine;
        group_.wait();
        std::vector<std::string> all = group_.strings_;
        group_.wait();
        return all;
    }

private:
    // Publish, let rank 0 combine into its slot (the others wait), copy the result, and wait until every
    // rank has copied before a slot may be written again.
    template <class Combine>
    void combine(double* data, std::size_t n, Combine f) {
        group_.doubles_[rank_].assign(data, data + n);
        group_.wait();
        if (rank_ == 0) f(group_.doubles_, group_.size());
        group_.wait();
        std::copy(group_.doubles_[0].begin(), group_.doubles_[0].end(), data);
        group_.wait();
    }

    thread_group& group_;
    std::size_t rank_;
};

// Runs body(rank's collective) on `ranks` threads and joins them; the first exception (by rank) is rethrown.
inline void run_ranks(std::size_t ranks, const std::function<void(collective&)>& body) {
    thread_group group(ranks);
    std::vector<std::exception_ptr> errors(ranks);
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            thread_collective peers(group, r);
            try {
                body(peers);
            } catch (...) {
                errors[r] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace symgrad::testing
