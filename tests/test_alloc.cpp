// Steady-state training allocates nothing: heap allocations are counted across iterations after the first.
//
// The global operator new/delete are replaced in this translation unit, which links them into the
// whole test binary. Counting is one relaxed atomic increment, and only while a test has switched it on.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>

#include <catch2/catch.hpp>

#include "models/batches.hpp"
#include "models/optim.hpp"
#include "ops/ops.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<unsigned long> allocations{0};

void* counted_alloc(std::size_t n) {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    if (void* p = std::malloc(n)) return p;
    throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    std::size_t a = static_cast<std::size_t>(al);
    if (a < sizeof(void*)) a = sizeof(void*);
    void* p = nullptr;
    if (posix_memalign(&p, a, n == 0 ? 1 : n) != 0) throw std::bad_alloc();
    return p;
}

// Counts operator new calls made by `body`.
template <class F>
unsigned long count_allocations(F body) {
    allocations.store(0);
    counting.store(true);
    try {
        body();
    } catch (...) {
        counting.store(false);
        throw;
    }
    counting.store(false);
    return allocations.load();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace symgrad;

namespace {

// The article's 2-layer network (7 inputs, 4 tanh units, sigmoid output, bce) on random data.
struct seed_network {
    graph g;
    node J;
    std::vector<node> params;

    explicit seed_network(std::size_t m) {
        auto X = g.input("X", {7, m});
        auto Y = g.input("Y", {1, m});
        auto W1 = g.parameter("W1", {4, 7});
        auto b1 = g.parameter("b1", {4, 1});
        auto W2 = g.parameter("W2", {1, 4});
        auto b2 = g.parameter("b2", {1, 1});
        J = bce(sigmoid(matmul(W2, tanh(matmul(W1, X) + b1)) + b2), Y, "J");
        std::mt19937_64 rng(7);
        std::normal_distribution<double> normal(0.0, 1.0);
        tensor x = tensor::from_shape({7, m}), y = tensor::from_shape({1, m});
        for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = normal(rng);
        for (std::size_t k = 0; k < y.size(); ++k) y.data()[k] = normal(rng) > 0.0 ? 1.0 : 0.0;
        g.feed(X, x);
        g.feed(Y, y);
        params = g.parameters();
        for (auto p : params)
            for (std::size_t k = 0; k < g.value(p).size(); ++k) g.value(p).data()[k] = 0.5 * normal(rng);
    }

    // forward, backward and an in-place gradient-descent update; returns the cost.
    double iteration() {
        g.forward();
        double cost = g.value(J)(0, 0);
        g.backward(J);
        for (auto p : params) {
            double* w = g.value(p).data();
            const double* d = g.grad(p).data();
            for (std::size_t k = 0, n = g.value(p).size(); k < n; ++k) w[k] -= 0.1 * d[k];
        }
        return cost;
    }
};

}  // namespace

TEST_CASE("the allocation counter sees allocations made while counting is on", "[alloc]") {
    // Guards the test below against a counter that is never reached (which would make zero trivially true).
    auto n = count_allocations([] {
        tensor t = tensor::from_shape({3, 3});
        t.fill(1.0);
        REQUIRE(t(2, 2) == 1.0);
    });
    CHECK(n >= 1);
}

TEST_CASE("training iterations after the first make no heap allocation", "[alloc]") {
    seed_network net(891);
    double first = net.iteration();  // plans buffers and the backward order
    double last = first;
    auto n = count_allocations([&] {
        for (int it = 0; it < 5; ++it) last = net.iteration();
    });
    CHECK(n == 0);
    // The iterations did real work: lr 0.1 on this data lowers the cost.
    CHECK(last < first);
}

TEST_CASE("training with anomaly detection on makes no heap allocation after the first iteration", "[alloc]") {
    seed_network net(891);
    net.g.set_detect_anomaly(true);
    net.iteration();
    auto n = count_allocations([&] {
        for (int it = 0; it < 5; ++it) {
            net.g.set_step(it);
            net.iteration();
        }
    });
    CHECK(n == 0);
}

TEST_CASE("training with the default results-only anomaly check makes no heap allocation after the first iteration",
          "[alloc]") {
    seed_network net(891);
    net.g.set_anomaly_check(anomaly_check::results);
    net.iteration();
    auto n = count_allocations([&] {
        for (int it = 0; it < 5; ++it) {
            net.g.set_step(it);
            net.iteration();
        }
    });
    CHECK(n == 0);
}

TEST_CASE("the library's optimisers update in place without heap allocation after their first step", "[alloc]") {
    for (const char* name : {"gd", "momentum", "adam"}) {
        seed_network net(64);
        auto opt = make_optimizer(name, 0.01);
        auto run = [&] {
            net.g.forward();
            net.g.backward(net.J);
            opt->step(net.g, net.params);
        };
        run();  // sizes the optimiser's state
        auto n = count_allocations([&] {
            for (int it = 0; it < 3; ++it) run();
        });
        INFO("optimiser " << name);
        CHECK(n == 0);
    }
}

TEST_CASE("alternating between two batch sizes seen before makes no heap allocation", "[alloc]") {
    // Mini-batch training's steady state: full batches and the last partial one, fed X and Y as one step.
    seed_network net(32);
    auto X = net.g.find("X"), Y = net.g.find("Y");
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto batch = [&](std::size_t m) {
        std::pair<tensor, tensor> b{tensor::from_shape({7, m}), tensor::from_shape({1, m})};
        for (std::size_t k = 0; k < b.first.size(); ++k) b.first.data()[k] = normal(rng);
        for (std::size_t k = 0; k < m; ++k) b.second.data()[k] = normal(rng) > 0.0 ? 1.0 : 0.0;
        return b;
    };
    auto full = batch(32), partial = batch(17);
    auto opt = make_optimizer("adam", 0.01);
    auto step = [&](const std::pair<tensor, tensor>& b) {
        net.g.feed({{X, b.first}, {Y, b.second}});
        net.g.forward();
        net.g.backward(net.J);
        opt->step(net.g, net.params);
    };
    step(full);  // plans both sizes and sizes the optimiser's state
    step(partial);
    auto n = count_allocations([&] {
        for (int it = 0; it < 4; ++it) {
            step(full);
            step(partial);
        }
    });
    CHECK(n == 0);
}

TEST_CASE("mini-batch training makes no heap allocation once both batch widths were fed", "[alloc]") {
    // 100 samples in batches of 32: three full batches and one of 4 an epoch, reshuffled at each epoch.
    seed_network net(100);
    auto X = net.g.find("X"), Y = net.g.find("Y");
    minibatches batches(net.g.value(X), net.g.value(Y), {32, 9});
    auto opt = make_optimizer("momentum", 0.01);
    auto pass = [&](std::size_t index) {
        batches.feed(net.g, X, Y, index);
        net.g.forward();
        net.g.backward(net.J);
        opt->step(net.g, net.params);
    };
    for (std::size_t index = 0; index < 4; ++index) pass(index);  // the first epoch plans both widths
    auto n = count_allocations([&] {
        for (std::size_t index = 4; index < 12; ++index) pass(index);  // two more epochs, two reshuffles
    });
    CHECK(n == 0);
}

TEST_CASE("feeding X and Y one at a time between two batch sizes seen before makes no heap allocation", "[alloc]") {
    // The in-between state (X at the new size, Y at the old) is known to be one step back to a cached plan.
    seed_network net(32);
    auto X = net.g.find("X"), Y = net.g.find("Y");
    tensor x32 = net.g.value(X), y32 = net.g.value(Y);
    tensor x17 = tensor::from_shape({7, 17}), y17 = tensor::from_shape({1, 17});
    x17.fill(0.5);
    y17.fill(1.0);
    auto step = [&](const tensor& x, const tensor& y) {
        net.g.feed(X, x);
        net.g.feed(Y, y);
        net.iteration();
    };
    step(x17, y17);  // plans 17 (the in-between 17/32 costs one failed attempt, once)
    step(x32, y32);
    auto n = count_allocations([&] {
        for (int it = 0; it < 4; ++it) {
            step(x17, y17);
            step(x32, y32);
        }
    });
    CHECK(n == 0);
}
