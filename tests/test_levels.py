"""One test class per kind, parametrised over the levels (as PyMTL3 reuses one test across FL/CL/RTL):
each verified design of the kind gets one seeded vector set from its bench, and every level the bench has
-- model, hwsim, amaranth.sim, cocotb/Verilator -- must reproduce the expected outputs and cycles, which
the bench derives from the datatypes model and the documented timing, not from any level."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from hwsim import kinds
from hwsim.design import catalog, load

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"


@lru_cache(maxsize=None)
def _prepared(path: Path):
    """(design, component, artefacts, vectors) of a design, made once for all its levels."""
    from rtl_gen.verilog import component_for, emit

    design = load(path)
    bench = kinds.get(design.kind).load("bench")
    comp = component_for(design)
    art = emit(design, BUILD, component=comp)
    return design, bench, comp, art, bench.vectors(design, comp, seed=0)


def _cases(kind: str, names: list[str] | None = None):
    bench = kinds.get(kind).load("bench")
    paths = [p for p, d in catalog() if d.kind == kind and d.verify]
    if names is not None:
        paths = [p for p in paths if p.stem in names]
    return [pytest.param(p, level, id=f"{p.stem}-{level}") for p in paths for level in bench.LEVELS]


class LevelSuite:
    """A level of one verified design reproduces the bench's expected values bit for bit and cycle for
    cycle, and (for clocked levels) its own runner's verdict passed."""

    def test_level(self, path: Path, level: str):
        design, bench, comp, art, vs = _prepared(path)
        got, note = bench.run(level, design, comp, vs, art.directory)
        assert not got.pop("_runner_failed", False), note
        res = bench.check(vs, got, level)
        assert res.ok, res.summary()
        assert res.checked > 0
        if "cycles" in vs.expected and level != "model":
            assert res.cycles == int(vs.expected["cycles"].sum()) > 0


#: systolic arrays: one Verilator build per (size, dataflow), plus the non-square latency-2 design and the
#: pipelining choices (registered memory outputs, PE latency 3/4 with decode/multiply/accumulate stages)
SYSTOLIC = ["sa_ws_2x2_int8", "sa_os_2x2_int8", "sa_is_2x2_int8", "sa_ws_4x4_sf4_e4m3", "sa_os_4x4_int8",
            "sa_is_4x4_int4_int8", "sa_ws_8x8_int8", "sa_os_8x8_int8", "sa_is_8x8_int8", "sa_ws_3x2_l2_int8",
            # per-group selectors in the weight lanes + the scale epilogue (docs/systolic.md section 12)
            "sa_ws_4x4_razer4_int8", "sa_ws_4x4_bitmod4_e4m3",
            # MXINT4: the block's E8M0 exponent as a power-of-two weight scale (the HSA's prefill array)
            "sa_ws_4x4_mxint4_int8",
            # the scale epilogue in output-stationary arrays (weight scales applied in the PEs) and in
            # input-stationary ones (the ws unit with the scales' roles swapped)
            "sa_os_4x4_razer4_int8", "sa_os_4x4_mxint4_int8", "sa_is_4x4_razer4_int8",
            # pipelining choices (docs/systolic.md section 11a)
            "sa_ws_4x4_int8_l3_rm", "sa_ws_4x4_sf4_e4m3_l3", "sa_os_3x2_int8_l4_rm", "sa_is_2x3_int4_int8_rm"]


@pytest.mark.parametrize("path, level", _cases("systolic", SYSTOLIC))
class TestSystolicLevels(LevelSuite):
    pass


@pytest.mark.parametrize("path, level", _cases("pe"))
class TestPELevels(LevelSuite):
    pass


@pytest.mark.parametrize("path, level", _cases("decoder"))
class TestDecoderLevels(LevelSuite):
    pass


@pytest.mark.parametrize("path, level", _cases("hsa"))
class TestHSALevels(LevelSuite):
    pass


@pytest.mark.parametrize("path, level", _cases("butterfly", ["bfly_engine_tiny"]))
class TestButterflyLevels(LevelSuite):
    pass
