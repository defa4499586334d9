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


def sweep_table(sweep_dir: str | Path, workloads: tuple[str, str] = ("llm:opt-1.3b,seq=1,phase=decode",
                                                                      "llm:opt-1.3b,seq=512,phase=decode")) -> str:
    """The decode-sizing table of ``hwsim sweep designs/sweeps/hsa_dram.yaml`` (read from the sweep's
    Parquet points): DRAM bytes/cycle x lanes -> decode PEs, GEMV utilisation and tokens/s of the first
    workload, utilisation of the second."""
    import glob
    import json

    import pyarrow.parquet as pq

    from hwsim.report import format_table

    points: dict[tuple, dict] = {}
    for f in sorted(glob.glob(str(Path(sweep_dir) / "points" / "*.parquet"))):
        for r in pq.read_table(f).to_pylist():
            if r.get("status") != "ok" or r["kind"] != "hsa":
                continue
            p = json.loads(r["params"])
            key = (p.get("memory.dram_bytes_per_cycle"), p.get("decode.lanes"))
            points.setdefault(key, {})[r["workload"]] = json.loads(r["stats"])
    rows = []
    for (b, lanes), v in sorted(points.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])):
        if not all(w in v for w in workloads):
            continue
        a, c = v[workloads[0]], v[workloads[1]]
        rows.append([f"{b:g}", f"{a['decode_lanes']} (matched)" if lanes is None else str(lanes), str(a["decode_pes"]),
                     f"{100 * a['decode_utilization']:.2f}", f"{a['tokens_per_s']:.2f}",
                     f"{100 * c['decode_utilization']:.2f}"])
    return (f"A = {workloads[0]}, B = {workloads[1]}\n"
            + format_table(["DRAM B/cycle", "lanes", "decode PEs", "util % A", "tokens/s A", "util % B"], rows,
                           align="lrrrrr"))
