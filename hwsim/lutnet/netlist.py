"""LUT netlists: layers of truth-table neurons (LogicNets "L-LUTs"), bit-accurate, Numba-evaluated.

    net = LutNet([Layer(n_in=64, b_in=2, b_out=2, indptr=..., indices=..., tables=[...])])
    y = net.forward(x_codes)           # uint8 [N, n_out of the last layer]
    net.save("net.npz"); LutNet.load("net.npz")

Codes and addresses (docs/lutnet.md, section 1; the LogicNets conventions):

- every wire carries an unsigned ``b``-bit code; signed values use offset binary
  (``code = value + 2**(b-1) - narrow``), so argmax over codes is argmax over values;
- neuron ``n`` reads the inputs ``indices[indptr[n]:indptr[n+1]]`` (strictly ascending, fan-in may differ per
  neuron, 0 allowed: a constant); its table address is ``sum_k code[idx[k]] << (b_in*(F-1-k))`` -- the
  first (lowest) index in the most significant bits, as in LogicNets' ``case`` keys and Verilog concatenation;
- its table has ``2**(F*b_in)`` entries of ``b_out`` bits.

File format (``save``/``load``): one ``.npz`` with the arrays ``l<i>_indptr`` (int64), ``l<i>_indices`` (int32),
``l<i>_tables`` (uint8, the tables of the layer concatenated in neuron order) and ``header`` -- a uint8 array
holding UTF-8 JSON: ``{"format": "hwsim-lutnet", "version": 1, "layers": [{"n_in", "n_out", "b_in", "b_out",
"signed_out", "narrow_out"}...], "meta": {...}}``. Everything is validated on load; an error names the file, the
array/key and what is allowed.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

FORMAT = "hwsim-lutnet"
VERSION = 1
#: Largest fan-in x bits of one table (2**20 entries); ``max_address_bits`` overrides it.
MAX_ADDRESS_BITS = 20
MAX_BITS = 8
#: Samples per chunk of ``forward`` (measured best of 1024/2048/4096: the chunk's feature-major codes of the
#: widest layer about L2-sized, each neuron's table read 2048 times per load).
CHUNK = 2048


class NetlistError(ValueError):
    """A netlist (or netlist file) that cannot be used; the message names the file/key and what is allowed."""


def _short(v: Any, limit: int = 60) -> str:
    t = repr(v)
    return t if len(t) <= limit else t[: limit - 3] + "..."


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer: ``n_out`` neurons reading ``n_in`` wires of ``b_in`` bits, each producing ``b_out`` bits."""

    n_in: int
    b_in: int
    b_out: int
    indptr: np.ndarray            #: int64 [n_out + 1], CSR row pointers into ``indices``
    indices: np.ndarray           #: int32 [sum fan-in], ascending within a neuron
    tables: np.ndarray            #: uint8 [sum 2**(fanin*b_in)], concatenated in neuron order
    signed_out: bool = False      #: the codes stand for offset-binary signed values
    narrow_out: bool = False      #: signed narrow range (offset 2**(b-1) - 1)
    offsets: np.ndarray = field(init=False, repr=False)   #: int64 [n_out + 1] table start of each neuron

    def __post_init__(self):
        object.__setattr__(self, "indptr", np.ascontiguousarray(self.indptr, dtype=np.int64))
        object.__setattr__(self, "indices", np.ascontiguousarray(self.indices, dtype=np.int32))
        object.__setattr__(self, "tables", np.ascontiguousarray(self.tables, dtype=np.uint8))
        sizes = np.left_shift(np.int64(1), self.fanin.astype(np.int64) * self.b_in) if len(self.indptr) else []
        object.__setattr__(self, "offsets", np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    @property
    def n_out(self) -> int:
        return len(self.indptr) - 1

    @property
    def fanin(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neuron_inputs(self, n: int) -> np.ndarray:
        return self.indices[self.indptr[n]:self.indptr[n + 1]]

    def table(self, n: int) -> np.ndarray:
        return self.tables[self.offsets[n]:self.offsets[n + 1]]

    @property
    def table_bits(self) -> int:
        return int(self.b_out * (self.offsets[-1]))

    def lut_cost(self) -> float:
        """LUTCost summed over the neurons (6-input LUTs, an upper bound; :func:`neuron_lut_cost`)."""
        return float(sum(neuron_lut_cost(int(f) * self.b_in, self.b_out) for f in self.fanin))

    def header(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_out": self.n_out, "b_in": self.b_in, "b_out": self.b_out,
                "signed_out": bool(self.signed_out), "narrow_out": bool(self.narrow_out)}


def lut_cost(x: int, y: int) -> float:
    """LUTCost(X, Y) = (Y/3) * (2**(X-4) - (-1)**X) six-input LUTs for one neuron with X input bits and Y
    output bits (LogicNets, FPL'20; Xilinx/logicnets ``nn.py::SparseLinearNeq.lut_cost``)."""
    return (y / 3) * ((2 ** (x - 4)) - ((-1) ** x))


def neuron_lut_cost(x: int, y: int) -> float:
    """LUTCost of one neuron as summed for netlists: the published formula for X >= 5 input bits (where it
    is meaningful; LogicNets' configurations all have X >= 6), and below that the exact bound for a function
    that fits one 6-input LUT per output bit: Y LUTs (0 for a constant, X = 0). The published formula gives
    0 or negative values for X < 5 (e.g. LUTCost(4, Y) = 0), which Logic-Shrinkage netlists would hit."""
    if x >= 5:
        return lut_cost(x, y)
    return float(y) if x > 0 else 0.0


def validate_layer(layer: Layer, where: str, i: int, max_address_bits: int = MAX_ADDRESS_BITS) -> None:
    p = f"{where}: layer {i}"
    for name in ("n_in", "b_in", "b_out"):
        v = getattr(layer, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise NetlistError(f"{p}: {name} = {_short(v)}: must be an integer >= 1")
    for name in ("b_in", "b_out"):
        if getattr(layer, name) > MAX_BITS:
            raise NetlistError(f"{p}: {name} = {getattr(layer, name)}: allowed 1..{MAX_BITS} bits per wire code")
    ip, ix = layer.indptr, layer.indices
    if ip.ndim != 1 or len(ip) < 2 or ip[0] != 0 or np.any(np.diff(ip) < 0) or ip[-1] != len(ix):
        raise NetlistError(f"{p}: indptr = {_short(ip.tolist())}: must start at 0, not decrease, and end at "
                           f"len(indices) = {len(ix)} (at least one neuron)")
    if len(ix) and (ix.min() < 0 or ix.max() >= layer.n_in):
        bad = int(ix[(ix < 0) | (ix >= layer.n_in)][0])
        raise NetlistError(f"{p}: input index {bad} out of range: allowed 0..{layer.n_in - 1}")
    fan = layer.fanin
    for n in np.flatnonzero(fan > 1):
        s = ix[ip[n]:ip[n + 1]]
        if np.any(np.diff(s) <= 0):
            raise NetlistError(f"{p}: neuron {n}: input indices {_short(s.tolist())} must be strictly ascending")
    widest = int(fan.max()) * layer.b_in
    if widest > max_address_bits:
        n = int(np.argmax(fan))
        raise NetlistError(f"{p}: neuron {n}: fan-in {int(fan[n])} x {layer.b_in} bits = {widest} address bits "
                           f"> the limit {max_address_bits} (2**{widest} table entries); raise max_address_bits "
                           f"to allow it")
    want = int(layer.offsets[-1])
    if layer.tables.ndim != 1 or len(layer.tables) != want:
        raise NetlistError(f"{p}: tables has {layer.tables.size} entries; the fan-ins need "
                           f"sum 2**(fanin*b_in) = {want}")
    if len(layer.tables) and int(layer.tables.max()) >= (1 << layer.b_out):
        raise NetlistError(f"{p}: table entry {int(layer.tables.max())} does not fit b_out = {layer.b_out} bits")


class LutNet:
    """A feed-forward netlist of truth-table layers (see the module docstring)."""

    def __init__(self, layers: list[Layer], meta: dict[str, Any] | None = None, where: str = "netlist",
                 max_address_bits: int = MAX_ADDRESS_BITS):
        if not layers:
            raise NetlistError(f"{where}: a netlist needs at least one layer")
        self.layers = list(layers)
        self.meta = dict(meta or {})
        for i, layer in enumerate(self.layers):
            validate_layer(layer, where, i, max_address_bits)
            if i:
                prev = self.layers[i - 1]
                if layer.n_in != prev.n_out or layer.b_in != prev.b_out:
                    raise NetlistError(f"{where}: layer {i} reads {layer.n_in} wires of {layer.b_in} bits but "
                                       f"layer {i - 1} produces {prev.n_out} of {prev.b_out} bits")

    # -- shape ---------------------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def b_in(self) -> int:
        return self.layers[0].b_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def b_out(self) -> int:
        return self.layers[-1].b_out

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def neurons(self) -> int:
        return sum(layer.n_out for layer in self.layers)

    @property
    def table_bits(self) -> int:
        return sum(layer.table_bits for layer in self.layers)

    def lut_cost(self) -> float:
        return sum(layer.lut_cost() for layer in self.layers)

    def describe(self) -> str:
        rows = [f"LUT netlist: {self.depth} layers, {self.neurons} neurons, {self.n_in} x {self.b_in}-bit in, "
                f"{self.n_out} x {self.b_out}-bit out; table bits {self.table_bits:,}; LUTCost "
                f"{self.lut_cost():,.0f}"]
        for i, layer in enumerate(self.layers):
            f = layer.fanin
            fan = f"{int(f.min())}" if f.min() == f.max() else f"{int(f.min())}..{int(f.max())}"
            rows.append(f"  layer {i}: {layer.n_in} -> {layer.n_out}, fan-in {fan}, bits {layer.b_in} -> "
                        f"{layer.b_out}, table bits {layer.table_bits:,}, LUTCost {layer.lut_cost():,.0f}")
        return "\n".join(rows)

    # -- evaluation ----------------------------------------------------------------------------------
    def check_inputs(self, x: Any, what: str = "inputs") -> np.ndarray:
        a = np.asarray(x)
        if a.ndim != 2 or a.shape[1] != self.n_in:
            raise NetlistError(f"{what}: shape {a.shape}: expected [N, {self.n_in}] input codes")
        if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= (1 << self.b_in)):
            raise NetlistError(f"{what}: codes must be integers 0..{(1 << self.b_in) - 1} ({self.b_in} bits), "
                               f"got dtype {a.dtype}, range {a.min()}..{a.max()}")
        return a if a.dtype == np.uint8 else a.astype(np.uint8)

    def forward(self, x: Any, all_layers: bool = False, chunk: int = CHUNK) -> np.ndarray | list[np.ndarray]:
        """Output codes uint8 [N, n_out] (or the codes after every layer, ``all_layers``). Samples go through
        the whole network ``chunk`` at a time (feature-major inside, so every layer's rows and each neuron's
        table stay in cache). uint8 input is range-checked inside the input transpose (the OR of its bytes),
        other integer dtypes by :meth:`check_inputs`."""
        a = np.asarray(x)
        fast = a.dtype == np.uint8 and a.ndim == 2 and a.shape[1] == self.n_in
        x = np.ascontiguousarray(a if fast else self.check_inputs(a))
        N = x.shape[0]
        outs = [np.empty((N, layer.n_out), np.uint8) for layer in self.layers]
        tabs = [layer.tables for layer in self.layers]
        limit = 1 << self.b_in
        for s0 in range(0, max(N, 1), chunk):
            cur, seen = _transpose_or(x[s0:s0 + chunk])              # feature-major [n, chunk]
            if seen >= limit:
                self.check_inputs(x)                                  # raises, naming the range
            for i, layer in enumerate(self.layers):
                cur = _layer_fm(cur, layer.indptr, layer.indices, layer.offsets, tabs[i], layer.b_in)
                if all_layers or i == self.depth - 1:
                    outs[i][s0:s0 + chunk] = _transpose(cur)
        return outs if all_layers else outs[-1]

    def forward_numpy(self, x: Any) -> np.ndarray:
        """The straightforward numpy evaluation (address per neuron, fancy-index gather): the benchmark's
        reference and a second implementation for tests."""
        cur = self.check_inputs(x).astype(np.int64)
        for layer in self.layers:
            out = np.empty((cur.shape[0], layer.n_out), np.int64)
            for n in range(layer.n_out):
                addr = np.zeros(cur.shape[0], np.int64)
                for k in layer.neuron_inputs(n):
                    addr = (addr << layer.b_in) | cur[:, k]
                out[:, n] = layer.table(n)[addr]
            cur = out
        return cur.astype(np.uint8)

    def lut_evals(self, n_samples: int) -> int:
        return n_samples * self.neurons

    # -- files ---------------------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "layers": [layer.header() for layer in self.layers],
                "meta": self.meta}

    def to_bytes(self) -> bytes:
        arrays = {"header": np.frombuffer(json.dumps(self.header(), sort_keys=True).encode(), np.uint8)}
        for i, layer in enumerate(self.layers):
            arrays[f"l{i}_indptr"] = layer.indptr
            arrays[f"l{i}_indices"] = layer.indices
            arrays[f"l{i}_tables"] = layer.tables
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the netlist atomically (temporary file + rename)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | Path, max_address_bits: int = MAX_ADDRESS_BITS) -> LutNet:
        p = Path(path)
        if not p.is_file():
            raise NetlistError(f"{p}: no such netlist file")
        try:
            z = np.load(p, allow_pickle=False)
            files = set(z.files)
        except (OSError, ValueError) as e:
            raise NetlistError(f"{p}: not an npz netlist file ({_short(str(e), 80)})") from None
        if "header" not in files:
            raise NetlistError(f"{p}: no 'header' array; expected a {FORMAT} npz (see hwsim.lutnet.netlist)")
        try:
            head = json.loads(bytes(z["header"].astype(np.uint8)).decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise NetlistError(f"{p}: header: not UTF-8 JSON ({_short(str(e), 80)})") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise NetlistError(f"{p}: header.format = {_short(head.get('format') if isinstance(head, dict) else head)}"
                               f": expected {FORMAT!r}")
        if head.get("version") != VERSION:
            raise NetlistError(f"{p}: header.version = {_short(head.get('version'))}: allowed {VERSION}")
        lays = head.get("layers")
        if not isinstance(lays, list) or not lays:
            raise NetlistError(f"{p}: header.layers must be a non-empty list")
        layers = []
        for i, h in enumerate(lays):
            keys = ("n_in", "n_out", "b_in", "b_out", "signed_out", "narrow_out")
            if not isinstance(h, dict) or set(h) != set(keys):
                raise NetlistError(f"{p}: header.layers[{i}] = {_short(h)}: expected exactly the keys "
                                   f"{', '.join(keys)}")
            for k in ("n_in", "n_out", "b_in", "b_out"):
                if not isinstance(h[k], int) or isinstance(h[k], bool) or h[k] < 1:
                    raise NetlistError(f"{p}: header.layers[{i}].{k} = {_short(h[k])}: must be an integer >= 1")
            for k in ("signed_out", "narrow_out"):
                if not isinstance(h[k], bool):
                    raise NetlistError(f"{p}: header.layers[{i}].{k} = {_short(h[k])}: must be true/false")
            arrs = {}
            for a, kind in (("indptr", "i"), ("indices", "i"), ("tables", "u")):
                name = f"l{i}_{a}"
                if name not in files:
                    raise NetlistError(f"{p}: array {name!r} is missing")
                arr = z[name]
                if arr.ndim != 1 or arr.dtype.kind not in (kind, "u" if kind == "i" else kind):
                    raise NetlistError(f"{p}: array {name!r}: dtype {arr.dtype}, shape {arr.shape}: expected a 1-D "
                                       f"integer array")
                arrs[a] = arr
            if len(arrs["indptr"]) != h["n_out"] + 1:
                raise NetlistError(f"{p}: array 'l{i}_indptr' has {len(arrs['indptr'])} entries; header says "
                                   f"n_out = {h['n_out']} (needs n_out + 1)")
            ip = arrs["indptr"]
            if ip[0] != 0 or np.any(np.diff(ip.astype(np.int64)) < 0) or int(ip[-1]) != len(arrs["indices"]):
                raise NetlistError(f"{p}: array 'l{i}_indptr' must start at 0, not decrease and end at "
                                   f"len(l{i}_indices) = {len(arrs['indices'])}")
            ix, tb = arrs["indices"], arrs["tables"]
            if len(ix) and (int(ix.min()) < 0 or int(ix.max()) >= h["n_in"]):
                bad = int(ix[(ix < 0) | (ix >= h["n_in"])][0])
                raise NetlistError(f"{p}: layer {i}: input index {bad} out of range: allowed 0..{h['n_in'] - 1}")
            if len(tb) and int(tb.max()) >= (1 << min(h["b_out"], MAX_BITS)):
                raise NetlistError(f"{p}: layer {i}: table entry {int(tb.max())} does not fit b_out = {h['b_out']} bits")
            fan_bits = int(np.diff(ip.astype(np.int64)).max()) * h["b_in"]
            if fan_bits > max_address_bits:
                raise NetlistError(f"{p}: layer {i}: fan-in x b_in = {fan_bits} address bits > the limit "
                                   f"{max_address_bits}; raise max_address_bits to allow it")
            layers.append(Layer(n_in=h["n_in"], b_in=h["b_in"], b_out=h["b_out"], indptr=ip,
                                indices=arrs["indices"], tables=arrs["tables"], signed_out=h["signed_out"],
                                narrow_out=h["narrow_out"]))
        meta = head.get("meta", {})
        if not isinstance(meta, dict):
            raise NetlistError(f"{p}: header.meta must be a mapping")
        return cls(layers, meta, where=str(p), max_address_bits=max_address_bits)

    def equals(self, other: LutNet) -> bool:
        if self.depth != other.depth:
            return False
        for a, b in zip(self.layers, other.layers):
            if a.header() != b.header() or not (np.array_equal(a.indptr, b.indptr)
                                                 and np.array_equal(a.indices, b.indices)
                                                 and np.array_equal(a.tables, b.tables)):
                return False
        return True


# -- kernels -------------------------------------------------------------------------------------------
# Neuron-major over sample blocks, two passes per block: the table addresses of BLOCK samples are formed
# from contiguous input rows (feature-major codes) into a uint32 buffer -- a loop without a gather, which
# LLVM vectorises (one specialised loop per fan-in up to 7, wider neurons input by input) -- and then the
# table is gathered for the block (scalar loads from a table that stays in L1/L2 for the whole chunk).
# Fusing both in one loop (the previous kernels) kept the address arithmetic scalar: 0.5-0.6 G/s at fan-in
# 7 against 1.3-1.4 G/s split.
BLOCK = 2048


@njit(cache=True, nogil=True)
def _a1(addr, r0):
    for s in range(addr.shape[0]):
        addr[s] = np.uint32(r0[s])


@njit(cache=True, nogil=True)
def _a2(addr, r0, r1, b):
    for s in range(addr.shape[0]):
        addr[s] = (np.uint32(r0[s]) << b) | np.uint32(r1[s])


@njit(cache=True, nogil=True)
def _a3(addr, r0, r1, r2, b):
    b2 = b + b
    for s in range(addr.shape[0]):
        addr[s] = (np.uint32(r0[s]) << b2) | (np.uint32(r1[s]) << b) | np.uint32(r2[s])


@njit(cache=True, nogil=True)
def _a4(addr, r0, r1, r2, r3, b):
    b2 = b + b
    b3 = b2 + b
    for s in range(addr.shape[0]):
        addr[s] = ((np.uint32(r0[s]) << b3) | (np.uint32(r1[s]) << b2) | (np.uint32(r2[s]) << b)
                   | np.uint32(r3[s]))


@njit(cache=True, nogil=True)
def _a5(addr, r0, r1, r2, r3, r4, b):
    b2 = b + b
    b3 = b2 + b
    b4 = b3 + b
    for s in range(addr.shape[0]):
        addr[s] = ((np.uint32(r0[s]) << b4) | (np.uint32(r1[s]) << b3) | (np.uint32(r2[s]) << b2)
                   | (np.uint32(r3[s]) << b) | np.uint32(r4[s]))


@njit(cache=True, nogil=True)
def _a6(addr, r0, r1, r2, r3, r4, r5, b):
    b2 = b + b
    b3 = b2 + b
    b4 = b3 + b
    b5 = b4 + b
    for s in range(addr.shape[0]):
        addr[s] = ((np.uint32(r0[s]) << b5) | (np.uint32(r1[s]) << b4) | (np.uint32(r2[s]) << b3)
                   | (np.uint32(r3[s]) << b2) | (np.uint32(r4[s]) << b) | np.uint32(r5[s]))


@njit(cache=True, nogil=True)
def _a7(addr, r0, r1, r2, r3, r4, r5, r6, b):
    b2 = b + b
    b3 = b2 + b
    b4 = b3 + b
    b5 = b4 + b
    b6 = b5 + b
    for s in range(addr.shape[0]):
        addr[s] = ((np.uint32(r0[s]) << b6) | (np.uint32(r1[s]) << b5) | (np.uint32(r2[s]) << b4)
                   | (np.uint32(r3[s]) << b3) | (np.uint32(r4[s]) << b2) | (np.uint32(r5[s]) << b)
                   | np.uint32(r6[s]))


@njit(cache=True, nogil=True)
def _an(addr, x, idx, s0, b):
    """Fan-in > 7: the address input by input (each pass vectorised)."""
    n = addr.shape[0]
    r = x[idx[0], s0:s0 + n]
    for s in range(n):
        addr[s] = np.uint32(r[s])
    for k in range(1, len(idx)):
        r = x[idx[k], s0:s0 + n]
        for s in range(n):
            addr[s] = (np.uint32(addr[s]) << b) | np.uint32(r[s])


@njit(cache=True, nogil=True)
def _gather(out, addr, tab):
    """``out[s] = tab[addr[s]]``, eight results packed into one uint64 store (3.6 against 2.3-3.0 G/s for
    byte stores, measured on 2048-entry blocks)."""
    n = out.shape[0]
    n8 = n - n % 8
    w8 = np.uint64(8)
    ow = out[:n8].view(np.uint64)
    for w in range(n8 // 8):
        s = w * 8
        v = np.uint64(tab[addr[s + 7]])
        v = (v << w8) | np.uint64(tab[addr[s + 6]])
        v = (v << w8) | np.uint64(tab[addr[s + 5]])
        v = (v << w8) | np.uint64(tab[addr[s + 4]])
        v = (v << w8) | np.uint64(tab[addr[s + 3]])
        v = (v << w8) | np.uint64(tab[addr[s + 2]])
        v = (v << w8) | np.uint64(tab[addr[s + 1]])
        ow[w] = (v << w8) | np.uint64(tab[addr[s]])
    for s in range(n8, n):
        out[s] = tab[addr[s]]


@njit(cache=True, nogil=True)
def _transpose_rows(a, out, r_start):
    """``out[c, r] = a[r, c]`` for the rows ``r >= r_start``, 8 rows at a time (contiguous writes); returns
    the OR of the bytes copied."""
    R, C = a.shape
    acc = np.uint8(0)
    r = r_start
    while r + 8 <= R:
        for c in range(C):
            for j in range(8):
                v = a[r + j, c]
                acc |= v
                out[c, r + j] = v
        r += 8
    for rr in range(r, R):
        for c in range(C):
            v = a[rr, c]
            acc |= v
            out[c, rr] = v
    return acc


_M32 = np.uint64(0x00000000FFFFFFFF)
_M16 = np.uint64(0x0000FFFF0000FFFF)
_M8 = np.uint64(0x00FF00FF00FF00FF)


@njit(cache=True, nogil=True)
def _t8x8_rows(r0_, r1_, r2_, r3_, r4_, r5_, r6_, r7_, o0, o1, o2, o3, o4, o5, o6, o7):
    """8x8 byte transposes of the uint64 words ``r*_[q]`` (8 rows) into ``o*_[q]``, for every ``q``: word
    ``o_k[q]`` holds byte ``k`` of the 8 input words. Elementwise over ``q`` -- the loop vectorises."""
    s32 = np.uint64(32)
    s16 = np.uint64(16)
    s8 = np.uint64(8)
    for q in range(o0.shape[0]):
        w0 = r0_[q]
        w1 = r1_[q]
        w2 = r2_[q]
        w3 = r3_[q]
        w4 = r4_[q]
        w5 = r5_[q]
        w6 = r6_[q]
        w7 = r7_[q]
        t = ((w0 >> s32) ^ w4) & _M32
        w4 ^= t
        w0 ^= t << s32
        t = ((w1 >> s32) ^ w5) & _M32
        w5 ^= t
        w1 ^= t << s32
        t = ((w2 >> s32) ^ w6) & _M32
        w6 ^= t
        w2 ^= t << s32
        t = ((w3 >> s32) ^ w7) & _M32
        w7 ^= t
        w3 ^= t << s32
        t = ((w0 >> s16) ^ w2) & _M16
        w2 ^= t
        w0 ^= t << s16
        t = ((w1 >> s16) ^ w3) & _M16
        w3 ^= t
        w1 ^= t << s16
        t = ((w4 >> s16) ^ w6) & _M16
        w6 ^= t
        w4 ^= t << s16
        t = ((w5 >> s16) ^ w7) & _M16
        w7 ^= t
        w5 ^= t << s16
        t = ((w0 >> s8) ^ w1) & _M8
        w1 ^= t
        w0 ^= t << s8
        t = ((w2 >> s8) ^ w3) & _M8
        w3 ^= t
        w2 ^= t << s8
        t = ((w4 >> s8) ^ w5) & _M8
        w5 ^= t
        w4 ^= t << s8
        t = ((w6 >> s8) ^ w7) & _M8
        w7 ^= t
        w6 ^= t << s8
        o0[q] = w0
        o1[q] = w1
        o2[q] = w2
        o3[q] = w3
        o4[q] = w4
        o5[q] = w5
        o6[q] = w6
        o7[q] = w7


@njit(cache=True, nogil=True)
def _transpose(a):
    """Transpose of a C-contiguous uint8 matrix ``a[R, C]`` (:func:`_transpose_or` without the OR)."""
    return _transpose_or(a)[0]


@njit(cache=True, nogil=True)
def _transpose_or(a):
    """Transpose of a C-contiguous uint8 matrix ``a[R, C]`` (sample-major codes -> feature-major) and the OR
    of all its bytes (the input-range check of ``forward``, for free in the copy loop).

    Tiles of 8*G rows: the rows are copied into ``buf[j, gr*Q*8 + c]`` (row ``8*gr + j`` of the tile, Q
    uint64 words per row), so that one elementwise loop over the G*Q words performs every 8x8 byte transpose
    of the tile (vectorised); whole output words are then moved into place. G grows for narrow matrices to
    keep that loop long. Row tails (and matrices with R < 8*G) go 8 rows at a time byte by byte. Measured
    ~3-8x faster than byte by byte on the NID-S chunk (2048 x 593)."""
    R, C = a.shape
    out = np.empty((C, R), np.uint8)
    acc = np.uint8(0)
    Q = (C + 7) // 8
    G = max(8, min(64, 512 // max(Q, 1)))
    T = 8 * G
    Rt = R - R % T if C else 0
    if Rt:
        W = G * Q
        buf = np.zeros((8, W * 8), np.uint8)
        bw = buf.view(np.uint64)                      # [8, G*Q]
        tmp = np.empty((8, W), np.uint64)             # [byte k, gr*Q + q]
        dst = out if R % 8 == 0 else np.empty((C, Rt), np.uint8)
        dw = dst.view(np.uint64)                      # [C, R/8]
        for r0 in range(0, Rt, T):
            for gr in range(G):
                for j in range(8):
                    src = a[r0 + 8 * gr + j]
                    off = gr * Q * 8
                    row = buf[j, off:off + C]
                    for c in range(C):
                        v = src[c]
                        acc |= v
                        row[c] = v
            _t8x8_rows(bw[0], bw[1], bw[2], bw[3], bw[4], bw[5], bw[6], bw[7],
                       tmp[0], tmp[1], tmp[2], tmp[3], tmp[4], tmp[5], tmp[6], tmp[7])
            g0 = r0 // 8
            for c in range(C):
                q = c // 8
                src_k = tmp[c % 8]
                dwc = dw[c]
                dwc = dwc[g0:g0 + G]
                for gr in range(G):
                    dwc[gr] = src_k[gr * Q + q]
        if R % 8:
            for c in range(C):
                o8 = out[c]
                d8 = dst[c]
                for r in range(Rt):
                    o8[r] = d8[r]
    acc |= _transpose_rows(a, out, Rt)
    return out, acc


@njit(cache=True, nogil=True)
def _neuron_block(out, x, indices, k0, F, s0, s1, tab, b, addr):
    """One neuron on the samples s0..s1 of feature-major ``x``: addresses into ``addr`` (uint16 when
    fan-in x bits <= 16, else uint32), then the table gathered into ``out``."""
    i0 = indices[k0]
    i1 = indices[k0 + 1] if F > 1 else i0
    i2 = indices[k0 + 2] if F > 2 else i0
    i3 = indices[k0 + 3] if F > 3 else i0
    i4 = indices[k0 + 4] if F > 4 else i0
    i5 = indices[k0 + 5] if F > 5 else i0
    i6 = indices[k0 + 6] if F > 6 else i0
    if F == 1:
        _a1(addr, x[i0, s0:s1])
    elif F == 2:
        _a2(addr, x[i0, s0:s1], x[i1, s0:s1], b)
    elif F == 3:
        _a3(addr, x[i0, s0:s1], x[i1, s0:s1], x[i2, s0:s1], b)
    elif F == 4:
        _a4(addr, x[i0, s0:s1], x[i1, s0:s1], x[i2, s0:s1], x[i3, s0:s1], b)
    elif F == 5:
        _a5(addr, x[i0, s0:s1], x[i1, s0:s1], x[i2, s0:s1], x[i3, s0:s1], x[i4, s0:s1], b)
    elif F == 6:
        _a6(addr, x[i0, s0:s1], x[i1, s0:s1], x[i2, s0:s1], x[i3, s0:s1], x[i4, s0:s1], x[i5, s0:s1], b)
    elif F == 7:
        _a7(addr, x[i0, s0:s1], x[i1, s0:s1], x[i2, s0:s1], x[i3, s0:s1], x[i4, s0:s1], x[i5, s0:s1],
            x[i6, s0:s1], b)
    else:
        _an(addr, x, indices[k0:k0 + F], s0, b)
    _gather(out, addr, tab)


@njit(cache=True, nogil=True)
def _layer_fm(x, indptr, indices, offsets, tables, b_in):
    """One layer on feature-major codes ``x[n_in, N]`` -> ``y[n_out, N]`` (uint8)."""
    n_out = len(indptr) - 1
    N = x.shape[1]
    y = np.empty((n_out, N), np.uint8)
    buf32 = np.empty(min(N, BLOCK), np.uint32)
    buf16 = np.empty(min(N, BLOCK), np.uint16)      # narrower address vectors: ~5% faster at fan-in 7
    b = np.uint32(b_in)
    for n in range(n_out):
        k0 = indptr[n]
        F = indptr[n + 1] - k0
        tab = tables[offsets[n]:offsets[n + 1]]
        if F == 0:
            y[n, :] = tab[0]
            continue
        for s0 in range(0, N, BLOCK):
            s1 = min(N, s0 + BLOCK)
            if F * b_in <= 16:
                _neuron_block(y[n, s0:s1], x, indices, k0, F, s0, s1, tab, b, buf16[:s1 - s0])
            else:
                _neuron_block(y[n, s0:s1], x, indices, k0, F, s0, s1, tab, b, buf32[:s1 - s0])
    return y


def random_netlist(sizes: list[int], fanin: list[int] | int, bits: list[int] | int, seed: int = 0,
                   vary_fanin: bool = False) -> LutNet:
    """A seeded random netlist (random ascending inputs, random tables): ``sizes`` = [n_in, n1, ..., nL],
    ``bits`` = [b_in, b1, ..., bL] (or one width), ``fanin`` per layer (or one). ``vary_fanin`` draws each
    neuron's fan-in in 0..fanin (Logic Shrinkage netlists)."""
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    fans = [fanin] * L if isinstance(fanin, int) else list(fanin)
    bs = [bits] * (L + 1) if isinstance(bits, int) else list(bits)
    layers = []
    for i in range(L):
        n_in, n_out, F = sizes[i], sizes[i + 1], min(fans[i], sizes[i])
        fs = rng.integers(0, F + 1, n_out) if vary_fanin else np.full(n_out, F)
        idx = [np.sort(rng.choice(n_in, int(f), replace=False)) for f in fs]
        indptr = np.concatenate([[0], np.cumsum(fs)])
        tables = [rng.integers(0, 1 << bs[i + 1], 1 << (int(f) * bs[i]), dtype=np.uint8) for f in fs]
        layers.append(Layer(n_in=n_in, b_in=bs[i], b_out=bs[i + 1], indptr=indptr,
                            indices=np.concatenate(idx).astype(np.int32) if idx else np.zeros(0, np.int32),
                            tables=np.concatenate(tables)))
    return LutNet(layers, {"source": f"random seed {seed}"})


def remove_unused_inputs(net: LutNet) -> tuple[LutNet, int]:
    """Exact Logic Shrinkage: drop every neuron input its table does not depend on (the table restricted
    to that input's code 0 replaces it). The outputs are unchanged for every input; returns the new netlist
    and how many inputs were removed."""
    layers, removed = [], 0
    for layer in net.layers:
        b = layer.b_in
        new_idx, new_tab, fans = [], [], []
        for n in range(layer.n_out):
            ix = list(layer.neuron_inputs(n))
            t = layer.table(n).reshape((1 << b,) * len(ix)) if ix else layer.table(n)
            k = 0
            while k < len(ix):
                first = np.take(t, [0], axis=k)
                if np.all(t == first):
                    t = np.take(t, 0, axis=k)
                    ix.pop(k)
                    removed += 1
                else:
                    k += 1
            new_idx.extend(ix)
            new_tab.append(np.ascontiguousarray(t).ravel())
            fans.append(len(ix))
        layers.append(Layer(n_in=layer.n_in, b_in=b, b_out=layer.b_out,
                            indptr=np.concatenate([[0], np.cumsum(fans)]).astype(np.int64),
                            indices=np.array(new_idx, np.int32), tables=np.concatenate(new_tab),
                            signed_out=layer.signed_out, narrow_out=layer.narrow_out))
    return LutNet(layers, dict(net.meta)), removed
