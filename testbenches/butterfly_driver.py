"""Host driver of the generated Butterfly Engine, independent of the simulator (amaranth.sim or
cocotb/Verilator) through a PortIO (``set(name, int)``, ``get(name) -> int``). No heavy imports.

Per job: write the coefficient rows (before ``start``, not counted), set ``is_fft``/``log_length`` and
pulse ``start``; feed one element per cycle while ``in_ready``; collect ``out_re``/``out_im`` on every
cycle with ``out_valid``; count cycles. One cycle: drive inputs; settle; sample outputs; tick.
The cycle count is the number of rising edges after the one that samples ``start`` up to and including
the one after which ``done`` reads 1 (docs/butterfly.md, timing contract).
"""

from __future__ import annotations


async def run_jobs(io, settle, tick, jobs: list[dict], max_cycles: int = 1_000_000) -> dict[str, list]:
    out = {"out_re": [], "out_im": [], "cycles": [], "out_cycles": []}
    io.set("start", 0)
    io.set("in_valid", 0)
    io.set("coef_we", 0)
    for job in jobs:
        for addr, word in enumerate(job["rows"]):
            io.set("coef_we", 1)
            io.set("coef_addr", addr)
            io.set("coef_data", int(word))
            await tick()
        io.set("coef_we", 0)
        io.set("is_fft", int(job["is_fft"]))
        io.set("log_length", int(job["log_length"]))
        io.set("start", 1)
        await tick()
        io.set("start", 0)
        n = len(job["re"])
        k, cyc = 0, 0
        res_re, res_im, res_cyc = [], [], []
        while True:
            cyc += 1
            if k < n:
                io.set("in_valid", 1)
                io.set("in_re", int(job["re"][k]))
                io.set("in_im", int(job["im"][k]))
            else:
                io.set("in_valid", 0)
            await settle()
            if io.get("in_ready") and k < n:
                k += 1
            if io.get("out_valid"):
                res_re.append(io.get("out_re"))
                res_im.append(io.get("out_im"))
                res_cyc.append(cyc)
            done = io.get("done")
            await tick()
            if done:
                break
            if cyc > max_cycles:
                raise RuntimeError(f"butterfly engine: no done after {max_cycles} cycles")
        io.set("in_valid", 0)
        out["out_re"].append(res_re)
        out["out_im"].append(res_im)
        out["cycles"].append(cyc)
        out["out_cycles"].append(res_cyc)
    return out


# ---- the vector file of the cocotb test (numpy only: exported suites carry this module) ---------------
def jobs_from_arrays(inputs: dict) -> list[dict]:
    """The jobs of a vector file (``testbenches.butterfly.cocotb_vectors``): per job ``job_n`` elements of
    ``re``/``im`` (FP16 bit patterns), ``rows_n`` coefficient rows (packed ints), ``is_fft``,
    ``log_length``."""
    jobs, e, r = [], 0, 0
    for i, n in enumerate(int(v) for v in inputs["job_n"]):
        m = int(inputs["rows_n"][i])
        jobs.append({"is_fft": int(inputs["is_fft"][i]), "log_length": int(inputs["log_length"][i]),
                     "re": [int(v) for v in inputs["re"][e:e + n]], "im": [int(v) for v in inputs["im"][e:e + n]],
                     "rows": [int(v) for v in inputs["rows"][r:r + m]]})
        e += n
        r += m
    return jobs


def flatten(raw: dict) -> dict:
    """``run_jobs`` results as flat arrays: out_re/out_im/out_cycles concatenated, out_n per job, cycles."""
    import numpy as np

    cat = lambda k: np.array([int(v) for x in raw[k] for v in x], np.int64)  # noqa: E731
    return {"out_re": cat("out_re"), "out_im": cat("out_im"), "out_cycles": cat("out_cycles"),
            "out_n": np.array([len(x) for x in raw["out_re"]], np.int64),
            "cycles": np.array(raw["cycles"], np.int64)}


def split(flat: dict) -> dict:
    """Inverse of :func:`flatten` for the per-job checker (``testbenches.butterfly.check``)."""
    out, e = {"out_re": [], "out_im": [], "out_cycles": []}, 0
    for n in (int(v) for v in flat["out_n"]):
        for k in out:
            out[k].append([int(v) for v in flat[k][e:e + n]])
        e += n
    out["cycles"] = [int(v) for v in flat["cycles"]]
    return out


def mismatches(inputs: dict, expected: dict, got: dict, limit: int = 5) -> list[str]:
    """Per job: every output code (bit pattern) and the cycle count equal to the vector file's."""
    bad, e = [], 0
    g = split(got)
    for i, n in enumerate(int(v) for v in inputs["job_n"]):
        where = f"job {i} ({'fft' if int(inputs['is_fft'][i]) else 'linear'} n={n})"
        for key in ("out_re", "out_im"):
            want = [int(v) for v in expected[key][e:e + n]]
            have = g[key][i] if i < len(g[key]) else []
            if len(have) != n:
                bad.append(f"{where} {key}: {len(have)} outputs, expected {n}")
            elif have != want:
                k = next(j for j in range(n) if have[j] != want[j])
                bad.append(f"{where} {key}[{k}]: 0x{have[k]:04x}, expected 0x{want[k]:04x} "
                           f"({sum(a != b for a, b in zip(have, want))} differ)")
        c = g["cycles"][i] if i < len(g["cycles"]) else None
        if c != int(expected["cycles"][i]):
            bad.append(f"{where} cycles: {c}, expected {int(expected['cycles'][i])}")
        e += n
    return bad[:limit] + ([f"{len(bad) - limit} more differences"] if len(bad) > limit else [])
