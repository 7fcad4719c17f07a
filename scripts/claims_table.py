#!/usr/bin/python3
"""claims_table.py — the README's claims table, from comparisons' summary.json files.

What it is: for each comparison folder given (its name = the folder's name), the claims of
its config as judged in summary.json `tests.claims`: one row per claim with the comparison,
the metric, the cells, the verdict on the exploratory seeds and on the confirmatory seeds,
and the verdicts at the neighbours of any comparison with `neighbours` that re-checks the
same claim (same words, metric and cells). A comparison with neighbours whose claims no
other folder given holds gets rows of its own. Printed as one markdown table headed by the
commit (scripts/figures.sh passes it). Every word is read from summary.json; nothing is
recomputed.
What it is not: the judging (src/compare/tests.cpp) nor a report (report.md has its own
"Claims" section).
    usage: claims_table.py --commit HASH DIR [DIR ...]
"""
import argparse
import json
import os
import sys


def seeds_label(seeds):
    """[1, 2, 3, 4, 5] -> "seeds 1..5"; anything else listed."""
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}..{seeds[-1]}"
    return "seeds " + ", ".join(str(s) for s in seeds)


def claim_key(c):
    return (c["claim"], c["metric"], c["a"], c["b"])


def neighbour_words(verdicts):
    """{"d16": "holds", ...} -> "holds: d16; fails: issue20" in verdict order."""
    parts = []
    for kind in ("holds", "fails", "inconclusive", "not tested"):
        names = [n for n, v in verdicts.items() if v == kind]
        if names:
            parts.append(kind + ": " + ", ".join(names))
    return "; ".join(parts) if parts else "-"


def load(dirs):
    out = []
    for d in dirs:
        path = os.path.join(d, "summary.json")
        try:
            with open(path) as f:
                out.append((os.path.basename(os.path.normpath(d)), json.load(f)))
        except (OSError, ValueError) as e:
            sys.exit(f"claims_table.py: {path}: {e}")
    return out


def rows_of(summaries):
    """The table's rows: claim, comparison, metric, cells, exploratory, confirmatory, {neighbour: verdict}.
    Comparisons without neighbours first; then each with neighbours adds its verdicts to the
    rows of the claims it re-checks, and rows of its own for the others."""
    rows, index = [], {}
    plain = [(n, s) for n, s in summaries if not s.get("neighbours")]
    around = [(n, s) for n, s in summaries if s.get("neighbours")]
    for name, s in plain + around:
        for c in s.get("tests", {}).get("claims", []):
            if claim_key(c) not in index:
                index[claim_key(c)] = len(rows)
                rows.append([c["claim"], name, c["metric"], f"`{c['a']}` vs `{c['b']}`", c["exploratory"],
                             c.get("confirmatory", "not run"), {}])
            if c.get("neighbours"):
                rows[index[claim_key(c)]][6].update(c["neighbours"])
    return rows


def main():
    ap = argparse.ArgumentParser(description="the README's claims table from summary.json files")
    ap.add_argument("--commit", required=True)
    ap.add_argument("dirs", nargs="+", help="comparison folders (each with summary.json)")
    a = ap.parse_args()
    summaries = load(a.dirs)
    rows = rows_of(summaries)
    if not rows:
        return
    meta = summaries[0][1]["compare"]
    exploratory = seeds_label(meta.get("seeds", []))
    confirmatory = seeds_label(meta.get("replicate_seeds", [])) if meta.get("replicate_seeds") else "confirmatory seeds"
    print(f"Claims table (scripts/claims_table.py) from {', '.join(n for n, _ in summaries)}, commit {a.commit}:\n")
    print(f"| claim | comparison | metric | cells (a vs b) | {exploratory} | {confirmatory} | neighbours |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r[:6] + [neighbour_words(r[6])]) + " |")


if __name__ == "__main__":
    main()
