"""The prefill GEMM mode: the HSA's array as a ``kind: systolic`` design, simulated by hwsim.systolic.

The PE multiplies the MXINT4 element (the 1.2 fixed-point code) by the activation; the systolic kind
takes ``mxint4`` as its weight format with ``group_size: 32`` and applies each block's E8M0 exponent
``2**(e - 127)`` as the per-group weight scale in its scale epilogue (``epilogue: fixed``; ws: the
result-write path, os: each PE's group-end add; both RTL-verified at 4x4, docs/systolic.md section 12),
with the per-token activation scale, so the
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


def numpy_reference(sim, x, w_nk):
    """numpy float64 of the prefill GEMM on dequantized operands, the order of operations the epilogue's
    exact result is compared in: ``(A @ dequantize(mxint4(W)).T) * s_a`` with A the activation codes'
    values (per-token quantization, ``sim.afmt``) and s_a their float scales. The matmul is exact when
    every product and partial sum is a multiple of the smallest ulp within 53 bits (small block-exponent
    spread, as for these seeded weights), the final product rounds once -- as ``to_float`` of the exact
    fixed-point result does."""
    import numpy as np

    import datatypes as dt

    qa = dt.quantize(x, sim.afmt.name, group_size=None)
    qw = dt.quantize(w_nk, "mxint4")
    a = sim.afmt.decoded(qa.codes).astype(np.float64) * 2.0 ** -sim.afmt.frac_bits
    return (a @ qw.dequantize().astype(np.float64).T) * np.asarray(qa.scales, np.float64).reshape(-1, 1)


def matches_numpy(sim, layer, Y, seed: int) -> bool:
    """Whether the prefill array's exact result Y of ``layer`` on ``sim.quantized_operands(layer, seed)``,
    rounded once to float64, equals :func:`numpy_reference` on the same seeded floats, bit for bit."""
    import numpy as np

    from ..systolic.epilogue import to_float

    got = to_float(Y, sim.frac_bits + 2 * sim.epilogue.scale_frac)
    want = numpy_reference(sim, *sim.quantized_floats(layer, seed))
    return bool(np.array_equal(got.view(np.uint64), want.view(np.uint64)))
