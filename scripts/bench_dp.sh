#!/usr/bin/env bash
# bench_dp.sh — data-parallel scaling, 1 -> 2 ranks, on bench-small and bench-medium, in one run.
#
# What it is: for each preset and round, three layouts of the same model, weights and global
# batches (normlab bench, same seed), one after another:
#   1x1  one process, one thread           (the baseline)
#   2x1  mpirun -np 2, one thread per rank (data parallel: each rank half the batch)
#   1x2  one process, two threads          (what the same two cores give without MPI)
# and per round the tokens/s of each, the speed-ups 2x1/1x1 and 1x2/1x1, and for 2x1 the
# all-reduce and the wait for the other rank per step (ms). The layouts' order rotates from
# round to round, so a change in the machine's load touches each alike; the last lines are the
# medians over the rounds. OMP_WAIT_POLICY=PASSIVE: an idle OpenMP thread sleeps instead of
# spinning on a core the other rank needs.
# What it is not: part of the test suite, nor a check of correctness (the data-parallel tests
# in tests/mpi check K=2 against K=1). Needs mpirun (scripts/setup.sh installs Open MPI).
#   usage: ./scripts/bench_dp.sh [small|medium|all] [timed steps] [rounds]
#   e.g.:  ./scripts/bench_dp.sh all 20 5     (~15 min on the idle 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
which_presets="${1:-all}"
steps="${2:-20}"
rounds="${3:-3}"
./scripts/setup.sh release >/dev/null
command -v mpirun >/dev/null || { echo "bench_dp: mpirun not found (scripts/setup.sh installs Open MPI)" >&2; exit 2; }
bin=./build/release/normlab
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
presets=(small medium)
[ "$which_presets" != all ] && presets=("$which_presets")

layout() {  # layout NAME PRESET -> the bench JSON line
  case "$1" in
    1x1) "$bin" --threads 1 bench --preset "$2" --steps "$steps" 2>/dev/null ;;
    1x2) "$bin" --threads 2 bench --preset "$2" --steps "$steps" 2>/dev/null ;;
    2x1) mpirun -q "${root[@]}" --bind-to none -np 2 "$bin" --threads 1 bench --preset "$2" --steps "$steps" 2>/dev/null ;;
  esac
}

printf '%-8s %5s %10s %10s %10s %8s %8s %12s %10s\n' preset round 1x1_tok/s 2x1_tok/s 1x2_tok/s 2x1/1x1 1x2/1x1 allreduce_ms wait_ms
orders=("1x1 2x1 1x2" "2x1 1x2 1x1" "1x2 1x1 2x1")
for round in $(seq 1 "$rounds"); do
  for p in "${presets[@]}"; do
    for l in ${orders[$(((round - 1) % 3))]}; do
      layout "$l" "$p" | grep '^{' | tail -1 > "$tmp/$p.$round.$l.json"
    done
    /usr/bin/python3 - "$tmp" "$p" "$round" <<'PY'
import json, sys
tmp, p, r = sys.argv[1:]
j = {l: json.load(open(f"{tmp}/{p}.{r}.{l}.json")) for l in ("1x1", "2x1", "1x2")}
for l in ("1x1", "2x1", "1x2"):  # the same model and batches: the same first loss
    if abs(j[l]["first_loss"] - j["1x1"]["first_loss"]) > 1e-4 * abs(j["1x1"]["first_loss"]):
        sys.exit(f"bench_dp: {l} computed first loss {j[l]['first_loss']}, 1x1 {j['1x1']['first_loss']}")
t = {l: j[l]["tokens_per_s"] for l in j}
steps = j["2x1"]["steps"]
print("%-8s %5s %10.0f %10.0f %10.0f %8.2f %8.2f %12.1f %10.1f" % (
    p, r, t["1x1"], t["2x1"], t["1x2"], t["2x1"] / t["1x1"], t["1x2"] / t["1x1"],
    1000 * j["2x1"]["allreduce_s"] / steps, 1000 * j["2x1"]["wait_s"] / steps))
with open(f"{tmp}/rounds.jsonl", "a") as f:
    f.write(json.dumps({"preset": p, "round": int(r), **{l: j[l] for l in j}}) + "\n")
PY
  done
done

/usr/bin/python3 - "$tmp/rounds.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("medians over %d round(s):" % (len(rows) // len({r["preset"] for r in rows})))
for p in dict.fromkeys(r["preset"] for r in rows):
    R = [r for r in rows if r["preset"] == p]
    med = lambda f: statistics.median(f(r) for r in R)
    tok = lambda l: (lambda r: r[l]["tokens_per_s"])
    print("%-8s 1x1 %.0f  2x1 %.0f  1x2 %.0f tok/s; 2x1/1x1 %.2f, 1x2/1x1 %.2f; 2x1 all-reduce %.1f ms, wait %.1f ms per step" % (
        p, med(tok("1x1")), med(tok("2x1")), med(tok("1x2")),
        med(lambda r: r["2x1"]["tokens_per_s"] / r["1x1"]["tokens_per_s"]),
        med(lambda r: r["1x2"]["tokens_per_s"] / r["1x1"]["tokens_per_s"]),
        med(lambda r: 1000 * r["2x1"]["allreduce_s"] / r["2x1"]["steps"]),
        med(lambda r: 1000 * r["2x1"]["wait_s"] / r["2x1"]["steps"])))
PY
