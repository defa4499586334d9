"""SCALE-Sim 3.0.0 files, read as they are: configuration (.cfg) and topology (.csv); writers for the
same files (used to produce reference numbers with SCALE-Sim itself) and a runner for an external
SCALE-Sim installation.

Reading follows SCALE-Sim's own parsers (``scale_config.read_conf_file``,
``topology_utils.load_arrays_conv/gemm``):

* .cfg: INI sections; keys are case-insensitive and separated from values by ``:`` or ``=``; full-line
  comments start with ``#`` or ``;``. ``[architecture_presets]`` gives ArrayHeight, ArrayWidth,
  Dataflow (ws/os/is), IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB (and Bandwidth in USER mode).
* topology .csv: the first line is a header; blank lines are skipped; each row ends with a comma
  (SCALE-Sim drops the field after the last comma; rows without the trailing comma are accepted too).
  Conv rows: ``name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Stride[, N:M]``; a
  layer whose name contains ``DP`` is depthwise and becomes one layer per channel (as SCALE-Sim does).
  GEMM rows (header ``Layer, M, N, K``): ``name, M, N, K[, N:M]``. Output sizes use SCALE-Sim's
  ``ceil((H - R + stride) / stride)``.

Every error names the file, the line and the field.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..topology import ScaleSimFileError, read_text, read_topology, topology_kind  # noqa: F401  (re-exported)


# ---- configuration ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleSimConfig:
    run_name: str
    rows: int
    cols: int
    dataflow: str
    ifmap_kb: int
    filter_kb: int
    ofmap_kb: int
    bandwidth: int | None          #: words/cycle (USER mode), None in CALC mode
    interface: str                 #: USER | CALC
    source: str
    ifmap_bank_bw: int = 10        #: [layout] IfmapSRAMBankBandwidth (USER: ifmap fill words/cycle)
    filter_bank_bw: int = 10       #: [layout] FilterSRAMBankBandwidth (USER: filter fill words/cycle)
    ifmap_custom: bool = False     #: [layout] IfmapCustomLayout
    filter_custom: bool = False    #: [layout] FilterCustomLayout
    ifmap_banks: int = 1           #: [layout] IfmapSRAMBankNum
    filter_banks: int = 1          #: [layout] FilterSRAMBankNum
    ifmap_ports: int = 2           #: [layout] IfmapSRAMBankPort
    filter_ports: int = 2          #: [layout] FilterSRAMBankPort
    ifmap_offset: int = 0          #: [architecture_presets] IfmapOffset
    filter_offset: int = 10000000  #: [architecture_presets] FilterOffset
    layout: tuple | None = None    #: the layout row applied to every layer (custom layouts only)
    layout_source: str = ""

    def design_dict(self) -> dict:
        """A ``kind: systolic`` design equivalent to this configuration (1-byte words: INT8 operands)."""
        mem = {"ifmap_kb": self.ifmap_kb, "filter_kb": self.filter_kb, "ofmap_kb": self.ofmap_kb}
        if self.bandwidth is not None:
            mem["dram_bytes_per_cycle"] = self.bandwidth
        return {"schema": 1, "name": self.run_name, "kind": "systolic",
                "description": f"from SCALE-Sim configuration {Path(self.source).name}",
                "array": {"rows": self.rows, "cols": self.cols, "dataflow": self.dataflow},
                "operands": {"weight": "int8", "activation": "int8", "accumulator": "int32"},
                "memory": mem,
                "scalesim": {"interface": self.interface.lower(), "ifmap_words_per_cycle": self.ifmap_bank_bw,
                             "filter_words_per_cycle": self.filter_bank_bw,
                             "ofmap_words_per_cycle": self.bandwidth or 10,
                             "ifmap_custom_layout": self.ifmap_custom, "filter_custom_layout": self.filter_custom,
                             "ifmap_banks": self.ifmap_banks, "filter_banks": self.filter_banks,
                             "ifmap_bank_ports": self.ifmap_ports, "filter_bank_ports": self.filter_ports,
                             "ifmap_offset": self.ifmap_offset, "filter_offset": self.filter_offset,
                             "layout": ",".join(map(str, self.layout)) if self.layout else ""}}


def _read_ini(path: Path) -> dict[str, dict[str, tuple[str, int]]]:
    """configparser-like reading that remembers line numbers: {section: {key: (value, line)}}."""
    text = read_text(path, "configuration")
    out: dict[str, dict[str, tuple[str, int]]] = {}
    section = None
    last_key = None
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[:1] in (" ", "\t") and section is not None and last_key is not None:
            v, ln = out[section][last_key]                    # continuation line
            out[section][last_key] = ((v + "\n" + stripped).strip(), ln)
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", stripped)
        if m:
            section = m.group(1).strip()
            if section in out:
                raise ScaleSimFileError(f"{path}:{i}: section [{section}] appears twice")
            out[section] = {}
            last_key = None
            continue
        if section is None:
            raise ScaleSimFileError(f"{path}:{i}: {stripped!r} comes before any [section] header")
        pos = [p for p in (stripped.find(":"), stripped.find("=")) if p >= 0]
        if not pos:
            raise ScaleSimFileError(f"{path}:{i}: [{section}] {stripped!r} is not 'key : value'")
        p = min(pos)
        key = stripped[:p].strip().lower()
        if not key:
            raise ScaleSimFileError(f"{path}:{i}: [{section}] line has no key before the separator")
        if key in out[section]:
            raise ScaleSimFileError(f"{path}:{i}: [{section}] {key} is set twice (first on line "
                                    f"{out[section][key][1]})")
        out[section][key] = (stripped[p + 1:].strip(), i)
        last_key = key
    return out


def read_config(path: str | Path) -> ScaleSimConfig:
    """Read a SCALE-Sim .cfg file (errors name file, line and field)."""
    p = Path(path)
    ini = _read_ini(p)

    def get(section: str, key: str, required: bool = True) -> tuple[str, int] | None:
        sec = next((s for s in ini if s == section), None)
        if sec is None:
            if not required:
                return None
            raise ScaleSimFileError(f"{p}: missing section [{section}] (SCALE-Sim needs it for {key})")
        item = ini[sec].get(key.lower())
        if item is None and required:
            raise ScaleSimFileError(f"{p}: [{section}] has no {key}")
        return item

    def integer(section: str, key: str, positive: bool = True) -> int:
        text, line = get(section, key)
        try:
            v = int(text)
        except ValueError:
            raise ScaleSimFileError(f"{p}:{line}: [{section}] {key} = {text!r}: expected an integer") from None
        if positive and v <= 0:
            raise ScaleSimFileError(f"{p}:{line}: [{section}] {key} = {v}: must be a positive integer")
        return v

    run_name = get("general", "run_name")[0]
    arch = "architecture_presets"
    rows, cols = integer(arch, "ArrayHeight"), integer(arch, "ArrayWidth")
    df, line = get(arch, "Dataflow")
    if df not in ("ws", "os", "is"):
        raise ScaleSimFileError(f"{p}:{line}: [{arch}] Dataflow = {df!r}: allowed: ws, os, is")
    sizes = [integer(arch, k) for k in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")]
    mode = get("run_presets", "InterfaceBandwidth", required=False)
    interface = "CALC"
    bandwidth = None
    if mode is not None:
        interface = mode[0]
        if interface not in ("USER", "CALC"):
            raise ScaleSimFileError(f"{p}:{mode[1]}: [run_presets] InterfaceBandwidth = {interface!r}: "
                                    f"allowed: USER, CALC")
        if interface == "USER":
            text, line = get(arch, "Bandwidth")
            try:
                bws = [int(x.strip()) for x in text.split(",")]
            except ValueError:
                raise ScaleSimFileError(f"{p}:{line}: [{arch}] Bandwidth = {text!r}: expected integers "
                                        f"(words per cycle)") from None
            if not bws or bws[0] <= 0:
                raise ScaleSimFileError(f"{p}:{line}: [{arch}] Bandwidth = {text!r}: must be positive")
            bandwidth = bws[0]
    sp = get("sparsity", "SparsitySupport", required=False)
    if sp is not None and sp[0].lower() == "true":
        raise ScaleSimFileError(f"{p}:{sp[1]}: [sparsity] SparsitySupport = {sp[0]}: sparse mapping is not "
                                f"modelled by hwsim's systolic simulator; set it to false")
    custom = {}
    for op in ("Ifmap", "Filter"):
        key = f"{op}CustomLayout"
        item = get("layout", key, required=False)
        custom[op] = False
        if item is not None:
            v = item[0].lower()
            if v not in _BOOLEANS:
                raise ScaleSimFileError(f"{p}:{item[1]}: [layout] {key} = {item[0]!r}: expected a boolean "
                                        f"(true/false, yes/no, on/off, 1/0)")
            custom[op] = _BOOLEANS[v]
    bank, banks, ports = {}, {}, {}
    for op in ("Ifmap", "Filter"):
        bw = get("layout", f"{op}SRAMBankBandwidth", required=False)
        bank[op] = integer("layout", f"{op}SRAMBankBandwidth") if bw is not None else 10
        nb = get("layout", f"{op}SRAMBankNum", required=False)
        banks[op] = integer("layout", f"{op}SRAMBankNum") if nb is not None else 1
        if interface == "USER" and nb is not None:
            n = banks[op]
            if bank[op] % n:
                raise ScaleSimFileError(f"{p}:{nb[1]}: [layout] {op}SRAMBankNum = {n}: must divide "
                                        f"{op}SRAMBankBandwidth = {bank[op]} (SCALE-Sim asserts it in USER mode)")
        np_ = get("layout", f"{op}SRAMBankPort", required=False)
        ports[op] = integer("layout", f"{op}SRAMBankPort") if np_ is not None else 2
    offsets = {}
    for op, default in (("Ifmap", 0), ("Filter", 10000000)):
        item = get(arch, f"{op}Offset", required=False)
        offsets[op] = integer(arch, f"{op}Offset", positive=False) if item is not None else default
        if offsets[op] < 0:
            raise ScaleSimFileError(f"{p}:{item[1]}: [{arch}] {op}Offset = {offsets[op]}: must be >= 0")
    layout, layout_src = None, ""
    if custom["Ifmap"] or custom["Filter"]:
        loc = get("layout", "LayoutCsvLoc", required=False)
        if loc is not None:
            lp = Path(loc[0].strip().strip('"'))
            lp = lp if lp.is_absolute() else p.parent / lp
        else:
            lp = Path("layouts/conv_nets/test.csv")          # SCALE-Sim's scale.py default (-l), from the cwd
            if not lp.is_file():
                which = "IfmapCustomLayout" if custom["Ifmap"] else "FilterCustomLayout"
                raise ScaleSimFileError(f"{p}:{get('layout', which)[1]}: [layout] {which} = True needs SCALE-Sim's layout CSV: name it with "
                                        f"'LayoutCsvLoc: <file>' in [layout] (hwsim's key, relative to the .cfg; "
                                        f"SCALE-Sim ignores it) or run from a directory with {lp}")
        layout, layout_src = read_layout(lp), str(lp)
        if custom["Ifmap"] and offsets["Ifmap"] != 0 and interface == "USER":
            raise ScaleSimFileError(f"{p}: [{arch}] IfmapOffset = {offsets['Ifmap']} with IfmapCustomLayout: "
                                    f"SCALE-Sim's custom ifmap lines hold the addresses without the offset, so no "
                                    f"demanded address is ever found (it prefetches forever); use IfmapOffset 0")
    return ScaleSimConfig(run_name=run_name, rows=rows, cols=cols, dataflow=df, ifmap_kb=sizes[0],
                          filter_kb=sizes[1], ofmap_kb=sizes[2], bandwidth=bandwidth, interface=interface,
                          source=str(p), ifmap_bank_bw=bank["Ifmap"], filter_bank_bw=bank["Filter"],
                          ifmap_custom=custom["Ifmap"], filter_custom=custom["Filter"], ifmap_banks=banks["Ifmap"],
                          filter_banks=banks["Filter"], ifmap_ports=ports["Ifmap"], filter_ports=ports["Filter"],
                          ifmap_offset=offsets["Ifmap"], filter_offset=offsets["Filter"], layout=layout,
                          layout_source=layout_src)


#: configparser's getboolean words (SCALE-Sim reads the custom-layout flags with it)
_BOOLEANS = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False, "false": False,
             "off": False}


def read_layout(path: str | Path) -> tuple[int, ...]:
    """The layout row SCALE-Sim 3.0.0 applies to *every* layer: the first entry of its layout CSV
    (``layout_utils.load_layout_conv``; the operand matrices ask for layer 0). As SCALE-Sim: the first line
    is a header, blank lines are skipped, the field after the last comma is dropped, every field of every
    row must be an integer, and a row whose name contains ``DP`` becomes Channel-Intraline-Factor rows with
    that factor set to 1. Returns the 20 integers after the name."""
    p = Path(path)
    text = read_text(p, "layout")
    entries = []
    for i, raw in enumerate(text.splitlines(), 1):
        row = raw.strip()
        if i == 1 or row == "":
            continue
        elems = row.split(",")[:-1]
        if len(elems) < 21:
            raise ScaleSimFileError(f"{p}:{i}: {row[:60]!r}: a layout row needs a name and 20 integers, each "
                                    f"followed by a comma (SCALE-Sim drops the field after the last comma)")
        vals = []
        for j, e in enumerate(elems[1:], 2):
            try:
                vals.append(int(e.strip()))
            except ValueError:
                raise ScaleSimFileError(f"{p}:{i}: field {j} = {e.strip()[:30]!r}: expected an integer") from None
        if "DP" in elems[0].strip():
            entries += [vals[:4] + [1] + vals[5:]] * max(vals[4], 0)
        else:
            entries.append(vals)
    if not entries:
        raise ScaleSimFileError(f"{p}: the layout file has no layer row")
    return tuple(entries[0][:20])


def load_design(path: str | Path):
    """A SCALE-Sim .cfg file as a hwsim Design."""
    from ..design import from_dict

    cfg = read_config(path)
    return from_dict(cfg.design_dict(), source=str(path))


# ---- writers (inputs for SCALE-Sim itself) ---------------------------------------------------------
CONFIG_TEMPLATE = """\
[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   {ifmap_kb}
FilterSramSzkB:  {filter_kb}
OfmapSramSzkB:   {ofmap_kb}
IfmapOffset:    0
FilterOffset:   {filter_offset}
OfmapOffset:    20000000
Bandwidth : {bandwidth}
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: {ifmap_custom}
IfmapSRAMBankBandwidth: {ifmap_bank_bw}
IfmapSRAMBankNum: {ifmap_banks}
IfmapSRAMBankPort: {ifmap_ports}
FilterCustomLayout: {filter_custom}
FilterSRAMBankBandwidth: {filter_bank_bw}
FilterSRAMBankNum: {filter_banks}
FilterSRAMBankPort: {filter_ports}

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {interface}
UseRamulatorTrace: False
"""

_LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height "
                  "Intraline Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter "
                  "Intraline Factor, IFMAP Height Intraline Order, IFMAP Width Intraline Order, Channel "
                  "Intraline Order, IFMAP Height Interline Order, IFMAP Width Interline Order, Channel "
                  "Interline Order, Num Filter Intraline Order, Channel Intraline Order, Filter Height "
                  "Intraline Order, Filter Width Intraline Order, Num Filter Interline Order, Channel "
                  "Interline Order, Filter Height Interline Order, Filter Width Interline Order, ")


def config_text(run_name: str, rows: int, cols: int, dataflow: str, ifmap_kb: int = 64,
                filter_kb: int = 64, ofmap_kb: int = 64, interface: str = "CALC", bandwidth: int = 10,
                ifmap_bank_bw: int = 10, filter_bank_bw: int = 10, ifmap_banks: int | None = None,
                filter_banks: int | None = None, ifmap_custom: bool = False, filter_custom: bool = False,
                ifmap_ports: int = 2, filter_ports: int = 2, filter_offset: int = 10000000,
                layout_file: str | None = None) -> str:
    """A SCALE-Sim 3.0.0 configuration in the layout of its shipped ``configs/scale.cfg``.

    ``interface``: CALC (SCALE-Sim estimates the DRAM bandwidth) or USER (ifmap/filter SRAMs fetch
    ``ifmap_bank_bw`` / ``filter_bank_bw`` words per cycle -- SCALE-Sim takes them from the [layout]
    section -- and the ofmap SRAM drains ``bandwidth`` words per cycle). Bank counts default to the
    shipped 10 when they divide the bank bandwidth, else 1 (SCALE-Sim asserts that they divide it).
    ``ifmap_custom`` / ``filter_custom``: [layout] IfmapCustomLayout / FilterCustomLayout (the layout file's
    first row then orders that operand's SRAM lines, and its banks/ports model conflicts)."""
    def banks(bw, n):
        return n if n is not None else (10 if bw % 10 == 0 else 1)
    text = CONFIG_TEMPLATE.format(run_name=run_name, rows=rows, cols=cols, dataflow=dataflow,
                                  ifmap_kb=ifmap_kb, filter_kb=filter_kb, ofmap_kb=ofmap_kb,
                                  interface=interface, bandwidth=bandwidth, ifmap_bank_bw=ifmap_bank_bw,
                                  filter_bank_bw=filter_bank_bw,
                                  ifmap_banks=banks(ifmap_bank_bw, ifmap_banks),
                                  filter_banks=banks(filter_bank_bw, filter_banks),
                                  ifmap_custom=bool(ifmap_custom), filter_custom=bool(filter_custom),
                                  ifmap_ports=ifmap_ports, filter_ports=filter_ports, filter_offset=filter_offset)
    if layout_file is not None:
        text = text.replace("\n[sparsity]", f"LayoutCsvLoc: {layout_file}\n\n[sparsity]")
    return text


def topology_text(layers, kind: str) -> str:
    """Topology CSV text; ``layers`` are Gemm (kind "gemm") or Conv with the SCALE-Sim convention."""
    if kind == "gemm":
        out = ["Layer, M, N, K,"]
        out += [f"{g.name}, {g.M}, {g.N}, {g.K}," for g in layers]
    else:
        out = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
               "Strides,"]
        for c in layers:
            if c.stride_h != c.stride_w or c.pad_h or c.pad_w:
                raise ValueError(f"{c.name}: SCALE-Sim topologies have one stride and no padding")
            out.append(f"{c.name}, {c.H}, {c.W}, {c.R}, {c.S}, {c.C}, {c.N}, {c.stride_h},")
    return "\n".join(out) + "\n"


#: the row SCALE-Sim's shipped layouts/conv_nets/test.csv gives every layer
DEFAULT_LAYOUT = (2, 2, 1, 1, 16, 4, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7)


def layout_text(layer_names, layout=DEFAULT_LAYOUT) -> str:
    """A layout file with the row ``layout`` (20 integers, the columns after the layer name) for every layer
    (SCALE-Sim reads one even when custom layouts are off)."""
    vals = ", ".join(str(int(v)) for v in layout)
    rows = [_LAYOUT_HEADER] + [f"{n}, {vals}," for n in layer_names]
    return "\n".join(rows) + "\n"


# ---- running SCALE-Sim -----------------------------------------------------------------------------
def scalesim_python() -> str | None:
    """The Python interpreter of a SCALE-Sim 3.0.0 installation: $SCALESIM_PYTHON, else
    ``<repo>/.scalesim-venv/bin/python`` (see tests/reference/generate_scalesim_reference.py)."""
    cands = [os.environ.get("SCALESIM_PYTHON", "")]
    cands.append(str(Path(__file__).resolve().parent.parent / ".scalesim-venv" / "bin" / "python"))
    for c in cands:
        if c and Path(c).is_file():
            try:
                r = subprocess.run([c, "-c", "import scalesim, importlib.metadata as m; "
                                       "print(m.version('scalesim'))"], capture_output=True, text=True,
                                   timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if r.returncode == 0:
                return c
    return None


#: Driver run inside SCALE-Sim's interpreter: runs one configuration/topology, times the simulation
#: itself (not the interpreter start), and prints the report rows as JSON.
DRIVER = r"""
import contextlib, io, json, sys, time
from scalesim.scale_sim import scalesim
cfg, topo, layout, out, gemm = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "gemm"
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                 input_type_gemm=gemm)
    t0 = time.perf_counter()
    s.run_scale(top_path=out)
    t1 = time.perf_counter()
import importlib.metadata as m
print(json.dumps({"seconds": t1 - t0, "version": m.version("scalesim")}))
"""


#: SCALE-Sim 3.0.0's report columns (COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT) and the
#: snake_case keys hwsim uses for them in Python (``LayerResult.scalesim()``); report.json's "compat"
#: section uses SCALE-Sim's own names (the right-hand side).
FIELDS = {
    "total_cycles_incl_prefetch": "Total Cycles (incl. prefetch)",
    "compute_cycles": "Total Cycles",
    "stall_cycles": "Stall Cycles",
    "overall_util_pct": "Overall Util %",
    "mapping_efficiency_pct": "Mapping Efficiency %",
    "compute_util_pct": "Compute Util %",
    "avg_ifmap_sram_bw": "Avg IFMAP SRAM BW",
    "avg_filter_sram_bw": "Avg FILTER SRAM BW",
    "avg_ofmap_sram_bw": "Avg OFMAP SRAM BW",
    "avg_ifmap_dram_bw": "Avg IFMAP DRAM BW",
    "avg_filter_dram_bw": "Avg FILTER DRAM BW",
    "avg_ofmap_dram_bw": "Avg OFMAP DRAM BW",
    "ifmap_sram_start_cycle": "SRAM IFMAP Start Cycle",
    "ifmap_sram_stop_cycle": "SRAM IFMAP Stop Cycle",
    "ifmap_sram_reads": "SRAM IFMAP Reads",
    "filter_sram_start_cycle": "SRAM Filter Start Cycle",
    "filter_sram_stop_cycle": "SRAM Filter Stop Cycle",
    "filter_sram_reads": "SRAM Filter Reads",
    "ofmap_sram_start_cycle": "SRAM OFMAP Start Cycle",
    "ofmap_sram_stop_cycle": "SRAM OFMAP Stop Cycle",
    "ofmap_sram_writes": "SRAM OFMAP Writes",
    "ifmap_dram_start_cycle": "DRAM IFMAP Start Cycle",
    "ifmap_dram_stop_cycle": "DRAM IFMAP Stop Cycle",
    "ifmap_dram_reads": "DRAM IFMAP Reads",
    "filter_dram_start_cycle": "DRAM Filter Start Cycle",
    "filter_dram_stop_cycle": "DRAM Filter Stop Cycle",
    "filter_dram_reads": "DRAM Filter Reads",
    "ofmap_dram_start_cycle": "DRAM OFMAP Start Cycle",
    "ofmap_dram_stop_cycle": "DRAM OFMAP Stop Cycle",
    "ofmap_dram_writes": "DRAM OFMAP Writes",
}
#: fields SCALE-Sim prints as floats (the others are integral counts or cycles)
FLOAT_FIELDS = {k for k in FIELDS if k.endswith("_pct") or k.startswith("avg_")}


def parse_reports(run_dir: str | Path) -> list[dict]:
    """COMPUTE_REPORT.csv + BANDWIDTH_REPORT.csv + DETAILED_ACCESS_REPORT.csv of one SCALE-Sim run -> one
    dict per layer (snake_case keys of FIELDS; counts and cycles as int, the rest as float)."""
    run_dir = Path(run_dir)

    def rows(name):
        lines = (run_dir / name).read_text().splitlines()
        head = [h.strip() for h in lines[0].split(",") if h.strip()]
        out = []
        for ln in lines[1:]:
            vals = [v.strip() for v in ln.split(",")]
            out.append(dict(zip(head, vals)))
        return out

    res = []
    for c, b, d in zip(rows("COMPUTE_REPORT.csv"), rows("BANDWIDTH_REPORT.csv"),
                       rows("DETAILED_ACCESS_REPORT.csv")):
        both = {**c, **b, **d}
        entry = {}
        for key, name in FIELDS.items():
            v = float(both[name])
            entry[key] = v if key in FLOAT_FIELDS else int(v)
            if key not in FLOAT_FIELDS and v != int(v):
                raise ValueError(f"{run_dir}: {name} = {both[name]!r} is not integral")
        res.append(entry)
    return res


def run_scalesim(python: str, workdir: str | Path, run_name: str, rows: int, cols: int, dataflow: str,
                 layers, kind: str, ifmap_kb: int = 64, filter_kb: int = 64, ofmap_kb: int = 64,
                 timeout: float = 3600, layout=DEFAULT_LAYOUT, **interface) -> tuple[list[dict], float]:
    """Run SCALE-Sim (interpreter ``python``) on ``layers``; returns (per-layer report dicts, seconds of
    simulation wall time measured inside SCALE-Sim's process). ``interface``: the keyword arguments of
    ``config_text`` (interface, bandwidth, ifmap_bank_bw, filter_bank_bw, ...)."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    cfg, topo, lay = wd / f"{run_name}.cfg", wd / f"{run_name}_topo.csv", wd / f"{run_name}_layout.csv"
    cfg.write_text(config_text(run_name, rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb,
                               layout_file=str(lay.resolve()), **interface))
    topo.write_text(topology_text(layers, kind))
    lay.write_text(layout_text([l.name for l in layers], layout))
    return run_scalesim_files(python, cfg, topo, lay, wd / "out", kind, timeout)


def run_scalesim_files(python: str, cfg: str | Path, topo: str | Path, layout: str | Path, out: str | Path,
                       kind: str, timeout: float = 3600) -> tuple[list[dict], float]:
    """Run SCALE-Sim (interpreter ``python``) on configuration, topology and layout files as they are (e.g.
    the ones SCALE-Sim ships); its reports go to ``out/<run_name>``. Returns what ``run_scalesim``
    returns."""
    import json

    r = subprocess.run([python, "-c", DRIVER, str(cfg), str(topo), str(layout), str(out), kind],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"SCALE-Sim failed on {cfg} / {topo}:\n{r.stderr[-2000:]}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    return parse_reports(Path(out) / read_config(cfg).run_name), float(info["seconds"])
