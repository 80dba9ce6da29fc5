// Run under mpirun: mpi_collective's sum follows collective.hpp's binary tree bit for bit, max lets NaN win,
// all_gather returns every rank's bytes in rank order. Exits 0 when all hold, 1 naming the first that fails.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "distributed/mpi_collective.hpp"

namespace {

// Rank r's element i: magnitudes spread over 1e-8 .. 1e8 so that another order of additions rounds differently.
double element(std::size_t r, std::size_t i) {
    return std::pow(10.0, double((r * 7 + i * 3) % 17) - 8.0) * (1.0 + 0.1 * double(r)) * ((r + i) % 3 ? 1.0 : -1.0);
}

// collective.hpp's tree, written from its comment: at step s, rank r (a multiple of 2s) adds rank r + s's part.
std::vector<double> tree_sum(std::size_t ranks, std::size_t n) {
    std::vector<std::vector<double>> part(ranks, std::vector<double>(n));
    for (std::size_t r = 0; r < ranks; ++r)
        for (std::size_t i = 0; i < n; ++i) part[r][i] = element(r, i);
    for (std::size_t s = 1; s < ranks; s *= 2)
        for (std::size_t r = 0; r + s < ranks; r += 2 * s)
            for (std::size_t i = 0; i < n; ++i) part[r][i] = part[r][i] + part[r + s][i];
    return part[0];
}

int fail(std::size_t rank, const std::string& what) {
    std::fprintf(stderr, "rank %zu: %s\n", rank, what.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    symgrad::mpi_session session(argc, argv);
    symgrad::collective& peers = session.peers();
    const std::size_t rank = peers.rank(), ranks = peers.size(), n = 1000;

    std::vector<double> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = element(rank, i);
    peers.sum(data.data(), n);
    const std::vector<double> expected = tree_sum(ranks, n);
    for (std::size_t i = 0; i < n; ++i)
        if (data[i] != expected[i]) return fail(rank, "sum differs from the tree at element " + std::to_string(i));

    double m[3] = {double(rank), rank == ranks - 1 ? NAN : 1.0, -double(rank)};
    peers.max(m, 3);
    if (m[0] != double(ranks - 1) || !std::isnan(m[1]) || m[2] != 0.0) return fail(rank, "max is wrong or NaN lost");

    std::vector<std::string> all = peers.all_gather(std::string(rank, 'x') + std::to_string(rank));
    if (all.size() != ranks) return fail(rank, "all_gather returned the wrong count");
    for (std::size_t r = 0; r < ranks; ++r)
        if (all[r] != std::string(r, 'x') + std::to_string(r)) return fail(rank, "all_gather out of rank order");
    if (symgrad::first_error(peers, rank == 1 ? "one" : "") != (ranks > 1 ? "one" : ""))
        return fail(rank, "first_error");
    if (rank == 0) std::printf("mpi_collective: %zu ranks agree with the tree, max and all_gather\n", ranks);
    return 0;
}
