"""YAML design loading: defaults, hashing and errors that name file, key path, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwsim
from hwsim.design import DesignError, loads

GOOD = """
schema: 1
name: t
kind: systolic
array: {rows: 4, cols: 2, dataflow: os}
"""


def test_defaults_and_access():
    d = loads(GOOD, "g.yaml")
    assert (d.array.rows, d.array.cols, d.array.dataflow) == (4, 2, "os")
    assert d.operands.weight == "int8" and d.memory.ifmap_kb == 64 and d.clock_mhz == 500.0
    r = d.resolved()
    assert r["operands"]["accumulator"] == "int32" and r["verify"] is False
    assert loads(d.to_yaml()).resolved() == r


def test_hash_is_of_the_resolved_design():
    a = loads(GOOD)
    b = loads(GOOD + "operands: {weight: int8}\nclock_mhz: 500\n")   # only defaults spelt out
    c = loads(GOOD.replace("rows: 4", "rows: 8"))
    assert a.hash == b.hash != c.hash and len(a.hash) == 12


@pytest.mark.parametrize("text, msg", [
    ("schema: 1\nname: t\nkind: gpu\n", r"f.yaml: kind = 'gpu': allowed: systolic"),
    (GOOD.replace("rows: 4", "rows: 0"), r"f.yaml: array.rows = 0: must be > 0"),
    (GOOD.replace("rows: 4", "rows: 2.5"), r"array.rows = 2.5: expected integer"),
    (GOOD.replace("rows: 4", "rows: true"), r"array.rows = True: expected integer"),
    (GOOD.replace("dataflow: os", "dataflow: xs"), r"array.dataflow = 'xs': allowed: ws, os, is"),
    (GOOD.replace("rows: 4, ", ""), r"array.rows is missing"),
    (GOOD + "operands: {weight: sf5}\n", r"operands.weight = 'sf5': unknown format.*did you mean"),
    (GOOD + "operands: {accumulator: int99}\n", r"operands.accumulator = 'int99': expected int<N>"),
    (GOOD + "memory: {ifmap: 3}\n", r"memory.ifmap: unknown key; allowed in memory: ifmap_kb"),
    (GOOD + "colour: red\n", r"colour: unknown key for kind systolic"),
    (GOOD.replace("schema: 1", "schema: 2"), r"schema = 2: allowed: 1"),
    ("- a\n- b\n", r"a design must be a YAML mapping"),
    ("a: [1,\n", r"not valid YAML"),
])
def test_errors(text, msg):
    with pytest.raises(DesignError, match=msg):
        loads(text, "f.yaml")


def test_bundled_designs_load():
    """Every design in the catalog (sub-folders too) loads, is named after its file, and every kind
    with a simulator or RTL has at least one."""
    from hwsim import kinds
    from hwsim.design import catalog

    found = catalog()
    assert found
    for f, d in found:
        assert d.name == f.stem
    assert {d.kind for _, d in found} >= {k.name for k in kinds.KINDS.values() if k.simulator or k.rtl}


def test_missing_file():
    with pytest.raises(DesignError, match="no such design file"):
        hwsim.load("designs/does-not-exist.yaml")


def test_every_kind_build_takes_a_design_a_path_or_a_mapping(tmp_path):
    """Each kind's own ``build`` (the registry's simulator module) accepts what ``hwsim.build`` accepts -- a
    Design, a design file path, a mapping -- and refuses a design of another kind by name."""
    import yaml

    from hwsim import kinds
    from hwsim.design import catalog

    first = {}
    for path, d in catalog():
        first.setdefault(d.kind, (path, d))
    sims = [k for k in kinds.with_role("simulator") if k.name in first]
    assert len(sims) >= 6
    for k in sims:
        path, d = first[k.name]
        mod = k.load("simulator").__module__
        build = __import__(mod, fromlist=["build"]).build
        for given in (d, path, str(path), yaml.safe_load(path.read_text())):
            sim = build(given)
            assert sim.design.hash == d.hash, (k.name, type(given))
        other_path, _ = next(v for name, v in first.items() if name != k.name)
        with pytest.raises(DesignError, match=f"this simulator takes kind {k.name}"):
            build(other_path)
    with pytest.raises(DesignError, match="got int"):
        __import__("hwsim.systolic.sim", fromlist=["build"]).build(3)
