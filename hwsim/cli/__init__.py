"""The ``hwsim`` command line. Each subcommand is an ``_add_<name>`` parser setup and a ``cmd_<name>``
function in a module of this package; the modules import their heavy dependencies inside the command
functions, so ``hwsim --help`` starts fast. The application layer: nothing else imports it."""

from __future__ import annotations

import argparse
import sys

from . import data, flowcmd, rtl, simulate, sweep

COMMANDS = [("formats", data._add_formats, data.cmd_formats),
            ("quantize", data._add_quantize, data.cmd_quantize),
            ("flow", flowcmd._add_flow, flowcmd.cmd_flow),
            ("simulate", simulate._add_simulate, simulate.cmd_simulate),
            ("rtl", rtl.add_rtl, rtl.cmd_rtl),
            ("verify", rtl.add_verify, rtl.cmd_verify),
            ("regress", rtl.add_regress, rtl.cmd_regress),
            ("sweep", sweep._add_sweep, sweep.cmd_sweep)]


def user_errors() -> tuple[type, ...]:
    """Errors that are the user's to fix: printed as one line, exit status 2."""
    import datatypes as dt

    from ..errors import RTLError
    from ..flow import FlowError
    from ..layers import WorkloadError
    from ..pe.model import PEError
    from ..report import OutputError
    from ..spec import SpecError
    from ..topology import ScaleSimFileError
    from ..weights import WeightFileError
    from testbenches.export import ExportError  # noqa: E402  (the application layer may import testbenches)

    return (dt.FormatError, dt.InputError, dt.InputTypeError, SpecError, WeightFileError, WorkloadError,
            ScaleSimFileError, PEError, RTLError, FlowError, OutputError, ExportError)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the option (and exit status 2), not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="hwsim", description="Bit-accurate datatypes, cycle-level simulators "
                                 "and verified RTL for ML accelerators.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, add, fn in COMMANDS:
        add(sub).set_defaults(func=fn)
    return ap


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.own_process = argv is None      # the command line of this process, not a call from Python code
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return 130
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"hwsim {args.command}: interrupted; outputs written before were left as they were",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        if is_user_error(e):
            text = " ".join(str(e).split()) or type(e).__name__       # always one line
            print(f"hwsim {args.command}: error: {text}", file=sys.stderr)
            return 2
        raise


#: Packages whose own ValueError/TypeError subclasses are input errors by construction (a kind's
#: WorkloadError, say); a plain ValueError from numpy or Python is a bug and keeps its traceback.
_OWN = ("hwsim", "datatypes", "rtl_gen", "testbenches")


def is_user_error(e: BaseException) -> bool:
    cls = type(e)
    return isinstance(e, user_errors()) or (issubclass(cls, (ValueError, TypeError))
                                            and cls not in (ValueError, TypeError)
                                            and cls.__module__.split(".")[0] in _OWN)


if __name__ == "__main__":
    sys.exit(main())
