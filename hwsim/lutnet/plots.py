"""Plots of a lutnet result (the registry's ``report`` role): per-layer table bits and LUTCost."""

from __future__ import annotations

from pathlib import Path


def plots(result, out_dir: str | Path) -> list[Path]:
    """``lutnet_layers.png``: table bits and LUTCost per layer (log scale), next to the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hwsim.report import save_figure

    rows = result.layers
    x = [r["layer"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    w = 0.38
    ax.bar([i - w / 2 for i in x], [r["table_bits"] for r in rows], w, label="table bits")
    ax.bar([i + w / 2 for i in x], [max(r["lut_cost"], 0.5) for r in rows], w, label="LUTCost (6-LUTs)")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"L{r['layer']}\n{r['n_in']}->{r['n_out']}\nF {r['fanin_max']}" for r in rows], fontsize=8)
    ax.set_title(f"{result.design.name}: {result.stats['neurons']} neurons, LUTCost {result.stats['lut_cost']:,.0f}",
                 fontsize=9)
    ax.legend(fontsize=8)
    return [save_figure(fig, Path(out_dir) / "lutnet_layers.png")]
