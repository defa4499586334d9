"""The on-chip memories of a systolic array: lanes, word width, depth and the tiled layout of each
operand (docs/systolic.md section 11). One fit rule for the simulator (``memory.backing: none``) and the
RTL: a GEMM fits when each operand's *padded lane words* fit its memory's depth.

``tile_words`` layout: word ``f * rows + i`` holds ``S[i, f*lanes : (f+1)*lanes]``; lanes past the
matrix edge are padding (any code; the array gates them with a valid bit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: memory name -> the design key that sizes it
KB_KEY = {"activation": "ifmap_kb", "weight": "filter_kb", "result": "ofmap_kb"}


@dataclass(frozen=True)
class MemoryGeometry:
    name: str           #: activation | weight | result
    lanes: int
    lane_bits: int
    depth: int          #: words
    role: str           #: stationary | streamed | result
    layout: str         #: which matrix, tiled how (tile_words)

    @property
    def word_bits(self) -> int:
        return self.lanes * self.lane_bits

    @property
    def addr_bits(self) -> int:
        return max(1, (self.depth - 1).bit_length())

    def describe(self) -> dict[str, Any]:
        return {"lanes": self.lanes, "lane_bits": self.lane_bits, "word_bits": self.word_bits,
                "depth": self.depth, "addr_bits": self.addr_bits, "role": self.role, "layout": self.layout}


def memories(rows: int, cols: int, dataflow: str, weight_bits: int, activation_bits: int, acc_bits: int,
             mem_kb: tuple[int, int, int]) -> dict[str, MemoryGeometry]:
    """The activation, weight and result memories of an array with (ifmap, filter, ofmap) KiB."""
    R, C = rows, cols
    wb, ab, rb = weight_bits, activation_bits, acc_bits
    kb_a, kb_w, kb_r = mem_kb
    if dataflow == "ws":
        act = (R, "streamed", "tile_words(A, R): word f*M + m holds A[m, f*R + r] in lane r")
        wgt = (C, "stationary", "tile_words(W, C): word f*K + k holds W[k, f*C + c] in lane c")
        res = "tile_words(Y, C): bank c, word f*M + m holds Y[m, f*C + c]"
    elif dataflow == "is":
        act = (C, "stationary", "tile_words(A^T, C): word f*K + k holds A[f*C + c, k] in lane c")
        wgt = (R, "streamed", "tile_words(W^T, R): word f*N + n holds W[f*R + r, n] in lane r")
        res = "tile_words(Y^T, C): bank c, word f*N + n holds Y[f*C + c, n]"
    else:
        act = (R, "streamed", "tile_words(A^T, R): word f*K + k holds A[f*R + r, k] in lane r")
        wgt = (C, "streamed", "tile_words(W, C): word f*K + k holds W[k, f*C + c] in lane c")
        res = "tile_words(Y, C): bank c, word f*M + m holds Y[m, f*C + c]"
    return {
        "activation": MemoryGeometry("activation", act[0], ab, kb_a * 8192 // (act[0] * ab), act[1], act[2]),
        "weight": MemoryGeometry("weight", wgt[0], wb, kb_w * 8192 // (wgt[0] * wb), wgt[1], wgt[2]),
        "result": MemoryGeometry("result", C, rb, kb_r * 8192 // (C * rb), "result", res),
    }


def words_needed(rows: int, cols: int, dataflow: str, M: int, N: int, K: int) -> dict[str, int]:
    """Memory words a GEMM's padded images occupy."""
    R, C = rows, cols

    def cd(a: int, b: int) -> int:
        return -(-a // b)

    if dataflow == "ws":
        return {"activation": cd(K, R) * M, "weight": cd(N, C) * K, "result": cd(N, C) * M}
    if dataflow == "is":
        return {"activation": cd(M, C) * K, "weight": cd(K, R) * N, "result": cd(M, C) * N}
    return {"activation": cd(M, R) * K, "weight": cd(N, C) * K, "result": cd(N, C) * M}


def misfit(mems: dict[str, MemoryGeometry], rows: int, cols: int, dataflow: str, M: int, N: int, K: int,
           mem_kb: tuple[int, int, int]) -> str | None:
    """Why a GEMM's padded images do not fit the memories, or None when they fit."""
    for name, need in words_needed(rows, cols, dataflow, M, N, K).items():
        g = mems[name]
        if need > g.depth:
            kb = mem_kb[("activation", "weight", "result").index(name)]
            return (f"GEMM M={M} N={N} K={K} needs {need} words of the {name} memory "
                    f"({g.layout.split(':')[0]}, {g.word_bits}-bit words), which has {g.depth} "
                    f"(memory.{KB_KEY[name]} = {kb})")
    return None


# ---- memory images: what the host loads and reads back --------------------------------------------
def tile_words(S: np.ndarray, lanes: int, fill: int = 0) -> np.ndarray:
    """Tile a matrix S [rows, cols] into lane vectors: returns [ceil(cols/lanes) * rows, lanes] with
    row ``f * rows + i`` = ``S[i, f*lanes : (f+1)*lanes]`` (padded with ``fill`` past the last column)."""
    S = np.asarray(S)
    rows, cols = S.shape
    nf = -(-cols // lanes)
    pad = np.full((rows, nf * lanes), fill, dtype=S.dtype)
    pad[:, :cols] = S
    return pad.reshape(rows, nf, lanes).transpose(1, 0, 2).reshape(nf * rows, lanes)


def untile_words(V: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of ``tile_words``: V [ceil(cols/lanes) * rows, lanes] -> S [rows, cols]."""
    V = np.asarray(V)
    lanes = V.shape[1]
    nf = -(-cols // lanes)
    return V[: nf * rows].reshape(nf, rows, lanes).transpose(1, 0, 2).reshape(rows, nf * lanes)[:, :cols]


def pack_lanes(V: np.ndarray, bits: int) -> np.ndarray:
    """Lane vectors [words, lanes] of integers (two's complement if negative) -> one Python int per
    word (object array), lane i at bits [i*bits, (i+1)*bits)."""
    V = np.asarray(V)
    mask = (1 << bits) - 1
    out = np.zeros(V.shape[0], dtype=object)
    for i in range(V.shape[1]):
        col = np.array([int(v) & mask for v in V[:, i].tolist()], dtype=object)
        out = out | (col << (i * bits))
    return out


def unpack_lanes(words, lanes: int, bits: int, signed: bool) -> np.ndarray:
    """Words (ints) -> int64 [words, lanes] (sign-extended when ``signed``; an object array of Python
    ints when ``bits`` > 64)."""
    mask = (1 << bits) - 1
    w = [int(x) for x in np.asarray(words, dtype=object).ravel()]
    # lanes wider than int64 (the scale epilogue's results): Python ints
    out = np.zeros((len(w), lanes), dtype=np.int64 if bits <= 64 else object)
    for i in range(lanes):
        vals = [(x >> (i * bits)) & mask for x in w]
        if signed:
            vals = [v - (1 << bits) if v >> (bits - 1) else v for v in vals]
        out[:, i] = vals
    return out


def result_matrix(words, lanes: int, lane_bits: int, dataflow: str, M: int, N: int) -> np.ndarray:
    """Y int64 [M, N] from the result memory image (banks of ``lanes`` signed ``lane_bits``-bit lanes;
    the first ``words_needed(...)['result']`` words): tile_words(Y, C), or of Y^T in ``is``."""
    V = unpack_lanes(words, lanes, lane_bits, signed=True)
    r, c = (N, M) if dataflow == "is" else (M, N)
    S = untile_words(V, r, c)
    return np.ascontiguousarray(S.T if dataflow == "is" else S)


def element_of_bank_word(lanes: int, dataflow: str, M: int, N: int) -> np.ndarray:
    """int64 [words, lanes, 2]: the (m, n) of Y each (result word, bank) holds (-1 for padding)."""
    r, c = (N, M) if dataflow == "is" else (M, N)
    idx = np.arange(r * c, dtype=np.int64).reshape(r, c)
    V = tile_words(idx + 1, lanes) - 1          # padding -> -1
    i, j = np.divmod(np.where(V >= 0, V, 0), c)
    if dataflow == "is":
        i, j = j, i
    return np.stack([np.where(V >= 0, i, -1), np.where(V >= 0, j, -1)], axis=-1)
