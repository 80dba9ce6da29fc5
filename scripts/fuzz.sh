#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for DURATION seconds (default 60), starting from the
# committed seed corpus (fuzz/corpus/, copied, so new inputs stay in build-fuzz/). Replays fuzz/regressions/
# first. A finding leaves its input in build-fuzz/findings/ and makes the script fail.
# Usage: scripts/fuzz.sh [DURATION_SECONDS] [TARGET...]   e.g. scripts/fuzz.sh 3600 fuzz_csv
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(fuzz_csv fuzz_npy fuzz_npz fuzz_safetensors fuzz_onnx fuzz_runs); fi
build="${SYMGRAD_FUZZ_BUILD_DIR:-build-fuzz}"

cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYMGRAD_BUILD_FUZZ=ON \
      -DSYMGRAD_BUILD_TESTS=OFF -DSYMGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"

mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  kind="${t#fuzz_}"
  work="$build/corpus/$kind"
  mkdir -p "$work"
  cp -n fuzz/corpus/"$kind"/* "$work"/ 2>/dev/null || true
  # Every kept crash input must now load or be refused cleanly (runs each file once).
  if compgen -G "fuzz/regressions/$kind/*" >/dev/null; then
    echo "fuzz: replaying fuzz/regressions/$kind with $t" >&2
    "$build/fuzz/$t" fuzz/regressions/"$kind"/* 2>"$build/findings/$t-regressions.log" ||
      { status=1; tail -n 30 "$build/findings/$t-regressions.log" >&2; }
  fi
  echo "fuzz: running $t for ${duration}s" >&2
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a loader must not need gigabytes for a small
  # file; -max_len: inputs up to 16 KiB reach every branch of both formats.
  if ! "$build/fuzz/$t" "$work" -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
       -artifact_prefix="$build/findings/$t-" -print_final_stats=1 2>"$build/findings/$t.log"; then
    status=1
    tail -n 40 "$build/findings/$t.log" >&2
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$build/findings/$t.log" >&2 || true
done
exit $status
