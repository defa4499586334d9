"""Energy estimate from a per-access / per-MAC table (picojoules) that a design can override.

    energy = macs * mac_pj
           + sram_read_bytes * sram_read_pj_per_byte + sram_write_bytes * sram_write_pj_per_byte
           + dram_bytes * dram_pj_per_byte
           + pe_cycles * idle_pe_pj            (every PE, every cycle: clock/leakage; 0 by default)

Defaults are illustrative 45 nm figures (Horowitz, "Computing's energy problem", ISSCC 2014: 8-bit
multiply 0.2 pJ + 32-bit add 0.1 pJ; 8 KiB SRAM 64-bit access ~10 pJ, i.e. ~1.25 pJ/byte; DRAM
~20 nJ per 64 B line, i.e. ~160 pJ/byte at the interface). They are an estimate, not a measurement:
set the design's ``energy`` section for a real technology.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULTS = {
    "mac_pj": 0.3,
    "sram_read_pj_per_byte": 1.25,
    "sram_write_pj_per_byte": 1.25,
    "dram_pj_per_byte": 160.0,
    "idle_pe_pj": 0.0,
}


@dataclass(frozen=True)
class EnergyTable:
    mac_pj: float = DEFAULTS["mac_pj"]
    sram_read_pj_per_byte: float = DEFAULTS["sram_read_pj_per_byte"]
    sram_write_pj_per_byte: float = DEFAULTS["sram_write_pj_per_byte"]
    dram_pj_per_byte: float = DEFAULTS["dram_pj_per_byte"]
    idle_pe_pj: float = DEFAULTS["idle_pe_pj"]

    @classmethod
    def from_design(cls, design) -> "EnergyTable":
        sec = design.sections.get("energy")
        return cls(**sec.asdict()) if sec is not None else cls()

    def estimate(self, macs: int, sram_read_bytes: float, sram_write_bytes: float, dram_bytes: float,
                 pe_cycles: int) -> dict[str, float]:
        """Energy by component and in total (picojoules)."""
        e = {
            "mac_pj": macs * self.mac_pj,
            "sram_read_pj": sram_read_bytes * self.sram_read_pj_per_byte,
            "sram_write_pj": sram_write_bytes * self.sram_write_pj_per_byte,
            "dram_pj": dram_bytes * self.dram_pj_per_byte,
            "idle_pj": pe_cycles * self.idle_pe_pj,
        }
        e["total_pj"] = sum(e.values())
        return e

    def asdict(self) -> dict[str, float]:
        return asdict(self)
