"""The text report and the ``layers.csv`` rows of a systolic simulation (written by hwsim.report.write_run)."""

from __future__ import annotations

from ..report import si as _si


def render(res, scalesim: bool = False) -> str:
    d = res.design
    st = res.stats
    a = d.array
    ops = d.operands
    lines = [
        f"design    {d.name} ({a.rows}x{a.cols} {a.dataflow.upper()}, PE latency {a.pe_latency}"
        f"{', memory read latency 2' if a.register_memory_outputs else ''}, "
        f"{ops.weight} x {ops.activation} -> {ops.accumulator}, {d.clock_mhz:g} MHz, memory backing "
        f"{d.memory.backing})",
        f"workload  {res.workload.name}: {len(res.layers)} layer(s), {res.macs:,} MACs",
    ]
    if res.mode == "cycle":
        v = {True: "yes", False: "NO", None: "not checked"}[res.verified]
        c = {True: "yes", False: "NO", None: "-"}[res.closed_form_agrees]
        lines.append(f"mode      cycle-level (advances the RTL clock); outputs bit-exact with the numpy "
                     f"reference: {v}; counted cycles and accesses equal the closed forms: {c}")
    else:
        lines.append("mode      analytical (closed forms, equal to the cycle-level model)")
    for n in res.notes:
        lines.append(f"note      {n}")
    lines += [
        f"cycles    {res.cycles:,} = {res.compute_cycles:,} compute (exact) + {res.stall_cycles:,} stall "
        f"(DRAM estimate); {_si(st['time_us'] * 1e-6, 's')} at {d.clock_mhz:g} MHz",
        f"util      {100 * res.utilization:.2f} % of {res.pes} PEs; mapping efficiency "
        f"{100 * res.mapping_efficiency:.2f} %",
        "SRAM      " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in res.sram.items()) + " (elements)",
        "DRAM*     " + ", ".join(f"{k.replace('_', ' ')} {_si(v, 'B')}" for k, v in res.dram_bytes.items())
        + f"; needs {st['required_dram_bytes_per_cycle']:.2f} B/cycle for no stalls "
        f"(design: {d.memory.dram_bytes_per_cycle:g})",
        "energy*   " + f"{_si(res.energy_pj['total_pj'] * 1e-12, 'J')} ("
        + ", ".join(f"{k[:-3]} {100 * v / max(res.energy_pj['total_pj'], 1e-30):.1f}%"
                    for k, v in res.energy_pj.items() if k != "total_pj") + ")",
        "",
        res.table(),
        "",
        "* estimate (DRAM model and energy table of docs/systolic.md); compute cycles are exact for the "
        "microarchitecture.",
    ]
    if scalesim:
        lines += ["", "SCALE-Sim 3.0.0-compatible numbers (one instance of each layer):", res.scalesim_table()]
    lines.append(f"\nsimulated in {res.seconds:.3f} s")
    return "\n".join(lines)


def layer_rows(res) -> tuple[list[str], list[list]]:
    header = ["layer", "kind", "M", "N", "K", "repeat", "cycles", "compute_cycles", "stall_cycles_estimate",
              "macs", "utilization", "mapping_efficiency", "weight_reads", "activation_reads",
              "output_writes", "output_reads", "dram_bytes_estimate", "energy_pj_estimate", "verified"]
    rows = [[l.name, l.layer.kind, l.layer.M, l.layer.N, l.layer.K, l.layer.repeat, l.cycles,
             l.compute_cycles, l.stall_cycles, l.macs, f"{l.utilization:.6f}",
             f"{l.mapping_efficiency:.6f}", l.sram["weight_reads"], l.sram["activation_reads"],
             l.sram["output_writes"], l.sram["output_reads"], f"{l.dram_total:.0f}",
             f"{l.energy['total_pj']:.1f}", l.verified] for l in res.layers]
    return header, rows
