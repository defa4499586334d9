"""Plots of a systolic simulation (PNG, matplotlib Agg, written atomically next to the report).

* ``layers``: per-layer cycles (bars, log scale) and utilisation / mapping efficiency (lines);
* ``roofline``: the design's roof (PEs MACs/cycle, DRAM bytes/cycle) with each layer placed at its
  arithmetic intensity and achieved MACs/cycle;
* ``timeline``: fold-level utilisation over time for the whole run (each fold's useful MACs over
  PEs x fold cycles; a repeated layer shows its first instance fold by fold, then its repeats as one
  segment at the instance's mean utilisation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report import save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(res) -> str:
    d = res.design
    return (f"{d.name}: {d.array.rows}x{d.array.cols} {d.array.dataflow.upper()}, "
            f"{d.operands.weight} x {d.operands.activation} — {res.workload.name}")


def plot_layers(res, path: str | Path) -> Path:
    plt = _plt()
    names = [l.name for l in res.layers]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 3), 4.2))
    comp = np.array([l.compute_cycles for l in res.layers], float)
    stall = np.array([l.stall_cycles for l in res.layers], float)
    ax.bar(x, comp, color="#4c72b0", label="compute cycles")
    ax.bar(x, stall, bottom=comp, color="#dd8452", label="stall cycles (DRAM estimate)")
    ax.set_yscale("log")
    tot = comp + stall
    ax.set_ylim(max(0.5, tot.min() / 4), tot.max() * 3)
    ax.set_ylabel("cycles (all repeats)")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, [100 * l.utilization for l in res.layers], "o-", color="#55a868", label="utilisation %")
    ax2.plot(x, [100 * l.mapping_efficiency for l in res.layers], "s--", color="#c44e52",
             label="mapping efficiency %")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("%")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    ax.set_title(_title(res), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _label_clusters(pts, ratio: float = 1.25):
    """Greedily merge points within `ratio` of each other on both log axes (labels would overlap)."""
    clusters = []
    for x, y, name in sorted(pts):
        for c in clusters:
            if max(x / c[0], c[0] / x) < ratio and max(y / c[1], c[1] / y) < ratio:
                c[2].append(name)
                break
        else:
            clusters.append((x, y, [name]))
    return clusters


def plot_roofline(res, path: str | Path) -> Path:
    plt = _plt()
    d = res.design
    peak = d.array.rows * d.array.cols
    bw = float(d.memory.dram_bytes_per_cycle)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    pts = []
    compulsory = False
    for l in res.layers:
        b = l.dram_total
        if b <= 0:   # operands resident (backing: none): compulsory traffic of the operands
            b = l.compulsory_bytes
            compulsory = True
        pts.append((l.macs / b, l.macs / l.cycles, l.name))
    xs = np.array([p[0] for p in pts])
    lo, hi = min(xs.min(), peak / bw) / 4, max(xs.max(), peak / bw) * 4
    xr = np.logspace(np.log10(lo), np.log10(hi), 200)
    ax.loglog(xr, np.minimum(peak, bw * xr), "k-", lw=2, label=f"roof: {peak} MAC/cycle, {bw:g} B/cycle")
    for ai, perf, _ in pts:
        ax.loglog([ai], [perf], "o", ms=6)
    for ai, perf, names in _label_clusters(pts):  # one label per cluster of nearby points
        ax.annotate(", ".join(names), (ai, perf), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("arithmetic intensity (MAC / DRAM byte" + (", compulsory traffic)" if compulsory else ")"))
    ax.set_ylabel("achieved MAC / cycle")
    ax.set_ylim(top=peak * 2)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(_title(res), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def timeline_segments(res, max_folds_per_layer: int = 5000):
    """(start, duration, utilisation) arrays over the whole run, in cycles."""
    starts, durs, utils = [], [], []
    t = 0
    for l in res.layers:
        plan = l.plan
        ft = plan.fold_table(limit=max_folds_per_layer)
        if plan.folds > max_folds_per_layer:     # aggregate the rest of the instance into one segment
            done_macs = int(ft["macs"].sum())
            rest = plan.folds - max_folds_per_layer
            ft = {k: np.append(v, 0) for k, v in ft.items()}
            ft["start"][-1] = 1 + max_folds_per_layer * plan.fold_cycles
            ft["cycles"][-1] = rest * plan.fold_cycles
            ft["utilization"][-1] = (plan.M * plan.N * plan.K - done_macs) / (plan.R * plan.C * rest *
                                                                                plan.fold_cycles)
        inst = plan.cycles
        # idle: cycle 0 and (os) the drain tail; folds as they are
        starts.append(np.array([t]))
        durs.append(np.array([1]))
        utils.append(np.array([0.0]))
        starts.append(t + ft["start"])
        durs.append(ft["cycles"])
        utils.append(ft["utilization"])
        end_folds = 1 + plan.folds * plan.fold_cycles
        if inst > end_folds:
            starts.append(np.array([t + end_folds]))
            durs.append(np.array([inst - end_folds]))
            utils.append(np.array([0.0]))
        t += inst
        if l.layer.repeat > 1:
            starts.append(np.array([t]))
            durs.append(np.array([inst * (l.layer.repeat - 1)]))
            utils.append(np.array([plan.M * plan.N * plan.K / (plan.R * plan.C * inst)]))
            t += inst * (l.layer.repeat - 1)
        if l.stall_cycles:
            starts.append(np.array([t]))
            durs.append(np.array([l.stall_cycles]))
            utils.append(np.array([0.0]))
            t += l.stall_cycles
    return np.concatenate(starts), np.concatenate(durs), np.concatenate(utils)


def plot_timeline(res, path: str | Path) -> Path:
    plt = _plt()
    s, dur, u = timeline_segments(res)
    fig, ax = plt.subplots(figsize=(9, 3.4))
    edges = np.append(s, s[-1] + dur[-1]).astype(float)
    ax.stairs(100 * u, edges, fill=True, alpha=0.6, color="#4c72b0")
    t = 0
    for l in res.layers:
        ax.axvline(t, color="k", lw=0.3, alpha=0.4)
        t += l.cycles
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(0, 105)
    ax.set_xlabel("cycle")
    ax.set_ylabel("fold utilisation %")
    ax.set_title(_title(res) + f"  ({res.cycles:,} cycles)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_all(res, outdir: str | Path, stem: str = "systolic") -> dict[str, Path]:
    out = Path(outdir)
    return {"layers": plot_layers(res, out / f"{stem}_layers.png"),
            "roofline": plot_roofline(res, out / f"{stem}_roofline.png"),
            "timeline": plot_timeline(res, out / f"{stem}_timeline.png")}


def plots(res, out_dir: str | Path) -> list[Path]:
    """The report hook of the kind registry: the three plots of a simulation, next to its report."""
    return list(write_all(res, out_dir).values())
