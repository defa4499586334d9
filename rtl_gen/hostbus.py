"""A narrow, standard host bus around an accelerator top with a wide host port: Wishbone classic or
AXI4-Lite, 32-bit data, as a wrapper component (docs/fpga.md).

    top = SystolicArray(cfg, debug_ports=False)
    bus = HostBusBridge(top, "wishbone")         # or "axi4lite"; debug_ports=True forwards mon_write
    bus.register_map()                           # what ports.json says under "hostbus"

The wrapped unit has the wide host interface of ``rtl_gen.systolic`` (``start``, ``busy``, ``done``,
``gemm_m/n/k``, ``host__sel/addr/we/wdata/rdata`` with a 1-cycle read; memory ``s`` selected by
``host__sel == s``). This module does not import it: it reads the geometry from the unit's
``ports_doc()["systolic"]`` (memories, select values).

Address map (32-bit words; Wishbone ``adr`` is a word address, AXI4-Lite addresses are bytes = 4 x word):

    word address = region << (AW + S) | index
    region 0  CSRs (index below)          region s (1 activation, 2 weight, 3 result; with the scale
                                          epilogue 4 weight scales, 5 activation scales): memory s,
                                          index = memory word << S | sub-word

The region field is as wide as the array's ``host__sel`` (2 bits; 3 with the epilogue). ``AW`` is
the widest memory address, ``S = log2`` of the sub-words per memory word rounded up to a
power of two (a memory word of ``B`` bits is ``ceil(B / 32)`` bus words, least significant first).
Writing a memory word: write its sub-words in increasing order; sub-words below the last are held in a
staging register and the write of the last sub-word commits the whole word (a word of <= 32 bits: every
write commits). Reading: any sub-word, any order. The memory window is the array's host port: it is
used while the array is idle; writes while ``busy`` are dropped and reads return undefined data.

CSRs (``CSR`` below): ``CTRL`` (write bit 0 = 1: start a GEMM with the shape in ``M/N/K``, ignored while
busy; read: bit 0 busy, bit 1 done -- 1 from the cycle ``done`` rises in until the next start), ``M``, ``N``,
``K`` (read/write; written while busy: ignored), ``CYCLES`` (read: array cycles of the last run, from the edge that samples start to the
edge that raises done, the cycle count of docs/systolic.md; counts while busy).

Every access takes 3 cycles on the bus (request accepted in cycle t, data/response registered at t+2):
Wishbone ``ack`` is high in cycle t+2; AXI4-Lite ``bvalid``/``rvalid`` rise at t+2 and stay until
``bready``/``rready``. One access is in flight at a time. AXI4-Lite writes need ``wstrb == 0b1111``
(anything else writes nothing and answers SLVERR); responses are otherwise OKAY.
"""

from __future__ import annotations

from typing import Any

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .errors import RTLError, discard_on_error

BUSES = ("wishbone", "axi4lite")
DATA_BITS = 32
#: CSR word index -> name (region 0)
CSR = {0: "CTRL", 1: "M", 2: "N", 3: "K", 4: "CYCLES"}
CSR_INDEX = {v: k for k, v in CSR.items()}


def wishbone_signature(addr_width: int) -> wiring.Signature:
    """Wishbone classic B4 target, 32-bit data, 32-bit granularity (amaranth-soc's member names, as seen
    from the initiator: ``Out`` members are driven by the initiator)."""
    return wiring.Signature({"adr": Out(addr_width), "dat_w": Out(DATA_BITS), "dat_r": In(DATA_BITS),
                             "sel": Out(1), "cyc": Out(1), "stb": Out(1), "we": Out(1), "ack": In(1)})


def axi4lite_signature(addr_width: int) -> wiring.Signature:
    """AXI4-Lite, 32-bit data, byte addresses (as seen from the manager)."""
    return wiring.Signature({
        "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(DATA_BITS), "wstrb": Out(DATA_BITS // 8), "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
        "rdata": In(DATA_BITS), "rresp": In(2), "rvalid": In(1), "rready": Out(1)})


class HostBusBridge(wiring.Component):
    """The wrapped unit behind a Wishbone or AXI4-Lite target (see the module docstring)."""

    @discard_on_error
    def __init__(self, inner: wiring.Component, bus: str, debug_ports: bool = False):
        if bus not in BUSES:
            raise RTLError(f"rtl.host_bus = {bus!r}: allowed wide, {', '.join(BUSES)}")
        sysdoc = inner.ports_doc()["systolic"]
        if debug_ports and "mon_write" not in inner.signature.members:
            raise RTLError("debug_ports: the wrapped unit has no mon_write port (build it with debug_ports=True)")
        self.inner, self.bus_kind, self.debug_ports = inner, bus, bool(debug_ports)
        self.config = getattr(inner, "config", None)
        #: cycles from an accepted request to ack/bvalid/rvalid (also makes describe_ports list clk/rst)
        self.latency = 2
        self._sysdoc = sysdoc
        mems = {**sysdoc["memories"], **sysdoc.get("scale_memories", {})}
        self._mems = mems
        #: region bits: as many as the array's host__sel (2; 3 with the scale epilogue's memories)
        self.region_bits = _width(inner.signature.members["host"].signature.members["sel"])
        self.mem_addr_bits = max(g["addr_bits"] for g in mems.values())
        self.subwords = {k: -(-g["word_bits"] // DATA_BITS) for k, g in mems.items()}
        self.sub_bits = (max(self.subwords.values()) - 1).bit_length()
        self.word_addr_bits = self.region_bits + self.mem_addr_bits + self.sub_bits
        self.dim_bits = sysdoc["shape_inputs"]["width"]
        if self.dim_bits > DATA_BITS:
            raise RTLError(f"GEMM shape inputs of {self.dim_bits} bits do not fit a {DATA_BITS}-bit CSR")
        if bus == "wishbone":
            sig = wishbone_signature(self.word_addr_bits)
        else:
            sig = axi4lite_signature(self.word_addr_bits + 2)
        members: dict[str, Any] = {"bus": In(sig)}
        if self.debug_ports:
            members["mon_write"] = Out(inner.signature.members["mon_write"].shape)
        super().__init__(members)

    # ---- documentation ---------------------------------------------------------------------------
    def register_map(self) -> dict[str, Any]:
        AW, S = self.mem_addr_bits, self.sub_bits
        mems = self._mems
        region_shift = AW + S
        bytes_ = 4 if self.bus_kind == "axi4lite" else None
        wins = {}
        for name, g in mems.items():
            base = g["sel"] << region_shift
            wins[name] = {"region": g["sel"], "base_word": base, "words_per_memory_word": self.subwords[name],
                          "stride_words": 1 << S, "depth": g["depth"], "word_bits": g["word_bits"],
                          "address_of": f"word address = {base:#x} + (memory word << {S}) + sub-word"
                                        + (" (byte address = 4 x word address)" if bytes_ else "")}
        ports = {k: f"bus__{k}" for k in self.signature.members["bus"].signature.members}
        return {
            "bus": self.bus_kind, "data_bits": DATA_BITS,
            "addressing": "word (adr = word address, granularity 32)" if self.bus_kind == "wishbone"
                          else "byte (address = 4 x word address; bits 1:0 ignored)",
            "addr_width": self.word_addr_bits + (2 if bytes_ else 0), "word_addr_bits": self.word_addr_bits,
            "ports": ports,
            "access_cycles": 3, "note": "one access in flight; Wishbone ack / AXI4-Lite bvalid, rvalid two cycles "
                                        "after the cycle the request is accepted",
            "region_shift": region_shift, "sub_word_bits": S,
            "csr": {name: {"word": idx, "access": "rw" if name in ("M", "N", "K") else
                           ("w: bit0 start; r: bit0 busy, bit1 done" if name == "CTRL" else "r")}
                    for idx, name in CSR.items()},
            "csr_bits": {"CTRL": {"start": 0, "busy": 0, "done": 1}, "M": self.dim_bits, "N": self.dim_bits,
                         "K": self.dim_bits, "CYCLES": 32},
            "memories": wins,
            "write_order": "sub-words of a memory word in increasing order; the last one commits the word",
            "while_busy": "memory writes dropped, memory reads undefined; CSRs always accessible",
            "debug_ports": self.debug_ports,
        }

    def ports_doc(self) -> dict[str, Any]:
        doc = self.inner.ports_doc()
        sysdoc = dict(doc["systolic"])
        for k in ("host", "control", "shape_inputs"):
            sysdoc.pop(k, None)
        if not self.debug_ports:
            sysdoc.pop("monitor", None)
        return {**doc, "systolic": sysdoc, "hostbus": self.register_map(), "control": None}

    def summary(self) -> str:
        pins = 2 + sum(_width(m) for _, m in _members(self.signature))
        return (f"{self.inner.summary()}; host bus {self.bus_kind} (32-bit, {self.word_addr_bits}-bit word "
                f"address), {pins} pins incl. clk/rst" + ("; debug port mon_write" if self.debug_ports else ""))

    # ---- hardware --------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = inner = self.inner
        AW, S = self.mem_addr_bits, self.sub_bits
        RB = self.region_bits
        mems = self._mems
        sel_of = {g["sel"]: name for name, g in mems.items()}
        host = inner.host
        ww = len(host.wdata)
        bus = self.bus

        # ---- the request each front end presents ----------------------------------------------
        idle = Signal()
        req, req_we = Signal(), Signal()
        req_addr = Signal(self.word_addr_bits)
        req_data = Signal(DATA_BITS)
        req_ok = Signal()                  # the write is allowed (AXI: full wstrb)
        accept = Signal()
        m.d.comb += accept.eq(req & idle)

        region = req_addr[AW + S:AW + S + RB]
        index = req_addr[:AW + S]
        sub = req_addr[:S] if S else 0
        maddr = req_addr[S:S + AW]

        # response stage (the cycle after acceptance)
        pend, pend_we = Signal(), Signal()
        pend_region = Signal(RB)
        pend_index = Signal(max(AW + S, 3))
        m.d.sync += pend.eq(accept)
        with m.If(accept):
            m.d.sync += [pend_we.eq(req_we), pend_region.eq(region), pend_index.eq(index)]

        # ---- CSRs ----------------------------------------------------------------------------------
        D = self.dim_bits
        gm, gn, gk = Signal(D), Signal(D), Signal(D)
        done_flag = Signal()
        cycles = Signal(32)
        csr_write = accept & req_we & req_ok & _eq(region, 0)
        start = Signal()
        m.d.comb += start.eq(csr_write & _eq(index, CSR_INDEX["CTRL"]) & req_data[0])
        m.d.comb += [inner.start.eq(start), inner.gemm_m.eq(gm), inner.gemm_n.eq(gn), inner.gemm_k.eq(gk)]
        for reg, name in ((gm, "M"), (gn, "N"), (gk, "K")):
            with m.If(csr_write & _eq(index, CSR_INDEX[name]) & ~inner.busy):
                m.d.sync += reg.eq(req_data[:D])
        with m.If(inner.busy):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(start & ~inner.busy):
            m.d.sync += [cycles.eq(0), done_flag.eq(0)]
        with m.If(inner.done):
            m.d.sync += done_flag.eq(1)

        # ---- memory window: staging register of the lower sub-words, commit on the last ----------
        nsub_max = 1 << S
        stage = Signal(max(DATA_BITS * (nsub_max - 1), 1))
        last_sub = Signal()
        with m.Switch(region):
            for sel, name in sel_of.items():
                with m.Case(sel):
                    m.d.comb += last_sub.eq(sub == self.subwords[name] - 1)
        mem_access = accept & region.any()
        mem_write = mem_access & req_we & req_ok
        if S:
            with m.If(mem_write & ~last_sub & ~inner.busy):
                with m.Switch(sub):
                    for i in range(nsub_max - 1):
                        with m.Case(i):
                            m.d.sync += stage[i * DATA_BITS:(i + 1) * DATA_BITS].eq(req_data)
        wdata_full = Signal(ww)
        if S:
            # sub-word s commits: words 0..s-1 from the staging register, word s from the bus
            with m.Switch(sub):
                for s in range(nsub_max):
                    with m.Case(s):
                        m.d.comb += wdata_full.eq(Cat(stage[:s * DATA_BITS], req_data) if s else req_data)
        else:
            m.d.comb += wdata_full.eq(req_data)
        m.d.comb += [host.sel.eq(Mux(mem_access, region, 0)), host.addr.eq(maddr),
                     host.we.eq(mem_write & last_sub), host.wdata.eq(wdata_full)]

        # ---- read data (valid in the response stage) ------------------------------------------
        rdata = Signal(DATA_BITS)
        p_sub = pend_index[:S] if S else 0
        mem_word = host.rdata
        with m.If(_eq(pend_region, 0)):
            with m.Switch(pend_index):
                with m.Case(CSR_INDEX["CTRL"]):
                    m.d.comb += rdata.eq(Cat(inner.busy, done_flag | inner.done))
                with m.Case(CSR_INDEX["M"]):
                    m.d.comb += rdata.eq(gm)
                with m.Case(CSR_INDEX["N"]):
                    m.d.comb += rdata.eq(gn)
                with m.Case(CSR_INDEX["K"]):
                    m.d.comb += rdata.eq(gk)
                with m.Case(CSR_INDEX["CYCLES"]):
                    m.d.comb += rdata.eq(cycles)
        with m.Else():
            if S:
                with m.Switch(p_sub):
                    for s in range(nsub_max):
                        with m.Case(s):
                            if s * DATA_BITS < ww:
                                m.d.comb += rdata.eq(mem_word[s * DATA_BITS:min((s + 1) * DATA_BITS, ww)])
            else:
                m.d.comb += rdata.eq(mem_word)

        # ---- front ends -------------------------------------------------------------------------
        if self.bus_kind == "wishbone":
            ack = Signal()
            dat_r = Signal(DATA_BITS)
            m.d.comb += [idle.eq(~pend & ~ack), req.eq(bus.cyc & bus.stb), req_we.eq(bus.we),
                         req_addr.eq(bus.adr), req_data.eq(bus.dat_w), req_ok.eq(bus.sel[0]),
                         bus.ack.eq(ack), bus.dat_r.eq(dat_r)]
            m.d.sync += ack.eq(pend)
            with m.If(pend & ~pend_we):
                m.d.sync += dat_r.eq(rdata)
        else:
            bvalid, rvalid = Signal(), Signal()
            bresp, rresp = Signal(2), Signal(2)
            rd = Signal(DATA_BITS)
            want_w = bus.awvalid & bus.wvalid
            want_r = bus.arvalid & ~want_w
            m.d.comb += [idle.eq(~pend & ~bvalid & ~rvalid), req.eq(want_w | want_r), req_we.eq(want_w),
                         req_addr.eq(Mux(want_w, bus.awaddr[2:], bus.araddr[2:])), req_data.eq(bus.wdata),
                         req_ok.eq(bus.wstrb == 0b1111),
                         bus.awready.eq(accept & want_w), bus.wready.eq(accept & want_w),
                         bus.arready.eq(accept & want_r),
                         bus.bvalid.eq(bvalid), bus.bresp.eq(bresp), bus.rvalid.eq(rvalid),
                         bus.rresp.eq(rresp), bus.rdata.eq(rd)]
            with m.If(accept & want_w):
                m.d.sync += bresp.eq(Mux(req_ok, 0, 2))
            with m.If(pend & pend_we):
                m.d.sync += bvalid.eq(1)
            with m.Elif(bvalid & bus.bready):
                m.d.sync += bvalid.eq(0)
            with m.If(pend & ~pend_we):
                m.d.sync += [rvalid.eq(1), rd.eq(rdata), rresp.eq(0)]
            with m.Elif(rvalid & bus.rready):
                m.d.sync += rvalid.eq(0)

        if self.debug_ports:
            m.d.comb += self.mon_write.eq(inner.mon_write)
        return m


def _eq(x, v: int):
    """``x == v`` that Verilator -Wall accepts (Amaranth emits ``x == 0`` as ``!x``)."""
    return ~x.any() if v == 0 else x == v


def _members(sig: wiring.Signature, prefix=()):
    for name, member in sig.members.items():
        if member.is_signature:
            yield from _members(member.signature, prefix + (name,))
        else:
            yield prefix + (name,), member


def _width(member) -> int:
    from amaranth import Shape

    return Shape.cast(member.shape).width


def wrap(inner: wiring.Component, bus: str, debug_ports: bool = False) -> wiring.Component:
    """The top a design asks for: ``inner`` itself for ``wide``, else the bus bridge around it."""
    if bus == "wide":
        return inner
    return HostBusBridge(inner, bus, debug_ports)
