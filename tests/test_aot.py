"""Ahead-of-time kernel builds (hwsim.aot): the compiled module gives the same results as the @njit
kernels it is built from, builds are keyed, atomic and replace stale ones, a failed build falls back to
Numba, and the SCALE-Sim-compatible command runs without importing Numba at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsim import aot
from hwsim.systolic import scalesim_io as io
from hwsim.systolic import scalesim_mem as sm
from hwsim.workloads import Conv, Gemm

ROOT = Path(__file__).resolve().parents[1]

# (layer, conv, R, C, dataflow, memory): USER and CALC, the three dataflows, a strided conv, odd sizes,
# and layers on which SCALE-Sim itself fails (the error path of the kernels)
CASES = [
    (Gemm(37, 29, 53), None, 8, 8, "ws", sm.MemConfig()),
    (Gemm(64, 40, 17), None, 4, 8, "os", sm.MemConfig(interface="user", ifmap_bw=3, filter_bw=7, ofmap_bw=5)),
    (Gemm(20, 13, 30), None, 8, 4, "is", sm.MemConfig(ifmap_kb=1, filter_kb=1, ofmap_kb=1)),
    (None, Conv(H=11, W=11, R=3, S=3, C=4, N=9, stride_h=2, stride_w=2), 8, 8, "ws",
     sm.MemConfig(interface="user", ifmap_bw=10, filter_bw=10, ofmap_bw=10)),
    (None, Conv(H=14, W=14, R=3, S=3, C=8, N=16), 16, 8, "os", sm.MemConfig(ifmap_kb=2, filter_kb=2, ofmap_kb=2)),
    (Gemm(300, 200, 150), None, 32, 32, "is", sm.MemConfig(interface="user", ifmap_bw=1, filter_bw=1, ofmap_bw=1)),
]


def _simulate(case):
    layer, conv, R, C, df, mem = case
    if conv is not None:
        layer = conv.as_gemm()
    try:
        return sm.simulate(layer, conv, R, C, df, mem)
    except sm.ScaleSimUnsupported as e:
        return f"unsupported: {e}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[2]}x{c[3]}_{c[4]}_{c[5].interface}")
def test_compiled_kernels_equal_the_njit_kernels(case, monkeypatch):
    compiled = _simulate(case)
    assert aot.load(sm.KERNELS).__name__ == sm.KERNELS.name          # the built extension, not Numba's module
    monkeypatch.setenv("HWSIM_AOT", "0")
    assert aot.load(sm.KERNELS).__name__ == sm.KERNELS.module
    assert _simulate(case) == compiled


def test_compiled_fold_averages_equal_njit_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(3)
    k_aot = aot.load(sm.KERNELS)
    monkeypatch.setenv("HWSIM_AOT", "0")
    k_jit = aot.load(sm.KERNELS)
    for _ in range(20):
        ur, uc = (rng.integers(1, 129, rng.integers(1, 40)) for _ in range(2))
        args = (ur, uc, 128 * 128, int(rng.integers(1, 5000)), int(rng.integers(1, 9000)))
        assert [x.hex() for x in k_aot.fold_float_averages(*args)] == \
            [x.hex() for x in k_jit.fold_float_averages(*args)]


def test_state_vectors_must_be_exact_int64_arrays():
    """The compiled kernels do not check their arguments; the driver refuses what would crash them."""
    sm._exact(np.zeros(3, np.int64))
    for bad in (np.zeros(3, np.int32), np.zeros(6, np.int64)[::2], [0, 0, 0]):
        with pytest.raises(TypeError, match="C-contiguous int64"):
            sm._exact(bad)


SMALL = aot.KernelSet(name="hwsim_aot_test", module="hwsim.systolic.scalesim_kernels",
                      exports=(("fold_float_averages", "UniTuple(f8, 2)(i8[::1], i8[::1], i8, i8, i8)"),),
                      sources=("hwsim.systolic.scalesim_kernels", "hwsim.systolic.scalesim_state"))


def test_build_is_keyed_and_replaces_stale_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(aot, "_loaded", {})
    path = aot.built_path(SMALL)
    assert path.parent == tmp_path / "hwsim_aot" and path.name.startswith("hwsim_aot_test-")
    other = aot.KernelSet(SMALL.name, SMALL.module, SMALL.exports, ("hwsim.systolic.scalesim_state",))
    assert aot.built_path(other) != path                               # another source set, another key
    path.parent.mkdir(parents=True)
    stale = path.with_name("hwsim_aot_test-0123456789abcdef" + path.name[len("hwsim_aot_test-") + 16:])
    stale.write_bytes(b"old build")
    m = aot.load(SMALL)
    assert Path(m.__file__) == path and path.exists() and not stale.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]   # no temporary left behind
    u = np.array([4, 4, 1], np.int64)
    assert m.fold_float_averages(u, u, 16, 7, 9) == \
        aot.load(SMALL, aot=False).fold_float_averages.py_func(u, u, 16, 7, 9)


def test_failed_build_falls_back_to_numba_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(aot, "_loaded", {})

    def fail(ks, path):
        raise OSError("no C compiler")

    monkeypatch.setattr(aot, "build", fail)
    m = aot.load(SMALL)
    assert m.__name__ == SMALL.module and aot.load(SMALL) is m
    err = capsys.readouterr().err
    assert err.count("ahead-of-time build of hwsim.systolic.scalesim_kernels failed (OSError: no C compiler)") == 1


def test_compatible_command_runs_without_numba(tmp_path):
    """`hwsim simulate X.cfg --compat scalesim --mode analytical` in its own process imports neither Numba
    nor llvmlite, and writes the report an in-process run writes."""
    (tmp_path / "a.cfg").write_text(io.config_text("a", 8, 8, "os", interface="USER", bandwidth=4, ifmap_bank_bw=3,
                                                   filter_bank_bw=5))
    (tmp_path / "t.csv").write_text(io.topology_text([Gemm(20, 13, 30, name="g1"), Gemm(3, 17, 9, name="g2")], "gemm"))
    args = ["simulate", str(tmp_path / "a.cfg"), "-w", f"topo:{tmp_path / 't.csv'}", "--compat", "scalesim",
            "--mode", "analytical", "--no-plot"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HWSIM_AOT", None)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "hwsim.cli", *args, "-o", str(tmp_path / "sub")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time")}
    assert "hwsim.systolic.scalesim_mem" in imported
    assert not {m for m in imported if m.split(".")[0] in ("numba", "llvmlite")}, "Numba or llvmlite imported"
    from hwsim.cli import main

    assert main([*args, "-o", str(tmp_path / "inproc")]) == 0
    sub, inproc = (json.loads((tmp_path / d / "report.json").read_text())["compat"] for d in ("sub", "inproc"))
    assert sub == inproc and len(sub["scalesim"]) == 2


def test_diag_order_is_scalesims_anti_diagonal_order():
    """The prefetch order (compiled kernel): diagonals r + c ascending, rows descending within one -- the
    order np.lexsort gives on (-r, r + c), on odd shapes."""
    rng = np.random.default_rng(5)
    for M, N in [(1, 1), (1, 7), (7, 1), (5, 9), (9, 5), (33, 17)]:
        m = rng.integers(-1, 1000, (M, N))
        r, c = np.indices((M, N))
        want = m.reshape(-1)[np.lexsort((-r.reshape(-1), (r + c).reshape(-1)))]
        assert np.array_equal(sm._diag_order(m), want), (M, N)


def test_read_only_package_builds_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert aot.built_path(SMALL).parent.name == "__pycache__"           # the source tree here is writable
    monkeypatch.setattr(aot.os, "access", lambda path, mode: False)
    assert aot.built_path(SMALL).parent == tmp_path / "hwsim" / "aot"
