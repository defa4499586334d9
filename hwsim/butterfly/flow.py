"""The butterfly step of ``hwsim flow`` (the lead wires it from hwsim/flow.py)::

    from hwsim.butterfly.flow import step
    res = step(root="build", seed=0, levels=("model", "hwsim", "amaranth"), log=print)
    print(res["text"]); ok = res["ok"]

1. one FABNet block (FABNet-Base shape, S = 128) on the equal-budget butterfly design (cycle-level, with
   ``--compat butterfly-acc`` beside it) vs the equivalent dense blocks on the systolic design;
2. the butterfly-engine RTL verified on a seeded slice (the CI engine, n = 4..32, both modes) on the
   requested levels; every verdict is computed in this run and can print FAIL.
"""

from __future__ import annotations

from pathlib import Path

from .compare import ROOT, compare, render

ENGINE_DESIGN = ROOT / "designs/butterfly/bfly_engine_tiny.yaml"


def step(root: str | Path = "build", seed: int = 0, levels=("model", "hwsim", "amaranth"),
         lengths=(4, 8, 16, 32), log=None) -> dict:
    say = log or (lambda s: None)
    c = compare(seq=128, hidden=768, ffn=3072, layers=1)
    lines = ["[butterfly] one FABNet block vs the dense block (equal budget, 2048 multipliers)", render(c)]
    say(lines[-1])
    from rtl_gen.butterfly import component
    from testbenches import butterfly as bench

    from ..design import load
    d = load(ENGINE_DESIGN)
    comp = component(d)
    vs = bench.vectors(d, seed=seed, lengths=list(lengths))
    art_dir = None
    if "verilator" in levels:
        from rtl_gen.verilog import emit
        art_dir = emit(d, root, component=comp).directory
    results = []
    lines.append(f"[butterfly] RTL engine {d.name}: {bench.describe(d, comp, vs)}")
    for level in levels:
        got, note = bench.run(level, d, comp, vs, art_dir, log=say)
        r = bench.check(vs, got, level)
        results.append(r)
        lines.append(r.summary() + (f" ({note})" if note else ""))
        say(lines[-1])
    ok = bool(results) and all(r.ok for r in results)
    lines.append(f"[butterfly] {'PASS' if ok else 'FAIL'}: RTL bit-exact and cycle-equal on "
                 f"{', '.join(levels)}")
    return {"ok": ok, "text": "\n".join(lines), "compare": c, "checks": [r.summary() for r in results]}
