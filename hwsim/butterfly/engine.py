"""One Butterfly Engine: index generator, bank map, bank conflicts and the per-vector timing contract.

Index generator (the artefact's ``butterfly_indx_generator``, generalised from P_BU = 4 to any power of
two; B = 2 P_BU banks): stages run with decreasing stride s = N/2 ... 1, each stage issues N/(2 P_BU)
groups of P_BU pairs (k, k + s):

* s >= B: lower operands ``base + 2i`` (i < P_BU) with ``base`` = 2s b + cB + h, for block b, chunk
  c < s/B and h in {0, 1} (for P_BU = 4: 0, 1, 8, 9, ... as in the RTL);
* s < B: one aligned chunk of B elements per cycle, the lower operands are its k with k & s == 0.

Bank map (``butterfly_s2p_opt``): bank(k) = (k mod B + popcount((k >> log2 B) mod 2^popcount_bits)) mod B,
row = k >> log2 B. A group whose 2 P_BU operands fall into fewer banks is issued over as many cycles as
the largest number of operands in one bank (one read port per bank): with the artefact's 8 popcount
bits this happens only in the stages with s >= B * 2^8 (N = 4096, s = 2048 for P_BU = 4).

Timing contract of one engine for one vector (what the RTL engine does, start to done):
``N`` (S2P load, one element per cycle) + sum over stages of (issue cycles + pipeline_latency)
+ drained elements (P2S, one per cycle).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def log2(n: int) -> int:
    return n.bit_length() - 1


def check_length(n: int, units: int, max_length: int) -> None:
    if n & (n - 1) or n < 2 * units or n > max_length:
        raise ValueError(f"butterfly length {n}: must be a power of two in [2*units = {2 * units}, "
                         f"max_length = {max_length}]")


def lower_indices(n: int, units: int, stride: int) -> np.ndarray:
    """Lower operand k of every pair, [cycles, units], in issue order, for one stage."""
    B = 2 * units
    if stride >= B:
        blocks = np.arange(n // (2 * stride))[:, None, None, None] * 2 * stride
        chunks = np.arange(stride // B)[None, :, None, None] * B
        h = np.arange(2)[None, None, :, None]
        i = np.arange(units)[None, None, None, :] * 2
        return (blocks + chunks + h + i).reshape(-1, units)
    chunk = np.arange(n // B)[:, None] * B
    offs = np.array([k for k in range(B) if not k & stride])
    return (chunk + offs[None, :]).reshape(-1, units)


def stage_pairs(n: int, units: int) -> list[tuple[int, np.ndarray]]:
    """[(stride, lower[cycles, units])] for the log2(n) stages, decreasing stride."""
    out, s = [], n // 2
    while s >= 1:
        out.append((s, lower_indices(n, units, s)))
        s //= 2
    return out


def bank_of(k: np.ndarray, units: int, popcount_bits: int = 8) -> np.ndarray:
    B = 2 * units
    lb = log2(B)
    hi = (k >> lb) & ((1 << popcount_bits) - 1)
    pc = np.zeros_like(hi)
    for b in range(popcount_bits):
        pc += (hi >> b) & 1
    return (k % B + pc) % B


def row_of(k: np.ndarray, units: int) -> np.ndarray:
    return k >> log2(2 * units)


@lru_cache(maxsize=256)
def stage_issue_cycles(n: int, units: int, popcount_bits: int = 8) -> tuple[int, ...]:
    """Issue cycles of each stage, counted from the enumerated operand banks (cycle-level)."""
    out = []
    B = 2 * units
    for s, lo in stage_pairs(n, units):
        ops = np.concatenate([lo, lo + s], axis=1)
        banks = bank_of(ops, units, popcount_bits)
        counts = np.zeros((ops.shape[0], B), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(ops.shape[0]), ops.shape[1]), banks.ravel()), 1)
        out.append(int(counts.max(axis=1).sum()))
    return tuple(out)


def stage_issue_cycles_closed(n: int, units: int, popcount_bits: int = 8) -> tuple[int, ...]:
    """The same in closed form (analytical mode): a stage is doubled iff its stride reaches past the
    popcount bits, i.e. s >= 2 P_BU * 2^popcount_bits (then k and k + s share a bank)."""
    base = n // (2 * units)
    limit = 2 * units << popcount_bits
    return tuple(base * (2 if (n >> (j + 1)) >= limit else 1) for j in range(log2(n)))


def vector_cycles(n: int, units: int, latency: int, drained: int | None = None, popcount_bits: int = 8,
                  closed: bool = False) -> dict:
    """One engine, one vector, start to done: load, compute (stages + pipeline drain), P2S."""
    issue = (stage_issue_cycles_closed if closed else stage_issue_cycles)(n, units, popcount_bits)
    compute = sum(issue) + latency * len(issue)
    d = n if drained is None else drained
    return {"load": n, "compute": compute, "drain": d, "total": n + compute + d,
            "conflict_cycles": sum(issue) - len(issue) * (n // (2 * units)), "issue": issue}


# ---- data-carrying engine model (the hwsim level of the RTL bench) --------------------------------------
DRAIN_LATENCY = 1   #: P2S: the RAM read of the last element, one cycle before ``done``


def engine_cycles(n: int, units: int, latency: int, popcount_bits: int = 8) -> int:
    """Cycles of the RTL engine for one vector, start to done (vector_cycles + the P2S read latency)."""
    return vector_cycles(n, units, latency, popcount_bits=popcount_bits)["total"] + DRAIN_LATENCY


def coefficient_rows(n: int, units: int, words: np.ndarray) -> np.ndarray:
    """Coefficients in issue order: words[log n, n/2, 4] (per pair in twiddle order b*s + j) ->
    rows[log n * n/(2P), P, 4] (row j*G + t holds BU i's four words at cycle t of stage j)."""
    rows = []
    for j, (s, lo) in enumerate(stage_pairs(n, units)):
        q = (lo // (2 * s)) * s + lo % s
        rows.append(words[j][q])
    return np.concatenate(rows, axis=0)


def simulate_vector(n: int, units: int, is_fft: bool, re: np.ndarray, im: np.ndarray, rows: np.ndarray,
                    popcount_bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """One vector through the engine's banked RAMs, cycle by issue cycle: S2P into (bank, row), each
    issue cycle reads its 2P operands through the bank map, applies the BU (FP16, the functional
    model's operation order) with that cycle's coefficient row, writes back in place; P2S in address
    order. Returns (out_re, out_im) as FP16 arrays."""
    B = 2 * units
    k = np.arange(n)
    bank, row = bank_of(k, units, popcount_bits), row_of(k, units)
    A = np.zeros((B, max(1, n // B)), dtype=np.float16)
    Bm = np.zeros_like(A)
    A[bank, row] = re.astype(np.float16)
    Bm[bank, row] = im.astype(np.float16) if is_fft else 0
    r = 0
    for s, lo in stage_pairs(n, units):
        for t in range(lo.shape[0]):
            lw, hw = lo[t], lo[t] + s
            bl, rl = bank_of(lw, units, popcount_bits), row_of(lw, units)
            bh, rh = bank_of(hw, units, popcount_bits), row_of(hw, units)
            w = rows[r].astype(np.uint16).view(np.float16)
            r += 1
            x1r, x2r = A[bl, rl], A[bh, rh]
            if is_fft:
                x1i, x2i = Bm[bl, rl], Bm[bh, rh]
                tr = x2r * w[:, 0] - x2i * w[:, 1]
                ti = x2r * w[:, 1] + x2i * w[:, 0]
                A[bl, rl], Bm[bl, rl] = x1r + tr, x1i + ti
                A[bh, rh], Bm[bh, rh] = x1r - tr, x1i - ti
            else:
                A[bl, rl] = x1r * w[:, 0] + x2r * w[:, 2]
                A[bh, rh] = x1r * w[:, 1] + x2r * w[:, 3]
    out_im = Bm[bank, row] if is_fft else np.zeros(n, np.float16)
    return A[bank, row], out_im
