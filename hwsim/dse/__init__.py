"""Design-space exploration: ``hwsim sweep``.

A sweep file names a base design, parameter ranges and workloads (:mod:`hwsim.dse.spec`); its points
are evaluated through the kind registry with the public simulator API (:mod:`hwsim.dse.evaluate`), on
a Dask ``LocalCluster`` by default or an existing Dask scheduler (:mod:`hwsim.dse.run`); results go to a
resumable Parquet dataset (:mod:`hwsim.dse.store`) and are summarised with Pareto fronts
(:mod:`hwsim.dse.pareto`, :mod:`hwsim.dse.report`).

Importing this package imports neither Dask nor pyarrow nor the simulators.
"""

from __future__ import annotations


class SweepError(ValueError):
    """A sweep that cannot run: the message names the file, key or option, the value and what is allowed."""


class SchedulerUnreachable(RuntimeError):
    """``--scheduler ADDRESS`` could not be reached (nothing has been written)."""


class StoreError(ValueError):
    """A results dataset that cannot be read or written (names the file)."""
