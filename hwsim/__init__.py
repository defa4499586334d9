"""Cycle-level simulators, workloads, reports and the ``hwsim`` command line."""

from __future__ import annotations

from pathlib import Path

from . import design
from .design import Design, DesignError, load


def build(design: "Design | str | Path"):
    """A simulator for a design (a Design, a YAML design file, or a SCALE-Sim .cfg file):
    ``sim = hwsim.build(design); result = sim.run(workload)``."""
    if isinstance(design, (str, Path)):
        if Path(design).suffix.lower() == ".cfg":
            from .scalesim_io import load_design

            design = load_design(design)
        else:
            design = load(design)
    if not isinstance(design, Design):
        raise DesignError(f"build() takes a Design or a design file path, got {type(design).__name__}")
    if design.kind == "systolic":
        from .systolic import SystolicSim

        return SystolicSim(design)
    raise DesignError(f"{design.source}: kind = {design.kind!r}: no simulator for this kind yet")


__all__ = ["Design", "DesignError", "build", "design", "load"]
