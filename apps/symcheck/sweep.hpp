// Runs mode of a sweep: the --init runs shared out over the ranks of a collective and gathered back in order,
// each run_result carried as an exact binary encoding (docs/sweeps.md).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine/collective.hpp"
#include "experiment.hpp"

namespace symgrad::symcheck {

// Every field of the run, and of everything it holds, as bytes: doubles by their bits (NaN payloads, inf and
// -0 survive), sizes and integers as 64-bit little-endian, strings and containers with their lengths, tensors
// with their shapes. decode(encode(r)) equals r field for field, bit for bit.
std::string encode(const run_result& run);
// Throws input_error "run encoding: ..." naming the byte offset for bytes that are not one whole encoding
// (truncated, trailing bytes, an impossible length, a bool or enum out of range, a wrong header).
run_result decode(const std::string& bytes);

// The runs rank r of N computes: r, r + N, r + 2N, ... below `runs`, in increasing order.
std::vector<std::size_t> runs_of_rank(std::size_t runs, const collective& peers);

// Every rank passes its own results (in its runs_of_rank order); every rank returns all `runs` results in run
// order, each equal bit for bit to the one its owner computed. Every rank returns all (not rank 0 alone) so
// that whatever follows (verdicts, exit status) is the same everywhere; rank 0 writes the outputs.
// It is a collective operation: every rank must call it. A rank whose runs failed must not skip it or
// throw before it: callers agree with first_error(peers, msg) first and all fail together. A wrong number of
// results from some rank throws the same input_error on every rank, after the exchange.
std::vector<run_result> gather_runs(std::vector<run_result> mine, std::size_t runs, collective& peers);

}  // namespace symgrad::symcheck
