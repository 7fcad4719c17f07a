#!/usr/bin/env bash
# figures.sh — rerun every comparison the README quotes, and print the tables it uses.
#
# What it is: setup.sh release, then for each comparison (all by default, or the names
# given) a fresh `normlab compare configs/compare/<name>.json --out runs/figures/<name>`
# (the folder is deleted first, so no run of an older build is reused), its wall time, and
# report.md's generated sections (results tables, tests against the reference, per length,
# BatchNorm shift/jitter, running vs batch statistics, leak_gap), headed by the commit they
# come from, and at the end the claims table of every comparison run (scripts/claims_table.py).
# The README's "What the comparisons show" quotes this output; rerun it on the final build
# on a quiet machine and paste the numbers, with the commit hash.
# What it is not: the comparisons (configs/compare/, src/compare/) nor a benchmark; the
# wall times depend on how busy the machine is.
#   usage: ./scripts/figures.sh [--keep] [name ...]
#          names: ln_vs_bn placement wordlang xu2019 batch_size length_spread mechanism syncbn
#                 neighbourhood brown_pos brown_genre brown_lm (these need data/brown: scripts/corpora.sh brown
#                 makes it first, once)
#          (default: those of them in configs/compare/)
#          --keep: keep finished runs of an earlier figures.sh in runs/figures (same config)
#          syncbn launches its train.ranks runs through mpirun (up to 4 ranks on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
if [ "${1:-}" = "--keep" ]; then keep=1; shift; fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  # Every comparison the README quotes that is shipped in configs/compare/.
  for n in ln_vs_bn placement wordlang xu2019 batch_size length_spread mechanism syncbn neighbourhood \
           brown_pos brown_genre brown_lm; do
    [ -f "configs/compare/$n.json" ] && names+=("$n")
  done
fi
for n in "${names[@]}"; do
  [ -f "configs/compare/$n.json" ] || { echo "figures.sh: no configs/compare/$n.json" >&2; exit 2; }
done
./scripts/setup.sh release >/dev/null
for n in "${names[@]}"; do  # the Brown comparisons read data/brown (a second call does nothing)
  case "$n" in brown_*) ./scripts/corpora.sh brown; break ;; esac
done
commit=$(git rev-parse --short HEAD)
dirty=""
git diff --quiet HEAD -- src include scripts configs CMakeLists.txt || dirty=" (with uncommitted changes)"
echo "figures.sh: commit $commit$dirty, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for n in "${names[@]}"; do
  out="runs/figures/$n"
  [ $keep = 1 ] || rm -rf "$out"
  echo
  echo "================ $n (configs/compare/$n.json) ================"
  runs=$(./build/release/normlab compare "configs/compare/$n.json" --out "$out" --dry-run | tail -n +2 | grep -c .)
  mkdir -p runs/figures
  start=$(date +%s)
  ./build/release/normlab compare "configs/compare/$n.json" --out "$out" >"$out.log" 2>&1 || status=1
  echo "figures.sh: $n: $runs runs, wall time $(( $(date +%s) - start )) s (log: $out.log)"
  if [ -f "$out/report.md" ]; then
    # The generated sections, from "## Replication on fresh seeds" (or "## Results" without
    # replicate_seeds) up to the plots.
    awk '/^## (Replication on fresh seeds|Results)/{p=1} /^## Plots/{p=0} p' "$out/report.md"
    echo "(plots: $out/plots/)"
  else
    echo "figures.sh: $n wrote no report (see $out.log)" >&2
    status=1
  fi
done
# The README's claims table ("Where the seed's claim holds"): every claim of the comparisons
# run here, on both seed sets and at the neighbours (scripts/claims_table.py).
dirs=()
for n in "${names[@]}"; do [ -f "runs/figures/$n/summary.json" ] && dirs+=("runs/figures/$n"); done
if [ ${#dirs[@]} -gt 0 ]; then
  echo
  echo "================ claims ================"
  /usr/bin/python3 scripts/claims_table.py --commit "$commit$dirty" "${dirs[@]}" || status=1
fi
exit $status
