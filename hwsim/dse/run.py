"""Running a sweep: expansion, resume, execution (in-process, a Dask LocalCluster, or a Dask scheduler),
batched Parquet writes and progress.

Execution backends:

* ``inline``: a plain loop in this process (the reference the benchmark compares against; tests);
* ``local`` (the default of ``hwsim sweep``): an embedded ``dask.distributed.LocalCluster`` of N worker
  processes (one thread each) listening on 127.0.0.1 only;
* ``scheduler``: an existing Dask scheduler (``--scheduler tcp://host:8786``); if it cannot be reached
  within ``connect_timeout`` seconds the sweep stops before anything is written.

Points are shipped in chunks (one Dask task evaluates many analytical points: a task costs the
scheduler about a millisecond, an analytical point a fraction of that). A task that raises is retried
once by Dask; a worker that dies has its tasks rescheduled; finished chunks are on disk already (each
flushed batch is one atomically renamed Parquet file), so a killed worker or a killed run loses no
finished point and a rerun skips them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from . import SchedulerUnreachable, SweepError
from .evaluate import evaluate_chunk, point_key
from .spec import Sweep, make_points
from .store import Store, Writer


@dataclass
class Outcome:
    out: Path
    total: int = 0            #: points of the sweep (designs x workloads)
    skipped: int = 0          #: finished in an earlier run (resume)
    evaluated: int = 0        #: evaluated in this run
    ok: int = 0
    invalid: int = 0
    failed: int = 0
    area_evaluated: int = 0
    duplicates: int = 0       #: points whose design hash + workload another point has already
    seconds: float = 0.0
    backend: str = ""
    workers: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        rate = self.evaluated / self.seconds if self.seconds > 0 else 0.0
        s = (f"{self.total:,} points: {self.skipped:,} finished earlier (skipped), {self.evaluated:,} evaluated "
             f"in {self.seconds:.1f} s ({rate:,.0f} points/s, {self.backend}, {self.workers} worker(s)): "
             f"{self.ok:,} ok, {self.invalid:,} invalid, {self.failed:,} failed")
        if self.duplicates:
            s += f"; {self.duplicates:,} duplicate point(s) (same design hash as another) evaluated once"
        if self.area_evaluated:
            s += f"; {self.area_evaluated} RTL area(s) synthesized"
        return s


class Progress:
    """``sweep  1,234/10,000 done  3 failed  12 invalid  850 pt/s  ETA 10 s`` on stderr: redrawn in
    place on a terminal, one line every few seconds otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True, every: float = 5.0):
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = 0.2 if self.tty else every
        self.t0 = time.monotonic()
        self.last = 0.0
        self.done = self.failed = self.invalid = 0
        self.shown = -1

    def line(self) -> str:
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        eta_s = "--" if not math.isfinite(eta) else f"{eta:.0f} s"
        return (f"sweep {self.done:>{len(f'{self.total:,}')},}/{self.total:,} done  {self.failed:,} failed  "
                f"{self.invalid:,} invalid  {rate:,.0f} pt/s  ETA {eta_s}")

    def update(self, rows: list[dict], force: bool = False) -> None:
        for r in rows:
            self.done += 1
            self.failed += r["status"] == "failed"
            self.invalid += r["status"] == "invalid"
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < self.every and self.done < self.total):
            return
        if force and self.done == self.shown:
            return
        self.last, self.shown = now, self.done
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if self.done >= self.total else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()


def connect(scheduler: str | None, workers: int, timeout: float = 5.0):
    """A Dask client: to ``scheduler`` or to a new LocalCluster of ``workers`` processes on 127.0.0.1."""
    from distributed import Client, LocalCluster

    if scheduler:
        _probe(scheduler, timeout)
        try:
            return Client(scheduler, timeout=f"{timeout}s")
        except Exception as e:       # noqa: BLE001 -- OSError, TimeoutError, ValueError (bad address), ...
            why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
            raise SchedulerUnreachable(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({why})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    return Client(cluster)


def _probe(address: str, timeout: float) -> None:
    """Fail fast (one line) when a tcp:// scheduler address refuses connections or does not resolve;
    Dask itself would retry until its timeout."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else f"tcp://{address}")
    if u.scheme != "tcp":
        return
    try:
        host, port = u.hostname, u.port
    except ValueError as e:
        raise SchedulerUnreachable(f"--scheduler {address}: not a scheduler address ({e})") from None
    if not host or not port:
        raise SchedulerUnreachable(f"--scheduler {address}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise SchedulerUnreachable(f"--scheduler {address}: cannot reach the Dask scheduler ({why})") from None


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_sweep(sweep: Sweep, out: str | Path, *, backend: str = "local", scheduler: str | None = None,
              workers: int | None = None, mode: str | None = None, area: Callable[..., dict] | None = None,
              target: str = "xc7",
              max_points: int | None = None, chunk_size: int | None = None, progress: bool = True,
              flush_every: int = 5000, flush_seconds: float = 2.0, client: Any = None,
              log: Callable[[str], None] | None = None,
              on_rows: Callable[[list[dict]], None] | None = None) -> Outcome:
    """Evaluate every point of ``sweep`` not yet in ``out`` and append the results there.

    backend: "inline" | "local" | "scheduler" (``scheduler`` gives the address); ``area``: the area task
    ``area(design, design_hash, build_root, target, params) -> row`` (a module-level function, so Dask can
    ship it; the command line passes :func:`hwsim.cli.sweep.area_of`), None for no area; ``client``: an existing
    Dask client to use instead (not closed here); ``on_rows``: called with every batch of point rows
    once it is handed to the writer (rows are on disk after the next flush: ``flush_every`` rows or
    ``flush_seconds``).
    """
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    mode = mode or sweep.mode
    if mode not in ("analytical", "cycle"):
        raise SweepError(f"--mode {mode!r}: allowed: analytical, cycle")
    limit = max_points if max_points is not None else sweep.max_points
    if sweep.n_points > limit:
        raise SweepError(f"{sweep.source}: {sweep.n_points:,} points (designs x workloads) exceed the limit of "
                         f"{limit:,}; pass --max-points {sweep.n_points} to run them")
    if progress:
        log(sweep.describe(mode))
    from hwsim import kinds

    has_sim = kinds.get(sweep.base.kind).simulator is not None
    if not has_sim:
        if not area:
            raise SweepError(f"{sweep.source}: kind {sweep.base.kind} has no simulator; --area sweeps its RTL area")
        mode = "area"
    store = Store(out)
    done = store.finished()                      # a corrupt dataset stops the sweep here, before any work
    done_area = store.finished_area() if area else {}
    points = make_points(sweep)

    res = Outcome(out=Path(out), total=sweep.n_points, backend=backend)
    invalid_rows, items = [], []
    queued: set[str] = set()
    for p in points:
        for w in sweep.workloads:
            key = point_key(p.design_hash, w, mode)
            if key in queued:          # the same design twice (e.g. a parameter set to its default)
                res.duplicates += 1
                continue
            queued.add(key)
            st = done.get(key) if has_sim or not p.valid else done_area.get(p.design_hash)
            if st in ("ok", "invalid"):
                res.skipped += 1
                continue
            if not p.valid:
                from .evaluate import POINT_COLUMNS

                row = {c: None for c in POINT_COLUMNS}
                row.update(key=key, design_hash=p.design_hash, design=sweep.base.name, kind=sweep.base.kind,
                           workload=w, mode=mode, status="invalid", reason=p.reason, attempts=0,
                           params=json.dumps(p.params, default=str))
                invalid_rows.append(row)
            elif has_sim:
                items.append((p.design, p.design_hash, w, p.params))
    area_items = {}
    if area:
        for p in points:
            if p.valid and done_area.get(p.design_hash) not in ("ok", "invalid"):
                area_items.setdefault(p.design_hash, (p.design, p.params))

    own_client = False
    if backend != "inline" and client is None and (items or area_items):
        n = workers or default_workers()
        client = connect(scheduler if backend == "scheduler" else None, n)   # may raise: nothing written yet
        own_client = True
    if client is not None:
        try:
            client.wait_for_workers(1, timeout=30)
        except Exception:    # noqa: BLE001 -- dask raises TimeoutError (or OSError when the scheduler went away)
            if own_client:
                _close(client)
            raise SchedulerUnreachable(f"{'--scheduler ' + scheduler if scheduler else 'LocalCluster'}: no workers "
                                       f"joined the scheduler within 30 s") from None
        res.workers = len(client.nthreads())
    else:
        res.workers = 1 if backend == "inline" else 0

    Path(out).mkdir(parents=True, exist_ok=True)
    wp = Writer(store.points, flush_every, flush_seconds)
    wa = Writer(store.area, 1, 0.0)
    bar = Progress(len(invalid_rows) + len(items) + len(area_items), enabled=progress)
    t0 = time.perf_counter()

    def take(rows: list[dict]) -> None:
        wp.add(rows)
        bar.update(rows)
        if on_rows is not None:
            on_rows(rows)
        for r in rows:
            res.evaluated += 1
            setattr(res, r["status"], getattr(res, r["status"]) + 1)
            if r["status"] == "invalid":
                res.invalid_reasons[r["reason"]] = res.invalid_reasons.get(r["reason"], 0) + 1

    def take_area(row: dict) -> None:
        wa.add([row])
        res.area_evaluated += row["status"] == "ok"
        bar.update([{"status": row["status"]}])

    build_root = str(Path(out).resolve() / "build")
    try:
        if invalid_rows:
            take(invalid_rows)
        if backend == "inline" or client is None:
            size = chunk_size or 256
            for chunk in _chunks(items, size):
                take(evaluate_chunk(chunk, mode))
            for h, (d, prm) in area_items.items():
                take_area(area(d, h, build_root, target, prm))
        else:
            from distributed import as_completed

            nw = max(res.workers, 1)
            size = chunk_size or max(1, min(1000, math.ceil(len(items) / (nw * 8))))
            futs = {}
            for h, (d, prm) in area_items.items():         # the slow ones first
                futs[client.submit(area, d, h, build_root, target, prm, pure=False,
                                   retries=1)] = ("area", h, d, prm)
            for chunk in _chunks(items, size):
                futs[client.submit(evaluate_chunk, chunk, mode, pure=False, retries=1)] = ("points", chunk)
            for fut in as_completed(list(futs)):
                what = futs.pop(fut)
                try:
                    result = fut.result()
                except Exception as e:      # noqa: BLE001 -- the task failed twice or its worker kept dying
                    why = f"task failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
                    if what[0] == "area":
                        from .evaluate import AREA_COLUMNS

                        result = {c: None for c in AREA_COLUMNS}
                        result.update(design_hash=what[1], design=what[2].get("name"), target=target,
                                      status="failed", reason=why, params=json.dumps(what[3],
                                                                                     default=str))
                    else:
                        result = [_failed_row(item, mode, why) for item in what[1]]
                if what[0] == "area":
                    take_area(result)
                else:
                    take(result)
                fut.release()
    finally:
        wp.flush()
        wa.flush()
        bar.update([], force=True)
        res.seconds = time.perf_counter() - t0
        if own_client:
            _close(client)
    return res


def _failed_row(item, mode: str, why: str) -> dict:
    from .evaluate import POINT_COLUMNS

    design, h, w, params = item
    row = {c: None for c in POINT_COLUMNS}
    row.update(key=point_key(h, w, mode), design_hash=h, design=design.get("name"), kind=design.get("kind"),
               workload=w, mode=mode, status="failed", reason=why, attempts=2,
               params=json.dumps(params, default=str))
    return row


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    try:
        client.close(timeout=10)
    finally:
        if cluster is not None:
            cluster.close(timeout=10)
