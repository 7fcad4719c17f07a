#!/bin/sh
# test_install.sh BUILD_DIR CMAKE — `cmake --install` into a fresh prefix, then the installed
# normlab, run from that prefix (away from the source tree): --help, and a tiny compare whose
# plots are drawn by the installed share/normlab/scripts/plot_compare.py. CTest runs it
# (install_prefix); exit 77 (skipped) when /usr/bin/python3 has no matplotlib.
# What it is not: a packaging test (no .deb); the prefix is removed at the end.
set -eu
build="$1"
cmake="$2"
# the tiny comparison the tests share (2 norms x 2 seeds, 6 steps each)
tiny_compare="$(cd "$(dirname "$0")/.." && pwd)/configs/tiny_compare.json"
prefix=$(mktemp -d "${TMPDIR:-/tmp}/normlab_install_XXXXXX")
trap 'rm -rf "$prefix"' EXIT

"$cmake" --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/normlab" || { echo "not installed: bin/normlab"; exit 1; }
for f in scripts/plot_compare.py scripts/normlab_checkpoint.py data/wordlang/train.tsv configs/tiny.json; do
  test -f "$prefix/share/normlab/$f" || { echo "not installed: share/normlab/$f"; exit 1; }
done

cd "$prefix"
"$prefix/bin/normlab" --help >help.txt
grep -q "Train a model from a JSON config" help.txt || { echo "installed normlab --help:"; cat help.txt; exit 1; }

if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no matplotlib (apt-get install python3-matplotlib); the plotting path is untested"
  exit 77
fi
"$prefix/bin/normlab" --threads 1 compare "$tiny_compare" --out cmp --jobs 1 >compare.txt 2>&1 || { cat compare.txt; exit 1; }
grep -q "drawn by $prefix/share/normlab/scripts/plot_compare.py" compare.txt || { echo "plots not drawn by the installed script:"; cat compare.txt; exit 1; }
ls cmp/plots/*.png >/dev/null || { echo "no plots in cmp/plots"; exit 1; }
echo "installed normlab: --help and compare with plots OK"
