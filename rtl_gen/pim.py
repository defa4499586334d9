"""HBM-PIM RTL: the FP16 lane and the PIM block (GRF_A/GRF_B, SRF, 32-entry CRF, the sequencer).

``Fp16Lane`` -- combinational, one lane (what :mod:`hwsim.pim.fp16` computes, bit for bit):
    a, b, c  In(16)   binary16 codes
    op       In(2)    0: a + b, 1: a * b, 2: a * b + c (two roundings: (a*b) rounded, then + c rounded)
    y        Out(16)  round to nearest even, subnormals in and out, overflow to inf, NaN -> 0x7E00

``PimBlock(lanes=16)`` -- one PIM block (an even/odd bank pair) of an HBM-PIM pseudo-channel, driven by
the DRAM column commands the controller issues while the rank is in all-bank mode:
    cmd_valid, cmd_write, cmd_bank (bank parity: 0 even, 1 odd), cmd_row (14), cmd_col (5),
    cmd_data (256: the host's write burst; lanes < 16 keep its first lanes), ab_mode (the rank is in AB / AB-PIM mode)
    even_rdata, odd_rdata (lanes*16): the block's even / odd bank at (row, col) in this cycle
    bank_we, bank_odd, bank_wdata: a write of the block's bank at (row, col) in this cycle
    grf_sel (4: 0-7 GRF_A, 8-15 GRF_B), grf_q: a read port for the bench
    Timing contract: one command per cycle, no back-pressure (PIMSimulator: a PIM op costs the column
    command's own timing, there is no ALU pipeline). A command's register results are visible the next
    cycle; its bank write is in the same cycle. The sequencer is PIMRank::doPIM: AUTO/FILL repeat 8 times,
    NOP k swallows k+1 commands, a JUMP is resolved in the same cycle (its target must not be a JUMP).
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .errors import RTLError

QNAN = 0x7E00


def _lzc_msb(m: Module, v, width: int, name: str):
    """Position of the most significant 1 of ``v`` (0 if v == 0)."""
    p = Signal(range(width + 1), name=name)
    m.d.comb += p.eq(0)
    for i in range(width):
        with m.If(v[i]):
            m.d.comb += p.eq(i)
    return p


def _round16(m: Module, sign, mag, mag_width: int, exp, name: str):
    """binary16 code of (-1)**sign * mag * 2**exp (mag > 0), RNE, gradual underflow, overflow -> inf.
    ``exp`` is a signed Value. Returns a 16-bit Signal (the mag == 0 case is the caller's)."""
    p = _lzc_msb(m, mag, mag_width, f"{name}_p")
    s1 = Signal(signed(10), name=f"{name}_s1")
    s2 = Signal(signed(10), name=f"{name}_s2")
    shift = Signal(signed(10), name=f"{name}_shift")
    m.d.comb += [s1.eq(p - 10), s2.eq(-24 - exp), shift.eq(Mux(s2 > s1, s2, s1))]
    wide = mag_width + 12
    q0 = Signal(wide, name=f"{name}_q0")
    up = Signal(name=f"{name}_up")
    sh = Signal(range(64), name=f"{name}_sh")
    shm1 = Signal(range(64), name=f"{name}_shm1")
    m.d.comb += [sh.eq(Mux(shift > 0, shift, 0)), shm1.eq(Mux(shift > 0, shift - 1, 0))]
    guard = Signal(name=f"{name}_g")
    sticky = Signal(name=f"{name}_st")
    magw = Signal(wide, name=f"{name}_magw")
    m.d.comb += magw.eq(mag)
    with m.If(shift > 0):
        m.d.comb += [q0.eq(magw >> sh),
                     guard.eq((magw >> shm1)[0]),
                     sticky.eq((magw & ((Const(1, wide + 1) << shm1) - 1)[:wide]).any())]
    with m.Else():
        m.d.comb += [q0.eq(magw << (-shift).as_unsigned()[:5]), guard.eq(0), sticky.eq(0)]
    m.d.comb += up.eq(guard & (sticky | q0[0]))
    q1 = Signal(wide + 1, name=f"{name}_q1")
    m.d.comb += q1.eq(q0 + up)
    e2 = Signal(signed(12), name=f"{name}_e2")
    q = Signal(12, name=f"{name}_q")
    with m.If(q1 >= 2048):
        m.d.comb += [q.eq(q1 >> 1), e2.eq(exp + shift + 1)]
    with m.Else():
        m.d.comb += [q.eq(q1), e2.eq(exp + shift)]
    out = Signal(16, name=f"{name}_y")
    be = Signal(signed(12), name=f"{name}_be")
    m.d.comb += be.eq(e2 + 25)
    with m.If(q < 1024):
        m.d.comb += out.eq(Cat(q[:10], Const(0, 5), sign))
    with m.Elif(be >= 31):
        m.d.comb += out.eq(Cat(Const(0, 10), Const(0x1F, 5), sign))
    with m.Else():
        m.d.comb += out.eq(Cat(q[:10], be[:5], sign))
    return out


def _fields(a):
    e = a[10:15]
    f = a[:10]
    nan = e.all() & f.any()
    inf = e.all() & ~f.any()
    zero = ~a[:15].any()
    sig = Cat(f, e.any())                     # 11 bits
    return e, f, nan, inf, zero, sig


def fp16_mul(m: Module, a, b, name: str = "mul"):
    ea, _, nan_a, inf_a, zero_a, sa = _fields(a)
    eb, _, nan_b, inf_b, zero_b, sb = _fields(b)
    sign = a[15] ^ b[15]
    prod = Signal(22, name=f"{name}_prod")
    exp = Signal(signed(9), name=f"{name}_exp")
    m.d.comb += [prod.eq(sa * sb),
                 exp.eq(Mux(ea.any(), ea, 1) + Mux(eb.any(), eb, 1) - 50)]
    rounded = _round16(m, sign, prod, 22, exp, name)
    y = Signal(16, name=f"{name}_out")
    with m.If(nan_a | nan_b | ((inf_a | inf_b) & (zero_a | zero_b))):
        m.d.comb += y.eq(QNAN)
    with m.Elif(inf_a | inf_b):
        m.d.comb += y.eq(Cat(Const(0, 10), Const(0x1F, 5), sign))
    with m.Elif(~prod.any()):
        m.d.comb += y.eq(Cat(Const(0, 15), sign))
    with m.Else():
        m.d.comb += y.eq(rounded)
    return y


def fp16_add(m: Module, a, b, name: str = "add"):
    ea, _, nan_a, inf_a, _, sa = _fields(a)
    eb, _, nan_b, inf_b, _, sb = _fields(b)
    va = Signal(signed(42), name=f"{name}_va")
    vb = Signal(signed(42), name=f"{name}_vb")
    ua = Signal(41, name=f"{name}_ua")
    ub = Signal(41, name=f"{name}_ub")
    m.d.comb += [ua.eq(sa << Mux(ea.any(), (ea - 1)[:5], 0)), ub.eq(sb << Mux(eb.any(), (eb - 1)[:5], 0)),
                 va.eq(Mux(a[15], -ua, ua)), vb.eq(Mux(b[15], -ub, ub))]
    v = Signal(signed(43), name=f"{name}_v")
    mag = Signal(42, name=f"{name}_mag")
    m.d.comb += [v.eq(va + vb), mag.eq(Mux(v < 0, -v, v))]
    rounded = _round16(m, v < 0, mag, 42, Const(-24, signed(7)), name)
    y = Signal(16, name=f"{name}_out")
    with m.If(nan_a | nan_b | (inf_a & inf_b & (a[15] != b[15]))):
        m.d.comb += y.eq(QNAN)
    with m.Elif(inf_a):
        m.d.comb += y.eq(a)
    with m.Elif(inf_b):
        m.d.comb += y.eq(b)
    with m.Elif(~v.any()):
        m.d.comb += y.eq(Cat(Const(0, 15), a[15] & b[15]))
    with m.Else():
        m.d.comb += y.eq(rounded)
    return y


class Fp16Lane(wiring.Component):
    """One FP16 lane (see the module docstring)."""

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "c": In(16), "op": In(2), "y": Out(16)})

    def elaborate(self, platform):
        m = Module()
        prod = fp16_mul(m, self.a, self.b, "mul")
        s_ab = fp16_add(m, self.a, self.b, "add")
        s_mac = fp16_add(m, prod, self.c, "mac")
        with m.Switch(self.op):
            with m.Case(0):
                m.d.comb += self.y.eq(s_ab)
            with m.Case(1):
                m.d.comb += self.y.eq(prod)
            with m.Default():
                m.d.comb += self.y.eq(s_mac)
        return m


# opcodes / operand types (PIMCmd)
NOP, ADD, MUL, MAC, MAD, MOV, FILL, JUMP, EXIT = 0, 1, 2, 3, 4, 8, 9, 14, 15
A_OUT, M_OUT, EVEN_BANK, ODD_BANK, GRF_A, GRF_B, SRF_M, SRF_A = range(8)


class PimBlock(wiring.Component):
    """One HBM-PIM block (see the module docstring)."""

    latency = 1               #: register results are visible the cycle after the command
    initiation_interval = 1   #: one column command per cycle

    def __init__(self, lanes: int = 16, crf_entries: int = 32):
        if lanes not in (1, 2, 4, 8, 16):
            raise RTLError(f"PimBlock lanes = {lanes!r}: allowed 1, 2, 4, 8, 16 (a 256-bit burst holds 16 FP16)")
        if crf_entries != 32:
            raise RTLError(f"PimBlock crf_entries = {crf_entries!r}: HBM-PIM's CRF has 32 entries")
        self.lanes = lanes
        self.crf_entries = crf_entries
        W = 16 * lanes
        super().__init__({
            "cmd_valid": In(1), "cmd_write": In(1), "cmd_bank": In(1), "cmd_row": In(14), "cmd_col": In(5),
            "cmd_data": In(256), "ab_mode": In(1), "even_rdata": In(W), "odd_rdata": In(W),
            "bank_we": Out(1), "bank_odd": Out(1), "bank_wdata": Out(W),
            "grf_sel": In(4), "grf_q": Out(W), "pim_mode": Out(1), "exited": Out(1)})

    def summary(self) -> str:
        return (f"HBM-PIM block: {self.lanes} FP16 lanes (RNE, subnormals), GRF_A/GRF_B 8 x {16 * self.lanes} bit, "
                f"SRF, CRF {self.crf_entries} x 32; one column command per cycle, results the next cycle")

    def elaborate(self, platform):
        m = Module()
        L, W = self.lanes, 16 * self.lanes
        grf_a = Array(Signal(W, name=f"grf_a{i}") for i in range(8))
        grf_b = Array(Signal(W, name=f"grf_b{i}") for i in range(8))
        srf = Signal(256, name="srf")
        srf_m_words = Array(srf[16 * i:16 * i + 16] for i in range(8))           # SRF_M: scalars 0-7
        srf_a_words = Array(srf[16 * i:16 * i + 16] for i in range(8, 16))       # SRF_A: scalars 8-15
        m_out = Signal(W)
        a_out = Signal(W)
        crf = Array(Signal(32, name=f"crf{i}") for i in range(32))
        pc = Signal(5)
        last_jump = Signal(range(-1, 32))
        n_jump = Signal(range(-1, 1 << 17))
        last_rep = Signal(range(-1, 32))
        n_rep = Signal(range(-1, 1 << 11))
        crf_exit = Signal()
        pim_op = Signal()
        tog_even = Signal()
        tog_odd = Signal()
        tog_ra12 = Signal()
        pim_mode = Signal()
        m.d.comb += [self.pim_mode.eq(pim_mode), self.exited.eq(crf_exit),
                     self.grf_q.eq(Mux(self.grf_sel[3], grf_b[self.grf_sel[:3]], grf_a[self.grf_sel[:3]]))]

        row, col = self.cmd_row, self.cmd_col
        special = row == 0x3FFF
        ra12 = row[12]
        toggle = Signal()
        m.d.comb += toggle.eq(self.cmd_valid & self.ab_mode & pim_mode & pim_op & ~crf_exit
                              & (tog_ra12 | ~ra12)
                              & ((tog_even & ~self.cmd_bank) | (tog_odd & self.cmd_bank)))

        # ---- instruction fetch with the zero-time JUMP
        w0 = Signal(32)
        m.d.comb += w0.eq(crf[pc])
        is_jump = w0[28:32] == JUMP
        j_count = w0[11:28]
        j_off = w0[0:11]
        jump_init = Signal()
        m.d.comb += jump_init.eq(is_jump & (last_jump != pc) & (j_count > 0))
        n_jump_now = Signal.like(n_jump)
        m.d.comb += n_jump_now.eq(Mux(jump_init, j_count, n_jump))
        take = Signal()
        m.d.comb += take.eq(is_jump & (n_jump_now > 0))
        pc_x = Signal(5)
        m.d.comb += pc_x.eq(Mux(is_jump, Mux(take, pc - j_off + 1, pc + 1), pc))
        w = Signal(32)
        m.d.comb += w.eq(Mux(is_jump, crf[pc_x], w0))
        op = w[28:32]
        is_nop = ~op.any()                    # NOP = 0 (written so, not op == 0: lint)
        dst, src0, src1, src2 = w[25:28], w[22:25], w[19:22], w[16:19]
        auto = w[15]
        relu = w[12]
        di, i0, i1 = w[8:11], w[4:7], w[0:3]
        # repeat bookkeeping (FILL / AUTO / NOP)
        rep_kind = Signal()
        m.d.comb += rep_kind.eq((op == FILL) | ((auto == 1) & (op != MOV) & ~is_nop & (op != JUMP)
                                                & (op != EXIT)) | is_nop)
        rep_init = Signal()
        m.d.comb += rep_init.eq(rep_kind & (last_rep != pc_x))
        n_rep_now = Signal.like(n_rep)
        m.d.comb += n_rep_now.eq(Mux(rep_init, Mux(is_nop, w[0:11], 7), n_rep))
        stay = Signal()
        m.d.comb += stay.eq(rep_kind & (n_rep_now > 0))
        pc_next = Signal(5)
        m.d.comb += pc_next.eq(Mux(stay, pc_x, pc_x + 1))

        # ---- operands
        hi_idx = Cat(col[3:5], row[0])                  # MAC AUTO GRF_A index
        lo_idx = col[0:3]

        def read_opd(typ, idx, is_auto, is_mac, name):
            v = Signal(W, name=name)
            ga = Mux(is_auto, Mux(is_mac, hi_idx, lo_idx), idx)
            gb = Mux(is_auto, lo_idx, idx)
            srf_m = Cat(*([srf_m_words[idx]] * L))
            srf_a = Cat(*([srf_a_words[idx]] * L))
            with m.Switch(typ):
                with m.Case(A_OUT):
                    m.d.comb += v.eq(a_out)
                with m.Case(M_OUT):
                    m.d.comb += v.eq(m_out)
                with m.Case(EVEN_BANK):
                    m.d.comb += v.eq(self.even_rdata)
                with m.Case(ODD_BANK):
                    m.d.comb += v.eq(self.odd_rdata)
                with m.Case(GRF_A):
                    m.d.comb += v.eq(grf_a[ga])
                with m.Case(GRF_B):
                    m.d.comb += v.eq(grf_b[gb])
                with m.Case(SRF_M):
                    m.d.comb += v.eq(srf_m)
                with m.Case(SRF_A):
                    m.d.comb += v.eq(srf_a)
            return v

        is_fill = op == FILL
        is_mac = op == MAC
        arith_auto = Mux(is_fill, 1, Mux(op == MOV, 0, auto))
        o0 = read_opd(src0, i0, arith_auto, is_mac, "opd0")
        o1 = read_opd(src1, i1, auto, is_mac, "opd1")
        o2 = read_opd(Mux(is_mac, dst, src2), Mux(is_mac, di, i1), auto, is_mac, "opd2")
        lane_op = Signal(2)
        m.d.comb += lane_op.eq(Mux(op == ADD, 0, Mux(op == MUL, 1, 2)))
        res = Signal(W)
        for l in range(L):
            s = slice(16 * l, 16 * l + 16)
            lane = Fp16Lane()
            m.submodules[f"lane{l}"] = lane
            m.d.comb += [lane.a.eq(o0[s]), lane.b.eq(o1[s]), lane.c.eq(o2[s]), lane.op.eq(lane_op)]
            mv = Mux(relu & o0[s.start + 15], 0, o0[s])
            m.d.comb += res[s].eq(Mux(is_fill | (op == MOV), mv, lane.y))
        computes = (op == ADD) | (op == MUL) | (op == MAC) | (op == MAD) | (op == FILL) | (op == MOV)

        # ---- bank writes (same cycle)
        with m.If(toggle & is_nop & self.cmd_write):
            m.d.comb += [self.bank_we.eq(1), self.bank_odd.eq(self.cmd_bank),
                         self.bank_wdata.eq(Mux(self.cmd_bank, grf_b[lo_idx], grf_a[lo_idx]))]
        with m.Elif(toggle & computes & ((dst == EVEN_BANK) | (dst == ODD_BANK))):
            m.d.comb += [self.bank_we.eq(1), self.bank_odd.eq(dst == ODD_BANK), self.bank_wdata.eq(res)]
        with m.Elif(self.cmd_valid & self.ab_mode & ~toggle & self.cmd_write & ~special & ~ra12):
            m.d.comb += [self.bank_we.eq(1), self.bank_odd.eq(self.cmd_bank),
                         self.bank_wdata.eq(Mux(self.cmd_bank, grf_b[lo_idx], grf_a[lo_idx]))]

        # ---- register updates
        wa = Mux(arith_auto, Mux(is_mac, hi_idx, lo_idx), di)
        wb = Mux(arith_auto, lo_idx, di)
        with m.If(toggle):
            m.d.sync += [pc.eq(pc_next)]
            with m.If(jump_init):
                m.d.sync += last_jump.eq(pc)
            with m.If(is_jump):
                m.d.sync += n_jump.eq(Mux(take, n_jump_now - 1, n_jump_now))
            with m.If(rep_kind):
                m.d.sync += [last_rep.eq(Mux(stay, pc_x, -1)), n_rep.eq(Mux(stay, n_rep_now - 1, n_rep_now))]
            with m.If(crf[pc_next][28:32] == EXIT):
                m.d.sync += crf_exit.eq(1)
            with m.If(op == EXIT):
                m.d.sync += crf_exit.eq(1)
            with m.If(computes):
                with m.Switch(dst):
                    with m.Case(A_OUT):
                        m.d.sync += a_out.eq(res)
                    with m.Case(M_OUT):
                        m.d.sync += m_out.eq(res)
                    with m.Case(GRF_A):
                        m.d.sync += grf_a[wa].eq(res)
                    with m.Case(GRF_B):
                        m.d.sync += grf_b[wb].eq(res)
                    with m.Case(SRF_M, SRF_A):
                        m.d.sync += srf.eq(res)
        with m.Elif(self.cmd_valid & self.ab_mode & self.cmd_write & special):
            d = self.cmd_data
            with m.If(~col.any()):
                by = lambda k: d.word_select(k, 8)     # noqa: E731
                with m.If(by(20).any()):
                    for i in range(8):
                        m.d.sync += grf_a[i].eq(0)
                with m.If(by(21).any()):
                    for i in range(8):
                        m.d.sync += grf_b[i].eq(0)
                m.d.sync += [pim_op.eq(by(0)[0]), tog_even.eq(~by(16)[0]), tog_odd.eq(~by(16)[1]),
                             tog_ra12.eq(by(16)[2]), pim_mode.eq(by(0)[0])]
                with m.If(by(0)[0]):
                    m.d.sync += [pc.eq(0), last_jump.eq(-1), n_jump.eq(-1), last_rep.eq(-1), n_rep.eq(-1),
                                 crf_exit.eq(0)]
            with m.Elif((col >= 8) & (col <= 15)):
                m.d.sync += grf_a[col[:3]].eq(d[:W])
            with m.Elif(col >= 0x18):
                m.d.sync += grf_b[col[:3]].eq(d[:W])
            with m.Elif((col >= 4) & (col <= 7)):
                for k in range(8):
                    m.d.sync += crf[Cat(Const(k, 3), col[:2])].eq(d.word_select(k, 32))
            with m.Elif(col == 1):
                m.d.sync += srf.eq(d)
        with m.Elif(self.cmd_valid & self.ab_mode & ~self.cmd_write & ~special & ~ra12):
            m.d.sync += grf_b[lo_idx].eq(Mux(self.cmd_bank, self.odd_rdata, self.even_rdata))
        with m.If(~self.ab_mode):
            m.d.sync += pim_mode.eq(0)
        return m


def component(design) -> wiring.Component:
    """The generated top of a ``pim`` design: one HBM-PIM block with the design's lane count."""
    if design.pim.unit != "hbm-pim":
        raise RTLError(f"{getattr(design, 'source', 'design')}: pim.unit = {design.pim.unit!r}: the RTL top is "
                       f"the HBM-PIM block; the P3-LLM lane is rtl_gen.pe.MacDatapath('bitmod4', 'p3llm_fp8', "
                       f"'int32') (the pe kind's loop verifies it)")
    return PimBlock(lanes=design.pim.lanes)
