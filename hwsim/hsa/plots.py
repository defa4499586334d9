"""Plots of an hsa result (the registry's ``report`` role): cycles per layer and stage."""

from __future__ import annotations

from pathlib import Path


def plots(result, out_dir: str | Path) -> list[Path]:
    """``hsa_cycles.png``: cycles per (layer, stage), coloured by stage (prefill array, decode GEMV,
    RMSNorm, RoPE), with the decode utilisation in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hwsim.report import save_figure

    merged: dict[tuple[str, str], int] = {}
    for r in result.rows:
        merged[(r.name, r.stage)] = merged.get((r.name, r.stage), 0) + r.cycles
    colours = {"prefill": "tab:blue", "decode": "tab:orange", "rmsnorm": "tab:green", "rope": "tab:red"}
    keys = list(merged)
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(keys) + 2), 3.4))
    ax.bar(range(len(keys)), [max(merged[k], 1) for k in keys], color=[colours.get(k[1], "grey") for k in keys])
    ax.set_yscale("log")
    ax.set_ylabel("cycles")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{n}\n{s}" for n, s in keys], fontsize=7, rotation=45, ha="right")
    s = result.stats
    util = s["decode_utilization"]
    ax.set_title(f"{result.design.name}: {s['cycles']:,} cycles"
                 + (f", decode GEMV utilisation {100 * util:.1f} %" if util is not None else ""), fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, Path(out_dir) / "hsa_cycles.png")]
