"""Cycle-level simulators, workloads, reports and the ``hwsim`` command line.

    sim = hwsim.build("designs/sa_ws_8x8_int8.yaml")     # any registered kind (hwsim.kinds)
    result = sim.run("gemm:64,64,64")
"""

from __future__ import annotations

import os

# numpy's OpenBLAS starts one thread per core when numpy is imported, and each spins for ~2^28 cycles
# before it sleeps: ~0.1 CPU-s per core in every process, more than a short `hwsim simulate` spends
# working. Idle BLAS threads sleep at once instead (BLAS speed unchanged; docs/startup.md). Effective
# when hwsim is imported before numpy, as the command line does; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from pathlib import Path  # noqa: E402

from . import design, kinds  # noqa: E402
from .design import Design, DesignError, load  # noqa: E402
from .design import from_dict as design_from_dict  # noqa: E402


def load_any(path: str | Path) -> Design:
    """A design from a YAML design file, or from another design-file format a kind reads (e.g. a
    SCALE-Sim .cfg)."""
    loader = kinds.design_file_loader(Path(path).suffix)
    return loader(path) if loader is not None else load(path)


def for_kind(design: "Design | str | Path | dict", kind: str) -> Design:
    """What a kind's own ``build`` accepts, as a Design of that kind: a Design, a design file path (YAML, or
    a format a kind reads) or a mapping. Anything else, or a design of another kind, is a DesignError."""
    if isinstance(design, (str, Path)):
        design = load_any(design)
    elif isinstance(design, dict):
        design = design_from_dict(design)
    if not isinstance(design, Design):
        raise DesignError(f"build() takes a Design, a design file path or a mapping, got {type(design).__name__}")
    if design.kind != kind:
        raise DesignError(f"{design.source}: kind = {design.kind!r}: this simulator takes kind {kind}")
    return design


def build(design: "Design | str | Path"):
    """A simulator for a design (a Design or a design file path): ``sim = hwsim.build(design);
    result = sim.run(workload)``. The kind's simulator comes from the registry."""
    if isinstance(design, (str, Path)):
        design = load_any(design)
    if not isinstance(design, Design):
        raise DesignError(f"build() takes a Design or a design file path, got {type(design).__name__}")
    kind = kinds.get(design.kind)
    if kind.simulator is None:
        raise DesignError(f"{design.source}: kind = {design.kind!r} is an RTL unit without a simulator; kinds "
                          f"with one: {', '.join(k.name for k in kinds.with_role('simulator'))}")
    return kind.load("simulator")(design)


__all__ = ["Design", "DesignError", "build", "design", "for_kind", "kinds", "load", "load_any"]
