"""The prefill GEMM mode: the HSA's array as a ``kind: systolic`` design, simulated by hwsim.systolic.

The PE multiplies the MXINT4 element (the 1.2 fixed-point code) by the activation; the systolic kind
takes ``mxint4`` as its weight format with ``group_size: 32`` and applies each block's E8M0 exponent
``2**(e - 127)`` as the per-group weight scale in its scale epilogue (``epilogue: fixed``; ws: the
result-write path, os: each PE's group-end add, hwsim only), with the per-token activation scale, so the
result is the exact fixed-point value of dequantized weights x activations. Its byte counts hold 4 bits
per weight plus the 8-bit exponent per block: 4.25 bits -- see docs/hsa.md.
"""

from __future__ import annotations

from ..design import Design, from_dict

#: the epilogue of the prefill array: 64-bit scales with binary point 56 hold every block exponent
#: 2**-56 .. 2**6 (E8M0 codes 71 .. 133) exactly, and every fp32 activation scale of magnitude in
#: [2**-33, 2**7); the result (192 bits) holds S_a * sum_g S_w * P_g for any K up to 2**32 blocks
PREFILL_EPILOGUE = {"scales": "fixed", "scale_bits": 64, "scale_frac": 56, "width": 192}


def prefill_design(design: Design) -> Design:
    """The systolic design of the HSA's prefill mode (same array, operands, SRAMs, DRAM, clock)."""
    a, o, m = design.array, design.operands, design.memory
    data = {"schema": 1, "name": f"{design.name}-prefill", "kind": "systolic",
            "description": f"prefill GEMM mode of {design.name} (kind hsa)", "clock_mhz": design.clock_mhz,
            "array": {"rows": a.rows, "cols": a.cols, "dataflow": a.dataflow, "pe_latency": a.pe_latency},
            "operands": {"weight": o.weight, "activation": o.activation, "accumulator": o.accumulator,
                         "group_size": o.block},
            "memory": {"ifmap_kb": m.ifmap_kb, "filter_kb": m.filter_kb, "ofmap_kb": m.ofmap_kb,
                       "dram_bytes_per_cycle": m.dram_bytes_per_cycle, "backing": "dram"},
            "epilogue": dict(PREFILL_EPILOGUE)}
    return from_dict(data, f"{design.source} (its prefill array as kind systolic)")
