"""Systolic array: workload parsers, LLM layers, SCALE-Sim file readers, bad input, CLI, reports, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import hwsim
from hwsim.systolic import scalesim_io as io
from hwsim.cli import main
from hwsim.design import DesignError, from_dict
from hwsim.systolic.scalesim_io import ScaleSimFileError
from hwsim.workloads import Conv, Gemm, WorkloadError, parse

ROOT = Path(__file__).resolve().parents[1]
# designs/ also holds RTL units (kinds decoder, pe); the catalog simulated here is the systolic kind
DESIGNS = sorted(p for p in (ROOT / "designs").glob("*.yaml") if hwsim.load(p).kind == "systolic")


def systolic(**over):
    d = {"schema": 1, "name": "t", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"}}
    for k, v in over.items():
        d.setdefault(k, {}).update(v) if isinstance(v, dict) else d.__setitem__(k, v)
    return d


# ---- workload specs -------------------------------------------------------------------------------
def test_gemm_specs():
    for spec in ("gemm:64,128,256", "gemm:64x128x256", "gemm:M=64,N=128,K=256", "GEMM: k=256, m=64, n=128"):
        (g,) = parse(spec).layers
        assert (g.M, g.N, g.K) == (64, 128, 256)


def test_conv_spec_and_output_size():
    (g,) = parse("conv:56,56,3,3,64,128,2,1").layers
    c = parse("conv:56,56,3,3,64,128,2,1").convs[0]
    assert (c.out_h, c.out_w) == (28, 28)                      # floor((56 + 2 - 3) / 2) + 1
    assert (g.M, g.N, g.K) == (28 * 28, 128, 3 * 3 * 64)
    assert g.activation_elements == 56 * 56 * 64
    kv = parse("conv:h=7,w=7,r=3,s=3,c=8,n=4,stride=1,pad=1").convs[0]
    assert (kv.out_h, kv.out_w) == (7, 7)
    # SCALE-Sim's convention: ceil((H - R + stride) / stride), one larger when the stride does not divide
    assert Conv(11, 11, 3, 3, 1, 1, 2, 2, convention="scalesim").out_h == 5
    assert Conv(12, 12, 3, 3, 1, 1, 2, 2, convention="scalesim").out_h == 6
    assert Conv(12, 12, 3, 3, 1, 1, 2, 2).out_h == 5


def test_llm_layers_prefill_and_decode():
    net = parse("llm:llama3-8b,seq=2048,phase=prefill")
    by = {l.name: l for l in net.layers}
    hd = 4096 // 32
    assert (by["qkv_proj"].M, by["qkv_proj"].N, by["qkv_proj"].K) == (2048, (32 + 2 * 8) * hd, 4096)
    assert (by["attn_scores"].M, by["attn_scores"].N, by["attn_scores"].K) == (2048, 2048, hd)
    assert by["attn_scores"].repeat == 32 * 32                   # layers x heads
    assert (by["ffn_up_gate"].N, by["ffn_down"].K) == (2 * 14336, 14336)
    assert by["lm_head"].M == 1 and by["lm_head"].N == 128256
    dec = {l.name: l for l in parse("llm:llama3-8b,seq=1024,phase=decode,batch=4").layers}
    assert dec["qkv_proj"].M == 4
    assert (dec["attn_scores"].M, dec["attn_scores"].N, dec["attn_scores"].repeat) == (4, 1024, 32 * 4 * 8)
    custom = parse("llm:hidden=256,heads=4,ffn=1024,layers=2,seq=16,gated=false")
    assert {l.name for l in custom.layers} == {"qkv_proj", "attn_scores", "attn_context", "o_proj", "ffn_up",
                                               "ffn_down"}


@pytest.mark.parametrize("spec,msg", [
    ("gemm:0,4,4", "M = 0: must be a positive integer"),
    ("gemm:-3,4,4", "must be a positive integer"),
    ("gemm:4,4", "missing K"),
    ("gemm:4,x,4", "N = 'x'"),
    ("conv:5,5,7,7,1,1", "filter height R = 7 is larger"),
    ("conv:8,8,3,3,1,1,1,-1", "pad = -1"),
    ("llm:nosuch", "unknown LLM preset 'nosuch'"),
    ("llm:llama3-8b,phase=train", "phase = 'train'"),
    ("llm:hidden=100,heads=3,kv_heads=2,ffn=10", "not a multiple of kv_heads"),
    ("matmul:3,3,3", "unknown kind 'matmul'"),
    ("", "empty workload"),
])
def test_bad_workloads(spec, msg):
    with pytest.raises(WorkloadError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse(spec)


# ---- bad designs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("over,msg", [
    ({"array": {"dataflow": "rs"}}, "array.dataflow = 'rs': allowed: ws, os, is"),
    ({"array": {"rows": 0}}, "array.rows = 0: must be > 0"),
    ({"array": {"pe_latency": 0}}, "array.pe_latency = 0: must be > 0"),
    ({"operands": {"weight": "float8_e5m2"}}, "operands.weight = 'float8_e5m2': no PE for this format"),
    ({"operands": {"accumulator": "fp32"}}, "operands.accumulator = 'fp32'"),
    ({"operands": {"weight": "sf4", "activation": "float8_e4m3fn", "accumulator": "int32"}},
     "needs 45 bits; use int<N> with N >= 45"),
    ({"memory": {"filter_kb": 1}, "array": {"rows": 32, "cols": 32}}, "memory.filter_kb = 1: too small"),
    ({"memory": {"backing": "hbm"}}, "memory.backing = 'hbm': allowed: dram, none"),
])
def test_bad_designs(over, msg):
    with pytest.raises(DesignError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("<", "<")):
        hwsim.build(from_dict(systolic(**over), source="bad.yaml"))


def test_workload_does_not_fit_resident_memory():
    sim = hwsim.build(ROOT / "designs" / "sa_ws_2x2_int8.yaml")
    with pytest.raises(WorkloadError, match=r"needs 30000 words of the activation memory .* which has 512 \(memory.ifmap_kb = 1\)"):
        sim.run("gemm:200,100,300")


def test_bad_operand_data():
    sim = hwsim.build(from_dict(systolic(operands={"activation": "float8_e4m3fn", "accumulator": "int40"})))
    a = np.zeros((2, 3), np.uint8)
    a[1, 2] = 0x7F                                               # E4M3 NaN: no PE value
    with pytest.raises(hwsim.pe.PEError, match=r"code 127 at index \(1, 2\)"):
        sim.run("gemm:2,2,3", data=(a, np.zeros((3, 2), np.uint8)))
    with pytest.raises(WorkloadError, match="expected \\(M, K\\)"):
        sim.run("gemm:2,2,3", data=(np.zeros((3, 2), np.uint8), np.zeros((3, 2), np.uint8)))
    with pytest.raises(hwsim.pe.PEError, match="integer array"):
        sim.run("gemm:2,2,3", data=(np.zeros((2, 3)), np.zeros((3, 2), np.uint8)))


# ---- SCALE-Sim files ------------------------------------------------------------------------------
def test_read_config_and_build(tmp_path):
    p = tmp_path / "c.cfg"
    p.write_text(io.config_text("myrun", 16, 8, "os", 32, 16, 8))
    cfg = io.read_config(p)
    assert (cfg.rows, cfg.cols, cfg.dataflow, cfg.ifmap_kb, cfg.filter_kb, cfg.ofmap_kb) == (16, 8, "os", 32, 16, 8)
    sim = hwsim.build(p)
    assert (sim.R, sim.C, sim.dataflow, sim.design.name) == (16, 8, "os", "myrun")


@pytest.mark.parametrize("edit,msg", [
    (("Dataflow : os", "Dataflow : rs"), r"c.cfg:\d+: \[architecture_presets\] Dataflow = 'rs': allowed: ws, os, is"),
    (("ArrayHeight:    8", "ArrayHeight:    eight"), r"c.cfg:5: \[architecture_presets\] ArrayHeight = 'eight'"),
    (("ArrayWidth:     8", "ArrayWidth:     0"), r"c.cfg:6: \[architecture_presets\] ArrayWidth = 0"),
    (("ArrayWidth:     8\n", ""), r"\[architecture_presets\] has no ArrayWidth"),
    (("SparsitySupport : false", "SparsitySupport : true"), r"c.cfg:\d+: \[sparsity\] SparsitySupport"),
    (("IfmapCustomLayout: False", "IfmapCustomLayout: True"), r"c.cfg:\d+: \[layout\] IfmapCustomLayout"),
    (("[general]", "general"), r"c.cfg:1: 'general' comes before any \[section\]"),
    (("InterfaceBandwidth: CALC", "InterfaceBandwidth: FAST"), r"InterfaceBandwidth = 'FAST'"),
])
def test_bad_config(tmp_path, edit, msg):
    p = tmp_path / "c.cfg"
    p.write_text(io.config_text("r", 8, 8, "os").replace(*edit))
    with pytest.raises(ScaleSimFileError, match=msg):
        io.read_config(p)


def test_read_topologies(tmp_path):
    conv = tmp_path / "net.csv"
    conv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                    "Strides,\nconv1, 11, 11, 3, 3, 4, 9, 2,\n\nDP_l, 6, 6, 3, 3, 3, 1, 1,\nfc, 1, 1, 1, 1, 64, 10, 1\n")
    net = io.read_topology(conv)
    assert [l.name for l in net.layers] == ["conv1", "DP_lChannel_0", "DP_lChannel_1", "DP_lChannel_2", "fc"]
    assert (net.layers[0].M, net.layers[0].K, net.layers[0].N) == (25, 36, 9)   # ceil((11-3+2)/2) = 5
    gemm = tmp_path / "mnk.csv"
    gemm.write_text("Layer, M, N, K,\nqkv, 64, 192, 64,\nproj, 64, 64, 64, 1:1,\n")
    assert [(l.M, l.N, l.K) for l in io.read_topology(gemm).layers] == [(64, 192, 64), (64, 64, 64)]
    assert len(parse(str(gemm)).layers) == 2


@pytest.mark.parametrize("row,msg", [
    ("c, 8, 8, 3, 3, 4, x, 1,", r"net.csv:2: field 'Num Filter' = 'x': expected a positive integer"),
    ("c, 8, 8, 3, 3, 4, 0, 1,", r"net.csv:2: field 'Num Filter' = 0: must be a positive integer"),
    ("c, 8, 8, 3, 3, 4,", r"net.csv:2: 6 fields"),
    ("c, 2, 8, 3, 3, 4, 4, 1,", r"net.csv:2: field 'Filter Height' = 3 is larger than 'IFMAP Height' = 2"),
    ("c, 8, 8, 3, 3, 4, 4, 1, dense,", r"net.csv:2: field 'Sparsity' = 'dense'"),
    (", 8, 8, 3, 3, 4, 4, 1,", r"net.csv:2: field 'Layer name' is empty"),
])
def test_bad_topology(tmp_path, row, msg):
    p = tmp_path / "net.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                 "Strides,\n" + row + "\n")
    with pytest.raises(ScaleSimFileError, match=msg):
        io.read_topology(p)


def test_missing_files(tmp_path):
    with pytest.raises(ScaleSimFileError, match="no such SCALE-Sim topology file"):
        io.read_topology(tmp_path / "nope.csv")
    with pytest.raises(ScaleSimFileError, match="no such SCALE-Sim configuration file"):
        io.read_config(tmp_path / "nope.cfg")


# ---- catalog, CLI, reports, plots -----------------------------------------------------------------
@pytest.mark.parametrize("path", DESIGNS, ids=[p.stem for p in DESIGNS])
def test_catalog_designs_run(path):
    sim = hwsim.build(path)
    res = sim.run("gemm:24,20,36", mode="cycle")
    assert res.verified and res.compute_cycles == sim.plan(Gemm(24, 20, 36)).cycles
    if sim.design.verify:
        assert sim.R <= 8 and sim.backing == "none"


def test_cli_simulate_writes_reports_and_plots(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["simulate", str(ROOT / "designs" / "sa_os_4x4_int8.yaml"), "-w", "gemm:20,13,30;conv:6,6,3,3,2,4",
               "--scalesim", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "outputs bit-exact with the numpy reference: yes" in text
    for f in ("report.txt", "report.json", "layers.csv", "design.resolved.yaml",
              "systolic_layers.png", "systolic_roofline.png", "systolic_timeline.png"):
        assert (out / f).stat().st_size > 0, f
    rep = json.loads((out / "report.json").read_text())
    from hwsim.systolic.timing import scalesim_metrics

    assert [r["Total Cycles"] for r in rep["compat"]["scalesim"]] == [
        scalesim_metrics(sim_layer.plan).get("compute_cycles") for sim_layer in
        hwsim.build(ROOT / "designs" / "sa_os_4x4_int8.yaml").run("gemm:20,13,30;conv:6,6,3,3,2,4",
                                                                   mode="analytical").layers]
    sim = hwsim.build(ROOT / "designs" / "sa_os_4x4_int8.yaml")
    assert rep["stats"]["compute_cycles"] == sim.plan(Gemm(20, 13, 30)).cycles + sim.plan(Gemm(16, 4, 18)).cycles
    assert (out / "systolic_layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_simulate_llm_and_topology(tmp_path, capsys):
    rc = main(["simulate", str(ROOT / "designs" / "tpu_like_128x128_ws_int8.yaml"), "-w",
               "llm:tinyllama-1.1b,seq=256,phase=decode", "-o", str(tmp_path / "llm"), "--no-plot"])
    assert rc == 0 and "analytical" in capsys.readouterr().out
    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\na, 10, 12, 14,\n")
    cfg = tmp_path / "c.cfg"
    cfg.write_text(io.config_text("cfgrun", 8, 8, "is"))
    rc = main(["simulate", str(cfg), "-w", str(topo), "--scalesim", "-o", str(tmp_path / "t")])
    out = capsys.readouterr().out
    assert rc == 0 and "SCALE-Sim 3.0.0-compatible" in out


def test_cli_user_errors(tmp_path, capsys):
    assert main(["simulate", str(ROOT / "designs" / "sa_ws_2x2_int8.yaml"), "-w", "gemm:0,1,1"]) == 2
    assert "M = 0" in capsys.readouterr().err
    bad = tmp_path / "bad.cfg"
    bad.write_text(io.config_text("r", 8, 8, "xx"))
    assert main(["simulate", str(bad), "-w", "gemm:1,1,1"]) == 2
    assert "Dataflow = 'xx'" in capsys.readouterr().err


def test_energy_table_override():
    base = hwsim.build(from_dict(systolic())).run("gemm:8,8,8", mode="analytical")
    doubled = hwsim.build(from_dict(systolic(energy={"mac_pj": 0.6}))).run("gemm:8,8,8", mode="analytical")
    assert doubled.energy_pj["mac_pj"] == 2 * base.energy_pj["mac_pj"] == 2 * 0.3 * 512
    assert doubled.energy_pj["sram_read_pj"] == base.energy_pj["sram_read_pj"]


def test_dram_model_refetch_and_stalls():
    d = systolic(array={"rows": 8, "cols": 8}, memory={"ifmap_kb": 1, "filter_kb": 1, "ofmap_kb": 1,
                                                       "dram_bytes_per_cycle": 1})
    res = hwsim.build(from_dict(d)).run("gemm:64,64,64", mode="analytical")
    l = res.layers[0]
    # A (4 KiB) does not fit half the 1 KiB ifmap SRAM: re-fetched once per column fold (8)
    assert l.dram_bytes["activation_read"] == 64 * 64 * 8
    assert l.dram_bytes["weight_read"] == 64 * 64
    # 64x8 int32 partial tile (2 KiB) does not fit half the output SRAM: spills every row fold
    assert l.dram_bytes["output_write"] == 64 * 64 * 4 * 8 and l.dram_bytes["output_read"] == 64 * 64 * 4 * 7
    assert l.stall_cycles == sum(l.dram_bytes.values()) - l.compute_cycles > 0


def test_group_size_checked_against_weight_format():
    with pytest.raises(DesignError, match="operands.group_size = 128: format mxfp4 allows group sizes 32"):
        hwsim.build(from_dict(systolic(operands={"weight": "mxfp4", "accumulator": "int24", "group_size": 128})))
    sim = hwsim.build(from_dict(systolic(operands={"weight": "mxfp4", "accumulator": "int24"})))
    assert sim.run("gemm:5,6,70", mode="cycle", operands="quantized").verified
