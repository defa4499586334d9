"""Stream driver and checker of a generated LUT-netlist pipeline, independent of the simulator (amaranth.sim
or cocotb) through a PortIO (``set(name, int)``, ``get(name) -> int``). numpy only: exported regression
suites (testbenches.export) carry this file and run without hwsim.

The vector set (``testbenches.vectorset.VectorSet``, kind "lutnet"): inputs ``x`` (uint8 [T, n_in] sample
codes in stream order), schedule ``in_valid`` (per input cycle, sum == T), expected ``outputs`` (uint8
[T, n_out]), ``out_cycles`` (input cycle + latency), ``trace`` (uint8 [C, n_out]: the cycle-level model's
``out_data`` in every cycle, including the cycles right after reset) and ``trace_valid`` ([C]). The ports
document (``ports.json`` "lutnet") gives the packing: element j at bits [b*j+b-1 : b*j].
"""

from __future__ import annotations

import numpy as np


def pack(codes: np.ndarray, b: int) -> list[int]:
    """Rows of codes -> packed integers, element j at bits [b*j+b-1 : b*j]."""
    out = []
    for row in np.asarray(codes, np.int64):
        v = 0
        for j, c in enumerate(row.tolist()):
            v |= int(c) << (b * j)
        out.append(v)
    return out


def unpack(values: list[int], n: int, b: int) -> np.ndarray:
    m = (1 << b) - 1
    return np.array([[(int(v) >> (b * j)) & m for j in range(n)] for v in values], np.uint8).reshape(len(values), n)


def input_stream(x: np.ndarray, valid: np.ndarray, b_in: int) -> tuple[list[int], list[int]]:
    """Per input cycle (in_data packed, in_valid); idle cycles carry zeros."""
    packed = pack(x, b_in)
    data, k = [], 0
    for v in np.asarray(valid).tolist():
        if v:
            data.append(packed[k])
            k += 1
        else:
            data.append(0)
    return data, [int(v) for v in np.asarray(valid).tolist()]


def trace_result(od: np.ndarray, ov: np.ndarray) -> dict[str, np.ndarray]:
    """The level's results from a per-cycle trace: outputs of the valid cycles, their cycles, the trace."""
    ov = np.asarray(ov, np.int64)
    return {"outputs": od[ov == 1], "out_cycles": np.flatnonzero(ov).astype(np.int64), "trace": od,
            "trace_valid": ov}


async def run_stream(io, settle, tick, lut: dict, x: np.ndarray, valid: np.ndarray, cycles: int
                     ) -> dict[str, np.ndarray]:
    """Drive ``x`` with the ``valid`` schedule for ``cycles`` cycles (after reset), sampling
    ``out_data``/``out_valid`` in every cycle before the edge. ``lut``: ports.json "lutnet"."""
    pin, pout, names = lut["in"], lut["out"], lut["valid"]
    data, vld = input_stream(x, valid, pin["bits"])
    od, ov = [], []
    for c in range(cycles):
        io.set(pin["port"], data[c] if c < len(data) else 0)
        io.set(names["in"], vld[c] if c < len(vld) else 0)
        await settle()
        od.append(io.get(pout["port"]))
        ov.append(io.get(names["out"]))
        await tick()
    return trace_result(unpack(od, pout["elements"], pout["bits"]), np.array(ov, np.int64))


def mismatches(expected: dict, got: dict, limit: int = 5) -> list[str]:
    """Outputs bit-exact, output cycles and the whole per-cycle trace equal to the expected ones."""
    bad = []
    e, g = np.asarray(expected["outputs"]), np.asarray(got["outputs"])
    if e.shape != g.shape:
        bad.append(f"outputs: {len(g)} valid beats of shape {g.shape[1:]}, expected {e.shape}")
    elif not np.array_equal(e, g.astype(e.dtype)):
        rows = np.flatnonzero(np.any(e != g, axis=1))
        bad += [f"sample {int(s)}: {g[s].tolist()}, expected {e[s].tolist()}" for s in rows[:limit]]
        if len(rows) > limit:
            bad.append(f"{len(rows) - limit} more samples differ")
    for key in ("out_cycles", "trace", "trace_valid"):
        if key not in expected:
            continue
        e, g = np.asarray(expected[key]), np.asarray(got[key])
        if e.shape != g.shape:
            bad.append(f"{key}: shape {g.shape}, expected {e.shape}")
        elif not np.array_equal(e, g):
            k = int(np.flatnonzero(np.any((e != g).reshape(len(e), -1), axis=1))[0])
            bad.append(f"{key} differs first at index {k}: {g[k].tolist()}, expected {e[k].tolist()}")
    return bad
