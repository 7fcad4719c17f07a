#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang into build/fuzz,
# then run each one in turn.
#
# What it is: setup.sh's packages plus clang, libfuzzer-14-dev and libomp-14-dev (clang's
# OpenMP), a clang build with NORMLAB_FUZZ=ON (ASan + UBSan + libFuzzer coverage), and one
# libFuzzer process per target, seeded from tests/fuzz/corpus/<target> (new inputs it finds
# go to build/fuzz/corpus/<target>; crashes to build/fuzz/crash-*).
# What it is not: the CTest smoke (the same targets with a plain driver, in every build).
#   usage: scripts/fuzz.sh [seconds]          each target for that many seconds (default 60)
#          scripts/fuzz.sh -runs=N [target]   each target (or one) for N executions
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-60}"
only="${2:-}"

FUZZ_PACKAGES=(clang libfuzzer-14-dev libomp-14-dev)
missing=()
for p in "${FUZZ_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz: need root to install ${missing[*]} (or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNORMLAB_FUZZ=ON -DNORMLAB_BUILD_TESTS=OFF >/dev/null
fi
cmake --build build/fuzz -- -j"$(nproc)"

case "$limit" in
  -runs=*) budget="$limit" ;;
  *) budget="-max_total_time=$limit" ;;
esac
cd build/fuzz
for target in config safetensors text_data predict_input compare_config; do
  [ -n "$only" ] && [ "$only" != "$target" ] && continue
  mkdir -p "corpus/$target"
  echo "fuzz: $target ($budget)"
  # -close_fd_mask=3: the targets' own output (notes on stderr) is silenced; libFuzzer's is not.
  "./fuzz_$target" "$budget" -close_fd_mask=3 -print_final_stats=1 -rss_limit_mb=4096 \
    "corpus/$target" "../../tests/fuzz/corpus/$target"
done
