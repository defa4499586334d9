"""Host driver of a systolic array behind its narrow bus (rtl_gen.hostbus: Wishbone classic or
AXI4-Lite, 32-bit), independent of the simulator (amaranth.sim or cocotb) like
``testbenches.systolic_driver``; numpy only, so exported suites can ship it.

Per GEMM it writes the activation and weight images and a non-zero pattern over the result region
through the memory window, writes ``M``, ``N``, ``K``, starts through ``CTRL``, polls ``CTRL`` until
done, reads ``CYCLES`` (the array's own count) and the result region back. Everything it knows comes
from ``ports.json`` (``"hostbus"``: the register map; ``"systolic"``: the memory layouts).

Checks it makes itself (AssertionError): the polls bracket the end of the run -- the last poll that saw
``busy`` sampled array cycle < ``CYCLES`` and the first that saw ``done`` sampled a cycle >= ``CYCLES``
(a read samples the CSRs in the cycle after it is accepted; array cycle 0 follows the edge that ends
the cycle in which the ``CTRL`` write is accepted). With debug ports (``mon_write``) it also records
every result write and its array cycle, as the wide driver does.

Cycles are counted per bus: ``load_cycles`` (operand and pattern writes, shape and start),
``poll_cycles`` (from the start write to the poll that saw done), ``readback_cycles`` (CYCLES and the
result region); ``io_cycles`` is load + readback.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import numpy as np

from .systolic_driver import fill_pattern


class _Bus:
    """Cycle-by-cycle master: every cycle is ``drive; settle; sample; tick``; ``now`` counts edges."""

    def __init__(self, io, settle, tick, hb: dict, on_cycle: Callable[[int], None] | None = None):
        self.io, self.settle, self._tick, self.hb = io, settle, tick, hb
        self.p = hb["ports"]
        self.now = 0
        self.on_cycle = on_cycle
        self.accepted_at = -1              #: ``now`` during the cycle the last request was accepted
        self.timeout = 1000

    async def tick(self):
        if self.on_cycle is not None:
            self.on_cycle(self.now)
        await self._tick()
        self.now += 1


class WishboneMaster(_Bus):
    def idle(self):
        for k in ("cyc", "stb", "we"):
            self.io.set(self.p[k], 0)

    async def _xfer(self, word: int, data: int | None) -> int:
        io, p = self.io, self.p
        io.set(p["adr"], word)
        io.set(p["we"], int(data is not None))
        io.set(p["sel"], 1)
        if data is not None:
            io.set(p["dat_w"], data)
        io.set(p["cyc"], 1)
        io.set(p["stb"], 1)
        self.accepted_at = self.now            # idle target: accepted in the first cycle (checked below)
        for _ in range(self.timeout):
            await self.settle()
            if io.get(p["ack"]):
                if self.now - self.accepted_at != 2:
                    raise AssertionError(f"Wishbone ack after {self.now - self.accepted_at} cycles, documented 2")
                value = io.get(p["dat_r"])
                await self.tick()
                self.idle()
                return value
            await self.tick()
        raise AssertionError(f"no Wishbone ack for word {word:#x} within {self.timeout} cycles")

    async def write(self, word: int, data: int) -> None:
        await self._xfer(word, data & 0xFFFFFFFF)

    async def read(self, word: int) -> int:
        return await self._xfer(word, None)


class Axi4LiteMaster(_Bus):
    def idle(self):
        for k in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
            self.io.set(self.p[k], 0)

    async def write(self, word: int, data: int) -> None:
        io, p = self.io, self.p
        io.set(p["awaddr"], word << 2)
        io.set(p["wdata"], data & 0xFFFFFFFF)
        io.set(p["wstrb"], 0xF)
        io.set(p["awvalid"], 1)
        io.set(p["wvalid"], 1)
        io.set(p["bready"], 1)
        accepted = False
        for _ in range(self.timeout):
            await self.settle()
            if not accepted and io.get(p["awready"]):
                if not io.get(p["wready"]):
                    raise AssertionError("AXI4-Lite awready without wready (the target takes both together)")
                accepted, self.accepted_at = True, self.now
                await self.tick()
                io.set(p["awvalid"], 0)
                io.set(p["wvalid"], 0)
                continue
            if accepted and io.get(p["bvalid"]):
                resp = io.get(p["bresp"])
                await self.tick()
                self.idle()
                if resp:
                    raise AssertionError(f"AXI4-Lite write of word {word:#x}: bresp {resp}")
                return
            await self.tick()
        raise AssertionError(f"AXI4-Lite write of word {word:#x} not answered within {self.timeout} cycles")

    async def read(self, word: int) -> int:
        io, p = self.io, self.p
        io.set(p["araddr"], word << 2)
        io.set(p["arvalid"], 1)
        io.set(p["rready"], 1)
        accepted = False
        for _ in range(self.timeout):
            await self.settle()
            if not accepted and io.get(p["arready"]):
                accepted, self.accepted_at = True, self.now
                await self.tick()
                io.set(p["arvalid"], 0)
                continue
            if accepted and io.get(p["rvalid"]):
                value, resp = io.get(p["rdata"]), io.get(p["rresp"])
                await self.tick()
                self.idle()
                if resp:
                    raise AssertionError(f"AXI4-Lite read of word {word:#x}: rresp {resp}")
                return value
            await self.tick()
        raise AssertionError(f"AXI4-Lite read of word {word:#x} not answered within {self.timeout} cycles")


MASTERS = {"wishbone": WishboneMaster, "axi4lite": Axi4LiteMaster}


async def run_gemms_bus(io, settle: Callable[[], Awaitable[Any]], tick: Callable[[], Awaitable[Any]],
                        ports: dict, jobs: list[dict], max_cycles: int = 10_000_000) -> dict[str, list]:
    """Every job (as ``systolic_driver.jobs_of``) through the bus; returns the lists ``run_gemms`` returns
    (``last_write`` all -1 and ``writes``/``acc_writes`` -1 without debug ports) plus ``load_cycles``,
    ``poll_cycles``, ``readback_cycles``, ``polls``."""
    hb, sysdoc = ports["hostbus"], ports["systolic"]
    mon = sysdoc.get("monitor")
    C = sysdoc["memories"]["result"]["lanes"]
    rec: dict[str, Any] = {}

    def on_cycle(now: int) -> None:
        if mon is None or "start" not in rec or rec.get("done"):
            return
        cyc = now - rec["start"] - 1
        if cyc < 0:
            return
        mw = io.get(mon["port"])
        aw = mon["addr_bits"]
        for c in range(C):
            if mw >> c & 1:
                addr = (mw >> (mon["addr_offset"] + c * aw)) & ((1 << aw) - 1)
                rec["writes"] += 1
                rec["acc"] += (mw >> (C + c)) & 1
                if addr < rec["nres"]:
                    rec["last"][addr, c] = cyc
                else:
                    rec["stray"] += 1

    bus = MASTERS[hb["bus"]](io, settle, tick, hb, on_cycle)
    bus.idle()
    csr = {k: v["word"] for k, v in hb["csr"].items()}
    shift, S = hb["region_shift"], hb["sub_word_bits"]
    out: dict[str, list] = {k: [] for k in ("cycles", "result", "last_write", "writes", "acc_writes", "stray",
                                             "io_cycles", "load_cycles", "poll_cycles", "readback_cycles",
                                             "polls")}

    def base(name: str) -> int:
        return hb["memories"][name]["region"] << shift

    async def write_words(name: str, words) -> None:
        n = hb["memories"][name]["words_per_memory_word"]
        b = base(name)
        for a, w in enumerate(words):
            w = int(w)
            for s in range(n):
                await bus.write(b + (a << S) + s, (w >> (32 * s)) & 0xFFFFFFFF)

    res_bits = sysdoc["memories"]["result"]["word_bits"]
    for job in jobs:
        t0 = bus.now
        nres = int(job["res_words"])
        await write_words("activation", job["act"])
        await write_words("weight", job["wgt"])
        for which, key in (("weight_scale", "wscale"), ("activation_scale", "ascale")):
            if key in job:                     # the scale epilogue's memories
                await write_words(which, job[key])
        await write_words("result", [fill_pattern(a, res_bits) for a in range(nres)])
        for k in ("M", "N", "K"):
            await bus.write(csr[k], int(job[k]))
        for k in ("M", "N", "K"):
            got = await bus.read(csr[k])
            if got != int(job[k]):
                raise AssertionError(f"CSR {k} reads {got}, wrote {job[k]}")
        rec.clear()
        rec.update(writes=0, acc=0, stray=0, nres=nres, last=np.full((nres, C), -1, np.int64))
        t1 = bus.now
        await bus.write(csr["CTRL"], 1)
        rec["start"] = bus.accepted_at
        last_busy, first_done, polls = None, None, 0
        while first_done is None:
            v = await bus.read(csr["CTRL"])
            polls += 1
            sampled = bus.accepted_at + 1 - rec["start"] - 1      # array cycle the CSRs were sampled in
            if v & 2:
                if v & 1:
                    raise AssertionError("CTRL reads busy and done together")
                first_done = sampled
            elif v & 1:
                last_busy = sampled
            else:
                raise AssertionError(f"CTRL reads neither busy nor done {sampled} cycles after start")
            if bus.now - t1 > max_cycles:
                raise AssertionError(f"done not seen within {max_cycles} cycles")
        rec["done"] = True
        t2 = bus.now
        cycles = await bus.read(csr["CYCLES"])
        if not ((last_busy is None or last_busy < cycles) and first_done >= cycles):
            raise AssertionError(f"CYCLES = {cycles} but busy was seen in array cycle {last_busy} and done first "
                                 f"in array cycle {first_done}")
        n = hb["memories"]["result"]["words_per_memory_word"]
        b = base("result")
        words = []
        for a in range(nres):
            w = 0
            for s in range(n):
                w |= (await bus.read(b + (a << S) + s)) << (32 * s)
            words.append(w & ((1 << res_bits) - 1))
        t3 = bus.now
        out["cycles"].append(int(cycles))
        out["result"].append(words)
        out["last_write"].append(rec["last"])
        out["writes"].append(rec["writes"] if mon else -1)
        out["acc_writes"].append(rec["acc"] if mon else -1)
        out["stray"].append(rec["stray"])
        out["load_cycles"].append(t1 - t0)
        out["poll_cycles"].append(t2 - t1)
        out["readback_cycles"].append(t3 - t2)
        out["io_cycles"].append((t1 - t0) + (t3 - t2))
        out["polls"].append(polls)
    return out


def checked_keys(ports: dict) -> tuple[str, ...]:
    """What a bus run can be checked on: outputs and cycles; with debug ports also every write."""
    if ports["systolic"].get("monitor") is None:
        return ("outputs", "cycles")
    return ("outputs", "cycles", "write_cycles", "writes", "acc_writes")
