"""One GEMV lane of the HSA's decode mode: MXINT4 block x integer activations, shift by the block
exponent, accumulate (``hwsim.hsa.functional.gemv_mxint4`` is its arithmetic, docs/hsa.md).

    lane = MxDotLane(activation="int8", acc_bits=32, frac_bits=16)
    i  In(stream)   payload {w0..w31 (4-bit MXINT4 codes), e (8-bit E8M0 code), a0..a31 (activation
                    codes), last}: one MX block of one output per accepted element
    o  Out(stream)  payload signed(acc_bits): the output's accumulator, once per element with ``last``;
                    the accumulator restarts from 0 after it.

Per element: stage 1 decodes the 32 weights (two's complement 4-bit) and activations and registers the
exact block sum p = sum w_k a_k; stage 2 shifts it by s = e - 129 + frac_bits (left, truncated to
acc_bits, or arithmetic right: floor) and adds it to the accumulator (wrapping). Latency 2: o.valid
rises 2 cycles after the cycle in which the ``last`` element was accepted; initiation interval 1;
back-pressure stalls the whole pipeline (i.ready = ~(o.valid & ~o.ready)) -- the protocol of
``rtl_gen.pe.ProcessingElement`` with 2 stages, so ``hwsim.pe.stream.pe_timing`` is its clock.
Codes -8 (0x8) and E8M0 255 (NaN) are not MXINT4 values; the lane computes with them as -8 and
2**128 and the functional model rejects them.
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import arith
from .decoder import Decoder
from .errors import RTLError, discard_on_error

BLOCK = 32


def payload_layout(abits: int, width: int = BLOCK) -> data.StructLayout:
    fields = {f"w{k}": 4 for k in range(width)}
    fields["e"] = 8
    fields |= {f"a{k}": abits for k in range(width)}
    fields["last"] = 1
    return data.StructLayout(fields)


class MxDotLane(wiring.Component):
    """The decode GEMV lane (module docstring). Properties: ``latency`` (2), ``initiation_interval``
    (1), ``acc_bits``, ``frac_bits``, ``activation`` (format name), ``adec`` (its decoder)."""

    latency = 2
    initiation_interval = 1

    @discard_on_error
    def __init__(self, activation: str = "int8", acc_bits: int = 32, frac_bits: int = 16, width: int = BLOCK):
        if width != BLOCK:
            raise RTLError(f"lane width = {width!r}: the lane takes one whole MX block (32); narrower lanes "
                           f"would shift partial block sums (use decode.lane_width: 32)")
        if isinstance(acc_bits, bool) or not isinstance(acc_bits, int) or not 16 <= acc_bits <= 48:
            raise RTLError(f"acc_bits = {acc_bits!r}: allowed 16..48")
        if isinstance(frac_bits, bool) or not isinstance(frac_bits, int) or not 0 <= frac_bits <= 40:
            raise RTLError(f"frac_bits = {frac_bits!r}: allowed 0..40")
        t = arith.decode_table(activation, False)
        if t.frac_bits or t.width > 16:
            raise RTLError(f"activation {activation!r}: the lane takes integer activations of at most 16 bits")
        self.adec = Decoder(activation, use_meta=False)
        self.activation, self.acc_bits, self.frac_bits, self.width = t.format, acc_bits, frac_bits, width
        self.abits = t.bits
        # |p| <= 32 * 8 * 2**15: 24 bits signed, rounded up
        self.p_bits = 4 + t.width + 5 + 1
        super().__init__({"i": In(stream.Signature(payload_layout(t.bits, width))),
                          "o": Out(stream.Signature(signed(acc_bits)))})

    def ports_doc(self) -> dict:
        return {"arithmetic": {"weight": "mxint4", "block": self.width, "activation": self.activation,
                               "acc_bits": self.acc_bits, "frac_bits": self.frac_bits,
                               "shift": "e - 129 + frac_bits (left: truncate to acc_bits; right: arithmetic)"}}

    def summary(self) -> str:
        return (f"GEMV lane: {self.width} MXINT4 weights x {self.activation} + E8M0 shift, accumulator "
                f"int{self.acc_bits} (2^-{self.frac_bits}, wraps); latency {self.latency}, II 1")

    def elaborate(self, platform):
        m = Module()
        W, A, F = self.width, self.acc_bits, self.frac_bits
        p = self.i.payload
        stall = Signal()
        m.d.comb += [stall.eq(self.o.valid & ~self.o.ready), self.i.ready.eq(~stall)]
        fire = self.i.valid & self.i.ready

        # stage 1: exact block sum (decoders, 32 multipliers, adder tree)
        prods = []
        for k in range(W):
            dec = self.adec if k == 0 else Decoder(self.activation, use_meta=False)
            m.submodules[f"adec{k}"] = dec
            m.d.comb += dec.code.eq(getattr(p, f"a{k}"))
            prods.append(getattr(p, f"w{k}").as_signed() * dec.value)
        while len(prods) > 1:
            prods = [prods[i] + prods[i + 1] if i + 1 < len(prods) else prods[i] for i in range(0, len(prods), 2)]
        psum = Signal(signed(self.p_bits))
        exp = Signal(8)
        s_valid, s_last = Signal(), Signal()

        # stage 2: shift by the block exponent, accumulate
        acc = Signal(signed(A))
        e_s = Signal(signed(10))
        s = Signal(signed(10))                     # -129 .. 165
        m.d.comb += [e_s.eq(exp), s.eq(e_s - (129 - F))]
        contrib = Signal(signed(A))
        left = Signal(range(A))
        right = Signal(range(self.p_bits))
        with m.If(s >= A):
            m.d.comb += contrib.eq(0)
        with m.Elif(s >= 0):
            m.d.comb += [left.eq(s[:left.shape().width]), contrib.eq(psum << left)]      # truncated to A bits
        with m.Else():
            neg = Signal(range(512))
            m.d.comb += neg.eq(-s)
            with m.If(neg >= self.p_bits - 1):
                m.d.comb += contrib.eq(psum >> (self.p_bits - 1))                        # the sign
            with m.Else():
                m.d.comb += [right.eq(neg), contrib.eq(psum >> right)]
        total = Signal(signed(A))
        m.d.comb += total.eq(acc + contrib)                                              # wraps to A bits

        with m.If(~stall):
            with m.If(self.o.valid):
                m.d.sync += self.o.valid.eq(0)
            m.d.sync += [psum.eq(prods[0]), exp.eq(p.e), s_valid.eq(fire), s_last.eq(p.last)]
            with m.If(s_valid):
                with m.If(s_last):
                    m.d.sync += [self.o.payload.eq(total), self.o.valid.eq(1), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(total)
        return m


def component(design) -> MxDotLane:
    """The registry's RTL hook of ``kind: hsa``: one decode GEMV lane of the design."""
    d = design.decode
    if d.lane_latency != MxDotLane.latency:
        raise RTLError(f"{design.source}: decode.lane_latency = {d.lane_latency}: the generated lane has latency "
                       f"{MxDotLane.latency} (the cycle model must count the RTL's clock); set it to {MxDotLane.latency}")
    return MxDotLane(design.operands.activation, d.acc_bits, d.acc_frac_bits, d.lane_width)
