"""The kind registry: the one plug-in point of an accelerator kind.

Each kind is registered once, below, with the modules that implement it, named by string so that
importing this registry imports no Amaranth, Numba or cocotb. Every command (``simulate``, ``rtl``,
``verify``, ``flow``, ``sweep``) looks a kind up here; nothing else dispatches on kind names.

A kind's modules, by role (``module`` or ``module:attribute``):

spec       module with ``SECTIONS: dict[str, type]`` -- one frozen dataclass per YAML section
           (:mod:`hwsim.spec`) -- and optionally ``check(design) -> None`` for rules across sections
           (raises :class:`hwsim.spec.SpecError`).
simulator  ``build(design) -> Simulator``; ``Simulator.run(workload, mode=..., compat=..., seed=...)``
           returns a result with ``to_dict()`` (``stats.cycles``, ``layers[]``), ``render()`` (the
           text report) and ``layer_rows()`` (header, rows of ``layers.csv``).
report     optional: ``plots(result, out_dir) -> list[Path]`` (PNG files next to the report).
rtl        ``component(design) -> amaranth.lib.wiring.Component`` (the generated top).
bench      module with the level-independent bench: ``vectors(design, seed)``, ``run(level, ...)``,
           ``check(...)`` (see :mod:`testbenches.bench`).
flow       ``step(root=..., seed=..., log=...) -> {"ok": bool, "text": str, ...}``: the kind's step of
           ``hwsim flow`` (application layer, ``hwsim/<kind>/flow.py``), verdicts computed in the run.
compat     published simulators the kind reproduces: ``{name: what it is}`` (``--compat NAME``).
design_files  other design-file formats the kind reads (``{".cfg": "module:load_design"}``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    spec: str
    simulator: str | None = None
    report: str | None = None
    rtl: str | None = None
    bench: str | None = None
    #: the kind's step of ``hwsim flow``: "module:step", ``step(root, seed, log) -> {"ok": bool, "text": str}``
    flow: str | None = None
    modes: tuple[str, ...] = ()
    compat: Mapping[str, str] = field(default_factory=dict)
    #: options of ``hwsim simulate`` this kind's ``run()`` takes beyond mode/seed/compat (e.g. "operands")
    run_options: tuple[str, ...] = ()
    #: other design-file formats the kind reads: suffix -> "module:function(path) -> Design"
    design_files: Mapping[str, str] = field(default_factory=dict)

    def load(self, role: str) -> Any:
        """Import what the kind registered for ``role`` (``spec``, ``simulator``, ``rtl``, ...)."""
        ref = getattr(self, role)
        if ref is None:
            raise LookupError(f"kind {self.name!r} has no {role}; kinds with one: "
                              f"{', '.join(k.name for k in KINDS.values() if getattr(k, role))}")
        return resolve(ref)

    @property
    def sections(self) -> dict[str, type]:
        return self.load("spec").SECTIONS


def _register(*kinds: Kind) -> dict[str, Kind]:
    return {k.name: k for k in kinds}


KINDS: dict[str, Kind] = _register(
    Kind("systolic", "systolic array (weight/output/input stationary), SCALE-Sim-compatible reporting",
         spec="hwsim.systolic.spec", simulator="hwsim.systolic.sim:build", report="hwsim.systolic.plots",
         rtl="rtl_gen.systolic:component", bench="testbenches.systolic",
         modes=("auto", "cycle", "analytical"), compat={"scalesim": "SCALE-Sim 3.0.0"},
         design_files={".cfg": "hwsim.systolic.scalesim_io:load_design"}, run_options=("operands",)),
    Kind("bitserial", "bit-serial PE arrays: BitMoD (FP16 x term-serial weights) and BitVert (BBS, bit columns)",
         spec="hwsim.bitserial.spec", simulator="hwsim.bitserial.sim:build", report="hwsim.bitserial.report",
         rtl="rtl_gen.bitserial:component",
         bench="testbenches.bitserial", flow="hwsim.bitserial.flow:step", modes=("auto", "cycle", "analytical"),
         compat={"bitmod-a902a09": "BitMoD-HPCA-25 a902a09 (the paper's figures)",
                 "bitmod-e445a5f": "BitMoD-HPCA-25 e445a5f (the current artefact)",
                 "bitsim": "yc2367/BitSim 6845fad (BitVert, Stripes, Pragmatic, Bitlet, BitWave)"}),
    Kind("pe", "one multiply-accumulate processing element (stream in, accumulator out)",
         spec="hwsim.pe.spec", rtl="rtl_gen.pe:component", bench="testbenches.pe"),
    Kind("decoder", "a number-format decoder (code + group metadata -> exact fixed-point value)",
         spec="hwsim.pe.decoder_spec", rtl="rtl_gen.decoder:component", bench="testbenches.decoder"),
    Kind("pim", "DRAM processing-in-memory: command-level HBM2 engine, HBM-PIM FP16 blocks, P3-LLM lanes",
         spec="hwsim.pim.spec", simulator="hwsim.pim.sim:build", report="hwsim.pim.report",
         rtl="rtl_gen.pim:component", bench="testbenches.pim", flow="hwsim.pim.flow:step",
         modes=("auto", "cycle"), compat={"pimsimulator": "SAITPublic/PIMSimulator b464dde"}),
    Kind("butterfly", "adaptable butterfly accelerator (FABNet FFT + butterfly layers, FP16, P_BE x P_BU engines)",
         spec="hwsim.butterfly.spec", simulator="hwsim.butterfly.sim:build", report="hwsim.butterfly.report",
         rtl="rtl_gen.butterfly:component", bench="testbenches.butterfly", flow="hwsim.butterfly.flow:step",
         modes=("auto", "cycle", "analytical"), compat={"butterfly-acc": "SamsungLabs/Butterfly_Acc 1bb951f"}),
    Kind("lutnet", "LogicNets-style LUT netlist (truth-table neurons, pipelined layers), trained on digits",
         spec="hwsim.lutnet.spec", simulator="hwsim.lutnet.sim:build", report="hwsim.lutnet.plots",
         rtl="rtl_gen.lutnet:component",
         bench="testbenches.lutnet", flow="hwsim.lutnet.flow:step", modes=("auto", "cycle", "analytical"),
         compat={"logicnets": "Xilinx/logicnets (LUTCost, latency in cycles)"}),
    Kind("hsa", "hybrid systolic array for edge LLMs: prefill GEMMs on a systolic array, decode GEMV lanes "
         "rate-matched to DRAM (MXINT4 weights), RMSNorm and RoPE units",
         spec="hwsim.hsa.spec", simulator="hwsim.hsa.sim:build", report="hwsim.hsa.plots",
         rtl="rtl_gen.hsa:component", bench="testbenches.hsa", modes=("auto", "cycle", "analytical")),
)


def resolve(ref: str) -> Any:
    """Import ``"module"`` or ``"module:attribute"``."""
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def design_file_loader(suffix: str) -> Any | None:
    """The loader of a non-YAML design file (e.g. a SCALE-Sim .cfg), or None."""
    for k in KINDS.values():
        if suffix.lower() in k.design_files:
            return resolve(k.design_files[suffix.lower()])
    return None


def get(name: str) -> Kind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise LookupError(f"kind = {name!r}: allowed: {', '.join(KINDS)}") from None


def with_role(role: str) -> list[Kind]:
    """The kinds that registered ``role`` (e.g. every kind with RTL)."""
    return [k for k in KINDS.values() if getattr(k, role)]
