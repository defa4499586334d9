"""Workload strings of kind butterfly.

* ``fabnet:<preset>[,seq=S][,layers=L]`` -- FABNet, every block FBfly (the LRA scripts' setting).
  Presets (sequence, hidden, FFN, blocks): listops (2000, 128, 256, 2), text (4000, 256, 512, 2),
  retrieval (4000, 1024, 1024, 2; one document of the dual encoder), image (1024, 64, 128, 1),
  pathfinder (1024, 64, 64, 6), base (128, 768, 3072, 12), large (128, 1024, 4096, 24).
* ``fabnet:hidden=D,ffn=H,seq=S,layers=L`` -- any shape (BERT-like: ``hidden=768,ffn=3072``).
* ``fft:N[,batch=B]`` -- B complex FFTs of length N (FFT mode, complex in and out).
* ``bfly:IN,OUT[,batch=B]`` -- one butterfly linear layer IN -> OUT on B vectors.

Sizes are rounded up to powers of two as the hardware (and the torch_butterfly layers) pad them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layers import WorkloadError as _WorkloadError


class WorkloadError(_WorkloadError):
    """A workload string that cannot be used (names the string, the key and what is allowed)."""


PRESETS = {  # sequence, hidden, ffn, blocks
    "listops": (2000, 128, 256, 2), "text": (4000, 256, 512, 2), "retrieval": (4000, 1024, 1024, 2),
    "image": (1024, 64, 128, 1), "pathfinder": (1024, 64, 64, 6),
    "base": (128, 768, 3072, 12), "large": (128, 1024, 4096, 24),
}


def pow2(x: int) -> int:
    return 1 << max(0, (x - 1).bit_length())


@dataclass(frozen=True)
class Layer:
    """One layer as the Butterfly Processor runs it."""
    name: str
    mode: str            #: "fft" or "linear"
    length: int          #: butterfly / FFT length (power of two)
    vectors: int         #: independent vectors (tokens, or columns for the 2nd FFT)
    stacks: int = 1      #: nstacks: each vector is run this many times with different weights
    out_length: int = 0  #: elements drained per run (truncation); 0 = length
    complex_in: bool = False
    complex_out: bool = False
    ln: bool = False     #: LayerNorm fused in the P2S path
    shortcut: bool = False  #: shortcut add fused in the P2S path

    @property
    def drained(self) -> int:
        return self.out_length or self.length

    @property
    def butterflies(self) -> int:
        """2x2 blocks / radix-2 butterflies per layer (all vectors, all stacks)."""
        return self.vectors * self.stacks * (self.length // 2) * (self.length.bit_length() - 1)


@dataclass(frozen=True)
class Workload:
    text: str
    layers: tuple[Layer, ...]
    repeat: int = 1            #: blocks (the layer list is one block)
    shape: dict | None = None  #: FABNet shape (seq, hidden, ffn, blocks) for --compat
    single: tuple | None = None  #: ("fft"|"bfly", n_in, n_out, batch) for a one-layer workload


def fbfly_block(seq: int, hidden: int, ffn: int) -> tuple[Layer, ...]:
    d, h, s = pow2(hidden), pow2(ffn), pow2(seq)
    return (
        Layer("fft_hidden", "fft", d, seq, complex_in=False, complex_out=True),
        Layer("fft_seq", "fft", s, d, complex_in=True, complex_out=False, shortcut=True),
        Layer("bfly_ffn1", "linear", d, seq, stacks=max(1, h // d), ln=True),
        Layer("bfly_ffn2", "linear", h, seq, out_length=min(h, d), shortcut=True),
    )


def _kv(spec: str, parts: list[str], allowed: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for p in parts:
        k, eq, v = p.partition("=")
        k = k.strip()
        if not eq or k not in allowed:
            raise WorkloadError(f"workload {spec!r}: {p!r}: expected key=value with key in {', '.join(allowed)}")
        try:
            out[k] = int(v)
        except ValueError:
            raise WorkloadError(f"workload {spec!r}: {k} = {v!r}: expected an integer") from None
        if out[k] <= 0:
            raise WorkloadError(f"workload {spec!r}: {k} = {out[k]}: must be > 0")
    return out


def _int(spec: str, text: str, what: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise WorkloadError(f"workload {spec!r}: {what} = {text!r}: expected an integer") from None
    if v < 2:
        raise WorkloadError(f"workload {spec!r}: {what} = {v}: must be >= 2")
    return v


def parse(spec: str) -> Workload:
    if not isinstance(spec, str):
        raise WorkloadError(f"workload {spec!r}: expected a string like fabnet:text or fft:1024")
    head, _, body = spec.partition(":")
    parts = [p for p in body.split(",") if p.strip()] if body else []
    if head == "fabnet":
        if parts and "=" not in parts[0]:
            name = parts.pop(0).strip()
            if name not in PRESETS:
                raise WorkloadError(f"workload {spec!r}: preset {name!r}: allowed: {', '.join(PRESETS)}")
            seq, hid, ffn, blocks = PRESETS[name]
        else:
            seq, hid, ffn, blocks = PRESETS["base"]
        kv = _kv(spec, parts, ("seq", "layers", "hidden", "ffn"))
        seq, hid, ffn = kv.get("seq", seq), kv.get("hidden", hid), kv.get("ffn", ffn)
        blocks = kv.get("layers", blocks)
        for k, v in (("seq", seq), ("hidden", hid), ("ffn", ffn)):
            if v < 2:
                raise WorkloadError(f"workload {spec!r}: {k} = {v}: must be >= 2")
        return Workload(spec, fbfly_block(seq, hid, ffn), blocks, shape={"seq": seq, "hidden": hid, "ffn": ffn,
                                                                        "layers": blocks})
    if head == "fft":
        if not parts:
            raise WorkloadError(f"workload {spec!r}: expected fft:N[,batch=B]")
        n = _int(spec, parts[0], "N")
        b = _kv(spec, parts[1:], ("batch",)).get("batch", 1)
        return Workload(spec, (Layer("fft", "fft", pow2(n), b, complex_in=True, complex_out=True),),
                        single=("fft", n, n, b))
    if head == "bfly":
        if len(parts) < 2:
            raise WorkloadError(f"workload {spec!r}: expected bfly:IN,OUT[,batch=B]")
        n_in, n_out = _int(spec, parts[0], "IN"), _int(spec, parts[1], "OUT")
        b = _kv(spec, parts[2:], ("batch",)).get("batch", 1)
        i, o = pow2(n_in), pow2(n_out)
        return Workload(spec, (Layer("bfly", "linear", i, b, stacks=max(1, o // i), out_length=min(i, o)),),
                        single=("bfly", n_in, n_out, b))
    raise WorkloadError(f"workload {spec!r}: kind {head!r}: allowed: fabnet:<preset|hidden=..>, fft:N, bfly:IN,OUT")
