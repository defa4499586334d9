"""kind ``butterfly``: the adaptable butterfly accelerator (Fan et al., MICRO'22) running FABNet.

Modules: :mod:`.spec` (YAML sections), :mod:`.functional` (FP16 butterfly/FFT/FABNet model),
:mod:`.engine` (index generator, bank map, per-vector engine timing), :mod:`.sim` (cycle-level and
analytical Butterfly Processor, result protocol), :mod:`.compat` (the authors' simulator,
``--compat butterfly-acc``), :mod:`.workloads` (workload strings), :mod:`.flow` (the flow step).
"""
