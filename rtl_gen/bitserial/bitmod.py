"""BitMoD PE (4 FP16 activation lanes x term-serial weights, group accumulate, bit-serial
dequantisation by the 8-bit group scale) and a small array.

Timing contract (identical to :mod:`hwsim.bitserial.pe_model`):
  * ``start`` while idle (or in the last busy cycle) latches one step: 4 FP16 activations, 4
    weight codes, the group's selector ``meta``, ``last_in_group`` and the group's 8-bit ``scale``.
    ``clear`` (honoured only from idle) zeroes the output accumulator: one tile = clear-start from
    idle + back-to-back steps.
  * The decoder is a ROM (from :mod:`datatypes`) per (meta, code): the level's signed power-of-two
    terms (FP/BitMoD tables: the set bits of |level|, special values included; INT tables: the
    non-zero radix-4 Booth digits). Each lane's FP16 activation is aligned to exact fixed point
    (a * 2**24: the mantissa shifted by its exponent, the "exponent match").
  * term cycles: ``max(1, max terms over the 4 lanes)``; per cycle every lane adds its next term
    (+-(a << shift)) into the group accumulator.
  * after the last term of a step with ``last_in_group``: 8 dequantisation cycles, one scale bit
    per cycle MSB first (``dq = 2 dq + bit * gacc``), then ``acc += dq`` and the group accumulator
    clears.
  * ``result`` = acc = sum over groups of scale_g * sum_k a_k * 2**24 * level_k (exact).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

LANES = 4
SCALE_BITS = 8
FORMATS = {"bitmod3": ("bitmod3", 3, False), "bitmod4": ("bitmod4", 4, False),
           "int4": ("bitmod.int4", 4, True), "int6": ("bitmod.int6", 6, True)}


def _check_int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"BitMoD {name} = {v!r}: expected an integer in [{lo}, {hi}]")


def term_list(level: int, int_table: bool, bits: int) -> list[tuple[int, int]]:
    """(sign, shift) terms of an integer level, in the order the PE issues them."""
    out = []
    if int_table:
        u = level & ((1 << bits) - 1)
        prev = 0
        for i in range(0, bits, 2):
            b0 = (u >> i) & 1
            b1 = (u >> (i + 1)) & 1 if i + 1 < bits else (u >> (bits - 1)) & 1
            d = -2 * b1 + b0 + prev
            prev = b1
            if d:
                out.append((1 if d < 0 else 0, i + (1 if abs(d) == 2 else 0)))
        return out
    m = abs(level)
    for i in range(8):
        if (m >> i) & 1:
            out.append((1 if level < 0 else 0, i))
    return out


@lru_cache(maxsize=None)
def decoder_table(fmt: str):
    """(levels [n_meta, 2**bits], terms [n_meta][2**bits] -> list of (sign, shift), max terms)."""
    import datatypes as dt
    if fmt not in FORMATS:
        raise ValueError(f"BitMoD PE format {fmt!r}: allowed: {', '.join(FORMATS)}")
    name, bits, is_int = FORMATS[fmt]
    f = dt.get_format(name) if hasattr(dt, "get_format") else dt.quantize(np.ones((1, 4), np.float32), name,
                                                                          group_size=4, double_quant=True).format
    n_meta = max(1, int(getattr(f, "n_meta", 1)))
    levels = np.zeros((n_meta, 1 << bits), np.int64)
    for mi in range(n_meta):
        v = np.asarray(f.code_values(mi), np.float64)
        levels[mi, : v.size] = np.where(np.isfinite(v), v, 0).astype(np.int64)   # unused codes decode to 0
    terms = [[tuple(term_list(int(levels[mi, c]), is_int, bits)) for c in range(1 << bits)] for mi in range(n_meta)]
    tmax = max(1, max(len(t) for row in terms for t in row))
    return levels, terms, tmax, bits, n_meta


class BitModPE(wiring.Component):
    def __init__(self, fmt: str = "bitmod4", acc_width: int = 80):
        _check_int("acc_width", acc_width, 64, 128)
        self.fmt = fmt
        self.levels, self.terms, self.tmax, self.code_bits, self.n_meta = decoder_table(fmt)
        self.meta_bits = max(1, (self.n_meta - 1).bit_length())
        self.acc_width = acc_width
        super().__init__({
            "start": In(1), "clear": In(1),
            "act": In(data.ArrayLayout(unsigned(16), LANES)),
            "code": In(data.ArrayLayout(unsigned(self.code_bits), LANES)),
            "meta": In(unsigned(self.meta_bits)),
            "last_in_group": In(1), "scale": In(unsigned(SCALE_BITS)),
            "busy": Out(1), "last": Out(1),
            "result": Out(signed(acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        tmax, cb = self.tmax, self.code_bits
        # decoder ROM: per (meta, code): number of terms, then (sign, shift) per term slot
        sh_bits = 3
        word = []
        for mi in range(1 << self.meta_bits):
            for c in range(1 << cb):
                t = self.terms[mi][c] if mi < self.n_meta else ()
                v = len(t)
                for i, (sg, shf) in enumerate(t):
                    v |= (sg | (shf << 1)) << (3 + i * (1 + sh_bits))
                word.append(v)
        wbits = 3 + tmax * (1 + sh_bits)
        a = Signal(data.ArrayLayout(signed(42), LANES))
        rom_idx = Signal(data.ArrayLayout(unsigned(self.meta_bits + cb), LANES))
        lig = Signal()
        scale = Signal(SCALE_BITS)
        t = Signal(range(tmax + 1))
        steps = Signal(range(tmax + 1))
        dq_phase = Signal()
        b = Signal(range(SCALE_BITS))
        gacc = Signal(signed(self.acc_width))
        dq = Signal(signed(self.acc_width))
        acc = Signal(signed(self.acc_width))
        busy = Signal()
        m.d.comb += [self.busy.eq(busy), self.result.eq(acc)]

        def rom(idx):
            sel = Signal(wbits)
            with m.Switch(idx):
                for i, v in enumerate(word):
                    with m.Case(i):
                        m.d.comb += sel.eq(v)
            return sel

        # incoming step: FP16 -> fixed (a * 2**24), and the step's term count
        in_fixed = []
        in_n = []
        for l in range(LANES):
            x = self.act[l]
            e = x[10:15]
            ez = ~e.any()
            mant = Mux(ez, x[0:10], Cat(x[0:10], Const(1, 1)))
            sh = Signal(5, name=f"sh{l}")
            m.d.comb += sh.eq(Mux(ez, 0, (e - 1)[:5]))
            mag = Signal(unsigned(41), name=f"mag{l}")
            m.d.comb += mag.eq(mant << sh)
            fx = Signal(signed(42), name=f"fx{l}")
            m.d.comb += fx.eq(Mux(x[15], -mag, mag))
            in_fixed.append(fx)
            w_in = rom(Cat(self.code[l], self.meta))
            in_n.append(w_in[0:3])
        in_steps = Signal(range(tmax + 1))
        mx = in_n[0]
        for l in range(1, LANES):
            mx = Mux(in_n[l] > mx, in_n[l], mx)
        m.d.comb += in_steps.eq(Mux(~mx.any(), 1, mx))

        # current term of every lane
        contrib = []
        for l in range(LANES):
            w_cur = rom(rom_idx[l])
            n = w_cur[0:3]
            sgn = Signal(name=f"sgn{l}")
            shf = Signal(sh_bits, name=f"shf{l}")
            with m.Switch(t):
                for i in range(tmax):
                    with m.Case(i):
                        base = 3 + i * (1 + sh_bits)
                        m.d.comb += [sgn.eq(w_cur[base]), shf.eq(w_cur[base + 1: base + 1 + sh_bits])]
            v = Signal(signed(50), name=f"term{l}")
            shifted = a[l] << shf
            m.d.comb += v.eq(Mux(t < n, Mux(sgn, -shifted, shifted), 0))
            contrib.append(v)
        step_sum = Signal(signed(52))
        m.d.comb += step_sum.eq(sum(contrib))

        term_last = ~dq_phase & (t == steps - 1)
        last = Signal()
        b_zero = ~b.any()
        m.d.comb += last.eq(busy & ((term_last & ~lig) | (dq_phase & b_zero)))
        m.d.comb += self.last.eq(last)
        sbit = Signal()
        with m.Switch(b):                        # the scale bit of this dequantisation cycle
            for i in range(SCALE_BITS):
                with m.Case(i):
                    m.d.comb += sbit.eq(scale[i])
        with m.If(busy):
            with m.If(~dq_phase):
                m.d.sync += [gacc.eq(gacc + step_sum), t.eq(t + 1)]
                with m.If(term_last & lig):
                    m.d.sync += [dq_phase.eq(1), b.eq(SCALE_BITS - 1), dq.eq(0)]
            with m.Else():
                nxt = (dq << 1) + Mux(sbit, gacc, 0)
                m.d.sync += [dq.eq(nxt), b.eq(b - 1)]
                with m.If(b_zero):
                    m.d.sync += [acc.eq(acc + nxt), gacc.eq(0), dq_phase.eq(0)]
        load = Signal()
        m.d.comb += load.eq(self.start & (~busy | last))
        with m.If(load):
            m.d.sync += [busy.eq(1), t.eq(0), steps.eq(in_steps), lig.eq(self.last_in_group),
                         scale.eq(self.scale), dq_phase.eq(0)]
            for l in range(LANES):
                m.d.sync += [a[l].eq(in_fixed[l]), rom_idx[l].eq(Cat(self.code[l], self.meta))]
            with m.If(self.clear & ~busy):
                m.d.sync += [acc.eq(0), gacc.eq(0)]
        with m.Elif(last):
            m.d.sync += busy.eq(0)
        return m


class BitModArray(wiring.Component):
    """rows x cols BitMoD PEs in lock-step (row = output channel: codes/meta/scale per row; column =
    token: activations per column); a step is issued when every PE is idle or in its last cycle."""

    def __init__(self, rows: int, cols: int, group_size: int = 128, fmt: str = "bitmod4", acc_width: int = 80):
        _check_int("rows", rows, 1, 4)
        _check_int("cols", cols, 1, 4)
        self.rows, self.cols, self.fmt, self.acc_width = rows, cols, fmt, acc_width
        _, _, _, self.code_bits, n_meta = decoder_table(fmt)
        self.meta_bits = max(1, (n_meta - 1).bit_length())
        super().__init__({
            "start": In(1), "clear": In(1), "last_in_group": In(1),
            "act": In(data.ArrayLayout(data.ArrayLayout(unsigned(16), LANES), cols)),
            "code": In(data.ArrayLayout(data.ArrayLayout(unsigned(self.code_bits), LANES), rows)),
            "meta": In(data.ArrayLayout(unsigned(self.meta_bits), rows)),
            "scale": In(data.ArrayLayout(unsigned(SCALE_BITS), rows)),
            "ready": Out(1), "busy": Out(1), "done": Out(1),
            "result": Out(data.ArrayLayout(data.ArrayLayout(signed(acc_width), cols), rows)),
        })

    def summary(self) -> str:
        return (f"BitMoD array {self.rows}x{self.cols}: 4 FP16 lanes per PE, {self.fmt} weights ({self.code_bits}-bit "
                f"codes, {self.meta_bits}-bit selector) decoded to signed power-of-two terms, one term per lane per "
                f"cycle, 8-cycle bit-serial dequantisation per group; int{self.acc_width} accumulators; "
                f"start/ready/busy/done")

    def elaborate(self, platform):
        m = Module()
        pes = [[BitModPE(self.fmt, self.acc_width) for _ in range(self.cols)] for _ in range(self.rows)]
        rt, bt = [], []
        for r in range(self.rows):
            for c in range(self.cols):
                m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                rt.append(~pes[r][c].busy | pes[r][c].last)
                bt.append(pes[r][c].busy)
        ready = Signal()
        m.d.comb += [ready.eq(Cat(*rt).all()), self.ready.eq(ready), self.busy.eq(Cat(*bt).any()),
                     self.done.eq(~Cat(*bt).any())]
        for r in range(self.rows):
            for c in range(self.cols):
                pe = pes[r][c]
                m.d.comb += [pe.start.eq(self.start & ready), pe.clear.eq(self.clear),
                             pe.last_in_group.eq(self.last_in_group), pe.act.eq(self.act[c]),
                             pe.code.eq(self.code[r]), pe.meta.eq(self.meta[r]), pe.scale.eq(self.scale[r]),
                             self.result[r][c].eq(pe.result)]
        return m
