"""The prefill GEMM mode: the HSA's array as a ``kind: systolic`` design, simulated by hwsim.systolic.

The PE multiplies the MXINT4 element (the 1.2 fixed-point code) by the activation; the systolic kind
takes ``mxint4`` as its weight format with ``group_size: 32``. Its DRAM model counts 4 bits per weight
(the E8M0 exponents, 1/17 of the weight bytes, are not in its byte count) -- see docs/hsa.md.
"""

from __future__ import annotations

from ..design import Design, from_dict


def prefill_design(design: Design) -> Design:
    """The systolic design of the HSA's prefill mode (same array, operands, SRAMs, DRAM, clock)."""
    a, o, m = design.array, design.operands, design.memory
    data = {"schema": 1, "name": f"{design.name}-prefill", "kind": "systolic",
            "description": f"prefill GEMM mode of {design.name} (kind hsa)", "clock_mhz": design.clock_mhz,
            "array": {"rows": a.rows, "cols": a.cols, "dataflow": a.dataflow, "pe_latency": a.pe_latency},
            "operands": {"weight": o.weight, "activation": o.activation, "accumulator": o.accumulator,
                         "group_size": o.block},
            "memory": {"ifmap_kb": m.ifmap_kb, "filter_kb": m.filter_kb, "ofmap_kb": m.ofmap_kb,
                       "dram_bytes_per_cycle": m.dram_bytes_per_cycle, "backing": "dram"}}
    return from_dict(data, f"{design.source} (its prefill array as kind systolic)")
