"""Cycle-level simulators, workloads, reports and the ``hwsim`` command line."""

from __future__ import annotations

from . import design
from .design import Design, DesignError, load

__all__ = ["Design", "DesignError", "design", "load"]
