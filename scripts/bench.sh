#!/usr/bin/env bash
# bench.sh — normlab vs PyTorch on bench-small and bench-medium (docs/math.md, Benchmark models), in one run.
#
# What it is: one table row per preset and round (tokens/s, ratio, MFU, peak RSS, allocations
# per step), then the medians over the rounds. For each preset: normlab trains on random
# batches (2 threads) and dumps its initial weights and batches; scripts/bench_torch.py loads
# them into the same model in PyTorch, checks the first loss agrees (rel 1e-4: otherwise the
# comparison means nothing and the script stops), then times the same steps with every thread
# setting (torch threads 1|2 x OPENBLAS_NUM_THREADS 1|2) and keeps its best; later rounds run
# only the setting that was best in round 1. MFU is against the
# OpenBLAS sgemm rate normlab measures in the same run. Rounds interleave everything (round 1:
# small then medium, round 2: small then medium, ...), so a change in the machine's load
# touches every contender alike. With OLD (another build's normlab binary, e.g. the build before
# a change), each round also runs OLD on the same batches, after the new build in odd rounds and
# before it in even ones, and the table adds new/old per round and its median.
# What it is not: part of the test suite, nor a correctness check beyond the first loss.
# It builds the release preset and, as root, installs python3-torch if it is missing.
#   usage: ./scripts/bench.sh [small|medium|all] [timed steps] [rounds] [OLD normlab binary]
#   e.g.:  ./scripts/bench.sh all 20 5 /work/old/build/release/normlab
#          (round 1 ~5 min, each later round ~2 min on the 2-core machine: medium's PyTorch dominates)
set -euo pipefail
cd "$(dirname "$0")/.."
which_presets="${1:-all}"
steps="${2:-20}"
rounds="${3:-1}"
old_bin="${4:-}"
./scripts/setup.sh release >/dev/null
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench: installing python3-torch (the benchmark peer)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
[ -n "$old_bin" ] && [ ! -x "$old_bin" ] && { echo "bench: OLD binary $old_bin is not an executable" >&2; exit 2; }
bin=./build/release/normlab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
presets=(small medium)
[ "$which_presets" != all ] && presets=("$which_presets")

printf '%-8s %5s %12s %12s %7s %6s %9s %9s %8s %8s\n' preset round normlab_tok/s torch_tok/s ratio MFU nl_RSS_MB pt_RSS_MB \
  allocs/step new/old
for round in $(seq 1 "$rounds"); do
  for p in "${presets[@]}"; do
    d="$tmp/$p.$round"
    mkdir -p "$d"
    # OLD (same seed: the same weights and batches) runs before the new build in even rounds
    run_old() { [ -z "$old_bin" ] || "$old_bin" --threads 2 bench --preset "$p" --steps "$steps" 2>/dev/null > "$d/old.json"; }
    [ $((round % 2)) -eq 0 ] && run_old
    nl_json=$("$bin" --threads 2 bench --preset "$p" --steps "$steps" --dump "$d" 2>/dev/null)
    echo "$nl_json" > "$d/normlab.json"
    [ $((round % 2)) -eq 1 ] && run_old
    check=$(/usr/bin/python3 scripts/bench_torch.py --dump "$d" --threads 2 --check-only) || {
      echo "bench: PyTorch and normlab disagree on the first loss: $check" >&2; exit 4; }
    # Round 1 tries every thread setting; later rounds run round 1's best one only.
    settings="1:1 1:2 2:1 2:2"
    [ -f "$tmp/$p.best" ] && settings=$(cat "$tmp/$p.best")
    for s in $settings; do
      OPENBLAS_NUM_THREADS=${s#*:} /usr/bin/python3 scripts/bench_torch.py --dump "$d" --threads "${s%:*}" >> "$d/torch.jsonl"
      echo "$s" >> "$d/torch_settings.txt"
    done
    /usr/bin/python3 - "$d" "$round" <<'PY'
import json, os, sys
d, round_ = sys.argv[1], sys.argv[2]
nl = json.load(open(f"{d}/normlab.json"))
runs = [json.loads(l) for l in open(f"{d}/torch.jsonl")]
best = max(runs, key=lambda r: r["tokens_per_s"])
old = json.load(open(f"{d}/old.json")) if os.path.exists(f"{d}/old.json") else None
print("%-8s %5s %12.0f %12.0f %6.2fx %5.1f%% %9.0f %9.0f %8.2f %8s" % (
    nl["preset"], round_, nl["tokens_per_s"], best["tokens_per_s"], nl["tokens_per_s"] / best["tokens_per_s"],
    100 * nl["mfu"], nl["peak_rss_mb"], best["peak_rss_mb"], nl["allocs_per_step"],
    "%.2f" % (nl["tokens_per_s"] / old["tokens_per_s"]) if old else "-"))
summary = {"preset": nl["preset"], "round": int(round_), "normlab": nl, "torch_best": best,
           "old": old}
with open(os.path.join(os.path.dirname(d), "rounds.jsonl"), "a") as f:
    f.write(json.dumps(summary) + "\n")
settings = [l.split()[0] for l in open(f"{d}/torch_settings.txt")]
best_setting = settings[runs.index(best)]
best_file = os.path.join(os.path.dirname(d), nl["preset"] + ".best")
if not os.path.exists(best_file):
    open(best_file, "w").write(best_setting + "\n")
PY
  done
done
/usr/bin/python3 - "$tmp/rounds.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("medians over %d round(s):" % max(r["round"] for r in rows))
for preset in dict.fromkeys(r["preset"] for r in rows):
    rs = [r for r in rows if r["preset"] == preset]
    med = lambda f: statistics.median(f(r) for r in rs)
    line = "%-8s normlab %.0f tok/s, torch best %.0f tok/s, ratio %.2fx, MFU %.1f%% (sgemm n=1024 %.1f GFLOP/s)" % (
        preset, med(lambda r: r["normlab"]["tokens_per_s"]), med(lambda r: r["torch_best"]["tokens_per_s"]),
        med(lambda r: r["normlab"]["tokens_per_s"] / r["torch_best"]["tokens_per_s"]),
        100 * med(lambda r: r["normlab"]["mfu"]), med(lambda r: r["normlab"]["sgemm_gflops"]))
    if all(r["old"] for r in rs):
        line += ", new/old %.2f (old MFU %.1f%%)" % (med(lambda r: r["normlab"]["tokens_per_s"] / r["old"]["tokens_per_s"]),
                                                     100 * med(lambda r: r["old"]["mfu"]))
    print(line)
PY
