"""cocotb side of the shared harness: a PortIO over a cocotb DUT handle, and the job description
(ports.json, vectors, results path) the runner passes through the environment."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .vectorset import VectorSet, atomic_write, encode_array


def _ints(values) -> np.ndarray:
    """Python ints -> int64 array when they fit, else an object array."""
    vals = list(np.asarray(values, dtype=object).ravel()) if not isinstance(values, np.ndarray) else None
    if vals is None:
        return values
    if all(-(1 << 63) <= int(v) < (1 << 63) for v in vals):
        return np.array([int(v) for v in vals], dtype=np.int64)
    out = np.empty(len(vals), dtype=object)
    out[:] = [int(v) for v in vals]
    return out


class CocotbIO:
    """PortIO over a cocotb DUT: ``set`` writes ``dut.<name>.value``, ``get`` reads the raw bits."""

    def __init__(self, dut):
        self.dut = dut
        self._h: dict[str, Any] = {}

    def _handle(self, name: str):
        h = self._h.get(name)
        if h is None:
            h = self._h[name] = getattr(self.dut, name)
        return h

    def set(self, name: str, value: int) -> None:
        self._handle(name).value = value

    def get(self, name: str) -> int:
        return int(self._handle(name).value)


def job() -> tuple[dict[str, Any], VectorSet, Path]:
    """(ports.json, vectors, results path) from HWSIM_PORTS / HWSIM_VECTORS / HWSIM_RESULTS."""
    try:
        ports = json.loads(Path(os.environ["HWSIM_PORTS"]).read_text())
        vs = VectorSet.load(os.environ["HWSIM_VECTORS"])
        out = Path(os.environ["HWSIM_RESULTS"])
    except KeyError as e:
        raise RuntimeError(f"cocotb test needs the environment variable {e.args[0]} (set by "
                           f"testbenches.runner.run_cocotb)") from None
    return ports, vs, out


async def clock_and_reset(dut, ports: dict[str, Any], cycles: int = 2):
    """Start the DUT's 10 ns clock (``ports["clock"]``) and hold its reset (``ports["reset"]``) high for
    ``cycles`` rising edges; returns the clock handle. Inputs set before the call are in place by then."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge

    clk = getattr(dut, ports["clock"])
    rst = getattr(dut, ports["reset"])
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    rst.value = 1
    for _ in range(cycles):
        await RisingEdge(clk)
    rst.value = 0
    return clk


def save_results(path: Path, arrays: dict[str, Any]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **{k: encode_array(_ints(v)) for k, v in arrays.items()})
    atomic_write(path, buf.getvalue())
