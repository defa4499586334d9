"""Reference cycle counts and latencies from the authors' butterfly-accelerator simulator.

This is how tests/data/butterfly_reference.json was made; the tests only read that file. It RUNS the
simulator of SamsungLabs/Butterfly_Acc at commit 1bb951f86d902c89826d0e69c357a28c7a18c570
(``hardware/npu_design/simulator/``: ``simulator_bfly.py``, ``bfly_accelerator.py``, ``bfly_engine.py``,
``bram.py``, ``dram.py``), already present on disk outside this project (a checkout of that commit)::

    python3 tests/reference/generate_butterfly_reference.py \\
        --sim-dir /path/to/Butterfly_Acc/hardware/npu_design/simulator

Two kinds of case:

* ``cli``: the 20 command lines of the artefact's ``speed_benchmark_sim.sh`` (FABNet-Base/Large, sequence
  128..1024, VCU128 BE-120 with HBM and Zynq-7045 BE-20 with DDR3), each run as a subprocess of
  ``simulator_bfly.py``; the printed latency (ms) is stored verbatim (``repr`` of the float) and parsed.
* ``driver``: ``Butterfly_Accelerator`` constructed in-process exactly as ``simulator_bfly.simulation``
  does, but with any hidden / FFN size, sequence length, P_BE, P_BU, bandwidth set, layer count,
  frequency and efficiency (the command line fixes hidden/FFN to BERT-Base/Large and P_BU to 4). The
  same four calls are made in the same order (``run_fft(False, True)``, ``run_fft(True, False)``,
  ``run_bfly(S, d, ffn)``, ``run_bfly(S, ffn, d)``); each call's return value (cycles of that layer),
  ``run_cycles``, the latency computed with the script's own expression, and the simulator's access
  counters (``num_read_access`` / ``num_write_access`` of its DRAM and BRAM objects) are stored. The
  simulator's stdout prints are discarded. Cases: the five FABNet LRA configurations
  (software/accuracy/code/fabnet_quant/*.sh, lra_config.py), FABNet-Base/Large, the equal-budget point
  (P_BE 128, 2048-bit everywhere), the co-design sweep (P_BE x P_BU = 512), a seeded random grid and 40 cases with non-power-of-two P_BU.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "1bb951f86d902c89826d0e69c357a28c7a18c570"
OUT = Path(__file__).resolve().parents[1] / "data" / "butterfly_reference.json"

# name: (indata, coef, outdata) off-chip bits per cycle, as simulator_bfly.py sets them (+ the Fig. 19 set)
BANDWIDTHS = {"hbm": (2048, 256, 2048), "ddr3": (64, 64, 128), "equal": (2048, 2048, 2048)}

# FABNet LRA configurations: (sequence, hidden, ffn, blocks)
LRA = {"listops": (2000, 128, 256, 2), "text": (4000, 256, 512, 2), "retrieval": (4000, 1024, 1024, 2),
       "image": (1024, 64, 128, 1), "pathfinder": (1024, 64, 64, 6)}


def run_driver(mod, *, seq, hidden, ffn, layers, p_be, p_bu, bw, head_dim=32, frequency=200,
               efficiency=0.85) -> dict:
    i_bw, c_bw, o_bw = BANDWIDTHS[bw]
    with contextlib.redirect_stdout(io.StringIO()):
        acc = mod.Butterfly_Accelerator(head_dim, hidden, seq, ffn, parallesm_bu=p_bu, parallesm_be=p_be,
                                        indata_dram_bw=i_bw, coef_dram_bw=c_bw, outdata_dram_bw=o_bw)
        per_layer = [acc.run_fft(complex_input=False, complex_output=True),
                     acc.run_fft(complex_input=True, complex_output=False),
                     acc.run_bfly(acc.num_len, acc.hidden_dim, acc.ffn_inner_dim),
                     acc.run_bfly(acc.num_len, acc.ffn_inner_dim, acc.hidden_dim)]
    network_run_cost = layers * acc.run_cycles
    ms_per_clock = (1.0 / frequency / 1000) / efficiency
    counters = {
        "indata_dram": [acc.indata_dram.num_read_access, acc.indata_dram.num_write_access],
        "coef_dram": [acc.coef_dram.num_read_access, acc.coef_dram.num_write_access],
        "outdata_dram": [acc.outdata_dram.num_read_access, acc.outdata_dram.num_write_access],
        "data_bram_a_0": [acc.data_bram_a[0].num_read_access, acc.data_bram_a[0].num_write_access],
        "data_bram_b_0": [acc.data_bram_b[0].num_read_access, acc.data_bram_b[0].num_write_access],
        "coef_bram": [acc.coef_bram.num_read_access, acc.coef_bram.num_write_access],
    }
    return {"kind": "driver",
            "params": {"seq": seq, "hidden": hidden, "ffn": ffn, "layers": layers, "p_be": p_be, "p_bu": p_bu,
                       "bandwidth": bw, "bw_bits": list(BANDWIDTHS[bw]), "frequency": frequency,
                       "efficiency": efficiency},
            "layer_cycles": per_layer, "run_cycles": acc.run_cycles,
            "network_run_cost": network_run_cost, "latency_ms": network_run_cost * ms_per_clock,
            "counters": counters}


def run_cli(sim_dir: Path, args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "simulator_bfly.py", *args], cwd=sim_dir, capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"The overall latecy is: (\S+)", out)
    opts = dict(zip(args[0::2], args[1::2]))
    return {"kind": "cli", "argv": args, "printed": m.group(1), "latency_ms": float(m.group(1)),
            "params": {"seq": int(opts["--num_len"]), "version": opts["--version"],
                       "board": opts["--fpga_board"], "bandwidth": opts["--offchip_mem"],
                       "p_be": int(opts["--parallesm_be"])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-dir", required=True, type=Path,
                    help="hardware/npu_design/simulator of a Butterfly_Acc checkout at " + COMMIT[:7])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--random", type=int, default=400, help="number of seeded random driver cases")
    a = ap.parse_args()
    sim_dir = a.sim_dir.resolve()
    sys.path.insert(0, str(sim_dir))
    import logging

    import bfly_accelerator as mod
    logging.getLogger().setLevel(logging.WARNING)

    cases = []
    for board, mem, pbe in (("zcu128", "hbm", 120), ("zynq7045", "ddr3", 20)):
        for version in ("base", "large"):
            for s in (128, 256, 512, 768, 1024):
                cases.append(run_cli(sim_dir, ["--num_len", str(s), "--version", version, "--fpga_board", board,
                                               "--offchip_mem", mem, "--parallesm_be", str(pbe)]))
    # the simulator_bfly.py defaults for P_BE (0 -> 128 / 32)
    cases.append(run_cli(sim_dir, ["--num_len", "512", "--version", "base", "--fpga_board", "zcu128",
                                   "--offchip_mem", "hbm", "--parallesm_be", "0"]))
    cases.append(run_cli(sim_dir, ["--num_len", "512", "--version", "base", "--fpga_board", "zynq7045",
                                   "--offchip_mem", "ddr3", "--parallesm_be", "0"]))

    tag = lambda c, t: (c.__setitem__("tag", t), c)[1]
    for name, (s, d, h, n) in LRA.items():
        for pbe, bw in ((120, "hbm"), (40, "hbm"), (20, "ddr3"), (128, "equal")):
            cases.append(tag(run_driver(mod, seq=s, hidden=d, ffn=h, layers=n, p_be=pbe, p_bu=4, bw=bw),
                             f"lra-{name}"))
    for s in (128, 256, 512, 768, 1024):
        for version, (d, h, n) in (("base", (768, 3072, 12)), ("large", (1024, 4096, 24))):
            for pbe, bw in ((120, "hbm"), (40, "hbm"), (20, "ddr3"), (128, "equal")):
                cases.append(tag(run_driver(mod, seq=s, hidden=d, ffn=h, layers=n, p_be=pbe, p_bu=4, bw=bw),
                                 f"fabnet-{version}"))
    for pbe, pbu in ((128, 4), (64, 8), (32, 16), (16, 32)):  # co-design sweep, LRA-Text
        cases.append(tag(run_driver(mod, seq=4000, hidden=256, ffn=1024, layers=2, p_be=pbe, p_bu=pbu,
                                    bw="equal"), "codesign-text"))
    rng = random.Random(17)
    for _ in range(a.random):
        d = 2 ** rng.randint(3, 11) if rng.random() < 0.8 else rng.randint(5, 1500)
        h = d * rng.choice((1, 2, 4)) if rng.random() < 0.8 else rng.randint(5, 3000)
        s = rng.choice((rng.randint(1, 5000), 2 ** rng.randint(4, 12)))
        pbu = rng.choice((1, 2, 4, 4, 4, 8, 16, 32))
        pbe = rng.choice((1, 3, 4, 16, 20, 33, 40, 64, 120, 128, 200, rng.randint(1, 256)))
        try:
            case = run_driver(mod, seq=s, hidden=d, ffn=h, layers=rng.randint(1, 24), p_be=pbe, p_bu=pbu,
                              bw=rng.choice(tuple(BANDWIDTHS)), efficiency=rng.choice((0.85, 0.85, 1.0, 0.7)),
                              frequency=rng.choice((200, 200, 100, 250)))
        except AssertionError as e:  # the reference's own BRAM-size asserts: recorded, not skipped silently
            case = {"kind": "driver-assert", "params": {"seq": s, "hidden": d, "ffn": h, "p_be": pbe, "p_bu": pbu},
                    "error": repr(e)}
        cases.append(tag(case, "random"))

    # non-power-of-two P_BU (the reference's float sums are then not integers) and odd P_BE
    rng2 = random.Random(1717)
    for _ in range(40):
        d = 2 ** rng2.randint(4, 10)
        case = run_driver(mod, seq=rng2.randint(2, 3000), hidden=d, ffn=d * rng2.choice((1, 2, 4)),
                          layers=rng2.randint(1, 12), p_be=rng2.choice((3, 7, 20, 33, 120)),
                          p_bu=rng2.choice((3, 5, 6, 12)), bw=rng2.choice(("hbm", "equal")))
        cases.append(tag(case, "random-odd-pbu"))

    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"reference": "SamsungLabs/Butterfly_Acc", "commit": COMMIT,
                                 "simulator": "hardware/npu_design/simulator", "python": sys.version.split()[0],
                                 "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {a.out}")


if __name__ == "__main__":
    main()
