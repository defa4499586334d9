"""The lutnet simulator: a design's netlist, its cycle-level pipeline model, and the result protocol.

    sim = build(design)                   # trains (source: digits, seeded), loads or draws the netlist
    res = sim.run("dataset:digits")       # the test split; or "samples:N" (seeded uniform random codes)
    res.to_dict(), res.render(), res.layer_rows()

Workloads: ``dataset:digits`` (the 360 test samples of scikit-learn's digits, 80/20 stratified split,
random_state 0; accuracy reported) and ``samples:N`` (N uniformly random input codes, seed ``seed``).

Timing contract (docs/lutnet.md): a register on every layer's input (clears to 0 on reset), combinational
tables, optional output register; a 1-bit valid shift register beside the data. A sample presented in cycle c
(captured at the end of c) is on ``out_data`` with ``out_valid`` in cycle c + latency, latency = layers
(+1 with ``out_reg``); initiation interval 1. ``stats.cycles`` = N + latency: cycles from the first input to
the last output inclusive, streaming back to back. mode ``cycle`` steps :class:`Pipeline` one clock at a
time; ``analytical`` evaluates the netlist on all samples at once and uses the closed form; tests check that
both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .netlist import (
    LutNet,
    NetlistError,
    neuron_lut_cost,
    random_netlist,
    remove_unused_inputs,
)


class WorkloadError(ValueError):
    """A workload string this kind cannot run; the message says what is allowed."""


# -- the design's netlist --------------------------------------------------------------------------------------
@dataclass
class Built:
    net: LutNet
    info: dict[str, Any] = field(default_factory=dict)     #: accuracies, shrink report, training time


def train_config(design):
    from .train import TrainConfig

    n = design.network
    return TrainConfig(sizes=tuple(n.sizes), fanin=tuple(n.fanin), bits=tuple(n.bits), epochs=n.epochs, seed=n.seed)


def _build(design) -> Built:
    n = design.network
    if n.source == "file":
        p = Path(n.netlist)
        if not p.is_absolute():
            p = Path(design.source).parent / p
        net = LutNet.load(p, max_address_bits=n.max_address_bits)
        want = [list(n.sizes), list(n.bits)]
        have = ([net.n_in] + [layer.n_out for layer in net.layers], [net.b_in] + [layer.b_out for layer in net.layers])
        if want != [list(x) for x in have]:
            raise NetlistError(f"{design.source}: network.netlist {p}: sizes/bits {have} do not match the design's "
                               f"network.sizes/bits {want}")
        recorded = {k: v for k, v in net.meta.items() if k in ("float_acc", "quant_acc")}
        return Built(net, {"source": str(p), "recorded_in": str(p)} | recorded)
    if n.source == "random":
        if n.shrink:
            raise NetlistError(f"{design.source}: network.shrink needs a trained model (source: digits)")
        net = random_netlist(list(n.sizes), list(n.fanin), list(n.bits), seed=n.seed)
        return Built(net, {"source": f"random tables, seed {n.seed}", "accuracy": "n/a (no dataset)"})
    from .model import shrink, to_netlist
    from .train import digits, retrain, train

    data = digits(n.bits[0])
    cfg = train_config(design)
    res = train(cfg, data)
    info: dict[str, Any] = {"source": f"trained on digits, seed {n.seed}", "float_acc": res.float_acc,
                            "quant_acc": res.quant_acc, "train_seconds": res.seconds}
    model = res.model
    if n.shrink:
        info["unshrunk_quant_acc"] = res.quant_acc
        info["unshrunk_lut_cost"] = to_netlist(model, n.max_address_bits).lut_cost()
        model, reports = shrink(model, n.shrink)
        r2 = retrain(model, cfg, data)
        model = r2.model
        info["quant_acc"] = r2.quant_acc
        info["shrink"] = [r.__dict__ for r in reports]
    net = to_netlist(model, n.max_address_bits)
    if n.shrink:
        net, removed = remove_unused_inputs(net)
        info["exact_removed_inputs"] = removed
    pred = np.argmax(net.forward(data.x_test), 1)
    info["netlist_acc"] = float(np.mean(pred == data.y_test))
    net.meta |= {k: v for k, v in info.items() if k.endswith("_acc")}
    return Built(net, info | {"model": model})


_CACHE: dict[str, Built] = {}


def build_netlist(design) -> Built:
    """The design's netlist (cached per design hash in this process: training is seeded, so equal)."""
    key = design.hash
    if key not in _CACHE:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _build(design)
    return _CACHE[key]


def design_cost(design) -> dict[str, float]:
    """LUTCost and table bits from the design's shape alone (no tables built)."""
    n = design.network
    cost, bits = 0.0, 0
    for i in range(len(n.sizes) - 1):
        x = n.fanin[i] * n.bits[i]
        cost += n.sizes[i + 1] * neuron_lut_cost(x, n.bits[i + 1])
        bits += n.sizes[i + 1] * n.bits[i + 1] * (1 << x)
    return {"lut_cost": cost, "table_bits": bits}


# -- cycle-level model -----------------------------------------------------------------------------------------
class Pipeline:
    """The RTL's registers, advanced one clock per :meth:`step` (see the module docstring)."""

    def __init__(self, net: LutNet, out_reg: bool = True):
        self.net, self.out_reg = net, out_reg
        self.latency = net.depth + int(out_reg)
        self._single = [LutNet([layer], where="pipeline") for layer in net.layers]
        self.reset()

    def reset(self) -> None:
        """Synchronous reset: every register (data and valid) cleared to 0."""
        L = self.net.depth
        self.regs = [np.zeros(self.net.layers[i].n_in, np.uint8) for i in range(L)]
        self.valid = [0] * L
        self.oreg = np.zeros(self.net.n_out, np.uint8)
        self.ovalid = 0
        self.cycle = 0

    def _layer(self, i: int, codes: np.ndarray) -> np.ndarray:
        return self._single[i].forward(codes[None, :])[0]

    def outputs(self) -> tuple[np.ndarray, int]:
        """(out_data codes, out_valid) in the current cycle (combinational from the registers)."""
        if self.out_reg:
            return self.oreg.copy(), self.ovalid
        return self._layer(self.net.depth - 1, self.regs[-1]), self.valid[-1]

    def step(self, in_codes: np.ndarray, in_valid: int) -> None:
        """One rising clock edge with ``in_codes``/``in_valid`` presented in the current cycle."""
        L = self.net.depth
        comb = [self._layer(i, self.regs[i]) for i in range(L)]
        if self.out_reg:
            self.oreg, self.ovalid = comb[-1], self.valid[-1]
        for i in range(L - 1, 0, -1):
            self.regs[i], self.valid[i] = comb[i - 1], self.valid[i - 1]
        self.regs[0], self.valid[0] = np.asarray(in_codes, np.uint8).copy(), int(in_valid)
        self.cycle += 1

    def run(self, x: np.ndarray, valid: np.ndarray | None = None, extra: int | None = None):
        """Stream ``x`` (one sample per cycle where ``valid``; zeros otherwise) from reset; returns per cycle
        (out_data [C, n_out], out_valid [C]) for C = len + latency (+ ``extra``) cycles."""
        self.reset()
        T = len(x)
        valid = np.ones(T, np.int64) if valid is None else np.asarray(valid, np.int64)
        C = T + self.latency + (extra or 0)
        od = np.zeros((C, self.net.n_out), np.uint8)
        ov = np.zeros(C, np.int64)
        for c in range(C):
            od[c], ov[c] = self.outputs()
            if c < T:
                self.step(x[c] if valid[c] else np.zeros(self.net.n_in, np.uint8), valid[c])
            else:
                self.step(np.zeros(self.net.n_in, np.uint8), 0)
        return od, ov


# -- workloads and results -------------------------------------------------------------------------------------
def parse_workload(workload: str) -> tuple[str, Any]:
    w = (workload or "").strip()
    if w == "dataset:digits":
        return "digits", None
    if w.startswith("samples:"):
        try:
            n = int(w.split(":", 1)[1])
        except ValueError:
            n = -1
        if not 1 <= n <= 100_000_000:
            raise WorkloadError(f"workload {workload!r}: samples:N needs 1 <= N <= 100000000")
        return "samples", n
    raise WorkloadError(f"workload {workload!r}: allowed for lutnet: dataset:digits, samples:N")


@dataclass
class LutnetResult:
    design: Any                  #: the design (its name and hash go into to_dict)
    workload: str
    mode: str
    stats: dict[str, Any]
    layers: list[dict[str, Any]]
    outputs: np.ndarray = field(repr=False)
    compat: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"design": self.design.name, "design_hash": self.design.hash, "workload": self.workload, "mode": self.mode,
             "stats": self.stats, "layers": self.layers}
        if self.compat is not None:
            d["compat"] = self.compat
        return d

    def layer_rows(self) -> tuple[list[str], list[list[Any]]]:
        header = ["layer", "n_in", "n_out", "fanin_min", "fanin_max", "b_in", "b_out", "table_bits", "lut_cost",
                  "lut_evals"]
        return header, [[r[h] for h in header] for r in self.layers]

    def render(self) -> str:
        from hwsim.report import format_table

        s = self.stats
        lines = [f"design {self.design.name} ({self.design.hash}), kind lutnet, workload {self.workload}, mode {self.mode}",
                 f"samples {s['samples']}, cycles {s['cycles']} (latency {s['latency']} cycles, II 1), "
                 f"LUT evaluations {s['lut_evals']:,}",
                 f"table bits {s['table_bits']:,}, LUTCost {s['lut_cost']:,.0f} (6-LUTs, LogicNets' upper bound)"]
        if "accuracy" in s:
            lines.append(f"accuracy on the test set: netlist {s['accuracy']:.4f}"
                         + (f", quantized model {s['quant_acc']:.4f}, float model {s['float_acc']:.4f}"
                            if "quant_acc" in s else "")
                         + (f" (model accuracies as recorded in {s['model_acc_recorded_in']} when it was trained)"
                            if "model_acc_recorded_in" in s else ""))
            if "netlist_equals_model" in s:
                lines.append(f"netlist outputs == quantized model outputs on every sample: "
                             f"{'yes' if s['netlist_equals_model'] else 'NO'}")
        if "unshrunk_quant_acc" in s:
            lines.append(f"Logic Shrinkage: quantized accuracy {s['unshrunk_quant_acc']:.4f} -> {s.get('quant_acc', 0):.4f}, "
                         f"LUTCost {s['unshrunk_lut_cost']:,.0f} -> {s['lut_cost']:,.0f}, "
                         f"{s['exact_removed_inputs']} table inputs removed exactly after retraining")
        h, rows = self.layer_rows()
        lines.append(format_table(h, rows))
        if self.compat:
            lines.append("compat " + ", ".join(f"{k}: {v}" for k, v in self.compat.items()))
        return "\n".join(lines)


class LutnetSim:
    COMPAT = ("logicnets",)

    def __init__(self, design):
        self.design = design
        self.built = build_netlist(design)
        self.net = self.built.net
        self.pipeline = Pipeline(self.net, design.pipeline.out_reg)

    @property
    def latency(self) -> int:
        return self.pipeline.latency

    def inputs(self, workload: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
        kind, arg = parse_workload(workload)
        if kind == "digits":
            from .train import digits

            if self.net.n_in != 64:
                raise WorkloadError(f"workload dataset:digits: the design has {self.net.n_in} inputs, digits 64")
            d = digits(self.net.b_in)
            return d.x_test, d.y_test
        rng = np.random.default_rng(seed)
        return rng.integers(0, 1 << self.net.b_in, (arg, self.net.n_in), dtype=np.uint8), None

    def run(self, workload: str, mode: str = "auto", compat: str | None = None, seed: int = 0) -> LutnetResult:
        from ..layers import check_seed
        check_seed(seed)       # an integer 0..2**32-1, as --seed
        if mode not in ("auto", "cycle", "analytical"):
            raise WorkloadError(f"mode {mode!r}: allowed auto, cycle, analytical")
        if compat is not None and compat not in self.COMPAT:
            raise WorkloadError(f"compat {compat!r}: allowed for lutnet: {', '.join(self.COMPAT)}")
        x, y = self.inputs(workload, seed)
        N = len(x)
        if mode == "auto":
            mode = "cycle" if N <= 2000 else "analytical"
        if mode == "cycle":
            od, ov = self.pipeline.run(x)
            out = od[ov == 1]
            cycles = int(np.flatnonzero(ov)[-1]) + 1
        else:
            out = self.net.forward(x)
            cycles = N + self.latency
        net = self.net
        stats: dict[str, Any] = {"cycles": cycles, "latency": self.latency, "samples": N,
                                 "lut_evals": net.lut_evals(N), "table_bits": net.table_bits,
                                 "lut_cost": net.lut_cost(), "neurons": net.neurons}
        if y is not None:
            stats["accuracy"] = float(np.mean(np.argmax(out, 1) == y))
            info = self.built.info
            for k in ("float_acc", "quant_acc"):
                if k in info:
                    stats[k] = info[k]
            if "recorded_in" in info and "quant_acc" in info:
                stats["model_acc_recorded_in"] = info["recorded_in"]
            if "model" in info:
                stats["netlist_equals_model"] = bool(np.array_equal(out, info["model"].forward_codes(x)))
        for k in ("unshrunk_quant_acc", "unshrunk_lut_cost", "exact_removed_inputs"):
            if k in self.built.info:
                stats[k] = self.built.info[k]
        layers = []
        for i, layer in enumerate(net.layers):
            f = layer.fanin
            layers.append({"layer": i, "n_in": layer.n_in, "n_out": layer.n_out, "fanin_min": int(f.min()),
                           "fanin_max": int(f.max()), "b_in": layer.b_in, "b_out": layer.b_out,
                           "table_bits": layer.table_bits, "lut_cost": layer.lut_cost(),
                           "lut_evals": N * layer.n_out})
        cp = None
        if compat == "logicnets":
            # LogicNets' own names: get_lut_cost() (util.py), "Latency (cycles)" = layers (no output register)
            cp = {"LUTCost": net.lut_cost(), "Latency (cycles)": net.depth}
        return LutnetResult(self.design, workload, mode, stats, layers, out, cp)


def build(design) -> LutnetSim:
    """A simulator for a lutnet design (a Design, a YAML path, or a mapping)."""
    from .. import for_kind

    return LutnetSim(for_kind(design, "lutnet"))
