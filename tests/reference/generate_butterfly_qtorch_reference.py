"""Reference vectors of the artefact's FP16 quantizer: qtorch 0.3.0 ``float_quantize(x, exp=5, man=10,
rounding="nearest")`` (what SamsungLabs/Butterfly_Acc's ``model_quant.py`` / ``attention_quant.py`` apply
through ``Quantizer(forward_number=FloatingPoint(exp=5, man=10), forward_rounding="nearest")``).

This is how tests/data/butterfly_qtorch_fp16.npz was made; the tests only read that file. It RUNS qtorch
(the PyPI wheel qtorch==0.3.0, its CPU extension compiled by torch on import) in the PyTorch reference
environment, outside the project::

    /work/refenv/bin/python tests/reference/generate_butterfly_qtorch_reference.py

Inputs (float32): signed values spread over 2^-30 .. 2^18, exact ties at every FP16 exponent and in the
subnormal range, values next to the saturation point 131008, +-0, +-inf and NaN. Stored as uint32 bit
patterns with qtorch's outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "data" / "butterfly_qtorch_fp16.npz"


def inputs() -> np.ndarray:
    rng = np.random.default_rng(2022)
    parts = [rng.standard_normal(6000) * 2.0 ** rng.integers(-30, 18, 6000)]
    for e in range(-26, 17):                       # ties and neighbours at every binade
        m = rng.integers(0, 1024, 60)
        base = (1024 + m) * 2.0 ** (e - 10)
        ulp = 2.0 ** (e - 10)
        parts += [base + ulp / 2, base - ulp / 2, base + ulp / 2 * (1 + 2 ** -12), base + ulp * 0.49]
    sub = rng.integers(0, 1024, 1024) * 2.0 ** -24
    parts += [sub + 2.0 ** -25, sub + 2.0 ** -26, sub * 1.3]
    parts += [np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65520.0, 131008.0, 131072.0, 1e30,
                        2.0 ** -14, 2.0 ** -15, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26])]
    x = np.concatenate(parts)
    x = np.concatenate([x, -x])
    return x.astype(np.float32)


def main() -> None:
    import qtorch
    import torch
    from qtorch.quant import float_quantize
    x = inputs()
    y = float_quantize(torch.from_numpy(x.copy()), exp=5, man=10, rounding="nearest").numpy()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, x=x.view(np.uint32), y=y.view(np.uint32),
                        qtorch=np.array(getattr(qtorch, "__version__", "0.3.0")), torch=np.array(torch.__version__))
    print(f"wrote {x.size} vectors to {OUT}")


if __name__ == "__main__":
    main()
