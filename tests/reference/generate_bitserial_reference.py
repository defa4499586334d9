"""Reference cases for the bit-serial compatibility modes, from the published simulators themselves.

This is how tests/data/bitserial_reference.json (and the CACTI cost table
hwsim/bitserial/cacti_28nm.json) were made; the tests only read those files. It RUNS the published
simulators, already present on disk (it builds nothing), each in a subprocess of the reference
venv (PyTorch 2.x CPU, pyyaml):

    /work/refenv/bin/python tests/reference/generate_bitserial_reference.py \\
        --bitmod-a902a09 <checkout of abdelfattah-lab/BitMoD-HPCA-25 @ a902a09e2e7e9fc48693fa148b6b3a0e81f6b8ff>/bitmod_sim \\
        --bitmod-e445a5f <checkout of abdelfattah-lab/BitMoD-HPCA-25 @ e445a5f31100a5057b4c5c4373da223ce95f1c3b>/bitmod_sim \\
        --bitsim <checkout of yc2367/BitSim @ 6845fad2882d1d77ef588e5026f756f02de2c716>/sim \\
        --out tests/data/bitserial_reference.json --cacti-out hwsim/bitserial/cacti_28nm.json

A simulator whose path is not given keeps its stored cases (the file is updated section by section);
``--cacti-only`` only rebuilds the CACTI table, ``--no-cacti-grid`` skips the grid of extra memories.
Each checkout needs its CACTI binary in place (``mem/cacti/cacti`` for BitMoD, ``hw/mem/cacti/cacti``
for BitSim; the repositories ship the sources, not a working binary).

Inputs given to the simulators:

* BitMoD: the shape pickles ``model_shape_config/<stem>.pickle`` are written from
  :mod:`hwsim.bitserial.models` (the pickles are normally made from Hugging Face downloads; the
  simulator reads only the four config fields and the Linear shapes). ``Accelerator`` is
  constructed as the artefact's ``test_{bitmod,ant,olive,baseline}.py`` do, plus extra settings
  (batch, context, array, dot-product size, precisions). Recorded: total and compute cycles, the
  four energies, the CACTI costs of both SRAMs, and per layer (block 0 and the LM head; every
  block is identical) tiles, compute and DRAM cycles, bytes and refetch.
* BitSim: the data root ``/home/yc2367/BitVert_DNN`` is replaced (by patching the three loader
  functions ``LayerDim._extract_layer_name``, ``Accelerator._get_quantized_model`` and
  ``BitVertProfiler._extract_nonzero_channels`` at run time, nothing else) by a directory written
  here: per model a ``matmul.json`` of x/y/z shapes, INT8 weights as float32 tensors
  (``<layer>.ops_x2.pt``, ``[cin, cout]`` for FC, ``[cout, cin, k, k]`` for conv) drawn from
  ``numpy.random.default_rng(seed)`` (see :func:`bitsim_weights`; the tests regenerate them the
  same way), and outlier-channel lists. Models are small synthetic CNNs / transformers named like
  the artefact's (the name selects the refetch policy). Recorded per case: everything above plus
  the designs' op counters.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import importlib.util
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]


def _load_models():
    spec = importlib.util.spec_from_file_location("_bs_models", ROOT / "hwsim/bitserial/models.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_bs_models"] = mod
    spec.loader.exec_module(mod)
    return mod


def _load_workloads():
    spec = importlib.util.spec_from_file_location("_bs_wl", ROOT / "hwsim/bitserial/bitsim_workloads.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_bs_wl"] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------
# BitMoD cases
# ---------------------------------------------------------------------------------------------
ANT_E445 = {"facebook/opt-1.3b": 5, "microsoft/phi-2": 5, "01-ai/Yi-6B": 5.25,
            "meta-llama/Llama-2-7b-hf": 5, "meta-llama/Llama-2-13b-hf": 4, "meta-llama/Meta-Llama-3-8B": 5}
OLIVE_E445 = {m: 4 for m in ANT_E445} | {"meta-llama/Meta-Llama-3-8B": 4.5}
ANT_A902 = {"facebook/opt-1.3b": 5, "microsoft/phi-2": 5, "01-ai/Yi-6B": 5.25,
            "meta-llama/Llama-2-7b-hf": 5, "meta-llama/Llama-2-13b-hf": 5, "meta-llama/Meta-Llama-3-8B": 4.5}
OLIVE_A902 = {"facebook/opt-1.3b": 3.875, "microsoft/phi-2": 4, "01-ai/Yi-6B": 4.25,
              "meta-llama/Llama-2-7b-hf": 3.75, "meta-llama/Llama-2-13b-hf": 3.75, "meta-llama/Meta-Llama-3-8B": 3.5}


def bitmod_cases(commit: str, models) -> list[dict]:
    cases = []
    names = list(models.ARTEFACT_MODELS)
    for m in names:
        for gen in (False, True):
            base = dict(model=m, i_prec=16, batch_size=1, cxt_len=256, is_generation=gen)
            # test_bitmod.py (normal and lossless)
            for lossless in (False, True):
                w = 6.0625 if lossless else (3.0625 if gen else 4.0625)
                cases.append(base | dict(design="bitmod" + ("-lossless" if lossless else ""), w_prec=w, kv_prec=8,
                                         is_bit_serial=True, pe_dp_size=4, pe_energy=0.56, pe_area=1507.7,
                                         pe_array_dim=[64, 16] if gen else [32, 32]))
            if commit == "e445a5f":
                cases.append(base | dict(design="ant", w_prec=ANT_E445[m], kv_prec=16, is_bit_serial=False,
                                         pe_dp_size=1, pe_energy=0.56, pe_area=1318.6,
                                         pe_array_dim=[64, 16] if gen else [32, 32]))
                cases.append(base | dict(design="olive", w_prec=OLIVE_E445[m], kv_prec=16, is_bit_serial=False,
                                         pe_dp_size=1, pe_energy=0.613, pe_area=1318.6,
                                         pe_array_dim=[72, 16] if gen else [36, 32]))
            else:
                cases.append(base | dict(design="ant", w_prec=ANT_A902[m] if gen else 5.5, kv_prec=16,
                                         is_bit_serial=False, pe_dp_size=1, pe_energy=0.56, pe_area=1318.6,
                                         pe_array_dim=[64, 16] if gen else [32, 32]))
                cases.append(base | dict(design="olive", w_prec=OLIVE_A902[m] if gen else 4.5, kv_prec=16,
                                         is_bit_serial=False, pe_dp_size=1, pe_energy=0.613, pe_area=1318.6,
                                         pe_array_dim=[72, 16] if gen else [36, 32]))
            cases.append(base | dict(design="fp16", w_prec=16, kv_prec=16, is_bit_serial=False, pe_dp_size=1,
                                     pe_energy=0.77, pe_area=1968.7, pe_array_dim=[64, 12] if gen else [32, 24]))
    # varied settings beyond the scripts
    extra = [
        ("meta-llama/Meta-Llama-3-8B", True, 4, 1024, [64, 16], 4, 3.0625, 8, True),
        ("meta-llama/Meta-Llama-3-8B", False, 2, 512, [32, 32], 4, 4.0625, 8, True),
        ("meta-llama/Llama-2-7b-hf", True, 8, 2048, [64, 16], 4, 4.0625, 4, True),
        ("meta-llama/Llama-2-7b-hf", False, 1, 128, [16, 8], 8, 5.0625, 6, True),
        ("01-ai/Yi-6B", True, 16, 512, [32, 8], 4, 3.0625, 8, True),
        ("facebook/opt-1.3b", False, 3, 300, [24, 40], 4, 7.5, 8, True),
        ("facebook/opt-1.3b", True, 5, 777, [64, 16], 1, 8, 8, False),
        ("microsoft/phi-2", False, 2, 64, [8, 8], 2, 2.5, 3, True),
        ("meta-llama/Llama-2-13b-hf", True, 32, 4096, [64, 16], 4, 3.0625, 8, True),
        ("meta-llama/Llama-2-13b-hf", False, 1, 1000, [48, 20], 4, 4.0625, 16, True),
    ]
    if commit == "a902a09":
        extra += [("facebook/opt-6.7b", False, 1, 256, [32, 32], 4, 4.0625, 8, True),
                  ("facebook/opt-6.7b", True, 1, 512, [64, 16], 4, 3.0625, 8, True)]
    else:
        extra += [("meta-llama/Llama-3.1-8B-Instruct", True, 4, 2048, [64, 16], 4, 3.0625, 8, True),
                  ("meta-llama/Llama-3.2-3B-Instruct", False, 2, 256, [32, 32], 4, 4.0625, 8, True),
                  ("meta-llama/Llama-3.2-3B-Instruct", True, 8, 1024, [64, 16], 4, 3.0625, 4, True)]
    for (m, gen, b, ctx, dims, dp, w, kv, bs) in extra:
        cases.append(dict(model=m, i_prec=16, batch_size=b, cxt_len=ctx, is_generation=gen, design="custom",
                          w_prec=w, kv_prec=kv, is_bit_serial=bs, pe_dp_size=dp, pe_energy=0.5,
                          pe_area=1000.0, pe_array_dim=dims))
    return cases


def _bitmod_worker(simdir: str, commit: str, cases: list[dict]) -> list[dict]:
    os.chdir(simdir)
    sys.path.insert(0, simdir)
    models = _load_models()
    os.makedirs("model_shape_config", exist_ok=True)
    for name, arch in models.BITMOD_MODELS.items():
        with open(f"model_shape_config/{models.PICKLE_STEM[name]}.pickle", "wb") as f:
            pickle.dump((arch.model_config(), arch.linear_layers()), f)
    from accelerator import Accelerator

    out = []
    for c in cases:
        kw = dict(model_name=c["model"], i_prec=c["i_prec"], w_prec=c["w_prec"], is_bit_serial=c["is_bit_serial"],
                  pe_dp_size=c["pe_dp_size"], pe_energy=c["pe_energy"], pe_area=c["pe_area"],
                  pe_array_dim=list(c["pe_array_dim"]), is_generation=c["is_generation"])
        if commit == "e445a5f":
            kw |= dict(kv_prec=c["kv_prec"], batch_size=c["batch_size"], cxt_len=c["cxt_len"])
        else:
            kw |= dict(context_length=c["cxt_len"])
        with contextlib.redirect_stdout(io.StringIO()):
            acc = Accelerator(**kw)
            compute, total = acc.calc_cycle()
            e = dict(compute=acc.calc_compute_energy(), sram_rd=acc.calc_sram_rd_energy(),
                     sram_wr=acc.calc_sram_wr_energy(), dram=acc.calc_dram_energy())
        layers = []
        for name in acc.layer_name_list:
            if not (".layers.0." in name or name == "lm_head"):
                continue
            layers.append(dict(name=name, tiles=acc._calc_tile_fc(acc.weight_dim[name], acc.output_dim[name]),
                               cycle_compute=acc._layer_cycle_compute[name], cycle_dram=acc._layer_cycle_dram[name],
                               w_bytes=acc._w_mem_required[name], i_bytes=acc._i_mem_required[name],
                               o_bytes=acc._o_mem_required[name], refetch=list(acc._layer_mem_refetch[name])))
        mems = {k: dict(r_cost=m.r_cost, w_cost=m.w_cost, w_cost_min=m.w_cost_min, r_cost_min=m.r_cost_min,
                        area=m.area, size=m.size, bank=m.bank, rw_bw=m.rw_bw)
                for k, m in (("w_sram", acc.w_sram), ("i_sram", acc.i_sram))}
        out.append(dict(inputs=c, outputs=dict(cycle_compute=compute, cycle_total=total, energy=e,
                                               pe_array_area=float(acc.pe_array_area), memories=mems,
                                               num_layers=len(acc.layer_name_list), layers=layers)))
    return out


# ---------------------------------------------------------------------------------------------
# BitSim cases
# ---------------------------------------------------------------------------------------------
def bitsim_cases() -> list[dict]:
    cases = []
    for model in ("resnet34", "vit-small", "bert-mrpc", "bigfc"):
        cases.append(dict(model=model, design="stripes", args=[8, 8, 16, [1, 16]], kwargs={}))
        cases.append(dict(model=model, design="stripes", args=[8, 8, 8, [32, 16]], kwargs={}))
        for kw in (dict(en_bbs=False), dict(en_bbs=True), dict(en_bbs=True, en_lsb_pruning=True),
                   dict(en_bbs=True, en_ol_channel=True, en_eager_compression=True),
                   dict(en_bbs=True, en_ol_channel=True, en_eager_compression=False)):
            cases.append(dict(model=model, design="bitvert", args=[8, 8, 16, [32, 16]], kwargs=kw))
        cases.append(dict(model=model, design="bitvert", args=[8, 8, 16, [16, 8]], kwargs=dict(en_bbs=False)))
        cases.append(dict(model=model, design="pragmatic", args=[8, 8, 8, [32, 16]], kwargs={}))
        cases.append(dict(model=model, design="bitlet", args=[8, 8, 32, [2, 16]], kwargs={}))
        cases.append(dict(model=model, design="bitlet", args=[8, 8, 16, [8, 8]], kwargs={}))
        for wp, flip in ((6, True), (5, True), (8, False), (7, True)):
            cases.append(dict(model=model, design="bitwave", args=[wp, 8, 8, [32, 16]],
                              kwargs=dict(layer_prec={}, en_bitflip=flip, en_config_dataflow=False)))
    # BitWave choosing among its configurable dataflows, other array shapes
    for model in ("vit-small", "bert-mrpc", "resnet34"):
        cases.append(dict(model=model, design="bitwave", args=[6, 8, 8, [32, 16]],
                          kwargs=dict(layer_prec={}, en_bitflip=True, en_config_dataflow=True)))
    cases.append(dict(model="vit-small", design="pragmatic", args=[8, 8, 16, [16, 8]], kwargs={}))
    cases.append(dict(model="resnet34", design="bitvert", args=[8, 8, 8, [8, 4]], kwargs=dict(en_bbs=False)))
    cases.append(dict(model="bert-mrpc", design="stripes", args=[6, 8, 16, [32, 16]], kwargs={}))
    return cases


def _bitsim_worker(simdir: str, data_root: str, cases: list[dict]) -> list[dict]:
    os.chdir(simdir)
    sys.path.insert(0, simdir)
    sys.path.insert(0, os.path.join(simdir, "hw/mem"))
    import torch
    torch.set_num_threads(1)
    import model_profile.meters.layer_dim_profiler as ldp
    import model_profile.meters.bitvert_profiler as bvp
    import hw.accelerator as hwacc

    def _extract_layer_name(self, model_name):
        with open(f"{data_root}/Baseline_Int8/{model_name}/tensors/matmul.json") as f:
            return json.load(f)

    def _get_quantized_model(self):
        model_q = {}
        for name in self.layer_name_list:
            w = torch.load(f"{data_root}/Baseline_Int8/{self.model_name}/tensors/{name}.ops_x2.pt")
            if len(w.shape) == 2:
                w = w.permute(1, 0)
            model_q[name] = w
        return model_q

    def _extract_nonzero_channels(self, model_name, en_eager_compression, group_size=32):
        d = (f"BitVertZP_Grp{group_size}_N4" if en_eager_compression else f"BitVertCA_Grp{group_size}_N2")
        with open(f"{data_root}/{d}/{model_name}/nonzero_channels.json") as f:
            return json.load(f)

    ldp.LayerDim._extract_layer_name = _extract_layer_name
    hwacc.Accelerator._get_quantized_model = _get_quantized_model
    bvp.BitVertProfiler._extract_nonzero_channels = _extract_nonzero_channels
    from sim.stripes import Stripes
    from sim.bitvert import BitVert
    from sim.pragmatic import Pragmatic
    from sim.bitlet import Bitlet
    from sim.bitwave import Bitwave
    cls = dict(stripes=Stripes, bitvert=BitVert, pragmatic=Pragmatic, bitlet=Bitlet, bitwave=Bitwave)
    out = []
    for c in cases:
        a = c["args"]
        with contextlib.redirect_stdout(io.StringIO()):
            acc = cls[c["design"]](a[0], a[1], a[2], list(a[3]), c["model"], **c["kwargs"])
            compute, total = acc.calc_cycle()
            e = dict(compute=acc.calc_compute_energy(), sram_rd=acc.calc_sram_rd_energy(),
                     sram_wr=acc.calc_sram_wr_energy(), dram=acc.calc_dram_energy())
        layers = []
        for name in acc.layer_name_list:
            w_dim, i_dim, o_dim = acc.weight_dim[name], acc.input_dim[name], acc.output_dim[name]
            df = (acc._layer_dataflow[name],) if hasattr(acc, "_layer_dataflow") else ()
            if len(w_dim) == 4:
                tiles = (acc._calc_tile_conv2d(w_dim, o_dim, *df) if i_dim[3] == w_dim[2]
                         else acc._calc_tile_dwconv(w_dim, i_dim, o_dim, *df))
            else:
                tiles = acc._calc_tile_fc(w_dim, o_dim, *df)
            row = dict(name=name, w_dim=list(w_dim), i_dim=list(i_dim), o_dim=list(o_dim), tiles=tiles,
                       cycle_compute=acc._layer_cycle_compute[name], cycle_dram=acc._layer_cycle_dram[name],
                       w_bytes=acc._w_mem_required[name], i_bytes=acc._i_mem_required[name],
                       o_bytes=acc._o_mem_required[name], refetch=list(acc._layer_mem_refetch[name]))
            if hasattr(acc, "w_prec_eff"):
                row["w_prec_eff"] = acc.w_prec_eff[name]
            if hasattr(acc, "_layer_dataflow"):
                row["dataflow"] = list(acc._layer_dataflow[name])
            layers.append(row)
        extra = {k: getattr(acc, k) for k in ("num_eff_op", "num_total_op", "min_intra_pe_op", "max_intra_pe_op")
                 if hasattr(acc, k)}
        extra = {k: (v.item() if hasattr(v, "item") else v) for k, v in extra.items()}
        mems = {k: dict(r_cost=m.r_cost, w_cost=m.w_cost, w_cost_min=m.w_cost_min, r_cost_min=m.r_cost_min,
                        area=m.area, size=m.size, bank=m.bank, rw_bw=m.rw_bw)
                for k, m in (("w_sram", acc.w_sram), ("i_sram", acc.i_sram))}
        out.append(dict(inputs=c, outputs=dict(cycle_compute=compute, cycle_total=total, energy=e, memories=mems,
                                               layers=layers, counters=extra)))
    return out


def cacti_grid(tool: str) -> list[dict]:
    """Memory configurations beyond the cases' own, so other array shapes get SRAM energies too."""
    cfgs = {}
    if tool == "bitmod":
        for dp in (1, 2, 4, 8, 16):
            for h in (4, 8, 12, 16, 20, 24, 32, 36, 40, 48, 64, 72, 96, 128):
                for serial in (True, False):
                    for wq in (4, 8, 12, 16):
                        bw = dp * wq * h / (2 if serial else 1)
                        cfgs[int(bw / 8)] = bw
                    bw = dp * 16 * h / (2 if serial else 1)
                    cfgs[int(bw / 8)] = bw
        return [dict(technology=0.028, mem_type="ram", size=512 * 1024 * 8, bank_count=8, rw_bw=bw, r_port=1,
                     w_port=1, rw_port=0) for _, bw in sorted(cfgs.items()) if bw >= 8]
    out = []
    for banks in (1, 2, 4, 8, 16, 32, 64):
        for dp in (4, 8, 16, 32):
            out.append(dict(technology=0.028, mem_type="sram", size=288 * 1024 * 8, bank_count=banks,
                            rw_bw=dp * 8 * banks, r_port=1, w_port=1, rw_port=0))
            out.append(dict(technology=0.028, mem_type="sram", size=256 * 1024 * 8, bank_count=banks,
                            rw_bw=dp * 8 * banks, r_port=1, w_port=1, rw_port=0))
    return out


def _cacti_worker(tool: str, simdir: str, cfgs: list[dict]) -> list[dict]:
    os.chdir(simdir)
    sys.path.insert(0, simdir)
    out = []
    if tool == "bitmod":
        from mem.cacti_simulation import CactiSimulation
        for c in cfgs:
            try:
                r = CactiSimulation(c).run_cacti()
            except (OSError, KeyError, ValueError):     # CACTI finds no solution for this configuration
                continue
            out.append(dict(size=c["size"], bank=c["bank_count"], rw_bw=c["rw_bw"], r_cost=r["r_cost"],
                            w_cost=r["w_cost"], area=r["area"]))
    else:
        sys.path.insert(0, os.path.join(simdir, "hw/mem"))
        from cacti_simulation import CactiSimulation
        for c in cfgs:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    r = CactiSimulation().get_item(dict(c))
            except (OSError, KeyError, ValueError, TypeError):
                continue
            out.append(dict(size=c["size"], bank=c["bank_count"], rw_bw=c["rw_bw"], r_cost=r["r_cost"],
                            w_cost=r["w_cost"], area=r["area"]))
    return out


def write_bitsim_data(root: Path, wl) -> None:
    import numpy as np
    import torch
    for model in wl.BITSIM_MODELS:
        tdir = root / "Baseline_Int8" / model / "tensors"
        tdir.mkdir(parents=True, exist_ok=True)
        (tdir / "matmul.json").write_text(json.dumps(wl.matmul_json(model)))
        for name, w in wl.bitsim_weights(model).items():
            torch.save(torch.from_numpy(w.astype(np.float32)), tdir / f"{name}.ops_x2.pt")
        for eager, d in ((True, "BitVertZP_Grp32_N4"), (False, "BitVertCA_Grp32_N2")):
            p = root / d / model
            p.mkdir(parents=True, exist_ok=True)
            (p / "nonzero_channels.json").write_text(json.dumps(wl.outlier_channels(model, eager)))


def _run_worker(args: list[str], payload) -> list:
    r = subprocess.run([sys.executable, str(HERE), "--worker", *args], input=json.dumps(payload),
                       capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"worker {args} failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bitmod-a902a09")
    ap.add_argument("--bitmod-e445a5f")
    ap.add_argument("--bitsim")
    ap.add_argument("--out", default=str(ROOT / "tests/data/bitserial_reference.json"))
    ap.add_argument("--cacti-out", default=str(ROOT / "hwsim/bitserial/cacti_28nm.json"))
    ap.add_argument("--no-cacti-grid", action="store_true", help="only the cases' own memories in the table")
    ap.add_argument("--cacti-only", action="store_true", help="keep --out as it is; only (re)build the CACTI table")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        payload = json.loads(sys.stdin.read())
        kind = a.worker[0]
        if kind == "bitmod":
            res = _bitmod_worker(a.worker[1], a.worker[2], payload)
        elif kind == "cacti":
            res = _cacti_worker(a.worker[1], a.worker[2], payload)
        else:
            res = _bitsim_worker(a.worker[1], a.worker[2], payload)
        print(json.dumps(res))
        return
    models = _load_models()
    wl = _load_workloads()
    data = {"bitmod-a902a09": [], "bitmod-e445a5f": [], "bitsim": []}
    if Path(a.out).is_file():      # sections whose simulator is not given keep their stored cases
        data |= json.loads(Path(a.out).read_text())
    for key, commit, d in (("bitmod-a902a09", "a902a09", a.bitmod_a902a09),
                           ("bitmod-e445a5f", "e445a5f", a.bitmod_e445a5f)):
        if d and not a.cacti_only:
            data[key] = _run_worker(["bitmod", os.path.abspath(d), commit], bitmod_cases(commit, models))
            print(f"{key}: {len(data[key])} cases", file=sys.stderr)
    if a.bitsim and not a.cacti_only:
        with tempfile.TemporaryDirectory() as tmp:
            write_bitsim_data(Path(tmp), wl)
            data["bitsim"] = _run_worker(["bitsim", os.path.abspath(a.bitsim), tmp], bitsim_cases())
        print(f"bitsim: {len(data['bitsim'])} cases", file=sys.stderr)
    if not a.cacti_only:
        Path(a.out).write_text(json.dumps(data, indent=None, separators=(",", ":")))
    # the CACTI costs every case used, keyed by the memory configuration (the compat modes' energy table)
    table = {}
    for key, cases in data.items():
        tool = "bitmod" if key.startswith("bitmod") else "bitsim"
        for c in cases:
            for m in c["outputs"]["memories"].values():
                k = f"{tool}:{int(m['size'])}:{int(m['bank'])}:{int(m['rw_bw'] / m['bank'])}"
                table[k] = dict(r_cost=m["r_cost"], w_cost=m["w_cost"], area=m["area"])
    if not a.no_cacti_grid:
        for tool, d in (("bitmod", a.bitmod_e445a5f), ("bitsim", a.bitsim)):
            if d:
                for m in _run_worker(["cacti", tool, os.path.abspath(d)], cacti_grid(tool)):
                    k = f"{tool}:{int(m['size'])}:{int(m['bank'])}:{int(m['rw_bw'] / m['bank'])}"
                    table.setdefault(k, dict(r_cost=m["r_cost"], w_cost=m["w_cost"], area=m["area"]))
    Path(a.cacti_out).write_text(json.dumps(dict(sorted(table.items())), indent=1))


if __name__ == "__main__":
    main()
