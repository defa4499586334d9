"""SCALE-Sim 3.0.0's memory system, reproduced exactly: its address streams (operand, prefetch and demand
matrices) and its double-buffered scratchpads (read buffers in USER and CALC bandwidth mode, the ofmap
write buffer), with the stall accounting of ``double_buffered_scratchpad.service_memory_requests``.

This is a port of the *semantics* of SCALE-Sim's Python code (PyPI ``scalesim==3.0.0``, modules
``compute/operand_matrix.py``, ``compute/systolic_compute_{ws,is,os}.py``,
``memory/double_buffered_scratchpad_mem.py``, ``memory/read_buffer.py``,
``memory/read_buffer_estimate_bw.py``, ``memory/write_buffer.py``, ``memory/{read,write}_port.py``), not of
its data structures: SCALE-Sim keeps Python sets of addresses and walks them per request; here the same
decisions are taken on integer arrays in one Numba kernel (``scalesim_kernels.run_memory``, compiled ahead
of time: ``KERNELS``, ``hwsim.aot``) that generates SCALE-Sim's demand rows by index arithmetic
(``scalesim_kernels._demand``; ``Streams.fold`` builds the same matrices with numpy the way SCALE-Sim
does, and a test checks that they agree), so memory stays bounded by the operand matrices. This module
is the numpy driver; it imports no Numba.
Every quirk is kept, because users compare these numbers with SCALE-Sim's:

* USER mode (``read_buffer.service_reads``): a miss triggers ``new_prefetch`` until the address is in the
  active window; the potential stall ``last_prefetch_cycle - (cycle + offset)`` is added to the offset
  once unconditionally (so a negative value *reduces* it) and a second time when positive.
* USER mode: the active window rotates by the prefetch-buffer line count over a ring of "hashed lines"
  (sets of ``ceil(SRAM bytes / 100)`` prefetch elements, the last one possibly empty); each prefetch
  costs ``ceil(prefetch buffer / bandwidth) + 1`` cycles and counts full DRAM lines
  (``lines * bandwidth`` words, padding included).
* CALC mode (``ReadBufferEstimateBw``): no read stalls; the DRAM reads are the addresses that missed the
  active sets, grouped in sets of ``floor(SRAM bytes / 100)``; the prefetch bandwidth is re-derived at
  every buffer swap.
* Write buffer: a drain starts when the free space falls below the active half, drains
  ``ceil(drain buffer / bandwidth)`` lines of the trace, and counts ``lines * bandwidth`` words minus the
  padding of the *last* line only (a padded line in the middle counts full: DRAM OFMAP Writes can exceed
  the SRAM writes). Every partial sum of a ws/is row fold is written (SCALE-Sim has no accumulate-in-SRAM).
* Per demand row the stall is ``max(ifmap stall, filter stall, ofmap stall)``; the total cycle count is
  the last ofmap service cycle; "Total Cycles (incl. prefetch)" is the last ofmap DRAM write cycle minus
  the earlier of the first ifmap/filter DRAM read cycles (which are negative: the first prefetch happens
  before cycle 0).

* Custom SRAM layouts ([layout] IfmapCustomLayout / FilterCustomLayout, docs/systolic.md section 7a): the
  operand's prefetch sequence is the layout's tiling of the whole tensor (``*_custom_prefetch``), its
  lines hold ``bandwidth`` words, a miss adds a positive potential stall once, and every demand row costs
  ``ceil(max distinct lines per bank / ports) - 1`` extra cycles, the bank of a word being its place in
  the CPython 3.11 set of its line (``scalesim_kernels.py_set_order``) divided by the words per bank.

Where SCALE-Sim itself would fail (an exception inside its buffers), ``ScaleSimUnsupported`` is raised
with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import aot
from ..layers import WorkloadError
from .scalesim_state import (
    E_ACCESS, E_DBW, E_ERR, E_ITEMS, E_LEND, E_LSTART, E_NACT, E_NPF, E_PBW, E_REND, E_TEND, E_TSTART, ERRORS,
    M_ERR, M_F0, M_F1, M_IF0, M_IF1, M_MAXO, M_O0, M_O1, M_STALL, NONE, U_ACCESS, U_BW, U_FIRST, U_NACT,
    U_NEXT, U_NL, U_NPF, U_PFL, U_ROWS, U_TMAX, U_TMIN, W_ACCESS, W_ACTIVE, W_BW, W_DMAX, W_DMIN, W_DRAIN,
    W_ERR, W_FREE, W_TOTAL)


class ScaleSimUnsupported(WorkloadError):
    """A layer/configuration on which SCALE-Sim 3.0.0 itself stops with an exception."""


@dataclass(frozen=True)
class MemConfig:
    """SCALE-Sim's memory parameters (word size 1 byte, active fraction 0.5, as single_layer_sim sets)."""

    ifmap_kb: int = 64
    filter_kb: int = 64
    ofmap_kb: int = 64
    interface: str = "calc"          #: "calc" | "user"
    ifmap_bw: int = 10               #: USER: IfmapSRAMBankBandwidth (words/cycle)
    filter_bw: int = 10              #: USER: FilterSRAMBankBandwidth
    ofmap_bw: int = 10               #: USER: Bandwidth (first value); CALC uses the array width
    ifmap_custom: bool = False       #: [layout] IfmapCustomLayout
    filter_custom: bool = False      #: [layout] FilterCustomLayout
    ifmap_banks: int = 1             #: [layout] IfmapSRAMBankNum
    filter_banks: int = 1            #: [layout] FilterSRAMBankNum
    ifmap_ports: int = 2             #: [layout] IfmapSRAMBankPort
    filter_ports: int = 2            #: [layout] FilterSRAMBankPort
    ifmap_offset: int = 0            #: IfmapOffset (a custom ifmap layout needs 0)
    filter_offset: int = 10000000    #: FilterOffset (decides the set order of a custom filter layout's lines)
    layout: tuple | None = None      #: the layout row (20 integers) applied to every layer


@dataclass(frozen=True)
class Geometry:
    """A layer in SCALE-Sim's conv form (a GEMM M, N, K is H=M, W=K, R=1, S=K, C=1, N filters, stride 1)."""

    H: int
    W: int
    R: int
    S: int
    C: int
    N: int
    stride_h: int = 1
    stride_w: int = 1

    @classmethod
    def of(cls, layer, conv=None) -> "Geometry":
        """A conv layer SCALE-Sim can express (no padding, same output size) keeps its geometry (its
        ifmap addresses repeat across overlapping windows); anything else is the im2col GEMM of ``layer``
        (M pixels, N filters, K = window), as SCALE-Sim's GEMM topologies describe it."""
        if conv is not None and not conv.pad_h and not conv.pad_w:
            g = cls(conv.H, conv.W, conv.R, conv.S, conv.C, conv.N, conv.stride_h, conv.stride_w)
            if g.out_hw == (conv.out_h, conv.out_w):
                return g
        return cls(layer.M, layer.K, 1, layer.K, 1, layer.N, 1, 1)

    @property
    def out_hw(self) -> tuple[int, int]:
        return (int(math.ceil((self.H - self.R + self.stride_h) / self.stride_h)),
                int(math.ceil((self.W - self.S + self.stride_w) / self.stride_w)))

    @property
    def pixels(self) -> int:
        oh, ow = self.out_hw
        return oh * ow

    @property
    def window(self) -> int:
        return self.R * self.S * self.C


# ---- operand matrices (operand_matrix.py; offsets 0: a uniform shift changes no decision) -----------
def ifmap_matrix(g: Geometry) -> np.ndarray:
    """[pixels, window] ifmap addresses, -1 where a window runs past the input."""
    oh, ow = g.out_hw
    i = np.arange(oh * ow, dtype=np.int64)[:, None]
    j = np.arange(g.window, dtype=np.int64)[None, :]
    orow, ocol = np.divmod(i, ow)
    irow, icol = orow * g.stride_h, ocol * g.stride_w
    crow, k = np.divmod(j, g.S * g.C)
    ccol, cch = np.divmod(k, g.C)
    addr = ((crow * g.W + ccol) * g.C + cch) + (irow * g.W + icol) * g.C
    if crow.max() + irow.max() < g.H and ccol.max() + icol.max() < g.W:
        return addr                                     # every window inside the input (GEMMs, most convs)
    valid = (crow + irow < g.H) & (ccol + icol < g.W)
    return np.where(valid, addr, -1)


def filter_matrix(g: Geometry) -> np.ndarray:
    """[window, N] filter addresses."""
    i = np.arange(g.window, dtype=np.int64)[:, None]
    j = np.arange(g.N, dtype=np.int64)[None, :]
    return j * g.window + i


# ---- fold helpers ----------------------------------------------------------------------------------
def _pad(m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    if m.shape == (rows, cols):
        return m
    out = np.full((rows, cols), -1, np.int64)
    out[:m.shape[0], :m.shape[1]] = m
    return out


def _skew(m: np.ndarray) -> np.ndarray:
    rows, cols = m.shape
    out = np.full((rows + cols - 1, cols), -1, np.int64)
    for c in range(cols):
        out[c:c + rows, c] = m[:, c]
    return out


def _gap(rows: int, cols: int) -> np.ndarray:
    return np.full((rows, cols), -1, np.int64)


def _diag_order(m: np.ndarray) -> np.ndarray:
    """SCALE-Sim's anti-diagonal prefetch order: diagonals r + c ascending, rows descending within one."""
    return aot.load(KERNELS).diag_order(_int64(m))


class Streams:
    """SCALE-Sim's demand matrices (fold by fold) and prefetch sequences for one layer."""

    def __init__(self, g: Geometry, R: int, C: int, dataflow: str):
        self.g, self.R, self.C, self.df = g, R, C, dataflow
        self.ifm = ifmap_matrix(g)
        self.flt = filter_matrix(g)
        px, win, nf = g.pixels, g.window, g.N
        if dataflow == "ws":
            self.Sr, self.Sc, self.T = win, nf, px
        elif dataflow == "is":
            self.Sr, self.Sc, self.T = win, px, nf
        else:
            self.Sr, self.Sc, self.T = px, nf, win
        self.row_fold = -(-self.Sr // R)
        self.col_fold = -(-self.Sc // C)

    @property
    def folds(self) -> int:
        return self.row_fold * self.col_fold

    def fold_rows(self) -> int:
        R, C, T = self.R, self.C, self.T
        return T + R + C - 2 if self.df == "os" else 2 * R + C + T - 2

    def fold(self, fc: int, fr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ifmap, filter, ofmap) demand rows of fold (fc, fr); the ofmap demand holds 1 where a write
        happens (SCALE-Sim's write buffer only counts non -1 entries), -1 elsewhere."""
        R, C, T, df = self.R, self.C, self.T, self.df
        r0, r1 = fr * R, min(fr * R + R, self.Sr)
        c0, c1 = fc * C, min(fc * C + C, self.Sc)
        if df == "ws":
            ifd = _skew(np.concatenate((_gap(R, R), _pad(self.ifm[:, r0:r1], T, R), _gap(C - 1, R))))
            fd = np.concatenate((_pad(self.flt[r0:r1, c0:c1], R, C)[::-1], _gap(R + C + T - 2, C)))
            ofd = _skew(np.concatenate((_gap(2 * R - 1, C), _pad(np.ones((T, c1 - c0), np.int64), T, C))))
        elif df == "is":
            ifd = np.concatenate((_pad(self.ifm[c0:c1, r0:r1].T, R, C)[::-1], _gap(R + C + T - 2, C)))
            fd = _skew(np.concatenate((_gap(R, R), _pad(self.flt[r0:r1, :].T, T, R), _gap(C - 1, R))))
            ofd = _skew(np.concatenate((_gap(2 * R - 1, C), _pad(np.ones((T, c1 - c0), np.int64), T, C))))
        else:
            ifd = _skew(np.concatenate((_pad(self.ifm[r0:r1, :].T, T, R), _gap(C - 1, R))))
            fd = _skew(np.concatenate((_pad(self.flt[:, c0:c1], T, C), _gap(R - 1, C))))
            ofd = _skew(np.concatenate((_gap(T - 1, C),
                                        _pad(np.ones((r1 - r0, c1 - c0), np.int64), R, C)[::-1])))
        return ifd, fd, ofd

    def prefetch(self) -> tuple[np.ndarray, np.ndarray]:
        """(ifmap, filter) prefetch sequences (flattened, -1 padding kept) as SCALE-Sim orders them."""
        R, C, T, df = self.R, self.C, self.T, self.df
        if df == "ws":
            im = np.concatenate([_pad(self.ifm[:, fr * R:min(fr * R + R, self.Sr)], T, R)
                                 for fr in range(self.row_fold)])
            fm = np.concatenate([_pad(self.flt[:, fc * C:min(fc * C + C, self.Sc)], self.flt.shape[0], C)
                                 for fc in range(self.col_fold)])
            return _diag_order(im), fm.reshape(-1)
        if df == "is":
            ift = self.ifm.T
            im = np.concatenate([_pad(ift[:, fc * C:min(fc * C + C, self.Sc)], self.Sr, C)
                                 for fc in range(self.col_fold)])
            fm = np.concatenate([_pad(self.flt[fr * R:min(fr * R + R, self.Sr), :].T, T, R)
                                 for fr in range(self.row_fold)])
            return im.reshape(-1), _diag_order(fm)
        ift = self.ifm.T
        im = np.concatenate([_pad(ift[:, fr * R:min(fr * R + R, self.Sr)], T, R) for fr in range(self.row_fold)])
        fm = np.concatenate([_pad(self.flt[:, fc * C:min(fc * C + C, self.Sc)], T, C) for fc in range(self.col_fold)])
        return _diag_order(im), _diag_order(fm)


# ---- custom layouts (operand_matrix.get_{ifmap,filter}_prefetch_matrix_custom_layout) --------------
def _axes(order, n: int, what: str) -> tuple[int, ...]:
    """np.transpose's axes check: each in [-n, n) (negative ones count from the end), no repeats."""
    ax = []
    for a in order:
        if not -n <= a < n:
            raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {what} order {list(order)}: axis {a} "
                                      f"is out of range for {n} axes (numpy AxisError in np.transpose)")
        ax.append(a % n)
    if len(set(ax)) != n:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {what} order {list(order)} repeats an "
                                  f"axis (numpy ValueError in np.transpose)")
    return tuple(ax)


def _tiled(data: np.ndarray, factors, order) -> np.ndarray:
    """Pad every dimension with -1 to a multiple of its intraline factor, split it into (lines, factor),
    group the line dimensions before the factor dimensions, then transpose by ``order``; flattened."""
    nd = data.ndim
    n_t = [-(-d // f) for d, f in zip(data.shape, factors)]
    data = np.pad(data, [(0, t * f - d) for t, f, d in zip(n_t, factors, data.shape)], constant_values=-1)
    split = [x for t, f in zip(n_t, factors) for x in (t, f)]
    data = data.reshape(split).transpose([2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)])
    return np.ascontiguousarray(data.transpose(order)).reshape(-1)


def ifmap_custom_prefetch(g: Geometry, layout, bank_bw: int) -> np.ndarray:
    """The custom-layout ifmap prefetch sequence (internal addresses, -1 padding): the input (H, W, C) tiled
    by the factors (IFMAP H, IFMAP W, Channel) and ordered by interline then intraline order."""
    f = (layout[0], layout[1], layout[4])
    if min(f) <= 0:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: ifmap intraline factors {list(f)} must be "
                                  f"positive (ZeroDivisionError / numpy pad error)")
    if f[0] * f[1] * f[2] > bank_bw:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: ifmap intraline factors {list(f)} hold "
                                  f"{f[0] * f[1] * f[2]} words, more than IfmapSRAMBankBandwidth = {bank_bw} "
                                  f"(its assertion)")
    order = _axes(tuple(layout[9:12]) + tuple(layout[6:9]), 6, "ifmap interline + intraline")
    data = np.arange(g.H * g.W * g.C, dtype=np.int64).reshape(g.H, g.W, g.C)
    return _tiled(data, f, order)


def filter_custom_prefetch(g: Geometry, layout, bank_bw: int) -> np.ndarray:
    """The custom-layout filter prefetch sequence (internal addresses: FilterOffset subtracted, -1 padding):
    the filters seen as (N, C, R, S) tiled by (Num Filter, Channel, Filter H, Filter W) factors."""
    f = (layout[5], layout[4], layout[2], layout[3])
    prod = f[0] * f[1] * f[2] * f[3]
    if prod != bank_bw:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: filter intraline factors {list(f)} hold "
                                  f"{prod} words, not FilterSRAMBankBandwidth = {bank_bw} (its assertion)")
    if min(f) <= 0:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: filter intraline factors {list(f)} must be "
                                  f"positive (ZeroDivisionError / numpy pad error)")
    order = _axes(tuple(layout[16:20]) + tuple(layout[12:16]), 8, "filter interline + intraline")
    data = np.arange(g.R * g.S * g.C * g.N, dtype=np.int64).reshape(g.N, g.C, g.R, g.S)
    return _tiled(data, f, order)


# ---- driver ----------------------------------------------------------------------------------------
_V, _M = "i8[::1]", "i8[:, ::1]"
#: the kernel entry points of the compatible mode, built ahead of time so that a command loads them without Numba (hwsim.aot)
KERNELS = aot.KernelSet(
    name="hwsim_scalesim_kernels", module="hwsim.systolic.scalesim_kernels",
    exports=(("run_memory", f"void(b1, i8, i8, i8, i8, i8, i8, i8, {_M}, {_M}, {', '.join([_V] * 17)})"),
             ("hashed_lines", f"UniTuple({_V}, 2)({_V}, i8, i8)"),
             ("layout_lines", f"UniTuple({_V}, 2)({_V}, i8, i8, i8)"),
             ("fold_float_averages", f"UniTuple(f8, 2)({_V}, {_V}, i8, i8, i8)"),
             ("diag_order", f"{_V}({_M})")),
    sources=("hwsim.systolic.scalesim_kernels", "hwsim.systolic.scalesim_state"))


def _exact(a: np.ndarray) -> np.ndarray:
    """An argument of the compiled kernels, which do not check types (a wrong one would crash): C-contiguous
    int64, and the very array given (the kernels update their state vectors in place)."""
    if not (isinstance(a, np.ndarray) and a.dtype == np.int64 and a.flags.c_contiguous):
        raise TypeError(f"SCALE-Sim memory kernel argument must be a C-contiguous int64 array, not {a!r:.80}")
    return a


def _int64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _user_lines(seq: np.ndarray, size_bytes: int, bw: int, n_addr: int, layout: bool = False):
    """read_buffer.set_fetch_matrix + prepare_hashed_buffer: the hashed-line ring as CSR (address ->
    sorted line ids) and the ring parameters (lines of ``bw`` elements with a custom layout)."""
    total = size_bytes                         # word size 1
    active = int(math.ceil(total * 0.5))
    pf_size = total - active
    rows = -(-seq.size // bw)
    eps = bw if layout else -(-total // 100)
    n_el = int(np.count_nonzero(seq != -1))
    n_lines = n_el // eps + 1
    ptr, ln = aot.load(KERNELS).hashed_lines(_int64(seq), int(eps), int(n_addr))
    nact = min(n_lines, -(-active // eps))
    npf = min(n_lines - nact, -(-pf_size // eps))
    first = min(-(-active // bw), rows)
    nxt = (first % rows) if first * bw > active else ((first + 1) % rows)
    st = np.zeros(15, np.int64)
    st[U_NL], st[U_NACT], st[U_NPF], st[U_FIRST] = n_lines, nact, npf, first
    st[U_PFL], st[U_BW], st[U_ROWS], st[U_NEXT] = -(-pf_size // bw), bw, rows, nxt
    return st, ptr, ln


def _calc_state(size_bytes: int, bw: int) -> np.ndarray:
    st = np.zeros(22, np.int64)
    st[E_ITEMS] = size_bytes // 100
    st[E_NACT] = 50                            # int(0.5 * 100)
    st[E_NPF] = 50
    st[E_REND] = st[E_NACT] - 1
    st[E_LSTART], st[E_LEND] = -2, -1
    st[E_DBW] = st[E_PBW] = bw
    if st[E_ITEMS] == 0:
        raise ScaleSimUnsupported(f"SRAM of {size_bytes} bytes: SCALE-Sim's CALC read buffer needs >= 100")
    return st


def simulate(layer, conv, R: int, C: int, dataflow: str, mem: MemConfig) -> dict:
    """SCALE-Sim 3.0.0's memory simulation of one layer: cycles, stalls and DRAM/SRAM timing fields
    (snake_case keys of ``scalesim_io.FIELDS`` except the compute-only ones)."""
    g = Geometry.of(layer, conv)
    s = Streams(g, R, C, dataflow)
    user = mem.interface == "user"
    n_if, n_f = g.H * g.W * g.C, g.window * g.N
    kb = (mem.ifmap_kb * 1024, mem.filter_kb * 1024, mem.ofmap_kb * 1024)
    dummy = np.zeros(1, np.int64)
    lay = [np.zeros(4, np.int64), np.zeros(4, np.int64)]
    lines = [dummy, dummy, dummy, dummy]                 # iline, ipos, fline, fpos
    icus = fcus = None
    if mem.ifmap_custom or mem.filter_custom:
        if mem.layout is None or len(mem.layout) != 20:
            raise ScaleSimUnsupported(f"a custom SRAM layout needs the layout row (20 integers), not {mem.layout!r:.60}")
        if mem.ifmap_custom and mem.ifmap_offset != 0 and user:
            raise ScaleSimUnsupported(f"IfmapOffset = {mem.ifmap_offset} with a custom ifmap layout: SCALE-Sim's "
                                      f"custom lines hold the addresses without the offset, so it prefetches "
                                      f"forever; use IfmapOffset 0")
        # SCALE-Sim builds (and asserts on) the custom prefetch matrices in CALC mode too, then ignores them
        icus = ifmap_custom_prefetch(g, mem.layout, mem.ifmap_bw) if mem.ifmap_custom else None
        fcus = filter_custom_prefetch(g, mem.layout, mem.filter_bw) if mem.filter_custom else None
    if user:
        pre = list(s.prefetch())                         # ifmap, filter; a custom layout replaces its own
        for k, (cus, bw, nb, ports, n, key_off) in enumerate((
                (icus, mem.ifmap_bw, mem.ifmap_banks, mem.ifmap_ports, n_if, 0),
                (fcus, mem.filter_bw, mem.filter_banks, mem.filter_ports, n_f, mem.filter_offset))):
            if cus is None:
                continue
            if bw % nb or ports <= 0:
                raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {nb} banks of {ports} ports for "
                                          f"{bw} words/cycle (banks must divide it, ports be positive)")
            pre[k] = cus
            lay[k][:] = (1, nb, bw // nb, ports)
            lines[2 * k], lines[2 * k + 1] = aot.load(KERNELS).layout_lines(_int64(cus), int(bw), int(n),
                                                                            int(key_off))
        ist, iptr, ilines = _user_lines(pre[0], kb[0], mem.ifmap_bw, n_if, icus is not None)
        fst, fptr, flines = _user_lines(pre[1], kb[1], mem.filter_bw, n_f, fcus is not None)
        ilast = flast = dummy
    else:
        ist, fst = _calc_state(kb[0], 10), _calc_state(kb[1], 10)
        iptr = ilines = fptr = flines = dummy
        ilast, flast = np.full(n_if, -1, np.int64), np.full(n_f, -1, np.int64)
    obw = mem.ofmap_bw if user else C
    wst = np.zeros(16, np.int64)
    wst[W_TOTAL] = kb[2]
    wst[W_ACTIVE] = int(math.ceil(kb[2] * 0.5))
    wst[W_DRAIN] = kb[2] - wst[W_ACTIVE]
    wst[W_FREE] = kb[2]
    wst[W_BW] = obw
    lv = np.zeros(g.pixels * g.N * s.row_fold + 2 + (g.pixels * g.N if dataflow == "os" else 0), np.int64)
    ms = np.zeros(11, np.int64)
    ms[[M_IF0, M_IF1, M_F0, M_F1, M_O0, M_O1, M_MAXO]] = NONE
    aot.load(KERNELS).run_memory(
        bool(user), {"ws": 0, "is": 1, "os": 2}[dataflow], *map(int, (R, C, s.T, s.Sr, s.Sc, s.fold_rows())),
        _int64(s.ifm), _int64(s.flt), *map(_exact, (ms, ist, fst, wst, lv, iptr, ilines, fptr, flines, ilast, flast,
                                                    lay[0], lay[1], *lines)))
    for err in (ms[M_ERR], ist[E_ERR] if not user else 0, fst[E_ERR] if not user else 0, wst[W_ERR]):
        if err:
            raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {ERRORS[int(err)]}")
    if user:
        idr = (int(ist[U_TMIN]), int(ist[U_TMAX]), int(ist[U_ACCESS]))
        fdr = (int(fst[U_TMIN]), int(fst[U_TMAX]), int(fst[U_ACCESS]))
    else:
        idr = (int(ist[E_TSTART]), int(ist[E_TEND]), int(ist[E_ACCESS]))
        fdr = (int(fst[E_TSTART]), int(fst[E_TEND]), int(fst[E_ACCESS]))
    odr = (int(wst[W_DMIN]), int(wst[W_DMAX]), int(wst[W_ACCESS]))
    total = int(ms[M_MAXO])
    return {
        "total_cycles_incl_prefetch": int(odr[1] - min(idr[0], fdr[0])),
        "compute_cycles": total, "stall_cycles": int(ms[M_STALL]),
        "ifmap_sram_start_cycle": int(ms[M_IF0]), "ifmap_sram_stop_cycle": int(ms[M_IF1]),
        "filter_sram_start_cycle": int(ms[M_F0]), "filter_sram_stop_cycle": int(ms[M_F1]),
        "ofmap_sram_start_cycle": int(ms[M_O0]), "ofmap_sram_stop_cycle": int(ms[M_O1]),
        "ifmap_dram_start_cycle": idr[0], "ifmap_dram_stop_cycle": idr[1], "ifmap_dram_reads": idr[2],
        "filter_dram_start_cycle": fdr[0], "filter_dram_stop_cycle": fdr[1], "filter_dram_reads": fdr[2],
        "ofmap_dram_start_cycle": odr[0], "ofmap_dram_stop_cycle": odr[1], "ofmap_dram_writes": odr[2],
        "avg_ifmap_dram_bw": idr[2] / (idr[1] - idr[0] + 1),
        "avg_filter_dram_bw": fdr[2] / (fdr[1] - fdr[0] + 1),
        "avg_ofmap_dram_bw": odr[2] / (odr[1] - odr[0] + 1),
    }
