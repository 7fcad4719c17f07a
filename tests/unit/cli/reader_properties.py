#!/usr/bin/python3
"""reader_properties.py — property test of scripts/normlab_checkpoint.py, run by
tests/unit/cli/test_python_reader.cpp with /usr/bin/python3:
    reader_properties.py SCRIPTS_DIR CHECKPOINT SCRATCH_DIR [CASES]

What it checks, from a seeded generator (the same cases every run):
  1. every bit flip in the length and the header, and one in every 64 data bytes, of a real
     normlab checkpoint: load() refuses each with a ValueError starting with the file's path;
  2. random headers (random JSON types for every field, negative, huge and float shapes,
     offsets out of range, overlapping or with holes, unknown dtypes, deep nesting, bytes that
     are not UTF-8, lengths past the end): load() and metadata() return or raise ValueError
     naming the file, never another exception (KeyError, TypeError, MemoryError,
     OverflowError, RecursionError, ...);
  3. random well-formed files written with correct CRCs load, with the values written.
Prints "ok: N cases" and exits 0, or prints the first failing case and exits 1.
What it is not: a test of normlab's C++ reader (test_checkpoint.cpp, fuzz_safetensors).
"""
import json
import os
import random
import struct
import sys
import zlib

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import normlab_checkpoint as nc  # noqa: E402

CKPT, SCRATCH = sys.argv[2], sys.argv[3]
CASES = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
rng = random.Random(1)
checked = 0


def fail(what, blob=None):
    print(f"FAIL: {what}")
    if blob is not None:
        print(f"  file (first 300 bytes): {blob[:300]!r}")
    sys.exit(1)


def outcome(path, blob):
    """'ok', or 'refused' (a ValueError naming the file); anything else fails the test."""
    global checked
    checked += 1
    with open(path, "wb") as f:
        f.write(blob)
    try:
        nc.load(path)
        nc.metadata(path)
        return "ok"
    except ValueError as e:
        if not str(e).startswith(path + ": "):
            fail(f"ValueError not naming the file: {e}", blob)
        return "refused"
    except BaseException as e:  # noqa: B902 — any other exception is the bug this test looks for
        fail(f"{type(e).__name__} instead of ValueError: {str(e)[:200]}", blob)


def with_crcs(header, data):
    """A file whose header_crc32 and data_crc32 are right (as normlab writes them)."""
    meta = dict(header.get("__metadata__", {})) if isinstance(header.get("__metadata__"), dict) else None
    if meta is not None:
        meta["data_crc32"] = "%08x" % zlib.crc32(data)
        meta["header_crc32"] = "00000000"
        header = dict(header, __metadata__=meta)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    blob = bytearray(struct.pack("<Q", len(text)) + text)
    if meta is not None:
        at = text.find(b'"header_crc32":"') + len(b'"header_crc32":"')
        crc = "%08x" % zlib.crc32(bytes(blob))
        blob[8 + at:8 + at + 8] = crc.encode()
    return bytes(blob) + data


def random_value(depth=0):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63), 10**30, rng.randrange(-5, 100)])
    if kind == 2:
        return rng.choice([0.5, -0.0, 1e308, 3.0])
    if kind == 3:
        return rng.choice(["F32", "F16", "", "x" * 50, "\u00e9", "header_crc32"])
    if kind in (4, 5) and depth < 4:
        return [random_value(depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6 and depth < 4:
        return {rng.choice(["dtype", "shape", "data_offsets", "a"]): random_value(depth + 1) for _ in range(3)}
    return rng.randrange(0, 64)


def random_header(data_len):
    header = {}
    at = 0
    for i in range(rng.randrange(0, 4)):
        n = rng.randrange(0, 4)
        entry = {"dtype": "F32", "shape": [n], "data_offsets": [at, at + 4 * n]}
        at += 4 * n
        field = rng.choice(["dtype", "shape", "data_offsets", None, "extra", "whole"])
        if field == "whole":
            entry = random_value()
        elif field == "extra":
            entry["extra"] = random_value()
        elif field is not None:
            entry[field] = random_value()
        header[rng.choice(["w", "b", "layers.0.w", "x" + str(i), "__metadata__"])] = entry
    if rng.random() < 0.8:
        meta = {"step": "1"}
        for key in ("config", "vocab", "classes"):
            if rng.random() < 0.5:
                meta[key] = rng.choice(['{"model": {}}', '["a","b"]', "[1,2]", "{", "null", "[" * 100 + "]" * 100])
        if rng.random() < 0.2:
            meta["odd"] = random_value()
        header["__metadata__"] = meta
    return header


# 1. flips of a real checkpoint
good = open(CKPT, "rb").read()
n = struct.unpack("<Q", good[:8])[0]
path = os.path.join(SCRATCH, "flip.safetensors")
if outcome(path, good) != "ok":
    fail("the unflipped checkpoint does not load")
for at in list(range(0, 8 + n)) + list(range(8 + n, len(good), 64)):
    bad = bytearray(good)
    bad[at] ^= 1 << (at % 8)
    if outcome(path, bytes(bad)) != "refused":
        fail(f"a flipped bit at byte {at} (of {len(good)}, header {8 + n}) loaded", bytes(bad))

# 2. random headers, with and without right checksums, and random damage
path = os.path.join(SCRATCH, "random.safetensors")
refused = loaded = 0
for case in range(CASES):
    data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 12, 40])))
    header = random_header(len(data))
    blob = with_crcs(header, data) if rng.random() < 0.7 else (
        struct.pack("<Q", len(json.dumps(header))) + json.dumps(header).encode() + data)
    damage = rng.randrange(8)
    if damage == 0:
        blob = blob[:rng.randrange(len(blob) + 1)]  # truncated
    elif damage == 1:
        blob = struct.pack("<Q", rng.choice([0, 1, 2**63, 2**64 - 1, len(blob)])) + blob[8:]
    elif damage == 2 and len(blob) > 8:
        i = rng.randrange(8, len(blob))
        blob = blob[:i] + bytes([rng.randrange(256)]) + blob[i + 1:]
    elif damage == 3:
        text = b"{" * 100000 + b"}" * 100000
        blob = struct.pack("<Q", len(text)) + text
    elif damage == 4:
        text = b'{"a":"\xff\xfe"}'
        blob = struct.pack("<Q", len(text)) + text
    result = outcome(path, blob)
    refused += result == "refused"
    loaded += result == "ok"

# 3. well-formed files load with their values
path = os.path.join(SCRATCH, "good.safetensors")
for case in range(200):
    values, header, at = {}, {}, 0
    for i in range(rng.randrange(1, 4)):
        shape = [rng.randrange(0, 4) for _ in range(rng.randrange(0, 3))]
        a = np.array([rng.uniform(-1, 1) for _ in range(int(np.prod(shape)))], dtype="<f4").reshape(shape)
        values[f"t{i}"] = a
        header[f"t{i}"] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + a.nbytes]}
        at += a.nbytes
    header["__metadata__"] = {"vocab": '["<pad>","a"]', "classes": '["x","y"]'}
    data = b"".join(values[k].tobytes() for k in values)
    blob = with_crcs(header, data)
    if outcome(path, blob) != "ok":
        fail("a well-formed file was refused", blob)
    tensors, _, vocab, classes = nc.load(path)
    for k, a in values.items():
        if tensors[k].shape != a.shape or not np.array_equal(tensors[k], a):
            fail(f"tensor {k} read back differently", blob)
    if vocab != ["<pad>", "a"] or classes != ["x", "y"]:
        fail("vocab or classes read back differently", blob)

if refused == 0 or loaded == 0:
    fail(f"the generator is off: {refused} refused, {loaded} loaded of {CASES}")
print(f"ok: {checked} cases ({refused} random files refused, {loaded} loaded)")
