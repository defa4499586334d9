"""Systolic-array generator: the machine of docs/systolic.md as an Amaranth component.

    cfg = SystolicConfig.from_design(hwsim.design.load("designs/sa_ws_4x4_int8.yaml"))
    top = SystolicArray(cfg)                  # every parameter checked here, before any build
    act, wgt = cfg.pack(a_codes, w_codes)     # memory images (one int per word) for the host port
    y = cfg.unpack(result_words, M, N)        # int64 [M, N] from the result memory image

Ports (``ports.json`` describes them, with the memory layouts, under ``"systolic"``):

==================  =======  ===========================================================================
``start``           In(1)    sampled at a rising edge while idle (``busy == 0``): runs one GEMM
``gemm_m/n/k``      In(D)    the GEMM shape ``Y[M, N] = A[M, K] @ W[K, N]``, sampled with ``start``
``busy``            Out(1)   1 from the edge that samples ``start`` to the edge that raises ``done``
``done``            Out(1)   1 during exactly one cycle, cycle N (docs/systolic.md section 1)
``host__sel``       In(2)    host port (testbench side, used while idle): 1 activation, 2 weight,
``host__addr``      In(A)    3 result memory (0: none); word address
``host__we``        In(1)    write ``host__wdata`` (lanes packed from bit 0) at the end of this cycle
``host__wdata``     In(W)
``host__rdata``     Out(W)   the word addressed in the previous cycle (1-cycle synchronous read)
``mon_write``       Out(..)  monitor: per result bank, write enable (bits 0..C-1), accumulate flag
                             (C..2C-1) and word address (2C + c*Ar ...) of the write committed at the
                             end of this cycle, so a testbench can check every write cycle
==================  =======  ===========================================================================

Host accesses while ``busy`` are ignored. Memories (``amaranth.lib.memory``, one word = one lane
vector, lane i at bits [i*b, (i+1)*b)) and their layouts (``tile_words``: word ``f * rows + i`` holds
``S[i, f*lanes : (f+1)*lanes]``, lanes past the matrix edge padded with code 0, ignored by the array):

=====  =====================================  =====================================  ====================
flow   activation memory                      weight memory                          result memory (C banks)
=====  =====================================  =====================================  ====================
ws     R lanes: tile_words(A, R) (streamed)   C lanes: tile_words(W, C) (stationary)  tile_words(Y, C)
is     C lanes: tile_words(A^T, C) (station.) R lanes: tile_words(W^T, R) (streamed)  tile_words(Y^T, C)
os     R lanes: tile_words(A^T, R)            C lanes: tile_words(W, C)               tile_words(Y, C)
=====  =====================================  =====================================  ====================

Memory depths are the design's ``memory.*_kb`` divided by the word size; a workload whose padded image
does not fit is refused by ``SystolicConfig.check_workload`` (the hardware does not check).

Each PE instantiates ``rtl_gen.pe.MacDatapath`` (the verified decoders, exact multiplier and wrapping
adder), so the array decodes every format exactly as the stand-alone PE and ``hwsim.pe`` do. Operand
registers hold codes; lanes outside the used part of a tile are gated by a valid bit (the stationary
row in ws/is, the streamed activation in os), so no format needs a code for zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from hwsim.systolic.memory import KB_KEY as _KB_KEY
from hwsim.systolic.memory import (MemoryGeometry, element_of_bank_word, memories, misfit,  # noqa: F401
                                   pack_lanes, result_matrix, tile_words, unpack_lanes, untile_words,
                                   words_needed)

from . import arith
from .errors import NoDecoderError, RTLError, UnsupportedKindError, discard_on_error

DATAFLOWS = ("ws", "os", "is")
#: Largest array the generator builds (Verilator DUTs stay <= 8x8; larger arrays are hwsim's job).
MAX_PES = 1024
#: Largest memory (words) the generator builds.
MAX_DEPTH = 1 << 16
MAX_PE_LATENCY = 8
#: host__sel values (0 selects nothing).
SEL = {"activation": 1, "weight": 2, "result": 3}
#: host__sel values of the scale memories (designs with the scale epilogue; host__sel is then 3 bits)
SEL_SCALES = {"weight_scale": 4, "activation_scale": 5}


@dataclass(frozen=True)
class EpilogueConfig:
    """The scale epilogue's parameters (hwsim.systolic.epilogue; rtl_gen.epilogue.ScaleEpilogue)."""

    group: int          #: K-group of the weight scales (in ws a multiple of the array rows)
    scale_bits: int
    scale_frac: int
    width: int          #: result width E


class WorkloadTooLarge(RTLError):
    """A GEMM whose operands or results do not fit the generated memories."""


@dataclass(frozen=True)
class SystolicConfig:
    """Validated parameters of one array (no Amaranth): geometry, memory layouts, pack/unpack."""

    name: str
    rows: int
    cols: int
    dataflow: str
    pe_latency: int
    spec: arith.MacSpec
    mem_kb: tuple[int, int, int]     #: (ifmap, filter, ofmap) KiB
    epilogue: EpilogueConfig | None = None
    register_memory_outputs: bool = False   #: an output register on the array's read ports (latency 2)

    @property
    def read_latency(self) -> int:
        """Cycles from a read address to the data at the array (docs/systolic.md section 1)."""
        return 2 if self.register_memory_outputs else 1

    @classmethod
    def from_design(cls, design) -> "SystolicConfig":
        """From a ``kind: systolic`` design; RTLError subclasses for anything the RTL cannot build."""
        if design.kind != "systolic":
            raise UnsupportedKindError(f"{design.source}: kind {design.kind!r} is not a systolic design")
        a, o, mem = design.array, design.operands, design.memory
        if mem.backing != "none":
            raise UnsupportedKindError(
                f"{design.source}: memory.backing = {mem.backing!r}: the RTL keeps every operand and result "
                f"in its on-chip memories (no DRAM interface); use backing: none (and sizes that hold the "
                f"workloads), or simulate this design with hwsim")
        ep = design.epilogue
        epi = (EpilogueConfig(group=o.group_size, scale_bits=ep.scale_bits, scale_frac=ep.scale_frac,
                              width=ep.width) if ep.scales == "fixed" else None)
        return cls.make(design.name, a.rows, a.cols, a.dataflow, o.weight, o.activation, o.accumulator,
                        a.pe_latency, (mem.ifmap_kb, mem.filter_kb, mem.ofmap_kb), epilogue=epi,
                        register_memory_outputs=a.register_memory_outputs)

    @classmethod
    def make(cls, name: str, rows: int, cols: int, dataflow: str, weight: str, activation: str,
             accumulator: str | int, pe_latency: int = 1, mem_kb: tuple[int, int, int] = (8, 8, 32),
             epilogue: EpilogueConfig | None = None, register_memory_outputs: bool = False) -> "SystolicConfig":
        if rows * cols > MAX_PES:
            raise RTLError(f"array {rows}x{cols} = {rows * cols} PEs: the RTL generator builds arrays of at most "
                           f"{MAX_PES} PEs (e.g. 32x32); simulate larger arrays with hwsim (cycle-exact "
                           f"with the same microarchitecture)")
        if pe_latency > MAX_PE_LATENCY:
            raise RTLError(f"array.pe_latency = {pe_latency}: the RTL generator supports 1..{MAX_PE_LATENCY}")
        if not isinstance(register_memory_outputs, bool):
            raise RTLError(f"array.register_memory_outputs = {register_memory_outputs!r}: expected true or false")
        if dataflow not in DATAFLOWS:
            raise RTLError(f"array.dataflow = {dataflow!r}: allowed: {', '.join(DATAFLOWS)}")
        from hwsim.pe.model import PEError, has_selector, pe_format, weight_pe_format

        for role, fmt in (("weight", weight), ("activation", activation)):
            try:
                (weight_pe_format if role == "weight" else pe_format)(fmt)   # the simulators' capacity
            except PEError as e:
                raise NoDecoderError(f"operands.{role} = {fmt!r}: no systolic PE for this format: {e}") from None
        # formats with a per-group selector: the selector travels in each weight lane's high bits
        spec = arith.MacSpec.make(weight, activation, accumulator, weight_meta=has_selector(weight))
        if epilogue is not None:
            if isinstance(epilogue.group, bool) or not isinstance(epilogue.group, int) or epilogue.group < 1:
                raise RTLError(f"operands.group_size = {epilogue.group!r}: the scale epilogue needs a positive "
                               f"K-group")
            if dataflow != "os" and epilogue.group % rows:
                raise RTLError(f"operands.group_size = {epilogue.group}: must be a multiple of array.rows = {rows}")
        cfg = cls(name=name, rows=int(rows), cols=int(cols), dataflow=dataflow, pe_latency=int(pe_latency),
                  spec=spec, mem_kb=tuple(int(x) for x in mem_kb), epilogue=epilogue,
                  register_memory_outputs=register_memory_outputs)
        for g in cfg.memories().values():
            if g.depth < 1:
                kb = cfg.mem_kb[("activation", "weight", "result").index(g.name)]
                raise RTLError(f"memory.{_KB_KEY[g.name]} = {kb}: smaller than one {g.word_bits}-bit word of "
                               f"the {g.name} memory ({g.lanes} lanes x {g.lane_bits} bits)")
            if g.depth > MAX_DEPTH:
                raise RTLError(f"memory.{_KB_KEY[g.name]}: {g.depth} words of {g.word_bits} bits; the RTL "
                               f"generator builds memories of at most {MAX_DEPTH} words")
        return cfg

    # -- geometry ------------------------------------------------------------------------------------
    @property
    def acc_bits(self) -> int:
        return self.spec.acc_width

    @property
    def result_bits(self) -> int:
        """Width of a result lane: the epilogue's width, else the accumulator's."""
        return self.epilogue.width if self.epilogue is not None else self.acc_bits

    @property
    def weight_lane_bits(self) -> int:
        """Weight code bits plus the selector bits of formats that have one."""
        return self.spec.weight.bits + self.spec.weight.meta_bits

    def memories(self) -> dict[str, MemoryGeometry]:
        return memories(self.rows, self.cols, self.dataflow, self.weight_lane_bits, self.spec.activation.bits,
                        self.result_bits, self.mem_kb)

    def scale_memories(self) -> dict[str, MemoryGeometry]:
        """The epilogue's scale memories (empty without it). ws, os: weight scales, word ``f*G + g`` holds
        S_w[g, f*C + c] in lane c (tile_words(S_w, C)); activation scales, word m holds S_a[m]. is (the
        roles of the lanes swap with the operands'): weight scales, one lane, word ``g*N + n`` holds
        S_w[g, n]; activation scales, word f holds S_a[f*C + c] in lane c. Depths hold every workload that
        fits the operand memories: the weight memory's (ws, os: ceil(N/C) * ceil(K/G) <= ceil(N/C) * K
        words; is: ceil(K/G) * N <= ceil(K/R) * N); the activation memory's in ws (M <= ceil(K/R) * M
        words) and is (ceil(M/C) <= ceil(M/C) * K), the result memory's in os (M <= ceil(N/C) * M words;
        the os activation memory holds ceil(M/R) * K words, fewer than M when K < R)."""
        if self.epilogue is None:
            return {}
        mems, SB = self.memories(), self.epilogue.scale_bits
        if self.dataflow == "is":
            return {"weight_scale": MemoryGeometry("weight_scale", 1, SB, mems["weight"].depth, "scales",
                                                   "word g*N + n holds S_w[g, n]"),
                    "activation_scale": MemoryGeometry("activation_scale", self.cols, SB, mems["activation"].depth,
                                                       "scales", "tile_words(S_a as one row, C): word f holds "
                                                       "S_a[f*C + c] in lane c")}
        a_depth = mems["result" if self.dataflow == "os" else "activation"].depth
        return {"weight_scale": MemoryGeometry("weight_scale", self.cols, SB, mems["weight"].depth, "scales",
                                               "tile_words(S_w, C): word f*G + g holds S_w[g, f*C + c] in lane c"),
                "activation_scale": MemoryGeometry("activation_scale", 1, SB, a_depth,
                                                   "scales", "word m holds S_a[m]")}

    @property
    def dim_bits(self) -> int:
        """Width of the gemm_m/n/k inputs: enough for any shape whose image fits the memories."""
        mems = self.memories()
        return (max(g.depth for g in mems.values()) * max(self.rows, self.cols)).bit_length()

    def words_needed(self, M: int, N: int, K: int) -> dict[str, int]:
        """Memory words a GEMM's padded images occupy."""
        return words_needed(self.rows, self.cols, self.dataflow, M, N, K)

    def check_workload(self, M: int, N: int, K: int) -> None:
        """The fit rule shared with hwsim (hwsim.systolic.memory.misfit)."""
        for what, v in (("M", M), ("N", N), ("K", K)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise WorkloadTooLarge(f"GEMM {what} = {v!r}: must be a positive integer")
        why = misfit(self.memories(), self.rows, self.cols, self.dataflow, M, N, K, self.mem_kb)
        if why:
            raise WorkloadTooLarge(f"{self.name}: {why}; use a smaller GEMM or a design with a larger memory")

    # -- memory images -----------------------------------------------------------------------------
    def pack(self, a_codes: np.ndarray, w_codes: np.ndarray, poison: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Activation and weight memory images (object arrays of word ints) of A [M, K], W [K, N] codes.
        Padding lanes hold code 0, or with ``poison`` the code of largest magnitude (tests use it to
        show that the array ignores padding whatever it holds)."""
        a = np.asarray(a_codes, dtype=np.int64)
        w = np.asarray(w_codes, dtype=np.int64)
        M, K = a.shape
        N = w.shape[1]
        self.check_workload(M, N, K)
        mems = self.memories()
        la, lw = mems["activation"].lanes, mems["weight"].lanes
        fa, fw = (_largest_code(self.spec.activation), _largest_lane(self.spec.weight.format)) if poison else (0, 0)
        if self.dataflow == "ws":
            av, wv = tile_words(a, la, fa), tile_words(w, lw, fw)
        elif self.dataflow == "is":
            av, wv = tile_words(a.T, la, fa), tile_words(w.T, lw, fw)
        else:
            av, wv = tile_words(a.T, la, fa), tile_words(w, lw, fw)
        return pack_lanes(av, self.spec.activation.bits), pack_lanes(wv, self.weight_lane_bits)

    def pack_scales(self, S_w: np.ndarray, S_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weight-scale and activation-scale memory images (object arrays of word ints) of the fixed-point
        scales S_w [G, N] and S_a [M] (hwsim.systolic.epilogue)."""
        SB = self.epilogue.scale_bits
        sw = np.asarray(S_w, dtype=object)
        sa = np.asarray(S_a, dtype=object).reshape(-1, 1)
        if self.dataflow == "is":
            return pack_lanes(sw.reshape(-1, 1), SB), pack_lanes(tile_words(sa.reshape(1, -1), self.cols, 0), SB)
        return pack_lanes(tile_words(sw, self.cols, 0), SB), pack_lanes(sa, SB)

    def result_lanes(self, M: int, N: int) -> tuple[int, int]:
        """(rows, cols) of the matrix the result memory tiles: Y (ws, os) or Y^T (is)."""
        return (N, M) if self.dataflow == "is" else (M, N)

    def unpack(self, words, M: int, N: int) -> np.ndarray:
        """Y int64 [M, N] from the result memory image (hwsim.systolic.memory.result_matrix)."""
        return result_matrix(words, self.cols, self.result_bits, self.dataflow, M, N)

    def element_of_bank_word(self, M: int, N: int) -> np.ndarray:
        """int64 [words, C, 2]: the (m, n) of Y each (result word, bank) holds (-1 for padding)."""
        return element_of_bank_word(self.cols, self.dataflow, M, N)

    def mon_layout(self) -> dict[str, Any]:
        aw = self.memories()["result"].addr_bits
        C = self.cols
        return {"port": "mon_write", "banks": C, "we": [0, C], "acc": [C, 2 * C], "addr_offset": 2 * C,
                "addr_bits": aw, "width": 2 * C + C * aw}

    def describe(self) -> dict[str, Any]:
        d = self._describe()
        if self.spec.weight.use_meta:
            d["weight_lanes"] = {"code_bits": self.spec.weight.bits, "selector_bits": self.spec.weight.meta_bits,
                                 "layout": "lane = code | selector << code_bits"}
        if self.epilogue is not None:
            e = self.epilogue
            d["host"]["select"].update(SEL_SCALES)
            d["scale_memories"] = {k: {"sel": SEL_SCALES[k], **g.describe()} for k, g in self.scale_memories().items()}
            d["epilogue"] = {"group": e.group, "scale_bits": e.scale_bits, "scale_frac": e.scale_frac,
                             "width": e.width, "frac_bits": self.spec.product_frac + 2 * e.scale_frac,
                             "total": ("wrap_E((acc ? old : 0) + psum * S_w[g, n] * S_a[m]) per result write"
                                       if self.dataflow == "ws" else
                                       "PE: wrap_E(acc_E + group sum * S_w[g, n]) at each K-group's end; "
                                       "result write: wrap_E(acc_E * S_a[m])")}
        return d

    def _describe(self) -> dict[str, Any]:
        R, C, L = self.rows, self.cols, self.pe_latency
        return {"rows": R, "cols": C, "dataflow": self.dataflow, "pe_latency": L,
                "register_memory_outputs": self.register_memory_outputs, "array_read_latency": self.read_latency,
                "pe_stages": pe_stages(L),
                "shape_inputs": {"M": "gemm_m", "N": "gemm_n", "K": "gemm_k", "width": self.dim_bits},
                "control": {"start": "start", "busy": "busy", "done": "done"},
                "cycles": ("ws/is: RL + F*(R + T + L*R + C - 1), os: RL + F*(K + R + C + L - 3) + R "
                           "(docs/systolic.md; T = M (ws) or N (is), F = folds, RL = array_read_latency)"),
                "host": {"sel": "host__sel", "addr": "host__addr", "we": "host__we", "wdata": "host__wdata",
                         "rdata": "host__rdata", "read_latency": 1, "select": dict(SEL),
                         "note": "used while busy == 0; ignored while busy"},
                "memories": {k: {"sel": SEL[k], **g.describe()} for k, g in self.memories().items()},
                "monitor": self.mon_layout()}




def _skew_line(m, sigs: tuple, n: int, names: tuple[str, ...]) -> tuple:
    """``sigs`` delayed through ``n`` registers each, of their own shapes (a skew line, a pipeline delay);
    register ``i`` of ``sigs[j]`` is named ``f"{names[j]}_{i}"``."""
    for i in range(n):
        regs = tuple(Signal(s.shape(), name=f"{nm}_{i}") for s, nm in zip(sigs, names))
        m.d.sync += [r.eq(s) for r, s in zip(regs, sigs)]
        sigs = regs
    return sigs


def pe_stages(L: int) -> list[str]:
    """What each of a PE's L pipeline stages does (the registers that end it): L = 1 one cycle
    (decode, multiply, accumulate); L = 2 splits after the multiplier; L >= 3 also registers the decoded
    operands; L > 3 adds L - 3 further product registers (a retiming tool may move them into the
    multiplier)."""
    if L == 1:
        return ["decode+multiply+accumulate"]
    if L == 2:
        return ["decode+multiply", "accumulate"]
    return ["decode", "multiply"] + ["product delay"] * (L - 3) + ["accumulate"]


def _largest_lane(weight: str) -> int:
    """The valid weight lane (code | selector << bits for selector formats) of largest decoded magnitude."""
    from hwsim.pe.model import weight_pe_format

    f = weight_pe_format(weight)
    return int(np.argmax(np.where(f.valid, np.abs(f.decode), -1)))


def _largest_code(t: arith.FixedPointTable) -> int:
    """The valid code of largest decoded magnitude."""
    v = np.where(t.valid_array()[0], np.abs(t.array()[0]), -1)
    return int(np.argmax(v))


# ---- the component -----------------------------------------------------------------------------------
from amaranth import Cat, Const, Module, Mux, Signal, signed  # noqa: E402
from amaranth.lib import memory, wiring  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402

from .decoder import Decoder  # noqa: E402
from .epilogue import RowScale, ScaleEpilogue  # noqa: E402
from .pe import MacDatapath  # noqa: E402


class SystolicArray(wiring.Component):
    """R x C systolic array with its operand and result memories (see the module docstring)."""

    @discard_on_error
    def __init__(self, config: SystolicConfig, debug_ports: bool = True):
        if not isinstance(config, SystolicConfig):
            raise TypeError(f"SystolicArray takes a SystolicConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.debug_ports = bool(debug_ports)
        mems = {**cfg.memories(), **cfg.scale_memories()}
        aw = max(g.addr_bits for g in mems.values())
        ww = max(g.word_bits for g in mems.values())
        host = wiring.Signature({"sel": In(3 if cfg.epilogue else 2), "addr": In(aw), "we": In(1), "wdata": In(ww), "rdata": Out(ww)})
        D = cfg.dim_bits
        super().__init__({"start": In(1), "gemm_m": In(D), "gemm_n": In(D), "gemm_k": In(D),
                          "busy": Out(1), "done": Out(1), "host": Out(host),
                          **({"mon_write": Out(cfg.mon_layout()["width"])} if debug_ports else {})})

    @classmethod
    def from_design(cls, design) -> "SystolicArray":
        return cls(SystolicConfig.from_design(design))

    @property
    def spec(self) -> arith.MacSpec:
        return self.config.spec

    def ports_doc(self) -> dict[str, Any]:
        """Extra ports.json content (rtl_gen.verilog.describe_ports)."""
        sysdoc = self.config.describe()
        if not self.debug_ports:
            del sysdoc["monitor"]
        return {"systolic": sysdoc, "arithmetic": self.spec.describe(),
                "timing": {"pe_latency": self.config.pe_latency, "initiation_interval": 1,
                           "pe_stages": pe_stages(self.config.pe_latency),
                           "array_read_latency": self.config.read_latency,
                           "cycles": self.config.describe()["cycles"]}}

    # ------------------------------------------------------------------------------------------------
    def summary(self) -> str:
        c, sp = self.config, self.spec
        mems = ", ".join(f"{k} {g.depth}x{g.word_bits}b" for k, g in c.memories().items())
        return (f"systolic {c.rows}x{c.cols} {c.dataflow.upper()}, PE latency {c.pe_latency}"
                f"{' (' + ' | '.join(pe_stages(c.pe_latency)) + ')' if c.pe_latency > 1 else ''}"
                f"{', registered memory outputs' if c.register_memory_outputs else ''}: "
                f"{sp.weight.format} ({sp.weight.width}b, 2^-{sp.weight.frac_bits}) x {sp.activation.format} "
                f"({sp.activation.width}b, 2^-{sp.activation.frac_bits}) -> int{sp.acc_width} (2^-{sp.product_frac}, "
                f"wraps){self._extras()}; memories (words x bits): {mems}; GEMM shape inputs {c.dim_bits}b")

    def _extras(self) -> str:
        c, sp = self.config, self.spec
        out = f", {sp.weight.meta_bits}-bit selector in each weight lane" if sp.weight.use_meta else ""
        if c.epilogue is not None:
            e = c.epilogue
            out += (f"; scale epilogue: x weight scale (K-group {e.group}) x activation scale, {e.scale_bits}-bit "
                    f"scales 2^-{e.scale_frac} -> int{e.width} (2^-{sp.product_frac + 2 * e.scale_frac}, wraps)")
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        R, C, L, df = cfg.rows, cfg.cols, cfg.pe_latency, cfg.dataflow
        RL = cfg.read_latency
        sp = cfg.spec
        mems = cfg.memories()
        W = sp.acc_width
        D = cfg.dim_bits
        CW = D + 2 + ((L + 1) * R + C + 4).bit_length()      # counters and base addresses

        busy = self.busy
        host = self.host

        # ---- memories ----------------------------------------------------------------------------
        def read_port(mem, width, name):
            """A synchronous read (data addressed in cycle c appears in cycle c+1) whose data register
            starts at 0 in every simulator (Amaranth's sync read port leaves it without an initial
            value: X in Icarus until the first edge). Non-transparent, like the port it replaces.
            ``arr`` is what the array reads: ``data`` itself, or with registered memory outputs ``data``
            through one more register (read latency 2); the host port reads ``data`` (latency 1)."""
            rp = mem.read_port(domain="comb")
            data = Signal(width, init=0, reset_less=True, name=f"{name}_rdata")
            m.d.sync += data.eq(rp.data)
            arr = data
            if RL == 2:
                arr = Signal(width, init=0, reset_less=True, name=f"{name}_rdata_reg")
                m.d.sync += arr.eq(data)
            return SimpleNamespace(addr=rp.addr, data=data, arr=arr)

        def later(sig, name):
            """``sig`` delayed by RL - 1 registers: control that travels with the memory data."""
            for i in range(RL - 1):
                d = Signal.like(sig, name=f"{name}_rl{i}")
                m.d.sync += d.eq(sig)
                sig = d
            return sig

        def operand_memory(name):
            g = mems[name]
            mem = memory.Memory(shape=g.word_bits, depth=g.depth, init=[])
            m.submodules[f"{name}_mem"] = mem
            rp, wp = read_port(mem, g.word_bits, name), mem.write_port()
            m.d.comb += [wp.addr.eq(host.addr), wp.data.eq(host.wdata),
                         wp.en.eq(~busy & host.we & (host.sel == SEL[name]))]
            return g, rp

        g_act, rp_act = operand_memory("activation")
        g_wgt, rp_wgt = operand_memory("weight")
        g_res = mems["result"]
        RW = cfg.result_bits
        banks = []
        for c in range(C):
            mem = memory.Memory(shape=RW, depth=g_res.depth, init=[])
            m.submodules[f"result_bank{c}"] = mem
            banks.append((read_port(mem, RW, f"result_bank{c}"), mem.write_port()))
        ep = cfg.epilogue
        if ep is not None:                  # the scale epilogue (rtl_gen.epilogue) and its scale memories
            smems = cfg.scale_memories()
            scale_rp = {}
            for name, g in smems.items():
                mem = memory.Memory(shape=g.word_bits, depth=g.depth, init=[])
                m.submodules[f"{name}_mem"] = mem
                rp, wp = read_port(mem, g.word_bits, name), mem.write_port()
                m.d.comb += [wp.addr.eq(host.addr), wp.data.eq(host.wdata),
                             wp.en.eq(~busy & host.we & (host.sel == SEL_SCALES[name]))]
                scale_rp[name] = rp
            if df == "os":                  # os: the weight scales are applied in the PEs
                m.submodules.epilogue = epi = RowScale(C, ep.scale_bits, ep.width)
                m.d.comb += epi.sa_data.eq(scale_rp["activation_scale"].arr)
            else:
                # per-fold lanes (one scale per bank) and the per-write scale chained along the banks' skew:
                # ws weight scales / activation scales, is activation scales / weight scales (the product
                # psum * lanes[c] * chain is the same integer in either order)
                lanes, chain = ("weight_scale", "activation_scale") if df == "ws" else ("activation_scale",
                                                                                        "weight_scale")
                m.submodules.epilogue = epi = ScaleEpilogue(C, W, ep.scale_bits, ep.width)
                m.d.comb += [epi.ws_data.eq(scale_rp[lanes].arr), epi.sa_data.eq(scale_rp[chain].arr)]

        sel_d = Signal(len(host.sel))
        m.d.sync += sel_d.eq(host.sel)
        res_word = Cat(*[rp.data for rp, _ in banks])
        with m.Switch(sel_d):
            with m.Case(SEL["activation"]):
                m.d.comb += host.rdata.eq(rp_act.data)
            with m.Case(SEL["weight"]):
                m.d.comb += host.rdata.eq(rp_wgt.data)
            with m.Case(SEL["result"]):
                m.d.comb += host.rdata.eq(res_word)
            if ep is not None:
                for name, rp in scale_rp.items():
                    with m.Case(SEL_SCALES[name]):
                        m.d.comb += host.rdata.eq(rp.data)

        # ---- controller (one cycle ahead of the data: at clock c it addresses data cycle c+1) --------
        run = Signal()                   # the controller is inside the schedule
        last_d = Signal()                # data cycle N-1 (the last) is in progress
        T = Signal(CW)                   # streamed length (ws M, is N, os K)
        rows_dim = Signal(CW)
        plast = Signal(CW)               # fold cycles - 1
        u = Signal(CW)                   # cycle within the fold
        rows_rem = Signal(CW)            # rows-dim elements from this row fold on
        cols_rem = Signal(CW)
        first_inner = Signal()
        # rows/columns used by this fold and the last-fold flags: registers loaded with rows_rem/cols_rem
        # (set_rows/set_cols), so no comparison of the wide counters sits in front of the address adders
        ru = Signal(range(R + 1))
        cu = Signal(range(C + 1))
        last_u = Signal()                # u == plast (a register, kept with u)
        last_inner = Signal()
        last_outer = Signal()

        def set_rows(v):
            return [rows_rem.eq(v), ru.eq(Mux(v > R, R, v)), last_inner.eq(v <= R)]

        def set_cols(v):
            return [cols_rem.eq(v), cu.eq(Mux(v > C, C, v)), last_outer.eq(v <= C)]

        Mi, Ni, Ki = self.gemm_m, self.gemm_n, self.gemm_k
        if df == "ws":
            t_in, rows_in, cols_in = Mi, Ki, Ni
        elif df == "is":
            t_in, rows_in, cols_in = Ni, Ki, Mi
        else:
            t_in, rows_in, cols_in = Ki, Mi, Ni
        if df == "os":
            plast_in = t_in + (R + C + L - 4)
        else:
            plast_in = t_in + ((L + 1) * R + C - 2)

        start = self.start & ~busy
        m.d.sync += self.done.eq(0)
        with m.If(start):
            m.d.sync += [busy.eq(1), run.eq(1), T.eq(t_in), rows_dim.eq(rows_in), plast.eq(plast_in), u.eq(0),
                         last_u.eq(~plast_in.any()),
                         *set_rows(rows_in), *set_cols(cols_in), first_inner.eq(1)]
        with m.If(last_d):
            m.d.sync += [busy.eq(0), self.done.eq(1)]

        # pre-token of each result bank: the write of data cycle (clock + 1), so the accumulate read
        # can be issued one cycle ahead
        pre_valid = [Signal(name=f"pre_valid{c}") for c in range(C)]
        pre_acc = [Signal(name=f"pre_acc{c}") for c in range(C)]
        pre_addr = [Signal(CW, name=f"pre_addr{c}") for c in range(C)]
        finish = Signal()                # the controller handles data cycle N-1 now
        m.d.sync += last_d.eq(later(finish, "finish"))

        if df in ("ws", "is"):
            s_base = Signal(CW)          # stationary memory: word of tile row 0 of this fold
            x_base = Signal(CW)          # streamed memory: word of stream element 0 of this fold
            r_base = Signal(CW)          # result memory: word of stream element 0 of this column fold
            load_d, wv_in_d = Signal(), Signal()
            in_load = Signal()
            j = Signal(CW)
            stat_valid = Signal()
            m.d.comb += [in_load.eq(run & (u < R)), j.eq(R - 1 - u), stat_valid.eq(in_load & (j < ru))]
            stat_addr = Mux(stat_valid, s_base + j, 0)
            s_idx = Signal(CW)
            m.d.comb += s_idx.eq(u - R)
            in_stream = run & (u >= R) & (s_idx < T)
            x_addr = Mux(in_stream, x_base + s_idx, 0)
            t0 = Signal(CW)
            m.d.comb += t0.eq(u - (L + 1) * R)
            m.d.comb += [pre_valid[0].eq(run & (u >= (L + 1) * R) & (t0 < T)), pre_acc[0].eq(~first_inner),
                         pre_addr[0].eq(r_base + t0)]
            for c in range(1, C):
                m.d.sync += [pre_valid[c].eq(pre_valid[c - 1]), pre_acc[c].eq(pre_acc[c - 1]),
                             pre_addr[c].eq(pre_addr[c - 1])]
            m.d.sync += [load_d.eq(later(in_load, "in_load")), wv_in_d.eq(later(stat_valid, "stat_valid"))]
            m.d.comb += finish.eq(run & last_u & last_inner & last_outer)
            with m.If(run & ~start):
                with m.If(last_u):
                    m.d.sync += [u.eq(0), last_u.eq(~plast.any())]
                    with m.If(last_inner):
                        m.d.sync += [*set_rows(rows_dim), first_inner.eq(1), s_base.eq(s_base + ru),
                                     x_base.eq(0), r_base.eq(r_base + T)]
                        with m.If(last_outer):
                            m.d.sync += run.eq(0)
                        with m.Else():
                            m.d.sync += set_cols(cols_rem - C)
                    with m.Else():
                        m.d.sync += [*set_rows(rows_rem - R), first_inner.eq(0), s_base.eq(s_base + R),
                                     x_base.eq(x_base + T)]
                with m.Else():
                    m.d.sync += [u.eq(u + 1), last_u.eq(u + 1 == plast)]
            with m.If(start):
                m.d.sync += [s_base.eq(0), x_base.eq(0), r_base.eq(0)]
            if ep is not None:
                # ws: weight-scale word of this fold: f*G + g (column fold f, K-group g of the row fold);
                # is: activation-scale word f (the column tile's rows m0 .. m0+C-1). Addressed from cycle 0
                # of the fold, latched in cycle 1, before the fold's first write (cycle (L+1)*R + 1); the
                # previous fold's last write is in cycle 0 at the latest
                gpf = ep.group // R                   # row folds per K-group
                grp_word = Signal(CW)
                gfold = Signal(range(max(gpf, 2)))
                with m.If(run & ~start & last_u):
                    with m.If(last_inner | (gfold == gpf - 1)):
                        m.d.sync += gfold.eq(0)
                        if df == "ws":
                            m.d.sync += grp_word.eq(grp_word + 1)
                    with m.Else():
                        m.d.sync += gfold.eq(gfold + 1)
                with m.If(start):
                    m.d.sync += [grp_word.eq(0), gfold.eq(0)]
                m.d.comb += epi.ws_load.eq(later(run & (u == 1), "ws_load"))
                if df == "ws":
                    m.d.comb += [scale_rp["weight_scale"].addr.eq(Mux(busy, grp_word, host.addr)),
                                 # activation scale of row m = t0: read one cycle ahead of bank 0's write
                                 scale_rp["activation_scale"].addr.eq(Mux(busy, Mux(pre_valid[0], t0, 0),
                                                                          host.addr))]
                else:
                    # is: the weight scale of stream element n = t0 in the row fold's K-group g: word
                    # g*N + n (g_base = g*N), read one cycle ahead of bank 0's write
                    g_base = Signal(CW)
                    with m.If(run & ~start & last_u):
                        with m.If(last_inner):
                            m.d.sync += [grp_word.eq(grp_word + 1), g_base.eq(0)]
                        with m.Elif(gfold == gpf - 1):
                            m.d.sync += g_base.eq(g_base + T)
                    with m.If(start):
                        m.d.sync += g_base.eq(0)
                    m.d.comb += [scale_rp["activation_scale"].addr.eq(Mux(busy, grp_word, host.addr)),
                                 scale_rp["weight_scale"].addr.eq(Mux(busy, Mux(pre_valid[0], g_base + t0, 0),
                                                                      host.addr))]
            stat_rp, stream_rp = (rp_wgt, rp_act) if df == "ws" else (rp_act, rp_wgt)
            stat_g, stream_g = (g_wgt, g_act) if df == "ws" else (g_act, g_wgt)
            m.d.comb += [stat_rp.addr.eq(Mux(busy, stat_addr, host.addr)),
                         stream_rp.addr.eq(Mux(busy, x_addr, host.addr))]
            bottom = self._stationary_array(m, stat_rp.arr, stat_g, stream_rp.arr, stream_g, load_d, wv_in_d)
        else:
            a_base = Signal(CW)          # activation memory: word of k = 0 of this row fold
            w_base = Signal(CW)          # weight memory: word of k = 0 of this column fold
            r_base = Signal(CW)          # result memory: word of tile row 0 of this fold
            tail = Signal()              # the last fold has ended; R drain cycles remain
            d_active = Signal()
            d_j = Signal(range(max(R, 2)))
            d_base = Signal(CW)
            d_ru = Signal(range(R + 1))
            d_cu = Signal(range(C + 1))
            feed = Signal()
            m.d.comb += feed.eq(run & ~tail & (u < T))
            a_valid_d, flush_d = Signal(), Signal()
            m.d.sync += [a_valid_d.eq(later(feed, "feed")), flush_d.eq(later(run & ~tail & last_u, "flush"))]
            m.d.comb += [rp_act.addr.eq(Mux(busy, Mux(feed, a_base + u, 0), host.addr)),
                         rp_wgt.addr.eq(Mux(busy, Mux(feed, w_base + u, 0), host.addr))]
            drow = Signal(range(max(R, 2)))
            m.d.comb += drow.eq(R - 1 - d_j)
            for c in range(C):
                m.d.comb += [pre_valid[c].eq(run & d_active & (drow < d_ru) & (c < d_cu)), pre_acc[c].eq(0),
                             pre_addr[c].eq(d_base + drow)]
            m.d.comb += finish.eq(run & tail & (d_j == R - 1))
            with m.If(run & ~start):
                with m.If(d_active):
                    m.d.sync += d_j.eq(d_j + 1)
                    with m.If(d_j == R - 1):
                        m.d.sync += d_active.eq(0)
                with m.If(tail):
                    with m.If(d_j == R - 1):
                        m.d.sync += [run.eq(0), tail.eq(0)]
                with m.Elif(last_u):
                    m.d.sync += [u.eq(0), last_u.eq(~plast.any()), d_active.eq(1), d_j.eq(0), d_base.eq(r_base),
                                 d_ru.eq(ru),
                                 d_cu.eq(cu), r_base.eq(r_base + ru)]
                    with m.If(last_inner):
                        m.d.sync += [*set_rows(rows_dim), a_base.eq(0), w_base.eq(w_base + T)]
                        with m.If(last_outer):
                            m.d.sync += tail.eq(1)
                        with m.Else():
                            m.d.sync += set_cols(cols_rem - C)
                    with m.Else():
                        m.d.sync += [*set_rows(rows_rem - R), a_base.eq(a_base + T)]
                with m.Else():
                    m.d.sync += [u.eq(u + 1), last_u.eq(u + 1 == plast)]
            with m.If(start):
                m.d.sync += [a_base.eq(0), w_base.eq(0), r_base.eq(0), tail.eq(0), d_active.eq(0), d_j.eq(0)]
            scale_in = None
            if ep is not None:
                scale_in = self._os_scale_control(m, ep, run, start, feed, u, T, last_u, last_inner, pre_valid[0],
                                                  drow, busy, host, scale_rp, later, CW)
            bottom = self._output_stationary_array(m, rp_act.arr, g_act, rp_wgt.arr, g_wgt, a_valid_d, flush_d,
                                                   scale_in)

        # ---- result banks: plain write or accumulate-on-write (read issued one cycle ahead) ----------
        res_aw = g_res.addr_bits
        mon_we, mon_acc, mon_addr = [], [], []
        for c, (rp, wp) in enumerate(banks):
            wr_valid, wr_acc = Signal(name=f"wr_valid{c}"), Signal(name=f"wr_acc{c}")
            wr_addr = Signal(res_aw, name=f"wr_addr{c}")
            gate = pre_valid[c] & (c < cu) if df in ("ws", "is") else pre_valid[c]
            # the accumulate read is issued with the token (RL cycles ahead of the write); the token
            # itself reaches the write stage through RL registers
            m.d.sync += [wr_valid.eq(later(gate, f"pre_gate{c}")), wr_acc.eq(later(pre_acc[c], f"pre_acc{c}")),
                         wr_addr.eq(later(pre_addr[c], f"pre_addr{c}"))]
            m.d.comb += rp.addr.eq(Mux(busy, pre_addr[c], host.addr))
            total = Signal(signed(RW), name=f"wr_data{c}")
            if ep is not None and df == "os":
                m.d.comb += [epi.psum[c].eq(bottom[c]), total.eq(epi.total[c])]
            elif ep is not None:
                m.d.comb += [epi.psum[c].eq(bottom[c]), epi.acc[c].eq(wr_acc), epi.old[c].eq(rp.arr.as_signed()),
                             total.eq(epi.total[c])]
            else:
                m.d.comb += total.eq(Mux(wr_acc, bottom[c] + rp.arr.as_signed(), bottom[c]))   # wraps to W bits
            with m.If(busy):
                m.d.comb += [wp.en.eq(wr_valid), wp.addr.eq(wr_addr), wp.data.eq(total)]
            with m.Else():
                m.d.comb += [wp.en.eq(host.we & (host.sel == SEL["result"])), wp.addr.eq(host.addr),
                             wp.data.eq(host.wdata[c * RW:(c + 1) * RW])]
            mon_we.append(wr_valid & busy)
            mon_acc.append(wr_acc & wr_valid & busy)
            mon_addr.append(wr_addr)
        if self.debug_ports:
            m.d.comb += self.mon_write.eq(Cat(*mon_we, *mon_acc, *mon_addr))
        return m

    # ---- the PE grids ------------------------------------------------------------------------------
    def _mac(self, m, r, c):
        sp = self.config.spec
        mac = MacDatapath(sp.weight.format, sp.activation.format, sp.acc_width, weight_meta=sp.weight.use_meta)
        m.submodules[f"pe_{r}_{c}"] = mac
        return mac

    def _product(self, m, r, c, w_code, a_code, gate):
        """PE (r, c)'s product of the operand codes received in cycle t, available (registered) in cycle
        t + L - 1, 0 where ``gate`` is low (padding). L = 1: combinational (decode, multiply); L = 2: the
        product is registered; L >= 3: the decoded operands are registered (the decoder and the multiplier
        are separate stages), then L - 2 product registers. ``gate`` (the valid bit of the stationary row
        in ws/is, of the activation in os) gates the decoded operands, or the product when the decoders
        are not registered."""
        cfg = self.config
        L, sp = cfg.pe_latency, cfg.spec
        if L < 3:
            mac = self._mac(m, r, c)
            m.d.comb += [*self._weight_in(mac, w_code), mac.a_code.eq(a_code), mac.psum_in.eq(0)]
            p, n = Mux(gate, mac.product, 0), L - 1
        else:
            w = sp.weight
            wdec = Decoder(w.format, use_meta=w.use_meta)
            adec = Decoder(sp.activation.format, use_meta=False)
            m.submodules[f"pe_{r}_{c}_wdec"] = wdec
            m.submodules[f"pe_{r}_{c}_adec"] = adec
            if w.use_meta:                  # selector formats: the selector in the lane's high bits
                m.d.comb += [wdec.code.eq(w_code[:w.bits]), wdec.meta.eq(w_code[w.bits:w.bits + w.meta_bits])]
            else:
                m.d.comb += wdec.code.eq(w_code)
            m.d.comb += adec.code.eq(a_code)
            dw = Signal.like(wdec.value, name=f"dec_w_{r}_{c}")
            da = Signal.like(adec.value, name=f"dec_a_{r}_{c}")
            # both decoded operands are gated (0 * X is X in a 4-state simulator: Icarus would propagate
            # an unwritten memory word through the multiplier; in hardware the gate is the FFs' reset)
            m.d.sync += [dw.eq(Mux(gate, wdec.value, 0)), da.eq(Mux(gate, adec.value, 0))]
            p = Signal(signed(sp.product_width), name=f"mul_{r}_{c}")
            m.d.comb += p.eq(dw * da)                        # exact: product_width holds it
            n = L - 2
        (p,) = _skew_line(m, (p,), n, (f"prod_{r}_{c}",))
        return p

    def _weight_in(self, mac, lane):
        """Connect a weight lane: the code, and for selector formats the selector in its high bits."""
        w = self.config.spec.weight
        if w.use_meta:
            return [mac.w_code.eq(lane[:w.bits]), mac.w_meta.eq(lane[w.bits:w.bits + w.meta_bits])]
        return [mac.w_code.eq(lane)]

    def _stationary_array(self, m, stat_data, stat_g, stream_data, stream_g, load, wv_in):
        """ws/is: weight-load chain, skewed stream, partial sums flowing down. Returns the bottom row's
        psum_out per column (signed W)."""
        cfg = self.config
        R, C, L = cfg.rows, cfg.cols, cfg.pe_latency
        W = cfg.spec.acc_width
        sb, xb = stat_g.lane_bits, stream_g.lane_bits
        # stationary registers (codes) and the valid bit of each row
        wreg = [[Signal(sb, name=f"stat_{r}_{c}") for c in range(C)] for r in range(R)]
        wv = [Signal(name=f"stat_valid_{r}") for r in range(R)]
        with m.If(load):
            for c in range(C):
                m.d.sync += wreg[0][c].eq(stat_data[c * sb:(c + 1) * sb])
                for r in range(1, R):
                    m.d.sync += wreg[r][c].eq(wreg[r - 1][c])
            m.d.sync += wv[0].eq(wv_in)
            for r in range(1, R):
                m.d.sync += wv[r].eq(wv[r - 1])
        # input skew: lane r through L*r registers
        x_in = []
        for r in range(R):
            (v,) = _skew_line(m, (stream_data[r * xb:(r + 1) * xb],), L * r, (f"skew_{r}",))
            x_in.append(v)
        psum_above = [Const(0, signed(W))] * C
        for r in range(R):
            a_in = x_in[r]
            row_out = []
            for c in range(C):
                ws = cfg.dataflow == "ws"
                w_code, a_code = (wreg[r][c], a_in) if ws else (a_in, wreg[r][c])
                psum_out = Signal(signed(W), name=f"psum_{r}_{c}")
                if L == 1:
                    mac = self._mac(m, r, c)
                    m.d.comb += [*self._weight_in(mac, w_code), mac.a_code.eq(a_code),
                                 mac.psum_in.eq(psum_above[c])]
                    m.d.sync += psum_out.eq(Mux(wv[r], mac.psum_out, psum_above[c]))
                else:
                    p = self._product(m, r, c, w_code, a_code, wv[r])   # t + L - 1
                    (q,) = _skew_line(m, (psum_above[c],), L - 1, (f"psum_d_{r}_{c}",))
                    m.d.sync += psum_out.eq(q + p)                  # .eq wraps to W bits
                row_out.append(psum_out)
                if c + 1 < C:
                    a_out = Signal(xb, name=f"fwd_{r}_{c}")
                    m.d.sync += a_out.eq(a_in)
                    a_in = a_out
            psum_above = row_out
        return psum_above

    def _os_scale_control(self, m, ep, run, start, feed, u, T, last_u, last_inner, pre_valid0, drow, busy, host,
                          scale_rp, later, CW):
        """os with the scale epilogue: the controller's part. Returns (weight-scale lanes, group-end flag)
        as they enter the array's top edge, aligned to arrive at PE (r, c) in the cycle in which the
        product of the K-group's last k lands in its accumulator (docs/systolic.md section 12).

        * Weight scales: word ``f*G_n + g`` (column fold f, K-group g) is addressed in the feed cycle of the
          group's last k (``k = (g+1)*G - 1`` or K - 1) delayed by L - 1 cycles, and travels with a group-end
          flag through the same skew line and forwarding registers as the weights, so it meets the product
          of that k (which lands L - 1 cycles after its operands) in every PE.
        * Activation scales: word m of the row the banks write, read one cycle ahead with the pre-write
          token (``m0`` of the draining fold + tile row ``R - 1 - j``)."""
        cfg = self.config
        R, L, G = cfg.rows, cfg.pe_latency, ep.group
        gcnt = Signal(range(max(G, 2)))        # k within the K-group (feed cycles)
        gw = Signal(CW)                        # weight-scale word of the current group
        gw_base = Signal(CW)                   # ... of this column fold's first group (f * G_n)
        gend = Signal()
        gw_next = Signal(CW)
        m.d.comb += [gend.eq(feed & ((gcnt == G - 1) | (u + 1 == T))), gw_next.eq(gw + gend)]
        m0, d_m0 = Signal(CW), Signal(CW)      # first row (m) of this row fold / of the draining fold
        with m.If(run & ~start):
            with m.If(gend):
                m.d.sync += [gcnt.eq(0), gw.eq(gw_next)]
            with m.Elif(feed):
                m.d.sync += gcnt.eq(gcnt + 1)
            with m.If(last_u):                 # fold end (also the last feed cycle when P == K)
                m.d.sync += [gcnt.eq(0), d_m0.eq(m0)]
                with m.If(last_inner):         # next column fold: its groups follow this one's
                    m.d.sync += [gw_base.eq(gw_next), gw.eq(gw_next), m0.eq(0)]
                with m.Else():                 # next row fold: the same column fold's groups again
                    m.d.sync += [gw.eq(gw_base), m0.eq(m0 + R)]
        with m.If(start):
            m.d.sync += [gcnt.eq(0), gw.eq(0), gw_base.eq(0), m0.eq(0), d_m0.eq(0)]
        # the scale read L - 1 cycles after the group's last weight read: it then meets the product
        ge_l, gw_l = gend, gw
        for i in range(L - 1):
            d1, d2 = Signal(name=f"gend_l{i}"), Signal(CW, name=f"gword_l{i}")
            m.d.sync += [d1.eq(ge_l), d2.eq(gw_l)]
            ge_l, gw_l = d1, d2
        ge_d = Signal()
        m.d.sync += ge_d.eq(later(ge_l, "gend"))
        m.d.comb += [scale_rp["weight_scale"].addr.eq(Mux(busy, Mux(ge_l, gw_l, 0), host.addr)),
                     scale_rp["activation_scale"].addr.eq(Mux(busy, Mux(pre_valid0, d_m0 + drow, 0), host.addr))]
        return scale_rp["weight_scale"].arr, ge_d

    def _output_stationary_array(self, m, act_data, act_g, wgt_data, wgt_g, a_valid, flush, scale_in=None):
        """os: skewed activations (with a valid bit) to the right, skewed weights down, accumulators,
        flush into output registers that drain down. Returns the bottom output register per column.

        With the scale epilogue (``scale_in`` = (weight-scale lanes, group-end flag) at the top edge) the
        scales travel down with the weights; at a K-group's end a PE adds its group sum x the column's
        weight scale into a ``width``-bit register and clears its accumulator, in the same cycle (no extra
        cycle); the flush moves that register to the E-bit output registers."""
        cfg = self.config
        R, C = cfg.rows, cfg.cols
        W = cfg.spec.acc_width
        ep = cfg.epilogue
        OW = ep.width if ep is not None else W            # output registers: E bits with the epilogue
        if ep is not None:
            SB = ep.scale_bits
            sdata, ge = scale_in
            s_in, g_in = [], []
            for c in range(C):                             # the weights' skew line: c registers
                v, f = _skew_line(m, (sdata[c * SB:(c + 1) * SB], ge), c, (f"sskew_{c}", f"gskew_{c}"))
                s_in.append(v)
                g_in.append(f)
        ab, wb = act_g.lane_bits, wgt_g.lane_bits
        a_in, av_in = [], []
        for r in range(R):
            v, ok = _skew_line(m, (act_data[r * ab:(r + 1) * ab], a_valid), r, (f"askew_{r}", f"askew_v_{r}"))
            a_in.append(v)
            av_in.append(ok)
        w_top = []
        for c in range(C):
            (v,) = _skew_line(m, (wgt_data[c * wb:(c + 1) * wb],), c, (f"wskew_{c}",))
            w_top.append(v)
        outreg = [[Signal(signed(OW), name=f"out_{r}_{c}") for c in range(C)] for r in range(R)]
        w_in = list(w_top)
        for r in range(R):
            a, av = a_in[r], av_in[r]
            for c in range(C):
                p = self._product(m, r, c, w_in[c], a, av)    # t + L - 1
                acc = Signal(signed(W), name=f"acc_{r}_{c}")
                total = Signal(signed(W), name=f"acc_next_{r}_{c}")
                m.d.comb += total.eq(acc + p)                       # wraps to W bits
                if ep is None:
                    with m.If(flush):
                        m.d.sync += [outreg[r][c].eq(total), acc.eq(0)]
                    with m.Else():
                        m.d.sync += [acc.eq(total), outreg[r][c].eq(outreg[r - 1][c] if r else 0)]
                else:
                    # the group's sum (exact: the accumulator holds a whole K-group) x its weight scale,
                    # added into the E-bit register at the group's end
                    wide = Signal(signed(OW), name=f"gacc_{r}_{c}")
                    term = Signal(signed(W + SB), name=f"gterm_{r}_{c}")
                    wide_next = Signal(signed(OW), name=f"gacc_next_{r}_{c}")
                    m.d.comb += [term.eq(total * s_in[c].as_signed()),                  # exact
                                 wide_next.eq(Mux(g_in[c], wide + term, wide))]         # wraps to E bits
                    with m.If(flush):
                        m.d.sync += [outreg[r][c].eq(wide_next), wide.eq(0), acc.eq(0)]
                    with m.Else():
                        m.d.sync += [wide.eq(wide_next), acc.eq(Mux(g_in[c], 0, total)),
                                     outreg[r][c].eq(outreg[r - 1][c] if r else 0)]
                if r + 1 < R:
                    w_out = Signal(wb, name=f"wfwd_{r}_{c}")
                    m.d.sync += w_out.eq(w_in[c])
                    w_in[c] = w_out
                    if ep is not None:                  # the scale and group-end flag travel with it
                        s_out, g_out = Signal(SB, name=f"sfwd_{r}_{c}"), Signal(name=f"gfwd_{r}_{c}")
                        m.d.sync += [s_out.eq(s_in[c]), g_out.eq(g_in[c])]
                        s_in[c], g_in[c] = s_out, g_out
                if c + 1 < C:
                    a2, av2 = Signal(ab, name=f"afwd_{r}_{c}"), Signal(name=f"afwd_v_{r}_{c}")
                    m.d.sync += [a2.eq(a), av2.eq(av)]
                    a, av = a2, av2
        return outreg[R - 1]


def component(design) -> wiring.Component:
    """The registry's RTL hook of ``kind: systolic``: the array, or with ``rtl.host_bus`` wishbone/axi4lite
    the array behind that bus (rtl_gen.hostbus); ``rtl.debug_ports`` keeps or drops ``mon_write``."""
    from .hostbus import wrap

    rtl = design.rtl
    debug = rtl.debug_ports if rtl.debug_ports is not None else rtl.host_bus == "wide"
    return wrap(SystolicArray(SystolicConfig.from_design(design), debug_ports=debug), rtl.host_bus, debug)
