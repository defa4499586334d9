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

from .spec import param

DEFAULTS = {
    "mac_pj": 0.3,
    "sram_read_pj_per_byte": 1.25,
    "sram_write_pj_per_byte": 1.25,
    "dram_pj_per_byte": 160.0,
    "idle_pe_pj": 0.0,
}


@dataclass(frozen=True, kw_only=True)
class EnergyTable:
    """The ``energy`` section of a design (picojoules); defaults above."""

    mac_pj: float = param(DEFAULTS["mac_pj"], minimum=0, doc="energy per MAC, pJ")
    sram_read_pj_per_byte: float = param(DEFAULTS["sram_read_pj_per_byte"], minimum=0, doc="SRAM read, pJ/byte")
    sram_write_pj_per_byte: float = param(DEFAULTS["sram_write_pj_per_byte"], minimum=0, doc="SRAM write, pJ/byte")
    dram_pj_per_byte: float = param(DEFAULTS["dram_pj_per_byte"], minimum=0, doc="DRAM transfer, pJ/byte")
    idle_pe_pj: float = param(DEFAULTS["idle_pe_pj"], minimum=0, doc="per PE per cycle (clock/leakage), pJ")

    @classmethod
    def from_design(cls, design) -> "EnergyTable":
        return design.sections.get("energy") or cls()

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
