"""Reference truth tables, LUT inference outputs, Verilog wiring and LUTCost from Xilinx/logicnets itself.

This is how tests/data/lutnet_logicnets_ref.json was made; the tests only read that file. It imports
``logicnets.nn`` and ``logicnets.util`` from a checkout of the maintainer's fork nickfraser/logicnets at commit
691bf89 ("[examples/*] Allowed specifying the FPGA part via commandline.", the history of Xilinx/logicnets,
which adds ``SparseLinearNeq.lut_cost``), and runs:

* ``SparseLinearNeq.calculate_truth_tables`` (``fetch_mask_indices`` -> the neuron's input order,
  ``generate_permutation_matrix`` -> every input combination, the layer's own forward pass),
* ``SparseLinearNeq.gen_neuron_verilog`` -> the per-neuron ``case`` ROM (key bits -> value bits, via
  ``QuantBrevitasActivation.get_bin_str``: offset binary),
* ``generate_neuron_connection_verilog`` -> the bit order of a neuron's address in the layer's input vector,
* ``SparseLinearNeq.lut_forward`` (``table_lookup``, matching every sample against every table row) on random
  input codes,
* ``logicnets.util.get_lut_cost`` on the published JSC/NID configurations.

brevitas (LogicNets pins a 2020 commit that does not build against current PyTorch) is replaced by a stand-in
module registered as ``brevitas`` before ``logicnets.quant`` is imported: ``RescalingIntQuant`` objects with
``int_quant.{signed, narrow_range}``, an ``act_quant_proxy`` returning (_, scale, bits), and the activation
``clamp(round_half_even(x / s), lo, hi) * s`` (brevitas' QuantReLU / QuantHardTanh with a fixed scale). All of
LogicNets' own code -- ``QuantBrevitasActivation`` (state spaces, ``get_bin_str``, forward with
``torch.round(x / s)``), the masks, ``ScalarBiasScale`` as the pre-transform -- runs unchanged. Weights,
biases and scales are dyadic (multiples of 1/8, powers of two), so every float sum is exact whatever its order,
and ties of round-half-even are exercised on purpose.

Invocation (PyTorch venv, not the project's):

    /work/refenv/bin/python tests/reference/generate_lutnet_logicnets.py /work/refs/logicnets \\
        tests/data/lutnet_logicnets_ref.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import types
from pathlib import Path

COMMIT = "691bf89"


def install_brevitas_standin(torch):
    nn = torch.nn

    class QuantType:
        INT = "INT"
        BINARY = "BINARY"

    class RescalingIntQuant:
        def __init__(self, signed, narrow):
            self.int_quant = types.SimpleNamespace(signed=signed, narrow_range=narrow)

    class ClampedBinaryQuant:
        pass

    class _Proxy(nn.Module):
        def __init__(self, tq, scale, bits):
            super().__init__()
            self.fused_activation_quant_proxy = types.SimpleNamespace(tensor_quant=tq)
            self.zero_hw_sentinel = torch.tensor(0.0)
            self._scale, self._bits = scale, bits

        def forward(self, x):
            return x, torch.tensor(self._scale), torch.tensor(float(self._bits))

    class QuantAct(nn.Module):
        """clamp(round(x / s), lo, hi) * s with a fixed scale (brevitas INT activation quantizer)."""

        def __init__(self, bits, signed, narrow, scale):
            super().__init__()
            self.act_quant_proxy = _Proxy(RescalingIntQuant(signed, narrow), scale, bits)
            self.lo = (-(2 ** (bits - 1)) + int(narrow)) if signed else 0
            self.hi = (2 ** (bits - 1) - 1) if signed else 2 ** bits - 1
            self.s = scale

        def forward(self, x):
            return torch.clamp(torch.round(x / self.s), self.lo, self.hi) * self.s

    core = types.ModuleType("brevitas.core")
    quant = types.ModuleType("brevitas.core.quant")
    quant.QuantType, quant.RescalingIntQuant, quant.ClampedBinaryQuant = QuantType, RescalingIntQuant, ClampedBinaryQuant
    scaling = types.ModuleType("brevitas.core.scaling")
    scaling.ScalingImplType = types.SimpleNamespace(CONST="CONST", PARAMETER="PARAMETER")
    bnn = types.ModuleType("brevitas.nn")
    root = types.ModuleType("brevitas")
    root.core, root.nn = core, bnn
    core.quant, core.scaling = quant, scaling
    for name, mod in (("brevitas", root), ("brevitas.core", core), ("brevitas.core.quant", quant),
                      ("brevitas.core.scaling", scaling), ("brevitas.nn", bnn)):
        sys.modules[name] = mod
    return QuantAct


def parse_case_rom(text: str) -> dict[str, str]:
    return dict(re.findall(r"\d+'b([01]+): M1r = \d+'b([01]+);", text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logicnets", help="checkout of nickfraser/logicnets (or Xilinx/logicnets) at 691bf89")
    ap.add_argument("out", help="output JSON (tests/data/lutnet_logicnets_ref.json)")
    args = ap.parse_args()
    repo = Path(args.logicnets).resolve()
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if head != COMMIT:
        sys.exit(f"{repo} is at {head or '?'}; check out {COMMIT}")
    import torch

    torch.set_num_threads(1)
    QuantAct = install_brevitas_standin(torch)
    # the package's __init__ only reads its installed version (importlib.metadata): register the package
    # directory without it, so the checkout needs no pip install
    pkg = types.ModuleType("logicnets")
    pkg.__path__ = [str(repo / "src" / "logicnets")]
    sys.modules["logicnets"] = pkg
    from logicnets.nn import (
        RandomFixedSparsityMask2D,
        ScalarBiasScale,
        SparseLinearNeq,
        generate_neuron_connection_verilog,
    )
    from logicnets.quant import QuantBrevitasActivation
    from logicnets.util import get_lut_cost

    def qa(bits, signed, narrow, scale, pre=()):
        return QuantBrevitasActivation(QuantAct(bits, signed, narrow, scale), pre_transforms=list(pre))

    g = torch.Generator().manual_seed(20240601)
    cases = []
    configs = []
    for in_bits in (1, 2, 3):
        for out_bits in (1, 2, 3):
            for in_signed in (False, True):
                for out_signed, narrow in ((False, False), (True, False), (True, True)):
                    if (out_signed and narrow and out_bits == 1) or (in_signed and in_bits == 1):
                        continue
                    configs.append((in_bits, out_bits, in_signed, out_signed, narrow))
    for ci, (in_bits, out_bits, in_signed, out_signed, narrow) in enumerate(configs):
        n_in = int(torch.randint(3, 9, (1,), generator=g))
        n_out = int(torch.randint(1, 5, (1,), generator=g))
        fmax = max(1, min(n_in, 8 // in_bits))
        in_scale = 2.0 ** -int(torch.randint(0, 3, (1,), generator=g))
        out_scale = 2.0 ** -int(torch.randint(0, 3, (1,), generator=g))
        gamma = 2.0 ** int(torch.randint(-1, 2, (1,), generator=g))
        beta = int(torch.randint(-4, 5, (1,), generator=g)) / 8
        iq = qa(in_bits, in_signed, False, in_scale)
        oq = qa(out_bits, out_signed, narrow, out_scale, [ScalarBiasScale(scale_init=gamma, bias_init=beta)])
        mask = RandomFixedSparsityMask2D(n_in, n_out, fan_in=fmax)
        # variable fan-in per neuron (1..fmax), random inputs: calculate_truth_tables reads the mask row
        with torch.no_grad():
            mask.mask.zero_()
            fans = []
            for n in range(n_out):
                f = int(torch.randint(1, fmax + 1, (1,), generator=g))
                sel = torch.randperm(n_in, generator=g)[:f]
                mask.mask[n, sel] = 1.0
                fans.append(f)
        layer = SparseLinearNeq(n_in, n_out, iq, oq, sparse_linear_kws={"mask": mask}, apply_input_quant=False)
        with torch.no_grad():
            layer.fc.weight.copy_(torch.randint(-8, 9, (n_out, n_in), generator=g).float() / 8)
            layer.fc.bias.copy_(torch.randint(-8, 9, (n_out,), generator=g).float() / 8)
        layer.eval()
        layer.calculate_truth_tables()
        neurons = []
        for n in range(n_out):
            indices = [int(i) for i in layer.neuron_truth_tables[n][0]]
            rom = parse_case_rom(layer.gen_neuron_verilog(n, f"N{n}"))
            wiring = generate_neuron_connection_verilog(indices, in_bits)
            w = [float(layer.fc.weight[n, i]) for i in indices]
            neurons.append({"indices": indices, "weights": w, "bias": float(layer.fc.bias[n]), "rom": rom,
                            "connection": wiring})
        # LUT inference on random input values (LogicNets' bin format: the integer value, not the code)
        lo = -(2 ** (in_bits - 1)) if in_signed else 0
        hi = 2 ** (in_bits - 1) - 1 if in_signed else 2 ** in_bits - 1
        xs = torch.randint(lo, hi + 1, (64, n_in), generator=g)
        layer.lut_inference()
        with torch.no_grad():
            ylut = layer(xs.float()).to(torch.int64)
        layer.neq_inference()
        cases.append({"in_bits": in_bits, "out_bits": out_bits, "in_signed": in_signed, "out_signed": out_signed,
                      "out_narrow": narrow, "in_scale": in_scale, "out_scale": out_scale, "gamma": gamma,
                      "beta": beta, "n_in": n_in, "n_out": n_out, "neurons": neurons,
                      "lut_inputs": xs.tolist(), "lut_outputs": ylut.tolist()})
    # LUTCost of the published configurations (examples/*/models.py topologies: SparseLinearNeq chains)
    pub = {
        "jsc_s": ([16, 64, 32, 32, 32, 5], [3, 3, 3, 3, 3], [2, 2, 2, 2, 2, 2]),
        "jsc_m": ([16, 64, 32, 32, 32, 5], [4, 4, 4, 4, 4], [3, 3, 3, 3, 3, 3]),
        "jsc_l": ([16, 32, 64, 192, 192, 16, 5], [4, 4, 4, 4, 4, 5], [3, 3, 3, 3, 3, 3, 7]),
        "nid_s": ([593, 593, 100, 1], [7, 7, 7], [1, 2, 2, 2]),
        "nid_m": ([593, 593, 256, 128, 128, 1], [7, 7, 7, 7, 7], [1, 2, 2, 2, 2, 2]),
        "nid_l": ([593, 593, 100, 100, 100, 1], [7, 5, 5, 5, 5], [1, 3, 3, 3, 3, 3]),
        "lutnet_digits_s": ([64, 64, 32, 32, 10], [3, 3, 3, 4], [2, 2, 2, 2, 3]),
        "lutnet_digits_m": ([64, 64, 32, 10], [4, 4, 6], [2, 2, 2, 4]),
    }
    costs = {}
    for name, (sizes, fan, bits) in pub.items():
        mods = torch.nn.ModuleList()
        for i in range(len(sizes) - 1):
            m = RandomFixedSparsityMask2D(sizes[i], sizes[i + 1], fan_in=fan[i])
            mods.append(SparseLinearNeq(sizes[i], sizes[i + 1], qa(bits[i], False, False, 1.0),
                                        qa(bits[i + 1], False, False, 1.0), sparse_linear_kws={"mask": m}))
        costs[name] = {"sizes": sizes, "fanin": fan, "bits": bits, "lut_cost": float(get_lut_cost(mods))}
    doc = {"source": f"nickfraser/logicnets @ {COMMIT} (src/logicnets/nn.py, util.py, quant.py, verilog.py)",
           "generator": "tests/reference/generate_lutnet_logicnets.py", "torch": torch.__version__,
           "cases": cases, "lut_cost": costs}
    Path(args.out).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{len(cases)} layer cases, {sum(c['n_out'] for c in cases)} neurons, {len(costs)} LUTCost configs "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
