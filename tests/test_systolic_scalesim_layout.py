"""SCALE-Sim 3.0.0 custom SRAM layouts (bank conflicts): hwsim's SCALE-Sim-compatible numbers equal SCALE-Sim's.

tests/data/scalesim_layout_reference.json was written by tests/reference/generate_scalesim_layout_reference.py,
which ran SCALE-Sim 3.0.0 (PyPI, CPython 3.11.7) on every case with IfmapCustomLayout and/or FilterCustomLayout
and parsed its reports. Here the same configuration, topology and layout text are written again, read with
hwsim's readers, and every report field is compared exactly (floats with ==); the cases on which SCALE-Sim
stopped with an exception must raise ScaleSimUnsupported.

The bank of an SRAM word is its place in the iteration order of a CPython set (SCALE-Sim's
``list(this_set).index(addr)``); ``py_set_order`` emulates CPython 3.11's set and is checked against real
sets here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import hwsim
from hwsim.systolic import scalesim_io as io
from hwsim.systolic import scalesim_mem as sm

REF = json.loads((Path(__file__).parent / "data" / "scalesim_layout_reference.json").read_text())
CASES = REF["cases"]


def _files(case, tmp_path):
    names = [ln.split(",")[0].strip() for ln in case["topology"].splitlines()[1:] if ln.strip()]
    lay = tmp_path / "layout.csv"
    lay.write_text(io.layout_text(names, case["layout"]))
    cfg = tmp_path / f"{case['name']}.cfg"
    cfg.write_text(io.config_text(case["name"], case["rows"], case["cols"], case["dataflow"], case["ifmap_kb"],
                                  case["filter_kb"], case["ofmap_kb"], layout_file="layout.csv", **case["interface"]))
    topo = tmp_path / "topology.csv"
    topo.write_text(case["topology"])
    return cfg, topo


def test_reference_provenance():
    assert REF["scalesim_version"] == "3.0.0" and REF["python"].startswith("3.11.")
    ok = [c for c in CASES if "layers" in c]
    assert len(ok) >= 30
    assert {c["dataflow"] for c in ok} == {"ws", "is", "os"} and {c["kind"] for c in ok} == {"gemm", "conv"}
    flags = {(c["interface"].get("ifmap_custom", False), c["interface"].get("filter_custom", False)) for c in ok}
    assert flags == {(True, False), (False, True), (True, True)}
    assert sum(l["stall_cycles"] > 0 for c in ok for l in c["layers"]) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_layout_parity(case, tmp_path):
    cfg, topo = _files(case, tmp_path)
    sim = hwsim.build(cfg)
    if "error" in case:
        with pytest.raises(sm.ScaleSimUnsupported, match="SCALE-Sim 3.0.0 fails"):
            sim.run(io.read_topology(topo), mode="analytical").scalesim()
        return
    got = sim.run(io.read_topology(topo), mode="analytical").scalesim()
    assert len(got) == len(case["layers"])
    for mine, theirs in zip(got, case["layers"]):
        for key in io.FIELDS:
            assert mine[key] == theirs[key], (case["name"], mine["layer"], key, mine[key], theirs[key])


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="emulates CPython 3.11's set (SCALE-Sim's reference ran on 3.11.7)")
def test_set_order_equals_cpython_sets():
    """py_set_order against real sets of numpy float64 keys (as SCALE-Sim's fetch matrix holds them): dense
    ranges with offsets, sparse and colliding keys (multiples of powers of two), sizes through several
    resizes, duplicates skipped."""
    from hwsim.systolic.scalesim_kernels import py_set_order

    rng = np.random.default_rng(11)
    for m in range(1, 300):                  # every line length up to 299 (tables 8 ... 2048), shuffled ranges
        keys = (rng.permutation(m) + [0, 10000000, 3, 987654321][m % 4]).astype(np.int64)
        order = list(set(np.float64(k) for k in keys))
        pos = np.full(m, -1, np.int64)
        py_set_order(keys, m, pos)
        assert [order.index(np.float64(k)) for k in keys] == pos.tolist(), m
    for trial in range(400):
        m = int(rng.integers(1, 1200 if trial % 10 == 0 else 80))
        kind = trial % 4
        if kind == 0:
            keys = rng.permutation(m) + int(rng.choice([0, 10000000, 12345, 2 ** 31 + 7]))
        elif kind == 1:
            keys = rng.choice(1 << 20, size=m, replace=False) * int(rng.choice([1, 8, 64, 1024]))
        elif kind == 2:
            keys = rng.integers(0, 1 << 50, size=m)
        else:
            keys = rng.integers(0, max(m // 2, 1), size=m) * 32 + 10000000   # duplicates
        keys = keys.astype(np.int64)
        s = set()
        for k in keys:
            s.add(np.float64(k))
        order = list(s)
        pos = np.full(m, -1, np.int64)
        py_set_order(keys, m, pos)
        first = {}
        for j, k in enumerate(keys.tolist()):
            first.setdefault(k, j)
        want = {k: order.index(np.float64(k)) for k in first}
        assert all(pos[j] == want[k] for k, j in first.items()), (trial, m, kind)


def test_custom_prefetch_equals_numpy_reference():
    """The custom-layout prefetch sequences: pad, split, group, transpose, as operand_matrix does it,
    re-derived here with explicit loops for an odd conv."""
    g = sm.Geometry(5, 7, 2, 3, 3, 5)
    lay = [2, 3, 1, 2, 2, 3, 1, 0, 2, 5, 3, 4, 6, 4, 7, 5, 0, 2, 1, 3]
    got = sm.ifmap_custom_prefetch(g, lay, 12)
    fx, fy, fc = 2, 3, 2
    nx, ny, nc = 3, 3, 2
    full = np.full((nx * fx, ny * fy, nc * fc), -1, np.int64)
    full[:5, :7, :3] = np.arange(5 * 7 * 3).reshape(5, 7, 3)
    six = np.empty((nx, ny, nc, fx, fy, fc), np.int64)
    for idx in np.ndindex(six.shape):
        a, b, c, d, e, f = idx
        six[idx] = full[a * fx + d, b * fy + e, c * fc + f]
    assert np.array_equal(got, six.transpose([5, 3, 4, 1, 0, 2]).reshape(-1))
    fl = sm.filter_custom_prefetch(g, lay, 3 * 2 * 1 * 2)
    fn, fc, fr, fs = 3, 2, 1, 2                        # (Num Filter, Channel, Filter H, Filter W) factors
    full = np.full((6, 4, 2, 4), -1, np.int64)
    full[:5, :3, :2, :3] = np.arange(5 * 3 * 2 * 3).reshape(5, 3, 2, 3)
    eight = np.empty((2, 2, 2, 2, fn, fc, fr, fs), np.int64)
    for idx in np.ndindex(eight.shape):
        a, b, c, d, e, f, h, i = idx
        eight[idx] = full[a * fn + e, b * fc + f, c * fr + h, d * fs + i]
    assert np.array_equal(fl, eight.transpose([0, 2, 1, 3, 6, 4, 7, 5]).reshape(-1))


def test_layout_errors(tmp_path):
    case = next(c for c in CASES if "layers" in c and c["interface"].get("ifmap_custom"))
    cfg, _ = _files(case, tmp_path)
    text = cfg.read_text()
    (tmp_path / "noloc.cfg").write_text(text.replace("LayoutCsvLoc: layout.csv\n", ""))
    with pytest.raises(io.ScaleSimFileError, match=r"noloc.cfg:\d+: \[layout\] IfmapCustomLayout = True needs"):
        io.read_config(tmp_path / "noloc.cfg")
    (tmp_path / "off.cfg").write_text(text.replace("IfmapOffset:    0", "IfmapOffset:    7"))
    with pytest.raises(io.ScaleSimFileError, match=r"IfmapOffset = 7 with IfmapCustomLayout"):
        io.read_config(tmp_path / "off.cfg")
    yaml = {"interface": "user", "ifmap_custom": True, "ifmap_offset": 5, "layout": io.DEFAULT_LAYOUT,
            "ifmap_bw": 64}
    with pytest.raises(sm.ScaleSimUnsupported, match="IfmapOffset = 5 with a custom ifmap layout"):
        sm.simulate(hwsim.workloads.Gemm(20, 13, 30), None, 4, 4, "ws", sm.MemConfig(**yaml))
    (tmp_path / "b.cfg").write_text(text.replace("IfmapCustomLayout: True", "IfmapCustomLayout: maybe"))
    with pytest.raises(io.ScaleSimFileError, match=r"b.cfg:\d+: \[layout\] IfmapCustomLayout = 'maybe'"):
        io.read_config(tmp_path / "b.cfg")
    (tmp_path / "layout.csv").write_text("header\nL1, 2, 2, 1, 1, x, 4, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7,\n")
    with pytest.raises(io.ScaleSimFileError, match=r"layout.csv:2: field 6 = 'x'"):
        io.read_config(cfg)
    (tmp_path / "layout.csv").write_text("header\nL1, 2, 2, 1, 1, 1, 4, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7\n")
    with pytest.raises(io.ScaleSimFileError, match=r"layout.csv:2: .* a name and 20 integers"):
        io.read_config(cfg)
    # a depthwise first row: SCALE-Sim sets its Channel Intraline Factor to 1
    (tmp_path / "layout.csv").write_text("header\nDP_a, 2, 2, 1, 1, 3, 4, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7,\n")
    assert io.read_config(cfg).layout[4] == 1


def test_non_layout_path_unchanged():
    """Custom layouts off: the old path, whatever the bank settings (SCALE-Sim ignores them then)."""
    g = hwsim.workloads.Gemm(20, 13, 30)
    base = sm.simulate(g, None, 8, 8, "ws", sm.MemConfig(interface="user", ifmap_bw=4, filter_bw=4, ofmap_bw=3))
    other = sm.simulate(g, None, 8, 8, "ws", sm.MemConfig(interface="user", ifmap_bw=4, filter_bw=4, ofmap_bw=3,
                                                          ifmap_banks=4, ifmap_ports=1, layout=io.DEFAULT_LAYOUT))
    assert base == other


def test_yaml_layout_key_is_validated():
    from hwsim.design import from_dict
    from hwsim.spec import SpecError

    base = {"schema": 1, "name": "x", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"}}
    with pytest.raises(SpecError, match=r"scalesim.layout"):
        from_dict({**base, "scalesim": {"layout": "1,2,3"}})
    with pytest.raises(SpecError, match=r"scalesim.filter_bank_ports"):
        from_dict({**base, "scalesim": {"filter_bank_ports": 0}})
    d = from_dict({**base, "scalesim": {"interface": "user", "ifmap_custom_layout": True, "ifmap_banks": 2,
                                        "layout": ",".join(map(str, io.DEFAULT_LAYOUT)), "ifmap_words_per_cycle": 64}})
    assert d.sections["scalesim"].ifmap_custom_layout
