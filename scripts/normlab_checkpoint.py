#!/usr/bin/python3
"""normlab_checkpoint.py — read a normlab checkpoint (safetensors, F32) with numpy only.

What it is: load(path) -> (tensors, config, vocab, classes):
  tensors  dict name -> np.ndarray (float32, the stored shape), every tensor in the file:
           parameters (embed.tokens.weight, layers.0.norm1.weight, ...), BatchNorm
           buffers (layers.0.norm1.running_mean, ...) and optimizer state (optim.*)
  config   the resolved config the run was trained with (dict), or None
  vocab    list: token id -> token string (None for checkpoints older than the model card)
  classes  list: class id -> name (None likewise)
and metadata(path) for the whole __metadata__ (step, head, task, data_crc32, ...).
The format: 8-byte little-endian header length N, N bytes of JSON, then the raw
little-endian float32 data; each tensor's bytes at [begin, end) of the data section.
Linear weights are [out, in], as in PyTorch.

Checked as strictly as normlab's own reader (src/train/checkpoint.cpp), and every way a
file can be wrong is one ValueError starting with the file's path (never a KeyError,
TypeError, MemoryError, OverflowError or RecursionError):
  - a regular file (opened without blocking: a FIFO or a device is refused), at most 64 GiB;
  - N at most 100,000,000 and inside the file; the header UTF-8 JSON, nested at most 64
    deep, an object without duplicate keys, NaN or Infinity;
  - __metadata__ an object of strings; each tensor {"dtype": "F32", "shape": [ints >= 0],
    "data_offsets": [begin, end]} with end - begin = 4 x the shape's product, and the
    tensors tiling the data section exactly (no overlap, no hole, nothing after);
  - header_crc32: the CRC32 (zlib) of bytes [0, 8+N) with its own 8 hex digits read as
    "00000000"; data_crc32: the CRC32 of the data section. A file without them (written
    before checksums) loads with a note on stderr, as in normlab;
  - config a JSON object, vocab and classes JSON arrays of strings.

What it is not: a writer, nor a general safetensors reader (F32 only, like normlab).
As a script it prints one line per tensor (name, shape, and with --values every value
as %.9g, which reads back as the same float32), used by tests/unit/cli/test_python_reader.cpp:
    /usr/bin/python3 scripts/normlab_checkpoint.py runs/tiny/checkpoint.safetensors [--values]
"""
import json
import os
import stat
import sys
import zlib

import numpy as np

MAX_FILE_BYTES = 64 << 30      # normlab's kMaxCheckpointBytes
MAX_HEADER_BYTES = 100000000   # safetensors' MAX_HEADER_SIZE
MAX_DEPTH = 64                 # normlab's kMaxJsonDepth
DATA_CRC32 = "data_crc32"
HEADER_CRC32 = "header_crc32"


def _fail(path, what):
    raise ValueError(f"{path}: {what}")


def _read_file(path):
    """The whole file: a regular file only (O_NONBLOCK: a FIFO never blocks), size capped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        _fail(path, f"cannot open: {e.strerror}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            _fail(path, "not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            _fail(path, f"{st.st_size} bytes is more than the {MAX_FILE_BYTES}-byte limit")
        chunks, size = [], 0
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            size += len(b)
            if size > MAX_FILE_BYTES:
                _fail(path, f"more than the {MAX_FILE_BYTES}-byte limit")
            chunks.append(b)
        return b"".join(chunks)
    except OSError as e:
        _fail(path, f"cannot read: {e.strerror}")
    finally:
        os.close(fd)


def _check_depth(text, path, what):
    """Nesting of [ and { outside strings at most MAX_DEPTH (json.loads recurses)."""
    depth, in_string, escaped = 0, False, False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                _fail(path, f"{what}: JSON nested deeper than {MAX_DEPTH} levels")
        elif c in "]}" and depth > 0:
            depth -= 1


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _parse_json(text, path, what):
    _check_depth(text, path, what)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        _fail(path, f"{what}: malformed JSON: {e}")


def _note(msg):
    print(f"normlab_checkpoint: note: {msg}", file=sys.stderr)


def _check_header_crc(raw, n, meta, path):
    """header_crc32 over bytes [0, 8+N) with its own digits read as 00000000 (as normlab)."""
    if HEADER_CRC32 not in meta:
        # A key one byte away is a flipped name, not an older file.
        for k in meta:
            if len(k) == len(HEADER_CRC32) and sum(a != b for a, b in zip(k, HEADER_CRC32)) == 1:
                _fail(path, f"header is corrupt: __metadata__ has {k!r} where {HEADER_CRC32} belongs")
        _note(f"{path} has no {HEADER_CRC32} (written before checksums or by another tool); its header is not verified")
        return
    pattern = b'"' + HEADER_CRC32.encode() + b'":"'
    head = raw[8:8 + n]
    at = head.find(pattern)
    stored = meta[HEADER_CRC32]
    if at < 0 or head.find(pattern, at + 1) >= 0:
        _fail(path, f"header is corrupt: {HEADER_CRC32} is not written once")
    at += len(pattern)
    if head[at:at + 8].decode("ascii", "replace") != stored or head[at + 8:at + 9] != b'"':
        _fail(path, f"header is corrupt: {HEADER_CRC32} is not 8 hex digits")
    copy = bytearray(raw[:8 + n])
    copy[8 + at:8 + at + 8] = b"00000000"
    actual = "%08x" % zlib.crc32(bytes(copy))
    if actual != stored:
        _fail(path, f"header is corrupt: CRC32 {actual} but {HEADER_CRC32} says {stored[:16]}")


def _read(path):
    """(tensor entries, metadata, data section) of a checked file."""
    path = os.fspath(path)
    raw = _read_file(path)
    if len(raw) < 8:
        _fail(path, f"truncated: {len(raw)} bytes, too short for the 8-byte header length")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        _fail(path, f"header length {n} runs past the end of the file ({len(raw)} bytes)")
    if n > MAX_HEADER_BYTES:
        _fail(path, f"header length {n} is more than the {MAX_HEADER_BYTES}-byte limit")
    try:
        text = raw[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        _fail(path, f"header is not UTF-8: {e.reason} at byte {e.start}")
    header = _parse_json(text, path, "header")
    if not isinstance(header, dict):
        _fail(path, "header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        _fail(path, "__metadata__ is not an object of strings")
    _check_header_crc(raw, n, meta, path)

    data = raw[8 + n:]
    spans = []
    for name, e in header.items():
        t = f"tensor {name[:80]!r}"
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            _fail(path, f"{t}: entry must be an object with dtype, shape and data_offsets only")
        if e["dtype"] != "F32":
            _fail(path, f"{t}: dtype {str(e['dtype'])[:40]!r} (normlab writes F32 only)")
        shape, off = e["shape"], e["data_offsets"]
        if not isinstance(shape, list) or not all(type(d) is int and 0 <= d <= 2**31 - 1 for d in shape):
            _fail(path, f"{t}: shape must be a list of integers >= 0")
        if (not isinstance(off, list) or len(off) != 2 or not all(type(o) is int and o >= 0 for o in off)
                or off[0] > off[1] or off[1] > len(data)):
            _fail(path, f"{t}: data_offsets must be [begin, end] with 0 <= begin <= end <= {len(data)}")
        count = 1
        for d in shape:
            count *= d  # Python integers: no overflow
        if off[1] - off[0] != 4 * count:
            _fail(path, f"{t}: data_offsets hold {off[1] - off[0]} bytes but the shape needs {4 * count}")
        spans.append((off[0], off[1], name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            _fail(path, f"tensor {name[:80]!r} {'overlaps the one before' if begin < at else 'leaves a hole before it'}")
        at = end
    if at != len(data):
        _fail(path, f"{len(data) - at} bytes after the last tensor")

    if DATA_CRC32 not in meta:
        _note(f"{path} has no {DATA_CRC32} (written before checksums or by another tool); its data is not verified")
    elif "%08x" % zlib.crc32(data) != meta[DATA_CRC32]:
        _fail(path, f"tensor data is corrupt: CRC32 {'%08x' % zlib.crc32(data)} but {DATA_CRC32} says "
                    f"{meta[DATA_CRC32][:16]}")
    return header, meta, data


def _meta_json(meta, key, kind, path):
    """A metadata value that holds JSON (config, vocab, classes), or None when absent."""
    if key not in meta:
        return None
    v = _parse_json(meta[key], path, f"__metadata__.{key}")
    if kind is dict and not isinstance(v, dict):
        _fail(path, f"__metadata__.{key} is not a JSON object")
    if kind is list and not (isinstance(v, list) and all(isinstance(s, str) for s in v)):
        _fail(path, f"__metadata__.{key} is not a JSON array of strings")
    return v


def metadata(path):
    """The checkpoint's __metadata__ as a dict of strings (the file checked as by load)."""
    _, meta, _ = _read(path)
    return dict(meta)


def load(path):
    """(tensors, config, vocab, classes) of a normlab checkpoint; see the module docstring."""
    header, meta, data = _read(path)
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        a = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin)
        tensors[name] = a.reshape(tuple(e["shape"])).astype(np.float32)  # a copy, native byte order
    config = _meta_json(meta, "config", dict, path)
    vocab = _meta_json(meta, "vocab", list, path)
    classes = _meta_json(meta, "classes", list, path)
    return tensors, config, vocab, classes


def _main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    try:
        tensors, config, vocab, classes = load(argv[1])
    except ValueError as e:
        print(f"normlab_checkpoint: error: {e}", file=sys.stderr)
        return 1
    values = "--values" in argv[2:]
    for name in sorted(tensors):
        t = tensors[name]
        line = f"{name} {list(t.shape)}"
        if values:
            line += " " + " ".join("%.9g" % v for v in t.reshape(-1).tolist())
        print(line)
    print("config", json.dumps(config, sort_keys=True))
    print("vocab", json.dumps(vocab))
    print("classes", json.dumps(classes))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
