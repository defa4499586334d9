"""LUT-netlist evaluation speed: the Numba kernel against a straightforward numpy evaluation (and LogicNets'
matching lookup), in one run.

    .venv/bin/python benchmarks/bench_lutnet.py [--quick]

For each netlist shape (the digits designs and LogicNets' JSC-S/JSC-M/NID-S shapes, random tables) it
evaluates N random samples with

* ``LutNet.forward`` (Numba, one thread: chunks of 2048 samples transposed to feature-major by blocked 8x8
  byte transposes; per neuron and block of samples, the table addresses formed in a vectorised loop, then
  the table gathered), timed end to end (input check and input/output transposes included) -- best of 5;
  and the layer kernels alone on feature-major input ("kernels");
* ``LutNet.forward_numpy`` (address per neuron with numpy shifts, fancy-index gather) on the same samples;
* LogicNets' LUT inference strategy (``nn.py::table_lookup``: every sample compared against every table row,
  written here in numpy) on a slice, extrapolated per evaluation;

and checks that all outputs are identical (printed, computed in this run). A LUT evaluation is one neuron on
one sample. Target (issue 18): >= 1 G LUT evaluations/s on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from hwsim.lutnet.netlist import CHUNK, _layer_fm, _transpose, random_netlist  # noqa: E402
from hwsim.report import format_table  # noqa: E402

SHAPES = [
    ("digits-s", [64, 64, 32, 32, 10], [3, 3, 3, 4], [2, 2, 2, 2, 3]),
    ("digits-m", [64, 64, 32, 10], [4, 4, 6], [2, 2, 2, 4]),
    ("jsc-s", [16, 64, 32, 32, 32, 5], [3, 3, 3, 3, 3], [2, 2, 2, 2, 2, 2]),
    ("jsc-m", [16, 64, 32, 32, 32, 5], [4, 4, 4, 4, 4], [3, 3, 3, 3, 3, 3]),
    ("nid-s", [593, 593, 100, 1], [7, 7, 7], [1, 2, 2, 2]),
]


CPU: dict[str, float] = {}


def best(f, *a, reps=5, key=None):
    """Best wall time of ``reps`` runs (and, under ``key``, the best CPU time of this process: on a shared
    machine the wall time includes the time the process waited for a core, the CPU time does not)."""
    t = c = float("inf")
    r = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        r = f(*a)
        t = min(t, time.perf_counter() - t0)
        c = min(c, time.process_time() - c0)
    if key:
        CPU[key] = c
    return t, r


def layers_only(net, xt):
    """The layer kernels alone on feature-major input (no transposes), chunk by chunk as forward does."""
    N = xt.shape[1]
    for s0 in range(0, N, CHUNK):
        cur = np.ascontiguousarray(xt[:, s0:s0 + CHUNK])
        for layer in net.layers:
            cur = _layer_fm(cur, layer.indptr, layer.indices, layer.offsets, layer.tables, layer.b_in)


def logicnets_lookup(net, x):
    """LogicNets' table_lookup: per neuron, compare the connected inputs of every sample with every row of
    the input permutation matrix; the matching row's output."""
    cur = x.astype(np.int64)
    for layer in net.layers:
        out = np.empty((len(cur), layer.n_out), np.int64)
        for n in range(layer.n_out):
            idx = layer.neuron_inputs(n)
            F, b = len(idx), layer.b_in
            rows = np.arange(1 << (F * b))
            perm = np.stack([(rows >> (b * (F - 1 - k))) & ((1 << b) - 1) for k in range(F)], axis=1)
            eq = (cur[:, idx][:, :, None] == perm.T[None, :, :]).sum(axis=1) == F
            out[:, n] = layer.table(n)[np.argmax(eq, axis=1)]
        cur = out
    return cur.astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    a = ap.parse_args()
    N = 50_000 if a.quick else 400_000
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings are best of 5)")
    rows = []
    all_equal = True
    rates = []
    cpu_rates = []
    for name, sizes, fan, bits in SHAPES:
        net = random_netlist(sizes, fan, bits, seed=1)
        x = np.random.default_rng(0).integers(0, 1 << net.b_in, (N, net.n_in)).astype(np.uint8)
        net.forward(x[:100])                                   # compile outside the timing
        tn, y = best(net.forward, x, key="numba")
        xt = _transpose(x)
        tk, _ = best(layers_only, net, xt)
        m = N // 10
        tp, yp = best(net.forward_numpy, x[:m], reps=2)
        k = 200
        tl, yl = best(logicnets_lookup, net, x[:k], reps=1)
        eq = np.array_equal(y[:m], yp) and np.array_equal(y[:k], yl)
        all_equal &= eq
        ev = net.lut_evals(1)
        rate = ev * N / tn
        rates.append(rate)
        cpu_rates.append(ev * N / CPU["numba"])
        rows.append([name, net.neurons, f"{net.lut_cost():,.0f}", f"{N:,}", f"{rate / 1e9:.2f}",
                     f"{ev * N / CPU['numba'] / 1e9:.2f}",
                     f"{ev * N / tk / 1e9:.2f}",
                     f"{ev * m / tp / 1e9:.3f}", f"{(ev * m / tp) and rate / (ev * m / tp):.1f}x",
                     f"{ev * k / tl / 1e6:.2f}", f"{rate / (ev * k / tl):,.0f}x", "yes" if eq else "NO"])
    print(format_table(["netlist", "neurons", "LUTCost", "samples", "Numba G/s", "Numba G/CPU-s", "kernels G/s", "numpy G/s", "ratio",
                        "LogicNets-lookup M/s", "ratio", "identical"], rows))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"\nNumba LUT evaluations per wall second on one thread: min {min(rates) / 1e9:.2f} G, max "
          f"{max(rates) / 1e9:.2f} G; per CPU second (time on a core): min {min(cpu_rates) / 1e9:.2f} G, max "
          f"{max(cpu_rates) / 1e9:.2f} G (target >= 1 G); outputs identical across the three evaluations: "
          f"{'yes' if all_equal else 'NO'}")


if __name__ == "__main__":
    main()
