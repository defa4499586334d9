"""The vector-set container (inputs, handshake schedule, expected outputs) and its .npz form.
Kept free of hwsim, datatypes and Numba imports: the cocotb process starts fast, and exported regression
suites (testbenches.export) carry this file and run without hwsim."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


#: Prefix marking an array of integers wider than int64, stored as decimal strings.
_BIG = "bigint:"


def encode_array(a: np.ndarray) -> np.ndarray:
    """npz-safe form: object arrays of Python ints (products/accumulators > 64 bits) become strings."""
    a = np.asarray(a)
    if a.dtype == object:
        return np.array([_BIG] + [str(int(v)) for v in a.ravel()])
    return a


def decode_array(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "U" and a.ndim == 1 and a.size and a[0] == _BIG:
        out = np.empty(a.size - 1, dtype=object)
        out[:] = [int(v) for v in a[1:]]
        return out
    return a


def atomic_write(path, data: bytes) -> Path:
    """Write through a temporary file and a rename (the harness runs without hwsim, see testbenches.export)."""
    import os
    import tempfile

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def load_arrays(path) -> dict[str, np.ndarray]:
    z = np.load(path)
    return {k: decode_array(z[k]) for k in z.files}


@dataclass
class VectorSet:
    """Inputs, per-cycle handshake schedule and expected outputs of one test.

    kind "decoder": inputs code[, meta]; expected value, invalid.
    kind "pe": inputs w_code[, w_meta], a_code, last; schedule in_valid, out_ready (per cycle,
    1 past the end); expected outputs, in_cycles, out_cycles, cycles.
    """

    name: str
    kind: str
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    schedule: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(next(iter(self.inputs.values())))

    def save(self, path: str | Path) -> Path:
        buf = io.BytesIO()
        arrays = {f"in.{k}": v for k, v in self.inputs.items()}
        arrays |= {f"exp.{k}": v for k, v in self.expected.items()}
        arrays |= {f"sched.{k}": v for k, v in self.schedule.items()}
        arrays = {k: encode_array(v) for k, v in arrays.items()}
        arrays["name"] = np.array(self.name)
        arrays["kind"] = np.array(self.kind)
        np.savez(buf, **arrays)
        return atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "VectorSet":
        z = np.load(path)
        pick = lambda p: {k[len(p):]: decode_array(z[k]) for k in z.files if k.startswith(p)}  # noqa: E731
        return cls(name=str(z["name"]), kind=str(z["kind"]), inputs=pick("in."), expected=pick("exp."),
                   schedule=pick("sched."))
