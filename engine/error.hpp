// The project's one error type and its kinds.
#pragma once
#include <stdexcept>
#include <string>

namespace symgrad {

// Every error symgrad throws derives from this; what() is one line naming the place and the problem.
// symcheck (apps/symcheck/main.cpp, docs/errors.md) exits 2 for every kind alike (bad input, usage, output
// path, divergence) and for running out of memory; any other exception is internal, 3. 0 and 1 are verdicts
// (0: healthy or transient; 1: frozen, symmetric, fragile or inactive); signals 129/130/143; CI's sanitizer
// builds exit 99 on a report (ci-extras.sh).
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A graph was built wrong: incompatible shapes, an unknown node, a cycle.
class graph_error : public error {
public:
    using error::error;
};

// Input the user supplied is wrong: a file, a shape of fed data, a flag value.
class input_error : public error {
public:
    using error::error;
};

// A NaN or Inf appeared in a value or gradient while anomaly detection was on.
class anomaly_error : public error {
public:
    using error::error;
};

// A file could not be read or written (permissions, missing directory, disk).
class io_error : public error {
public:
    using error::error;
};

}  // namespace symgrad
