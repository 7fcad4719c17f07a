#!/usr/bin/env bash
# bench.sh — normlab vs PyTorch on bench-small and bench-medium (docs/math.md, Benchmark models), in one run.
#
# What it is: one table row per preset (tokens/s, ratio, MFU, peak RSS, allocations per
# step). For each preset: normlab trains on random batches (2 threads) and dumps its initial
# weights and batches; scripts/bench_torch.py loads them into the same model in
# PyTorch, checks the first loss agrees (rel 1e-4: otherwise the comparison means
# nothing and the script stops), then times the same steps with every thread setting
# (torch threads 1|2 x OPENBLAS_NUM_THREADS 1|2) and keeps its best.
# What it is not: part of the test suite, nor a correctness check beyond the first loss.
# It builds the release preset and, as root, installs python3-torch if it is missing.
#   usage: ./scripts/bench.sh [small|medium|all] [timed steps]
set -euo pipefail
cd "$(dirname "$0")/.."
which_presets="${1:-all}"
steps="${2:-20}"
./scripts/setup.sh release >/dev/null
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench: installing python3-torch (the benchmark peer)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
bin=./build/release/normlab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
presets=(small medium)
[ "$which_presets" != all ] && presets=("$which_presets")

printf '%-8s %12s %12s %7s %6s %9s %9s %8s\n' preset normlab_tok/s torch_tok/s ratio MFU nl_RSS_MB pt_RSS_MB allocs/step
for p in "${presets[@]}"; do
  nl_json=$("$bin" --threads 2 bench --preset "$p" --steps "$steps" --dump "$tmp/$p")
  echo "$nl_json" > "$tmp/$p/normlab.json"
  check=$(/usr/bin/python3 scripts/bench_torch.py --dump "$tmp/$p" --threads 2 --check-only) || {
    echo "bench: PyTorch and normlab disagree on the first loss: $check" >&2; exit 4; }
  best=""
  for tt in 1 2; do
    for bt in 1 2; do
      out=$(OPENBLAS_NUM_THREADS=$bt /usr/bin/python3 scripts/bench_torch.py --dump "$tmp/$p" --threads "$tt")
      echo "$out" >> "$tmp/$p/torch.jsonl"
    done
  done
  /usr/bin/python3 - "$tmp/$p" <<'PY'
import json, sys
d = sys.argv[1]
nl = json.load(open(f"{d}/normlab.json"))
runs = [json.loads(l) for l in open(f"{d}/torch.jsonl")]
best = max(runs, key=lambda r: r["tokens_per_s"])
print("%-8s %12.0f %12.0f %6.2fx %5.1f%% %9.0f %9.0f %8.2f" % (
    nl["preset"], nl["tokens_per_s"], best["tokens_per_s"], nl["tokens_per_s"] / best["tokens_per_s"],
    100 * nl["mfu"], nl["peak_rss_mb"], best["peak_rss_mb"], nl["allocs_per_step"]))
print("         sgemm n=1024: %.1f GFLOP/s; torch best at %d threads; first loss normlab %.6f torch %.6f" % (
    nl["sgemm_gflops"], best["threads"], nl["first_loss"], best["first_loss_torch"]))
PY
done
