"""Numba, imported on first use: ``njit``, ``intrinsic`` and ``types`` for the kernel modules.

Importing Numba costs about 0.3-0.5 s, which every command would pay although listing formats or loading
a design never runs a kernel. The kernel modules therefore decorate with the ``njit`` / ``intrinsic``
below, which record the function and return a placeholder. The first call of any placeholder imports
Numba, makes every recorded function a real Numba dispatcher (with the same options, so ``cache=True``
keeps its on-disk cache), and replaces each placeholder in the globals of the loaded modules by
its dispatcher (in every loaded module, so kernels elsewhere that imported a kernel by name compile
against the real dispatcher too). A module that imports a kernel by name *after* the first call gets
the real dispatcher directly. Nothing is compiled
earlier than with plain ``numba.njit`` (compilation still happens at the first call per signature).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

_PENDING: list["_Lazy"] = []
_LOCK = threading.RLock()


class _Lazy:
    """A decorated function waiting for Numba."""

    def __init__(self, maker: str, func: Callable, args: tuple, kwargs: dict):
        self._maker, self._func, self._args, self._kwargs = maker, func, args, kwargs
        self._real: Any = None
        self.__name__ = getattr(func, "__name__", "kernel")
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.__module__ = getattr(func, "__module__", __name__)
        self.__doc__ = getattr(func, "__doc__", None)
        self.__wrapped__ = func
        _PENDING.append(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return materialize(self)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(materialize(self), name)

    def __repr__(self) -> str:
        return f"<numba kernel {self.__qualname__} (Numba not imported yet)>"


def materialize(obj: Any = None) -> Any:
    """Import Numba, turn every recorded function into its Numba object, patch the module globals; return
    the real object of ``obj`` (or ``obj`` itself when it is not a placeholder)."""
    with _LOCK:
        if _PENDING:
            import numba
            from numba import extending

            makers = {"njit": numba.njit, "intrinsic": extending.intrinsic}
            for lazy in list(_PENDING):            # definition order: intrinsics before their users
                maker = makers[lazy._maker]
                lazy._real = maker(*lazy._args, **lazy._kwargs)(lazy._func) if (lazy._args or lazy._kwargs) \
                    else maker(lazy._func)
            done = list(_PENDING)
            _PENDING.clear()
            real = {id(x): x._real for x in done}
            for mod in list(sys.modules.values()):   # every module that imported a kernel by name
                try:
                    items = list(vars(mod).items())
                except TypeError:
                    continue
                for key, val in items:
                    if isinstance(val, _Lazy) and id(val) in real:
                        setattr(mod, key, real[id(val)])
    return obj._real if isinstance(obj, _Lazy) else obj


def _decorator(maker: str):
    def deco(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:      # @njit
            return _Lazy(maker, args[0], (), {})

        def wrap(func: Callable) -> _Lazy:                             # @njit(cache=True)
            return _Lazy(maker, func, args, kwargs)

        return wrap

    return deco


njit = _decorator("njit")
intrinsic = _decorator("intrinsic")


class _Types:
    """``numba.types``, imported when an attribute is first read (inside typing functions)."""

    def __getattr__(self, name: str) -> Any:
        from numba import types

        return getattr(types, name)


types = _Types()
