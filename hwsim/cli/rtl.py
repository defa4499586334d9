"""``hwsim rtl`` and ``hwsim verify``: RTL emission, lint and area, and the verification loop.
(Registered in hwsim.cli.COMMANDS; kept here so the RTL commands live in one place.)"""

from __future__ import annotations

import sys
from pathlib import Path

from ..report import atomic_write, format_table


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- rtl --------------------------------------------------------------------------------------------
def add_rtl(sub):
    p = sub.add_parser("rtl", help="emit Verilog + ports.json for designs; --area synthesizes, --lint lints",
                       description="Generate the RTL of each design into build/<name>-<hash>/ "
                                   "(<name>.v, ports.json, design.resolved.yaml).")
    p.add_argument("designs", nargs="+", help="design YAML files (of a kind with RTL: see hwsim.kinds)")
    p.add_argument("--area", action="store_true", help="Yosys synthesis: LUT/FF/carry/DSP counts (area-<target>.txt)")
    p.add_argument("--target", default="xc7", help="synthesis target: xc7 (default), ecp5, ice40, generic")
    p.add_argument("--lint", action="store_true", help="verilator --lint-only -Wall with the named Amaranth waivers")
    p.add_argument("--testbench", action="store_true",
                   help="also write a self-contained cocotb regression suite (regression/: Makefile for "
                        "SIM=verilator|icarus, run.py, vectors, expected results; runs without hwsim)")
    p.add_argument("--pnr", action="store_true",
                   help="with --target ice40|ecp5: place and route with yowasp-nextpnr on the smallest part that "
                        "fits (or --device/--package), report post-route utilisation and Fmax, or which "
                        "resources are short; writes <top>.pcf|.lpf and <top>.sdc next to the Verilog")
    p.add_argument("--device", default=None, help="FPGA part for --pnr / --area (ice40: hx1k, up5k, hx8k; "
                                                  "ecp5: 12k, 25k, 45k, 85k); up5k synthesizes with -dsp")
    p.add_argument("--package", default=None, help="package for --pnr (e.g. ct256, sg48, CABGA381)")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="clock constraint for --pnr and the emitted PCF/LPF/SDC (default: the design's clock_mhz)")
    p.add_argument("-o", "--out", default="build", help="artefact root (default build/)")
    return p


def _fpga(args, d, art, pnr_rows) -> int:
    """--pnr, or the constraint files with --area on an FPGA family (rtl_gen.fpga)."""
    import json

    from rtl_gen.fpga import place_and_route, write_constraints

    clock = args.clock_mhz if args.clock_mhz is not None else d.clock_mhz
    if not args.pnr:
        ports = json.loads(art.ports.read_text())
        paths = write_constraints(art.directory, art.top, ports, args.target, clock, None)
        print(f"  constraints ({clock:g} MHz clock, pin template): {', '.join(p.name for p in paths)}")
        return 0
    r = place_and_route(art.directory, art.top, args.target, args.device, args.package, clock, log=_err)
    print("  " + r.render().replace("\n", "\n  "))
    print(f"  constraints: {', '.join(Path(p).name for p in r.constraints)}")
    logic = next((v for k, v in r.utilisation.items() if k in ("ICESTORM_LC", "TRELLIS_COMB")), None)
    pnr_rows.append([d.name, r.device or "-", f"{r.need['logic']}", f"{logic['used']}" if logic else "-",
                     f"{r.need['ff']}", f"{r.need['bram']}", f"{r.need['dsp']}", f"{r.need['io']}",
                     f"{r.fmax_mhz:.1f}" if r.fmax_mhz else "-", r.status if r.fits else "; ".join(r.short)])
    if r.fits and r.status == "ok" and not r.meets_clock:
        _err(f"hwsim rtl: {d.name}: Fmax {r.fmax_mhz:.1f} MHz misses the {clock:g} MHz clock on {r.device} "
             f"(exit 1; --clock-mhz sets the constraint)")
    return 0 if r.meets_clock else 1


def cmd_rtl(args) -> int:
    from rtl_gen.area import TARGETS, SynthesisError, area_report
    from rtl_gen.errors import RTLError
    from rtl_gen.verilog import component_for, emit

    from ..design import load

    if args.target not in TARGETS:
        raise RTLError(f"--target {args.target!r}: allowed {', '.join(TARGETS)}")
    if args.pnr or args.device or args.package:
        from rtl_gen.fpga import FAMILIES, lookup

        if args.target not in FAMILIES:
            raise RTLError(f"--target {args.target!r} with --pnr/--device/--package: allowed {', '.join(FAMILIES)} "
                           f"(xc7 and generic have no open place and route)")
        devs = lookup(args.target, args.device, args.package)   # a bad part name fails before any build
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise RTLError(f"--clock-mhz {args.clock_mhz!r}: must be > 0")
    designs = [load(p) for p in args.designs]
    comps = [component_for(d) for d in designs]          # every error before anything is written
    status = 0
    rows: list = []
    pnr_rows: list = []
    for d, comp in zip(designs, comps):
        art = emit(d, args.out, component=comp)
        print(f"{d.name}: wrote {art.directory}/{{{art.verilog.name}, ports.json, design.resolved.yaml}}")
        print(f"  {comp.summary()}")
        if args.testbench:
            from testbenches.export import export_suite

            suite = export_suite(d, args.out, component=comp)
            print(f"  cocotb regression suite: {suite}/ (make SIM=verilator|icarus, or python run.py)")
        if args.lint:
            from testbenches.verilator import lint

            r = lint(art.verilog, art.top)
            print(f"  {r.verdict()}")
            if not r.ok:
                status = 1
                for m in r.messages[:20]:
                    print(f"    {m}")
        if args.area and not args.pnr:
            _err(f"synthesizing {d.name} for {args.target} with Yosys ...")
            command = getattr(comp, "synth_commands", {}).get(args.target)
            note = ""
            if args.target == "ice40" and command is None:
                from rtl_gen.fpga import synth_command

                dev = devs[0] if args.device else None
                command = synth_command("ice40", dev)
                note = ("; synth_ice40 -dsp: multipliers in SB_MAC16" if dev is not None and dev.dsp else
                        "; synth_ice40 without -dsp: multipliers in logic (--device up5k maps them to SB_MAC16)")
            try:
                a, path, cached = area_report(art.directory, art.top, args.target, command=command)
            except SynthesisError as e:
                _err(f"hwsim rtl: {e}")
                return 1
            rows.append([d.name, *a.row()])
            if args.target == "ecp5":
                from rtl_gen.fpga import needs

                note = (f"; {needs(a, 0)['logic']} LUT4 counting 2 per CCU2C carry cell (what nextpnr's "
                        f"TRELLIS_COMB counts)")
            print(f"  area ({args.target}{', cached' if cached else ''}): LUT {a.lut}, FF {a.ff}, carry {a.carry}, "
                  f"DSP {a.dsp}, RAM {a.bram + a.lutram}{note}; wrote {path.with_suffix('.txt')}")
        if args.target in ("ice40", "ecp5") and (args.area or args.pnr):
            try:
                status |= _fpga(args, d, art, pnr_rows)
            except SynthesisError as e:
                _err(f"hwsim rtl: {e}")
                return 1
    if args.area and len(rows) > 1:
        from rtl_gen.area import Area

        table = format_table(["design", *Area.header()], rows)
        print(f"\narea, Yosys {args.target}:\n{table}")
        out = Path(args.out) / f"area-{args.target}.txt"
        atomic_write(out, table + "\n")
        print(f"wrote {out}")
    if len(pnr_rows) > 1:
        table = format_table(["design", "device", "LUT4 (synth)", "LUT/LC (routed)", "FF", "BRAM", "DSP", "IO",
                              "Fmax MHz", "status"], pnr_rows)
        print(f"\nplace and route, {args.target}:\n{table}")
    return status


def _asked_levels(text: str) -> list[str] | None:
    """The levels of ``--levels`` (None: all); RTLError naming the allowed ones."""
    from rtl_gen.errors import RTLError
    from testbenches.bench import LEVELS

    if text.strip() == "all":
        return None
    asked = [b.strip() for b in text.split(",") if b.strip()]
    if not asked or any(b not in LEVELS for b in asked):
        raise RTLError(f"--levels {text!r}: choose from {', '.join(LEVELS)} (or all)")
    return asked


# ---- verify -----------------------------------------------------------------------------------------
def add_verify(sub):
    p = sub.add_parser("verify", help="build and run a design on every level; pass/fail with counts",
                       description="Emit each design, generate its vectors and check every level against "
                                   "expected values from the datatypes model (bit-exact) and the documented "
                                   "timing (cycle-exact). Levels: model (the functional model), hwsim (the "
                                   "cycle-level simulator), amaranth (amaranth.sim on the component), "
                                   "verilator (cocotb on the emitted Verilog); each kind's bench runs the "
                                   "levels it has (decoders and PEs: hwsim, amaranth, verilator). Decoders and "
                                   "PEs: exhaustive codes / code pairs + a random overflowing accumulate "
                                   "stream; systolic arrays: a seeded GEMM set, including the cycle of every "
                                   "result write.")
    p.add_argument("designs", nargs="+", help="design YAML files")
    p.add_argument("--waves", action="store_true", help="write an FST waveform (build/<name>-<hash>/run/dump.fst)")
    p.add_argument("--levels", "--backends", dest="levels", default="all",
                   help="comma-separated subset of model,hwsim,amaranth,verilator (default all the kind has)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random accumulate stream / GEMM operands (default 0)")
    p.add_argument("-o", "--out", default="build", help="artefact root (default build/)")
    return p


def cmd_verify(args) -> int:
    from rtl_gen.errors import RTLError
    from rtl_gen.verilog import component_for
    from testbenches.bench import LEVELS, levels_of, verify
    from testbenches.runner import BuildError, SimulationError

    from ..design import load

    asked = _asked_levels(args.levels)
    designs = [load(p) for p in args.designs]
    comps = [component_for(d) for d in designs]           # every error before any build
    failed = 0
    for d, comp in zip(designs, comps):
        levels = [lv for lv in (asked or LEVELS) if lv in levels_of(d)]
        if not levels:
            raise RTLError(f"--levels {args.levels!r}: kind {d.kind} ({d.source}) has the levels "
                           f"{', '.join(levels_of(d))}")
        if args.waves and "verilator" not in levels:
            raise RTLError("--waves records the Verilator run; include 'verilator' in --levels")
        try:
            rep = verify(d, args.out, levels, waves=args.waves, seed=args.seed, log=_err, component=comp)
        except (BuildError, SimulationError) as e:
            print(f"FAIL: {d.name}: {e}")
            failed += 1
            continue
        print(rep.summary())
        failed += not rep.ok
    if len(designs) > 1:
        print(f"{len(designs) - failed} of {len(designs)} designs passed")
    return 1 if failed else 0


# ---- regress ----------------------------------------------------------------------------------------
def add_regress(sub):
    p = sub.add_parser("regress", help="every verified design of every kind with RTL, on every level: one "
                                       "table, one JUnit XML, exit 1 on any failure",
                       description="Run `hwsim verify` on the given designs (default: every design in designs/ "
                                   "with verify: true whose kind has RTL), print one summary table (design x "
                                   "level) and write one JUnit XML (one test case per design and level) -- the "
                                   "form to put in CI.")
    p.add_argument("designs", nargs="*", help="design YAML files (default: the verified catalog)")
    p.add_argument("--levels", default="all", help="comma-separated subset of model,hwsim,amaranth,verilator")
    p.add_argument("--junit", default=None, help="JUnit XML path (default <out>/regress.xml)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random vectors (default 0)")
    p.add_argument("-o", "--out", default="build", help="artefact root (default build/)")
    return p


def catalog(root: Path | None = None) -> list[Path]:
    """Every design under designs/ with ``verify: true`` whose kind has RTL and a bench."""
    from .. import kinds
    from ..design import catalog as designs

    return [p for p, d in designs(root) if d.verify and kinds.get(d.kind).rtl and kinds.get(d.kind).bench]


def cmd_regress(args) -> int:
    import time
    from xml.sax.saxutils import escape, quoteattr

    from rtl_gen.errors import RTLError
    from rtl_gen.verilog import component_for
    from testbenches.bench import LEVELS, levels_of, verify
    from testbenches.runner import BuildError, SimulationError

    from ..design import load
    from ..report import ensure_writable

    paths = [Path(p) for p in args.designs] or catalog()
    if not paths:
        raise RTLError("no designs to run (designs/ has no verified design of a kind with RTL)")
    asked = _asked_levels(args.levels)
    out = ensure_writable(args.out)
    designs = [load(p) for p in paths]
    comps = [component_for(d) for d in designs]           # every error before any build
    rows, cases, failed = [], [], 0
    for d, comp in zip(designs, comps):
        levels = [lv for lv in (asked or LEVELS) if lv in levels_of(d)]
        t0 = time.perf_counter()
        try:
            rep = verify(d, out, levels, seed=args.seed, log=_err, component=comp)
            results = {r.backend: r for r in rep.results}
            error = "; ".join(rep.runner_failures) or None
        except (BuildError, SimulationError) as e:
            results, error = {}, str(e)
        dt = time.perf_counter() - t0
        cells = []
        for lv in LEVELS:
            r = results.get(lv)
            if lv not in levels:
                cells.append("-")
                continue
            ok = r is not None and r.ok and not (error and lv == "verilator")
            failed += not ok
            cells.append("PASS" if ok else "FAIL")
            msg = None if ok else (r.summary() if r is not None and not r.ok else error or "did not run")
            cases.append((d.name, lv, (dt / max(len(levels), 1)), msg))
        rows.append([d.name, d.kind, *cells, f"{dt:.1f}"])
    print(format_table(["design", "kind", *LEVELS, "s"], rows, align="ll" + "l" * len(LEVELS) + "r"))
    n = len(cases)
    print(f"\n{n - failed} passed, {failed} failed")
    xml = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites><testsuite name="hwsim regress" tests="{n}" failures="{failed}">']
    for name, lv, t, msg in cases:
        xml.append(f'<testcase classname={quoteattr(name)} name={quoteattr(lv)} time="{t:.3f}">' +
                   (f'<failure message={quoteattr(msg.splitlines()[0][:200])}>{escape(msg)}</failure>' if msg else "")
                   + "</testcase>")
    xml.append("</testsuite></testsuites>")
    junit = Path(args.junit) if args.junit else out / "regress.xml"
    atomic_write(junit, "\n".join(xml) + "\n")
    print(f"wrote {junit}")
    return 1 if failed else 0
