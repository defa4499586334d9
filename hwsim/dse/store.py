"""The results of a sweep: a Parquet dataset, appended in batches, read back for resume and reports.

Layout of an output directory::

    DIR/points/part-<time>-<n>.parquet    one file per flushed batch of evaluated points
    DIR/area/part-<time>-<n>.parquet      one file per flushed batch of area results (--area)
    DIR/build/<name>-<hash>/              RTL and Yosys area cache (--area)
    DIR/sweep.yaml                        the sweep file of the last run; report.txt, pareto*.{txt,csv,png}

Each part file is written to a temporary name and renamed: a killed run leaves whole files only, so
every point in a part file is finished. A file that is not readable Parquet with the expected columns
is an error that names it (the dataset is never silently recomputed over).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable

from ..report import atomic_write
from . import StoreError


def _arrow_schema(columns: dict[str, str]):
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64()}
    return pa.schema([(k, types[v]) for k, v in columns.items()])


class Dataset:
    """A directory of Parquet part files with a fixed set of columns."""

    def __init__(self, directory: str | Path, columns: dict[str, str]):
        self.dir = Path(directory)
        self.columns = columns
        self._seq = 0

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.parquet")) if self.dir.is_dir() else []

    def append(self, rows: list[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as one new part file (atomically, with the umask's permissions:
        hwsim.report.atomic_write)."""
        if not rows:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _arrow_schema(self.columns)
        table = pa.Table.from_pylist([{c: r.get(c) for c in self.columns} for r in rows], schema=schema)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = self.dir / f"part-{time.time_ns():020d}-{os.getpid()}-{self._seq:05d}.parquet"
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd")
        return atomic_write(path, buf.getvalue().to_pybytes())

    def read(self, columns: list[str] | None = None):
        """The whole dataset as one Arrow table (empty table when there are no files)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _arrow_schema(self.columns)
        want = columns or list(self.columns)
        tables = []
        for f in self.files():
            try:
                t = pq.read_table(f)
            except Exception as e:       # noqa: BLE001 -- pyarrow raises several types for a bad file
                raise StoreError(f"{f}: not a readable Parquet file ({str(e).splitlines()[0][:120]}); move or "
                                 f"delete it to resume (finished points in it would be recomputed)") from None
            missing = [c for c in want if c not in t.column_names]
            if missing:
                raise StoreError(f"{f}: not a sweep result file (no column {missing[0]!r}); move or delete it")
            try:
                tables.append(t.select(want).cast(pa.schema([schema.field(c) for c in want])))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise StoreError(f"{f}: unexpected column types ({str(e).splitlines()[0][:120]})") from None
        if not tables:
            return pa.schema([schema.field(c) for c in want]).empty_table()
        return pa.concat_tables(tables)

    def rows(self, columns: list[str] | None = None) -> list[dict[str, Any]]:
        return self.read(columns).to_pylist()


class Store:
    """The datasets of one sweep output directory."""

    def __init__(self, directory: str | Path):
        from .evaluate import AREA_COLUMNS, POINT_COLUMNS

        self.dir = Path(directory)
        self.points = Dataset(self.dir / "points", POINT_COLUMNS)
        self.area = Dataset(self.dir / "area", AREA_COLUMNS)

    def exists(self) -> bool:
        return bool(self.points.files() or self.area.files())

    def finished(self) -> dict[str, str]:
        """``{key: status}`` of recorded points; the last record of a key wins (a rerun retries failures)."""
        t = self.points.read(["key", "status"])
        return dict(zip(t.column("key").to_pylist(), t.column("status").to_pylist()))

    def finished_area(self) -> dict[str, str]:
        t = self.area.read(["design_hash", "status"])
        return dict(zip(t.column("design_hash").to_pylist(), t.column("status").to_pylist()))

    def latest_points(self) -> list[dict[str, Any]]:
        """Every recorded point, the last record of each key only."""
        rows: dict[str, dict] = {}
        for r in self.points.rows():
            rows[r["key"]] = r
        return list(rows.values())

    def latest_area(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict] = {}
        for r in self.area.rows():
            out[r["design_hash"]] = r
        return out


class Writer:
    """Buffers rows and appends them as part files every ``every`` rows or ``seconds`` seconds."""

    def __init__(self, dataset: Dataset, every: int = 5000, seconds: float = 2.0):
        self.ds, self.every, self.seconds = dataset, every, seconds
        self.buf: list[dict] = []
        self.t = time.monotonic()
        self.written = 0

    def add(self, rows: Iterable[dict]) -> None:
        self.buf.extend(rows)
        if len(self.buf) >= self.every or time.monotonic() - self.t >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.ds.append(self.buf)
            self.written += len(self.buf)
            self.buf = []
        self.t = time.monotonic()
