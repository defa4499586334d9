"""Quantization error of number formats on real tensors: MSE, SQNR and storage per format.

Format specs on the command line are ``name`` or ``name:option=value[:option=value]``, e.g.
``sf4``, ``int4:symmetric=false``, ``mxfp4:rule=better``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import yaml

import datatypes as dt

from .report import Progress, atomic_write, format_table, save_figure


@dataclass(frozen=True)
class FormatSpec:
    fmt: dt.Format
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        opts = ":".join(f"{k}={v}" for k, v in self.options.items())
        return self.fmt.name + (":" + opts if opts else "")


def parse_spec(text: str) -> FormatSpec:
    name, *parts = text.strip().split(":")
    fmt = dt.get(name)
    opts: dict[str, Any] = {}
    for p in parts:
        if "=" not in p:
            raise dt.FormatError(f"format spec {text!r}: expected option=value after ':', got {p!r}")
        k, v = p.split("=", 1)
        opts[k.strip()] = yaml.safe_load(v)
    fmt.check_options(opts)
    return FormatSpec(fmt, opts)


def parse_specs(text: str | Iterable[str]) -> list[FormatSpec]:
    items = text.split(",") if isinstance(text, str) else list(text)
    return [parse_spec(t) for t in items if t.strip()]


def _weight_format(name: str) -> bool:
    """Formats of the weight study: not BitMoD's single candidate tables ('bitmod.*', parts of the
    bitmod mixtures) nor the P3-LLM activation / KV-cache formats."""
    return not name.startswith("bitmod.") and dt.get(name).family != "p3llm"


def four_bit_specs() -> list[FormatSpec]:
    """Every registered 4-bit weight format with its defaults, plus the option variants worth
    comparing (asymmetric INT4, MXFP4 with the 'better' scale rule, RaZeR with the scale formats of
    its GPU kernels, BitMoD with INT8 double-quantized group scales)."""
    specs = [FormatSpec(dt.get(n)) for n in dt.formats(bits=4) if _weight_format(n)]
    extra = {"int4": {"symmetric": False}, "mxfp4": {"rule": "better"}, "razer4": {"scale": "fp16"},
             "nvfp4_razer": {"block_scale": "e3m3"}, "bitmod4": {"double_quant": True}}
    out = []
    for s in specs:
        out.append(s)
        if s.fmt.name in extra:
            out.append(FormatSpec(s.fmt, extra[s.fmt.name]))
    return out


def flow_specs() -> list[FormatSpec]:
    """The main flow's formats: every 4-bit weight format and BitMoD 3-bit."""
    return four_bit_specs() + [FormatSpec(dt.get("bitmod3")), FormatSpec(dt.get("bitmod3"), {"double_quant": True})]


@dataclass
class ErrorRow:
    label: str
    bits: int
    bits_per_weight: float
    mse: float
    sqnr_db: float
    max_abs_err: float
    seconds: float


def error_table(tensors: dict[str, np.ndarray], specs: list[FormatSpec], group_size: int | None = 128,
                progress: bool = True) -> list[ErrorRow]:
    """Quantize every tensor with every spec (groups along the last axis) and pool the errors.

    Formats with a fixed block size (MX: 32, NVFP4: 16) use their own; ``group_size`` applies to the
    rest. SQNR = 10 log10(sum w^2 / sum (w - w_hat)^2), pooled over all tensors.
    """
    if not tensors:
        raise ValueError("no tensors to quantize")
    signal = sum(float(np.sum(np.square(t, dtype=np.float64))) for t in tensors.values())
    n = sum(t.size for t in tensors.values())
    bar = Progress(len(specs), "quantize", enabled=progress)
    rows = []
    for spec in specs:
        g = spec.fmt.default_group_size if spec.fmt.group_sizes is not None else group_size
        t0 = time.perf_counter()
        err = 0.0
        bits = 0.0
        maxerr = 0.0
        for t in tensors.values():
            q = dt.quantize(t, spec.fmt, group_size=g, **spec.options)
            d = q.dequantize().astype(np.float64) - t.astype(np.float64)
            err += float(np.dot(d.ravel(), d.ravel()))
            maxerr = max(maxerr, float(np.abs(d).max()))
            bits += q.bits_per_element() * t.size
        sqnr = 10 * math.log10(signal / err) if err > 0 else math.inf
        rows.append(ErrorRow(spec.label, spec.fmt.bits, bits / n, err / n, sqnr, maxerr, time.perf_counter() - t0))
        bar.step(spec.label)
    return rows


def render(rows: list[ErrorRow], sort: bool = True) -> str:
    rs = sorted(rows, key=lambda r: -r.sqnr_db) if sort else rows
    return format_table(
        ["format", "bits/weight", "MSE", "SQNR dB", "max |err|"],
        [[r.label, f"{r.bits_per_weight:.3f}", f"{r.mse:.4e}", f"{r.sqnr_db:.2f}", f"{r.max_abs_err:.3e}"]
         for r in rs])


def sf4_verdict(rows: list[ErrorRow]) -> str | None:
    """One line comparing SF4 with NF4 and INT4 (the SF4 paper's claim), when all three are present."""
    by = {r.label: r for r in rows}
    if not all(k in by for k in ("sf4_5", "nf4", "int4")):
        return None
    sf4 = by["sf4_5"].sqnr_db
    parts = []
    for k in ("nf4", "int4"):
        d = sf4 - by[k].sqnr_db
        parts.append(f"{'beats' if d > 0 else 'does NOT beat'} {k.upper()} ({d:+.2f} dB)")
    return "SF4 (sf4_5) " + " and ".join(parts) + " in SQNR on these weights."


def write_outputs(rows: list[ErrorRow], outdir: str | Path, title: str) -> dict[str, Path]:
    """Write quant_error.txt, quant_error.csv and quant_error.png (SQNR bar chart) into ``outdir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(outdir)
    paths = {"txt": out / "quant_error.txt", "csv": out / "quant_error.csv", "png": out / "quant_error.png"}
    verdict = sf4_verdict(rows)
    atomic_write(paths["txt"], title + "\n\n" + render(rows) + "\n" + (f"\n{verdict}\n" if verdict else ""))
    csv = ["format,bits,bits_per_weight,mse,sqnr_db,max_abs_err"]
    csv += [f"{r.label},{r.bits},{r.bits_per_weight:.6f},{r.mse:.8e},{r.sqnr_db:.6f},{r.max_abs_err:.8e}" for r in rows]
    atomic_write(paths["csv"], "\n".join(csv) + "\n")
    rs = sorted(rows, key=lambda r: -r.sqnr_db)
    fig, ax = plt.subplots(figsize=(max(6, 0.38 * len(rs)), 4.2))
    paper = ("sf4_5", "nf4", "int4")            # the SF4 paper's comparison, highlighted
    colors = ["tab:red" if r.label in paper else "tab:blue" for r in rs]
    ax.bar(range(len(rs)), [r.sqnr_db for r in rs], color=colors)
    if any(r.label in paper for r in rs):
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color="tab:red", label="SF4 (sf4_5), NF4, INT4")], loc="upper right", fontsize=8)
    ax.set_xticks(range(len(rs)))
    ax.set_xticklabels([r.label for r in rs], rotation=75, ha="right", fontsize=8)
    ax.set_ylabel("SQNR (dB, higher is better)")
    ax.set_title(title, fontsize=10)
    lo = min(r.sqnr_db for r in rs if math.isfinite(r.sqnr_db))
    ax.set_ylim(bottom=max(0.0, lo - 2))
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, paths["png"])
    return paths


def run_study(path, specs, group_size, pattern, out, plot=True) -> int:
    """Quantize the Linear weights of a tensor file with each format spec; print the table (and the SF4
    verdict), write .txt/.csv/.png into ``out``."""
    import sys

    from .report import ensure_writable
    from .weights import WeightFileError, linear_weights, read_tensors

    if plot:
        ensure_writable(out)
    tensors = linear_weights(read_tensors(path), pattern)
    if not tensors:
        what = f"matching {pattern!r}" if pattern else "that look like Linear weights (2-D, name ending in 'weight')"
        raise WeightFileError(f"{path}: no 2-D floating-point tensors {what}; try --tensors REGEX")
    n = sum(t.size for t in tensors.values())
    title = (f"{Path(path).name}: {len(tensors)} tensors, {n:,} weights, group "
             f"{'per row' if group_size is None else group_size}")
    print(title, file=sys.stderr)
    rows = error_table({k: np.asarray(v, np.float32) for k, v in tensors.items()}, specs, group_size)
    print(title)
    print(render(rows))
    verdict = sf4_verdict(rows)
    if verdict:
        print("\n" + verdict)
    if plot:
        paths = write_outputs(rows, out, title)
        print(f"\nwrote {paths['txt']}, {paths['csv']}, {paths['png']}")
    return 0
