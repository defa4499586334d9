"""Systolic cycle-level kernels: every storage choice (int8/int32/int64 operands, int32/int64
registers) gives the same outputs, counters and per-element write cycles, equal to numpy and to the
closed forms; analytical runs do not import Numba."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hwsim.systolic import kernels as K_
from hwsim.systolic.timing import FoldPlan


def _run(df, R, C, L, a, w, acc_bits, dtype):
    """Run one kernel with operands stored as ``dtype``; returns (Y [M, N], counters, write cycles)."""
    a, w = a.astype(dtype), w.astype(dtype)
    if dtype == np.int64:
        sh = 64 - acc_bits
    else:
        sh = 0 if acc_bits == 32 else 64 - acc_bits
    sho = np.int64(64 - acc_bits)
    cnt = np.zeros(K_.N_COUNTERS, np.int64)
    M, N = a.shape[0], w.shape[1]
    args = (np.int64(R), np.int64(C), np.int64(L), np.int64(sh), sho, cnt)
    if df == "os":
        out, wc = np.zeros((M, N), np.int64), np.full((M, N), -1, np.int64)
        K_.output_stationary_kernel(a, w, out, wc, *args)
        return out, cnt, wc
    if df == "ws":
        out, wc = np.zeros((N, M), np.int64), np.full((N, M), -1, np.int64)
        K_.stationary_kernel(w, a, out, wc, *args)
        return out.T, cnt, wc.T
    out, wc = np.zeros((M, N), np.int64), np.full((M, N), -1, np.int64)
    K_.stationary_kernel(np.ascontiguousarray(a.T), np.ascontiguousarray(w.T), out, wc, *args)
    return out, cnt, wc


def _wrap(x, bits):
    return ((x + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("R,C,L,M,N,K", [(3, 5, 1, 7, 11, 8), (4, 4, 2, 9, 5, 13), (5, 3, 3, 6, 7, 16),
                                         (8, 8, 1, 20, 13, 30), (2, 7, 1, 1, 15, 3)])
def test_storage_choices_agree(df, R, C, L, M, N, K):
    rng = np.random.default_rng(R * 100 + C * 10 + L)
    a = rng.integers(-128, 128, size=(M, K))
    w = rng.integers(-128, 128, size=(K, N))
    plan = FoldPlan(df, R, C, L, M, N, K)
    exact = a.astype(object).dot(w.astype(object))
    for acc_bits in (32, 18):
        ref = np.array(_wrap(exact, acc_bits), dtype=np.int64)
        for dtype in (np.int8, np.int32, np.int64):
            out, cnt, wc = _run(df, R, C, L, a, w, acc_bits, dtype)
            assert np.array_equal(out, ref), (dtype, acc_bits)
            assert int(cnt[K_.CYCLES]) == plan.cycles
            assert int(cnt[K_.LAST_WRITE]) == plan.last_write_cycle
            assert np.array_equal(wc, plan.write_cycles())
            acc = plan.sram_accesses()
            stat, stream = (acc["weight_reads"], acc["activation_reads"]) if df == "ws" else \
                (acc["activation_reads"], acc["weight_reads"]) if df == "is" else \
                (acc["weight_reads"], acc["activation_reads"])
            assert [int(x) for x in cnt[:4]] == [stat, stream, acc["output_writes"], acc["output_reads"]]


def test_write_cycles_optional():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, size=(9, 10)).astype(np.int8)
    w = rng.integers(-128, 128, size=(10, 6)).astype(np.int8)
    for df in ("ws", "os"):
        full = _run(df, 4, 3, 1, a, w, 32, np.int8)
        cnt = np.zeros(K_.N_COUNTERS, np.int64)
        none = np.zeros((0, 0), np.int64)
        if df == "ws":
            out = np.zeros((6, 9), np.int64)
            K_.stationary_kernel(w, a, out, none, 4, 3, 1, 0, np.int64(32), cnt)
            out = out.T
        else:
            out = np.zeros((9, 6), np.int64)
            K_.output_stationary_kernel(a, w, out, none, 4, 3, 1, 0, np.int64(32), cnt)
        assert np.array_equal(out, full[0]) and np.array_equal(cnt, full[1])


def test_analytical_run_does_not_import_numba():
    code = ("import sys, hwsim; s = hwsim.build('designs/tpu_like_128x128_ws_int8.yaml'); "
            "r = s.run('gemm:64,64,64', mode='analytical'); r.render(); "
            "print('numba' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("df", ["ws", "os"])
def test_histories_rebuilt_per_fold(df, monkeypatch):
    """Above HIST_BYTES the skew-line histories are rebuilt for every fold instead of kept: same results
    (the kernels' Python bodies, with the threshold patched to 0, against the compiled kernels)."""
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, size=(6, 9))
    w = rng.integers(-128, 128, size=(9, 5))
    want = _run(df, 3, 2, 2, a, w, 32, np.int64)
    monkeypatch.setattr(K_, "HIST_BYTES", 0)
    cnt = np.zeros(K_.N_COUNTERS, np.int64)
    args = (3, 2, 2, 32, np.int64(32), cnt)
    if df == "ws":
        out, wc = np.zeros((5, 6), np.int64), np.full((5, 6), -1, np.int64)
        K_.stationary_kernel.py_func(w, a, out, wc, *args)
        out, wc = out.T, wc.T
    else:
        out, wc = np.zeros((6, 5), np.int64), np.full((6, 5), -1, np.int64)
        K_.output_stationary_kernel.py_func(a, w, out, wc, *args)
    assert np.array_equal(out, want[0]) and np.array_equal(cnt, want[1]) and np.array_equal(wc, want[2])
