"""The LUT step of ``hwsim flow``: train (or load the bundled netlist), report accuracy, emit Verilog,
synthesize for one FPGA family, verify the whole test set on the RTL.

    from hwsim.lutnet.flow import lut_step
    summary = lut_step("designs/lutnet/lutnet_digits_s.yaml", "results/flow", family="ecp5")

Writes ``<out>/lutnet/{report.txt, report.json, <name>.npz}`` (atomically, as a set) and the Verilog under
``<build>/<name>-<hash>/``. Every verdict printed is computed in this run (``bit-exact: yes`` / ``NO``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def lut_step(design: Any, out_dir: str | Path, family: str | None = None, build_root: str | Path = "build",
             verilator: bool = True, synthesize: bool = True, pnr: bool = True, n_random: int = 10_000,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the LUT flow for ``design`` (a loaded design or a path); returns the summary written to
    report.json. ``family`` defaults to the design's ``fpga.family``; the RTL levels run the test split plus
    ``n_random`` uniformly random input codes (shared/spec/lutnets.md section 6: >= 10**4)."""
    from hwsim.report import atomic_write
    from rtl_gen.lutnet import check_family, emit, fpga_flow
    from testbenches.lutnet import LEVELS, verify

    from . import spec
    from .sim import build, build_netlist

    if not hasattr(design, "network"):
        design = spec.load(design)
    family = family or design.fpga.family
    out = Path(out_dir) / "lutnet"
    t0 = time.perf_counter()
    log(f"[lutnet] {design.name}: {'training on digits' if design.network.source == 'digits' else design.network.source}"
        " ...")
    built = build_netlist(design)
    net, info = built.net, built.info
    log(net.describe())
    summary: dict[str, Any] = {"design": design.name, "design_hash": design.hash, "netlist": {
        "neurons": net.neurons, "layers": net.depth, "table_bits": net.table_bits, "lut_cost": net.lut_cost()}}
    acc = {k: info[k] for k in ("float_acc", "quant_acc", "netlist_acc") if k in info}
    if "recorded_in" in info:
        acc["model_acc_recorded_in"] = info["recorded_in"]
    if design.network.source in ("digits", "file"):
        res = build(design).run("dataset:digits", mode="analytical")
        acc["netlist_acc"] = res.stats["accuracy"]
        if "model" in info:
            acc["netlist_equals_model"] = res.stats["netlist_equals_model"]
        log("[lutnet] test accuracy: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                   for k, v in acc.items() if k != "model_acc_recorded_in")
            + (f" (float/quantized as recorded in {_shown(acc['model_acc_recorded_in'])}; netlist measured now)"
               if "model_acc_recorded_in" in acc else ""))
    summary["accuracy"] = acc
    art = emit(design, build_root, net=net)
    log(f"[lutnet] Verilog: {art.verilog} ({art.verilog.stat().st_size:,} bytes), ports.json")
    summary["verilog"] = str(art.verilog)
    if synthesize:
        try:
            check_family(net, family)
            fr = fpga_flow(art.verilog, art.top, family, net, pnr=pnr, freq_mhz=design.clock_mhz)
            log("[lutnet] " + fr.render())
            summary["fpga"] = fr.to_dict()
        except Exception as e:        # a refused family or a tool failure is reported, not hidden
            log(f"[lutnet] {family}: {e}")
            summary["fpga"] = {"family": family, "error": str(e)}
    levels = [lv for lv in LEVELS if verilator or lv != "verilator"]
    checks = verify(design, levels=levels, root=build_root, n_random=n_random)
    for c in checks:
        log(f"[lutnet] {c.summary()}")
    summary["verify"] = {c.backend: {"ok": c.ok, "samples": c.vectors, "outputs_compared": c.checked,
                                     "cycles": c.cycles, "mismatches": c.mismatches} for c in checks}
    summary["bit_exact"] = all(c.ok for c in checks)
    log(f"[lutnet] bit-exact and cycle-exact on every level run ({', '.join(c.backend for c in checks)}): "
        f"{'yes' if summary['bit_exact'] else 'NO'}")
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    text = "\n".join([net.describe(), json.dumps(summary, indent=2, default=_plain)])
    atomic_write(out / f"{design.name}.npz", net.to_bytes())
    atomic_write(out / "report.json", json.dumps(summary, indent=2, default=_plain) + "\n")
    atomic_write(out / "report.txt", text + "\n")
    return summary


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it lies under it (as a user typed it), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


BUNDLED = Path(__file__).resolve().parents[2] / "designs" / "lutnet" / "lutnet_digits_s_bundled.yaml"


def step(root: str | Path = "build", seed: int = 0, log: Callable[[str], None] = print,
         design: str | Path | None = None, family: str | None = None, n_random: int = 2000) -> dict[str, Any]:
    """The registry's ``flow`` role (``hwsim flow`` step 5): :func:`lut_step` on ``design`` (default: the
    bundled trained digits-s netlist, so no training is needed), Verilator included, writing its report set
    under ``<root>/lutnet-flow/``. Returns ``{"ok", "text", "summary"}``; every verdict is computed here."""
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        log(msg)

    s = lut_step(design or BUNDLED, Path(root) / "lutnet-flow", family=family, build_root=root, n_random=n_random,
                 log=say)
    return {"ok": bool(s["bit_exact"]), "text": "\n".join(lines), "summary": s}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hwsim.lutnet.flow", description=__doc__.splitlines()[0])
    ap.add_argument("design")
    ap.add_argument("-o", "--out", default="results/flow")
    ap.add_argument("--family", choices=("ice40", "ecp5", "xc7"))
    ap.add_argument("--no-verilator", action="store_true")
    ap.add_argument("--no-synth", action="store_true")
    a = ap.parse_args(argv)
    s = lut_step(a.design, a.out, a.family, verilator=not a.no_verilator, synthesize=not a.no_synth)
    return 0 if s["bit_exact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
