"""DRAM processing-in-memory kind ``pim``: a command-level HBM2 engine, HBM-PIM, P3-LLM PIM units.

Modules: :mod:`.spec` (YAML sections), :mod:`.engine` (the Numba command-level timing engine),
:mod:`.compat` (PIMSimulator b464dde's kernels and non-PIM baseline on that engine), :mod:`.block` (the
PIM block's functional model and the native kernels), :mod:`.fp16` (lane arithmetic), :mod:`.workload`,
:mod:`.sim` (``build(design) -> PimSimulator``), :mod:`.p3llm` (P3-LLM units, decode step),
:mod:`.report` (plots), :mod:`.flow` (the ``hwsim flow`` step; application layer). See docs/pim.md.
"""
