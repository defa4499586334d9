"""Report plumbing shared by every command: atomic file writes, text tables, progress on stderr."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


class OutputError(ValueError):
    """An output location that cannot be written (the message names it and why)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half a file.
    The file gets the permissions of a normally created one (0666 less the umask)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def ensure_writable(out: str | Path, what: str = "-o") -> Path:
    """Create the output directory (if needed) and check a file can be written there, before long
    work starts; OutputError naming it otherwise."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {p}: exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p, prefix=".hwsim-write-check.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OutputError(f"{what} {p}: cannot write there ({e.strerror or e})") from None
    return p


def jsonable(x: Any) -> Any:
    """Plain JSON data from numpy scalars/arrays, tuples and dicts (non-finite floats become None, so the
    file is strict JSON)."""
    import math

    import numpy as np

    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def to_json(x: Any) -> str:
    import json

    return json.dumps(jsonable(x), indent=1, allow_nan=False) + "\n"


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_set(out: str | Path, files: dict[str, Any], extra: Callable[[Path], Any] | None = None
              ) -> dict[str, Path]:
    """Write a run's outputs as a set: ``files`` maps a file name to its text/bytes; ``extra(dir)`` may
    write more files into ``dir`` (plots). Everything is produced in a temporary sibling directory
    first; only when all of it exists are the files moved into ``out``, so a failure or Ctrl-C leaves
    the previous outputs as they were."""
    import shutil

    dest = ensure_writable(out)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    try:
        for name, content in files.items():
            atomic_write(tmp / name, content)
        if extra is not None:
            extra(tmp)
        paths = {}
        for f in sorted(tmp.iterdir()):
            if not f.name.startswith("."):
                os.replace(f, dest / f.name)
                paths[f.name] = dest / f.name
        return paths
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_run(result: Any, out: str | Path, plots: bool = True) -> dict[str, Path]:
    """The standard outputs of a simulation, for every kind: ``report.txt`` (``result.render()``),
    ``report.json`` (``result.to_dict()``), ``layers.csv`` (``result.layer_rows()``),
    ``design.resolved.yaml`` and the kind's plots (its registered ``report`` module's
    ``plots(result, out_dir)``), written as a set."""
    from . import kinds

    header, rows = result.layer_rows()
    files = {"report.txt": result.render() + "\n", "report.json": to_json(result.to_dict()),
             "layers.csv": csv_text(header, rows), "design.resolved.yaml": result.design.to_yaml()}
    kind = kinds.get(result.design.kind)
    extra = (lambda d: kind.load("report").plots(result, d)) if plots and kind.report else None
    return write_set(out, files, extra)


def si(x: float, unit: str) -> str:
    """``x`` with an SI prefix and 4 significant digits (``1.234 MB``)."""
    for div, pre in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"),
                     (1e-9, "n"), (1e-12, "p")):
        if abs(x) >= div:
            return f"{x / div:.3f} {pre}{unit}"
    return f"{x:.3g} {unit}"


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return atomic_write(path, buf.getvalue())


def format_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """Plain-text table; ``align`` is one char per column ('l' or 'r'), numbers right-aligned by default."""
    rows = [[c if isinstance(c, str) else _fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    if align is None:
        align = "".join("l" if i == 0 else "r" for i in range(len(header)))
    def line(cells):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e6:
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
        return f"{v:.3e}"
    return str(v)


class Progress:
    """A progress line on stderr: ``[ 3/30] label ... 1.2s``; a bar when stderr is a terminal."""

    def __init__(self, total: int, what: str = "", stream=None, enabled: bool = True):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()

    def step(self, label: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        n = len(str(self.total))
        if self.tty:
            filled = int(30 * self.done / max(self.total, 1))
            bar = "#" * filled + "." * (30 - filled)
            end = "\n" if self.done >= self.total else ""
            self.stream.write(f"\r{self.what} [{bar}] {self.done:>{n}}/{self.total} {label[:40]:<40} {el:6.1f}s{end}")
        else:
            self.stream.write(f"{self.what} [{self.done:>{n}}/{self.total}] {label} ({el:.1f}s)\n")
        self.stream.flush()
