"""LUT netlists on FPGAs: Yosys synthesis (tables in logic) and nextpnr place-and-route, per design and family,
LUTs per neuron against LogicNets' LUTCost; then Kratos-style constant-weight GEMVs swept over sparsity.

    .venv/bin/python benchmarks/bench_lutnet_fpga.py [--quick]

Flags: ``synth_ice40 -nobram``, ``synth_ecp5 -nobram -nolutram``, ``synth_xilinx -family xc7 -nobram
-nolutram`` (rtl_gen.lutnet.SYNTH); P&R: ``nextpnr-ice40 --hx8k --package ct256``, ``nextpnr-ecp5 --25k
--package CABGA381`` (yowasp wheels), Fmax = nextpnr's ``fmax[clk].achieved`` for one seed. xc7 has no open
P&R wheel: LUT/FF only. Every design is first verified (amaranth.sim, the whole digits test split) so the
synthesized Verilog is known-good. Measurements, printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.lutnet import spec  # noqa: E402
from hwsim.lutnet.kratos import GemvSpec  # noqa: E402
from hwsim.lutnet.sim import build_netlist  # noqa: E402
from hwsim.report import format_table  # noqa: E402
from rtl_gen.lutnet import (  # noqa: E402
    SYNTH,
    KratosGemv,
    LutnetRTLError,
    check_family,
    emit,
    fpga_flow,
)
from rtl_gen.verilog import emit_component  # noqa: E402
from testbenches.lutnet import verify  # noqa: E402

DESIGNS = [("lutnet_digits_s", ("ice40", "ecp5", "xc7")),
           ("lutnet_digits_s_shrunk", ("ice40", "ecp5", "xc7")),
           ("lutnet_digits_m", ("ice40", "ecp5", "xc7"))]
SPARSITY = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits-s only, three sparsities")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--part", choices=("all", "designs", "kratos"), default="all")
    a = ap.parse_args()
    if a.part in ("all", "designs"):
        run_designs(a)
    if a.part in ("all", "kratos"):
        run_kratos(a)


def run_designs(a) -> None:
    designs = DESIGNS[:1] if a.quick else DESIGNS
    rows = []
    for name, fams in designs:
        d = spec.load(ROOT / "designs" / "lutnet" / f"{name}.yaml")
        b = build_netlist(d)
        net = b.net
        ok = all(c.ok for c in verify(d, levels=("model", "hwsim", "amaranth"), root=a.build))
        art = emit(d, a.build, net=net)
        acc = b.info.get("netlist_acc")
        for fam in fams:
            try:
                check_family(net, fam)
            except LutnetRTLError as e:
                rows.append([name, f"{acc:.3f}", "yes" if ok else "NO", fam, "refused", "", "", "",
                             f"{net.lut_cost():,.0f}", str(e).split(":")[1].strip()[:40]])
                continue
            t = time.perf_counter()
            r = fpga_flow(art.verilog, art.top, fam, net, freq_mhz=d.clock_mhz)
            fm = f"{r.fmax_mhz:.1f}" if r.fmax_mhz else (r.pnr or "n/a")[:40]
            rows.append([name, f"{acc:.3f}", "yes" if ok else "NO", fam, f"{r.lut:,}", f"{r.ff:,}",
                         f"{r.luts_per_neuron:.2f}", fm, f"{net.lut_cost():,.0f}", f"{time.perf_counter() - t:.0f} s"])
            print(" | ".join(map(str, rows[-1])), flush=True)
    print(format_table(["design", "test acc", "RTL verified", "family", "LUTs", "FFs", "LUTs/neuron",
                        "Fmax MHz", "LUTCost (6-LUT)", "note"], rows))
    print("synthesis flags: " + "; ".join(f"{k}: {v.format(top='<top>')}" for k, v in SYNTH.items()))


def run_kratos(a) -> None:
    # Kratos-style sweeps, constant weights, 4-bit weights and activations: a 4 x 32 GEMV and a 1-D
    # convolution of 24 pixels with a 5-tap filter (20 outputs; its IO fits the ECP5-25k package)
    sweep = SPARSITY[::2] if a.quick else SPARSITY
    krows = []
    for kind, s in [(k, s) for k in ("gemv 4x32", "conv1d 24/5") for s in sweep]:
        conv = kind.startswith("conv")
        sp = GemvSpec(rows=4, length=24 if conv else 32, width=4, sparsity=s, conv_kernel=5 if conv else 0)
        art = emit_component(KratosGemv(sp), f"kratos_{kind.split()[0]}_s{int(s * 100):02d}", a.build)
        line = [kind, f"{s:.2f}", sp.nonzeros, sp.latency]
        for fam in ("ecp5", "xc7"):
            r = fpga_flow(art.verilog, art.top, fam, io_bits=(sp.length + sp.rows) * sp.width + 2)
            line += [r.lut, r.ff] + ([f"{r.fmax_mhz:.1f}" if r.fmax_mhz else (r.pnr or "")[:30]] if fam == "ecp5" else [])
        krows.append(line)
        print(" | ".join(map(str, line)), flush=True)
    print(format_table(["primitive", "sparsity", "nonzero weights", "latency", "ecp5 LUT4", "ecp5 FF", "ecp5 Fmax MHz",
                        "xc7 LUT", "xc7 FF"], krows))


if __name__ == "__main__":
    main()
