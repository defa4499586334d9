"""Evaluation of sweep points (runs in the workers; plain functions of plain data, so Dask can ship them).

A point is evaluated with the public API of its kind's simulator::

    result = hwsim.build(design).run(workload, mode=mode)
    stats = result.to_dict()["stats"]          # cycles, energy estimate, utilisation, ...

and, when the design has a weight format (``operands.weight``), the quantization error of that format
(with the design's group size) on a fixed seeded tensor: bits per weight (codes + scales + metadata) and
the relative mean squared error ``sum (w - w_hat)^2 / sum w^2`` -- an estimate of the format's accuracy
cost, not a model-accuracy measurement.

Area (``--area``) is a separate task per distinct design hash, given by the caller (rtl_gen sits above
hwsim's core: the command line passes :func:`hwsim.cli.sweep.area_of`, which emits the kind's RTL and
synthesizes it with Yosys, cached in ``build/<name>-<hash>/``).

A value error (the design schema, the simulator's own design checks, a layer that does not fit) makes
the point *invalid*: deterministic, recorded with its one-line reason, never retried. Any other exception
is a *failure*: retried once in place, then recorded with its error.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import socket
import time
import traceback
from typing import Any

#: the seeded weight tensor of the quantization-error metric (rows x columns, N(0, 1), seed 0)
ERROR_TENSOR = (128, 1024)

#: columns of the points dataset, with their Arrow types (see hwsim.dse.store)
POINT_COLUMNS: dict[str, str] = {
    "key": "string", "design_hash": "string", "design": "string", "kind": "string", "workload": "string",
    "mode": "string", "status": "string", "reason": "string", "params": "string",
    "cycles": "int64", "energy_pj": "float64", "utilization": "float64", "time_us": "float64",
    "macs": "int64", "weight_format": "string", "bits_per_weight": "float64", "weight_rel_mse": "float64",
    "stats": "string", "seconds": "float64", "attempts": "int32", "worker": "string",
}
AREA_COLUMNS: dict[str, str] = {
    "design_hash": "string", "design": "string", "target": "string", "status": "string", "reason": "string",
    "params": "string", "lut": "int64", "ff": "int64", "carry": "int64", "dsp": "int64", "ram": "int64", "seconds": "float64",
}

INVALID_ERRORS = (ValueError, TypeError, LookupError)


def one_line(e: BaseException) -> str:
    """An exception as the one line a report shows."""
    text = str(e)
    return text.splitlines()[0] if text else type(e).__name__


def point_key(design_hash: str, workload: str, mode: str) -> str:
    """The key of a result: design hash + workload + mode."""
    return f"{design_hash}|{workload}|{mode}"


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.lru_cache(maxsize=256)
def weight_error(fmt: str, group_size: int | None) -> tuple[float, float]:
    """(bits per weight, relative MSE) of ``fmt`` on the seeded N(0, 1) tensor ERROR_TENSOR."""
    import numpy as np

    import datatypes as dt

    f = dt.get(fmt)
    g = f.default_group_size if f.group_sizes is not None and group_size not in f.group_sizes else group_size
    w = np.random.default_rng(0).standard_normal(ERROR_TENSOR).astype(np.float32)
    q = dt.quantize(w, f, group_size=g)
    d = q.dequantize().astype(np.float64) - w.astype(np.float64)
    # exactly rounded sums: the same bits in every process (a BLAS dot may differ in the last bits)
    return float(q.bits_per_element()), math.fsum((d * d).ravel()) / math.fsum(np.square(w.astype(np.float64)).ravel())


def _metrics(stats: dict[str, Any]) -> dict[str, Any]:
    """The columns every kind's stats map to (missing ones stay null)."""
    e = stats.get("energy_pj_estimate", stats.get("energy_pj"))
    if isinstance(e, dict):
        e = e.get("total_pj")
    u = stats.get("utilization", stats.get("utilisation"))
    return {"cycles": int(stats["cycles"]), "energy_pj": None if e is None else float(e),
            "utilization": None if u is None else float(u),
            "time_us": None if stats.get("time_us") is None else float(stats["time_us"]),
            "macs": None if stats.get("macs") is None else int(stats["macs"])}


def _row(design: dict[str, Any], design_hash: str, workload: str, mode: str, params: dict[str, Any]) -> dict:
    row = {c: None for c in POINT_COLUMNS}
    row.update(key=point_key(design_hash, workload, mode), design_hash=design_hash,
               design=design.get("name") if design else None, kind=design.get("kind") if design else None,
               workload=workload, mode=mode, params=json.dumps(params, default=str),
               worker=_worker_name(), attempts=0)
    return row


def evaluate(design: dict[str, Any], design_hash: str, workload: str, mode: str, params: dict[str, Any],
             retries: int = 1, built: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate one point (a resolved design as plain data) and return its row. ``built``: a
    ``{design_hash: Design}`` memo shared by the points of one chunk (a design is validated once, not
    once per workload)."""
    import hwsim
    from hwsim.design import from_dict

    row = _row(design, design_hash, workload, mode, params)
    t0 = time.perf_counter()
    for attempt in range(1, retries + 2):
        row["attempts"] = attempt
        try:
            d = built.get(design_hash) if built is not None else None
            if d is None:
                d = from_dict(design, source="point")
                if built is not None:
                    built[design_hash] = d
            with contextlib.redirect_stderr(io.StringIO()):     # the simulator's own progress lines
                stats = hwsim.build(d).run(workload, mode=mode).to_dict()["stats"]
            row.update(_metrics(stats))
            row["stats"] = json.dumps(stats, default=str, separators=(",", ":"))
            ops = design.get("operands")
            if isinstance(ops, dict) and isinstance(ops.get("weight"), str):
                row["weight_format"] = ops["weight"]
                row["bits_per_weight"], row["weight_rel_mse"] = weight_error(ops["weight"], ops.get("group_size"))
            row["status"], row["reason"] = "ok", ""
            break
        except INVALID_ERRORS as e:
            row["status"], row["reason"] = "invalid", one_line(e)
            break
        except Exception as e:     # noqa: BLE001 -- a failed point is recorded, not fatal
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            row["status"], row["reason"] = "failed", last
    row["seconds"] = time.perf_counter() - t0
    return row


def evaluate_chunk(items: list[tuple[dict, str, str, dict]], mode: str) -> list[dict[str, Any]]:
    """Evaluate ``[(design, design_hash, workload, params), ...]``: one Dask task."""
    built: dict[str, Any] = {}
    return [evaluate(d, h, w, mode, p, built=built) for d, h, w, p in items]
