"""Bench of the bit-serial kind: one seeded vector set per DUT, run on four levels, one checker.

DUTs: ``bitvert_pe``, ``bitmod_pe`` (a 1x1 array of the PE: the same top, the same driver) and the
design's array (``kind: bitserial`` designs, rows x cols <= 4 x 4). A vector set is a list of
*tiles*; a tile is a list of *issues* (one group for BitVert, one 4-weight step for BitMoD) sent
back to back after a clear-start from idle. Expected results and cycles per tile come from the
**model** level (:mod:`hwsim.bitserial.pe_model` + exact integer numpy); the **hwsim** level runs the
simulator's Numba cycle kernels on the same weights; **amaranth** runs the generated component
under amaranth.sim; **verilator** the emitted Verilog under cocotb + Verilator. ``check`` compares
results bit for bit (Python integers) and cycles exactly.

PE sets are exhaustive: BitVert -- every INT8 value in every lane, every group constant in
[-16, 15], every column constant / all-zero case; BitMoD -- every (selector, code) in every lane,
FP16 corner activations (zero, subnormals, max, negatives), scales 0, 1, 128, 255.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEVELS = ("model", "hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export) and the
#: numpy-only harness module it needs beside the shared ones
COCOTB_MODULE = "testbenches.tb_bitserial"
COCOTB_HARNESS = ("bitserial_driver.py",)


@dataclass
class VectorSet:
    name: str
    pe: str                    # bitvert | bitmod
    rows: int
    cols: int
    fmt: str = "int8"
    group_size: int = 16
    tiles: list = field(default_factory=list)   # [tile][issue] -> dict of port values (python ints / lists)


# ---- vectors ----------------------------------------------------------------------------------------
def _bitvert_issue(rng, rows, cols, w=None, off=None):
    acts = rng.integers(-128, 128, size=(cols, 16)).tolist()
    if w is None:
        w = rng.integers(-128, 128, size=(rows, 16))
        mode = rng.integers(0, 4)
        if mode == 1:        # constant low columns, as rounded averaging leaves them
            w = (w & ~15) | rng.integers(0, 16, size=(rows, 1))
        elif mode == 2:      # sparse
            w = np.where(rng.random((rows, 16)) < 0.7, 0, w)
    if off is None:
        off = rng.integers(-16, 16, size=rows) * (rng.random(rows) < 0.5)
    return dict(act=acts, w=np.asarray(w).tolist(), offset=np.asarray(off).tolist())


def bitvert_vectors(rows: int = 1, cols: int = 1, seed: int = 0, exhaustive: bool = True,
                    n_tiles: int = 6, groups: int = 4) -> VectorSet:
    rng = np.random.default_rng(seed)
    vs = VectorSet(f"bitvert_{rows}x{cols}_s{seed}", "bitvert", rows, cols)
    if exhaustive:
        tile = []
        for v in range(256):      # every INT8 value in every lane (lane i: v + 37 i)
            w = [[((v + 37 * i + 17 * r) % 256) - 128 for i in range(16)] for r in range(rows)]
            tile.append(_bitvert_issue(rng, rows, cols, w, [((v % 32) - 16)] * rows))
            if len(tile) == 32:
                vs.tiles.append(tile)
                tile = []
        specials = [[0] * 16, [-1] * 16, [-128] * 16, [127] * 16, [5] * 16, [-128] * 8 + [127] * 8,
                    [1, -1] * 8, list(range(-8, 8))]
        for s in specials:
            for off in (0, 7, -16):
                tile.append(_bitvert_issue(rng, rows, cols, [s] * rows, [off] * rows))
        # the largest magnitudes: all activations -128 against all-negative weights
        tile.append(dict(act=[[-128] * 16] * cols, w=[[-128] * 16] * rows, offset=[0] * rows))
        tile.append(dict(act=[[-128] * 16] * cols, w=[[-1] * 16] * rows, offset=[-16] * rows))
        vs.tiles.append(tile)
    for _ in range(n_tiles):
        vs.tiles.append([_bitvert_issue(rng, rows, cols) for _ in range(groups)])
    return vs


_FP16_CORNERS = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x3555, 0xC123]


def _rand_fp16(rng, n):
    x = (rng.standard_normal(n) * rng.choice([1e-3, 0.5, 30.0], size=n)).astype(np.float16)
    return x.view(np.uint16).astype(int).tolist()


def bitmod_vectors(rows: int = 1, cols: int = 1, fmt: str = "bitmod4", group_size: int = 8, seed: int = 0,
                   exhaustive: bool = True, n_tiles: int = 4, groups: int = 3) -> VectorSet:
    from rtl_gen.bitserial.bitmod import decoder_table
    _, _, _, bits, n_meta = decoder_table(fmt)
    rng = np.random.default_rng(seed)
    vs = VectorSet(f"bitmod_{fmt}_{rows}x{cols}_g{group_size}_s{seed}", "bitmod", rows, cols, fmt, group_size)
    steps = group_size // 4

    def issue(codes, meta, scale, lig, acts=None):
        return dict(act=acts if acts is not None else [_rand_fp16(rng, 4) for _ in range(cols)],
                    code=codes, meta=meta, scale=scale, last_in_group=lig)

    if exhaustive:
        tile = []
        combos = [(mi, c) for mi in range(n_meta) for c in range(1 << bits)]
        k = 0
        for j in range(0, len(combos), 1):
            mi, c = combos[j]
            codes = [[(c + 5 * l + 3 * r) % (1 << bits) for l in range(4)] for r in range(rows)]
            lig = int((k + 1) % steps == 0)
            acts = [[_FP16_CORNERS[(j + l + cc) % len(_FP16_CORNERS)] for l in range(4)] for cc in range(cols)]
            sc = [(0, 1, 128, 255, 77)[j % 5]] * rows
            tile.append(issue(codes, [mi] * rows, sc, lig, acts))
            k += 1
        while k % steps:
            tile.append(issue([[0] * 4] * rows, [0] * rows, [3] * rows, int((k + 1) % steps == 0)))
            k += 1
        vs.tiles.append(tile)
    for _ in range(n_tiles):
        tile = []
        for g in range(groups):
            meta = rng.integers(0, n_meta, size=rows).tolist()
            sc = rng.integers(0, 256, size=rows).tolist()
            for s in range(steps):
                codes = rng.integers(0, 1 << bits, size=(rows, 4)).tolist()
                tile.append(issue(codes, meta, sc, int(s == steps - 1)))
        vs.tiles.append(tile)
    return vs


# ---- expected (closed forms) and the model level (a cycle-stepped emulation) ---------------------------
def _fp16_fixed(bitsv: int) -> int:
    s, e, f = bitsv >> 15, (bitsv >> 10) & 31, bitsv & 1023
    if e == 31:
        raise ValueError("FP16 inf/nan activation")
    mag = f if e == 0 else ((1024 | f) << (e - 1))
    return -mag if s else mag


def expected_of(vs: VectorSet) -> dict:
    """Closed forms: results = exact integer dot products of the decoded values (numpy on Python ints),
    cycles = 1 + sum over issues of the slowest row's closed-form cycles (pe_model)."""
    from hwsim.bitserial import pe_model
    results, cycles = [], []
    if vs.pe == "bitvert":
        for tile in vs.tiles:
            acc = np.zeros((vs.rows, vs.cols), dtype=object)
            cyc = 1
            for it in tile:
                w = np.asarray(it["w"], np.int64)
                off = np.asarray(it["offset"], np.int64)
                c, _, _ = pe_model.bitvert_group_info(w.reshape(vs.rows, 1, 16), off.reshape(vs.rows, 1))
                cyc += int(c.max())
                a = np.asarray(it["act"], np.int64)
                acc += (w @ a.T - off[:, None] * a.sum(axis=1)[None, :]).astype(object)
            results.append(acc.tolist())
            cycles.append(cyc)
        return dict(results=results, cycles=cycles)
    from rtl_gen.bitserial.bitmod import decoder_table
    levels, terms, _, _, _ = decoder_table(vs.fmt)
    for tile in vs.tiles:
        acc = [[0] * vs.cols for _ in range(vs.rows)]
        gacc = [[0] * vs.cols for _ in range(vs.rows)]
        cyc = 1
        for it in tile:
            nt = max(1, max(len(terms[it["meta"][r]][it["code"][r][l]]) for r in range(vs.rows) for l in range(4)))
            cyc += nt + (8 if it["last_in_group"] else 0)
            for r in range(vs.rows):
                for c in range(vs.cols):
                    gacc[r][c] += sum(_fp16_fixed(it["act"][c][l]) * int(levels[it["meta"][r], it["code"][r][l]])
                                      for l in range(4))
                    if it["last_in_group"]:
                        acc[r][c] += it["scale"][r] * gacc[r][c]
                        gacc[r][c] = 0
        results.append(acc)
        cycles.append(cyc)
    return dict(results=results, cycles=cycles)


def run_model(vs: VectorSet) -> dict:
    """The functional/cycle model stepped cycle by cycle: every PE's operations (BitVert: its column /
    constant operations from pe_model.bitvert_pe_trace; BitMoD: one term per lane per cycle, then the 8
    bit-serial dequantisation cycles), the array advancing when the slowest PE is done."""
    from hwsim.bitserial import pe_model
    results, cycles = [], []
    if vs.pe == "bitmod":
        from rtl_gen.bitserial.bitmod import decoder_table
        _, terms, _, _, _ = decoder_table(vs.fmt)
    for tile in vs.tiles:
        acc = [[0] * vs.cols for _ in range(vs.rows)]
        gacc = [[0] * vs.cols for _ in range(vs.rows)]
        cyc = 1                                   # the load cycle
        for it in tile:
            if vs.pe == "bitvert":
                ops = [[pe_model.bitvert_pe_trace(np.asarray(it["act"][c]), np.asarray(it["w"][r]),
                                                  int(it["offset"][r])) for c in range(vs.cols)]
                       for r in range(vs.rows)]
                n = max(len(o) for row in ops for o in row)
                for t in range(n):                # one operation per PE per cycle
                    for r in range(vs.rows):
                        for c in range(vs.cols):
                            if t < len(ops[r][c]):
                                acc[r][c] += ops[r][c][t][1]
                    cyc += 1
                continue
            tl = [[terms[it["meta"][r]][it["code"][r][l]] for l in range(4)] for r in range(vs.rows)]
            n = max(1, max(len(x) for row in tl for x in row))
            fx = [[_fp16_fixed(it["act"][c][l]) for l in range(4)] for c in range(vs.cols)]
            for t in range(n):
                for r in range(vs.rows):
                    for c in range(vs.cols):
                        for l in range(4):
                            if t < len(tl[r][l]):
                                sg, sh = tl[r][l][t]
                                v = fx[c][l] << sh
                                gacc[r][c] += -v if sg else v
                cyc += 1
            if it["last_in_group"]:
                dq = [[0] * vs.cols for _ in range(vs.rows)]
                for b in reversed(range(8)):      # MSB first, one scale bit per cycle
                    for r in range(vs.rows):
                        for c in range(vs.cols):
                            dq[r][c] = 2 * dq[r][c] + (gacc[r][c] if (it["scale"][r] >> b) & 1 else 0)
                    cyc += 1
                for r in range(vs.rows):
                    for c in range(vs.cols):
                        acc[r][c] += dq[r][c]
                        gacc[r][c] = 0
        results.append(acc)
        cycles.append(cyc)
    return dict(results=results, cycles=cycles)


# ---- level: hwsim (the simulator's cycle kernels on the same weights; results via pe_model traces) -
def run_hwsim(vs: VectorSet) -> dict:
    from hwsim.bitserial import pe_model
    from hwsim.bitserial.kernels import bitmod_tile_cycles, bitvert_tile_cycles
    cycles, results = [], []
    for tile in vs.tiles:
        stats = np.zeros(4, np.int64)
        out = np.zeros(1, np.int64)
        if vs.pe == "bitvert":
            w = np.stack([np.asarray(it["w"], np.int64) for it in tile], axis=1)      # [rows, G, 16]
            off = np.stack([np.asarray(it["offset"], np.int64) for it in tile], axis=1)
            c, _, _ = pe_model.bitvert_group_info(w, off)
            bitvert_tile_cycles(c.astype(np.int64), vs.rows, out, stats)
            acc = [[0] * vs.cols for _ in range(vs.rows)]
            for gi, it in enumerate(tile):       # the PE's own cycle-by-cycle operations
                for r in range(vs.rows):
                    for cc in range(vs.cols):
                        acc[r][cc] += sum(v for _, v in pe_model.bitvert_pe_trace(
                            np.asarray(it["act"][cc]), np.asarray(it["w"][r]), int(it["offset"][r])))
            results.append(acc)
        else:
            from rtl_gen.bitserial.bitmod import decoder_table
            levels, terms, _, bits, n_meta = decoder_table(vs.fmt)
            lut = np.zeros((n_meta, 256), np.int64)
            for mi in range(n_meta):
                for cd in range(1 << bits):
                    lut[mi, cd] = len(terms[mi][cd])
            codes = np.asarray([[cd for it in tile for cd in it["code"][r]] for r in range(vs.rows)], np.uint8)
            g = vs.group_size
            meta = np.asarray([[tile[s]["meta"][r] for s in range(0, len(tile), g // 4)] for r in range(vs.rows)],
                              np.uint8)
            bitmod_tile_cycles(codes, meta, lut, g, vs.rows, out, stats)
            results.append(None)
        cycles.append(int(out[0]))
    return dict(results=results, cycles=cycles)


# ---- the shared host driver (amaranth.sim and cocotb) -----------------------------------------------
def _pack(values, width: int) -> int:
    flat = np.asarray(values, dtype=object).reshape(-1).tolist()
    v = 0
    for i, x in enumerate(flat):
        v |= (int(x) & ((1 << width) - 1)) << (i * width)
    return v


def port_values(vs: VectorSet, it: dict, code_bits: int = 4, meta_bits: int = 2) -> dict:
    if vs.pe == "bitvert":
        return dict(act=_pack(it["act"], 8), w=_pack(it["w"], 8), offset=_pack(it["offset"], 8))
    return dict(act=_pack(it["act"], 16), code=_pack(it["code"], code_bits), meta=_pack(it["meta"], meta_bits),
                scale=_pack(it["scale"], 8), last_in_group=int(it["last_in_group"]))


async def drive(io, edge, vs: VectorSet, acc_width: int, code_bits: int = 4, meta_bits: int = 2) -> dict:
    """io.set(name, int); await io.sample(name) -> int (settled, before the edge); edge(): one clock edge
    (the driver sets all inputs of a cycle before it samples anything in that cycle). The tiles go through
    ``testbenches.bitserial_driver.drive_tiles`` (the cocotb test's driver); results per tile as rows."""
    from .bitserial_driver import drive_tiles

    tiles = [[port_values(vs, it, code_bits, meta_bits) for it in tile] for tile in vs.tiles]
    raw = await drive_tiles(io, edge, tiles, vs.rows * vs.cols, acc_width)
    return dict(results=[[res[r * vs.cols:(r + 1) * vs.cols] for r in range(vs.rows)] for res in raw["results"]],
                cycles=raw["cycles"])


def dut_for(vs: VectorSet):
    from rtl_gen.bitserial import BitModArray, BitVertArray
    if vs.pe == "bitvert":
        return BitVertArray(vs.rows, vs.cols)
    return BitModArray(vs.rows, vs.cols, vs.group_size, vs.fmt)


def run_amaranth(vs: VectorSet) -> dict:
    from amaranth.sim import Simulator
    dut = dut_for(vs)
    out = {}

    class IO:
        def __init__(self, ctx):
            self.ctx = ctx

        def set(self, k, v):
            self.ctx.set(getattr(dut, k).as_value() if hasattr(getattr(dut, k), "as_value") else getattr(dut, k), v)

        async def between_tiles(self):
            pass

        async def sample(self, k):
            s = getattr(dut, k)
            return int(self.ctx.get(s.as_value() if hasattr(s, "as_value") else s))

    async def tb(ctx):
        io = IO(ctx)

        async def edge():
            await ctx.tick()
        out.update(await drive(io, edge, vs, dut.acc_width, getattr(dut, "code_bits", 4), getattr(dut, "meta_bits", 2)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out


class _widths:
    """The port widths the driver needs, without elaborating a second component."""

    def __init__(self, vs: VectorSet):
        if vs.pe == "bitvert":
            self.acc_width, self.code_bits, self.meta_bits = 32, 4, 2
        else:
            from rtl_gen.bitserial.bitmod import decoder_table
            _, _, _, self.code_bits, n_meta = decoder_table(vs.fmt)
            self.meta_bits = max(1, (n_meta - 1).bit_length())
            self.acc_width = 80


def emit(vs: VectorSet, root: str | Path = "build"):
    from rtl_gen.verilog import emit_component
    top = f"bs_{vs.pe}_{vs.rows}x{vs.cols}" + (f"_{vs.fmt}_g{vs.group_size}" if vs.pe == "bitmod" else "")
    return emit_component(dut_for(vs), top, root)


def cocotb_vectors(vs):
    """The vector file of the cocotb test (``testbenches.bitserial_driver``) for a bench vector set (or a
    bit-serial :class:`VectorSet`, whose expected values then come from :func:`expected_of`): every
    issue's packed port values, the tile of every issue, the expected accumulators and cycles."""
    from .vectorset import VectorSet as HVectorSet
    bs = vs.info["bs"] if isinstance(vs, HVectorSet) else vs
    if isinstance(vs, HVectorSet):
        exp = dict(vs.expected)
    else:
        e = expected_of(bs)
        exp = {"outputs": _flat(e["results"]), "cycles": np.asarray(e["cycles"], np.int64)}
    w = _widths(bs)
    issues = [port_values(bs, it, w.code_bits, w.meta_bits) for tile in bs.tiles for it in tile]
    inputs = {"issue": np.arange(len(issues)),
              "tile": np.array([t for t, tile in enumerate(bs.tiles) for _ in tile], np.int64)}
    for k in issues[0]:
        a = np.empty(len(issues), dtype=object)
        a[:] = [int(x[k]) for x in issues]
        inputs[k] = a
    return HVectorSet(name=bs.name, kind="bitserial", inputs=inputs, expected=exp)


def run_verilator(vs, root: str | Path = "build", art_dir: str | Path | None = None) -> dict:
    """cocotb (``testbenches.tb_bitserial``, self-checking) on the emitted Verilog through
    ``testbenches.bench.cocotb_run``; results per tile as rows. ``vs``: a bit-serial :class:`VectorSet` or
    the bench's vector set."""
    from .bench import cocotb_run
    from .vectorset import VectorSet as HVectorSet
    bs = vs.info["bs"] if isinstance(vs, HVectorSet) else vs
    directory = Path(art_dir) if art_dir is not None else emit(bs, root).directory
    flat, _, run = cocotb_run(directory, cocotb_vectors(vs), COCOTB_MODULE)
    n = bs.rows * bs.cols
    res = [int(x) for x in flat["outputs"]]
    out = dict(results=[[res[t * n + r * bs.cols:t * n + (r + 1) * bs.cols] for r in range(bs.rows)]
                        for t in range(len(res) // n)],
               cycles=[int(c) for c in flat["cycles"]])
    if run.failed or not run.tests:          # the cocotb test's own verdict (the checker says what differs)
        out["_runner_failed"] = True
    return out


def run_level(level: str, vs: VectorSet, **kw) -> dict:
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: allowed: {', '.join(LEVELS)}")
    return {"model": run_model, "hwsim": run_hwsim, "amaranth": run_amaranth, "verilator": run_verilator}[level](vs, **kw)


def compare(vs: VectorSet, expected: dict, got: dict, level: str) -> list[str]:
    """Mismatches (empty when bit-exact and cycle-exact)."""
    errs = []
    if got["cycles"] != expected["cycles"]:
        bad = [i for i, (a, b) in enumerate(zip(got["cycles"], expected["cycles"])) if a != b]
        errs.append(f"{level}: cycles differ in tiles {bad[:5]}: {[got['cycles'][i] for i in bad[:5]]} != "
                    f"{[expected['cycles'][i] for i in bad[:5]]}")
    for t, (g, e) in enumerate(zip(got["results"], expected["results"])):
        if g is None:
            continue
        if [[int(x) for x in row] for row in g] != [[int(x) for x in row] for row in e]:
            errs.append(f"{level}: results differ in tile {t}")
    return errs


# ---- the registry's bench protocol (testbenches.bench.verify) --------------------------------------------
def vectors(design, component=None, seed: int = 0, exhaustive: bool | None = None, n_tiles: int = 4):
    """One seeded vector set for a ``kind: bitserial`` design's array (<= 4 x 4): a 1x1 array gets the
    exhaustive PE set, larger arrays seeded tiles. Expected outputs and cycles from the closed forms."""
    from .vectorset import VectorSet as HVectorSet
    a, w = design.array, design.weights
    if a.rows > 4 or a.cols > 4:
        raise ValueError(f"{design.source}: array {a.rows}x{a.cols}: the RTL arrays go up to 4x4")
    ex = (a.rows * a.cols == 1) if exhaustive is None else exhaustive
    if a.pe == "bitvert":
        bs = bitvert_vectors(a.rows, a.cols, seed, exhaustive=ex, n_tiles=n_tiles)
    else:
        bs = bitmod_vectors(a.rows, a.cols, w.format, w.group_size, seed, exhaustive=ex, n_tiles=n_tiles)
    exp = expected_of(bs)
    n_issues = sum(len(t) for t in bs.tiles)
    return HVectorSet(name=bs.name, kind="bitserial", inputs={"issue": np.arange(n_issues)},
                      expected={"outputs": _flat(exp["results"]), "cycles": np.asarray(exp["cycles"], np.int64)},
                      info={"bs": bs})


def _flat(results) -> np.ndarray:
    return np.asarray([int(x) for tile in results for row in tile for x in row], dtype=object)


def describe(design, component, vs) -> str:
    bs = vs.info["bs"]
    return (f"{bs.name}: {len(bs.tiles)} tiles, {vs.n} issues ({'groups of 16' if bs.pe == 'bitvert' else '4-weight steps'}), "
            f"{int(np.sum(vs.expected['cycles'])):,} expected cycles")


def run(level: str, design, component, vs, art_dir, waves: bool = False, log=None):
    bs = vs.info["bs"]
    got = run_verilator(vs, art_dir=art_dir) if level == "verilator" else run_level(level, bs)
    out = {"cycles": np.asarray(got["cycles"], np.int64)}
    if got.get("_runner_failed"):
        out["_runner_failed"] = True
    if all(r is not None for r in got["results"]):
        out["outputs"] = _flat(got["results"])
    note = None if "outputs" in out else f"{level}: cycles only (the Numba cycle kernels compute no outputs)"
    return out, note


def check(vs, got: dict, level: str):
    from .vectors import CheckResult
    bad = []
    for key, exp in vs.expected.items():
        if key not in got:
            continue
        g, e = np.asarray(got[key], dtype=object), np.asarray(exp, dtype=object)
        if g.shape != e.shape:
            bad.append(f"{key}: {level} gave {g.shape} values, expected {e.shape}")
            continue
        idx = [i for i in range(e.size) if int(g[i]) != int(e[i])]
        bad += [f"{key}[{i}]: {level} {g[i]}, expected {e[i]}" for i in idx[:5]]
    checked = sum(np.asarray(vs.expected[k]).size for k in vs.expected if k in got)
    return CheckResult(vs.name, level, not bad and checked > 0, vs.n, checked, int(np.sum(vs.expected["cycles"])), bad)
