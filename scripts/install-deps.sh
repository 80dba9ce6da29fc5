#!/usr/bin/env bash
# Installs the Debian 12 packages symgrad needs, only those missing. Usage: install-deps.sh [--ci] [--mpi]
# --ci adds what the CI extras need (clang and its sanitizer/fuzzer runtime); --mpi what -DSYMGRAD_MPI=ON
# needs (Open MPI and Boost.MPI, docs/distributed.md).
set -euo pipefail
packages=(g++ cmake make pkg-config libboost-graph-dev libboost-program-options-dev libxtensor-dev
          libxtensor-blas-dev libxsimd-dev libopenblas-dev catch2 nlohmann-json3-dev python3-numpy
          libonnx-dev libprotobuf-dev zlib1g-dev python3-onnx help2man dpkg-dev)
for option in "$@"; do
  case "$option" in
    --ci) packages+=(clang libclang-rt-14-dev) ;;
    --mpi) packages+=(openmpi-bin libopenmpi-dev libboost-mpi-dev) ;;
    *) echo "install-deps: unknown option '$option' (use --ci, --mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
