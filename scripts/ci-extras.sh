#!/usr/bin/env bash
# CI extras after scripts/test.sh (issue 6): the whole test suite built with AddressSanitizer and
# UndefinedBehaviorSanitizer in its own build directory, then a 30-second libFuzzer run per target (six: five loaders and runs mode's decoder),
# then symcheck over MPI (issue 15): its own build directory with -DSYMGRAD_MPI=ON and the mpirun tests.
# Usage: scripts/ci-extras.sh [FUZZ_SECONDS]   (default 30)
# Measured on the team's shared 2-core machine under heavy load (load average 9-12), so an upper bound:
# sanitizer build 25 min, its ctest 28 s; fuzz build 10 min at -j1, fuzzing 2 x 60 s. With the normal build
# and tests (about 15 min under the same load) CI stays well inside its 90 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --ci --mpi  # clang and libclang-rt-14-dev for the fuzzers; Open MPI for the MPI tests

start=$SECONDS
# RelWithDebInfo: -O2 keeps the sanitized suite fast enough for CI, -g gives reports file and line.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYMGRAD_SANITIZE=address,undefined \
      -DSYMGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build build-sanitize -j2
# exitcode=99: a sanitizer report can never pass for a verdict (1) or a refused input (2) in the CLI tests.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
# The install test builds an unsanitized consumer against the sanitized library, which cannot link; the
# memory-estimate test compares our estimate with the process's peak RSS, which ASan's shadow memory and
# quarantine inflate 1.5-3.6x. Both run in the normal build already.
(cd build-sanitize && ctest --output-on-failure -j2 -LE install -E "the memory estimate is within")
echo "ci-extras: sanitizer build and tests took $((SECONDS - start)) s" >&2

start=$SECONDS
scripts/fuzz.sh "${1:-30}"
echo "ci-extras: fuzz smoke run took $((SECONDS - start)) s" >&2

# Only symcheck and the MPI tests' own program are built (no test suite, benchmarks or man page); measured
# here from scratch under load 5: build 145 s at -j2, tests 28 s. Open MPI refuses root without two
# environment variables; the tests set them for mpirun themselves.
start=$SECONDS
cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DSYMGRAD_MPI=ON -DSYMGRAD_BUILD_BENCH=OFF \
      -DSYMGRAD_MAN_PAGE=OFF >/dev/null
cmake --build build-mpi -j2 --target symcheck mpi_collective_check
(cd build-mpi && ctest --output-on-failure -L mpi)
echo "ci-extras: MPI build and tests took $((SECONDS - start)) s" >&2
