// The agreement points of processes that share one computation (data parallelism): each holds a shard of the
// samples, and wherever a result depends on every shard, the layers call these operations. The engine knows
// no transport: distributed/ implements them over MPI, the tests over threads. One process needs none.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace symgrad {

class collective {
public:
    virtual ~collective() = default;
    virtual std::size_t rank() const = 0;  // 0 .. size() - 1
    virtual std::size_t size() const = 0;
    // Element-wise sum over every process of its data[0 .. n), the result in data on every process. The
    // order of the additions is fixed by rank, never by arrival: pairwise up a binary tree, at step
    // s = 1, 2, 4, ... rank r (a multiple of 2s) computes (its partial sum) + (rank r + s's partial sum).
    // Results are therefore bit-identical from run to run for a given number of processes.
    // Every process must call it with the same n.
    virtual void sum(double* data, std::size_t n) = 0;
    // Element-wise maximum over every process (order does not matter: max is exact). NaN wins.
    virtual void max(double* data, std::size_t n) = 0;
    // Every process's bytes, in rank order, on every process (levels of a category, error messages).
    virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
};

// The first non-empty message in rank order among every process's `error` (empty when none): the one check
// that lets all processes fail together, with the same line, instead of one failing while the others wait
// in a collective operation it never reaches.
inline std::string first_error(collective& peers, const std::string& error) {
    for (auto& e : peers.all_gather(error))
        if (!e.empty()) return e;
    return {};
}

// Runs `step` on this process, then agrees: the message of the first process (by rank) whose step threw an
// `Error`, on every process, or empty when none did. Every process must call it; the caller throws the
// message on every process, so all fail together (other exceptions pass through unchanged).
template <class Error, class Step>
std::string first_failure(collective& peers, Step&& step) {
    std::string mine;
    try {
        step();
    } catch (const Error& e) {
        mine = e.what();
    }
    return first_error(peers, mine);
}

}  // namespace symgrad
