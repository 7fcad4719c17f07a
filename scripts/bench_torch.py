#!/usr/bin/env python3
"""bench_torch.py — the PyTorch peer for `scripts/bench.sh`: the same model, weights and batches.

What it is: normlab's encoder (docs/math.md, Encoder) (post-norm LayerNorm, classify head, mean pool over real
tokens, learned positions, exact GELU) in PyTorch 1.13, loaded from the safetensors file
that `normlab bench --dump DIR` writes, fed the batches that normlab trained on. It first
checks that the loss on the first batch matches normlab's (relative 1e-4), then times
forward + backward + AdamW steps and prints one JSON line with real tokens/s and peak RSS.
What it is not: a test dependency. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import math
import resource
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"bench_torch.py: {e}; install python3-torch (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)


def read_safetensors(path):
    """A 20-line safetensors reader: u64 header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        b, e = info["data_offsets"]
        arr = np.frombuffer(blob[base + b:base + e], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


class Encoder(torch.nn.Module):
    def __init__(self, V, C, D, H, Fdim, L, max_len, eps=1e-5):
        super().__init__()
        self.D, self.H, self.L = D, H, L
        self.tok = torch.nn.Embedding(V, D)
        self.pos = torch.nn.Embedding(max_len, D)
        self.q = torch.nn.ModuleList([torch.nn.Linear(D, D) for _ in range(L)])
        self.k = torch.nn.ModuleList([torch.nn.Linear(D, D) for _ in range(L)])
        self.v = torch.nn.ModuleList([torch.nn.Linear(D, D) for _ in range(L)])
        self.o = torch.nn.ModuleList([torch.nn.Linear(D, D) for _ in range(L)])
        self.fc1 = torch.nn.ModuleList([torch.nn.Linear(D, Fdim) for _ in range(L)])
        self.fc2 = torch.nn.ModuleList([torch.nn.Linear(Fdim, D) for _ in range(L)])
        self.n1 = torch.nn.ModuleList([torch.nn.LayerNorm(D, eps=eps) for _ in range(L)])
        self.n2 = torch.nn.ModuleList([torch.nn.LayerNorm(D, eps=eps) for _ in range(L)])
        self.head = torch.nn.Linear(D, C)

    def load_normlab(self, t):
        def put(p, name):
            assert tuple(t[name].shape) == tuple(p.shape), f"{name}: {tuple(t[name].shape)} vs {tuple(p.shape)}"
            p.data.copy_(t[name])
        put(self.tok.weight, "embed.tokens.weight")
        put(self.pos.weight, "embed.positions.weight")
        for i in range(self.L):
            for m, n in ((self.q, "attn.q"), (self.k, "attn.k"), (self.v, "attn.v"), (self.o, "attn.o"),
                         (self.fc1, "ffn.fc1"), (self.fc2, "ffn.fc2"), (self.n1, "norm1"), (self.n2, "norm2")):
                put(m[i].weight, f"layers.{i}.{n}.weight")
                put(m[i].bias, f"layers.{i}.{n}.bias")
        put(self.head.weight, "head.weight")
        put(self.head.bias, "head.bias")

    def forward(self, tokens, keep):
        B, T = tokens.shape
        D, H = self.D, self.H
        dh = D // H
        x = self.tok(tokens) + self.pos(torch.arange(T))[None]
        pad = (keep == 0)[:, None, None, :]  # [B,1,1,T]: padded keys are never attended
        for i in range(self.L):
            q = self.q[i](x).view(B, T, H, dh).transpose(1, 2)
            k = self.k[i](x).view(B, T, H, dh).transpose(1, 2)
            v = self.v[i](x).view(B, T, H, dh).transpose(1, 2)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
            a = torch.softmax(s.masked_fill(pad, float("-inf")), dim=-1)
            y = (a @ v).transpose(1, 2).reshape(B, T, D)
            h = self.n1[i](x + self.o[i](y))
            x = self.n2[i](h + self.fc2[i](F.gelu(self.fc1[i](h))))
        kf = keep.to(x.dtype)[..., None]
        pooled = (x * kf).sum(1) / kf.sum(1)
        return self.head(pooled)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="folder written by `normlab bench --dump`")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    spec = json.load(open(f"{args.dump}/bench.json"))
    weights, _ = read_safetensors(f"{args.dump}/weights.safetensors")
    m = spec["model"]
    model = Encoder(m["vocab"], m["classes"], m["d_model"], m["heads"], m["d_ff"], m["layers"], m["max_len"])
    model.load_normlab(weights)
    o = spec["optim"]
    opt = torch.optim.AdamW(model.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                            weight_decay=o["weight_decay"])
    batches = []
    for b in spec["batches"]:
        tokens = torch.tensor(b["tokens"], dtype=torch.long).view(b["B"], b["T"])
        keep = (tokens != 0)
        batches.append((tokens, keep, torch.tensor(b["labels"], dtype=torch.long), int(keep.sum())))

    # Parity: same weights, same first batch => same loss.
    with torch.no_grad():
        tokens, keep, labels, _ = batches[0]
        loss0 = F.cross_entropy(model(tokens, keep), labels).item()
    rel = abs(loss0 - spec["first_loss"]) / max(abs(spec["first_loss"]), 1e-12)
    out = {"first_loss_torch": loss0, "first_loss_normlab": spec["first_loss"], "rel_diff": rel,
           "same_model": rel <= 1e-4, "threads": args.threads}
    if args.check_only or rel > 1e-4:
        print(json.dumps(out))
        sys.exit(0 if rel <= 1e-4 else 4)

    warmup = spec["warmup_steps"]
    def step(b):
        tokens, keep, labels, _ = b
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tokens, keep), labels)
        loss.backward()
        opt.step()
    for b in batches[:warmup]:
        step(b)
    t0 = time.perf_counter()
    real = 0
    for b in batches[warmup:]:
        step(b)
        real += b[3]
    secs = time.perf_counter() - t0
    out.update({"tokens_per_s": real / secs, "seconds": secs,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
