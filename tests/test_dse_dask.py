"""hwsim sweep on Dask: a real scheduler and two workers on 127.0.0.1, each a separate process (started
here, always torn down), an embedded LocalCluster, a worker killed mid-sweep, an unreachable scheduler.
Results are compared with the in-process loop (the same points evaluated without Dask)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from hwsim import cli
from hwsim.dse.run import run_sweep
from hwsim.dse.spec import load_sweep
from hwsim.dse.store import Store

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
BASE = {"schema": 1, "name": "sa_t", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"},
        "operands": {"weight": "int8", "activation": "int8", "accumulator": "int32"},
        "memory": {"ifmap_kb": 64, "filter_kb": 64, "ofmap_kb": 64}}


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _stop(procs):
    """Kill the workers (ours, by pid), then stop the scheduler."""
    for p in procs[1:]:
        if p.poll() is None:
            p.kill()
    if procs and procs[0].poll() is None:
        procs[0].terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, {name: worker process}) of a scheduler + 2 workers (no nanny: a killed worker stays dead)."""
    d = tmp_path_factory.mktemp("dask")
    sfile = d / "scheduler.json"
    py = [sys.executable, "-m"]
    procs = []
    try:
        procs.append(subprocess.Popen(py + ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                            "--no-dashboard", "--scheduler-file", str(sfile)],
                                      env=_env(), cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        t0 = time.monotonic()
        while not sfile.exists():
            assert time.monotonic() - t0 < 60, "the Dask scheduler did not start"
            assert procs[0].poll() is None, "the Dask scheduler exited"
            time.sleep(0.1)
        time.sleep(0.2)
        address = json.loads(sfile.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = {}
        for name in ("w0", "w1"):
            p = subprocess.Popen(py + ["distributed.cli.dask_worker", "--scheduler-file", str(sfile), "--host",
                                       "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name,
                                       "--death-timeout", "60"],
                                 env=_env(), cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            workers[name] = p
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        _stop(procs)


def _sweep(tmp_path, params, workloads, mode="analytical"):
    doc = {"sweep": 1, "name": "t", "design": BASE, "parameters": params, "workloads": workloads, "mode": mode}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _by_key(out):
    return {r["key"]: r for r in Store(out).latest_points()}


def _same_results(a, b):
    assert a.keys() == b.keys()
    for k in a:
        for c in ("status", "reason", "cycles", "energy_pj", "utilization", "macs", "bits_per_weight", "weight_rel_mse"):
            assert a[k][c] == b[k][c], (k, c)


def test_scheduler_and_two_workers(cluster, tmp_path, capsys):
    address, workers = cluster
    p = _sweep(tmp_path, {"array.rows": [2, 4, 8], "array.cols": [4, 8], "array.dataflow": ["ws", "os", "is"],
                          "operands.weight": ["int4", "int8"]}, ["gemm:32,48,64", "gemm:1,128,256"])
    out = tmp_path / "dask"
    assert cli.main(["sweep", str(p), "-o", str(out), "--scheduler", address, "--no-plot", "-q"]) == 0
    o = capsys.readouterr().out
    assert "72 points: 0 finished earlier (skipped), 72 evaluated" in o and "scheduler, 2 worker(s)" in o
    dask_rows = _by_key(out)
    assert len({r["worker"] for r in dask_rows.values()}) == 2       # both workers evaluated points
    assert {r["worker"].rsplit(":", 1)[1] for r in dask_rows.values()} == {str(w.pid) for w in workers.values()}
    ref = tmp_path / "inline"
    run_sweep(load_sweep(p), ref, backend="inline", progress=False)
    _same_results(dask_rows, _by_key(ref))
    # resume through the scheduler: nothing recomputed
    assert cli.main(["sweep", str(p), "-o", str(out), "--scheduler", address, "--no-plot", "-q"]) == 0
    assert "72 finished earlier (skipped), 0 evaluated" in capsys.readouterr().out


def test_local_cluster(tmp_path, capsys):
    p = _sweep(tmp_path, {"array.rows": [2, 4], "array.cols": [4, 8]}, ["gemm:16,16,16"])
    out = tmp_path / "local"
    assert cli.main(["sweep", str(p), "-o", str(out), "--workers", "1", "--no-plot", "-q"]) == 0
    o = capsys.readouterr().out
    assert "4 evaluated" in o and "local, 1 worker(s)" in o
    ref = tmp_path / "inline"
    run_sweep(load_sweep(p), ref, backend="inline", progress=False)
    _same_results(_by_key(out), _by_key(ref))


def test_unreachable_scheduler(tmp_path, capsys):
    with socket.socket() as s:          # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = _sweep(tmp_path, {"array.rows": [2, 4]}, ["gemm:4,4,4"])
    out = tmp_path / "out"
    rc = cli.main(["sweep", str(p), "-o", str(out), "--scheduler", f"tcp://127.0.0.1:{port}", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and err[0].startswith(f"hwsim sweep: error: --scheduler tcp://127.0.0.1:{port}: "
                                                f"cannot reach the Dask scheduler")
    assert not out.exists()


def test_killed_worker_loses_no_finished_point(cluster, tmp_path):
    """Worker w1 is killed (SIGKILL) as soon as it has delivered a point (not waiting for w0 too, which on a
    loaded machine could race with the end of the sweep); every point delivered before the kill is on disk,
    the rest are rescheduled on w0, and the results equal the in-process loop."""
    address, workers = cluster
    victim = workers["w1"]
    if victim.poll() is not None:
        pytest.skip("w1 is gone already")
    p = _sweep(tmp_path, {"array.rows": [2, 4, 8, 16], "array.cols": [2, 4, 8], "array.dataflow": ["ws", "os", "is"]},
               ["gemm:96,96,96"], mode="cycle")
    out = tmp_path / "killed"
    seen, before, after = set(), [], []

    def on_rows(rows):
        if victim.poll() is None:
            before.extend(r["key"] for r in rows)
            seen.update(r["worker"].rsplit(":", 1)[1] for r in rows)
            if str(victim.pid) in seen:
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait(timeout=10)
        else:
            after.extend(r["key"] for r in rows)

    res = run_sweep(load_sweep(p), out, backend="scheduler", scheduler=address, progress=False, chunk_size=1,
                    flush_every=1, on_rows=on_rows)
    assert victim.poll() is not None, "the worker was not killed"
    assert after, "the sweep ended before the kill took effect"
    assert res.ok == 36 and res.failed == 0
    on_disk = [k for f in Store(out).points.files() for k in pq.read_table(f, columns=["key"]).column("key").to_pylist()]
    assert set(before) <= set(on_disk) and len(set(on_disk)) == 36
    ref = tmp_path / "inline"
    run_sweep(load_sweep(p), ref, backend="inline", progress=False)
    _same_results(_by_key(out), _by_key(ref))
