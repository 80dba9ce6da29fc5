// bench_identical_units: do identical rows get identical bits from the engine's BLAS products wherever
// they sit, and what would a position-independent summation order cost? (docs/identical-units.md)
//
// Part 1 gives every row of a matrix the same contents and prints, per row position, a letter for the bits
// that row's result has (same letter, same bits) for the three products that reduce per unit in the
// engine: Z = W X (dgemm), dW_out = dZ_out A' (dgemv, per-unit dot over samples) and dW_in = dZ X' (dgemm).
// Part 2 times the two per-unit backward products at the workload's sizes S/M/L, OpenBLAS against one
// fixed summation order per output (the same code for every row, so position-independent by construction).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

// Same letter for same bits, in order of first appearance.
template <class Row>
std::string classes(std::size_t rows, Row row) {
    std::map<std::vector<double>, char> seen;
    std::string s;
    for (std::size_t i = 0; i < rows; ++i) {
        auto r = row(i);
        auto it = seen.emplace(r, char('a' + seen.size())).first;
        s += it->second;
    }
    return s;
}

std::vector<double> normals(std::size_t n, std::mt19937_64& rng) {
    std::normal_distribution<double> d(0.0, 1.0);
    std::vector<double> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// The three products for one width h, every row of W (h x n) and of D (h x m) equal; appends row i's
// results to Z[i], v[i], dW[i].
using per_row = std::vector<std::vector<double>>;
void append_products(int h, int n, int m, std::uint64_t seed, per_row& Z, per_row& v, per_row& dW) {
    std::mt19937_64 rng(seed);
    auto X = normals(std::size_t(n) * m, rng), g = normals(std::size_t(m), rng);
    auto w = normals(std::size_t(n), rng), d = normals(std::size_t(m), rng);
    std::vector<double> W, D, z(std::size_t(h) * m), dv(static_cast<std::size_t>(h)), dw(std::size_t(h) * n);
    for (int i = 0; i < h; ++i) W.insert(W.end(), w.begin(), w.end()), D.insert(D.end(), d.begin(), d.end());
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h, m, n, 1.0, W.data(), n, X.data(), m, 0.0, z.data(), m);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, h, m, 1.0, D.data(), m, g.data(), 1, 0.0, dv.data(), 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h, n, m, 1.0, D.data(), m, X.data(), m, 0.0, dw.data(), n);
    for (std::size_t i = 0; i < std::size_t(h); ++i) {
        Z[i].insert(Z[i].end(), z.begin() + i * m, z.begin() + (i + 1) * m);
        v[i].push_back(dv[i]);
        dW[i].insert(dW[i].end(), dw.begin() + i * n, dw.begin() + (i + 1) * n);
    }
}

// Part 1 for one width h. Two orders can round alike on one data set by chance, so every row's bits
// are compared over 5 random data sets.
void row_positions(int h, int n, int m) {
    per_row Z(h), v(h), dW(h);
    for (std::uint64_t seed = 1; seed <= 5; ++seed) append_products(h, n, m, seed, Z, v, dW);
    auto row = [](const per_row& t) { return [&t](std::size_t i) { return t[i]; }; };
    std::printf("  h=%-3d Z = W X: %-34s dW_out: %-34s dW_in: %s\n", h, classes(h, row(Z)).c_str(),
                classes(h, row(v)).c_str(), classes(h, row(dW)).c_str());
}

// One fixed order for every output: four interleaved partial sums, combined as (s0 + s1) + (s2 + s3).
double dot4(const double* a, const double* b, int m) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 4 <= m; j += 4) {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    for (; j < m; ++j) s0 += a[j] * b[j];
    return (s0 + s1) + (s2 + s3);
}

template <class F>
double best_seconds(F f) {
    double best = 1e300;
    for (int r = 0; r < 3; ++r) {
        auto t = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    }
    return best;
}

// Part 2 for one size: n inputs, h units, m samples.
void fixed_order_cost(const char* label, int n, int h, int m) {
    std::mt19937_64 rng(2);
    auto X = normals(std::size_t(n) * m, rng), D = normals(std::size_t(h) * m, rng), g = normals(std::size_t(m), rng);
    std::vector<double> dW(std::size_t(h) * n), v(static_cast<std::size_t>(h));
    double blas_in = best_seconds([&] {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h, n, m, 1.0, D.data(), m, X.data(), m, 0.0, dW.data(), n);
    });
    double fixed_in = best_seconds([&] {
        for (int i = 0; i < h; ++i)
            for (int k = 0; k < n; ++k) dW[std::size_t(i) * n + k] = dot4(&D[std::size_t(i) * m], &X[std::size_t(k) * m], m);
    });
    double blas_out = best_seconds(
        [&] { cblas_dgemv(CblasRowMajor, CblasNoTrans, h, m, 1.0, D.data(), m, g.data(), 1, 0.0, v.data(), 1); });
    double fixed_out = best_seconds([&] {
        for (int i = 0; i < h; ++i) v[std::size_t(i)] = dot4(&D[std::size_t(i) * m], g.data(), m);
    });
    std::printf("  %s (%d inputs, %d units, %d samples): dW_in OpenBLAS %.3f ms, fixed order %.3f ms (x%.1f); "
                "dW_out OpenBLAS %.3f ms, fixed order %.3f ms (x%.2f)\n",
                label, n, h, m, 1e3 * blas_in, 1e3 * fixed_in, fixed_in / blas_in, 1e3 * blas_out, 1e3 * fixed_out,
                fixed_out / blas_out);
}

}  // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    if (threads < 1) {
        std::fprintf(stderr, "usage: bench_identical_units [OPENBLAS_THREADS]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    std::printf("OpenBLAS threads: %d\nbits of identical rows by position (6 inputs, 2201 samples, as the Titanic demo):\n",
                threads);
    for (int h : {4, 5, 6, 7, 8, 9, 12, 17, 33}) row_positions(h, 6, 2201);
    std::printf("cost of one fixed summation order per unit (best of 3):\n");
    fixed_order_cost("S", 7, 4, 891);
    fixed_order_cost("M", 64, 256, 10000);
    fixed_order_cost("L", 784, 1024, 8192);
}
