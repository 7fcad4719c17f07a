#!/usr/bin/python3
"""plot_compare.py — the plots of a `normlab compare` folder, as small PNGs.

What it is: matplotlib figures drawn from files `normlab compare` already wrote.
What it is not: the statistics: summary.json (written by `normlab compare`) holds those
(means, 95% intervals, tests); this script only averages the metrics.csv curves over seeds
(mean, min-max band) to draw the training curves.

usage: /usr/bin/python3 scripts/plot_compare.py OUT_DIR

Reads OUT_DIR/summary.json (variants, sweep points, seeds, run folders, splits) and each run's
metrics.csv, whose column names it takes from summary.json "schema" (written by compare from
include/normlab/train/metrics_schema.h, their one source), and writes:
  OUT_DIR/plots/sweep.png      (sweeps only) each metric vs the sweep value per variant, mean with
                               95% interval (one panel per metric)
  OUT_DIR/plots/loss.png       training loss vs step per variant: mean over seeds, min-max band, log y
                               (one panel per sweep point)
  OUT_DIR/plots/eval_acc.png   final evaluation accuracy per length split (grouped bars, mean with
                               95% interval, unseen lengths hatched; one panel per sweep point)
  OUT_DIR/plots/calibration.png  (when the runs recorded it) expected calibration error per split,
                               mean with 95% interval (summary.json eval[split].ece)
  OUT_DIR/plots/reliability.png  (when the runs recorded it) reliability diagram per split: accuracy
                               vs confidence of each bin, pooled over the exploratory seeds
                               (summary.json stats.reliability), the diagonal = calibrated
                               (one row per sweep point)
  OUT_DIR/plots/acc_by_length.png  (when result.json has per-length results) accuracy vs length per
                               variant, 95% band, training lengths shaded (one panel per point)
  OUT_DIR/plots/bn_shift.png   (BatchNorm layers with shift) shift_mean, shift_var per split and layer
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
COLUMNS = {}  # metrics.csv names: summary.json "schema"."metrics_csv" (set in main)


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
        step = COLUMNS["step"]
        if column not in cols or step not in cols:
            continue
        for s, v in zip(cols[step], cols[column]):
            if finite(v):
                by_step.setdefault(s, []).append(v)
    steps = sorted(by_step)
    mean = [sum(by_step[s]) / len(by_step[s]) for s in steps]
    lo = [min(by_step[s]) for s in steps]
    hi = [max(by_step[s]) for s in steps]
    return steps, mean, lo, hi


def draw_reliability(summary, points, splits, colors, plots):
    """plots/reliability.png: per split, each variant's bins (accuracy vs mean confidence,
    pooled over the exploratory seeds; marker area ~ count), and the diagonal."""
    names = [sp["name"] for sp in splits
             if any(sp["name"] in P["stats"].get("reliability", {}) for v in summary["variants"] for P in v["points"])]
    if not names:
        return
    fig, axes = plt.subplots(len(points), len(names), figsize=(2.8 * len(names), 2.8 * len(points) + 0.4),
                             squeeze=False)
    for pi in range(len(points)):
        for si, split in enumerate(names):
            ax = axes[pi][si]
            ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
            for v in summary["variants"]:
                bins = v["points"][pi]["stats"].get("reliability", {}).get(split, [])
                pts = [(b["confidence"], b["accuracy"], b["count"]) for b in bins
                       if b.get("count") and b.get("confidence") is not None and b.get("accuracy") is not None]
                if not pts:
                    continue
                total = sum(c for _, _, c in pts)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.9, color=colors[v["name"]], label=v["name"])
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=[4 + 60 * c / total for _, _, c in pts],
                           color=colors[v["name"]])
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_title(split + ((" (" + points[pi]["label"] + ")") if points[pi]["label"] else ""), fontsize=8)
            ax.set_xlabel("confidence", fontsize=8)
            if si == 0:
                ax.set_ylabel("accuracy", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Reliability per split (bins pooled over the exploratory seeds; dashed = calibrated)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(plots, "reliability.png"), dpi=DPI)
    plt.close(fig)


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
    COLUMNS.update(summary.get("schema", {}).get("metrics_csv", {}))
    missing = [k for k in ("step", "loss", "drift_mean_prefix", "drift_var_prefix", "group_grad_norm_prefix")
               if k not in COLUMNS]
    if missing:
        print("plot_compare: %s/summary.json has no schema.metrics_csv %s (written by an older normlab compare; rerun it)"
              % (out, ", ".join(missing)))
        return 2
    plots = os.path.join(out, "plots")
    os.makedirs(plots, exist_ok=True)

    variants = [v["name"] for v in summary["variants"]]
    points = summary.get("points") or [{"label": "", "values": {}}]
    swept = len(points) > 1
    runs = {}  # variant -> [metrics columns of each run that has a metrics.csv], all points
    runs_at = {}  # (variant, point index) -> the same, per point
    for v in summary["variants"]:
        runs[v["name"]] = []
        for pi, P in enumerate(v["points"]):
            runs_at[(v["name"], pi)] = []
            for r in P["runs"]:
                path = os.path.join(out, r["dir"], "metrics.csv")
                if os.path.exists(path):
                    cols = read_csv(path)
                    runs[v["name"]].append(cols)
                    runs_at[(v["name"], pi)].append(cols)
    colors = {name: plt.cm.tab10(i % 10) for i, name in enumerate(variants)}
    target = summary["compare"].get("target_loss")
    splits = summary.get("splits", [])

    def panels(n, w=6.4, h=4.0):
        ncols = min(3, n)
        nrows = (n + ncols - 1) // ncols
        scale = 1.0 if n == 1 else 0.62
        fig, axes = plt.subplots(nrows, ncols, figsize=(w * scale * ncols, h * scale * nrows + 0.4),
                                 squeeze=False)
        flat = [ax for row in axes for ax in row]
        for ax in flat[n:]:
            ax.axis("off")
        return fig, flat[:n]

    def point_title(pi):
        return points[pi]["label"] or ""

    # 0. each metric vs the sweep value (sweeps only)
    if swept:
        metrics = [("final train loss", ["final_train_loss"], True)]
        for sp in splits:
            tag = {True: "seen", False: "unseen"}.get(sp.get("seen"), "partly seen" if sp.get("seen_varies") else "?")
            metrics.append(("accuracy %s (%s)" % (sp["name"], tag), ["eval", sp["name"], "acc"], False))
        for sp in splits:
            tag = {True: "seen", False: "unseen"}.get(sp.get("seen"), "partly seen" if sp.get("seen_varies") else "?")
            metrics.append(("eval loss %s (%s)" % (sp["name"], tag), ["eval", sp["name"], "loss"], True))
        axes_info = summary["compare"].get("sweep", [])
        # x: the first axis' value when the sweep has one numeric axis, else the point's index
        xs = list(range(len(points)))
        xlabels = [p["label"] for p in points]
        numeric = len(axes_info) == 1 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in axes_info[0]["values"])
        if numeric:
            xs = [p["values"][axes_info[0]["key"]] for p in points]
            xlabels = [str(x) for x in xs]
        elif len(axes_info) == 1:
            xlabels = axes_info[0]["labels"]
        fig, flat = panels(len(metrics))
        for ax, (title, path, logy) in zip(flat, metrics):
            for vi, v in enumerate(summary["variants"]):
                ys, lo, hi, xv = [], [], [], []
                for pi, P in enumerate(v["points"]):
                    st = P["stats"]
                    for k in path:
                        st = st.get(k, {}) if isinstance(st, dict) else {}
                    if not isinstance(st, dict) or st.get("mean") is None:
                        continue
                    ci = st.get("ci95") or 0.0
                    # a small offset per variant keeps the interval bars apart
                    off = 0 if numeric else (vi - (len(variants) - 1) / 2) * 0.06
                    xv.append(xs[pi] + off)
                    ys.append(st["mean"])
                    lo.append(ci)
                    hi.append(ci)
                if ys:
                    ax.errorbar(xv, ys, yerr=[lo, hi], color=colors[v["name"]], label=v["name"], marker="o",
                                ms=3, lw=1.2, capsize=2)
            if numeric:
                if min(xs) > 0 and max(xs) / min(xs) >= 8:
                    ax.set_xscale("log", base=2)
                ax.set_xticks(xs)
                ax.set_xticklabels(xlabels, fontsize=7)
                ax.set_xlabel(axes_info[0]["key"], fontsize=8)
            else:
                ax.set_xticks(xs)
                ax.set_xticklabels(xlabels, fontsize=6, rotation=20)
            if logy:
                ax.set_yscale("log")
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3, which="both")
        flat[0].legend(fontsize=6)
        fig.suptitle("Metrics vs the sweep value: mean over seeds, bars = 95% interval", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "sweep.png"), dpi=DPI)
        plt.close(fig)

    # 1. training loss vs step, band over seeds (one panel per point)
    fig, flat = panels(len(points))
    for pi, ax in enumerate(flat):
        for name in variants:
            rs = runs_at.get((name, pi), [])
            steps, mean, lo, hi = over_seeds(rs, COLUMNS["loss"])
            if not steps:
                continue
            ax.plot(steps, mean, color=colors[name], label="%s (%d)" % (name, len(rs)), lw=1.4)
            ax.fill_between(steps, lo, hi, color=colors[name], alpha=0.18, lw=0)
        if finite(target) and target > 0:
            ax.axhline(target, color="gray", ls=":", lw=1, label="target loss")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (log)")
        ax.set_title(point_title(pi) or "Training loss: mean over seeds, band = min..max", fontsize=9)
        ax.grid(alpha=0.3, which="both")
    flat[0].legend(fontsize=7, ncol=2)
    if swept:
        fig.suptitle("Training loss: mean over seeds, band = min..max", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(plots, "loss.png"), dpi=DPI)
    plt.close(fig)

    # 2. evaluation accuracy by length split, grouped bars (mean, 95% interval)
    fig, flat = panels(len(points), 6.4, 3.8)
    for pi, ax in enumerate(flat):
        width = 0.8 / max(1, len(variants))
        for vi, v in enumerate(summary["variants"]):
            xs, ys, es, hatches = [], [], [], []
            for si, sp in enumerate(splits):
                st = v["points"][pi]["stats"]["eval"].get(sp["name"], {}).get("acc", {})
                if st.get("mean") is None:
                    continue
                xs.append(si - 0.4 + width * (vi + 0.5))
                ys.append(st["mean"])
                es.append(st.get("ci95") or 0.0)
                hatches.append("//" if sp.get("seen") is False else "")
            bars = ax.bar(xs, ys, width, yerr=es, color=colors[v["name"]], label=v["name"],
                          capsize=2, error_kw={"lw": 0.8})
            for b, h in zip(bars, hatches):
                b.set_hatch(h)
        labels = []
        for sp in splits:
            tag = {True: "seen", False: "unseen"}.get(sp.get("seen"), "partly seen" if sp.get("seen_varies") else "?")
            labels.append("%s\n(%s)" % (sp["name"], tag))
        ax.set_xticks(range(len(splits)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylim(0, 1.22)  # room for the legend above the bars
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel("accuracy")
        ax.set_title(point_title(pi) or "Final evaluation accuracy by length (hatched = unseen lengths)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    flat[0].legend(fontsize=7, ncol=min(6, len(variants)), loc="upper center")
    fig.tight_layout()
    fig.savefig(os.path.join(plots, "eval_acc.png"), dpi=DPI)
    plt.close(fig)

    # 2a. calibration (summary.json eval[split].ece, when the runs recorded it): grouped bars
    have_ece = any(st.get("ece", {}).get("mean") is not None
                   for v in summary["variants"] for P in v["points"] for st in P["stats"]["eval"].values())
    if have_ece:
        fig, flat = panels(len(points), 6.4, 3.8)
        for pi, ax in enumerate(flat):
            width = 0.8 / max(1, len(variants))
            for vi, v in enumerate(summary["variants"]):
                xs, ys, es = [], [], []
                for si, sp in enumerate(splits):
                    st = v["points"][pi]["stats"]["eval"].get(sp["name"], {}).get("ece", {})
                    if st.get("mean") is None:
                        continue
                    xs.append(si - 0.4 + width * (vi + 0.5))
                    ys.append(st["mean"])
                    es.append(st.get("ci95") or 0.0)
                ax.bar(xs, ys, width, yerr=es, color=colors[v["name"]], label=v["name"], capsize=2,
                       error_kw={"lw": 0.8})
            ax.set_xticks(range(len(splits)))
            ax.set_xticklabels([sp["name"] for sp in splits], fontsize=8)
            ax.set_ylabel("expected calibration error")
            ax.set_title(point_title(pi) or "Calibration error by length split (15 bins; lower is better)", fontsize=9)
            ax.grid(alpha=0.3, axis="y")
        flat[0].legend(fontsize=7, ncol=min(6, len(variants)))
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "calibration.png"), dpi=DPI)
        plt.close(fig)

    # 2a'. reliability diagrams (summary.json stats.reliability): a row per point, a panel per split
    draw_reliability(summary, points, splits, colors, plots)

    # 2b. accuracy vs length (per-length results of result.json), training range shaded
    have_len = any(P["stats"].get("by_length") for v in summary["variants"] for P in v["points"])
    if have_len:
        fig, flat = panels(len(points))
        for pi, ax in enumerate(flat):
            tr = None
            for v in summary["variants"]:
                P = v["points"][pi]
                tr = tr or P.get("train_lengths")
                xs, ys, lo, hi = [], [], [], []
                for b in P["stats"].get("by_length", []):
                    st = b["acc"]
                    if st.get("mean") is None:
                        continue
                    ci = st.get("ci95") or 0.0
                    xs.append(0.5 * (b["lo"] + b["hi"]))
                    ys.append(st["mean"])
                    lo.append(st["mean"] - ci)
                    hi.append(st["mean"] + ci)
                if xs:
                    ax.plot(xs, ys, color=colors[v["name"]], label=v["name"], lw=1.2, marker=".", ms=3)
                    ax.fill_between(xs, lo, hi, color=colors[v["name"]], alpha=0.15, lw=0)
            if tr:
                ax.axvspan(tr[0] - 0.5, tr[1] + 0.5, color="gray", alpha=0.15, lw=0, label="training lengths")
            ax.set_xlabel("sequence length")
            ax.set_ylabel("accuracy")
            ax.set_title(point_title(pi) or "Accuracy vs length: mean over seeds, band = 95% interval", fontsize=9)
            ax.grid(alpha=0.3)
        flat[0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "acc_by_length.png"), dpi=DPI)
        plt.close(fig)

    # 2c. BatchNorm shift per split (x = the split's middle length), per layer
    shift_layers = summary.get("shift_layers", [])
    rows = [(v, pi) for v in summary["variants"] for pi in range(len(points))
            if v["points"][pi]["stats"].get("bn_shift")][:12]
    if shift_layers and rows:
        fig, axes = plt.subplots(len(rows), 2, figsize=(7.6, 2.4 * len(rows) + 0.4), squeeze=False)
        mids = []
        for sp in splits:
            a, b = 0, 0
            try:
                a, b = [int(x) for x in sp["name"].split("_")[1:3]]
            except (ValueError, IndexError):
                pass
            mids.append(0.5 * (a + b) if b else len(mids))
        for row, (v, pi) in enumerate(rows):
            sh = v["points"][pi]["stats"]["bn_shift"]
            for col, which in enumerate(["shift_mean", "shift_var"]):
                ax = axes[row][col]
                for li, L in enumerate(shift_layers):
                    xs, ys, es = [], [], []
                    for si, sp in enumerate(splits):
                        st = sh.get(L, {}).get(sp["name"], {}).get(which, {})
                        if st.get("mean") is None:
                            continue
                        xs.append(mids[si])
                        ys.append(st["mean"])
                        es.append(st.get("ci95") or 0.0)
                    if xs:
                        ax.errorbar(xs, ys, yerr=es, lw=1.0, marker="o", ms=3, capsize=2, label=L,
                                    color=plt.cm.viridis(li / max(1, len(shift_layers) - 1)))
                tr = v["points"][pi].get("train_lengths")
                if tr:
                    ax.axvspan(tr[0], tr[1], color="gray", alpha=0.15, lw=0)
                ax.set_title("%s %s: %s" % (v["name"], point_title(pi), which), fontsize=8)
                ax.grid(alpha=0.3)
                if row == len(rows) - 1:
                    ax.set_xlabel("split (middle length)")
        axes[0][1].legend(fontsize=6)
        fig.suptitle("BatchNorm: split statistics vs running statistics (shaded: training lengths)", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "bn_shift.png"), dpi=DPI)
        plt.close(fig)

    # 3. BatchNorm drift per layer (one row per variant that has BatchNorm layers)
    layers = summary.get("batchnorm_layers", [])
    bn_variants = [n for n in variants
                   if any((COLUMNS["drift_mean_prefix"] + L) in cols for cols in runs[n] for L in layers)]
    if bn_variants:
        fig, axes = plt.subplots(len(bn_variants), 2, figsize=(7.6, 2.6 * len(bn_variants)),
                                 squeeze=False, sharex=True)
        for row, name in enumerate(bn_variants):
            for col, which in enumerate(["drift_mean_prefix", "drift_var_prefix"]):
                ax = axes[row][col]
                for li, L in enumerate(layers):
                    steps, mean, lo, hi = over_seeds(runs[name], COLUMNS[which] + L)
                    if steps:
                        ax.plot(steps, mean, lw=1.0, label=L, color=plt.cm.viridis(li / max(1, len(layers) - 1)))
                ax.set_yscale("log")
                ax.set_title("%s: %s" % (name, COLUMNS[which].rstrip("/")), fontsize=9)
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
                steps, mean, lo, hi = over_seeds(runs[name], COLUMNS["group_grad_norm_prefix"] + G)
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
