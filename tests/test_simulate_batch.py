"""``hwsim simulate`` with several cases in one process (batch form), and the command-line start-up path
(Numba initialised with SciPy's linalg hidden) giving the same reports as an in-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hwsim.cli import main
from hwsim.systolic import scalesim_io as io
from hwsim.workloads import Gemm

ROOT = Path(__file__).resolve().parents[1]


def _cases(tmp: Path) -> tuple[list[str], str]:
    cfgs = []
    for name, R, C, df in (("b_os", 8, 8, "os"), ("b_ws", 4, 8, "ws")):
        (tmp / f"{name}.cfg").write_text(io.config_text(name, R, C, df))
        cfgs.append(str(tmp / f"{name}.cfg"))
    (tmp / "topo.csv").write_text(io.topology_text([Gemm(20, 13, 30, name="g1"), Gemm(3, 17, 9, name="g2")], "gemm"))
    return cfgs, f"topo:{tmp / 'topo.csv'}"


def _drop_seconds(x):
    if isinstance(x, dict):
        return {k: _drop_seconds(v) for k, v in x.items() if k != "seconds"}    # wall time of the run
    return [_drop_seconds(v) for v in x] if isinstance(x, list) else x


def _report(d: Path) -> dict:
    return _drop_seconds(json.loads((d / "report.json").read_text()))


def test_batch_one_folder_per_case_equal_to_single_runs(tmp_path, capsys):
    cfgs, topo = _cases(tmp_path)
    opts = ["--scalesim", "--mode", "analytical", "--no-plot"]
    assert main(["simulate", *cfgs, cfgs[0], "-w", topo, *opts, "-o", str(tmp_path / "batch")]) == 0
    out = capsys.readouterr().out
    assert "=== case 3 of 3: b_os" in out
    folders = sorted(p.name for p in (tmp_path / "batch").iterdir())
    assert len(folders) == 3 and folders[0].startswith("b_os-") and folders[1] == folders[0] + "-2"
    for cfg, folder in ((cfgs[0], folders[0]), (cfgs[1], folders[2]), (cfgs[0], folders[1])):
        single = tmp_path / ("s_" + folder)
        assert main(["simulate", cfg, "-w", topo, *opts, "-o", str(single)]) == 0
        assert _report(tmp_path / "batch" / folder) == _report(single)
    # paired workloads: design i with workload i
    assert main(["simulate", *cfgs, "-w", "gemm:4,5,6", "-w", "gemm:7,8,9", "--mode", "analytical", "--no-plot",
                 "-o", str(tmp_path / "pairs")]) == 0
    reps = {p.name: _report(p) for p in (tmp_path / "pairs").iterdir()}
    assert sorted(reps) == ["b_os-gemm_4_5_6", "b_ws-gemm_7_8_9"]


def test_batch_count_mismatch_is_a_user_error(tmp_path, capsys):
    cfgs, _ = _cases(tmp_path)
    assert main(["simulate", *cfgs, str(ROOT / "designs" / "sa_ws_4x4_int8.yaml"), "-w", "gemm:1,1,1",
                 "-w", "gemm:2,2,2", "-o", str(tmp_path / "x")]) == 2
    assert "3 designs and 2 -w workloads" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_command_line_hides_scipy_and_matches_in_process(tmp_path):
    """The real command (own process) must not import scipy.linalg, and must write the same report as
    ``main([...])`` inside this process (which leaves Numba's set-up alone)."""
    cfgs, topo = _cases(tmp_path)
    args = ["simulate", cfgs[0], "-w", topo, "--scalesim", "--no-plot"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "hwsim.cli", *args, "-o", str(tmp_path / "sub")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()}
    assert "numba.np.arraymath" in imported and "hwsim.systolic.scalesim_mem" in imported
    assert not {"scipy.linalg", "scipy.linalg.blas", "numpy.f2py"} & imported
    assert main([*args, "-o", str(tmp_path / "inproc")]) == 0
    assert _report(tmp_path / "sub") == _report(tmp_path / "inproc")


def test_design_yaml_text_unchanged_by_the_c_emitter():
    """design.resolved.yaml is written with libyaml's emitter (faster); its text must equal PyYAML's
    pure-Python safe_dump on every catalog design."""
    import yaml

    import hwsim

    n = 0
    for f in sorted((ROOT / "designs").rglob("*.yaml")):
        try:
            d = hwsim.load_any(f)
        except Exception:          # non-design YAML in the folder (none today)
            continue
        d = getattr(d, "design", d)
        assert d.to_yaml() == yaml.safe_dump(d.resolved(), sort_keys=False), f
        n += 1
    assert n >= 40
