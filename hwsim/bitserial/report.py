"""Plots of a bit-serial run (``hwsim simulate`` writes them next to the report)."""

from __future__ import annotations

from pathlib import Path


def plots(result, out_dir) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report import save_figure
    out = []
    d = result.to_dict()
    if "compat" in d:
        rows = d["compat"]["layers"][:40]
        names = [r["name"].split(".")[-1] + f"#{i}" for i, r in enumerate(rows)]
        fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.3), 4))
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["cycle_compute"] for r in rows], 0.4, label="compute")
        ax.bar([i + 0.2 for i in x], [r["cycle_dram"] for r in rows], 0.4, label="DRAM")
        ax.set_xticks(list(x), names, rotation=90, fontsize=6)
        ax.set_ylabel("cycles")
        ax.set_title(f"{d['compat']['simulator']}: first {len(rows)} layers")
        ax.legend()
        fig.tight_layout()
        out.append(save_figure(fig, Path(out_dir) / "layers.png"))
        return out
    rows = d["layers"]
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.6), 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["cycles"] for r in rows], 0.4, label="cycle-level (counted)")
    ax.bar([i + 0.2 for i in x], [r["analytical_cycles"] for r in rows], 0.4, label="analytical bound")
    ax.set_xticks(list(x), [r["name"] for r in rows], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("cycles")
    ax.set_title(f"{d['design']} on {d['workload']}")
    ax.legend()
    fig.tight_layout()
    out.append(save_figure(fig, Path(out_dir) / "layers.png"))
    return out
