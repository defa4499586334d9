"""The scale epilogue of the systolic array's result path (``epilogue.scales: fixed``), ws and os.

Arithmetic: ``hwsim.systolic.epilogue`` (docs/systolic.md section 12). One lane per result bank c::

    total[c] = wrap_E( (acc[c] ? old[c] : 0) + (psum[c] * wscale[c]) * ascale[c] )

    psum   In  signed(W)    the bottom PE's partial sum of the write committed this cycle
    acc    In  1            the write accumulates (not the first row fold of a column fold)
    old    In  signed(E)    the result word read one cycle ahead
    total  Out signed(E)    what the bank writes (wraps to E bits)

Scale registers (both signed ``scale_bits``-bit fixed point):

    ws_data / ws_load   the weight-scale memory word (C lanes: the scales of this fold's K-group for
                        columns n0 .. n0+C-1), latched into ``wscale[0..C-1]`` at the end of a cycle
                        with ``ws_load`` (the array loads it in cycle 1 of every fold, before any write)
    sa_data             the activation scale of bank 0's write in this cycle (the activation-scale
                        memory's read data); bank c uses it c cycles later (``ascale[c]``, a register
                        chain matching the c-cycle skew of the banks' writes)

Purely combinational except the scale registers; no extra cycle in the result path.

``ScaleEpilogue`` is the weight-stationary unit above; ``RowScale`` is the output-stationary one (the
weight scales are applied inside the PEs there, at each K-group's end: rtl_gen.systolic).
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .errors import RTLError, discard_on_error


class ScaleEpilogue(wiring.Component):
    @discard_on_error
    def __init__(self, cols: int, acc_width: int, scale_bits: int, width: int):
        for what, v, lo, hi in (("cols", cols, 1, 1024), ("acc_width", acc_width, 2, 128),
                                ("scale_bits", scale_bits, 2, 64), ("width", width, 2, 256)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise RTLError(f"ScaleEpilogue {what} = {v!r}: must be an integer in {lo}..{hi}")
        self.cols, self.acc_width, self.scale_bits, self.width = cols, acc_width, scale_bits, width
        C, W, SB, E = cols, acc_width, scale_bits, width
        super().__init__({"psum": In(data.ArrayLayout(signed(W), C)), "acc": In(C),
                          "old": In(data.ArrayLayout(signed(E), C)),
                          "total": Out(data.ArrayLayout(signed(E), C)),
                          "ws_data": In(C * SB), "ws_load": In(1), "sa_data": In(SB)})

    def elaborate(self, platform):
        m = Module()
        C, W, SB, E = self.cols, self.acc_width, self.scale_bits, self.width
        wscale = [Signal(signed(SB), name=f"wscale{c}") for c in range(C)]
        with m.If(self.ws_load):
            for c in range(C):
                m.d.sync += wscale[c].eq(self.ws_data[c * SB:(c + 1) * SB].as_signed())
        ascale = [self.sa_data.as_signed()]
        for c in range(1, C):
            s = Signal(signed(SB), name=f"ascale{c}")
            m.d.sync += s.eq(ascale[-1])
            ascale.append(s)
        for c in range(C):
            pw = Signal(signed(W + SB), name=f"pw{c}")
            term = Signal(signed(W + 2 * SB), name=f"term{c}")
            m.d.comb += [pw.eq(self.psum[c] * wscale[c]), term.eq(pw * ascale[c])]      # exact
            base = Signal(signed(E), name=f"base{c}")
            m.d.comb += base.eq(self.old[c])
            with m.If(self.acc[c]):
                m.d.comb += self.total[c].eq(base + term)                              # wraps to E bits
            with m.Else():
                m.d.comb += self.total[c].eq(term)
        return m


class RowScale(wiring.Component):
    """The output-stationary result path of the scale epilogue: every bank writes the same row m in a
    drain cycle, so one activation scale serves all C banks (no skew chain, no accumulate-on-write)::

        total[c] = wrap_E( psum[c] * sa_data )

        psum     In  signed(E)   the bottom output register of column c: wrap_E(sum_g P_g * S_w[g, n]),
                                 the weight scales applied in the PEs at each K-group's end
        sa_data  In  SB          the activation scale of the row written this cycle (scale memory data)
        total    Out signed(E)   what the bank writes

    Purely combinational: no extra cycle in the result path."""

    @discard_on_error
    def __init__(self, cols: int, scale_bits: int, width: int):
        for what, v, lo, hi in (("cols", cols, 1, 1024), ("scale_bits", scale_bits, 2, 64), ("width", width, 2, 256)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise RTLError(f"RowScale {what} = {v!r}: must be an integer in {lo}..{hi}")
        self.cols, self.scale_bits, self.width = cols, scale_bits, width
        C, SB, E = cols, scale_bits, width
        super().__init__({"psum": In(data.ArrayLayout(signed(E), C)), "sa_data": In(SB),
                          "total": Out(data.ArrayLayout(signed(E), C))})

    def elaborate(self, platform):
        m = Module()
        C, SB, E = self.cols, self.scale_bits, self.width
        for c in range(C):
            full = Signal(signed(E + SB), name=f"scaled{c}")
            m.d.comb += [full.eq(self.psum[c] * self.sa_data.as_signed()),       # exact
                         self.total[c].eq(full)]                                  # wraps to E bits
        return m
