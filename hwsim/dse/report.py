"""Summary of a sweep's results (from the Parquet dataset only; nothing is recomputed).

Writes, next to the dataset:

* ``report.txt``: points by status, invalid reasons (grouped), failures, and per workload the
  non-dominated designs in (cycles, energy[, LUTs]) and per weight format in
  (bits/weight, quantization error, cycles);
* ``pareto.csv``: those non-dominated rows with every parameter and metric;
* ``pareto-<n>.png`` (cycles vs energy, and cycles vs LUTs with ``--area``) and
  ``formats-<n>.png`` (bits/weight vs quantization error, coloured by cycles) per workload.

Energy is the simulator's estimate (its ``energy_pj_estimate``), area Yosys' LUT count, the error the
relative MSE of the weight format on a seeded N(0, 1) tensor (see :mod:`hwsim.dse.evaluate`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.report import atomic_write, format_table, save_figure

from . import StoreError
from .pareto import non_dominated
from .store import Store


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _g(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def load_rows(out: str | Path) -> tuple[list[dict], dict[str, dict]]:
    store = Store(out)
    if not store.points.files() and not store.area.files():
        raise StoreError(f"{out}: no sweep results here (expected {Path(out) / 'points'}/*.parquet)")
    rows = [r for r in store.latest_points()]
    for r in rows:
        r["_params"] = json.loads(r["params"]) if r["params"] else {}
    return rows, store.latest_area()


def fronts(rows: list[dict], area: dict[str, dict]) -> list[dict]:
    """Per workload: the non-dominated ok points in (cycles, energy[, LUT]) and, per weight format, in
    (bits/weight, error, cycles); per mode too when the dataset holds several. Returns
    ``[{workload, kind, objectives, rows, all}]``."""
    out = []
    ok = [r for r in rows if r["status"] == "ok"]
    for r in ok:
        a = area.get(r["design_hash"])
        r["lut"] = a["lut"] if a and a["status"] == "ok" else None
        r["ff"] = a["ff"] if a and a["status"] == "ok" else None
    modes = {r["mode"] for r in ok}
    for w, m in dict.fromkeys((r["workload"], r["mode"]) for r in ok):
        pts = [r for r in ok if r["workload"] == w and r["mode"] == m]
        if len(modes) > 1:           # cycle-level and analytical results of one design are not two designs
            w = f"{w} [{m}]"
        # a kind that reports no energy (hsa) is ranked on cycles alone, not left with an empty front
        objs = ["cycles"] + (["energy_pj"] if any(not np.isnan(_num(r["energy_pj"])) for r in pts) else [])
        if area and all(r["lut"] is not None for r in pts):
            objs.append("lut")
        x = np.array([[_num(r[o]) for o in objs] for r in pts])
        mask = non_dominated(x)
        front = sorted((r for r, m in zip(pts, mask) if m), key=lambda r: r["cycles"])
        out.append({"workload": w, "kind": "design", "objectives": objs, "rows": front, "all": pts})
        fm = [r for r in pts if r["weight_format"] is not None and r["bits_per_weight"] is not None]
        if fm:
            objs = ["bits_per_weight", "weight_rel_mse", "cycles"]
            x = np.array([[_num(r[o]) for o in objs] for r in fm])
            mask = non_dominated(x)
            front = sorted((r for r, m in zip(fm, mask) if m), key=lambda r: (r["bits_per_weight"], r["cycles"]))
            out.append({"workload": w, "kind": "format", "objectives": objs, "rows": front, "all": fm})
    return out


def _param_names(rows: list[dict]) -> list[str]:
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r["_params"]))
    return list(names)


def render(rows: list[dict], area: dict[str, dict], fr: list[dict], limit: int = 25) -> str:
    st = Counter(r["status"] for r in rows)
    lines = [f"{len(rows):,} points: {st.get('ok', 0):,} ok, {st.get('invalid', 0):,} invalid, "
             f"{st.get('failed', 0):,} failed"]
    if area:
        ast = Counter(a["status"] for a in area.values())
        lines.append(f"{len(area):,} distinct RTL designs with area: {ast.get('ok', 0)} ok, "
                     f"{ast.get('invalid', 0)} invalid, {ast.get('failed', 0)} failed")
    reasons = Counter(r["reason"] for r in rows if r["status"] == "invalid")
    if reasons:
        lines += ["", "invalid points (skipped), by reason:"]
        lines += [f"  {n:>6,} x {why}" for why, n in reasons.most_common(10)]
        if len(reasons) > 10:
            lines.append(f"  ... and {len(reasons) - 10} more reasons")
    bad = [r for r in rows if r["status"] == "failed"]
    bad_area = [a for a in area.values() if a["status"] != "ok"]
    if bad or bad_area:
        lines += ["", "failures (a rerun retries them):"]
        lines += [f"  {r['workload']} {r['params']}: {r['reason']}" for r in bad[:10]]
        lines += [f"  area of {a['design']} {a['design_hash']}: {a['status']}: {a['reason']}" for a in bad_area[:10]]
    pnames = _param_names(rows)
    ok_area = sorted((a for a in area.values() if a["status"] == "ok"), key=lambda a: (a["lut"], a["ff"]))
    if ok_area:
        ap = list(dict.fromkeys(k for a in ok_area for k in json.loads(a["params"] or "{}")))
        x = np.array([[a["lut"], a["ff"]] for a in ok_area], float)
        nd = non_dominated(x)
        cols = ap + ["LUT", "FF", "carry", "DSP", "RAM", "non-dominated"]
        body = [[_g(json.loads(a["params"] or "{}").get(p)) for p in ap] +
                [_g(a[c]) for c in ("lut", "ff", "carry", "dsp", "ram")] + ["yes" if m else ""]
                for a, m in zip(ok_area, nd)][:limit]
        lines += ["", f"area (Yosys, {ok_area[0]['target']}) of {len(ok_area)} distinct designs, by LUTs; "
                      f"non-dominated in (LUT, FF): {int(nd.sum())}",
                  format_table(cols, body, align="l" * len(ap) + "r" * (len(cols) - len(ap)))]
        if len(ok_area) > limit:
            lines.append(f"... {len(ok_area) - limit} more in area/*.parquet")
    for f in fr:
        n_all = len(f["all"])
        objs = f["objectives"]
        if f["kind"] == "design":
            title = (f"workload {f['workload']}: {len(f['rows'])} of {n_all} designs non-dominated in "
                     f"({', '.join(objs)}{'; energy is an estimate' if 'energy_pj' in objs else '; no energy reported'})")
            cols = pnames + ["cycles", "energy_pj", "utilization"] + (["lut", "ff"] if "lut" in objs else [])
        else:
            title = (f"workload {f['workload']}: {len(f['rows'])} of {n_all} points non-dominated in "
                     f"(bits/weight, weight error (rel. MSE, seeded N(0,1)), cycles)")
            cols = ["weight_format", "bits_per_weight", "weight_rel_mse", "cycles"] + \
                [p for p in pnames if p != "operands.weight"]
        body = [[_g(r["_params"].get(c) if c in pnames else r.get(c)) for c in cols] for r in f["rows"][:limit]]
        lines += ["", title, format_table(cols, body, align="l" * len(pnames) + "r" * (len(cols) - len(pnames))
                                          if f["kind"] == "design" else None)]
        if len(f["rows"]) > limit:
            lines.append(f"... {len(f['rows']) - limit} more in pareto.csv")
    return "\n".join(lines)


def _csv(fr: list[dict], pnames: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    cols = ["cycles", "energy_pj", "utilization", "time_us", "lut", "ff", "weight_format", "bits_per_weight",
            "weight_rel_mse", "design_hash", "mode"]
    w.writerow(["front", "workload"] + pnames + cols)
    for f in fr:
        for r in f["rows"]:
            w.writerow([f["kind"], f["workload"]] + [r["_params"].get(p, "") for p in pnames] +
                       ["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue()


def _label(r: dict, pnames: list[str]) -> str:
    return ",".join(str(r["_params"][p]) for p in pnames if p in r["_params"])


def plot_design(f: dict, path: Path, pnames: list[str]) -> Path:
    plt = _plt()
    objs = f["objectives"]
    panels = [("energy_pj", "energy, pJ (estimate)")] + ([("lut", "area, LUTs (Yosys)")] if "lut" in objs else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    allr, front = f["all"], f["rows"]
    for ax, (key, ylabel) in zip(axes[0], panels):
        ax.scatter([r["cycles"] for r in allr], [_num(r[key]) for r in allr], s=10, c="#b0b0b0",
                   label=f"all ({len(allr)})")
        fx = np.array([r["cycles"] for r in front], float)
        fy = np.array([_num(r[key]) for r in front])
        ax.scatter(fx, fy, s=28, c="#c44e52", zorder=3, label=f"non-dominated in ({', '.join(objs)})")
        if key == "energy_pj" and len(front) > 1:
            ax.plot(fx, fy, "-", c="#c44e52", lw=1, zorder=2)
        for r in front[:12]:
            ax.annotate(_label(r, pnames), (r["cycles"], _num(r[key])), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cycles")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{f['workload']}  (labels: {', '.join(pnames)})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_formats(f: dict, path: Path) -> Path:
    """Left: bits/weight vs error, one marker per format (labelled with its fewest cycles); right: cycles
    vs error of every point, a colour per format; non-dominated points in (bits/weight, error, cycles)
    circled on both."""
    plt = _plt()
    allr, front = f["all"], f["rows"]
    fmts = list(dict.fromkeys(r["weight_format"] for r in sorted(allr, key=lambda r: r["bits_per_weight"])))
    colors = plt.get_cmap("tab10" if len(fmts) <= 10 else "tab20")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.4, 4.6))
    for i, fm in enumerate(fmts):
        rs = [r for r in allr if r["weight_format"] == fm]
        best = min(rs, key=lambda r: r["cycles"])
        c = colors(i % colors.N)
        a1.scatter([best["bits_per_weight"]], [best["weight_rel_mse"]], s=40, color=c)
        a1.annotate(f"{fm} ({best['cycles']:.3g} cyc)", (best["bits_per_weight"], best["weight_rel_mse"]),
                    fontsize=7, xytext=(4, 2), textcoords="offset points")
        a2.scatter([r["cycles"] for r in rs], [r["weight_rel_mse"] for r in rs], s=12, color=c, label=fm)
    a1.scatter([r["bits_per_weight"] for r in front], [r["weight_rel_mse"] for r in front], s=110,
               facecolors="none", edgecolors="#c44e52", label="non-dominated in (bits/weight, error, cycles)")
    a2.scatter([r["cycles"] for r in front], [r["weight_rel_mse"] for r in front], s=70, facecolors="none",
               edgecolors="#c44e52")
    a1.set_xlabel("bits per weight (codes + scales + metadata)")
    a2.set_xlabel("cycles")
    a2.set_xscale("log")
    for a in (a1, a2):
        a.set_yscale("log")
        a.set_ylabel("weight error: relative MSE on N(0,1)")
        a.grid(True, which="both", alpha=0.3)
    a1.legend(fontsize=7)
    a2.legend(fontsize=7, ncol=2)
    fig.suptitle(f"{f['workload']}: formats", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_report(out: str | Path, plots: bool = True) -> tuple[str, list[Path]]:
    """Summarize the dataset in ``out``; returns (the text, the files written)."""
    out = Path(out)
    rows, area = load_rows(out)
    fr = fronts(rows, area)
    text = render(rows, area, fr)
    pnames = _param_names(rows)
    paths = [atomic_write(out / "report.txt", text + "\n"), atomic_write(out / "pareto.csv", _csv(fr, pnames))]
    if plots:
        wl = list(dict.fromkeys(f["workload"] for f in fr))
        for f in fr:
            i = wl.index(f["workload"])
            if f["kind"] == "design":
                paths.append(plot_design(f, out / f"pareto-{i}.png", pnames))
            else:
                paths.append(plot_formats(f, out / f"formats-{i}.png"))
    return text, paths


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)[:80]
