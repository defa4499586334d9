"""Plots of a butterfly result (``plots(result, out_dir) -> [Path]``): per-layer cycles split into load,
compute and drain phases (sums over runs; phases overlap in time), and BU utilisation per layer."""

from __future__ import annotations

from pathlib import Path


def plots(result, out_dir) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [x.name for x in result.layers]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    x = range(len(names))
    w = 0.2
    for i, (key, label) in enumerate((("cycles", "layer cycles"), ("load_cycles", "load (sum)"),
                                      ("compute_cycles", "compute (sum)"), ("drain_cycles", "drain (sum)"))):
        a1.bar([v + (i - 1.5) * w for v in x], [getattr(L, key) for L in result.layers], w, label=label)
    a1.set_xticks(list(x), names, rotation=20)
    a1.set_ylabel("cycles")
    a1.legend(fontsize=7)
    a2.bar(list(x), [L.bu_utilization for L in result.layers])
    a2.set_xticks(list(x), names, rotation=20)
    a2.set_ylabel("BU utilisation")
    a2.set_ylim(0, 1)
    fig.suptitle(f"{result.design.name}: {result.workload.text} ({result.mode})")
    fig.tight_layout()
    path = out / "butterfly_layers.png"
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return [path]
