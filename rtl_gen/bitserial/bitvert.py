"""BitVert PE (16 INT8 lanes, one weight bit column per cycle, bi-directional) and a small array.

Timing contract (identical to :mod:`hwsim.bitserial.pe_model`):
  * ``start`` while idle latches a group (16 activations, 16 stored weights, the group constant
    ``offset``; ``clear`` zeroes the accumulator first). That edge is the load cycle.
  * every busy cycle performs one operation: the lowest not yet processed non-constant column j
    (per half of 8 lanes the popcount picks ones, or zeros when there are more than 4 ones, and
    ``half_sum - picked``; MSB column negated; shifted by j), then the constant
    ``k * sum(act)`` (``k`` = sum of the all-ones constant columns' weights - offset) if k != 0,
    or one empty cycle when the group has neither. So a group takes max(1, #non-constant + (k != 0))
    busy cycles.
  * ``start`` during the last busy cycle latches the next group at that edge (no bubble);
    ``busy`` falls otherwise. ``result`` is the accumulator (signed ``acc_width``).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

LANES = 16
_COLW = (1, 2, 4, 8, 16, 32, 64, -128)


def _check_int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"BitVert {name} = {v!r}: expected an integer in [{lo}, {hi}]")


def _popcount(bits):
    s = 0
    for b in bits:
        s = s + b
    return s


class BitVertPE(wiring.Component):
    def __init__(self, acc_width: int = 32):
        _check_int("acc_width", acc_width, 24, 64)
        self.acc_width = acc_width
        super().__init__({
            "start": In(1), "clear": In(1),
            "act": In(data.ArrayLayout(signed(8), LANES)),
            "w": In(data.ArrayLayout(signed(8), LANES)),
            "offset": In(signed(8)),
            "busy": Out(1), "last": Out(1),
            "result": Out(signed(acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        a = Signal(data.ArrayLayout(signed(8), LANES))
        w = Signal(data.ArrayLayout(signed(8), LANES))
        todo = Signal(8)
        k = Signal(signed(10))
        kpend = Signal()
        acc = Signal(signed(self.acc_width))
        busy = Signal()
        m.d.comb += [self.busy.eq(busy), self.result.eq(acc)]

        # incoming group: non-constant columns and the folded constant
        in_nonconst = Signal(8)
        in_k = Signal(signed(10))
        kterms = []
        for j in range(8):
            col = Cat(*[self.w[i][j] for i in range(LANES)])
            allone = col.all()
            m.d.comb += in_nonconst[j].eq(col.any() & ~allone)
            kterms.append(Mux(allone, _COLW[j], 0))
        m.d.comb += in_k.eq(sum(kterms) - self.offset)
        k_nonzero = in_k.any()

        # the current operation
        lowest = Signal(range(8))
        for j in reversed(range(8)):
            with m.If(todo[j]):
                m.d.comb += lowest.eq(j)
        sum_a = Signal(signed(13))
        m.d.comb += sum_a.eq(sum(a[i] for i in range(LANES)))
        colsum = Signal(signed(13))
        halves = []
        for h in range(2):
            bits = Signal(8, name=f"bits{h}")
            with m.Switch(lowest):               # the current column of this half's 8 weights
                for j in range(8):
                    with m.Case(j):
                        m.d.comb += bits.eq(Cat(*[w[8 * h + i][j] for i in range(8)]))
            inv = Signal(name=f"inv{h}")
            m.d.comb += inv.eq(_popcount([bits[i] for i in range(8)]) > 4)
            pick = Signal(8, name=f"pick{h}")
            m.d.comb += pick.eq(Mux(inv, ~bits, bits))
            psum = Signal(signed(12), name=f"psum{h}")
            m.d.comb += psum.eq(sum(Mux(pick[i], a[8 * h + i], 0) for i in range(8)))
            hsum = Signal(signed(12), name=f"hsum{h}")
            m.d.comb += hsum.eq(sum(a[8 * h + i] for i in range(8)))
            v = Signal(signed(12), name=f"v{h}")
            m.d.comb += v.eq(Mux(inv, hsum - psum, psum))
            halves.append(v)
        m.d.comb += colsum.eq(halves[0] + halves[1])
        colval = Signal(signed(22))
        m.d.comb += colval.eq(Mux(lowest == 7, -(colsum << 7), colsum << lowest))
        kval = Signal(signed(24))
        m.d.comb += kval.eq(k * sum_a)

        has_col = todo.any()
        rest = Signal(8)                         # todo without its lowest set bit
        m.d.comb += rest.eq(todo & (todo - 1)[:8])
        one_col = ~rest.any()
        last = Signal()
        m.d.comb += last.eq(busy & Mux(has_col, one_col & ~kpend, 1))
        m.d.comb += self.last.eq(last)

        with m.If(busy):
            with m.If(has_col):
                m.d.sync += [acc.eq(acc + colval), todo.eq(todo & ~(1 << lowest))]
            with m.Elif(kpend):
                m.d.sync += [acc.eq(acc + kval), kpend.eq(0)]
        load = Signal()
        m.d.comb += load.eq(self.start & (~busy | last))
        with m.If(load):
            m.d.sync += [a.eq(self.act), w.eq(self.w), todo.eq(in_nonconst), k.eq(in_k),
                         kpend.eq(k_nonzero), busy.eq(1)]
            with m.If(self.clear & ~busy):
                # a tile starts from idle: clear is honoured only then (mid-stream it is ignored)
                m.d.sync += acc.eq(0)
        with m.Elif(last):
            m.d.sync += busy.eq(0)
        return m


class BitVertArray(wiring.Component):
    """rows x cols BitVert PEs in lock-step: row r holds output channel r's weights (shared along the
    row), column c token c's activations (shared down the column). A step is issued to all PEs at
    once when every PE is idle or in its last cycle, so a step costs the slowest row's cycles."""

    def __init__(self, rows: int, cols: int, acc_width: int = 32):
        _check_int("rows", rows, 1, 4)
        _check_int("cols", cols, 1, 4)
        self.rows, self.cols, self.acc_width = rows, cols, acc_width
        super().__init__({
            "start": In(1), "clear": In(1),
            "act": In(data.ArrayLayout(data.ArrayLayout(signed(8), LANES), cols)),
            "w": In(data.ArrayLayout(data.ArrayLayout(signed(8), LANES), rows)),
            "offset": In(data.ArrayLayout(signed(8), rows)),
            "ready": Out(1), "busy": Out(1), "done": Out(1),
            "result": Out(data.ArrayLayout(data.ArrayLayout(signed(acc_width), cols), rows)),
        })

    def summary(self) -> str:
        return (f"BitVert array {self.rows}x{self.cols}: 16 INT8 lanes per PE, one weight bit column per cycle "
                f"(bi-directional, per half of 8 lanes), group constant folded into one k*sum(a) cycle; "
                f"int{self.acc_width} accumulators; start/ready/busy/done")

    def elaborate(self, platform):
        m = Module()
        pes = [[BitVertPE(self.acc_width) for _ in range(self.cols)] for _ in range(self.rows)]
        ready_terms, busy_terms = [], []
        for r in range(self.rows):
            for c in range(self.cols):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                ready_terms.append(~pe.busy | pe.last)
                busy_terms.append(pe.busy)
        ready = Signal()
        m.d.comb += [ready.eq(Cat(*ready_terms).all()), self.ready.eq(ready), self.busy.eq(Cat(*busy_terms).any()),
                     self.done.eq(~Cat(*busy_terms).any())]
        for r in range(self.rows):
            for c in range(self.cols):
                pe = pes[r][c]
                m.d.comb += [pe.start.eq(self.start & ready), pe.clear.eq(self.clear), pe.act.eq(self.act[c]),
                             pe.w.eq(self.w[r]), pe.offset.eq(self.offset[r]), self.result[r][c].eq(pe.result)]
        return m
