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
