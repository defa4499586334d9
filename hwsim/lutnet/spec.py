"""The ``lutnet`` design schema: one frozen dataclass per YAML section (validated by :mod:`hwsim.spec`).

```yaml
schema: 1
name: lutnet_digits_s
kind: lutnet
network:
  sizes: [64, 64, 32, 32, 10]    # inputs, then neurons per layer
  fanin: [3, 3, 3, 4]            # inputs per neuron, per layer
  bits: [2, 2, 2, 2, 3]          # input code bits, then output bits per layer
  source: digits                 # digits: train on sklearn's digits | random: seeded random tables | file
  netlist: null                  # source: file -- an .npz netlist (path relative to the design file)
  seed: 0
  epochs: 60
  shrink: 0.0                    # Logic Shrinkage: fraction of LUT inputs removed (then retrained)
  max_address_bits: 20           # refuse tables wider than this (fan-in x bits)
pipeline:
  out_reg: true                  # output register: latency = layers + 1 (else = layers)
fpga:
  family: ecp5                   # ice40 | ecp5 | xc7 (synthesis + place-and-route target of the flow)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


from hwsim.spec import SpecError, param


def _int_list(lo: int, hi: int | None = None, allow_empty: bool = False):
    def check(v: Any) -> str | None:
        if not isinstance(v, list) or (not v and not allow_empty):
            return "expected a non-empty list of integers"
        for x in v:
            if not isinstance(x, int) or isinstance(x, bool) or x < lo or (hi is not None and x > hi):
                return f"every entry must be an integer in {lo}..{hi if hi is not None else 'inf'}"
        return None
    return check


SOURCES = ("digits", "random", "file")
FAMILIES = ("ice40", "ecp5", "xc7")


@dataclass(frozen=True, kw_only=True)
class Network:
    sizes: list = param(check=_int_list(1, 4096), doc="inputs, then neurons per layer")
    fanin: list = param(check=_int_list(0, 32), doc="inputs per neuron, one per layer")
    bits: list = param(check=_int_list(1, 8), doc="input code bits, then output bits per layer")
    source: str = param("digits", choices=SOURCES,
                        doc="digits = train on scikit-learn's digits (seeded QAT); random = seeded random "
                            "tables (cost, RTL, synthesis); file = load 'netlist'")
    netlist: str | None = param(None, doc="source: file -- netlist .npz, relative to the design file")
    seed: int = param(0, minimum=0, doc="seed of masks, weights and training order")
    epochs: int = param(60, positive=True, doc="training epochs (source: digits)")
    shrink: float = param(0.0, minimum=0.0, maximum=0.95,
                          doc="Logic Shrinkage: fraction of LUT inputs removed per layer, then retrained")
    max_address_bits: int = param(20, minimum=1, maximum=24, doc="widest table allowed, fan-in x bits")


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    out_reg: bool = param(True, doc="register the outputs: latency = layers + 1 cycles (else layers)")


@dataclass(frozen=True, kw_only=True)
class Fpga:
    family: str = param("ecp5", choices=FAMILIES, doc="FPGA family of the flow's synthesis step")


SECTIONS: dict[str, type] = {"network": Network, "pipeline": Pipeline, "fpga": Fpga}


def check(design: Any) -> None:
    """Rules across keys: list lengths, fan-in <= layer inputs, table width limit."""
    src = getattr(design, "source", "<design>")
    n = design.network
    L = len(n.sizes) - 1
    if L < 1:
        raise SpecError(f"{src}: network.sizes = {n.sizes}: needs the input count and at least one layer")
    if len(n.fanin) != L:
        raise SpecError(f"{src}: network.fanin = {n.fanin}: needs {L} entries (one per layer)")
    if len(n.bits) != L + 1:
        raise SpecError(f"{src}: network.bits = {n.bits}: needs {L + 1} entries (input bits, then one per layer)")
    for i in range(L):
        if n.fanin[i] > n.sizes[i]:
            raise SpecError(f"{src}: network.fanin[{i}] = {n.fanin[i]}: a neuron of layer {i} has only "
                            f"{n.sizes[i]} inputs")
        if n.fanin[i] * n.bits[i] > n.max_address_bits:
            raise SpecError(f"{src}: network.fanin[{i}] = {n.fanin[i]}: {n.fanin[i]} x {n.bits[i]} bits = "
                            f"{n.fanin[i] * n.bits[i]} address bits > network.max_address_bits = "
                            f"{n.max_address_bits} (2**{n.fanin[i] * n.bits[i]} table entries per neuron)")
    if n.source == "file" and not n.netlist:
        raise SpecError(f"{src}: network.netlist is missing: source 'file' needs an .npz netlist path")
    if n.source == "digits" and (n.sizes[0] != 64 or n.sizes[-1] != 10):
        raise SpecError(f"{src}: network.sizes = {n.sizes}: the digits dataset has 64 inputs and 10 classes")


# -- loading: through hwsim.design (the registry gives it this kind's sections and check) -------------------
def from_dict(data: Any, source: str = "<string>") -> Any:
    """A lutnet design from plain data (:func:`hwsim.design.from_dict`)."""
    from hwsim import design

    return design.from_dict(data, source)


def load(path: str | Path) -> Any:
    """A lutnet design file (:func:`hwsim.design.load`)."""
    from hwsim import design

    return design.load(path)
