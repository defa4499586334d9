"""Host-side driver of the generated systolic array, independent of the simulator (amaranth.sim or
cocotb/Verilator), through the PortIO of ``testbenches.streams``. Kept free of Amaranth, datatypes
and Numba imports so the cocotb process starts fast.

Per GEMM it (1) writes the activation and weight memory images through the host port, (2) fills the
GEMM's result region with a non-zero pattern (so a plain write that wrongly accumulates is seen),
(3) sets ``gemm_m/n/k`` and pulses ``start``, (4) counts cycles until ``done`` while recording every
result-bank write from ``mon_write``, (5) reads the result region back. One cycle::

    drive inputs; [settle; sample outputs]; tick

The cycle count is the number of rising edges after the one that samples ``start`` up to and
including the one that raises ``done`` (docs/systolic.md section 1): cycle c is the clock period
after edge e_c, and ``done`` reads 1 in cycle N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import numpy as np

from hwsim.systolic.memory import element_of_bank_word, result_matrix

if TYPE_CHECKING:   # annotations only: importing it here would load the heavy modules in cocotb
    from .vectorset import VectorSet


def fill_pattern(addr: int, width: int) -> int:
    """The non-zero word written into a result word before a run."""
    x = (addr * 0x9E3779B97F4A7C15 + 0x5A5A5A5A5A5A5A5B) & ((1 << 64) - 1)
    out = 0
    for i in range(0, width, 64):
        out |= x << i
        x = (x * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
    return out & ((1 << width) - 1) or 1


async def run_gemms(io, settle: Callable[[], Awaitable[Any]], tick: Callable[[], Awaitable[Any]],
                    sysdoc: dict, jobs: list[dict], max_cycles: int = 10_000_000) -> dict[str, list]:
    """Run every job (dict: M, N, K, act (word ints), wgt (word ints), res_words) on the array.

    Returns lists, one entry per job: ``cycles`` (N), ``result`` (word ints of the result region),
    ``last_write`` (int64 [res_words, C]: cycle of the last write of each (word, bank), -1 if none),
    ``writes`` and ``acc_writes`` (result-bank writes, and those that accumulated), ``stray`` (writes
    outside the result region), ``io_cycles`` (cycles spent on host loads and read-back)."""
    host = sysdoc["host"]
    sel = host["select"]
    mon = sysdoc.get("monitor")          # None: built with debug_ports false (writes not observable)
    shape = sysdoc["shape_inputs"]
    C = sysdoc["memories"]["result"]["lanes"]
    aw = mon["addr_bits"] if mon else 1
    amask = (1 << aw) - 1
    we_mask = (1 << C) - 1
    res_bits = sysdoc["memories"]["result"]["word_bits"]
    out: dict[str, list] = {k: [] for k in ("cycles", "result", "last_write", "writes", "acc_writes",
                                             "stray", "io_cycles")}
    io.set(host["we"], 0)
    io.set(sysdoc["control"]["start"], 0)
    for job in jobs:
        io_cyc = 0

        async def write_words(which: str, words) -> int:
            io.set(host["sel"], sel[which])
            io.set(host["we"], 1)
            for a, w in enumerate(words):
                io.set(host["addr"], a)
                io.set(host["wdata"], int(w))
                await tick()
            io.set(host["we"], 0)
            return len(words)

        io_cyc += await write_words("activation", job["act"])
        io_cyc += await write_words("weight", job["wgt"])
        for which, key in (("weight_scale", "wscale"), ("activation_scale", "ascale")):
            if key in job:                     # the scale epilogue's memories
                io_cyc += await write_words(which, job[key])
        nres = int(job["res_words"])
        io_cyc += await write_words("result", [fill_pattern(a, res_bits) for a in range(nres)])
        # start: the edge at the end of this cycle is e0
        io.set(shape["M"], int(job["M"]))
        io.set(shape["N"], int(job["N"]))
        io.set(shape["K"], int(job["K"]))
        io.set(sysdoc["control"]["start"], 1)
        await tick()
        io.set(sysdoc["control"]["start"], 0)
        last = np.full((nres, C), -1, np.int64)
        writes = acc_writes = stray = 0
        cycle = 0
        done_port, busy_port = sysdoc["control"]["done"], sysdoc["control"]["busy"]
        while True:
            await settle()
            if io.get(done_port):
                if io.get(busy_port):
                    raise AssertionError("done and busy are both 1")
                break
            if not io.get(busy_port):
                raise AssertionError(f"busy fell in cycle {cycle} before done rose")
            mw = io.get(mon["port"]) if mon else 0
            if mw & we_mask:
                for c in range(C):
                    if mw >> c & 1:
                        addr = (mw >> (mon["addr_offset"] + c * aw)) & amask
                        writes += 1
                        acc_writes += (mw >> (C + c)) & 1
                        if addr < nres:
                            last[addr, c] = cycle
                        else:
                            stray += 1
            await tick()
            cycle += 1
            if cycle > max_cycles:
                raise AssertionError(f"done did not rise within {max_cycles} cycles")
        # cycle N (done) is in progress; read the result region back (1-cycle read latency)
        await tick()
        io.set(host["sel"], sel["result"])
        words = []
        for a in range(nres + 1):
            if a < nres:
                io.set(host["addr"], a)
            if a:
                await settle()
                words.append(io.get(host["rdata"]))
            await tick()
        io_cyc += nres + 2
        io.set(host["sel"], 0)
        out["cycles"].append(cycle)
        out["result"].append(words)
        out["last_write"].append(last)
        out["writes"].append(writes if mon else -1)
        out["acc_writes"].append(acc_writes if mon else -1)
        out["stray"].append(stray)
        out["io_cycles"].append(io_cyc)
    return out


def jobs_of(vs: VectorSet) -> list[dict]:
    """What the host driver needs per GEMM (plain Python ints)."""
    i = vs.inputs
    jobs = []
    for g, (M, N, K) in enumerate(i["shapes"].tolist()):
        jobs.append({"M": M, "N": N, "K": K,
                     "act": [int(x) for x in i["act_words"][i["act_off"][g]:i["act_off"][g + 1]]],
                     "wgt": [int(x) for x in i["wgt_words"][i["wgt_off"][g]:i["wgt_off"][g + 1]]],
                     "res_words": int(i["res_words"][g])})
        if "ws_words" in i:
            jobs[-1]["wscale"] = [int(x) for x in i["ws_words"][i["ws_off"][g]:i["ws_off"][g + 1]]]
            jobs[-1]["ascale"] = [int(x) for x in i["as_words"][i["as_off"][g]:i["as_off"][g + 1]]]
    return jobs


def raw_to_arrays(raw: dict[str, list]) -> dict[str, Any]:
    """Flatten driver results for an .npz (word ints become an object array)."""
    words = [int(w) for ws in raw["result"] for w in ws]
    arr = np.empty(len(words), dtype=object)
    arr[:] = words
    return {"cycles": raw["cycles"], "result": arr,
            "last_write": np.concatenate([np.asarray(x).ravel() for x in raw["last_write"]]),
            "writes": raw["writes"], "acc_writes": raw["acc_writes"], "stray": raw["stray"],
            "io_cycles": raw["io_cycles"], **{k: raw[k] for k in BUS_KEYS if k in raw}}


#: per-GEMM counts the bus driver (testbenches.hostbus_driver) adds
BUS_KEYS = ("load_cycles", "poll_cycles", "readback_cycles", "polls")


def raw_from_arrays(z: dict[str, np.ndarray], vs: VectorSet) -> dict[str, list]:
    n = vs.inputs["res_words"].tolist()
    C = int(np.asarray(z["last_write"]).size // max(1, sum(n)))
    raw: dict[str, list] = {k: list(np.asarray(z[k]).tolist()) for k in
                            ("cycles", "writes", "acc_writes", "stray", "io_cycles", *BUS_KEYS) if k in z}
    words = list(np.asarray(z["result"], dtype=object).ravel())
    lw = np.asarray(z["last_write"], np.int64)
    raw["result"], raw["last_write"] = [], []
    i = 0
    for k in n:
        raw["result"].append(words[i:i + k])
        raw["last_write"].append(lw[i * C:(i + k) * C].reshape(k, C))
        i += k
    return raw


# ---- results of the driver -> the checked arrays (shared by the parent process and exported suites) ---
def decode_results(sysdoc: dict, shapes, raw: dict[str, list]) -> dict[str, np.ndarray]:
    """Driver results (result words, per-(word, bank) last write cycles, counts) -> the arrays a checker
    compares: outputs, cycles, write_cycles, writes, acc_writes (+ stray_writes if any, io_cycles)."""
    C = sysdoc["memories"]["result"]["lanes"]
    ys, wcs = [], []
    stray = int(sum(raw["stray"]))
    for g, (M, N, K) in enumerate(shapes):
        res = sysdoc["memories"]["result"]
        ys.append(result_matrix(raw["result"][g], res["lanes"], res["lane_bits"], sysdoc["dataflow"], M, N).ravel())
        last = np.asarray(raw["last_write"][g], dtype=np.int64).reshape(-1, C)
        elem = element_of_bank_word(C, sysdoc["dataflow"], M, N)
        wc = np.full((M, N), -1, np.int64)
        used = elem[..., 0] >= 0
        wc[elem[used][:, 0], elem[used][:, 1]] = last[used]
        stray += int(((last >= 0) & ~used).sum())           # writes into padding lanes
        wcs.append(wc.ravel())
    out = {"outputs": np.concatenate(ys), "cycles": np.array(raw["cycles"], np.int64),
           "write_cycles": np.concatenate(wcs), "writes": np.array(raw["writes"], np.int64),
           "acc_writes": np.array(raw["acc_writes"], np.int64)}
    if stray:
        out["stray_writes"] = np.array([stray])
    out["io_cycles"] = np.array(raw["io_cycles"], np.int64)
    for k in BUS_KEYS:
        if k in raw:
            out[k] = np.array(raw[k], np.int64)
    return out


CHECKED = ("outputs", "cycles", "write_cycles", "writes", "acc_writes")


def mismatches(expected: dict, got: dict, limit: int = 5, keys=None) -> list[str]:
    """What differs between the decoded results and the expected arrays (np.array_equal per key;
    ``keys``: those checked, default ``CHECKED``)."""
    bad = []
    if "stray_writes" in got:
        bad.append(f"{int(got['stray_writes'][0])} result write(s) outside the result region or into padding lanes")
    for key in keys or CHECKED:
        e, g = np.asarray(expected[key]), np.asarray(got[key])
        if e.shape != g.shape:
            bad.append(f"{key}: {g.size} values, expected {e.size}")
        elif not np.array_equal(g.astype(e.dtype), e):
            idx = np.nonzero(g.astype(e.dtype) != e)[0]
            bad += [f"{key}[{i}]: {int(g[i])}, expected {int(e[i])}" for i in idx[:limit]]
    return bad
