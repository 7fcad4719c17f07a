#!/usr/bin/env bash
# wordlists.sh — build the word-language identification set (task `wordlang`) from
# Debian's word lists, and write it as data/wordlang/{train,test}.tsv (text<TAB>lang).
#
# What it is: installs wamerican, wngerman, wfrench, wspanish, witalian if missing
# (dpkg -s check, then apt-get as root), reads /usr/share/dict/*, and writes a
# deterministic, balanced split (the rules below).
# What it is not: needed by the tests or by training. The generated files are committed;
# re-run it only to rebuild them (different Debian releases ship slightly different lists;
# data/wordlang/SOURCE.txt records the package versions used).
#
# The split:
#   - words are lower-cased; words with anything but letters (possessives such as
#     "dog's", hyphens, digits) are dropped;
#   - a word found in more than one language's list is dropped from all of them, so
#     every text has exactly one correct label;
#   - per language: TRAIN_N words of length 3..7 for train.tsv; TEST_SHORT_N other words
#     of length 3..7 and TEST_LONG_N words of length 8..20 for test.tsv (so evaluation
#     has a length range never seen in training);
#   - "random" choices are the order of sha256(lang + word), so the same word lists give
#     the same files on any machine and any Python version.
#   usage: scripts/wordlists.sh [OUT_DIR]        (default: data/wordlang)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-data/wordlang}"

packages=(wamerican wngerman wfrench wspanish witalian python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "wordlists: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "wordlists: need root to install ${missing[*]} (run as root, or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$out"
TRAIN_N=2000 TEST_SHORT_N=300 TEST_LONG_N=300 python3 - "$out" <<'PY'
import hashlib, os, sys, unicodedata

out = sys.argv[1]
# language code -> word list file (the packages' files in /usr/share/dict)
lists = {
    "en": "/usr/share/dict/american-english",
    "de": "/usr/share/dict/ngerman",
    "fr": "/usr/share/dict/french",
    "es": "/usr/share/dict/spanish",
    "it": "/usr/share/dict/italian",
}
train_n = int(os.environ["TRAIN_N"])
short_n = int(os.environ["TEST_SHORT_N"])
long_n = int(os.environ["TEST_LONG_N"])

words = {}
for lang, path in lists.items():
    s = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = unicodedata.normalize("NFC", line.strip()).lower()
            if w and w.isalpha():
                s.add(w)
    words[lang] = s

# drop every word that is in more than one list
count = {}
for s in words.values():
    for w in s:
        count[w] = count.get(w, 0) + 1
for lang in words:
    words[lang] = {w for w in words[lang] if count[w] == 1}

def order(lang, ws):
    return sorted(ws, key=lambda w: hashlib.sha256((lang + "\t" + w).encode()).hexdigest())

train, test = [], []
for lang in sorted(words):
    short = order(lang, [w for w in words[lang] if 3 <= len(w) <= 7])
    long_ = order(lang, [w for w in words[lang] if 8 <= len(w) <= 20])
    if len(short) < train_n + short_n or len(long_) < long_n:
        sys.exit(f"wordlists: {lang} has only {len(short)} short and {len(long_)} long words")
    train += [(w, lang) for w in short[:train_n]]
    test += [(w, lang) for w in short[train_n:train_n + short_n]]
    test += [(w, lang) for w in long_[:long_n]]

# interleave languages deterministically (hash order of the whole line)
def write(name, rows):
    rows = sorted(rows, key=lambda r: hashlib.sha256((r[0] + "\t" + r[1]).encode()).hexdigest())
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="\n") as f:
        for w, lang in rows:
            f.write(f"{w}\t{lang}\n")
    print(os.path.join(out, name), len(rows), "lines")

write("train.tsv", train)
write("test.tsv", test)
PY

{
  echo "data/wordlang: built by scripts/wordlists.sh from these Debian packages:"
  for p in wamerican wngerman wfrench wspanish witalian; do
    echo "  $p $(dpkg-query -W -f='${Version}' "$p")"
  done
  echo "train.tsv: 2000 words of length 3..7 per language (en, de, fr, es, it)"
  echo "test.tsv: 300 other words of length 3..7 and 300 words of length 8..20 per language"
  echo "lower-cased, letters only, words found in more than one list dropped"
} > "$out/SOURCE.txt"
