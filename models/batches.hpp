// Mini-batches and held-out splits: which sample columns go where, drawn from the run's seed the same way
// on every platform.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

// 0..n-1 in an order drawn from seed: std::mt19937_64 (fixed by the standard) and an unbiased bounded draw,
// so a seed gives the same order everywhere (std::shuffle's is the library's own).
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed);

struct batch_options {
    // Samples per batch; 0, or at least the number of samples, is the full batch: the data fed as it is, in
    // its own order, every pass (the article's training, bit for bit).
    std::size_t batch_size = 0;
    std::uint64_t seed = 0;  // the run's seed: each epoch's order of the samples
};

// Feeds a data set one mini-batch at a time. Each epoch is a new order of the columns (samples), cut into
// batches of batch_size; the last batch of an epoch holds what is left when batch_size does not divide the
// sample count. Every hidden unit sees the same batch, so the symmetry arguments hold batch by batch.
class minibatches {
public:
    // X is features x samples, Y labels x samples; both are copied.
    minibatches(tensor X, tensor Y, const batch_options& options);
    bool full_batch() const { return size_ >= samples(); }
    std::size_t samples() const { return X_.shape()[1]; }
    std::size_t batch_size() const { return full_batch() ? samples() : size_; }
    std::size_t batches_per_epoch() const { return (samples() + batch_size() - 1) / batch_size(); }
    // Feeds batch `index` of the run (epoch index / batches_per_epoch) into x and y as one step. Allocates
    // only the first time each of the two batch widths is fed.
    void feed(graph& g, node x, node y, std::size_t index);

private:
    void gather(std::size_t first, std::size_t count);
    tensor X_, Y_;
    std::size_t size_;
    std::uint64_t seed_;
    std::vector<std::size_t> order_;
    std::size_t epoch_ = std::size_t(-1);
    tensor x_full_, y_full_, x_last_, y_last_;
};

// A data set cut in two: a held-out validation part and the rest for training.
struct data_split {
    tensor X_train, Y_train, X_validation, Y_validation;
};

// Holds out round(fraction * samples) columns drawn with seed (at least one, and at least one left for
// training); both parts keep the columns' original order. fraction must be in (0, 1): input_error otherwise.
data_split hold_out(const tensor& X, const tensor& Y, double fraction, std::uint64_t seed);

}  // namespace symgrad
