#!/usr/bin/env bash
# test.sh — build normlab and run the whole test suite (Catch2 through CTest).
#
# What it is: setup.sh for the preset (on a fresh Debian machine, as root, it installs
# what is missing first), then ctest with OMP_WAIT_POLICY=PASSIVE.
# What it is not: the benchmark (bench.sh) nor the norm comparison (run.sh).
#   usage: ./scripts/test.sh            release build, every test
#          ./scripts/test.sh asan       the same suite under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
start=$(date +%s)
./scripts/setup.sh "$preset"
# Tests run two at a time; passive OpenMP waiting keeps two multi-threaded test
# processes from spinning against each other on a 2-core machine.
export OMP_WAIT_POLICY=PASSIVE
ctest --preset "$preset" -j"$(nproc)"
echo "test.sh: done in $(( $(date +%s) - start ))s"
