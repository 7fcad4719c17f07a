#!/usr/bin/env bash
# compare_over_ranks.sh — `mpirun -np 2 normlab compare` against `normlab compare` (CTest
# mpi_compare_over_ranks).
#
# What it checks: a tiny comparison, 2 variants x 2 seeds, one variant data parallel
# (train.ranks = 2, so compare launches it through mpirun), run once by one compare process
# and once by 2 compare ranks under mpirun:
#  - both exit 0 and their summary.json hold the same numbers (times and folders aside): the
#    same runs, whichever process ran them;
#  - under mpirun both ranks ran runs (run i on rank i mod 2), and a train.ranks = 2 run
#    started by a compare rank is a job of its own (mpirun's variables are not passed on:
#    with them the child would join compare's job and fail or hang);
#  - a run that fails on rank 1 is reported by rank 0 (the summary line and report.md) and
#    the job exits 1.
# What it does not check: the numbers of data-parallel training (test_data_parallel.cpp).
#   usage: compare_over_ranks.sh NORMLAB MPIRUN
set -euo pipefail
normlab="$1"
# timeout: a compare whose children joined its own MPI job hangs; fail in minutes instead
mpirun="timeout 150 $2 -q --allow-run-as-root --oversubscribe"
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/normlab_mpi_compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE

fail() { echo "FAILED: $*"; exit 1; }

# The tests' shared tiny comparison, its batchnorm variant made SyncBatchNorm on 2 ranks.
"$py" - "$(dirname "$0")/../configs/tiny_compare.json" "$tmp/cmp.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["variants"] = {"layernorm": {"model.norm.type": "layernorm"},
                 "bn_sync_2ranks": {"model.norm.type": "batchnorm", "model.norm.sync": True, "train.ranks": 2}}
c["jobs"] = 1
json.dump(c, open(sys.argv[2], "w"))
EOF

# 1. one compare process, 2. two compare ranks
"$normlab" --threads 1 compare "$tmp/cmp.json" --out "$tmp/one" >"$tmp/one.log" 2>&1 ||
  { cat "$tmp/one.log"; fail "compare without mpirun exited $?"; }
$mpirun -np 2 "$normlab" --threads 1 compare "$tmp/cmp.json" --out "$tmp/two" >"$tmp/two.log" 2>&1 ||
  { cat "$tmp/two.log"; fail "mpirun -np 2 compare exited $?"; }
cat "$tmp/two.log"
grep -q "rank 0 of 2: \[1/2\] layernorm/seed1 finished" "$tmp/two.log" || fail "rank 0 did not run layernorm/seed1"
grep -q "rank 1 of 2: \[1/2\] layernorm/seed2 finished" "$tmp/two.log" || fail "rank 1 did not run layernorm/seed2"
grep -q "rank 1 of 2: \[2/2\] bn_sync_2ranks/seed2 finished" "$tmp/two.log" || fail "rank 1 did not run bn_sync_2ranks/seed2"
[ "$(grep -c 'compare: summary' "$tmp/two.log")" = 1 ] || fail "not exactly one summary line (rank 0's)"
grep -q "data parallel over 2 ranks" "$tmp/two/bn_sync_2ranks/seed2/stderr.log" ||
  fail "the train.ranks = 2 run did not run on 2 ranks"

"$py" - "$tmp/one/summary.json" "$tmp/two/summary.json" <<'EOF'
import json, sys
def strip(v):
    # wall-clock times and folders differ between the two comparisons; nothing else may
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if not any(w in k for w in ("seconds", "dir", "path", "wall", "time"))}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    print("summary.json differs between 1 and 2 compare ranks")
    print(json.dumps(a, indent=1)[:3000]); print(json.dumps(b, indent=1)[:3000])
    sys.exit(1)
print("summary.json: the same numbers from 1 and 2 compare ranks")
EOF

# 3. a run that fails on rank 1. Plan: train.ranks=0/seed1 (rank 0, trains), train.ranks=3/seed1
# (rank 1: 3 ranks do not split the batch of 8, exit 2).
"$py" - "$tmp/cmp.json" "$tmp/bad.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["variants"] = {"layernorm": {"model.norm.type": "layernorm"}}
c["sweep"] = {"train.ranks": [0, 3]}
c["seeds"] = [1]
json.dump(c, open(sys.argv[2], "w"))
EOF
set +e
$mpirun -np 2 "$normlab" --threads 1 compare "$tmp/bad.json" --out "$tmp/bad" >"$tmp/bad.log" 2>&1
code=$?
set -e
cat "$tmp/bad.log"
[ "$code" = 1 ] || fail "a failed run should make compare exit 1, not $code"
grep -q "rank 1 of 2: \[1/1\] layernorm/train.ranks=3/seed1 FAILED (exit code" "$tmp/bad.log" ||
  fail "rank 1 did not report its failed run"
grep -q "1 run(s) without a result: layernorm/train.ranks=3/seed1 (failed)" "$tmp/bad.log" ||
  fail "rank 0 did not list rank 1's failed run"
grep -q "train.batch_size" "$tmp/bad/report.md" || fail "report.md does not give the failed run's error"
echo "compare over ranks: all checks passed"
