"""The systolic-array verification loop: one seeded workload set, every level, one checker.

    cfg = SystolicConfig.from_design(design)
    vs = systolic_vectors(cfg, [(5, 7, 9), (20, 13, 30)], seed=0)
    got = run_model(cfg, vs)          # hwsim.pe.reference_gemm                       (functional)
    got = run_hwsim(cfg, vs)          # hwsim cycle-level kernels                     (cycle-level)
    got = run_amaranth(comp, vs)      # amaranth.sim on the generated component       (RTL)
    got = run_verilator(art_dir, vs)  # cocotb/Verilator on the emitted Verilog       (RTL)
    res = check(vs, got, "verilator")

Expected values do not come from any of the backends:
  outputs         the exact integer GEMM of the datatypes model's decoded values (``code_values`` as
                  float32, turned into exact integers at the design's binary point, Python-int matmul,
                  wrapped to the accumulator): ``exact_reference``
  cycles          docs/systolic.md's closed form (``hwsim.systolic.FoldPlan.cycles``)
  write_cycles    the cycle of the last write of every Y element, closed form (``FoldPlan.write_cycles``)
  writes          result-memory writes (``FoldPlan.sram_accesses()['output_writes']``)
  acc_writes      writes that accumulate (``... ['output_reads']``: one read per accumulate)
All comparisons are ``np.array_equal``.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .vectors import CheckResult
from .systolic_driver import jobs_of, raw_from_arrays, raw_to_arrays  # noqa: F401  (re-exported)
from .vectorset import VectorSet

#: What each backend produces (the functional model has no clock).
KEYS = {"model": ("outputs",),
        "hwsim": ("outputs", "cycles", "write_cycles", "writes", "acc_writes"),
        "amaranth": ("outputs", "cycles", "write_cycles", "writes", "acc_writes"),
        "verilator": ("outputs", "cycles", "write_cycles", "writes", "acc_writes")}


def default_shapes(R: int, C: int) -> list[tuple[int, int, int]]:
    """GEMM shapes (M, N, K) for an R x C array: a single MAC, exact tiles, non-multiples of the array
    size with several folds in both array dimensions, and one long stream."""
    return [(1, 1, 1), (R, C, R), (2 * R + 1, C + 3, 3 * R - 1), (3, 2 * C + 1, R + 2),
            (3 * C + 2, 2, 2 * R + 3), (max(R, C) + 5, 2 * C - 1 or 1, 1)]


def exact_reference(a_codes: np.ndarray, w_codes: np.ndarray, weight: str, activation: str, acc_bits: int,
                    frac_w: int, frac_a: int, scales: tuple | None = None) -> np.ndarray:
    """wrap(decode(A) @ decode(W)) from the datatypes model with Python integers (independent of
    hwsim.pe and rtl_gen.arith): values as float32 (what the dequantizer multiplies), scaled by
    2**frac exactly (an error if not an integer), exact matmul, wrapped to ``acc_bits``. Weight formats
    with a per-group selector: lane ``code | selector << bits`` has the value ``code_values(selector)[code]``.
    ``scales`` = (S_w [G, N], S_a [M], group, width): the scale epilogue's exact result instead,
    ``wrap_width(sum_k (a * S_a[m]) * (w * S_w[k // group, n]))`` at binary point frac_w + frac_a + 2*scale_frac."""
    import datatypes as dt

    def values(name):
        f = dt.get(name)
        if f.family == "int":
            return f.code_values(None)
        if f.n_meta > 1 and name == weight:
            bits = (f.n_meta - 1).bit_length()
            vals = np.full((1 << bits) << f.bits, np.nan)
            for sel in range(f.n_meta):
                vals[sel << f.bits:(sel + 1) << f.bits] = f.code_values(sel)
            return vals
        return f.code_values()

    def table(name, frac):
        out = []
        for v in np.asarray(values(name), np.float64).astype(np.float32).tolist():
            if not np.isfinite(v):
                out.append(None)
                continue
            x = Fraction(v) * (1 << frac)
            if x.denominator != 1:
                raise AssertionError(f"{name}: value {v} is not a multiple of 2**-{frac}")
            out.append(int(x))
        return out

    ta, tw = table(activation, frac_a), table(weight, frac_w)
    a = np.array([[ta[c] for c in row] for row in np.asarray(a_codes).tolist()], dtype=object)
    w = np.array([[tw[c] for c in row] for row in np.asarray(w_codes).tolist()], dtype=object)
    if scales is not None:
        S_w, S_a, group, width = scales
        y = np.zeros((a.shape[0], w.shape[1]), dtype=object)
        for k in range(a.shape[1]):                     # element by element: no per-group sums here
            y = y + np.outer(a[:, k] * np.asarray(S_a, dtype=object), w[k] * np.asarray(S_w[k // group], dtype=object))
        acc_bits = width
    else:
        y = a.dot(w)
    half, mod = 1 << (acc_bits - 1), 1 << acc_bits
    return np.array([[((int(v) + half) % mod) - half for v in row] for row in y],
                    dtype=np.int64 if acc_bits <= 64 else object)


def _sim(cfg):
    """hwsim's simulator of the same machine (for operands and the cycle-level backend)."""
    from hwsim.design import from_dict
    from hwsim.systolic.sim import SystolicSim

    kb = cfg.mem_kb
    d = {"schema": 1, "name": cfg.name, "kind": "systolic",
         "array": {"rows": cfg.rows, "cols": cfg.cols, "dataflow": cfg.dataflow, "pe_latency": cfg.pe_latency},
         "operands": {"weight": cfg.spec.weight.format, "activation": cfg.spec.activation.format,
                      "accumulator": f"int{cfg.acc_bits}"},
         "memory": {"ifmap_kb": kb[0], "filter_kb": kb[1], "ofmap_kb": kb[2], "backing": "none"}}
    e = cfg.epilogue
    if e is not None:
        d["operands"]["group_size"] = e.group
        d["epilogue"] = {"scales": "fixed", "scale_bits": e.scale_bits, "scale_frac": e.scale_frac, "width": e.width}
    return SystolicSim(from_dict(d))


def systolic_vectors(cfg, shapes: Sequence[tuple[int, int, int]] | None = None, seed: int = 0,
                     operands: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
                     name: str | None = None) -> VectorSet:
    """One seeded workload set for an array: random decodable codes per shape (or the given
    ``operands``: (A codes [M, K], W codes [K, N]) pairs), the memory images, and the expected values
    (see the module docstring)."""
    from hwsim.pe.model import pe_format
    from hwsim.systolic.timing import FoldPlan
    from hwsim.workloads import Gemm

    sim = _sim(cfg)
    ep = cfg.epilogue
    if operands is None:
        shapes = list(shapes) if shapes is not None else default_shapes(cfg.rows, cfg.cols)
        if ep is not None and shapes == default_shapes(cfg.rows, cfg.cols):
            # several K-groups, the last one partial
            shapes.append((cfg.rows + 1, cfg.cols + 1, 2 * ep.group + cfg.rows + 1))
        operands = [sim.random_operands(Gemm(M, N, K), seed=seed + i) for i, (M, N, K) in enumerate(shapes)]
    ops = []
    for op in operands:
        if len(op) != (4 if ep is not None else 2):
            raise ValueError(f"operands of {cfg.name}: (A codes, W lanes{', S_w, S_a' if ep else ''}), got "
                             f"{len(op)} arrays")
        a, w = op[0], op[1]
        a = sim.afmt.check_codes(a, "activation codes")
        w = sim.wfmt.check_codes(w, "weight codes")
        if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0]:
            raise ValueError(f"operands must be A [M, K] and W [K, N], got {a.shape} and {w.shape}")
        cfg.check_workload(a.shape[0], w.shape[1], a.shape[1])
        if ep is not None:
            from hwsim.workloads import Gemm as _G

            _, _, S_w, S_a = sim._check_data(_G(a.shape[0], w.shape[1], a.shape[1]), (a, w, op[2], op[3]))
            ops.append((a, w, S_w, S_a))
        else:
            ops.append((a, w))
    sp = cfg.spec
    fw, fa = sim.wfmt.frac_bits, pe_format(sp.activation.format).frac_bits
    shapes_arr, a_flat, w_flat, act, act_off, wgt, wgt_off, res_words = [], [], [], [], [0], [], [0], []
    y, cyc, wc, writes, accw = [], [], [], [], []
    sw_flat, sa_flat, wsw, wsw_off, asw, asw_off = [], [], [], [0], [], [0]
    for op in ops:
        a, w = op[0], op[1]
        M, K = a.shape
        N = w.shape[1]
        shapes_arr.append((M, N, K))
        a_flat.append(a.ravel())
        w_flat.append(w.ravel())
        aw, ww = cfg.pack(a, w, poison=True)          # padding must not matter: make it non-zero
        act.append(aw)
        wgt.append(ww)
        act_off.append(act_off[-1] + len(aw))
        wgt_off.append(wgt_off[-1] + len(ww))
        res_words.append(cfg.words_needed(M, N, K)["result"])
        plan = FoldPlan(cfg.dataflow, cfg.rows, cfg.cols, cfg.pe_latency, M, N, K)
        scales = None
        if ep is not None:
            S_w, S_a = op[2], op[3]
            sw_flat.append(S_w.ravel())
            sa_flat.append(S_a.ravel())
            ws_img, as_img = cfg.pack_scales(S_w, S_a)
            wsw.append(ws_img)
            asw.append(as_img)
            wsw_off.append(wsw_off[-1] + len(ws_img))
            asw_off.append(asw_off[-1] + len(as_img))
            scales = (S_w, S_a, ep.group, ep.width)
        y.append(exact_reference(a, w, sp.weight.format, sp.activation.format, cfg.acc_bits, fw, fa,
                                 scales).ravel())
        cyc.append(plan.cycles)
        wc.append(plan.write_cycles().ravel())
        acc = plan.sram_accesses()
        writes.append(acc["output_writes"])
        accw.append(acc["output_reads"])
    inputs = {"shapes": np.array(shapes_arr, np.int64), "a_codes": np.concatenate(a_flat).astype(np.int64),
              "w_codes": np.concatenate(w_flat).astype(np.int64),
              "act_words": np.concatenate(act), "act_off": np.array(act_off, np.int64),
              "wgt_words": np.concatenate(wgt), "wgt_off": np.array(wgt_off, np.int64),
              "res_words": np.array(res_words, np.int64)}
    if ep is not None:
        inputs.update({"S_w": np.concatenate(sw_flat), "S_a": np.concatenate(sa_flat),
                       "ws_words": np.concatenate(wsw), "ws_off": np.array(wsw_off, np.int64),
                       "as_words": np.concatenate(asw), "as_off": np.array(asw_off, np.int64)})
    expected = {"outputs": np.concatenate(y), "cycles": np.array(cyc, np.int64),
                "write_cycles": np.concatenate(wc), "writes": np.array(writes, np.int64),
                "acc_writes": np.array(accw, np.int64)}
    macs = sum(M * N * K for M, N, K in shapes_arr)
    return VectorSet(name=name or f"systolic-{cfg.name}", kind="systolic", inputs=inputs, expected=expected,
                     info={"gemms": len(ops), "shapes": shapes_arr, "macs": macs, "seed": seed,
                           "operand_codes": int(inputs["a_codes"].size + inputs["w_codes"].size),
                           "outputs": int(expected["outputs"].size), "cycles": int(sum(cyc))})


def operands_of(vs: VectorSet, group: int | None = None) -> list[tuple[np.ndarray, ...]]:
    """(A, W) per GEMM; with the scale epilogue (``group`` given) (A, W, S_w, S_a)."""
    out, ia, iw, isw, isa = [], 0, 0, 0, 0
    for M, N, K in vs.inputs["shapes"].tolist():
        a = vs.inputs["a_codes"][ia:ia + M * K].reshape(M, K).astype(np.uint8)
        w = vs.inputs["w_codes"][iw:iw + K * N].reshape(K, N).astype(np.uint8)
        ia, iw = ia + M * K, iw + K * N
        if group is None:
            out.append((a, w))
            continue
        G = -(-K // group)
        S_w = np.asarray(vs.inputs["S_w"][isw:isw + G * N], dtype=object).reshape(G, N)
        S_a = np.asarray(vs.inputs["S_a"][isa:isa + M], dtype=object)
        isw, isa = isw + G * N, isa + M
        out.append((a, w, S_w, S_a))
    return out


# ---- backends -----------------------------------------------------------------------------------
def run_model(cfg, vs: VectorSet) -> dict[str, np.ndarray]:
    """The functional level: hwsim.pe.reference_gemm (numpy int64 matmul of the decoded codes)."""
    from hwsim.pe.model import reference_gemm

    sp = cfg.spec
    if cfg.epilogue is not None:
        from hwsim.systolic.epilogue import reference

        e = cfg.epilogue
        ys = [reference(a, w, S_w, S_a, sp.weight.format, sp.activation.format, cfg.acc_bits, e.group,
                        e.width).ravel() for a, w, S_w, S_a in operands_of(vs, e.group)]
        return {"outputs": np.concatenate(ys)}
    ys = [reference_gemm(a, w, sp.weight.format, sp.activation.format, cfg.acc_bits).ravel()
          for a, w in operands_of(vs)]
    return {"outputs": np.concatenate(ys)}


def run_hwsim(cfg, vs: VectorSet) -> dict[str, np.ndarray]:
    """The cycle-level level: hwsim's kernels advance the array clock (outputs, cycles, write cycles,
    result writes and accumulate reads as counted by the kernel)."""
    from hwsim.systolic import kernels as K_
    from hwsim.workloads import Gemm

    sim = _sim(cfg)
    ys, cyc, wcs, wr, ac = [], [], [], [], []
    for op in operands_of(vs, cfg.epilogue.group if cfg.epilogue else None):
        a, w = op[0], op[1]
        out, cnt, wc = sim.run_layer_cycle(Gemm(a.shape[0], w.shape[1], a.shape[1]), *op, write_cycles=True)
        ys.append(out.ravel())
        wcs.append(wc.ravel())
        cyc.append(int(cnt[K_.CYCLES]))
        wr.append(int(cnt[K_.OUT_WRITES]))
        ac.append(int(cnt[K_.OUT_READS]))
    return {"outputs": np.concatenate(ys), "cycles": np.array(cyc, np.int64), "write_cycles": np.concatenate(wcs),
            "writes": np.array(wr, np.int64), "acc_writes": np.array(ac, np.int64)}


def decode_raw(cfg, vs: VectorSet, raw: dict[str, list]) -> dict[str, np.ndarray]:
    """Driver results -> the checked arrays (testbenches.systolic_driver.decode_results, the one decoder
    of the result region, also used by the cocotb test itself and by exported suites)."""
    from .systolic_driver import decode_results

    return decode_results(cfg.describe(), vs.inputs["shapes"].tolist(), raw)


def run_amaranth(comp, vs: VectorSet, vcd: str | None = None) -> dict[str, np.ndarray]:
    """The generated component under amaranth.sim, driven by the same host driver as cocotb."""
    from rtl_gen.verilog import describe_ports

    from .amaranth_sim import AmaranthIO, port_signals, run_clocked_sim
    from .systolic_driver import run_gemms

    ports = describe_ports(comp, "dut")
    sysdoc = ports["systolic"]
    box: dict[str, Any] = {}

    async def nothing():
        return None

    async def tb(ctx):
        io = AmaranthIO(ctx, port_signals(comp))

        async def tick():
            await ctx.tick()

        if "hostbus" in ports:
            from .hostbus_driver import run_gemms_bus

            box["raw"] = await run_gemms_bus(io, nothing, tick, ports, jobs_of(vs))
        else:
            box["raw"] = await run_gemms(io, nothing, tick, sysdoc, jobs_of(vs))

    run_clocked_sim(comp, tb, vcd)
    return decode_raw(comp.config, vs, box["raw"])


def run_verilator(cfg, art_dir: Path, vs: VectorSet, waves: bool = False, log=None):
    """Build (cached by Verilog hash) and run testbenches.tb_systolic; returns (results, note)."""
    from .bench import run_cocotb

    got, note = run_cocotb(art_dir, vs, COCOTB_MODULE, waves=waves, log=log)
    failed = got.pop("_runner_failed", None)
    out = decode_raw(cfg, vs, raw_from_arrays(got, vs))
    if failed:
        out["_runner_failed"] = True
    return out, note


# ---- checking ------------------------------------------------------------------------------------
def check(vs: VectorSet, got: dict[str, Any], backend: str, limit: int = 5) -> CheckResult:
    """Compare the backend's arrays with the expected ones (np.array_equal), naming the GEMM and
    element of the first mismatches."""
    keys = KEYS.get(backend, tuple(vs.expected))
    if backend in ("amaranth", "verilator") and "rtl_keys" in vs.info:     # behind a bus, no debug ports
        keys = tuple(k for k in keys if k in vs.info["rtl_keys"])
    shapes = vs.inputs["shapes"].tolist()
    bad: list[str] = []
    if "stray_writes" in got:
        bad.append(f"{int(got['stray_writes'][0])} result write(s) outside the result region or into padding lanes")
    for key in keys:
        if key not in got:
            bad.append(f"{key}: missing from the {backend} results")
            continue
        e, g = np.asarray(vs.expected[key]), np.asarray(got[key])
        if g.shape != e.shape:
            bad.append(f"{key}: {backend} gave {g.size} values, expected {e.size}")
            continue
        if not np.array_equal(g.astype(e.dtype), e):
            idx = np.nonzero(g.astype(e.dtype) != e)[0]
            for i in idx[:limit]:
                bad.append(f"{key}[{i}]{_where(shapes, key, int(i))}: {backend} {int(g[i])}, expected {int(e[i])}")
            if idx.size > limit:
                bad.append(f"{key}: {idx.size - limit} more mismatches")
    cycles = int(np.sum(got["cycles"])) if "cycles" in got else None
    checked = int(vs.expected["outputs"].size)   # each output: its value, and its write cycle if in keys
    return CheckResult(name=vs.name, backend=backend, ok=not bad,
                       vectors=int(vs.inputs["a_codes"].size + vs.inputs["w_codes"].size),
                       checked=checked, cycles=cycles, mismatches=bad,
                       what=None if "write_cycles" in keys or "cycles" not in keys else
                       "bit-exact, total array cycles exact (no write monitor: debug_ports false)")


def _where(shapes, key: str, i: int) -> str:
    if key in ("outputs", "write_cycles"):
        for g, (M, N, K) in enumerate(shapes):
            if i < M * N:
                return f" (GEMM {g} {M}x{N}x{K}, Y[{i // N}, {i % N}])"
            i -= M * N
        return ""
    if i < len(shapes):
        M, N, K = shapes[i]
        return f" (GEMM {i} {M}x{N}x{K})"
    return ""


def describe_vectors(vs: VectorSet) -> str:
    i = vs.info
    shapes = ", ".join(f"{M}x{N}x{K}" for M, N, K in i["shapes"])
    return (f"vectors: {i['gemms']} GEMMs (MxNxK: {shapes}; seed {i['seed']}), {i['operand_codes']:,} operand "
            f"codes, {i['macs']:,} MACs, {i['outputs']:,} outputs + their write cycles, {i['cycles']:,} array cycles")


def ports_systolic(ports_json: Path) -> dict:
    return json.loads(Path(ports_json).read_text())["systolic"]


# ---- the bench of the kind (testbenches.bench.verify) ------------------------------------------
LEVELS = ("model", "hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export)
COCOTB_MODULE = "testbenches.tb_systolic"


def vectors(design, component, seed: int = 0, shapes: Sequence[tuple[int, int, int]] | None = None,
            operands: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> VectorSet:
    vs = systolic_vectors(component.config, shapes, seed=seed, operands=operands, name=f"systolic-{design.name}")
    doc = component.ports_doc()
    if "hostbus" in doc or "monitor" not in doc["systolic"]:     # behind a bus, or without debug ports
        from .hostbus_driver import checked_keys

        vs.info["rtl_keys"] = list(checked_keys(doc))
        vs.info["host_bus"] = doc["hostbus"]["bus"] if "hostbus" in doc else "wide"
    return vs


def describe(design, component, vs: VectorSet) -> str:
    text = describe_vectors(vs)
    if "rtl_keys" in vs.info:
        text += (f"; the RTL ({vs.info['host_bus']} host side, no debug ports) shows "
                 f"{' and '.join(vs.info['rtl_keys'])}" +
                 (" (array cycles from the CYCLES CSR)" if vs.info["host_bus"] != "wide" else ""))
    return text


def run(level, design, component, vs: VectorSet, art_dir: Path, waves: bool = False, log=None):
    cfg = component.config
    if level == "model":
        return run_model(cfg, vs), None
    if level == "hwsim":
        return run_hwsim(cfg, vs), None
    if level == "amaranth":
        return run_amaranth(component, vs), None
    got, note = run_verilator(cfg, art_dir, vs, waves=waves, log=log)
    if "load_cycles" in got:
        return got, note + (f"; {vs.info.get('host_bus', 'bus')}: {int(np.sum(got['cycles'])):,} array cycles "
                            f"(CYCLES CSR), bus transfers {int(np.sum(got['load_cycles'])):,} cycles loading, "
                            f"{int(np.sum(got['poll_cycles'])):,} polling, {int(np.sum(got['readback_cycles'])):,} "
                            f"reading back; checked: {', '.join(vs.info['rtl_keys'])}")
    return got, note + (f", {int(np.sum(got['cycles'])) + int(np.sum(got['io_cycles'])):,} cycles incl. host "
                        f"loads/read-back")
