"""Plots of a ``pim`` run (PNG, matplotlib Agg): per-kernel PIM vs non-PIM cycles, and the command mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report import save_figure


def plots(result, out_dir: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths = []
    ks = result.kernels
    names = [k.kernel.name for k in ks]
    x = np.arange(len(ks))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(ks) + 3), 4.0))
    pim = np.array([k.pim_cycles * k.kernel.count for k in ks], float)
    non = np.array([k.nonpim_cycles * k.kernel.count for k in ks], float)
    ax.bar(x - 0.2, non, 0.4, label="non-PIM (host streams operands)")
    ax.bar(x + 0.2, pim, 0.4, label="PIM")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("tCK (x count)")
    ax.set_yscale("log")
    ax.set_title(f"{result.design_name}: {result.workload}" + (f" (compat {result.compat})" if result.compat else ""))
    ax.legend()
    paths.append(save_figure(fig, out / "pim_cycles.png"))
    stats = result.to_dict()["stats"]["commands"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    keys = ["act", "pre", "rd", "wr", "ref", "act_ab", "col_ab"]
    ax.bar(keys, [stats[k] for k in keys])
    ax.set_yscale("log")
    ax.set_ylabel("commands (all pseudo-channels)")
    ax.set_title("command mix (AB: all-bank mode)")
    paths.append(save_figure(fig, out / "pim_commands.png"))
    return paths
