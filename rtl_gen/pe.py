"""Multi-format MAC processing element: weight decoder + activation decoder + multiplier + accumulator.

Two layers, so a systolic array can reuse the arithmetic without the handshake:

``MacDatapath(weight, activation, accumulator)`` -- combinational, no state:
    w_code  In(wbits)           weight code
    w_meta  In(meta_bits)       weight group metadata (only for formats that take it)
    a_code  In(abits)           activation code
    psum_in In(signed(W))       partial sum in
    product Out(signed(PW))     exact product, binary point product_frac
    psum_out Out(signed(W))     (psum_in + product) wrapped to W bits (two's complement)

``ProcessingElement(weight, activation, accumulator, stages=1)`` -- the datapath behind
``amaranth.lib.stream`` handshakes:
    i  In(stream)   payload {w_code, [w_meta], a_code, last}: one MAC per accepted element
    o  Out(stream)  payload signed(W): the accumulated sum, once per element with ``last`` set;
                    the accumulator restarts from 0 after it.
    latency = stages: o.valid rises ``latency`` cycles after the cycle in which the ``last`` element
    was accepted (when the output is not back-pressured); initiation interval 1 (one element per
    cycle). Back-pressure stalls the whole pipeline: i.ready = ~(o.valid & ~o.ready).
    stages=1: decode, multiply and accumulate in the accepting cycle.
    stages=2: the product is registered first, accumulated in the next cycle.

Arithmetic: ``rtl_gen.arith.MacSpec`` (exact, documented there); ``hwsim.pe.stream`` is the cycle model.
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

import datatypes as dt

from . import arith
from .decoder import Decoder
from .errors import RTLError, discard_on_error


class MacDatapath(wiring.Component):
    """Combinational MAC (see the module docstring). ``spec`` is the rtl_gen.arith.MacSpec."""

    latency = 0

    @discard_on_error
    def __init__(self, weight: str | dt.Format, activation: str | dt.Format, accumulator: int | str,
                 *, weight_meta: bool | None = None, weight_style: str = "auto"):
        self.spec = arith.MacSpec.make(weight, activation, accumulator, weight_meta)
        self.weight_style = weight_style
        sp = self.spec
        # the decoders are built (and validated) now: errors before any build
        self.wdec = Decoder(weight, use_meta=sp.weight.use_meta, style=weight_style)
        self.adec = Decoder(activation, use_meta=False)
        members = {"w_code": In(sp.weight.bits), "a_code": In(sp.activation.bits),
                   "psum_in": In(signed(sp.acc_width)), "product": Out(signed(sp.product_width)),
                   "psum_out": Out(signed(sp.acc_width))}
        if sp.weight.use_meta:
            members["w_meta"] = In(sp.weight.meta_bits)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        sp = self.spec
        m.submodules.wdec = wdec = self.wdec
        m.submodules.adec = adec = self.adec
        m.d.comb += [wdec.code.eq(self.w_code), adec.code.eq(self.a_code)]
        if sp.weight.use_meta:
            m.d.comb += wdec.meta.eq(self.w_meta)
        m.d.comb += [self.product.eq(wdec.value * adec.value),
                     self.psum_out.eq(self.psum_in + self.product)]   # .eq truncates: wraps to W bits
        return m


def payload_layout(spec: arith.MacSpec) -> data.StructLayout:
    """Input payload of the PE stream, fields packed from bit 0 in this order."""
    fields = {"w_code": spec.weight.bits}
    if spec.weight.use_meta:
        fields["w_meta"] = spec.weight.meta_bits
    fields["a_code"] = spec.activation.bits
    fields["last"] = 1
    return data.StructLayout(fields)


class ProcessingElement(wiring.Component):
    """Stream-handshake MAC PE (see the module docstring).

    Properties read by the simulators: ``latency`` (cycles), ``initiation_interval`` (cycles per
    element), ``spec`` (arith.MacSpec).
    """

    initiation_interval = 1

    @discard_on_error
    def __init__(self, weight: str | dt.Format, activation: str | dt.Format, accumulator: int | str,
                 *, weight_meta: bool | None = None, stages: int = 1, weight_style: str = "auto"):
        if isinstance(stages, bool) or stages not in (1, 2):
            raise RTLError(f"PE stages = {stages!r}: allowed 1 (MAC in one cycle) or 2 (registered product)")
        self.datapath = MacDatapath(weight, activation, accumulator, weight_meta=weight_meta,
                                    weight_style=weight_style)
        self.spec = self.datapath.spec
        self.stages = stages
        super().__init__({"i": In(stream.Signature(payload_layout(self.spec))),
                          "o": Out(stream.Signature(signed(self.spec.acc_width)))})

    @property
    def latency(self) -> int:
        return self.stages

    def ports_doc(self) -> dict:
        """What ports.json says about this unit beyond its ports."""
        return {"arithmetic": self.spec.describe() | {
            "stages": self.stages, "weight_structure": self.datapath.wdec.structure.describe()}}

    def summary(self) -> str:
        sp = self.spec
        return (f"PE {sp.weight.format} ({sp.weight.width}b, 2^-{sp.weight.frac_bits}"
                f"{f', {sp.weight.meta_bits}-bit meta' if sp.weight.use_meta else ''}) x {sp.activation.format} "
                f"({sp.activation.width}b, 2^-{sp.activation.frac_bits}) -> product {sp.product_width}b, "
                f"accumulator int{sp.acc_width} (2^-{sp.product_frac}, wraps); latency {self.latency}, "
                f"II {self.initiation_interval}")

    def elaborate(self, platform):
        m = Module()
        sp = self.spec
        m.submodules.mac = mac = self.datapath
        acc = Signal(signed(sp.acc_width))
        p = self.i.payload
        stall = Signal()
        m.d.comb += [stall.eq(self.o.valid & ~self.o.ready), self.i.ready.eq(~stall),
                     mac.w_code.eq(p.w_code), mac.a_code.eq(p.a_code)]
        if sp.weight.use_meta:
            m.d.comb += mac.w_meta.eq(p.w_meta)
        fire = self.i.valid & self.i.ready

        if self.stages == 1:
            m.d.comb += mac.psum_in.eq(acc)
            total = mac.psum_out
            step_valid, step_last = fire, p.last
        else:
            prod = Signal(signed(sp.product_width))
            step_valid, step_last = Signal(), Signal()
            total = Signal(signed(sp.acc_width))
            m.d.comb += [mac.psum_in.eq(0), total.eq(acc + prod)]     # .eq wraps to W bits

        with m.If(~stall):
            with m.If(self.o.valid):                  # consumed this cycle (o.ready is high)
                m.d.sync += self.o.valid.eq(0)
            if self.stages == 2:
                m.d.sync += [prod.eq(mac.product), step_valid.eq(fire), step_last.eq(p.last)]
            with m.If(step_valid):
                with m.If(step_last):
                    m.d.sync += [self.o.payload.eq(total), self.o.valid.eq(1), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(total)
        return m


def component(design) -> ProcessingElement:
    """The registry's RTL hook of ``kind: pe``."""
    o, p = design.operands, design.pe
    return ProcessingElement(o.weight, o.activation, o.accumulator,
                             weight_meta={"auto": None, "none": False, "group": True}[o.weight_meta],
                             stages=p.stages, weight_style=p.weight_style)
