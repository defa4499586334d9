"""The architecture rules of DESIGN.md, checked on the source: imports flow one way
(datatypes <- hwsim core <- hwsim/<kind> <- rtl_gen <- testbenches <- hwsim.cli / hwsim.flow), there is no
import cycle among the modules (imports inside functions count too), and every kind reaches the commands
only through the registry."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from hwsim import kinds

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("datatypes", "hwsim", "rtl_gen", "testbenches")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (anywhere in its body), at module granularity."""
    out = {}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        deps = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):                  # annotations-only imports are not imports
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                node.body = []
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, is_pkg, node)
                names = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
            for n in names:
                while n and n not in mods:          # a name inside a module -> the module
                    n = n.rpartition(".")[0]
                if n and n != mod and n.split(".")[0] in PACKAGES:
                    deps.add(n)
        out[mod] = deps
    return out


def _is_kind_flow(mod: str) -> bool:
    """A kind's step of ``hwsim flow`` (``hwsim/<kind>/flow.py``): application layer, in the kind's folder."""
    parts = mod.split(".")
    return len(parts) == 3 and parts[0] == "hwsim" and parts[1] in kinds.KINDS and parts[2] == "flow"


def _layer(mod: str) -> int:
    top = mod.split(".")[0]
    if top == "datatypes":
        return 0
    if mod == "hwsim.flow" or mod.startswith("hwsim.cli") or _is_kind_flow(mod):
        return 5
    if top == "hwsim":
        return 1
    return {"rtl_gen": 3, "testbenches": 4}[top]


def _package_init_edge(a: str, b: str) -> bool:
    """A package's __init__ importing its own submodules (lazily, for re-export) and a submodule
    importing a sibling through the package are the same import: not a cycle between units."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_imports_flow_one_way():
    mods = _modules()
    bad = [f"{m} imports {d}" for m, deps in _imports(mods).items() for d in deps
           if _layer(d) > _layer(m) and not (_layer(m) == 1 and _layer(d) == 1)]
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def test_nothing_imports_the_application_layer():
    mods = _modules()
    bad = [f"{m} imports {d}" for m, deps in _imports(mods).items() for d in deps
           if _layer(d) == 5 and _layer(m) != 5 or _is_kind_flow(d) and m not in ("hwsim.flow", "hwsim.cli.flowcmd")
           and not m.startswith(d.rpartition(".")[0] + ".")]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    mods = _modules()
    graph = {m: {d for d in deps if not _package_init_edge(m, d)} for m, deps in _imports(mods).items()}
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):                                  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not sccs, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in sccs)


def test_registry_import_is_light():
    """Importing the registry, every kind's spec, the datatypes library and the CLI, and loading a design,
    import no Amaranth, Numba or cocotb (start-up of everyday commands)."""
    import subprocess
    import sys

    code = ("import sys, hwsim, hwsim.kinds as k, datatypes, hwsim.cli\n"
            "[kind.sections for kind in k.KINDS.values()]\n"
            "hwsim.load('designs/sa_ws_4x4_int8.yaml'); datatypes.formats()\n"
            "print(','.join(m for m in ('amaranth', 'numba', 'cocotb') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert r.stdout.strip() == "", f"importing the registry pulled in {r.stdout.strip()}"


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_every_registered_module_exists(kind):
    k = kinds.get(kind)
    for role in ("spec", "simulator", "report", "rtl", "bench"):
        ref = getattr(k, role)
        if ref is None:
            continue
        module, _, attr = ref.partition(":")
        assert (REPO / Path(*module.split("."))).with_suffix(".py").exists() or \
            (REPO / Path(*module.split(".")) / "__init__.py").exists(), f"{kind}.{role}: no module {module}"
    assert isinstance(k.sections, dict) and k.sections
    if k.rtl:
        comp_cls = k.load("rtl")
        assert callable(comp_cls)
    if k.bench:
        bench = importlib.import_module(k.bench)
        for fn in ("vectors", "describe", "run", "check"):
            assert callable(getattr(bench, fn, None)), f"{k.bench} has no {fn}()"
        assert set(bench.LEVELS) <= {"model", "hwsim", "amaranth", "verilator"}


def test_no_dispatch_on_kind_names_outside_the_kinds():
    """Commands reach kinds through the registry only: no ``kind == "systolic"`` outside a kind's own
    modules."""
    pat = re.compile(r"""kind\s*(==|!=|in)\s*\(?\s*["'](%s)["']""" % "|".join(kinds.KINDS))
    own = {m.split(":")[0].rsplit(".", 1)[0] for k in kinds.KINDS.values()
           for m in (k.spec, k.simulator, k.report, k.rtl, k.bench) if m}
    bad = []
    for mod, path in _modules().items():
        if any(mod == o or mod.startswith(o + ".") for o in own) or mod in ("hwsim.flow",):
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pat.search(line):
                bad.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", sorted(k.name for k in kinds.with_role("rtl")))
def test_every_rtl_kind_describes_its_component(kind):
    """``hwsim rtl`` prints ``component.summary()``: every kind with RTL provides it (checked on the
    first verified design of the kind in the catalog)."""
    from hwsim.design import catalog
    from rtl_gen.verilog import component_for

    designs = [d for _, d in catalog() if d.kind == kind and d.verify]
    if not designs:
        pytest.skip(f"no verified {kind} design in the catalog")
    text = component_for(designs[0]).summary()
    assert isinstance(text, str) and len(text) > 10


@pytest.mark.parametrize("kind", sorted(k.name for k in kinds.with_role("simulator")))
@pytest.mark.parametrize("seed", [-1, 2 ** 32, 1.5, True, "7"])
def test_every_simulator_checks_its_seed_first(kind, seed):
    """Every kind's ``run()`` validates ``seed`` (``hwsim.layers.check_seed``: the CLI's --seed range)
    before it looks at anything else, so a new kind that forgets it fails here: the workload given is
    not one any kind parses, and the error must still be about the seed."""
    import hwsim
    from hwsim.design import catalog
    from hwsim.layers import WorkloadError

    designs = [d for _, d in catalog() if d.kind == kind]
    if not designs:
        pytest.skip(f"no {kind} design in the catalog")
    with pytest.raises(WorkloadError, match="seed"):
        hwsim.build(designs[0]).run("no-such-workload:1", seed=seed)


def _is_jit(dec: ast.expr) -> bool:
    f = dec.func if isinstance(dec, ast.Call) else dec
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return name in ("njit", "jit", "vectorize", "guvectorize")


def test_no_compiled_kernel_needs_blas():
    """``hwsim simulate`` loads Numba without SciPy (hwsim.cli.simulate.numba_without_scipy), so Numba in
    that process has no BLAS: a compiled kernel using np.dot / np.linalg / matmul would compile in the
    tests (main([...]) keeps SciPy) and fail only on the command line. Such a kernel must go through
    numpy outside Numba, or the hook must be dropped."""
    bad = []
    for mod, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not any(_is_jit(d) for d in node.decorator_list):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.MatMult):
                    bad.append(f"{mod}.{node.name}: @ operator")
                elif isinstance(sub, ast.Attribute) and sub.attr in ("dot", "vdot", "matmul", "linalg", "inner"):
                    bad.append(f"{mod}.{node.name}: .{sub.attr}")
    assert not bad, "\n".join(bad)
