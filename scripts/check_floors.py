#!/usr/bin/python3
"""check_floors.py - every room of src/ includes only the rooms docs/architecture.md allows.

Usage: scripts/check_floors.py [ROOT]     (ROOT: this checkout). Prints each include that
crosses the floors as `file:line: <room> includes normlab/<other>/...` and exits 1 if any.
What it reads: the `#include "normlab/<room>/..."` lines of src/<room>/ and
include/normlab/<room>/; a private header beside its source ("common.h") is the room's own.
What it is not: a check of what a file uses without including (a forward declaration).
"""
import os
import re
import sys

ALLOWED = {  # docs/architecture.md, "What each room includes today"
    "core": set(),
    "config": {"core"},
    "kernels": {"core"},
    "parallel": {"core"},
    "ops": {"core", "kernels"},
    "data": {"core", "config"},
    "nn": {"core", "config", "kernels", "ops", "data", "parallel"},
    "optim": {"core", "config", "nn"},
    "train": {"core", "config", "kernels", "data", "nn", "optim", "parallel"},
    "compare": {"core", "config", "nn", "parallel", "train"},
    "cli": {"core", "config", "kernels", "ops", "data", "nn", "optim", "train", "parallel", "compare"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"normlab/([a-z_]+)/')


def main(argv):
    root = argv[0] if argv else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = 0
    for top in ("src", os.path.join("include", "normlab")):
        base = os.path.join(root, top)
        for room in sorted(os.listdir(base)):
            if not os.path.isdir(os.path.join(base, room)):
                continue
            if room not in ALLOWED:
                print("%s/%s: a room docs/architecture.md does not place on a floor" % (top, room))
                bad += 1
                continue
            for d, _, files in os.walk(os.path.join(base, room)):
                for f in sorted(files):
                    path = os.path.join(d, f)
                    for n, line in enumerate(open(path, encoding="utf-8"), 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) != room and m.group(1) not in ALLOWED[room]:
                            print("%s:%d: %s includes normlab/%s/" % (os.path.relpath(path, root), n, room, m.group(1)))
                            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
