// Mini-batches and held-out splits: seeded, portable column orders and the copies they need.
#include "models/batches.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.hpp"
#include "engine/text.hpp"

namespace symgrad {

namespace {

// Uniform in [0, n) without modulo bias: draws above the largest multiple of n are redrawn.
std::size_t below(std::mt19937_64& gen, std::size_t n) {
    const std::uint64_t top = std::numeric_limits<std::uint64_t>::max(), limit = top - top % n;
    std::uint64_t r;
    do r = gen();
    while (r >= limit);
    return std::size_t(r % n);
}

// Fisher-Yates from the back, as numpy's shuffle walks.
void shuffle(std::vector<std::size_t>& v, std::mt19937_64& gen) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(gen, i)]);
}

// The columns `cols` (in that order) of t, copied into out, which already has the right shape.
void copy_columns(const tensor& t, const std::size_t* cols, std::size_t count, tensor& out) {
    const std::size_t rows = t.shape()[0], n = t.shape()[1];
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < count; ++j) out.data()[i * count + j] = t.data()[i * n + cols[j]];
}

tensor columns(const tensor& t, const std::vector<std::size_t>& cols) {
    tensor out = tensor::from_shape({t.shape()[0], cols.size()});
    copy_columns(t, cols.data(), cols.size(), out);
    return out;
}

}  // namespace

std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> v(n);
    for (std::size_t k = 0; k < n; ++k) v[k] = k;
    std::mt19937_64 gen(seed);
    shuffle(v, gen);
    return v;
}

minibatches::minibatches(tensor X, tensor Y, const batch_options& options)
    : X_(std::move(X)), Y_(std::move(Y)), size_(options.batch_size == 0 ? X_.shape()[1] : options.batch_size),
      seed_(options.seed), order_(X_.shape()[1]) {
    if (Y_.shape()[1] != X_.shape()[1])
        throw input_error("minibatches: X has " + std::to_string(X_.shape()[1]) + " samples and Y " +
                          std::to_string(Y_.shape()[1]));
    if (samples() == 0) throw input_error("minibatches: the data has no samples");
    const std::size_t b = batch_size(), last = samples() - (batches_per_epoch() - 1) * b;
    x_full_ = tensor::from_shape({X_.shape()[0], b});
    y_full_ = tensor::from_shape({Y_.shape()[0], b});
    x_last_ = tensor::from_shape({X_.shape()[0], last});
    y_last_ = tensor::from_shape({Y_.shape()[0], last});
}

void minibatches::gather(std::size_t first, std::size_t count) {
    const bool full = count == batch_size();
    copy_columns(X_, order_.data() + first, count, full ? x_full_ : x_last_);
    copy_columns(Y_, order_.data() + first, count, full ? y_full_ : y_last_);
}

void minibatches::feed(graph& g, node x, node y, std::size_t index) {
    if (full_batch()) {
        g.feed({{x, X_}, {y, Y_}});  // in its own order: the same bits as feeding the data once
        return;
    }
    const std::size_t per_epoch = batches_per_epoch(), epoch = index / per_epoch, b = index % per_epoch;
    if (epoch != epoch_) {
        // Epoch e's order depends only on (seed, e), so any batch of the run can be fed first.
        for (std::size_t k = 0; k < order_.size(); ++k) order_[k] = k;
        std::mt19937_64 gen(seed_ + 0x9e3779b97f4a7c15ULL * (std::uint64_t(epoch) + 1));
        shuffle(order_, gen);
        epoch_ = epoch;
    }
    const std::size_t first = b * batch_size(), count = std::min(batch_size(), samples() - first);
    gather(first, count);
    const bool full = count == batch_size();
    g.feed({{x, full ? x_full_ : x_last_}, {y, full ? y_full_ : y_last_}});
}

data_split hold_out(const tensor& X, const tensor& Y, double fraction, std::uint64_t seed) {
    const std::size_t n = X.shape()[1];
    if (!(fraction > 0.0 && fraction < 1.0))
        throw input_error("validation fraction: must be greater than 0 and less than 1, got " + shortest(fraction));
    if (n < 2)
        throw input_error("validation fraction: needs at least 2 samples to hold some out, got " + std::to_string(n));
    std::size_t held = std::size_t(std::llround(fraction * double(n)));
    held = std::min(std::max<std::size_t>(held, 1), n - 1);
    auto order = shuffled_indices(n, seed);
    std::vector<std::size_t> validation(order.begin(), order.begin() + std::ptrdiff_t(held));
    std::vector<std::size_t> training(order.begin() + std::ptrdiff_t(held), order.end());
    std::sort(validation.begin(), validation.end());
    std::sort(training.begin(), training.end());
    return {columns(X, training), columns(Y, training), columns(X, validation), columns(Y, validation)};
}

}  // namespace symgrad
