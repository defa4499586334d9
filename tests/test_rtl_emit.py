"""Design kinds, Verilog emission (artefacts, ports.json, atomicity, reproducibility), the
``hwsim rtl`` command and Verilator lint with only the named Amaranth waivers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import datatypes as dt
from hwsim import cli
from hwsim.design import DesignError, catalog, load, loads
from hwsim.kinds import with_role
from rtl_gen import Decoder, ProcessingElement, arith
from rtl_gen.verilog import component_for, emit, to_verilog, verilog_ports
from rtl_gen.errors import NoDecoderError, UnsupportedKindError, WidthError
from testbenches.verilator import LINT_WAIVERS, lint

RTL_KINDS = [k.name for k in with_role("rtl")]
REPO = Path(__file__).resolve().parents[1]
RTL_DESIGNS = [p for p, d in catalog() if d.kind in RTL_KINDS]

PE_YAML = """
schema: 1
name: pe_t
kind: pe
operands: {{weight: {w}, activation: {a}, accumulator: {acc}}}
pe: {{stages: {st}}}
"""


def test_bundled_rtl_designs_load():
    assert len(RTL_DESIGNS) >= 4
    kinds = {load(p).kind for p in RTL_DESIGNS}
    assert kinds == {"pe", "decoder", "systolic"}


def test_design_schema_errors():
    with pytest.raises(DesignError, match=r"pe\.stages = 3: allowed: 1, 2"):
        loads(PE_YAML.format(w="int4", a="int8", acc="int16", st=3), "t.yaml")
    with pytest.raises(DesignError, match=r"operands\.accumulator = 'int200'"):
        loads(PE_YAML.format(w="int4", a="int8", acc="int200", st=1), "t.yaml")
    with pytest.raises(DesignError, match="unknown format"):
        loads(PE_YAML.format(w="int44", a="int8", acc="int16", st=1), "t.yaml")
    with pytest.raises(DesignError, match=r"operands\.accumulator = 'fp32'.*two's complement"):
        loads(PE_YAML.format(w="int4", a="int8", acc="fp32", st=1), "t.yaml")
    with pytest.raises(DesignError, match=r"decoder\.style = 'rom'"):
        loads("schema: 1\nname: d\nkind: decoder\ndecoder: {format: int4, style: rom}\n", "d.yaml")


@pytest.mark.parametrize("w,a,acc,err,match", [
    ("fp4_basic", "float8_e5m2", "int32", NoDecoderError, "Inf"),
    ("fp4_basic", "float8_e4m3fn", "int16", WidthError, "use int23 or wider"),
])
def test_errors_name_the_file_and_come_before_any_output(tmp_path, w, a, acc, err, match):
    d = loads(PE_YAML.format(w=w, a=a, acc=acc, st=1), "bad.yaml")
    with pytest.raises(err, match=match) as e:
        emit(d, tmp_path / "build")
    assert str(e.value).startswith("bad.yaml: ")
    assert not (tmp_path / "build").exists()


def test_package_exports():
    import rtl_gen
    from rtl_gen import verilog

    assert rtl_gen.emit is verilog.emit and callable(rtl_gen.emit)     # not shadowed by a submodule
    assert rtl_gen.ProcessingElement.initiation_interval == 1


def test_design_without_rtl(tmp_path):
    d = load(REPO / "designs" / "tpu_like_32x32_ws_int8.yaml")     # DRAM-backed: no DRAM interface in RTL
    with pytest.raises(UnsupportedKindError, match="memory.backing = 'dram': the RTL keeps every operand"):
        component_for(d)


def test_emit_artefacts(tmp_path):
    d = loads(PE_YAML.format(w="fp4_range", a="float8_e4m3fn", acc="int24", st=2), "pe_t.yaml")
    art = emit(d, tmp_path)
    assert art.directory == tmp_path / f"pe_t-{d.hash}"
    assert sorted(p.name for p in art.directory.iterdir()) == ["design.resolved.yaml", "pe_t.v", "ports.json"]
    ports = json.loads(art.ports.read_text())
    text = art.verilog.read_text()
    assert sorted(verilog_ports(text, "pe_t")) == sorted(p["name"] for p in ports["ports"])
    assert ports["timing"] == {"latency": 2, "initiation_interval": 1}
    assert ports["clock"] == "clk" and ports["design_hash"] == d.hash
    i = ports["streams"]["i"]
    assert i["role"] == "sink" and i["fields"] == {
        "w_code": {"offset": 0, "width": 4, "signed": False},
        "a_code": {"offset": 4, "width": 8, "signed": False},
        "last": {"offset": 12, "width": 1, "signed": False}}
    o = ports["streams"]["o"]
    assert o["role"] == "source" and o["width"] == 24 and o["signed"] is True
    widths = {p["name"]: (p["direction"], p["width"]) for p in ports["ports"]}
    assert widths["i__payload"] == ("input", 13) and widths["o__payload"] == ("output", 24)
    assert ports["arithmetic"]["accumulator"]["frac_bits"] == 10
    assert load(art.resolved).resolved() == d.resolved()
    # reproducible: re-emitting writes the same bytes, no source paths inside, no temp files left
    before = {p.name: p.read_bytes() for p in art.directory.iterdir()}
    emit(d, tmp_path)
    assert {p.name: p.read_bytes() for p in art.directory.iterdir()} == before
    assert "src =" not in text and str(REPO) not in text


def _lint_components():
    """One decoder per distinct generated shape (structure kind, metadata, exceptions that do or do
    not depend on the metadata), the table style, and PEs of both stage counts and a wide one."""
    comps, shapes = [], set()
    for n in arith.hardware_formats(8):
        t = arith.decode_table(n)
        s = arith.find_structure(t)
        meta_dep = any(len({t.ints[m][c] for m in range(t.n_meta)}) > 1 for c in s.exceptions)
        shape = (s.kind, t.use_meta, bool(s.exceptions), meta_dep, not all(map(all, t.valid)))
        if shape not in shapes:
            shapes.add(shape)
            comps.append((n, Decoder(n)))
    assert len(comps) >= 8
    comps += [(f"{n}_meta", Decoder(n, use_meta=True)) for n in ("int2", "int4")]
    comps += [(f"{n}_table", Decoder(n, style="table")) for n in ("fp4_range", "float8_e4m3fn")]
    comps += [("pe1", ProcessingElement("int4", "int8", 16, weight_meta=True)),
              ("pe2", ProcessingElement("fp4_range", "float8_e4m3fn", 24, stages=2)),
              ("pe_wide", ProcessingElement("sf4", "float8_e4m3fn", 100))]
    return comps


def test_lint_clean_with_only_named_waivers(tmp_path):
    """Every generated unit lints clean under -Wall with the waivers; without them, only waived
    warnings appear, and every waiver is needed by some unit."""
    seen: set[str] = set()
    for name, comp in _lint_components():
        v = tmp_path / f"{name}.v"
        v.write_text(to_verilog(comp, "top"))
        r = lint(v, "top")
        assert r.ok, f"{name}: {r.summary()}"
        raw = lint(v, "top", waivers={})
        kinds = {m.split(":")[0].removeprefix("%Warning-") for m in raw.messages}
        assert kinds <= set(LINT_WAIVERS), f"{name}: {kinds - set(LINT_WAIVERS)}"
        seen |= kinds
    assert seen == set(LINT_WAIVERS)
    assert all(len(why) > 40 for why in LINT_WAIVERS.values())


def test_lint_reports_real_problems(tmp_path):
    v = tmp_path / "top.v"
    v.write_text("module top(input [3:0] a, output [1:0] y);\n  assign y = a;\nendmodule\n")
    r = lint(v, "top")
    assert not r.ok and any("WIDTHTRUNC" in m for m in r.messages)


def test_cli_rtl(tmp_path, capsys):
    out = tmp_path / "b"
    rc = cli.main(["rtl", str(REPO / "designs" / "pe_e2m1sr_e4m3.yaml"), "--lint", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "pe_e2m1sr_e4m3: wrote" in text and "latency 2, II 1" in text
    assert "verilator --lint-only -Wall: clean" in text
    assert len(list(out.glob("pe_e2m1sr_e4m3-*/ports.json"))) == 1


def test_cli_rtl_user_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(PE_YAML.format(w="fp4_basic", a="float8_e5m2", acc="int32", st=1))
    rc = cli.main(["rtl", str(bad), "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "has no hardware decoder" in err[0] and str(bad) in err[0]
    assert not (tmp_path / "b").exists()
    rc = cli.main(["rtl", str(REPO / "designs" / "tpu_like_32x32_ws_int8.yaml"), "-o", str(tmp_path / "b")])
    assert rc == 2 and "no DRAM interface" in capsys.readouterr().err


def test_every_small_format_is_either_decodable_or_explained():
    """Formats merged later (RaZeR, BitMoD) are covered automatically: they either get a decoder
    or a NoDecoderError that says why."""
    for n in dt.formats():
        f = dt.get(n)
        if f.bits > 8:
            continue
        try:
            Decoder(n)._MustUse__silence = True     # built only to see that it can be
        except NoDecoderError as e:
            assert "no hardware decoder" in str(e) or "lookup-table" in str(e)


@pytest.mark.parametrize("path", [p for p in RTL_DESIGNS if load(p).verify], ids=lambda p: p.stem)
def test_every_generated_file_elaborates_in_slang(tmp_path, path):
    """An independent SystemVerilog front-end (slang, via pyslang) compiles and elaborates every
    generated file of the catalog without errors (warnings: Amaranth's style, as for Verilator)."""
    pyslang = pytest.importorskip("pyslang")
    art = emit(load(path), tmp_path)
    tree = pyslang.syntax.SyntaxTree.fromFile(str(art.verilog))
    comp = pyslang.ast.Compilation()
    comp.addSyntaxTree(tree)
    diags = comp.getAllDiagnostics()
    errors = [d for d in diags if d.isError()]
    assert not errors, pyslang.DiagnosticEngine.reportAll(tree.sourceManager, errors)[:3000]
    assert comp.getRoot().topInstances[0].name == art.top
