"""Drivers and checkers of the generated PIM units (``rtl_gen.pim``: the FP16 lane and the HBM-PIM block),
independent of the simulator (amaranth.sim or cocotb) through a PortIO (``set(name, int)``,
``get(name) -> int``). numpy only: exported regression suites (testbenches.export) carry this file and run
without hwsim.

Block vector file (``testbenches.pim.block_vectorset``): inputs ``cmd`` ([cycles, 7]: valid, write, bank
parity, row, col, ab_mode, transaction -- one row per DRAM cycle), ``data`` ([cycles, 16] host write
bursts), ``even0``/``odd0`` (block 0's banks before, [rows, 32, 16] FP16 bit patterns), ``gemv_at`` (row and
column of the GEMV partial sums); expected ``gemv_partials``, ``relu_even``/``relu_odd``,
``add_even``/``add_odd`` (bit patterns block 0 leaves in its banks) and ``write_cycles`` (the DRAM cycles in
which the block writes its bank). Lane vector file: inputs ``a``, ``b``, ``c``, ``op`` (0 add, 1 mul, 2
mac); expected ``y``.
"""

from __future__ import annotations

import numpy as np

#: the block results compared per lane (bursts of 16 FP16 lanes; a block with fewer lanes fills lanes 0..L-1)
BLOCK_KEYS = ("gemv_partials", "relu_even", "relu_odd", "add_even", "add_odd")


def pack(burst: np.ndarray, lanes: int = 16) -> int:
    v = 0
    for lane, x in enumerate(burst[:lanes]):
        v |= int(x) << (16 * lane)
    return v


def unpack(v: int, lanes: int = 16) -> np.ndarray:
    return np.array([(v >> (16 * lane)) & 0xFFFF for lane in range(lanes)], np.uint16)


async def drive_block(io, tick, inp: dict[str, np.ndarray], lanes: int = 16):
    """Apply the program cycle by cycle (``io.set/get`` by port name, ``await tick()`` one clock,
    ``await tick(settle=True)`` the settle point before it). Returns (even, odd, bank-write cycles)."""
    even, odd = inp["even0"].copy(), inp["odd0"].copy()
    cmd, data = inp["cmd"], inp["data"]
    writes = []
    for cy in range(cmd.shape[0]):
        valid, wr, bk, row, col, ab, _ = (int(x) for x in cmd[cy])
        io.set("cmd_valid", valid)
        io.set("cmd_write", wr)
        io.set("cmd_bank", bk & 1)
        io.set("cmd_row", row & 0x3FFF)
        io.set("cmd_col", col)
        io.set("ab_mode", ab)
        io.set("cmd_data", pack(data[cy]))
        r = row & 0xFFF
        inb = valid and r < even.shape[0]
        io.set("even_rdata", pack(even[r, col], lanes) if inb else 0)
        io.set("odd_rdata", pack(odd[r, col], lanes) if inb else 0)
        await tick(settle=True)
        if io.get("bank_we") and inb:
            (odd if io.get("bank_odd") else even)[r, col, :lanes] = unpack(io.get("bank_wdata"), lanes)
            writes.append(cy)
        await tick()
    io.set("cmd_valid", 0)
    return even, odd, np.array(writes, np.int64)


async def drive_lane(io, settle, v: dict[str, np.ndarray]) -> np.ndarray:
    out = np.empty(v["a"].size, np.uint16)
    for i in range(out.size):
        io.set("a", int(v["a"][i]))
        io.set("b", int(v["b"][i]))
        io.set("c", int(v["c"][i]))
        io.set("op", int(v["op"][i]))
        await settle()
        out[i] = io.get("y")
    return out


def block_results(even: np.ndarray, odd: np.ndarray, gemv_at) -> dict[str, np.ndarray]:
    """What the checker compares: the GEMV partial sums (odd bank, row/column ``gemv_at``), the ReLU (row 10)
    and ADD (row 11) results of bursts 0..7 of both banks."""
    r, c = (int(x) for x in gemv_at)
    return {"gemv_partials": odd[r, c:c + 8].copy(),
            "relu_even": even[10, :8].reshape(-1), "relu_odd": odd[10, :8].reshape(-1),
            "add_even": even[11, :8].reshape(-1), "add_odd": odd[11, :8].reshape(-1)}


def mismatches(expected: dict, got: dict, lanes: int = 16) -> list[str]:
    """Every expected array the results have, bit patterns equal (block results on lanes 0..lanes-1)."""
    bad = []
    for key, exp in expected.items():
        if key not in got:
            continue
        g, e = np.asarray(got[key]), np.asarray(exp)
        if key in BLOCK_KEYS:
            g, e = g.reshape(-1, 16)[:, :lanes], e.reshape(-1, 16)[:, :lanes]
        if g.shape != e.shape:
            bad.append(f"{key}: shape {g.shape}, expected {e.shape}")
        elif not np.array_equal(g, e):
            k = int(np.flatnonzero((g != e).ravel())[0])
            bad.append(f"{key}: {int(np.sum(g != e))} differ, first [{k}]: {int(g.ravel()[k]):#x}, expected "
                       f"{int(e.ravel()[k]):#x}")
    return bad
