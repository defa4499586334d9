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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hwsim", description="Bit-accurate datatypes, cycle-level simulators "
                                 "and verified RTL for ML accelerators.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, add, fn in COMMANDS:
        add(sub).set_defaults(func=fn)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"hwsim {args.command}: interrupted; outputs written before were left as they were",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        if isinstance(e, user_errors()):
            print(f"hwsim {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
