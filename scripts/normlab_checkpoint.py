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

What it is not: a writer, nor a general safetensors reader (F32 only, like normlab).
As a script it prints one line per tensor (name, shape, and with --values every value
as %.9g, which reads back as the same float32), used by tests/unit/test_python_reader.cpp:
    /usr/bin/python3 scripts/normlab_checkpoint.py runs/tiny/checkpoint.safetensors [--values]
"""
import json
import sys

import numpy as np


def _read_header(f, path):
    raw = f.read(8)
    if len(raw) != 8:
        raise ValueError(f"{path}: too short for the 8-byte header length")
    n = int.from_bytes(raw, "little")
    header = f.read(n)
    if len(header) != n:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    return json.loads(header.decode("utf-8")), 8 + n


def metadata(path):
    """The checkpoint's __metadata__ as a dict of strings."""
    with open(path, "rb") as f:
        header, _ = _read_header(f, path)
    return dict(header.get("__metadata__", {}))


def load(path):
    """(tensors, config, vocab, classes) of a normlab checkpoint; see the module docstring."""
    with open(path, "rb") as f:
        header, data_begin = _read_header(f, path)
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {e['dtype']} (normlab writes F32 only)")
        begin, end = e["data_offsets"]
        shape = tuple(e["shape"])
        a = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin)
        tensors[name] = a.reshape(shape).astype(np.float32)  # a copy, native byte order
    config = json.loads(meta["config"]) if "config" in meta else None
    vocab = json.loads(meta["vocab"]) if "vocab" in meta else None
    classes = json.loads(meta["classes"]) if "classes" in meta else None
    return tensors, config, vocab, classes


def _main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    tensors, config, vocab, classes = load(argv[1])
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
