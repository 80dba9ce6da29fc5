// engine/collective.hpp over MPI (Boost.MPI): the processes of one mpirun share a computation, and the
// session that starts and ends MPI with the process. Knows nothing of any application.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/collective.hpp"

namespace symgrad {

// The processes of MPI_COMM_WORLD. sum() follows collective's binary tree with point-to-point messages
// (never MPI_Allreduce, whose order of additions is unspecified) and broadcasts rank 0's total, so every
// rank holds the same bits.
class mpi_collective final : public collective {
public:
    mpi_collective();
    ~mpi_collective() override;
    std::size_t rank() const override;
    std::size_t size() const override;
    void sum(double* data, std::size_t n) override;
    void max(double* data, std::size_t n) override;
    std::vector<std::string> all_gather(const std::string& mine) override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::vector<double> received_;  // kept from call to call: no allocation per steady iteration
};

// MPI for the life of the process (boost::mpi::environment: MPI_Init then MPI_Finalize).
//
// The failure rule: every rank must leave together. Where a failure is expected and every rank reaches the
// same point (loading, argument checks), the ranks agree on it with first_error and all return the same exit
// code, rank 0 printing the one line. Anything thrown elsewhere may leave the other ranks waiting in a
// collective: that rank prints its line and calls abort(code), which ends every rank (MPI_Abort) with the
// exit code the single process would have used.
class mpi_session {
public:
    mpi_session(int& argc, char**& argv);
    ~mpi_session();
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;
    collective& peers();
    [[noreturn]] void abort(int exit_code);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace symgrad
