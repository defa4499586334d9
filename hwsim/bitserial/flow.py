"""The bit-serial step of ``hwsim flow`` (registry role ``flow``): MiniLM's Linear weights quantized with
BitMoD (``bitmod4``) and with INT8 + BBS zero-point shifting run on the BitMoD and BitVert designs at
cycle level, next to a systolic design's cycles for the same GEMMs, and both PEs' RTL verified on a
real-weight slice on every level (``testbenches.bitserial_flow``). Verdicts are computed in the run."""

from __future__ import annotations

from pathlib import Path

from ..report import format_table

ROOT = Path(__file__).resolve().parents[2]
SYSTOLIC = ROOT / "designs" / "tpu_like_32x32_ws_int8.yaml"


def step(root: str | Path = "build", seed: int = 0, log=None, seq: int = 128, verilator: bool = True) -> dict:
    from testbenches.bitserial_flow import flow_step

    say = log or (lambda s: None)
    say("[bitserial] MiniLM on BitMoD and BitVert designs, next to a systolic design; PE RTL on a real slice")
    s = flow_step(Path(root) / "bitserial_flow", seq=seq, systolic_design=SYSTOLIC, build_root=root,
                  verilator=verilator)
    rows = [[r["layer"].replace("encoder.layer.", "L").replace(".weight", ""), f"{r['N']}x{r['K']}",
             f"{r['bitmod_cycles']:,}", f"{r['bitmod_bits_per_weight']:.3f}", f"{r['bitvert_cycles']:,}",
             f"{r['bitvert_bits_per_weight']:.3f}", f"{r['systolic_cycles']:,}"] for r in s["layers"][:6]]
    t = s["totals"]
    rows.append([f"total ({len(s['layers'])} layers)", "", f"{t['bitmod_cycles']:,}", "", f"{t['bitvert_cycles']:,}",
                 "", f"{t['systolic_cycles']:,}"])
    lines = [f"MiniLM Linear layers at seq {seq}: bitmod4 g128 on bitmod_32x32, INT8 + BBS zero-point shifting on "
             f"bitvert_32x16, INT8 on {SYSTOLIC.stem} (first 6 layers shown; all in bitserial_layers.csv)",
             format_table(["layer", "NxK", "BitMoD cyc", "bits/w", "BitVert cyc", "bits/w", "systolic cyc"], rows,
                          align="llrrrrr")]
    ok = True
    for pe, levels in s["rtl"].items():
        verdicts = {k: v for k, v in levels.items() if k != "cycles"}
        good = all(v == "bit-exact, same cycles" for v in verdicts.values())
        ok &= good
        lines.append(f"{pe} PE RTL on a real MiniLM slice ({levels['cycles']} cycles): "
                     + ", ".join(f"{k} {'PASS' if v == 'bit-exact, same cycles' else 'FAIL: ' + v}"
                                 for k, v in verdicts.items()))
    return {"ok": ok, "text": "\n".join(lines), "summary": s}
