"""Host driver and checker of a generated bit-serial PE array (BitVert / BitMoD), independent of the
simulator (amaranth.sim or cocotb) through an IO with ``set(name, int)``, ``await sample(name) -> int``
(settled, before the edge) and ``await between_tiles()``. numpy only: exported regression suites
(testbenches.export) carry this file and run without hwsim.

A tile is a list of issues (the port values of one group / one 4-weight step, packed), sent back to back
after a clear-start from idle; per tile the driver counts the cycles from the issue of the first one to the
last busy cycle and reads ``result`` (rows x cols accumulators of ``acc_width`` bits, two's complement,
row-major). The vector file (``testbenches.bitserial.cocotb_vectors``): inputs ``issue`` (0..n-1), ``tile``
(the tile of every issue) and one array per data port (packed ints); expected ``outputs`` (every tile's
accumulators, flattened) and ``cycles`` (per tile).
"""

from __future__ import annotations

import numpy as np

#: inputs of the vector file that are not ports
NOT_PORTS = ("issue", "tile")


def unpack_signed(v: int, n: int, width: int) -> list[int]:
    out = []
    for i in range(n):
        x = (v >> (i * width)) & ((1 << width) - 1)
        out.append(x - (1 << width) if x >> (width - 1) else x)
    return out


def tiles_from_arrays(inputs: dict) -> list[list[dict[str, int]]]:
    """The tiles of a vector file: per tile, the issues' port values in order."""
    ports = [k for k in inputs if k not in NOT_PORTS]
    tiles: list[list[dict[str, int]]] = []
    last = None
    for i, t in enumerate(int(v) for v in inputs["tile"]):
        if t != last:
            tiles.append([])
            last = t
        tiles[-1].append({k: int(inputs[k][i]) for k in ports})
    return tiles


async def drive_tiles(io, edge, tiles: list[list[dict[str, int]]], n_results: int, acc_width: int,
                      max_cycles: int = 100000) -> dict:
    """Run every tile; returns {"results": [tile][rows*cols ints], "cycles": [tile]}."""
    results, cycles = [], []
    for issues in tiles:
        await io.between_tiles()
        i, count = 0, 0
        while True:
            if i < len(issues):
                for k, v in issues[i].items():
                    io.set(k, v)
                io.set("start", 1)
                io.set("clear", 1 if i == 0 else 0)
            else:
                io.set("start", 0)
                io.set("clear", 0)
            r, b = await io.sample("ready"), await io.sample("busy")
            if i == len(issues) and not b and count > 0:
                break
            acc = i < len(issues) and r
            await edge()
            if acc or b:
                count += 1
            if acc:
                i += 1
            if count > max_cycles:
                raise RuntimeError(f"bit-serial array: tile not finished after {max_cycles} cycles")
        results.append(unpack_signed(await io.sample("result"), n_results, acc_width))
        cycles.append(count)
    return {"results": results, "cycles": cycles}


def flatten(raw: dict) -> dict:
    outputs = np.empty(sum(len(r) for r in raw["results"]), dtype=object)
    outputs[:] = [int(x) for r in raw["results"] for x in r]
    return {"outputs": outputs, "cycles": np.array(raw["cycles"], np.int64)}


def mismatches(expected: dict, got: dict, limit: int = 5) -> list[str]:
    """Every accumulator (exact integers) and every tile's cycle count equal to the vector file's."""
    bad = []
    for key in ("outputs", "cycles"):
        e = [int(v) for v in np.asarray(expected[key], dtype=object).ravel()]
        g = [int(v) for v in np.asarray(got[key], dtype=object).ravel()]
        if len(e) != len(g):
            bad.append(f"{key}: {len(g)} values, expected {len(e)}")
            continue
        idx = [i for i in range(len(e)) if e[i] != g[i]]
        bad += [f"{key}[{i}]: {g[i]}, expected {e[i]}" for i in idx[:limit]]
        if len(idx) > limit:
            bad.append(f"{len(idx) - limit} more {key} differ")
    return bad
