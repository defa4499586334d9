"""RTL of the adaptable butterfly accelerator: FP16 arithmetic, the Butterfly Unit, one Butterfly Engine.

FP16 (IEEE binary16, round to nearest even, gradual underflow, overflow to infinity; any NaN result is
the quiet NaN 0x7E00): every finite binary16 value is an integer multiple of 2^-24 below 2^16, so

* an add is exact as a 41-bit signed integer in units of 2^-24 (``|a| = m << (e - 1)``) and is then
  rounded once;
* a multiply is exact as P = ma * mb (22 bits) times 2^(ea + eb - 50); with P's leading one at lp the
  exponent field is lp + ea + eb - 35 (normal if >= 1: keep P's 11 bits from lp down), else the result is
  subnormal (keep P * 2^(ea + eb - 26)); both are one right shift of P << 24.

Rounding keeps ``y >> shift``, rounds half to even on the dropped bits, and forms the code
keep + ((exp - 1) << 10) (a carry out of the mantissa moves into the exponent by itself); codes at or
above 0x7C00 become infinity.

Butterfly Unit (``butterfly_unit_opt`` of the artefact, pipelined here; per-layer flag ``is_fft``):
  cycle 1 four multipliers: linear x1*w1, x1*w2, x2*w3, x2*w4; FFT x2r*Wr, x2r*Wi, x2i*Wi, x2i*Wr
  cycle 2 two add/sub:      linear y_lo = p0 + p2, y_hi = p1 + p3; FFT tr = p0 - p2, ti = p1 + p3
  cycle 3 complex adders:   FFT y_lo = x1 + t, y_hi = x1 - t (re and im); linear: the results pass
(3 register stages; with the RAM read before and the write after, ``pipeline_latency`` = 4).

Butterfly Engine: S2P (one element per cycle into bank (k mod 2P + popcount) mod 2P, row k >> log2 2P),
the index generator of :mod:`hwsim.butterfly.engine` (decreasing stride), the read crossbar (banks ->
BU ports) and the write crossbar (BU results -> banks, in place), RAM sets A (real) and B (imaginary;
unused in linear mode), a coefficient memory written before ``start`` (one row of 4 x P_BU words per
issue cycle, in issue order), the stage controller, and P2S (one element per cycle, address order).
Timing (cycles from the cycle ``start`` is high to the cycle ``done`` is high) =
N + log2 N * (N / (2 P_BU) + 4) + N + 1, as :func:`hwsim.butterfly.engine.vector_cycles`.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwsim.butterfly import engine as eng
from hwsim.errors import RTLError

QNAN = 0x7E00
PIPELINE_LATENCY = 4


class ButterflyRTLError(RTLError):
    """Parameters the butterfly RTL cannot be built for."""


# ---- FP16 combinational arithmetic --------------------------------------------------------------------
def _eq(x, b: int):
    """x == b, written for b == 0 as a NOR reduction (Yosys would print ``!x`` of a multi-bit x, which
    Verilator's lint flags as WIDTHTRUNC)."""
    return (x == b) if b else ~x.any()


def _leading_one(m: Module, x, width: int, name: str):
    """Position of the most significant 1 of x (0 if x == 0)."""
    pos = Signal(range(max(2, width)), name=name)
    for i in range(width):          # later assignments win: the highest set bit
        with m.If(x[i]):
            m.d.comb += pos.eq(i)
    return pos


def _round_at(m: Module, y, width: int, shift, normal, expf, name: str):
    """Keep y >> shift (the 11 significant bits, or the subnormal mantissa), round half to even on the
    dropped bits, and form the 15-bit magnitude code (exponent field expf when ``normal``)."""
    keep = Signal(12, name=f"{name}_keep")
    m.d.comb += keep.eq(y >> shift)
    mask = Signal(width, name=f"{name}_mask")
    m.d.comb += mask.eq((Const(1, width + 1) << shift) - 1)
    rem = Signal(width, name=f"{name}_rem")
    m.d.comb += rem.eq(y & mask)
    half = Signal(width, name=f"{name}_half")
    m.d.comb += half.eq(Mux(_eq(shift, 0), 0, (Const(1, width + 1) << shift) >> 1))
    up = Signal(name=f"{name}_up")
    m.d.comb += up.eq(shift.any() & ((rem > half) | ((rem == half) & keep[0])))
    rounded = Signal(13, name=f"{name}_rnd")
    m.d.comb += rounded.eq(keep + up)
    code = Signal(17, name=f"{name}_code")
    m.d.comb += code.eq(Mux(normal, rounded + ((expf - 1) << 10), rounded))
    out = Signal(15, name=f"{name}_mag")
    m.d.comb += out.eq(Mux(code >= 0x7C00, 0x7C00, code[:15]))
    return out


def round_fp16(m: Module, x, width: int, name: str):
    """Round the non-negative integer x (units of 2^-24) to a binary16 magnitude code (15 bits)."""
    L = _leading_one(m, x, width, f"{name}_l1")
    normal = Signal(name=f"{name}_norm")
    shift = Signal(range(width + 1), name=f"{name}_sh")
    expf = Signal(8, name=f"{name}_exp")
    m.d.comb += normal.eq(L >= 10)
    m.d.comb += shift.eq(Mux(normal, L - 10, 0))
    m.d.comb += expf.eq(Mux(normal, L - 9, 0))
    return _round_at(m, x, width, shift, normal, expf, name)


def _unpack(m: Module, a, name: str):
    s, e, f = a[15], a[10:15], a[:10]
    mant = Signal(11, name=f"{name}_m")
    m.d.comb += mant.eq(Mux(_eq(e, 0), f, Cat(f, Const(1, 1))))
    eff = Signal(5, name=f"{name}_e")
    m.d.comb += eff.eq(Mux(_eq(e, 0), 1, e))
    is_inf = Signal(name=f"{name}_inf")
    is_nan = Signal(name=f"{name}_nan")
    m.d.comb += [is_inf.eq((e == 31) & _eq(f, 0)), is_nan.eq((e == 31) & (f != 0))]
    return s, mant, eff, is_inf, is_nan, _eq(a[:15], 0)


def fp16_mul(m: Module, a, b, name: str):
    """a * b in binary16 (combinational). Returns a 16-bit Signal."""
    sa, ma, ea, ia, na, za = _unpack(m, a, f"{name}_a")
    sb, mb, eb, ib, nb, zb = _unpack(m, b, f"{name}_b")
    sign = sa ^ sb
    # value = P * 2^(E - 50), P = ma * mb (22 bits), E = ea + eb; leading one of P at lp, so the biased
    # exponent is lp + E - 35. Y = P << 24 is shifted right by lp + 14 (normal: 11 bits kept) or by
    # 50 - E (subnormal: units of 2^-24; E <= 35 there, so the amount is >= 15).
    P = Signal(22, name=f"{name}_p")
    m.d.comb += P.eq(ma * mb)
    E = Signal(6, name=f"{name}_e")
    m.d.comb += E.eq(ea + eb)
    lp = _leading_one(m, P, 22, f"{name}_lp")
    normal = Signal(name=f"{name}_norm")
    m.d.comb += normal.eq(lp + E >= 36)
    shift = Signal(6, name=f"{name}_sh")
    m.d.comb += shift.eq(Mux(normal, lp + 14, 50 - E))
    expf = Signal(8, name=f"{name}_exp")
    m.d.comb += expf.eq(lp + E - 35)
    Y = Signal(50, name=f"{name}_y")          # shift <= 48: the half bit stays inside
    m.d.comb += Y.eq(P << 24)
    mag = Signal(15, name=f"{name}_mag0")
    m.d.comb += mag.eq(Mux(_eq(P, 0), 0, _round_at(m, Y, 50, shift, normal, expf, name)))
    out = Signal(16, name=name)
    with m.If(na | nb | (ia & zb) | (ib & za)):
        m.d.comb += out.eq(QNAN)
    with m.Elif(ia | ib):
        m.d.comb += out.eq(Cat(Const(0x7C00, 15), sign))
    with m.Else():
        m.d.comb += out.eq(Cat(mag, sign))
    return out


def fp16_add(m: Module, a, b, name: str, subtract=False):
    """a + b (or a - b; ``subtract`` a bool or a 1-bit Value) in binary16 (combinational)."""
    sa, ma, ea, ia, na, _ = _unpack(m, a, f"{name}_a")
    sb0, mb, eb, ib, nb, _ = _unpack(m, b, f"{name}_b")
    if isinstance(subtract, bool):
        sb = ~sb0 if subtract else sb0
    else:                                   # a runtime add/sub select (one adder, sign flipped)
        sb = sb0 ^ subtract
    sha, shb = Signal(5, name=f"{name}_sha"), Signal(5, name=f"{name}_shb")
    m.d.comb += [sha.eq(ea - 1), shb.eq(eb - 1)]
    qa, qb = Signal(41, name=f"{name}_qa"), Signal(41, name=f"{name}_qb")
    m.d.comb += [qa.eq(ma << sha), qb.eq(mb << shb)]
    va, vb = Signal(signed(43), name=f"{name}_sa"), Signal(signed(43), name=f"{name}_sb")
    m.d.comb += [va.eq(Mux(sa, -qa, qa)), vb.eq(Mux(sb, -qb, qb))]
    s = Signal(signed(44), name=f"{name}_sum")
    m.d.comb += s.eq(va + vb)
    neg = s < 0
    mag_in = Signal(44, name=f"{name}_abs")
    m.d.comb += mag_in.eq(Mux(neg, -s, s))
    mag = round_fp16(m, mag_in, 44, name)
    out = Signal(16, name=name)
    with m.If(na | nb | (ia & ib & (sa != sb))):
        m.d.comb += out.eq(QNAN)
    with m.Elif(ia):
        m.d.comb += out.eq(Cat(Const(0x7C00, 15), sa))
    with m.Elif(ib):
        m.d.comb += out.eq(Cat(Const(0x7C00, 15), sb))
    with m.Elif(_eq(s, 0)):
        m.d.comb += out.eq(Cat(Const(0, 15), sa & sb))      # RNE: -0 only for (-0) + (-0)
    with m.Else():
        m.d.comb += out.eq(Cat(mag, neg))
    return out


class FP16Unit(wiring.Component):
    """One combinational FP16 operation (``op`` = mul, add or sub): the unit of the BU, testable alone."""

    def __init__(self, op: str):
        if op not in ("mul", "add", "sub"):
            raise ButterflyRTLError(f"FP16Unit op = {op!r}: allowed: mul, add, sub")
        self.op = op
        super().__init__({"a": In(16), "b": In(16), "y": Out(16)})

    def elaborate(self, platform):
        m = Module()
        if self.op == "mul":
            r = fp16_mul(m, self.a, self.b, "r")
        else:
            r = fp16_add(m, self.a, self.b, "r", subtract=self.op == "sub")
        m.d.comb += self.y.eq(r)
        return m


# ---- Butterfly Unit -----------------------------------------------------------------------------------
def butterfly_unit(m: Module, is_fft, x1r, x1i, x2r, x2i, c, name: str):
    """Three registered stages (see module docstring). c = (w1, w2, w3, w4) linear / (Wr, Wi, -, -) FFT.
    Returns (lo_r, lo_i, hi_r, hi_i) registered after stage 3."""
    w1, w2, w3, w4 = c
    # stage 1: multipliers
    a0 = Mux(is_fft, x2r, x1r)
    a2 = Mux(is_fft, x2i, x2r)
    p = [fp16_mul(m, a0, w1, f"{name}_p0"), fp16_mul(m, a0, Mux(is_fft, w2, w2), f"{name}_p1"),
         fp16_mul(m, a2, Mux(is_fft, w2, w3), f"{name}_p2"), fp16_mul(m, a2, Mux(is_fft, w1, w4), f"{name}_p3")]
    pr = [Signal(16, name=f"{name}_p{i}_r") for i in range(4)]
    x1r_1, x1i_1 = Signal(16, name=f"{name}_x1r_1"), Signal(16, name=f"{name}_x1i_1")
    f1, f2 = Signal(name=f"{name}_fft1"), Signal(name=f"{name}_fft2")   # the mode travels with the data
    m.d.sync += [pr[i].eq(p[i]) for i in range(4)] + [x1r_1.eq(x1r), x1i_1.eq(x1i), f1.eq(is_fft)]
    # stage 2: add/sub units (FFT: tr = p0 - p2, ti = p1 + p3; linear: lo = p0 + p2, hi = p1 + p3)
    s0 = fp16_add(m, pr[0], pr[2], f"{name}_addsub0", subtract=f1)
    s1 = fp16_add(m, pr[1], pr[3], f"{name}_add1")
    s0r, s1r = Signal(16, name=f"{name}_s0_r"), Signal(16, name=f"{name}_s1_r")
    x1r_2, x1i_2 = Signal(16, name=f"{name}_x1r_2"), Signal(16, name=f"{name}_x1i_2")
    m.d.sync += [s0r.eq(s0), s1r.eq(s1), x1r_2.eq(x1r_1), x1i_2.eq(x1i_1), f2.eq(f1)]
    # stage 3: complex adders (FFT) or pass (linear)
    lo_r = fp16_add(m, x1r_2, s0r, f"{name}_lor")
    lo_i = fp16_add(m, x1i_2, s1r, f"{name}_loi")
    hi_r = fp16_add(m, x1r_2, s0r, f"{name}_hir", subtract=True)
    hi_i = fp16_add(m, x1i_2, s1r, f"{name}_hii", subtract=True)
    outs = [Signal(16, name=f"{name}_{k}") for k in ("lo_r", "lo_i", "hi_r", "hi_i")]
    m.d.sync += [outs[0].eq(Mux(f2, lo_r, s0r)), outs[1].eq(Mux(f2, lo_i, 0)),
                 outs[2].eq(Mux(f2, hi_r, s1r)), outs[3].eq(Mux(f2, hi_i, 0))]
    return outs


class ButterflyUnit(wiring.Component):
    """One adaptable Butterfly Unit: operands x1 = (x1r, x1i), x2 = (x2r, x2i), coefficients
    ``coef`` = w1 | w2 << 16 | w3 << 32 | w4 << 48 (linear) or Wr | Wi << 16 (FFT), per-layer ``is_fft``;
    results (lo_r, lo_i, hi_r, hi_i) three cycles later (see the module docstring)."""

    def __init__(self):
        super().__init__({"is_fft": In(1), "x1r": In(16), "x1i": In(16), "x2r": In(16), "x2i": In(16),
                          "coef": In(64), "lo_r": Out(16), "lo_i": Out(16), "hi_r": Out(16), "hi_i": Out(16)})

    def elaborate(self, platform):
        m = Module()
        c = [self.coef[16 * j:16 * (j + 1)] for j in range(4)]
        outs = butterfly_unit(m, self.is_fft, self.x1r, self.x1i, self.x2r, self.x2i, c, "bu")
        m.d.comb += [self.lo_r.eq(outs[0]), self.lo_i.eq(outs[1]), self.hi_r.eq(outs[2]), self.hi_i.eq(outs[3])]
        return m


# ---- Butterfly Engine ---------------------------------------------------------------------------------
class ButterflyEngine(wiring.Component):
    """One Butterfly Engine for lengths 2*P_BU .. max_length (runtime ``log_length``), FFT or linear."""

    def __init__(self, units: int = 4, max_length: int = 256, popcount_bits: int = 8):
        if units < 1 or units & (units - 1):
            raise ButterflyRTLError(f"units = {units!r}: must be a power of two >= 1")
        if max_length & (max_length - 1) or max_length < 2 * units or max_length > 4096:
            raise ButterflyRTLError(f"max_length = {max_length!r}: a power of two in [2*units, 4096]")
        for e in range(1, max_length.bit_length()):
            n = 1 << e
            if n >= 2 * units and any(c != n // (2 * units)
                                      for c in eng.stage_issue_cycles_closed(n, units, popcount_bits)):
                raise ButterflyRTLError(f"max_length = {max_length}: the bank map conflicts at length {n} "
                                        f"(popcount_bits = {popcount_bits}); the RTL has no conflict stall")
        self.units, self.max_length, self.popcount_bits = units, max_length, popcount_bits
        self.B = 2 * units
        self.rows = max_length // self.B
        self.max_log = max_length.bit_length() - 1
        self.groups_max = max_length // (2 * units)
        self.coef_depth = self.max_log * self.groups_max
        super().__init__({
            "start": In(1), "is_fft": In(1), "log_length": In(range(self.max_log + 1)),
            "busy": Out(1), "done": Out(1),
            "in_ready": Out(1), "in_valid": In(1), "in_re": In(16), "in_im": In(16),
            "out_valid": Out(1), "out_re": Out(16), "out_im": Out(16),
            "coef_we": In(1), "coef_addr": In(range(self.coef_depth)), "coef_data": In(64 * units),
        })

    def summary(self) -> str:
        """One line for ``hwsim rtl``."""
        lens = [1 << e for e in range(1, self.max_log + 1) if (1 << e) >= self.B]
        return (f"butterfly engine: P_BU {self.units} FP16 butterfly units (real 2x2 / complex radix-2), "
                f"lengths {lens[0]}..{self.max_length}, RAM sets A/B of {self.B} banks x {self.rows} x 16b, "
                f"coefficient memory {self.coef_depth} x {64 * self.units}b, pipeline latency {PIPELINE_LATENCY}; "
                f"cycles = 2N + 1 + log2 N (N/{self.B} + {PIPELINE_LATENCY})")

    # combinational bank / row of an element index
    def _bank_row(self, m: Module, k, name: str):
        lb = self.B.bit_length() - 1
        hi = k[lb:lb + self.popcount_bits] if self.popcount_bits else Const(0, 1)
        pc = Signal(range(self.popcount_bits + 2), name=f"{name}_pc")
        m.d.comb += pc.eq(sum(hi[i] for i in range(len(hi))) if self.popcount_bits else 0)
        bank = Signal(range(self.B), name=f"{name}_bank")
        m.d.comb += bank.eq((k[:lb] + pc) & (self.B - 1)) if lb else bank.eq(0)
        row = Signal(range(max(2, self.rows)), name=f"{name}_row")
        m.d.comb += row.eq(k >> lb)
        return bank, row

    def elaborate(self, platform):
        m = Module()
        U, B, rows = self.units, self.B, self.rows
        lb = B.bit_length() - 1
        kbits = self.max_log + 1
        # memories: set A (real), set B (imag), 2P banks each
        setA = [Memory(shape=16, depth=rows, init=[]) for _ in range(B)]
        setB = [Memory(shape=16, depth=rows, init=[]) for _ in range(B)]
        for i, mem in enumerate(setA + setB):
            m.submodules[f"ram{i}"] = mem
        rdA, rdB = [mem.read_port() for mem in setA], [mem.read_port() for mem in setB]
        wrA, wrB = [mem.write_port() for mem in setA], [mem.write_port() for mem in setB]
        coef = Memory(shape=64 * U, depth=self.coef_depth, init=[])
        m.submodules.coef = coef
        crd, cwr = coef.read_port(), coef.write_port()
        m.d.comb += [cwr.en.eq(self.coef_we), cwr.addr.eq(self.coef_addr), cwr.data.eq(self.coef_data)]

        # control registers
        is_fft = Signal()
        logn = Signal(range(self.max_log + 1))
        n = Signal(kbits + 1)
        m.d.comb += n.eq(Const(1, kbits + 1) << logn)
        groups = Signal(kbits)
        m.d.comb += groups.eq(n >> lb)
        k = Signal(kbits + 1)             # load / drain counter
        stage = Signal(range(self.max_log + 1))
        t = Signal(kbits)                 # issue cycle within a stage
        wait = Signal(range(PIPELINE_LATENCY + 1))
        caddr = Signal(range(max(2, self.coef_depth)))
        issue = Signal()

        # ---- index generator: lower operands of this cycle, per possible stride (Switch on log stride)
        lstride = Signal(range(self.max_log + 1))
        m.d.comb += lstride.eq(logn - 1 - stage)
        lower = [Signal(kbits, name=f"lo{i}") for i in range(U)]
        upper = [Signal(kbits, name=f"hi{i}") for i in range(U)]
        with m.Switch(lstride):
            for ls in range(self.max_log):
                s = 1 << ls
                with m.Case(ls):
                    if s >= B:
                        per_block = s // U           # issue cycles per block of 2s
                        lp = per_block.bit_length() - 1
                        blk = t >> lp
                        within = t & (per_block - 1)
                        base = (blk << (ls + 1)) | ((within >> 1) << lb) | (within & 1)
                        for i in range(U):
                            m.d.comb += lower[i].eq(base + 2 * i)
                    else:
                        offs = [q for q in range(B) if not q & s]
                        for i in range(U):
                            m.d.comb += lower[i].eq((t << lb) | offs[i])
        for i in range(U):
            m.d.comb += upper[i].eq(lower[i] + (Const(1, kbits + 1) << lstride))
        ops = lower + upper                 # operand slot o: lower i = o, upper i = U + o
        obank, orow = [], []
        for o, kk in enumerate(ops):
            b_, r_ = self._bank_row(m, kk, f"op{o}")
            obank.append(b_)
            orow.append(r_)

        # ---- pipeline bookkeeping: (valid, banks, rows) delayed to the write cycle
        DEPTH = PIPELINE_LATENCY
        vld = [Signal(name=f"v{d}") for d in range(DEPTH + 1)]
        bnk = [[Signal(range(B), name=f"b{d}_{o}") for o in range(B)] for d in range(DEPTH + 1)]
        row = [[Signal(range(max(2, rows)), name=f"r{d}_{o}") for o in range(B)] for d in range(DEPTH + 1)]
        m.d.comb += vld[0].eq(issue)
        m.d.comb += [bnk[0][o].eq(obank[o]) for o in range(B)] + [row[0][o].eq(orow[o]) for o in range(B)]
        for d in range(1, DEPTH + 1):
            m.d.sync += vld[d].eq(vld[d - 1])
            m.d.sync += [bnk[d][o].eq(bnk[d - 1][o]) for o in range(B)]
            m.d.sync += [row[d][o].eq(row[d - 1][o]) for o in range(B)]

        # ---- S2P / P2S addresses
        kb, krow = self._bank_row(m, k[:kbits], "k")
        kb_d = Signal(range(B))
        m.d.sync += kb_d.eq(kb)

        # read crossbar ("permute"): bank b reads the row of the operand mapped to it
        draining = Signal()
        for b in range(B):
            addr = Signal(range(max(2, rows)), name=f"raddr{b}")
            sel = 0
            for o in range(B):
                sel = Mux(_eq(obank[o], b), orow[o], sel)
            m.d.comb += addr.eq(Mux(draining, krow, sel))
            m.d.comb += [rdA[b].addr.eq(addr), rdB[b].addr.eq(addr)]
        m.d.comb += crd.addr.eq(caddr)
        # operands one cycle later ("recover" on the read side)
        val_r, val_i = [], []
        for o in range(B):
            vr, vi = Signal(16, name=f"opr{o}"), Signal(16, name=f"opi{o}")
            selr, seli = Const(0, 16), Const(0, 16)
            for b in range(B):
                selr = Mux(_eq(bnk[1][o], b), rdA[b].data, selr)
                seli = Mux(_eq(bnk[1][o], b), rdB[b].data, seli)
            m.d.comb += [vr.eq(selr), vi.eq(seli)]
            val_r.append(vr)
            val_i.append(vi)
        # butterfly units
        res = []
        for i in range(U):
            bu = m.submodules[f"bu{i}"] = ButterflyUnit()
            m.d.comb += [bu.is_fft.eq(is_fft), bu.x1r.eq(val_r[i]), bu.x1i.eq(val_i[i]),
                         bu.x2r.eq(val_r[U + i]), bu.x2i.eq(val_i[U + i]), bu.coef.eq(crd.data[64 * i:64 * (i + 1)])]
            res.append((bu.lo_r, bu.lo_i, bu.hi_r, bu.hi_i))
        # write crossbar ("recover"): results to the banks of their operands, in place
        for b in range(B):
            dA, dB, en, wad = Const(0, 16), Const(0, 16), Const(0, 1), Const(0, 1)
            for o in range(B):
                i, hi = o % U, o >= U
                rr, ri = (res[i][2], res[i][3]) if hi else (res[i][0], res[i][1])
                hit = _eq(bnk[DEPTH][o], b)
                dA, dB = Mux(hit, rr, dA), Mux(hit, ri, dB)
                wad = Mux(hit, row[DEPTH][o], wad)
                en = en | hit
            loading = Signal(name=f"ld{b}")
            m.d.comb += [
                wrA[b].en.eq(Mux(loading, 1, vld[DEPTH] & en)), wrB[b].en.eq(Mux(loading, 1, vld[DEPTH] & en)),
                wrA[b].addr.eq(Mux(loading, krow, wad)), wrB[b].addr.eq(Mux(loading, krow, wad)),
                wrA[b].data.eq(Mux(loading, self.in_re, dA)), wrB[b].data.eq(Mux(loading, self.in_im, dB)),
            ]
            m.d.comb += loading.eq(self.in_ready & self.in_valid & (_eq(kb, b)))

        # P2S output: data of the bank read in the previous cycle
        out_v = Signal()
        outr, outi = Const(0, 16), Const(0, 16)
        for b in range(B):
            outr = Mux(_eq(kb_d, b), rdA[b].data, outr)
            outi = Mux(_eq(kb_d, b), rdB[b].data, outi)
        m.d.comb += [self.out_valid.eq(out_v), self.out_re.eq(outr), self.out_im.eq(Mux(is_fft, outi, 0))]

        # ---- stage controller
        m.d.sync += [out_v.eq(0), self.done.eq(0)]
        IDLE, LOAD, ISSUE, WAIT, DRAIN = 1, 2, 3, 4, 5      # no state is 0 (see _eq)
        state = Signal(range(8), init=IDLE)
        with m.If(state == IDLE):
            with m.If(self.start):  # noqa: SIM117  (an Elif chain follows the outer If)
                m.d.sync += [is_fft.eq(self.is_fft), logn.eq(self.log_length), k.eq(0)]
                m.d.sync += state.eq(LOAD)
        with m.Elif(state == LOAD):
            m.d.comb += [self.busy.eq(1), self.in_ready.eq(1)]
            with m.If(self.in_valid):
                m.d.sync += k.eq(k + 1)
                with m.If(k + 1 == n):
                    m.d.sync += [stage.eq(0), t.eq(0), caddr.eq(0)]
                    m.d.sync += state.eq(ISSUE)
        with m.Elif(state == ISSUE):
            m.d.comb += [self.busy.eq(1), issue.eq(1)]
            m.d.sync += [t.eq(t + 1), caddr.eq(caddr + 1)]
            with m.If(t + 1 == groups):
                m.d.sync += [t.eq(0), wait.eq(0)]
                m.d.sync += state.eq(WAIT)
        with m.Elif(state == WAIT):
            m.d.comb += self.busy.eq(1)
            m.d.sync += wait.eq(wait + 1)
            with m.If(wait + 1 == PIPELINE_LATENCY):
                with m.If(stage + 1 == logn):
                    m.d.sync += k.eq(0)
                    m.d.sync += state.eq(DRAIN)
                with m.Else():
                    m.d.sync += stage.eq(stage + 1)
                    m.d.sync += state.eq(ISSUE)
        with m.Elif(state == DRAIN):
            m.d.comb += [self.busy.eq(1), draining.eq(1)]
            m.d.sync += [k.eq(k + 1), out_v.eq(1)]
            with m.If(k + 1 == n):
                m.d.sync += self.done.eq(1)
                m.d.sync += state.eq(IDLE)
        return m


def component(design) -> ButterflyEngine:
    """The generated top of a butterfly design: one Butterfly Engine (P_BU, max_length, bank map)."""
    p = design.processor
    return ButterflyEngine(p.units, p.max_length, p.popcount_bits)
