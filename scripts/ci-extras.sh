#!/usr/bin/env bash
# CI extras after scripts/test.sh (issue 6): the whole test suite built with AddressSanitizer and
# UndefinedBehaviorSanitizer in its own build directory, then a one-minute libFuzzer run per loader.
# Usage: scripts/ci-extras.sh [FUZZ_SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --ci   # clang and libclang-rt-14-dev for the fuzzers

start=$SECONDS
# RelWithDebInfo: -O2 keeps the sanitized suite fast enough for CI, -g gives reports file and line.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYMGRAD_SANITIZE=address,undefined \
      -DSYMGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build build-sanitize -j2
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The install test builds an unsanitized consumer against the sanitized library, which cannot link; it runs
# in the normal build already.
(cd build-sanitize && ctest --output-on-failure -j2 -LE install)
echo "ci-extras: sanitizer build and tests took $((SECONDS - start)) s" >&2

start=$SECONDS
scripts/fuzz.sh "${1:-60}"
echo "ci-extras: fuzz smoke run took $((SECONDS - start)) s" >&2
