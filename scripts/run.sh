#!/usr/bin/env bash
# run.sh — the main job: build normlab, then run the LayerNorm vs BatchNorm comparison.
#
# What it is: setup.sh release, then `normlab compare` on configs/compare/ln_vs_bn.json
# (6 norms x 5 seeds + 5 confirmatory seeds, 2 runs at a time: its "variants", "seeds" and "jobs") or the config given,
# and where the report is.
# Finished runs are kept, so a second call only redraws the report.
# What it is not: the comparison logic (src/compare/) nor the tests (test.sh).
#   usage: ./scripts/run.sh [compare config]     (default: configs/compare/ln_vs_bn.json)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh release
config="${1:-configs/compare/ln_vs_bn.json}"
start=$(date +%s)
status=0
./build/release/normlab compare "$config" || status=$?
echo "run.sh: compare took $(( $(date +%s) - start ))s"
out=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("out_dir", ""))' "$config" 2>/dev/null || true)
[ -n "$out" ] || out="runs/compare/$(basename "$config" .json)"
if [ -f "$out/report.md" ]; then echo "run.sh: report: $out/report.md"; else echo "run.sh: no report was written" >&2; fi
exit $status
