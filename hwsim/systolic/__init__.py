"""``kind: systolic``: weight/output/input-stationary systolic arrays (docs/systolic.md).

Modules: ``spec`` (YAML sections), ``timing`` (fold plan, closed forms, SCALE-Sim's arithmetic),
``kernels`` (cycle-level Numba kernels), ``memory`` (on-chip memory geometry and the fit rule),
``sim`` (the simulator), ``result`` / ``report`` / ``plots`` (outputs), ``scalesim_io`` (SCALE-Sim files).
The names below are imported on first use, so importing the package (or its spec) stays cheap.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "SystolicSim": ".sim", "AUTO_CYCLE_LIMIT": ".sim", "AUTO_CYCLE_CLOCKS": ".sim", "build": ".sim",
    "FoldPlan": ".timing", "scalesim_metrics": ".timing",
    "LayerResult": ".result", "SystolicResult": ".result",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'hwsim.systolic' has no attribute {name!r}")
