#!/usr/bin/env bash
# setup.sh — install the Debian packages normlab needs, only those missing, then
# configure and build a preset.
#
# What it is: dpkg -s for each package, apt-get for the missing ones (as root only),
# then cmake --preset (once) and cmake --build. Called by run.sh, test.sh and bench.sh;
# safe to run twice (the second run checks with dpkg -s and installs nothing).
# What it is not: a test run (test.sh) nor a way to install without root: it stops
# and names the missing packages instead.
#   usage: scripts/setup.sh [preset]      (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas-openmp-dev: the OpenMP build of OpenBLAS, so that sgemm and normlab's own
# kernels share one OpenMP thread pool (with the default pthread build, the two pools spin
# against each other and two threads run slower than one; README, "Threads").
# libopenmpi-dev, openmpi-bin: data-parallel training (`mpirun -np K normlab train`).
# graphviz: `dot`, which renders `normlab graph`'s drawings of the tape to SVG.
NORMLAB_PACKAGES=(g++ cmake ninja-build pkg-config libopenblas-dev libopenblas-openmp-dev
                  libcli11-dev nlohmann-json3-dev catch2 zlib1g-dev python3 python3-matplotlib python3-numpy
                  libopenmpi-dev openmpi-bin graphviz)

missing=()
for p in "${NORMLAB_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install ${missing[*]} (run as root, or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

preset="${1:-release}"
if [ ! -f "build/$preset/build.ninja" ]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset" -- -j"$(nproc)"
