// mpi_collective and mpi_session over Boost.MPI.
#include "distributed/mpi_collective.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

namespace symgrad {

namespace {

constexpr int sum_tag = 1;

int count(std::size_t n) {
    if (n > std::size_t(INT_MAX)) throw std::length_error("mpi_collective: more than INT_MAX doubles in one call");
    return int(n);
}

}  // namespace

struct mpi_collective::impl {
    boost::mpi::communicator world;  // MPI_COMM_WORLD, attached
};

mpi_collective::mpi_collective() : impl_(std::make_unique<impl>()) {}
mpi_collective::~mpi_collective() = default;

std::size_t mpi_collective::rank() const { return std::size_t(impl_->world.rank()); }
std::size_t mpi_collective::size() const { return std::size_t(impl_->world.size()); }

// The tree of collective::sum: at step s, rank r (a multiple of 2s) adds rank r + s's partial sum to its own;
// rank r + s has then sent its part and is done. Rank 0 ends with the total and broadcasts it.
void mpi_collective::sum(double* data, std::size_t n) {
    auto& w = impl_->world;
    const int ranks = w.size(), me = w.rank(), len = count(n);
    received_.resize(n);
    for (int s = 1; s < ranks; s *= 2) {
        if (me % (2 * s) == s) {
            w.send(me - s, sum_tag, data, len);
            break;
        }
        if (me % (2 * s) == 0 && me + s < ranks) {
            w.recv(me + s, sum_tag, received_.data(), len);
            for (std::size_t i = 0; i < n; ++i) data[i] = data[i] + received_[i];
        }
    }
    if (ranks > 1) boost::mpi::broadcast(w, data, len, 0);
}

namespace {

// Maximum where NaN wins (associative and commutative, so MPI's order does not matter).
struct nan_max {
    double operator()(double a, double b) const { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
};

}  // namespace

void mpi_collective::max(double* data, std::size_t n) {
    received_.resize(n);
    boost::mpi::all_reduce(impl_->world, data, count(n), received_.data(), nan_max());
    std::copy(received_.begin(), received_.end(), data);
}

std::vector<std::string> mpi_collective::all_gather(const std::string& mine) {
    std::vector<std::string> all;
    boost::mpi::all_gather(impl_->world, mine, all);
    return all;
}

struct mpi_session::impl {
    impl(int& argc, char**& argv) : env(argc, argv) {}
    boost::mpi::environment env;  // declared first: MPI is up before the collective and down after it
    mpi_collective peers;
};

mpi_session::mpi_session(int& argc, char**& argv) : impl_(std::make_unique<impl>(argc, argv)) {}
mpi_session::~mpi_session() = default;
collective& mpi_session::peers() { return impl_->peers; }
void mpi_session::abort(int exit_code) {
    boost::mpi::environment::abort(exit_code);
    std::abort();  // not reached: MPI_Abort does not return
}

}  // namespace symgrad
