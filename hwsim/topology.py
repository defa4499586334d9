"""SCALE-Sim 3.0.0 topology files (.csv), read as SCALE-Sim's own parser does
(``topology_utils.load_arrays_conv/gemm``): a workload format every kind can take.

* the first line is a header; blank lines are skipped; each row ends with a comma (SCALE-Sim drops the
  field after the last comma; rows without the trailing comma are accepted too).
* Conv rows: ``name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Stride[, N:M]``; a
  layer whose name contains ``DP`` is depthwise and becomes one layer per channel (as SCALE-Sim does).
* GEMM rows (header ``Layer, M, N, K``): ``name, M, N, K[, N:M]``. Output sizes use SCALE-Sim's
  ``ceil((H - R + stride) / stride)``.

Every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from pathlib import Path

from .layers import MAX_LAYERS, Conv, Gemm, Network, WorkloadError, network


class ScaleSimFileError(ValueError):
    """A malformed SCALE-Sim file: the message names file, line and field."""


# ---- topology --------------------------------------------------------------------------------------
_CONV_FIELDS = ["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                "Num Filter", "Strides"]
_GEMM_FIELDS = ["Layer", "M", "N", "K"]


def read_text(path: str | Path, what: str) -> str:
    """The text of a SCALE-Sim ``what`` file (topology, configuration, layout); a missing, unreadable or
    binary file is a one-line ScaleSimFileError naming it."""
    p = Path(path)
    if not p.is_file():
        raise ScaleSimFileError(f"{p}: no such SCALE-Sim {what} file")
    try:
        return p.read_text()
    except OSError as e:
        raise ScaleSimFileError(f"{p}: cannot read the {what} file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ScaleSimFileError(f"{p}: not a text file") from None


def _row_fields(row: str) -> list[str]:
    elems = row.split(",")
    if elems and elems[-1].strip() == "":
        elems = elems[:-1]                 # the trailing comma SCALE-Sim writes (it drops that field)
    return elems


def topology_kind(path: str | Path) -> str:
    """"gemm" if the header reads ``Layer, M, N, K``, else "conv"."""
    p = Path(path)
    with p.open() as f:
        header = f.readline()
    fields = [h.strip().lower() for h in _row_fields(header.strip())]
    return "gemm" if fields[1:4] == ["m", "n", "k"] else "conv"


def read_topology(path: str | Path, kind: str | None = None) -> Network:
    """Read a SCALE-Sim topology file (conv or GEMM form, detected from the header unless ``kind``)."""
    p = Path(path)
    lines = read_text(p, "topology").splitlines()
    if not lines:
        raise ScaleSimFileError(f"{p}: empty file (SCALE-Sim expects a header line, then one layer per line)")
    if kind is None:
        kind = topology_kind(p)
    if kind not in ("conv", "gemm"):
        raise ScaleSimFileError(f"{p}: topology kind {kind!r}: allowed: conv, gemm")
    names = _GEMM_FIELDS if kind == "gemm" else _CONV_FIELDS
    items = []
    for i, raw in enumerate(lines[1:], 2):
        row = raw.strip()
        if row == "":
            continue
        elems = _row_fields(row)
        where = f"{p}:{i}"
        need = len(names)
        if len(elems) < need or len(elems) > need + 1:
            raise ScaleSimFileError(
                f"{where}: {len(elems)} fields; a {kind} row is {', '.join(names)}[, N:M sparsity] "
                f"({need} or {need + 1} fields)")
        name = elems[0].strip()
        if not name:
            raise ScaleSimFileError(f"{where}: field '{names[0]}' is empty")
        vals = []
        for f, text in zip(names[1:], elems[1:need]):
            try:
                v = int(text.strip())
            except ValueError:
                raise ScaleSimFileError(f"{where}: field '{f}' = {text.strip()!r}: expected a positive "
                                        f"integer") from None
            if v <= 0:
                raise ScaleSimFileError(f"{where}: field '{f}' = {v}: must be a positive integer")
            vals.append(v)
        if len(elems) == need + 1:
            sp = elems[need].strip()
            if not re.fullmatch(r"\d+\s*:\s*\d+", sp):
                raise ScaleSimFileError(f"{where}: field 'Sparsity' = {sp!r}: expected N:M (e.g. 1:1)")
        try:
            if kind == "gemm":
                m, n, k = vals
                items.append(Gemm(M=m, N=n, K=k, name=name, source=where))
            else:
                h, w, r, s, c, nf, st = vals
                if r > h:
                    raise ScaleSimFileError(f"{where}: field 'Filter Height' = {r} is larger than "
                                            f"'IFMAP Height' = {h}")
                if s > w:
                    raise ScaleSimFileError(f"{where}: field 'Filter Width' = {s} is larger than "
                                            f"'IFMAP Width' = {w}")
                if "DP" in name:                    # depthwise: one single-channel layer per channel
                    if len(items) + c > MAX_LAYERS:
                        raise ScaleSimFileError(f"{where}: field 'Channels' = {c}: a depthwise layer becomes "
                                                f"one layer per channel; a workload has at most "
                                                f"{MAX_LAYERS:,} layers")
                    for ch in range(c):
                        items.append(Conv(h, w, r, s, 1, nf, st, st, name=f"{name}Channel_{ch}",
                                          convention="scalesim", source=where))
                else:
                    items.append(Conv(h, w, r, s, c, nf, st, st, name=name, convention="scalesim",
                                      source=where))
        except WorkloadError as e:
            raise ScaleSimFileError(str(e)) from None
    if not items:
        raise ScaleSimFileError(f"{p}: no layers (SCALE-Sim expects a header line, then one layer per line)")
    return network(items, name=p.stem)


