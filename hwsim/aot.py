"""Ahead-of-time builds of Numba kernels, so that a short command runs compiled kernels without importing
Numba.

Loading one cached ``@njit`` kernel costs a fresh process ~0.3 CPU-s of Numba start-up (importing Numba,
setting up its CPU target, unpickling the cached library), more than everything else a short
``hwsim simulate`` does. For a kernel set on such a path, ``load`` returns an extension module that
``numba.pycc`` compiled from the *same* ``@njit`` functions (their ``py_func``, with the signatures
given): same source, same compiler, no second implementation. It is built on first use (a few seconds,
like Numba's own first compilation) into ``__pycache__`` next to the kernels' module (``$NUMBA_CACHE_DIR``
when that is set; the user's cache directory when the package is read-only), under a name keyed by the
kernels' source, the numpy version and the Python ABI; a changed source is rebuilt, stale builds are
removed. The build runs in a temporary directory and is renamed into place, so concurrent processes
(pytest-xdist) never see half a module.

The compiled entry points do not check their arguments (a wrong dtype crashes the process), so their
callers pass arrays they made themselves, with the exact dtypes and layouts of the signatures.
``HWSIM_AOT=0`` (or a failed build, reported once on stderr) selects the ``@njit`` module instead: the
results are the same, only the start-up differs (tests/test_aot.py compares the two).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class KernelSet:
    """Entry points of one ``@njit`` module to build ahead of time."""

    name: str                          #: the extension module's name (its ``PyInit_<name>`` symbol)
    module: str                        #: the module that defines the ``@njit`` functions
    exports: tuple[tuple[str, str], ...]   #: (function name, Numba signature) pairs
    sources: tuple[str, ...]           #: modules whose source the compiled code depends on (hashed)


_loaded: dict[KernelSet, ModuleType] = {}


def enabled() -> bool:
    return os.environ.get("HWSIM_AOT", "1") != "0"


def load(ks: KernelSet, aot: bool | None = None) -> ModuleType:
    """The kernels of ``ks``: the ahead-of-time build (built now if missing or stale) unless ``aot`` is
    False or ``HWSIM_AOT=0``; the ``@njit`` module itself otherwise, or when the build fails."""
    if aot is None:
        aot = enabled()
    if not aot:
        return importlib.import_module(ks.module)
    if ks not in _loaded:
        path = built_path(ks)
        if not path.exists():
            try:
                build(ks, path)
            except Exception as e:                      # noqa: BLE001 - any failure: fall back, say so once
                print(f"hwsim: ahead-of-time build of {ks.module} failed ({type(e).__name__}: {e}); "
                      "using Numba's JIT (same results, slower start-up)", file=sys.stderr)
                _loaded[ks] = importlib.import_module(ks.module)
                return _loaded[ks]
        _loaded[ks] = _import_extension(ks.name, path)
    return _loaded[ks]


def built_path(ks: KernelSet) -> Path:
    """Where the build of ``ks`` for this source, numpy and Python lives."""
    import numpy as np

    h = hashlib.sha256()
    for mod in (*ks.sources, __name__):
        h.update(Path(importlib.util.find_spec(mod).origin).read_bytes())
    h.update(repr((ks.exports, np.__version__, sys.version)).encode())
    return _directory(ks) / f"{ks.name}-{h.hexdigest()[:16]}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def _directory(ks: KernelSet) -> Path:
    """$NUMBA_CACHE_DIR/hwsim_aot if set; else __pycache__ beside the kernels' module if writable (as Numba
    does); else the user's cache directory ($XDG_CACHE_HOME or ~/.cache)/hwsim/aot."""
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        return Path(cache) / "hwsim_aot"
    here = Path(importlib.util.find_spec(ks.module).origin).parent / "__pycache__"
    if os.access(here if here.is_dir() else here.parent, os.W_OK):
        return here
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwsim" / "aot"


def build(ks: KernelSet, path: Path) -> Path:
    """Compile the exports of ``ks`` with ``numba.pycc`` into ``path`` (atomically); remove older builds."""
    import warnings

    with warnings.catch_warnings():                     # pycc is "pending deprecation" in Numba 0.68
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    kernels = importlib.import_module(ks.module)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{ks.name}-") as tmp:
        cc = CC(ks.name)
        cc.output_dir = tmp
        cc.verbose = False
        for fn, sig in ks.exports:
            cc.export(fn, sig)(getattr(kernels, fn).py_func)
        cc.compile()
        os.replace(Path(tmp) / cc.output_file, path)
    for old in path.parent.glob(f"{ks.name}-*{importlib.machinery.EXTENSION_SUFFIXES[0]}"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def _import_extension(name: str, path: Path) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
