#!/usr/bin/python3
"""long_functions.py - list the functions in src/ longer than a limit (default 100 lines).

Usage: scripts/long_functions.py [--max N] [--skip FILE]... [ROOT]   ROOT: this checkout.
--skip FILE (relative to ROOT) reports that file's long functions as "known" without
failing (the suite skips nothing).
Prints `file:line: name is L lines (limit N)` for each, and exits 1 if there is any, 0 if
none. The suite runs it (CTest `long_functions`), so a function that outgrows the limit
fails the tests, as docs/architecture.md promises.

What it is: a brace-matching scan, not a C++ parser. It removes comments, string and
character literals (raw strings too), then walks the braces. A `{` opens a function body
when it is not inside another function and the code before it ends like a signature:
`)`, optionally followed by const / override / final / noexcept / mutable / `-> type`,
or a constructor's initialiser list. The length counts the lines from the line holding the
signature's `(` to the closing `}`, both included, blank and comment lines too (what a
reader scrolls through).
Its limits: a lambda is part of the function that holds it (one defined at namespace scope,
e.g. in a registrar's arguments, counts as a function of its own); a macro that expands to
braces, or unbalanced braces under #if, would mislead it (there are none in src/); the name
shown is the identifier before the signature's `(`, for a lambda "lambda".
What it is not: a style checker; it only measures.
"""
import os
import re
import sys

SUFFIXES = (".cpp", ".h")
TRAILERS = re.compile(r"(\s*(const|override|final|noexcept|mutable|->\s*[\w:<>,\s\*&]+))*\s*$")


def strip_code(text):
    """Comments, strings and char literals replaced by spaces; newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + 1)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def signature_start(code, brace):
    """If the `{` at `brace` opens a function body, the offset of its signature's `(`."""
    before = code[:brace]
    m = TRAILERS.search(before)
    head = before[: m.start()] if m else before
    # a constructor's initialiser list: `) : a_(x), b_{y} {` -> look before the `:`
    stripped = head.rstrip()
    if not stripped.endswith(")"):
        return None
    depth, k = 0, len(stripped) - 1
    while k >= 0:
        if stripped[k] == ")":
            depth += 1
        elif stripped[k] == "(":
            depth -= 1
            if depth == 0:
                break
        k -= 1
    if k < 0:
        return None
    word = re.search(r"([\w:~]+|\])\s*$", stripped[:k])
    if not word:
        return None
    name = word.group(1)
    if name in ("if", "for", "while", "switch", "catch", "return", "sizeof", "decltype"):
        return None
    # an initialiser-list entry: look further back for the constructor's own `(`
    colon = re.search(r"\)\s*:\s*[\w:]+\s*[({][^;{}]*$", stripped[:k + 1])
    if colon and name not in ("]",):
        inner = signature_start(code, colon.start() + 1)
        if inner is not None:
            return inner
    return k


def function_name(code, paren):
    m = re.search(r"([\w:~]+|\])\s*$", code[:paren])
    if not m or m.group(1) == "]":
        return "lambda"
    return m.group(1)


def long_functions(path, limit):
    code = strip_code(open(path, encoding="utf-8").read())
    found, stack = [], []  # stack entries: ("fn", start_offset, name) or ("other",)
    for i, c in enumerate(code):
        if c == "{":
            in_function = any(e[0] == "fn" for e in stack)
            start = None if in_function else signature_start(code, i)
            stack.append(("fn", start, function_name(code, start)) if start is not None else ("other",))
        elif c == "}" and stack:
            e = stack.pop()
            if e[0] == "fn":
                first = code.count("\n", 0, e[1]) + 1
                last = code.count("\n", 0, i) + 1
                if last - first + 1 > limit:
                    found.append((first, e[2], last - first + 1))
    return found


def main(argv):
    limit, root, skip = 100, os.path.dirname(os.path.dirname(os.path.abspath(__file__))), set()
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--max":
            limit = int(args.pop(0))
        elif a == "--skip":
            skip.add(args.pop(0))
        else:
            root = a
    src = os.path.join(root, "src")
    if not os.path.isdir(src):
        print("long_functions.py: no src/ under " + root, file=sys.stderr)
        return 2
    bad = 0
    for d, _, files in sorted(os.walk(src)):
        for f in sorted(files):
            if not f.endswith(SUFFIXES):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, root)
            for line, name, length in long_functions(path, limit):
                known = " (known, skipped)" if rel in skip else ""
                print("%s:%d: %s is %d lines (limit %d)%s" % (rel, line, name, length, limit, known))
                bad += 0 if known else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
