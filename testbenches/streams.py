"""Reusable drivers, monitors and a scoreboard, generated from ``ports.json`` and independent of the
simulator: the same objects run under amaranth.sim and under cocotb/Verilator.

A simulator is reached through a ``PortIO`` (``set(name, int)``, ``get(name) -> int`` of the raw,
unsigned port bits) plus two awaitables: ``settle()`` (let combinational logic settle after the
writes of this cycle; cocotb: ``ReadOnly()``) and ``tick()`` (advance to the next clock edge;
cocotb: ``RisingEdge(clk)``). One cycle of ``run_clocked`` is::

    for c in components: c.drive(io, cycle)     # write inputs for this cycle
    await settle()
    for c in components: c.sample(io, cycle)    # read handshakes (valid & ready) and payloads
    await tick()

Stream port description (an entry of ports.json "streams")::

    {"role": "sink" | "source",          # sink: the DUT consumes it (driven by StreamDriver)
     "valid": "i__valid", "ready": "i__ready", "payload": "i__payload",
     "width": 14, "signed": false,
     "fields": {"w_code": {"offset": 0, "width": 4, "signed": false}, ...}}   # {} for a plain payload

Start/done units (ports.json "control"): ``StartDone`` pulses start and measures done latency.

Use in your own cocotb regression::

    ports = json.load(open("build/<name>-<hash>/ports.json"))
    io = CocotbIO(dut)
    drv = StreamDriver(ports["streams"]["i"], {"w_code": w, "a_code": a, "last": l})
    sb = Scoreboard("acc", expected_values)
    mon = StreamMonitor(ports["streams"]["o"], scoreboard=sb)
    cycles = await run_clocked(io, [drv, mon], lambda: mon.count == len(expected_values),
                               settle=ReadOnly, tick=lambda: RisingEdge(dut.clk))
    sb.assert_ok()
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, Protocol, Sequence

import numpy as np


class PortIO(Protocol):
    def set(self, name: str, value: int) -> None: ...
    def get(self, name: str) -> int: ...


def _signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) & 1 else v


def pack_fields(desc: dict, items: dict[str, Sequence[int]]) -> list[int]:
    """Pack per-field integer arrays into raw payload integers (fields from ports.json)."""
    fields = desc.get("fields") or {}
    if not fields:
        (vals,) = items.values()
        mask = (1 << desc["width"]) - 1
        return [int(v) & mask for v in np.asarray(vals).tolist()]
    missing = set(fields) - set(items)
    if missing:
        raise ValueError(f"stream {desc['payload']}: no values for field(s) {', '.join(sorted(missing))}")
    n = len(next(iter(items.values())))
    out = [0] * n
    for name, f in fields.items():
        mask, off = (1 << f["width"]) - 1, f["offset"]
        for k, v in enumerate(np.asarray(items[name]).tolist()):
            out[k] |= (int(v) & mask) << off
    return out


def unpack_fields(desc: dict, raw: int) -> int | dict[str, int]:
    """Raw payload bits -> the value (plain payload, sign-converted) or a dict of field values."""
    fields = desc.get("fields") or {}
    if not fields:
        return _signed(raw, desc["width"]) if desc.get("signed") else raw
    out = {}
    for name, f in fields.items():
        v = (raw >> f["offset"]) & ((1 << f["width"]) - 1)
        out[name] = _signed(v, f["width"]) if f.get("signed") else v
    return out


def _sched(schedule: Any, cycle: int) -> bool:
    return True if schedule is None or cycle >= len(schedule) else bool(schedule[cycle])


class StreamDriver:
    """Offers items on a DUT input stream: element k is offered (valid = 1) in every cycle in which
    ``schedule[cycle]`` is true (1 past its end) until the DUT accepts it (valid & ready)."""

    def __init__(self, desc: dict, items: dict[str, Sequence[int]], schedule: Any = None):
        if desc.get("role") != "sink":
            raise ValueError(f"StreamDriver drives DUT input streams; {desc['payload']} is a DUT output")
        self.desc = desc
        self.packed = pack_fields(desc, items)
        self.schedule = schedule
        self.k = 0
        self.accepted_cycles: list[int] = []
        self._offered = False

    @property
    def done(self) -> bool:
        return self.k >= len(self.packed)

    def drive(self, io: PortIO, cycle: int) -> None:
        self._offered = not self.done and _sched(self.schedule, cycle)
        io.set(self.desc["valid"], int(self._offered))
        io.set(self.desc["payload"], self.packed[self.k] if not self.done else 0)

    def sample(self, io: PortIO, cycle: int) -> None:
        if self._offered and io.get(self.desc["ready"]):
            self.accepted_cycles.append(cycle)
            self.k += 1


class StreamMonitor:
    """Accepts items from a DUT output stream (ready = ``schedule[cycle]``, 1 past its end) and
    records each handshake's cycle and payload; forwards them to a scoreboard if given."""

    def __init__(self, desc: dict, schedule: Any = None, scoreboard: "Scoreboard | None" = None):
        if desc.get("role") != "source":
            raise ValueError(f"StreamMonitor watches DUT output streams; {desc['payload']} is a DUT input")
        self.desc = desc
        self.schedule = schedule
        self.scoreboard = scoreboard
        self.values: list[Any] = []
        self.cycles: list[int] = []
        self._ready = False

    @property
    def count(self) -> int:
        return len(self.values)

    def drive(self, io: PortIO, cycle: int) -> None:
        self._ready = _sched(self.schedule, cycle)
        io.set(self.desc["ready"], int(self._ready))

    def sample(self, io: PortIO, cycle: int) -> None:
        if self._ready and io.get(self.desc["valid"]):
            v = unpack_fields(self.desc, io.get(self.desc["payload"]))
            self.values.append(v)
            self.cycles.append(cycle)
            if self.scoreboard is not None:
                self.scoreboard.observe(v, cycle)


class StartDone:
    """Start/done control of a unit (ports.json "control": {"start": ..., "done": ...}): pulses
    ``start`` for one cycle, then waits for ``done``; repeats ``runs`` times. ``before_start(io, k)``
    may set the unit's other inputs for run k. Records the cycle of each start and each done, so
    ``latencies`` = done cycle - start cycle, the number the cycle-level simulator must reproduce."""

    def __init__(self, control: dict, runs: int = 1, before_start: Callable[[PortIO, int], None] | None = None,
                 gap: int = 0):
        self.control = control
        self.runs = runs
        self.before_start = before_start
        self.gap = gap
        self.start_cycles: list[int] = []
        self.done_cycles: list[int] = []
        self._busy = False
        self._pulse = False
        self._idle_since = 0

    @property
    def finished(self) -> bool:
        return len(self.done_cycles) >= self.runs

    @property
    def latencies(self) -> list[int]:
        return [d - s for s, d in zip(self.start_cycles, self.done_cycles)]

    def drive(self, io: PortIO, cycle: int) -> None:
        self._pulse = (not self._busy and not self.finished and cycle >= self._idle_since + self.gap)
        if self._pulse and self.before_start is not None:
            self.before_start(io, len(self.start_cycles))
        io.set(self.control["start"], int(self._pulse))

    def sample(self, io: PortIO, cycle: int) -> None:
        if self._pulse:
            self.start_cycles.append(cycle)
            self._busy = True
        elif self._busy and io.get(self.control["done"]):
            self.done_cycles.append(cycle)
            self._busy = False
            self._idle_since = cycle + 1


class Scoreboard:
    """In-order, bit-exact comparison of observed values (and, if given, handshake cycles) with the
    expected ones from the datatypes model / hwsim cycle model."""

    def __init__(self, name: str, expected: Sequence[int], expected_cycles: Sequence[int] | None = None,
                 keep: int = 5):
        self.name = name
        self.expected = [int(v) for v in np.asarray(expected).tolist()]
        self.expected_cycles = None if expected_cycles is None else [int(c) for c in np.asarray(expected_cycles).tolist()]
        self.count = 0
        self.errors = 0
        self.first_errors: list[str] = []
        self.keep = keep

    def observe(self, value: Any, cycle: int | None = None) -> None:
        i = self.count
        self.count += 1
        problems = []
        if i >= len(self.expected):
            problems.append(f"unexpected extra output #{i} = {value!r}")
        else:
            if int(value) != self.expected[i]:
                problems.append(f"output #{i} = {int(value)}, expected {self.expected[i]}")
            if self.expected_cycles is not None and cycle is not None and cycle != self.expected_cycles[i]:
                problems.append(f"output #{i} handed over in cycle {cycle}, expected cycle {self.expected_cycles[i]}")
        if problems:
            self.errors += 1
            if len(self.first_errors) < self.keep:
                self.first_errors += problems

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.count == len(self.expected)

    def report(self) -> str:
        head = (f"{self.name}: {self.count}/{len(self.expected)} outputs observed, {self.errors} mismatching")
        return "\n  ".join([head] + self.first_errors)

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError(self.report())


async def run_clocked(io: PortIO, components: Iterable[Any], finished: Callable[[], bool],
                      settle: Callable[[], Awaitable[Any]], tick: Callable[[], Awaitable[Any]],
                      max_cycles: int) -> int:
    """Run the cycle loop (see the module docstring) until ``finished()``; returns cycles simulated."""
    comps = list(components)
    cycle = 0
    while True:
        if cycle >= max_cycles:
            raise AssertionError(f"simulation did not finish within {max_cycles} cycles")
        for c in comps:
            c.drive(io, cycle)
        await settle()
        for c in comps:
            c.sample(io, cycle)
        if finished():
            return cycle + 1
        await tick()
        cycle += 1


async def run_comb(io: PortIO, inputs: dict[str, np.ndarray], outputs: dict[str, dict],
                   settle: Callable[[], Awaitable[Any]]) -> dict[str, np.ndarray]:
    """Apply every input vector to a combinational unit and read the outputs.

    ``inputs``: port name -> values; ``outputs``: port name -> port description (width, signed)."""
    n = len(next(iter(inputs.values())))
    cols = {k: np.asarray(v).tolist() for k, v in inputs.items()}
    got: dict[str, list[int]] = {k: [] for k in outputs}
    for i in range(n):
        for k, v in cols.items():
            io.set(k, int(v[i]))
        await settle()
        for k, d in outputs.items():
            raw = io.get(k)
            got[k].append(_signed(raw, d["width"]) if d.get("signed") else raw)
    return {k: np.array(v, dtype=np.int64) for k, v in got.items()}
