#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run symcheck's default demonstration.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target symcheck
build/apps/symcheck "$@"
