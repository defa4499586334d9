"""Test vectors and the checker, written once and run on every level (numpy model, amaranth.sim,
cocotb/Verilator).

Expected values come from the ``datatypes`` model directly -- ``Format.code_values(meta)`` turned
into exact rationals and multiplied/summed in Python integers -- not from ``rtl_gen.arith``, so
the arithmetic contract itself is checked too. Expected cycle numbers come from the cycle model
``hwsim.pe.stream``. Every comparison is ``np.array_equal``.

    vs = decoder_vectors(dec.table)          # every code under every metadata value
    vs = pe_vectors(pe.spec, pe.latency)     # every (weight, activation) pair + a random overflowing
                                             # accumulate stream with stalls on both handshakes
    result = check(vs, got)                  # got: dict of arrays from any backend
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

import datatypes as dt
from hwsim.pe.stream import pe_timing
from rtl_gen.arith import FixedPointTable, MacSpec, int_array

from .vectorset import VectorSet


def _exact_rows(table: FixedPointTable) -> list[list[Fraction | None]]:
    """The format's decoded values as exact rationals, straight from ``code_values`` (None = NaN)."""
    f = table.source if table.source is not None else dt.get(table.format)
    rows = [f.code_values(m) for m in range(table.n_meta)] if table.use_meta else [f.code_values()]
    return [[None if math.isnan(v) else Fraction(float(v)) for v in r] for r in rows]


def _to_int(x: Fraction, frac: int, what: str) -> int:
    y = x * (1 << frac)
    if y.denominator != 1:
        raise AssertionError(f"{what} = {x} is not a multiple of 2**-{frac}: the fixed-point contract is wrong")
    return int(y)


def decoder_vectors(table: FixedPointTable) -> VectorSet:
    """Every code under every metadata value the port can carry (values >= n_meta must give
    0 / invalid)."""
    rows = _exact_rows(table)
    n_codes = table.n_codes
    metas = range(1 << table.meta_bits) if table.use_meta else range(1)
    code, meta, value, invalid = [], [], [], []
    for m in metas:
        for c in range(n_codes):
            v = rows[m][c] if m < len(rows) else None
            code.append(c)
            meta.append(m)
            value.append(0 if v is None else _to_int(v, table.frac_bits, f"{table.format} code {c} meta {m}"))
            invalid.append(v is None)
    inputs = {"code": np.array(code, dtype=np.int64)}
    if table.use_meta:
        inputs["meta"] = np.array(meta, dtype=np.int64)
    return VectorSet(name=f"decoder-{table.format}", kind="decoder", inputs=inputs,
                     expected={"value": np.array(value, dtype=np.int64),
                               "invalid": np.array(invalid, dtype=bool)},
                     info={"vectors": len(code)})


def _wrap(x: int, width: int) -> int:
    x &= (1 << width) - 1
    return x - (1 << width) if x >> (width - 1) else x


def reference_outputs(spec: MacSpec, w_code: np.ndarray, a_code: np.ndarray, last: np.ndarray,
                      w_meta: np.ndarray | None = None) -> np.ndarray:
    """Accumulator outputs from the datatypes model: exact rational products summed per packet,
    scaled by 2**product_frac and wrapped to acc_width bits (two's complement)."""
    wrows = _exact_rows(spec.weight)
    arow = _exact_rows(spec.activation)[0]
    cache: dict[tuple[int, int, int], int] = {}
    out, acc = [], 0
    wm = np.zeros(len(w_code), np.int64) if w_meta is None else w_meta
    for m, w, a, l in zip(wm.tolist(), w_code.tolist(), a_code.tolist(), np.asarray(last).tolist()):
        key = (m, w, a)
        p = cache.get(key)
        if p is None:
            wv = wrows[m][w] if m < len(wrows) else None
            av = arow[a]
            p = 0 if wv is None or av is None else _to_int(wv * av, spec.product_frac, f"product {key}")
            cache[key] = p
        acc += p
        if l:
            out.append(_wrap(acc, spec.acc_width))
            acc = 0
    return int_array(out, spec.acc_width)


def _random_stream(spec: MacSpec, rng: np.random.Generator, n_packets: int, max_len: int):
    """Packets of random length; 'pos'/'neg' packets draw pairs whose product is near the largest
    positive/negative product so long packets wrap past the accumulator boundary."""
    metas = spec.weight.n_meta
    wv = spec.weight.array()                       # [meta, code]
    av = spec.activation.array()[0]                # [code]
    if spec.product_width > 64:                    # exact Python-int products
        wv, av = wv.astype(object), av.astype(object)
    prod = wv[:, :, None] * av[None, None, :]      # [meta, w, a]
    flat = prod.ravel()
    hi, lo = flat.max(), flat.min()
    pos = np.nonzero(flat >= max(1, hi // 2))[0]
    neg = np.nonzero(flat <= min(-1, lo // 2))[0]
    shape = prod.shape
    w_code, w_meta, a_code, last = [], [], [], []
    for k in range(n_packets):
        kind = ("pos", "neg", "mixed")[k % 3]
        length = int(rng.integers(1, max_len + 1)) if k % 4 else max_len
        if kind == "pos" and pos.size:
            idx = rng.choice(pos, length)
        elif kind == "neg" and neg.size:
            idx = rng.choice(neg, length)
        else:
            idx = rng.integers(0, flat.size, length)
        m, w, a = np.unravel_index(idx, shape)
        w_meta += m.tolist()
        w_code += w.tolist()
        a_code += a.tolist()
        last += [False] * (length - 1) + [True]
    del metas
    return (np.array(w_code, np.int64), np.array(w_meta, np.int64), np.array(a_code, np.int64),
            np.array(last, bool))


def pe_vectors(spec: MacSpec, stages: int, seed: int = 0, n_packets: int = 24,
               max_packet: int | None = None) -> VectorSet:
    """Vectors for the stream PE.

    Part A: every (metadata, weight code, activation code) triple as a one-element packet, no stalls
    (so the cycle count also checks the initiation interval of 1).
    Part B: ``n_packets`` random packets (lengths up to ``max_packet``, default enough to wrap the
    accumulator several times, at most 4096) with pos/neg/mixed products, offered with random gaps
    (in_valid 80 %) and back-pressure (out_ready 70 %).
    """
    rng = np.random.default_rng(seed)
    W, PW = spec.acc_width, spec.product_width
    metas = spec.weight.n_meta
    m, w, a = np.meshgrid(np.arange(metas), np.arange(spec.weight.n_codes),
                          np.arange(spec.activation.n_codes), indexing="ij")
    a_meta, a_w, a_a = m.ravel(), w.ravel(), a.ravel()
    n_a = a_w.size
    if max_packet is None:
        max_packet = int(min(4096, max(16, 4 << max(0, W - PW))))
    b_w, b_meta, b_a, b_last = _random_stream(spec, rng, n_packets, max_packet)
    w_code = np.concatenate([a_w, b_w])
    w_meta = np.concatenate([a_meta, b_meta])
    a_code = np.concatenate([a_a, b_a])
    last = np.concatenate([np.ones(n_a, bool), b_last])
    # schedule: part A without stalls; part B with random gaps and back-pressure
    n_b = b_w.size
    horizon = n_a + 3 * n_b + 64
    in_valid = np.ones(horizon, bool)
    out_ready = np.ones(horizon, bool)
    in_valid[n_a + stages + 1:] = rng.random(horizon - n_a - stages - 1) < 0.8
    out_ready[n_a + stages + 1:] = rng.random(horizon - n_a - stages - 1) < 0.7
    use_meta = spec.weight.use_meta
    outputs = reference_outputs(spec, w_code, a_code, last, w_meta if use_meta else None)
    in_c, out_c, cycles = pe_timing(last, stages, in_valid, out_ready)
    inputs = {"w_code": w_code}
    if use_meta:
        inputs["w_meta"] = w_meta
    inputs |= {"a_code": a_code, "last": last}
    # how many random packets wrapped past the accumulator boundary (exact sums vs wrapped)
    ends = np.nonzero(b_last)[0]
    starts = np.concatenate([[0], ends[:-1] + 1])
    exact = [reference_exact_sum(spec, b_w[s:e + 1], b_a[s:e + 1], b_meta[s:e + 1] if use_meta else None)
             for s, e in zip(starts, ends)]
    lim = 1 << (W - 1)
    over = sum(1 for x in exact if x >= lim)
    under = sum(1 for x in exact if x < -lim)
    name = f"pe-{spec.weight.format}-{spec.activation.format}-int{W}-s{stages}"
    return VectorSet(
        name=name, kind="pe", inputs=inputs,
        expected={"outputs": outputs, "in_cycles": in_c, "out_cycles": out_c,
                  "cycles": np.array([cycles], np.int64)},
        schedule={"in_valid": in_valid, "out_ready": out_ready},
        info={"vectors": int(w_code.size), "exhaustive_pairs": int(n_a), "stream_elements": int(n_b),
              "packets": int(last.sum()), "overflow_packets": over, "underflow_packets": under,
              "cycles": int(cycles), "seed": seed})


def reference_exact_sum(spec: MacSpec, w_code, a_code, w_meta=None) -> int:
    """The unwrapped exact sum (integer at binary point product_frac) of one packet."""
    wrows = _exact_rows(spec.weight)
    arow = _exact_rows(spec.activation)[0]
    wm = np.zeros(len(w_code), np.int64) if w_meta is None else w_meta
    total = Fraction(0)
    for m, w, a in zip(np.asarray(wm).tolist(), np.asarray(w_code).tolist(), np.asarray(a_code).tolist()):
        wv, av = wrows[m][w], arow[a]
        if wv is not None and av is not None:
            total += wv * av
    return _to_int(total, spec.product_frac, "packet sum")


# ---- checking -----------------------------------------------------------------------------------

@dataclass
class CheckResult:
    name: str
    backend: str
    ok: bool
    vectors: int                 #: input vectors (codes / elements) applied
    checked: int                 #: outputs compared (each: every output port, and for streams its cycle)
    cycles: int | None           #: clock cycles simulated (None for combinational units)
    mismatches: list[str]
    what: str | None = None      #: what was checked, when not the default wording

    def summary(self) -> str:
        status = "PASS" if self.ok else "FAIL"
        cyc = f", {self.cycles:,} cycles" if self.cycles is not None else ""
        what = self.what or ("bit-exact and on the expected cycle" if self.cycles is not None else "bit-exact")
        s = f"{status} {self.name} [{self.backend}]: {self.vectors:,} vectors, {self.checked:,} outputs {what}{cyc}"
        if self.mismatches:
            s += "\n  " + "\n  ".join(self.mismatches)
        return s


def check(vs: VectorSet, got: dict[str, Any], backend: str, limit: int = 5) -> CheckResult:
    """Compare every expected array with the backend's (np.array_equal); list the first mismatches."""
    bad: list[str] = []
    primary = "outputs" if "outputs" in vs.expected else next(iter(vs.expected))
    checked = int(np.asarray(vs.expected[primary]).size)
    for key, exp in vs.expected.items():
        if key not in got:
            bad.append(f"{key}: missing from the {backend} results")
            continue
        g = np.asarray(got[key])
        e = np.asarray(exp)
        if g.shape != e.shape:
            bad.append(f"{key}: {backend} gave {g.shape[0] if g.ndim else g} values, expected {e.shape[0] if e.ndim else e}")
            continue
        if not np.array_equal(g.astype(e.dtype), e):
            idx = np.nonzero(g.astype(e.dtype) != e)[0]
            for i in idx[:limit]:
                where = _describe_input(vs, key, int(i))
                bad.append(f"{key}[{i}]{where}: {backend} {_plain(g[i])}, expected {_plain(e[i])}")
            if idx.size > limit:
                bad.append(f"{key}: {idx.size - limit} more mismatches")
    cycles = int(vs.expected["cycles"][0]) if "cycles" in vs.expected else None
    if "cycles" in got and cycles is not None:
        cycles = int(np.asarray(got["cycles"]).ravel()[0])
    return CheckResult(name=vs.name, backend=backend, ok=not bad, vectors=vs.n, checked=checked,
                       cycles=cycles, mismatches=bad)


def _plain(v: Any) -> str:
    return str(bool(v)) if isinstance(v, (bool, np.bool_)) else str(int(v))


def _describe_input(vs: VectorSet, key: str, i: int) -> str:
    if vs.kind == "decoder":
        return " (" + ", ".join(f"{k}={int(v[i])}" for k, v in vs.inputs.items()) + ")"
    if key == "outputs" and "last" in vs.inputs:
        ends = np.nonzero(vs.inputs["last"])[0]
        if i < ends.size:
            e = int(ends[i])
            s = int(ends[i - 1]) + 1 if i else 0
            if e == s:
                return " (" + ", ".join(f"{k}={int(v[e])}" for k, v in vs.inputs.items() if k != "last") + ")"
            return f" (packet of elements {s}..{e})"
    return ""
