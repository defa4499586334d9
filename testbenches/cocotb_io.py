"""cocotb side of the shared harness: a PortIO over a cocotb DUT handle, and the job description
(ports.json, vectors, results path) the runner passes through the environment."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.report import atomic_write

from .vectorset import VectorSet


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


def save_results(path: Path, arrays: dict[str, Any]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write(path, buf.getvalue())
