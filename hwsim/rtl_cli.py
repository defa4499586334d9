"""``hwsim rtl`` and ``hwsim verify``: RTL emission, lint and area, and the verification loop.
(Registered in hwsim.cli.COMMANDS; kept here so the RTL commands live in one place.)"""

from __future__ import annotations

import sys
from pathlib import Path

from .design import load
from .report import atomic_write, format_table


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- rtl --------------------------------------------------------------------------------------------
def add_rtl(sub):
    p = sub.add_parser("rtl", help="emit Verilog + ports.json for designs; --area synthesizes, --lint lints",
                       description="Generate the RTL of each design into build/<name>-<hash>/ "
                                   "(<name>.v, ports.json, design.resolved.yaml).")
    p.add_argument("designs", nargs="+", help="design YAML files (kinds with RTL: decoder, pe, systolic)")
    p.add_argument("--area", action="store_true", help="Yosys synthesis: LUT/FF/carry/DSP counts (area-<target>.txt)")
    p.add_argument("--target", default="xc7", help="synthesis target: xc7 (default), ecp5, ice40, generic")
    p.add_argument("--lint", action="store_true", help="verilator --lint-only -Wall with the named Amaranth waivers")
    p.add_argument("-o", "--out", default="build", help="artefact root (default build/)")
    return p


def cmd_rtl(args) -> int:
    from rtl_gen.area import TARGETS, SynthesisError, area_report
    from rtl_gen.verilog import component_for, emit
    from rtl_gen.errors import RTLError

    if args.target not in TARGETS:
        raise RTLError(f"--target {args.target!r}: allowed {', '.join(TARGETS)}")
    designs = [load(p) for p in args.designs]
    comps = [component_for(d) for d in designs]          # every error before anything is written
    status = 0
    rows = []
    for d, comp in zip(designs, comps):
        art = emit(d, args.out, component=comp)
        print(f"{d.name}: wrote {art.directory}/{{{art.verilog.name}, ports.json, design.resolved.yaml}}")
        print(f"  {_describe(comp)}")
        if args.lint:
            from testbenches.verilator import LINT_WAIVERS, lint

            r = lint(art.verilog, art.top)
            print(f"  verilator --lint-only -Wall: {'clean' if r.ok else 'FAILED'} "
                  f"(waived: {', '.join(LINT_WAIVERS)})")
            if not r.ok:
                status = 1
                for m in r.messages[:20]:
                    print(f"    {m}")
        if args.area:
            _err(f"synthesizing {d.name} for {args.target} with Yosys ...")
            try:
                a, path, cached = area_report(art.directory, art.top, args.target)
            except SynthesisError as e:
                _err(f"hwsim rtl: {e}")
                return 1
            rows.append([d.name, *a.row()])
            print(f"  area ({args.target}{', cached' if cached else ''}): LUT {a.lut}, FF {a.ff}, carry {a.carry}, "
                  f"DSP {a.dsp}, RAM {a.bram + a.lutram}; wrote {path.with_suffix('.txt')}")
    if args.area and len(rows) > 1:
        from rtl_gen.area import Area

        table = format_table(["design", *Area.header()], rows)
        print(f"\narea, Yosys {args.target}:\n{table}")
        out = Path(args.out) / f"area-{args.target}.txt"
        atomic_write(out, table + "\n")
        print(f"wrote {out}")
    return status


def _describe(comp) -> str:
    from rtl_gen.decoder import Decoder

    if isinstance(comp, Decoder):
        t = comp.table
        return (f"decoder {t.describe()}; {comp.structure.describe()}; combinational")
    sp = comp.spec
    if hasattr(comp, "config"):             # systolic array
        c = comp.config
        mems = ", ".join(f"{k} {g.depth}x{g.word_bits}b" for k, g in c.memories().items())
        return (f"systolic {c.rows}x{c.cols} {c.dataflow.upper()}, PE latency {c.pe_latency}: "
                f"{sp.weight.format} ({sp.weight.width}b, 2^-{sp.weight.frac_bits}) x {sp.activation.format} "
                f"({sp.activation.width}b, 2^-{sp.activation.frac_bits}) -> int{sp.acc_width} (2^-{sp.product_frac}, "
                f"wraps); memories (words x bits): {mems}; GEMM shape inputs {c.dim_bits}b")
    return (f"PE {sp.weight.format} ({sp.weight.width}b, 2^-{sp.weight.frac_bits}"
            f"{f', {sp.weight.meta_bits}-bit meta' if sp.weight.use_meta else ''}) x {sp.activation.format} "
            f"({sp.activation.width}b, 2^-{sp.activation.frac_bits}) -> product {sp.product_width}b, "
            f"accumulator int{sp.acc_width} (2^-{sp.product_frac}, wraps); latency {comp.latency}, "
            f"II {comp.initiation_interval}")


# ---- verify -----------------------------------------------------------------------------------------
def add_verify(sub):
    p = sub.add_parser("verify", help="build and run a design on every level; pass/fail with counts",
                       description="Emit each design, generate its vectors and check every level against "
                                   "the datatypes model (bit-exact) and the cycle model (cycle-exact). "
                                   "Decoders and PEs: exhaustive codes / code pairs + a random overflowing "
                                   "accumulate stream on the numpy model, amaranth.sim and cocotb/Verilator. "
                                   "Systolic arrays: a seeded GEMM set on the numpy reference, hwsim's "
                                   "cycle-level kernels (both under 'model'), amaranth.sim and "
                                   "cocotb/Verilator, including the cycle of every result write.")
    p.add_argument("designs", nargs="+", help="design YAML files")
    p.add_argument("--waves", action="store_true", help="write an FST waveform (build/<name>-<hash>/run/dump.fst)")
    p.add_argument("--backends", default="model,amaranth,verilator",
                   help="comma-separated subset of model,amaranth,verilator (default all; for a systolic "
                        "array 'model' runs numpy and hwsim)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random accumulate stream / GEMM operands (default 0)")
    p.add_argument("-o", "--out", default="build", help="artefact root (default build/)")
    return p


def cmd_verify(args) -> int:
    from rtl_gen.verilog import component_for
    from testbenches.runner import BuildError, SimulationError
    from testbenches.verify import BACKENDS, verify
    from rtl_gen.errors import RTLError

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    bad = [b for b in backends if b not in BACKENDS]
    if bad or not backends:
        raise RTLError(f"--backends {args.backends!r}: choose from {', '.join(BACKENDS)}")
    if args.waves and "verilator" not in backends:
        raise RTLError("--waves records the Verilator run; include 'verilator' in --backends")
    designs = [load(p) for p in args.designs]
    comps = [component_for(d) for d in designs]           # every error before any build
    failed = 0
    for d, comp in zip(designs, comps):
        try:
            rep = verify(d, args.out, backends, waves=args.waves, seed=args.seed, log=_err, component=comp)
        except (BuildError, SimulationError) as e:
            print(f"FAIL: {d.name}: {e}")
            failed += 1
            continue
        print(rep.summary())
        failed += not rep.ok
    if len(designs) > 1:
        print(f"{len(designs) - failed} of {len(designs)} designs passed")
    return 1 if failed else 0
