#!/usr/bin/python3
"""plot_compare.py — the plots of a `normlab compare` folder, as small PNGs.

What it is: four matplotlib figures drawn from files `normlab compare` already wrote.
What it is not: the statistics: summary.json (written by `normlab compare`) holds those;
this script only averages the metrics.csv curves over seeds (mean, min-max band) to draw them.

usage: /usr/bin/python3 scripts/plot_compare.py OUT_DIR

Reads OUT_DIR/summary.json (variants, seeds, run folders, splits) and each run's
metrics.csv (columns documented in include/normlab/train/trainer.h), and writes:
  OUT_DIR/plots/loss.png       training loss vs step per variant: mean over seeds, min-max band, log y
  OUT_DIR/plots/eval_acc.png   final evaluation accuracy per length split (grouped bars, mean ± std,
                               unseen lengths hatched)
  OUT_DIR/plots/drift.png      BatchNorm drift_mean and drift_var vs step, per layer (mean over seeds)
  OUT_DIR/plots/grad_norm.png  gradient norm per layer group vs step, per variant (mean over seeds)
Exit codes: 0 ok, 2 bad input, 3 matplotlib missing.
"""
import csv
import json
import math
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("install python3-matplotlib")
    sys.exit(3)

DPI = 100


def read_csv(path):
    """metrics.csv as {column: [float or nan]}; empty cells are nan."""
    cols = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return {}
        for name in header:
            cols[name] = []
        for row in reader:
            if not row:
                continue
            for i, name in enumerate(header):
                cell = row[i] if i < len(row) else ""
                try:
                    cols[name].append(float(cell) if cell != "" else math.nan)
                except ValueError:
                    cols[name].append(math.nan)
    return cols


def finite(x):
    return x is not None and not math.isnan(x) and not math.isinf(x)


def over_seeds(runs, column):
    """Align runs on step; return steps, mean, lo, hi (min-max over seeds) for `column`."""
    by_step = {}
    for cols in runs:
        if column not in cols or "step" not in cols:
            continue
        for s, v in zip(cols["step"], cols[column]):
            if finite(v):
                by_step.setdefault(s, []).append(v)
    steps = sorted(by_step)
    mean = [sum(by_step[s]) / len(by_step[s]) for s in steps]
    lo = [min(by_step[s]) for s in steps]
    hi = [max(by_step[s]) for s in steps]
    return steps, mean, lo, hi


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2])
        return 2
    out = sys.argv[1]
    try:
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError) as e:
        print("plot_compare: cannot read %s/summary.json: %s" % (out, e))
        return 2
    plots = os.path.join(out, "plots")
    os.makedirs(plots, exist_ok=True)

    variants = [v["name"] for v in summary["variants"]]
    runs = {}  # variant -> [metrics columns of each run that has a metrics.csv]
    for v in summary["variants"]:
        runs[v["name"]] = []
        for r in v["runs"]:
            path = os.path.join(out, r["dir"], "metrics.csv")
            if os.path.exists(path):
                runs[v["name"]].append(read_csv(path))
    colors = {name: plt.cm.tab10(i % 10) for i, name in enumerate(variants)}
    target = summary["compare"].get("target_loss")

    # 1. training loss vs step, band over seeds
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name in variants:
        steps, mean, lo, hi = over_seeds(runs[name], "loss")
        if not steps:
            continue
        ax.plot(steps, mean, color=colors[name], label="%s (%d)" % (name, len(runs[name])), lw=1.4)
        ax.fill_between(steps, lo, hi, color=colors[name], alpha=0.18, lw=0)
    if finite(target) and target > 0:
        ax.axhline(target, color="gray", ls=":", lw=1, label="target loss")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (log)")
    ax.set_title("Training loss: mean over seeds, band = min..max")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(os.path.join(plots, "loss.png"), dpi=DPI)
    plt.close(fig)

    # 2. evaluation accuracy by length split, grouped bars (mean ± std)
    splits = summary.get("splits", [])
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    width = 0.8 / max(1, len(variants))
    for vi, v in enumerate(summary["variants"]):
        xs, ys, es, hatches = [], [], [], []
        for si, sp in enumerate(splits):
            st = v["stats"]["eval"].get(sp["name"], {}).get("acc", {})
            if st.get("mean") is None:
                continue
            xs.append(si - 0.4 + width * (vi + 0.5))
            ys.append(st["mean"])
            es.append(st.get("std") or 0.0)
            hatches.append("//" if sp.get("seen") is False else "")
        bars = ax.bar(xs, ys, width, yerr=es, color=colors[v["name"]], label=v["name"],
                      capsize=2, error_kw={"lw": 0.8})
        for b, h in zip(bars, hatches):
            b.set_hatch(h)
    labels = []
    for sp in splits:
        tag = {True: "seen", False: "unseen"}.get(sp.get("seen"), "?")
        labels.append("%s\n(%s)" % (sp["name"], tag))
    ax.set_xticks(range(len(splits)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylim(0, 1.22)  # room for the legend above the bars
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy")
    ax.set_title("Final evaluation accuracy by length (hatched = unseen lengths)")
    ax.legend(fontsize=7, ncol=min(6, len(variants)), loc="upper center")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(os.path.join(plots, "eval_acc.png"), dpi=DPI)
    plt.close(fig)

    # 3. BatchNorm drift per layer (one row per variant that has BatchNorm layers)
    layers = summary.get("batchnorm_layers", [])
    bn_variants = [n for n in variants
                   if any(("drift_mean/" + L) in cols for cols in runs[n] for L in layers)]
    if bn_variants:
        fig, axes = plt.subplots(len(bn_variants), 2, figsize=(7.6, 2.6 * len(bn_variants)),
                                 squeeze=False, sharex=True)
        for row, name in enumerate(bn_variants):
            for col, which in enumerate(["drift_mean", "drift_var"]):
                ax = axes[row][col]
                for li, L in enumerate(layers):
                    steps, mean, lo, hi = over_seeds(runs[name], which + "/" + L)
                    if steps:
                        ax.plot(steps, mean, lw=1.0, label=L, color=plt.cm.viridis(li / max(1, len(layers) - 1)))
                ax.set_yscale("log")
                ax.set_title("%s: %s" % (name, which), fontsize=9)
                ax.grid(alpha=0.3, which="both")
                if row == len(bn_variants) - 1:
                    ax.set_xlabel("step")
        axes[0][1].legend(fontsize=6, ncol=1)
        fig.suptitle("BatchNorm drift ||batch stat - running stat|| / D (mean over seeds)", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "drift.png"), dpi=DPI)
        plt.close(fig)

    # 4. gradient norm per layer group, one panel per variant
    groups = summary.get("grad_groups", [])
    if groups:
        n = len(variants)
        ncols = min(3, n)
        nrows = (n + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.5 * nrows), squeeze=False,
                                 sharex=True, sharey=True)
        for i, name in enumerate(variants):
            ax = axes[i // ncols][i % ncols]
            for gi, G in enumerate(groups):
                steps, mean, lo, hi = over_seeds(runs[name], "grad_norm/" + G)
                if steps:
                    ax.plot(steps, mean, lw=1.0, label=G, color=plt.cm.plasma(gi / max(1, len(groups) - 1) * 0.9))
            ax.set_yscale("log")
            ax.set_title(name, fontsize=9)
            ax.grid(alpha=0.3, which="both")
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].axis("off")
        axes[0][0].legend(fontsize=6)
        fig.suptitle("Gradient norm per layer group (as logged, mean over seeds)", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "grad_norm.png"), dpi=DPI)
        plt.close(fig)

    print("plot_compare: wrote %s" % plots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
