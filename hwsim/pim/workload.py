"""PIM workloads: ``gemv:N,K[,batch=B]``, ``add:E``, ``mul:E``, ``relu:E`` (``[,batch=B]``), and LLM
decode layers ``llm:<preset>[,seq=..,batch=..],phase=decode`` (parsed by :mod:`hwsim.workloads`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..workloads import WorkloadError, parse as parse_network


@dataclass(frozen=True)
class Kernel:
    op: str          #: gemv | add | mul | relu
    n: int           #: gemv: output rows N; element-wise: elements
    k: int           #: gemv: input length K; element-wise: elements
    batch: int = 1
    name: str = ""
    count: int = 1   #: how many times the kernel runs (LLM layers x heads)

    def describe(self) -> str:
        if self.op == "gemv":
            return f"gemv {self.n}x{self.k}" + (f" batch {self.batch}" if self.batch > 1 else "")
        return f"{self.op} {self.n}" + (f" batch {self.batch}" if self.batch > 1 else "")

    @property
    def macs(self) -> int:
        return self.n * self.k * self.batch if self.op == "gemv" else self.n * self.batch


def _pos_int(text: str, key: str, spec: str, limit: int = 1 << 31) -> int:
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise WorkloadError(f"workload {spec!r}: {key} = {text!r}: expected a positive integer") from None
    if v <= 0 or v > limit:
        raise WorkloadError(f"workload {spec!r}: {key} = {v}: must be in 1..{limit}")
    return v


def parse(spec: str) -> tuple[str, list[Kernel]]:
    """-> (workload name, kernels). LLM layers become GEMV kernels (decode: M = tokens is the batch)."""
    if not isinstance(spec, str) or not spec.strip():
        raise WorkloadError("empty workload; use gemv:N,K[,batch=B], add:E, mul:E, relu:E or "
                            "llm:<preset>,phase=decode")
    head, _, body = spec.strip().partition(":")
    head = head.lower()
    if head in ("gemv", "add", "mul", "relu"):
        parts = [p.strip() for p in body.split(",") if p.strip()]
        pos = [p for p in parts if "=" not in p]
        kv = dict(p.split("=", 1) for p in parts if "=" in p)
        kv = {k.strip().lower(): v.strip() for k, v in kv.items()}
        bad = sorted(set(kv) - {"batch"})
        if bad:
            raise WorkloadError(f"workload {spec!r}: unknown field {bad[0]!r}; allowed: batch")
        want = 2 if head == "gemv" else 1
        if len(pos) != want:
            form = "gemv:N,K[,batch=B]" if head == "gemv" else f"{head}:E[,batch=B]"
            raise WorkloadError(f"workload {spec!r}: expected {form}")
        batch = _pos_int(kv.get("batch", "1"), "batch", spec, 4096)
        if head == "gemv":
            n = _pos_int(pos[0], "N", spec, 1 << 20)
            k = _pos_int(pos[1], "K", spec, 1 << 20)
            return f"gemv_{n}x{k}" + (f"_b{batch}" if batch > 1 else ""), [Kernel("gemv", n, k, batch, "gemv")]
        e = _pos_int(pos[0], "E", spec, 1 << 30)
        return f"{head}_{e}" + (f"_b{batch}" if batch > 1 else ""), [Kernel(head, e, e, batch, head)]
    if head == "llm":
        net = parse_network(spec)
        if "decode" not in net.name:
            raise WorkloadError(f"workload {spec!r}: kind pim runs decode only (GEMVs); add phase=decode")
        ks = []
        for layer in net.layers:
            # decode GEMMs are GEMVs: M rows of activations (tokens, or query heads of one KV head)
            ks.append(Kernel("gemv", layer.N, layer.K, layer.M, layer.name, layer.repeat))
        return net.name, ks
    raise WorkloadError(f"workload {spec!r}: unknown kind {head!r}; use gemv:N,K[,batch=B], add:E, mul:E, "
                        f"relu:E or llm:<preset>,phase=decode")
