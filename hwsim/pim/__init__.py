"""DRAM processing-in-memory kind ``pim``: a command-level HBM2 engine, HBM-PIM, P3-LLM PIM units.

Modules: :mod:`.engine` (the Numba command-level timing engine), :mod:`.compat` (PIMSimulator
b464dde's kernels and baseline on that engine), :mod:`.spec` (the YAML sections), :mod:`.sim`
(``build(design) -> Simulator``), :mod:`.block` (the PIM block's functional model).
"""
